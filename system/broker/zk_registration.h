#pragma once
// A broker's life in the coordinator (Kafka's KafkaZkClient.registerBroker and
// the session handling of KafkaServer): the ephemeral /brokers/ids/<id> with
// Kafka's JSON, whose czxid is the broker epoch (KIP-380), registered again
// in every new session after an expiry; and the reads of it the controller
// needs (endpoint and epoch of every live broker).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "sim/runtime/runtime.h"
#include "system/coord/client.h"
#include "system/protocol/ids.h"

namespace samsa::broker {

using protocol::BrokerEpoch;
using protocol::BrokerId;

struct BrokerEndpoint {
  std::string host;
  std::uint16_t port = 0;
  friend auto operator<=>(const BrokerEndpoint&, const BrokerEndpoint&) = default;
};

// A live broker as the controller sees it.
struct BrokerInfo {
  BrokerId id;
  BrokerEndpoint endpoint;
  BrokerEpoch epoch;  // czxid of /brokers/ids/<id>
  friend bool operator==(const BrokerInfo&, const BrokerInfo&) = default;
};

// Creates /brokers/ids/<id> as an ephemeral node of this session. After a
// lost connection it reads back whether the node is ours. node_exists: an
// earlier session (an incarnation not yet expired) still holds the id.
Result<BrokerEpoch, coord::Code> register_broker(coord::Client& c, BrokerId id,
                                                 const BrokerEndpoint& endpoint,
                                                 std::int64_t timestamp_ms);

// The endpoint from Kafka's /brokers/ids JSON (BrokerIdZNode.decode: the
// PLAINTEXT endpoint, else host/port). nullopt when it does not parse.
std::optional<BrokerEndpoint> parse_broker_json(std::string_view json);

// One live broker; no_node when it is not registered.
Result<BrokerInfo, coord::Code> read_broker(coord::Client& c, BrokerId id);
// Every registered broker (KafkaZkClient.getAllBrokerAndEpochsInCluster),
// with a children watch on /brokers/ids when `watcher` is set. A broker whose
// znode vanished between the two reads is left out.
Result<std::map<BrokerId, BrokerInfo>, coord::Code> read_live_brokers(coord::Client& c,
                                                                      coord::Watcher watcher = {});

struct SessionConfig {
  std::vector<sim::Address> coordinators;  // zookeeper.connect
  std::int32_t session_timeout_ms = 18000;  // zookeeper.session.timeout.ms
  BrokerId broker_id;
  BrokerEndpoint endpoint;
  sim::Duration retry_backoff = std::chrono::milliseconds(200);
};

// What the broker does while one session holds its registration. It returns
// when the session has ended (expired or closed); the loop then starts a
// new session and registers again.
using SessionBody = std::function<void(coord::Client& c, BrokerEpoch epoch)>;

// The broker's coordinator loop; never returns (the node's crash or the
// owning scope's stop unwinds it). Each session: connect, create Kafka's
// persistent paths, register (retrying while an old session holds the id),
// then `body`.
[[noreturn]] void run_registered_sessions(sim::Runtime& rt, const SessionConfig& config,
                                          const SessionBody& body);

// Parks until `c`'s session has ended (expired or closed).
void wait_session_end(sim::Runtime& rt, coord::Client& c);

}  // namespace samsa::broker
