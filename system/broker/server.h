#pragma once
// The broker's listener and request loop (Kafka's SocketServer + KafkaApis
// dispatch). One fiber per connection handles its requests one at a time, in
// order (Kafka mutes a channel while one of its requests is in flight), so a
// handler may park: acks=all produce and long-poll fetch wait in it.
//
// Dispatch is by one table of {api key -> handler}; the versions served are
// the protocol table's (protocol::supported_apis), and ApiVersions answers
// exactly the apis of this table. A frame that does not parse (a bad size
// prefix, a truncated or malformed header or body, an api or version not
// served, more than socket.request.max.bytes) closes its connection with one
// log line; the broker and its other connections go on.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "sim/runtime/runtime.h"
#include "system/protocol/typed_api.h"

namespace samsa::broker {

// A handler decodes its body, serves it and encodes the response frame;
// nullopt when no response is due (Produce with acks=0); an error when the
// body does not parse (the connection is then closed).
using Handler = std::function<Result<std::optional<sim::FrameParts>, protocol::DecodeError>(
    const protocol::RequestFrame&)>;

struct ServerStats {
  std::uint64_t connections = 0;
  std::uint64_t requests = 0;
  std::uint64_t bad_frames = 0;  // connections closed for a frame that did not parse
};

class Server : public std::enable_shared_from_this<Server> {
 public:
  Server(sim::Runtime& rt, std::size_t max_request_bytes) : rt_(rt), max_request_bytes_(max_request_bytes) {}

  // Adds an api to the table (the protocol table must know it).
  void add(protocol::ApiKey key, Handler h);
  bool serves(protocol::ApiKey key) const { return handlers_.count(key) > 0; }
  // The handler of an api (empty when not served), to wrap it.
  Handler handler(protocol::ApiKey key) const {
    auto it = handlers_.find(key);
    return it == handlers_.end() ? Handler() : it->second;
  }
  // Serves `key` only up to `max_version` (below the protocol table's):
  // ApiVersions says so and a request above it is not served. A legacy
  // switch that stands for an older Kafka advertises what that Kafka did.
  void limit_max_version(protocol::ApiKey key, std::int16_t max_version);
  // The ApiVersions answer: every api of the table with its versions.
  protocol::ApiVersionsResponse api_versions(protocol::ErrorCode error = protocol::ErrorCode::none) const;

  // Accepts connections until the node ends; one fiber each.
  void serve(std::shared_ptr<sim::Listener> listener);
  // The request loop of one connection; returns when it closes.
  void serve_connection(sim::Connection& c);
  const ServerStats& stats() const { return stats_; }

 private:
  // Handles one frame; false when the connection must close.
  bool handle(sim::Connection& c, Bytes frame);
  std::int16_t max_version(protocol::ApiKey key, const protocol::ApiSpec& spec) const;
  void close_bad(sim::Connection& c, std::string_view why);

  sim::Runtime& rt_;
  std::size_t max_request_bytes_;
  std::map<protocol::ApiKey, Handler> handlers_;
  std::map<protocol::ApiKey, std::int16_t> max_versions_;
  ServerStats stats_;
};

}  // namespace samsa::broker
