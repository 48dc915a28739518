#include "system/broker/broker.h"

#include "system/broker/handlers.h"
#include "system/broker/zk_registration.h"

namespace samsa::broker {

BrokerNode::BrokerNode(sim::Runtime& rt_, const BrokerConfig& config_)
    : rt(rt_),
      config(config_),
      replicas(std::make_shared<ReplicaManager>(rt_, config_)),
      channel(rt_, BrokerId(config_.broker_id), NetworkControllerChannel::Options{}),
      controller(rt_, config_, channel),
      producer_ids(BrokerId(config_.broker_id)),
      rng(rt_.random("broker.admin")),
      server(std::make_shared<Server>(rt_, static_cast<std::size_t>(config_.socket_request_max_bytes))) {
  admin = std::make_shared<AdminContext>(AdminContext{rt, config, nullptr, controller, producer_ids, rng});
  add_handlers(*server, replicas, admin);
  groups = std::make_shared<group::GroupService>(rt, config, replicas, admin);
  group::add_group_handlers(*server, groups);
  txns = std::make_shared<TxnService>(rt, config, replicas, admin);
  add_txn_handlers(*server, txns, groups, replicas);
  // Before KIP-890 part 2 (Kafka 3.x) EndTxn went up to v4: the legacy
  // switch advertises that, so clients keep their epoch across transactions.
  if (config_.legacy.no_epoch_bump_per_transaction) server->limit_max_version(protocol::ApiKey::end_txn, 4);
}

std::shared_ptr<BrokerNode> start_broker(sim::Runtime& rt, const BrokerConfig& config,
                                         const BrokerOptions& options) {
  auto node = std::make_shared<BrokerNode>(rt, config);
  const BrokerEndpoint endpoint = options.advertised.value_or(
      BrokerEndpoint{rt.node_name(), static_cast<std::uint16_t>(config.port)});
  std::shared_ptr<sim::Listener> l = options.listener;
  if (!l) {
    auto listener = rt.net().listen(static_cast<std::uint16_t>(config.port));
    SAMSA_ASSERT(listener.ok(), "the broker's port is free on its own node");
    l = std::move(*listener);
  }
  rt.spawn("isr-expiration", [node] { node->replicas->run_isr_expiration(); });
  rt.spawn("checkpoints", [node] { node->replicas->run_checkpoints(); });
  rt.spawn("isr-change-propagation", [node] { node->replicas->run_isr_change_propagation(); });
  rt.spawn("group-timers", [node] { node->groups->run_timers(); });
  rt.spawn("txn-timers", [node] { node->txns->run_timers(); });
  SessionConfig sc;
  sc.coordinators = options.coordinators;
  sc.session_timeout_ms = config.zookeeper_session_timeout_ms;
  sc.broker_id = BrokerId(config.broker_id);
  sc.endpoint = endpoint;
  rt.spawn("zk-session", [node, sc, l] {
    run_registered_sessions(node->rt, sc, [node, l](coord::Client& c, BrokerEpoch epoch) {
      node->rt.log().info("broker {} registered with epoch {}", node->config.broker_id, epoch);
      node->replicas->set_coordinator(&c, epoch);
      // KafkaServer.startup: requests are processed only once the broker is
      // registered (its epoch known), never by a restarted incarnation whose
      // predecessor's session still holds the id.
      if (!node->serving) {
        node->serving = true;
        node->rt.spawn("server", [node, l] { node->server->serve(l); });
      }
      // Whatever ends the session (expiry, a crash unwinding), the client goes.
      struct Detach {
        ReplicaManager& rm;
        ~Detach() { rm.set_coordinator(nullptr, BrokerEpoch::none()); }
      } detach{*node->replicas};
      node->controller.run_session(c, epoch);
      // A controlled shutdown closed the session: stay out of the
      // coordinator until the node's fibers are stopped.
      while (node->shutting_down) node->rt.sleep(std::chrono::hours(1));
    });
  });
  return node;
}

}  // namespace samsa::broker
