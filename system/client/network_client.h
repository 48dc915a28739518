#pragma once
// The client's connections, after the Java client's NetworkClient
// (org.apache.kafka.clients.NetworkClient) with ConsumerNetworkClient's
// blocking style on top; shared by the producer and the consumer.
//
//  - One connection per node, opened on first use by a fiber of the
//    owner's task scope (socket.connection.setup.timeout.ms); a node is a
//    broker address and a channel: the consumer talks to its group
//    coordinator on a connection of its own (Kafka gives the coordinator
//    the node id Integer.MAX_VALUE - id), so a long Fetch never holds a
//    Heartbeat back.
//  - Requests in flight per connection answered in order, at most
//    max_in_flight of them (max.in.flight.requests.per.connection).
//  - request.timeout.ms: a request not answered in time closes its
//    connection and fails everything in flight on it
//    (NetworkClient.handleTimedOutRequests), as a disconnect does
//    (processDisconnection): every request in flight fails, the metadata
//    asks for an update, the node backs off exponentially from
//    reconnect.backoff.ms to reconnect.backoff.max.ms.
//  - leastLoadedNode: the ready node with the fewest requests in flight,
//    from a random start, else one that may connect.
//
// Event style (the producer's Sender): ready() / can_send() / send() with a
// callback run on the connection's fiber, check_timeouts(now) from the
// owner's loop, which on_change wakes and on_deadline tells when to look
// again. Blocking style (the consumer): call() parks until the answer.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "sim/runtime/runtime.h"
#include "system/client/metadata.h"
#include "system/protocol/typed_api.h"

namespace samsa::client {

struct NetworkConfig {
  std::string client_id;
  std::int64_t request_timeout_ms = 30000;           // request.timeout.ms
  std::int64_t reconnect_backoff_ms = 50;            // reconnect.backoff.ms
  std::int64_t reconnect_backoff_max_ms = 1000;      // reconnect.backoff.max.ms
  std::int64_t connection_setup_timeout_ms = 10000;  // socket.connection.setup.timeout.ms
  std::int32_t max_in_flight = 5;                    // max.in.flight.requests.per.connection
};

inline constexpr std::int32_t k_channel_default = 0;
inline constexpr std::int32_t k_channel_coordinator = 1;

struct Node {
  sim::Address addr;
  std::int32_t channel = k_channel_default;
  friend auto operator<=>(const Node&, const Node&) = default;
};

class NetworkClient {
 public:
  // frame == nullptr: the connection broke or the request timed out (why says which).
  using Done = std::function<void(const protocol::SharedFrame* frame, const std::string& why)>;

  // Connection fibers run in `scope` (the owner stops it before this dies);
  // `metadata` (may be null) is asked to update on every disconnect.
  NetworkClient(sim::Runtime& rt, NetworkConfig config, sim::TaskScope& scope, Metadata* metadata,
                std::string fiber_prefix);
  NetworkClient(const NetworkClient&) = delete;
  NetworkClient& operator=(const NetworkClient&) = delete;

  // Called after a connection became ready or broke and after each answer.
  std::function<void()> on_change;
  // Told the earliest time something is due (a backoff end, a deadline).
  std::function<void(sim::MonoTime)> on_deadline;

  const NetworkConfig& config() const { return config_; }
  // NetworkClient.ready: true when the node's connection can take a
  // request now; else starts connecting (outside the reconnect backoff).
  bool ready(const Node& node, sim::MonoTime now);
  // Ready and below max_in_flight.
  bool can_send(const Node& node, sim::MonoTime now);
  std::size_t in_flight(const Node& node) const;
  // Connecting or connected (not failed, not in backoff).
  bool connecting_or_ready(const Node& node) const;
  std::optional<sim::Address> least_loaded(sim::MonoTime now, sim::Random& rng, std::int32_t channel = k_channel_default);

  // Sends on a ready connection. With expect_response, `done` runs once with
  // the answer or the failure; without (acks=0), never. `timeout` overrides
  // request.timeout.ms for this request (a Fetch adds its max wait).
  template <class Req>
  std::int32_t send(const Node& node, const Req& req, std::int16_t version, bool expect_response, Done done,
                    std::optional<sim::Duration> timeout = {}) {
    protocol::RequestHeader h;
    h.api_key = Req::k_api_key;
    h.api_version = version;
    h.correlation_id = ++correlation_;
    h.client_id = config_.client_id;
    send_frame(node, h.correlation_id, protocol::encode_request_frame(h, req), expect_response, std::move(done),
               timeout);
    return h.correlation_id;
  }

  // Blocking style: waits for the connection (nullopt at once when the node
  // is backing off after a failure, or when connecting fails), sends, and
  // parks until the answer, a disconnect or `timeout`.
  template <class Resp, class Req>
  std::optional<Resp> call(const Node& node, const Req& req, std::int16_t version, sim::Duration timeout) {
    auto frame = call_frame(node, timeout, [&](Done done) { send(node, req, version, true, std::move(done), timeout); });
    if (!frame) return std::nullopt;
    auto resp = protocol::decode_response_frame<Resp>(*frame, version);
    if (!resp) return std::nullopt;
    return std::move(resp->body);
  }

  // Parks until something changes (an answer, a connection) or `deadline`.
  void wait_change(std::optional<sim::MonoTime> deadline, const char* what);
  // Fails every connection with a request older than its deadline.
  void check_timeouts(sim::MonoTime now);
  // Closes every connection; requests in flight are never answered.
  void close();
  std::uint64_t disconnects() const { return disconnects_; }

 private:
  struct InFlight {
    std::int32_t correlation_id = 0;
    sim::MonoTime deadline;
    Done done;
  };
  struct Conn {
    Node node;
    std::unique_ptr<sim::Connection> conn;
    enum class State : std::uint8_t { connecting, ready, closed } state = State::connecting;
    std::deque<InFlight> in_flight;
  };
  using ConnPtr = std::shared_ptr<Conn>;

  void send_frame(const Node& node, std::int32_t correlation_id, Bytes frame, bool expect_response, Done done,
                  std::optional<sim::Duration> timeout);
  std::optional<protocol::SharedFrame> call_frame(const Node& node, sim::Duration timeout,
                                                  const std::function<void(Done)>& send);
  void conn_loop(ConnPtr c);
  void fail_conn(const ConnPtr& c, const std::string& why);
  void changed();
  void soon(sim::MonoTime t) {
    if (on_deadline) on_deadline(t);
  }

  sim::Runtime& rt_;
  NetworkConfig config_;
  sim::TaskScope& scope_;
  Metadata* metadata_;
  std::string fiber_prefix_;
  std::map<Node, ConnPtr> conns_;
  std::map<Node, int> connect_failures_;
  std::map<Node, sim::MonoTime> reconnect_at_;
  std::int32_t correlation_ = 0;
  std::uint64_t disconnects_ = 0;
  sim::WaitQueue changes_;
};

}  // namespace samsa::client
