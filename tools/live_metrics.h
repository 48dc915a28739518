#pragma once
// `samsa live --metrics-port P`: the embedded cluster's state in the
// Prometheus text format (version 0.0.4), with Kafka's metric names as the
// Prometheus JMX exporter spells them where Kafka has them
// (kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions ->
// kafka_server_replicamanager_underreplicatedpartitions), labelled by broker.
#include <map>
#include <memory>
#include <string>

#include "sim/live/live_world.h"
#include "system/broker/broker.h"

namespace samsa::tools {

// The embedded cluster's brokers by node (set by each broker's main).
using BrokerNodes = std::map<sim::NodeId, std::weak_ptr<broker::BrokerNode>>;

// The text of one scrape. Runs on the world's thread.
std::string render_metrics(sim::LiveWorld& world, const BrokerNodes& brokers);

}  // namespace samsa::tools
