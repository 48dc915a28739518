#pragma once
// The client's view of the cluster, after the Java client's Metadata
// (org.apache.kafka.clients.Metadata), shared by the producer and the
// consumer: the brokers (bootstrap.servers until the first answer), the
// partitions of the topics the client wants with their leader and leader
// epoch, and when to ask again (Metadata.timeToNextUpdate): at once after
// request_update() (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, a
// disconnect, a partition without a leader), but not within
// retry.backoff.ms of the last attempt, and metadata.max.age.ms after the
// last answer in any case. It sends nothing itself: the owner sends
// request() to a node (NetworkClient::least_loaded) and hands the answer to
// update() or failed_update(). Pure data, no fibers.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sim/runtime/network.h"
#include "sim/runtime/time.h"
#include "system/protocol/errors.h"
#include "system/protocol/ids.h"
#include "system/protocol/typed_messages.h"

namespace samsa::client {

struct PartitionMeta {
  std::int32_t leader = -1;  // -1: no leader known
  protocol::LeaderEpoch leader_epoch = protocol::LeaderEpoch::none();
};

struct TopicMeta {
  protocol::ErrorCode error = protocol::ErrorCode::none;
  std::vector<PartitionMeta> partitions;  // by partition index
};

class Metadata {
 public:
  Metadata(std::vector<sim::Address> bootstrap_servers, std::int64_t metadata_max_age_ms,
           std::int64_t retry_backoff_ms);

  // The topics asked about (Metadata's topic list); adding one does not by
  // itself ask for an update.
  void add_topic(const std::string& topic) { topics_.insert(topic); }
  void set_topics(std::set<std::string> topics) { topics_ = std::move(topics); }
  const std::set<std::string>& topics() const { return topics_; }

  // Metadata.requestUpdate.
  void request_update() { needed_ = true; }
  bool update_requested() const { return needed_; }
  bool in_flight() const { return in_flight_; }
  // When the next request is due (Metadata.timeToNextUpdate), meaningful
  // when none is in flight.
  sim::MonoTime update_due() const;
  // The Metadata request for the wanted topics (v9 fields); marks one in flight.
  protocol::MetadataRequest request();
  // An answer: the brokers are replaced, each topic answered is replaced. A
  // partition without a leader or a topic with an error asks for another
  // update after retry.backoff.ms.
  void update(const protocol::MetadataResponse& response, sim::MonoTime now);
  // No answer (a disconnect, a timeout): try again after retry.backoff.ms.
  void failed_update(sim::MonoTime now);
  // Counts successful updates (waiters compare it).
  std::uint64_t version() const { return version_; }

  // The brokers of the last answer, by id; the bootstrap servers before one.
  std::vector<sim::Address> nodes() const;
  const std::map<std::int32_t, sim::Address>& brokers() const { return brokers_; }
  const std::vector<sim::Address>& bootstrap_servers() const { return bootstrap_; }
  std::optional<sim::Address> broker(std::int32_t id) const;
  // nullptr when the topic is unknown.
  const TopicMeta* topic(const std::string& topic) const;
  // The partition count of a topic answered without error.
  std::optional<std::int32_t> partition_count(const std::string& topic) const;
  // The leader's id and epoch, when the partition has a leader.
  std::optional<PartitionMeta> leader(const std::string& topic, std::int32_t partition) const;
  // The leader's address, when the leader is among the known brokers.
  std::optional<sim::Address> leader_address(const std::string& topic, std::int32_t partition) const;

 private:
  std::vector<sim::Address> bootstrap_;
  sim::Duration max_age_;
  sim::Duration retry_backoff_;
  std::set<std::string> topics_;
  std::map<std::int32_t, sim::Address> brokers_;
  std::map<std::string, TopicMeta> meta_;
  bool needed_ = true;
  bool in_flight_ = false;
  sim::MonoTime last_ok_{};
  sim::MonoTime retry_at_{};
  std::uint64_t version_ = 0;
};

}  // namespace samsa::client
