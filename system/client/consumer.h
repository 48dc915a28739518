#pragma once
// The simulated Kafka consumer, after the Java client (KafkaConsumer,
// ConsumerCoordinator / AbstractCoordinator, Fetcher, SubscriptionState):
//
//  - subscribe(topics) joins the group group.id (FindCoordinator, JoinGroup
//    with KIP-394's MEMBER_ID_REQUIRED retry, the leader runs
//    partition.assignment.strategy, SyncGroup); assign(partitions) reads
//    without a group.
//  - poll(timeout): looks a lost coordinator up again, sends a requested
//    metadata update, rejoins when needed (ILLEGAL_GENERATION,
//    UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS, a lost coordinator, and for
//    the leader a change in the group's topics' partition counts since it
//    assigned: ConsumerCoordinator.rejoinNeededOrPending), commits
//    due auto-commits (enable.auto.commit, auto.commit.interval.ms), finds
//    positions (the committed offset, else auto.offset.reset through
//    ListOffsets), fetches from every leader at once (one Fetch per node in
//    flight, as Fetcher.sendFetches) with fetch.max.wait.ms and the current
//    leader epoch (KIP-320), returns up to max.poll.records.
//    OFFSET_OUT_OF_RANGE resets the position by auto.offset.reset;
//    FENCED_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER and UNKNOWN_LEADER_EPOCH
//    refresh the metadata and fetch again (Fetcher.handleFetchResponse).
//  - A heartbeat fiber (AbstractCoordinator's HeartbeatThread) sends
//    Heartbeat every heartbeat.interval.ms while the member is Stable, and
//    leaves the group when poll() was not called for max.poll.interval.ms.
//  - commit_sync / commit_async (OffsetCommit with generation and member
//    id); seek (an assigned partition only); position.
//
// Outcomes (assignments, commits) are handed to callbacks so a workload can
// record `assign` and `commit` operations; this code knows no history.
// Connections and metadata are the producer's (network_client.h,
// metadata.h); the group coordinator has a connection of its own.
// Simplifications, said here: commit_async sends its commit at the start of
// the next poll(); ListOffsets and OffsetFetch are sent one at a time; no
// incremental fetch sessions (KIP-227), no cooperative rebalancing, no
// static membership.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sim/runtime/runtime.h"
#include "system/client/group/consumer_protocol.h"
#include "system/client/group_metadata.h"
#include "system/protocol/errors.h"
#include "system/protocol/ids.h"

namespace samsa::client {

using group::TopicPartition;

struct ConsumerConfig {
  std::vector<sim::Address> bootstrap_servers;
  std::string client_id = "consumer";
  std::string group_id;
  std::int32_t session_timeout_ms = 10000;
  std::int32_t heartbeat_interval_ms = 3000;
  std::int32_t max_poll_interval_ms = 300000;
  std::int32_t max_poll_records = 500;
  std::int32_t fetch_max_wait_ms = 500;
  std::int32_t fetch_min_bytes = 1;
  std::int32_t max_partition_fetch_bytes = 1048576;
  std::string auto_offset_reset = "latest";  // earliest, latest, none
  bool enable_auto_commit = true;
  std::int32_t auto_commit_interval_ms = 5000;
  std::string partition_assignment_strategy = "range";
  std::int32_t request_timeout_ms = 30000;
  std::int32_t retry_backoff_ms = 100;
  std::int32_t metadata_max_age_ms = 300000;
  std::int32_t reconnect_backoff_ms = 50;
  std::int32_t reconnect_backoff_max_ms = 1000;
  // isolation.level: read_committed fetches stop at the last stable offset
  // and skip aborted transactions (Fetcher's abortedProducerIds); its
  // OffsetFetch asks require_stable (KIP-447).
  bool read_committed = false;
};

// Kafka's keys (ConsumerConfig): bootstrap.servers (host:port,...),
// client.id, group.id, session.timeout.ms, heartbeat.interval.ms,
// max.poll.interval.ms, max.poll.records, fetch.max.wait.ms,
// fetch.min.bytes, max.partition.fetch.bytes, auto.offset.reset,
// enable.auto.commit, auto.commit.interval.ms,
// partition.assignment.strategy, request.timeout.ms, retry.backoff.ms,
// metadata.max.age.ms, reconnect.backoff.ms, reconnect.backoff.max.ms,
// isolation.level (read_uncommitted, read_committed).
// An error names the key.
Result<ConsumerConfig, std::string> make_consumer_config(const std::map<std::string, std::string>& props);

struct ConsumerRecord {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::int32_t leader_epoch = -1;
};

struct CommitOutcome {
  bool ok = false;
  protocol::ErrorCode error = protocol::ErrorCode::none;  // the first error
  std::map<TopicPartition, std::int64_t> offsets;
  bool async = false;
};

struct AssignOutcome {
  std::int32_t generation = -1;  // -1 for assign()
  std::vector<TopicPartition> partitions;
};

struct ConsumerStats {
  std::uint64_t joins = 0;          // JoinGroup rounds that produced a generation
  std::uint64_t rebalances = 0;     // assignments received
  std::uint64_t fetches = 0;
  std::uint64_t offset_resets = 0;  // positions set by auto.offset.reset
  std::uint64_t fenced = 0;         // FENCED_LEADER_EPOCH answers
  std::uint64_t heartbeats = 0;
  std::uint64_t aborted_batches_skipped = 0;  // read_committed
  std::uint64_t unstable_offsets = 0;         // UNSTABLE_OFFSET_COMMIT answers (KIP-447)
};

class Consumer {
 public:
  Consumer(sim::Runtime& rt, ConsumerConfig config);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  void subscribe(std::vector<std::string> topics);
  void assign(std::vector<TopicPartition> partitions);
  // Records, at most max.poll.records; waits up to `timeout` for some.
  std::vector<ConsumerRecord> poll(sim::Duration timeout);
  // Commits the current positions (or `offsets`) and waits for the answer.
  CommitOutcome commit_sync();
  CommitOutcome commit_sync(const std::map<TopicPartition, std::int64_t>& offsets);
  void commit_async();
  // The next poll reads `tp` from `offset`. An error for a partition not in
  // the current assignment (SubscriptionState.seek's IllegalStateException
  // "No current assignment for partition"): nothing changes.
  Result<void, std::string> seek(const TopicPartition& tp, std::int64_t offset);
  std::optional<std::int64_t> position(const TopicPartition& tp) const;
  std::vector<TopicPartition> assignment() const;
  std::int32_t generation() const;
  const std::string& member_id() const;
  // KafkaConsumer.groupMetadata, for a transactional producer's
  // sendOffsetsToTransaction (KIP-447).
  ConsumerGroupMetadata group_metadata() const;
  // Leaves the group (LeaveGroup) and stops the heartbeat fiber.
  void close();

  std::function<void(const AssignOutcome&)> on_assign;
  std::function<void(const CommitOutcome&)> on_commit;
  const ConsumerStats& stats() const;

  struct State;

 private:
  std::shared_ptr<State> s_;
};

}  // namespace samsa::client
