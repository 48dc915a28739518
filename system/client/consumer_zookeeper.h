#pragma once
// The seed's ZooKeeper consumer (group.protocol=zookeeper): Kafka 0.8's
// high-level consumer, ZookeeperConsumerConnector with its
// ZKRebalancerListener, on the coordinator client (system/coord):
//
//  - registers /consumers/<group>/ids/<consumer.id> (ephemeral) with its
//    subscription JSON; watches that folder's children and every
//    subscribed /brokers/topics/<topic>;
//  - on any change rebalances (syncedRebalance): commits its offsets,
//    releases its owner znodes, computes range or roundrobin over the
//    sorted consumer threads (one thread per consumer here:
//    "<consumer.id>-0"), claims /consumers/<group>/owners/<topic>/<p>
//    ephemerally; when a claim finds the node of another owner it releases
//    what it claimed, waits rebalance.backoff.ms and tries again, at most
//    rebalance.max.retries times, then gives up (Kafka's
//    ConsumerRebalanceFailedException) and owns nothing until the next
//    change: the herd effect and the give-ups under churn are visible in
//    stats(), not hidden;
//  - reads and commits offsets in /consumers/<group>/offsets/<topic>/<p>
//    (decimal strings), every auto.commit.interval.ms and on commit();
//  - fetches from the partitions' leaders through a Consumer in assign()
//    mode (the modern fetch path stands in for 0.8's fetcher threads).
// A session expiry (its ephemerals gone) registers again and rebalances,
// as handleNewSession does.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sim/runtime/runtime.h"
#include "system/client/consumer.h"
#include "system/coord/client.h"

namespace samsa::client {

struct ZookeeperConsumerConfig {
  std::vector<sim::Address> zookeeper_connect;
  std::vector<sim::Address> bootstrap_servers;  // for the fetch path
  std::string group_id;
  std::string consumer_id;  // consumer.id
  std::vector<std::string> topics;
  std::int32_t zookeeper_session_timeout_ms = 6000;
  std::int32_t rebalance_max_retries = 4;
  std::int32_t rebalance_backoff_ms = 2000;
  std::int32_t auto_commit_interval_ms = 60000;
  bool auto_commit_enable = true;
  std::string auto_offset_reset = "largest";  // largest, smallest (0.8's names)
  std::string partition_assignment_strategy = "range";  // range, roundrobin
  std::int32_t fetch_wait_max_ms = 100;
};

struct ZookeeperConsumerStats {
  std::uint64_t rebalances = 0;          // syncedRebalance calls
  std::uint64_t attempts = 0;            // rebalance attempts (tries)
  std::uint64_t claim_conflicts = 0;     // owner znodes found taken
  std::uint64_t rebalance_failures = 0;  // gave up after rebalance.max.retries
  std::uint64_t registrations = 0;       // /ids registrations (new sessions)
  std::uint64_t offset_commits = 0;
};

class ZookeeperConsumer {
 public:
  ZookeeperConsumer(sim::Runtime& rt, ZookeeperConsumerConfig config);
  ~ZookeeperConsumer();
  ZookeeperConsumer(const ZookeeperConsumer&) = delete;
  ZookeeperConsumer& operator=(const ZookeeperConsumer&) = delete;

  // Rebalances first when a watch fired; then fetches what it owns.
  std::vector<ConsumerRecord> poll(sim::Duration timeout);
  // Writes the positions of the owned partitions to their offsets znodes.
  void commit();
  // The partitions whose owner znodes this consumer holds, as it believes.
  std::vector<TopicPartition> owned() const { return owned_; }
  // Commits (when auto.commit.enable), releases ownership, ends the session.
  void close();

  std::function<void(const AssignOutcome&)> on_assign;
  const ZookeeperConsumerStats& stats() const { return stats_; }

 private:
  bool ensure_session();
  bool register_consumer();
  void rebalance();
  bool try_rebalance();
  void release();
  std::optional<std::int64_t> read_offset(const TopicPartition& tp);
  std::string thread_id() const { return config_.consumer_id + "-0"; }

  sim::Runtime& rt_;
  ZookeeperConsumerConfig config_;
  std::shared_ptr<coord::Client> zk_;
  std::unique_ptr<Consumer> fetcher_;
  std::vector<TopicPartition> owned_;
  std::shared_ptr<bool> changed_ = std::make_shared<bool>(true);  // set by watches
  sim::MonoTime next_commit_{};
  bool closed_ = false;
  ZookeeperConsumerStats stats_;
};

}  // namespace samsa::client
