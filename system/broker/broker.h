#pragma once
// A broker node's main actor (Kafka's KafkaServer.startup in ZooKeeper
// mode): the replica manager with its logs, the request server and its
// dispatch table, the controller candidate, and the coordinator session loop
// that registers /brokers/ids/<id> (its czxid is the broker epoch, KIP-380)
// and, in each session, takes part in controller elections.
#include <memory>
#include <optional>
#include <vector>

#include "sim/runtime/runtime.h"
#include "system/broker/config.h"
#include "system/broker/controller.h"
#include "system/broker/controller_network.h"
#include "system/broker/group/group_service.h"
#include "system/broker/handlers_admin.h"
#include "system/broker/producer_id_manager.h"
#include "system/broker/replica_manager.h"
#include "system/broker/server.h"
#include "system/broker/txn_service.h"

namespace samsa::broker {

struct BrokerOptions {
  std::vector<sim::Address> coordinators;  // zookeeper.connect as addresses
  // What /brokers/ids/<id> advertises (advertised.listeners); by default the
  // node's name and `port`, which is what the simulated network resolves.
  std::optional<BrokerEndpoint> advertised;
  // A listener already bound (live mode binds first, so that a port in use
  // is a clean start-up error); by default the broker listens on `port`.
  std::shared_ptr<sim::Listener> listener;
};

// What one incarnation of a broker holds; kept alive by its fibers.
struct BrokerNode {
  BrokerNode(sim::Runtime& rt, const BrokerConfig& config);
  sim::Runtime& rt;
  BrokerConfig config;
  std::shared_ptr<ReplicaManager> replicas;
  NetworkControllerChannel channel;
  Controller controller;
  ProducerIdManager producer_ids;
  sim::Random rng;
  std::shared_ptr<AdminContext> admin;
  std::shared_ptr<group::GroupService> groups;  // the group coordinator
  std::shared_ptr<TxnService> txns;             // the transaction coordinator
  std::shared_ptr<Server> server;
  bool serving = false;
  // Set by controlled_shutdown (controlled_shutdown.h): the coordinator
  // session is closed on purpose and must not be opened again.
  bool shutting_down = false;
};

// Builds the broker and starts its fibers (listener, coordinator sessions,
// ISR expiration, checkpoints); returns at once. The node's crash ends them.
std::shared_ptr<BrokerNode> start_broker(sim::Runtime& rt, const BrokerConfig& config,
                                         const BrokerOptions& options);

}  // namespace samsa::broker
