#pragma once
// A simulated Kafka cluster for tests and scenarios: one coordinator node
// ("zk", node 0) and N broker nodes ("b1".."bN", broker ids 1..N) running
// system/broker on the world, plus helpers to create topics the way
// kafka-topics.sh --zookeeper did (the assignment written to the coordinator)
// and to look at every replica's log at the end (the final-state snapshot).
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "scenarios/broker/driver.h"
#include "sim/world/world.h"
#include "system/broker/broker.h"
#include "system/coord/server.h"

namespace samsa::scenarios::broker {

struct ClusterConfig {
  int brokers = 3;
  // Broker keys by Kafka's names (applied to every broker, after samsa's
  // defaults for a simulated cluster).
  std::vector<std::pair<std::string, std::string>> settings;
  // Node names are prefix + "zk", prefix + "b1", ...: two clusters in one
  // world ("dc1-", "dc2-"), each broker knowing only its own coordinator.
  std::string prefix;
};

class Cluster {
 public:
  static constexpr sim::NodeId k_zk = 0;  // the coordinator of the first cluster added to a world
  Cluster(sim::World& world, ClusterConfig config);

  sim::NodeId zk_node() const { return zk_id_; }
  sim::NodeId node_of(int broker) const { return broker_ids_.at(static_cast<std::size_t>(broker - 1)); }
  sim::Address address(int broker) const { return {config_.prefix + "b" + std::to_string(broker), 9092}; }
  sim::Address zk_address() const { return {config_.prefix + "zk", 2181}; }
  std::vector<sim::Address> addresses() const;
  int brokers() const { return config_.brokers; }
  // The current incarnation's broker (nullptr while down).
  const samsa::broker::BrokerNode* node(int broker) const;
  // Writes the topic's assignment (partition p on brokers p, p+1, ... like
  // AdminUtils with start index 0 and no shift) from a fiber of `rt`.
  bool create_topic(sim::Runtime& rt, const std::string& topic, int partitions, int replication);

  // Every hosted replica's records (offset -> value) below its log end, and
  // its high watermark: the final state the checkers read.
  struct ReplicaImage {
    int broker = 0;
    std::int64_t high_watermark = 0;
    std::int64_t log_end_offset = 0;
    std::int64_t log_start_offset = 0;
    bool leader = false;           // it believes it leads the partition
    std::int32_t leader_epoch = -1;
    std::map<std::int64_t, std::string> values;
    std::map<std::int64_t, std::int32_t> epochs;  // each record's batch leader epoch
  };
  std::vector<ReplicaImage> replicas_of(sim::Runtime& rt, const std::string& topic, int partition);
  // The same without a copy of the records: `on_replica` sees each hosted
  // replica's scalars (values and epochs empty), then `on_record` each of its
  // records below the log end, in offset order. At 1,000 records/s the
  // copies in maps were 18 MB, the largest transient of a run.
  void scan_replicas(const std::string& topic, int partition,
                     const std::function<void(const ReplicaImage&)>& on_replica, const RecordFn& on_record) const;

  // Looked at from outside (a nemesis at fault time): the up broker that
  // leads the partition in the highest leader epoch, and the active
  // controller of the highest controller epoch.
  std::optional<int> leader_of(const std::string& topic, int partition) const;
  std::optional<int> controller() const;
  // The same with their epochs: (broker, leader epoch) and (broker, controller epoch).
  std::optional<std::pair<int, std::int32_t>> leader_and_epoch_of(const std::string& topic, int partition) const;
  std::optional<std::pair<int, std::int32_t>> controller_and_epoch() const;
  // leader_and_epoch_of for each (topic, partition), each up broker looked
  // up once (the workload observes every partition at every completion).
  std::vector<std::optional<std::pair<int, std::int32_t>>> leaders_and_epochs_of(
      const std::vector<std::pair<std::string, int>>& partitions) const;

 private:
  sim::World& world_;
  ClusterConfig config_;
  std::map<int, std::weak_ptr<samsa::broker::BrokerNode>> nodes_;
  std::shared_ptr<coord::Server> zk_;
  sim::NodeId zk_id_ = 0;
  std::vector<sim::NodeId> broker_ids_;  // by broker id - 1
};

}  // namespace samsa::scenarios::broker
