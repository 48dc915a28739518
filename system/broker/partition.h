#pragma once
// One partition replica's replication bookkeeping, as Kafka 2.x's
// Partition.scala / Replica.scala keep it, without I/O:
//
//  - LeaderState: on the leader, each follower's log end offset and last
//    caught-up time (Replica.updateFetchState), the ISR, ISR shrink after
//    replica.lag.time.max.ms (getOutOfSyncReplicas), ISR expansion only for a
//    follower at the high watermark and at the start of the leader's current
//    epoch (KAFKA-7128), and the high watermark = min log end offset over the
//    ISR, which never goes back (maybeIncrementLeaderHW).
//  - follower_truncation: where a new follower cuts its log, from the leader's
//    OffsetsForLeaderEpoch answer (AbstractFetcherThread's
//    getOffsetTruncationState: KIP-101, KIP-279's rounds for several leader
//    changes in a row).
//  - check_current_leader_epoch: KIP-320's fencing of Fetch and
//    OffsetsForLeaderEpoch by the requester's view of the leader epoch.
//
//  - Partition: one hosted replica: its log, its role (leader with a
//    LeaderState, or follower), its producer state, under one fiber mutex
//    (a Log is used by one fiber at a time and every disk call parks).
//
// The coordinator's compare-and-set of the ISR and the waiting of requests
// live in replica_manager.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/runtime/runtime.h"
#include "system/broker/producer_state.h"
#include "system/broker/txn/partition_txns.h"
#include "system/log/checkpoint.h"
#include "system/log/log.h"
#include "system/protocol/errors.h"
#include "system/protocol/ids.h"

namespace samsa::broker {

using protocol::BrokerId;
using protocol::ErrorCode;
using protocol::LeaderEpoch;
using protocol::Offset;

// A follower as the leader sees it (Kafka's Replica).
struct RemoteReplica {
  BrokerId id;
  Offset log_end_offset = Offset::none();  // unknown until it fetches from this leader
  std::int64_t last_caught_up_ms = 0;
  Offset last_fetch_leader_log_end_offset = Offset::none();
  std::int64_t last_fetch_ms = 0;
};

struct LeaderInit {
  BrokerId self;
  std::vector<BrokerId> replicas;  // the assignment, self included
  std::vector<BrokerId> isr;       // as the controller wrote it, self included
  LeaderEpoch epoch;
  Offset log_end_offset;   // the leader's, at the moment it became leader
  Offset high_watermark;   // its local one (checkpoint or follower state)
  std::int64_t now_ms = 0;
};

class LeaderState {
 public:
  explicit LeaderState(const LeaderInit& init);

  // The leader appended: its log end offset moved.
  void on_append(Offset log_end_offset);
  // A follower fetched from `fetch_offset` (its log end offset): Kafka's
  // Replica.updateFetchState. Unknown brokers are ignored (false).
  bool on_follower_fetch(BrokerId follower, Offset fetch_offset, std::int64_t now_ms);

  // Whether `follower` may join the ISR now (Partition.isFollowerInSync):
  // not in it, at or past the high watermark, and at or past the start
  // offset of this leader's epoch unless below_epoch_start_allowed
  // (samsa.legacy.isr.expand.below.epoch.start, KAFKA-7128).
  bool can_join_isr(BrokerId follower, bool below_epoch_start_allowed = false) const;
  // The ISR members that have not caught up within lag_max_ms and are not at
  // the leader's log end offset (Partition.getOutOfSyncReplicas). Never the
  // leader itself.
  std::vector<BrokerId> out_of_sync(std::int64_t now_ms, std::int64_t lag_max_ms) const;
  // The ISR as now stored in the coordinator (after a successful
  // compare-and-set, or a LeaderAndIsr from the controller in the same epoch).
  void set_isr(std::vector<BrokerId> isr);

  // Moves the high watermark to the minimum log end offset over the ISR if
  // that is larger (an unknown follower offset holds it where it is).
  // Returns whether it moved.
  bool maybe_increment_high_watermark();

  Offset high_watermark() const { return high_watermark_; }
  Offset log_end_offset() const { return log_end_offset_; }
  Offset epoch_start_offset() const { return epoch_start_offset_; }
  LeaderEpoch epoch() const { return epoch_; }
  BrokerId self() const { return self_; }
  const std::vector<BrokerId>& isr() const { return isr_; }
  const std::vector<BrokerId>& replicas() const { return replicas_; }
  bool in_isr(BrokerId id) const;
  const RemoteReplica* remote(BrokerId id) const;

 private:
  RemoteReplica* find(BrokerId id);

  BrokerId self_;
  std::vector<BrokerId> replicas_;
  std::vector<BrokerId> isr_;
  LeaderEpoch epoch_;
  Offset epoch_start_offset_;
  Offset log_end_offset_;
  Offset high_watermark_;
  std::vector<RemoteReplica> remotes_;  // in assignment order
};

// --- follower truncation (KIP-101 / KIP-279) -------------------------------------

// One partition of an OffsetsForLeaderEpoch answer.
struct EpochEndOffset {
  ErrorCode error = ErrorCode::none;
  LeaderEpoch leader_epoch = LeaderEpoch::none();  // none: a v0 answer, or unknown
  Offset end_offset = Offset::none();              // none: the leader knows no such epoch
};

struct TruncationDecision {
  Offset offset;  // truncate to here (the log end stays when it is beyond)
  bool done = true;  // false: ask again with the follower's epoch after the cut
  friend bool operator==(const TruncationDecision&, const TruncationDecision&) = default;
};

// Where the follower cuts its log (AbstractFetcherThread.getOffsetTruncationState):
//   the leader knows no end offset       -> the local high watermark (pre-KIP-101 fallback);
//   a v0 answer (no epoch), or no
//   answer from the follower's cache     -> min(leader's end offset, local log end);
//   the follower's largest epoch <= the
//   leader's answer is another epoch     -> min(leader's end, follower's end for it), ask again;
//   the same epoch                       -> min(leader's end, follower's end for it), done.
// legacy_v0 (samsa.legacy.offsets.for.leader.epoch.v0, KAFKA-6361) reads every
// answer as v0: one round to min(leader's end offset, local log end).
TruncationDecision follower_truncation(const log::LeaderEpochCache& local, Offset log_end_offset,
                                       Offset high_watermark, const EpochEndOffset& leader,
                                       bool legacy_v0 = false);

// LeaderEpochFileCache.endOffsetFor of Kafka 2.1+, used by the leader to
// answer OffsetsForLeaderEpoch and by the follower to compare the answer with
// its own log: the largest epoch <= `requested` and the start of the next
// one (the log end for the latest); for an epoch older than every entry,
// that epoch and the first entry's start (everything of this log is newer);
// unknown (none, none) when the cache is empty or the epoch is newer than
// the latest.
EpochEndOffset end_offset_for(const log::LeaderEpochCache& cache, LeaderEpoch requested,
                              Offset log_end_offset);
inline EpochEndOffset leader_end_offset_for(const log::LeaderEpochCache& cache,
                                            LeaderEpoch requested, Offset log_end_offset) {
  return end_offset_for(cache, requested, log_end_offset);
}
// The v0 form (before KIP-279): the end offset alone, no epoch.
EpochEndOffset leader_end_offset_for_v0(const log::LeaderEpochCache& cache, LeaderEpoch requested,
                                        Offset log_end_offset);

// KIP-320: a request that names the leader epoch it believes current.
// none -> no check (old clients); older than ours -> FENCED_LEADER_EPOCH;
// newer -> UNKNOWN_LEADER_EPOCH (this broker has not heard of it yet).
ErrorCode check_current_leader_epoch(LeaderEpoch requested, LeaderEpoch ours);

// --- one hosted replica ---------------------------------------------------------------

// A fiber mutex: a Log is used by one fiber at a time, and its calls park.
class FiberMutex {
 public:
  explicit FiberMutex(sim::Parker& p) : queue_(p) {}
  void lock() {
    while (locked_) queue_.wait("partition.lock");
    locked_ = true;
  }
  void unlock() {
    locked_ = false;
    queue_.notify_one();
  }

 private:
  bool locked_ = false;
  sim::WaitQueue queue_;
};

struct PartitionOptions {
  BrokerId self;
  std::int64_t replica_lag_time_max_ms = 30000;
  std::int32_t min_insync_replicas = 1;  // the topic's min.insync.replicas
  std::int32_t max_message_bytes = 1024 * 1024 + 12;  // the topic's max.message.bytes
  std::size_t producer_batches_retained = ProducerStateManager::k_batches_retained;
  bool legacy_truncate_to_high_watermark = false;
  bool legacy_isr_expand_below_epoch_start = false;
};

// What the controller says about a partition (LeaderAndIsr's partition state).
struct Leadership {
  protocol::ControllerEpoch controller_epoch;
  BrokerId leader = BrokerId::none();
  LeaderEpoch leader_epoch = LeaderEpoch::none();  // none: never told (a replica opened before any LeaderAndIsr)
  std::vector<BrokerId> isr;
  std::int32_t zk_version = 0;
  std::vector<BrokerId> replicas;
};

struct LeaderAppend {
  ErrorCode error = ErrorCode::none;
  Offset base_offset = Offset::none();
  Offset last_offset = Offset::none();  // wait for HW > this with acks=all
  bool duplicate = false;
  Offset log_start_offset = Offset::none();
};

struct PartitionRead {
  ErrorCode error = ErrorCode::none;
  protocol::Records records;  // a view of the log's mapping (Log::read)
  Offset high_watermark = Offset::none();
  Offset last_stable_offset = Offset::none();
  std::vector<txn::AbortedTxn> aborted;  // read_committed: the aborted transactions the records overlap
  Offset log_start_offset = Offset::none();
  Offset log_end_offset = Offset::none();
};

class Partition {
 public:
  Partition(sim::Runtime& rt, std::string topic, protocol::PartitionId index,
            std::unique_ptr<log::Log> log, PartitionOptions options);
  // Rebuilds the producer state and reads the high watermark checkpoint.
  Result<void, log::LogErrc> load();

  const std::string& topic() const { return topic_; }
  // Fixed when the replica is opened: the topic's own configuration applied.
  const PartitionOptions& options() const { return options_; }
  protocol::PartitionId index() const { return index_; }
  bool is_leader() const { return leader_.has_value(); }
  const Leadership& leadership() const { return leadership_; }
  LeaderEpoch leader_epoch() const { return leadership_.leader_epoch; }
  // The leader epoch in which this replica last became leader from not
  // leading (Partition.makeLeader's isNewLeader). A LeaderAndIsr that bumps
  // the epoch with the same leader (an ISR change by the controller) keeps
  // it: the log was never truncated in between.
  LeaderEpoch leading_since() const { return leading_since_; }
  Offset high_watermark() const { return leader_ ? leader_->high_watermark() : high_watermark_; }
  Offset log_end_offset() const { return Offset(log_->log_end_offset()); }
  Offset log_start_offset() const { return Offset(log_->log_start_offset()); }
  const LeaderState* leader_state() const { return leader_ ? &*leader_ : nullptr; }
  log::Log& log() { return *log_; }
  const ProducerStateManager& producers() const { return producers_; }
  FiberMutex& mutex() { return mutex_; }
  // Serializes the writers of the high-watermark checkpoint file, which is
  // written without the partition's mutex (checkpoint_high_watermark).
  // Taken before the partition's mutex, never while holding it.
  FiberMutex& checkpoint_mutex() { return checkpoint_mutex_; }
  // Whether the follower still has to truncate (KIP-101) before it fetches.
  bool needs_truncation() const { return needs_truncation_; }

  // --- role changes (Partition.makeLeader / makeFollower); caller holds the mutex.
  Result<void, log::LogErrc> make_leader(const Leadership& l, std::int64_t now_ms);
  Result<void, log::LogErrc> make_follower(const Leadership& l);
  // The ISR written by this leader with compare-and-set.
  void isr_written(std::vector<BrokerId> isr, std::int32_t zk_version);

  // --- leader; caller holds the mutex -----------------------------------------------------
  // Validates and appends a Produce's records (Log.analyzeAndValidateProducerState,
  // LogValidator): CORRUPT_MESSAGE, INVALID_RECORD, MESSAGE_TOO_LARGE, the
  // idempotence verdicts; NOT_ENOUGH_REPLICAS when acks=all finds the ISR
  // below min.insync.replicas before appending.
  // from_coordinator: written by a coordinator of this broker (AppendOrigin.Coordinator:
  // transactional offset commits), whose batches carry no sequence to check.
  LeaderAppend append_as_leader(ByteView records, std::int16_t acks, std::int32_t min_insync_replicas,
                                bool from_coordinator = false);
  // A follower's fetch at `fetch_offset`: its state at the leader. Returns
  // whether the high watermark moved.
  bool record_follower_fetch(BrokerId follower, Offset fetch_offset, std::int64_t now_ms);
  // After an ISR shrink or expansion.
  bool maybe_increment_high_watermark();

  // --- follower; caller holds the mutex ----------------------------------------------------
  Result<void, log::LogErrc> truncate_to(Offset offset);
  Result<void, log::LogErrc> truncate_fully_and_start_at(Offset offset);
  void truncation_done() { needs_truncation_ = false; }
  Result<log::AppendInfo, log::LogErrc> append_as_follower(ByteView records);
  // The leader's high watermark from a fetch response, clamped to this log
  // (Log.updateHighWatermark): may go back.
  void update_follower_high_watermark(Offset leader_high_watermark);

  // --- reads; caller holds the mutex ---------------------------------------------------------
  // Up to the log end (replicas) or the high watermark (consumers);
  // read_committed (isolation.level, KIP-98): up to the last stable offset,
  // with the aborted transactions the records overlap (Log.read with
  // FetchTxnCommitted, collectAbortedTransactions).
  PartitionRead read(Offset fetch_offset, std::uint64_t max_bytes, bool up_to_log_end, bool min_one,
                     bool read_committed = false);

  // --- transactions (KIP-98); caller holds the mutex -------------------------------------------
  // Log.lastStableOffset.
  Offset last_stable_offset() const { return txns_.last_stable_offset(high_watermark()); }
  const txn::PartitionTxns& transactions() const { return txns_; }
  // A WriteTxnMarkers marker on the leader (Log.appendAsLeader with
  // AppendOrigin.Coordinator): a control batch at the leader's epoch;
  // INVALID_PRODUCER_EPOCH for a marker older than the producer's epoch here
  // (ProducerAppendInfo.checkProducerEpoch, Kafka 2.7+).
  LeaderAppend append_marker_as_leader(protocol::ProducerId id, protocol::ProducerEpoch epoch,
                                       protocol::ControlRecord marker, std::int16_t acks,
                                       std::int32_t min_insync_replicas);

  // Writes the high watermark's checkpoint file. Caller holds the checkpoint
  // mutex and may or may not hold the partition's: the periodic checkpoint
  // does not (ReplicaManager.checkpointHighWatermarks reads each partition's
  // high watermark without its lock), since the write's fsyncs take
  // milliseconds, tens of them on a busy disk, and with the mutex held every
  // produce, fetch and follower append of the partition waited for them.
  Result<void, log::LogErrc> checkpoint_high_watermark();
  // Kafka's producer snapshots: at a segment roll (snapshot_at_roll), at
  // close (controlled shutdown), and after a rebuild from the log
  // (rebuild_producer_state); not on a timer. This one is at the log end.
  Result<void, log::LogErrc> save_producer_snapshot();

  // --- the purgatories' watchers (ReplicaManager) ---------------------------------------------
  // The parked Produce and Fetch requests that wait on this partition, in
  // the order they began to watch it (DelayedOperationPurgatory's watchers
  // under this partition's TopicPartitionOperationKey).
  void watch(sim::Event& e) { watchers_.push_back(&e); }
  void unwatch(sim::Event& e) { std::erase(watchers_, &e); }
  // Sets every watcher's event: the partition's log end, high watermark or
  // role changed (tryCompleteDelayedFetch / tryCompleteDelayedProduce).
  void notify_watchers() {
    for (sim::Event* e : watchers_) e->set();
  }

 private:
  ErrorCode validate(ByteView records, std::vector<protocol::BatchHeader>& headers) const;
  void snapshot_at_roll(const log::AppendInfo& info);

  sim::Runtime& rt_;
  std::string topic_;
  protocol::PartitionId index_;
  std::unique_ptr<log::Log> log_;
  PartitionOptions options_;
  FiberMutex mutex_;
  FiberMutex checkpoint_mutex_;
  Leadership leadership_;
  std::optional<LeaderState> leader_;
  LeaderEpoch leading_since_ = LeaderEpoch::none();
  Offset high_watermark_{0};  // a follower's (and a new leader's starting point)
  bool needs_truncation_ = false;
  ProducerStateManager producers_;
  txn::PartitionTxns txns_;
  std::vector<sim::Event*> watchers_;
};

// Holds a partition's checkpoint mutex for a scope (before its PartitionLock).
class CheckpointLock {
 public:
  explicit CheckpointLock(Partition& p) : m_(p.checkpoint_mutex()) { m_.lock(); }
  ~CheckpointLock() { m_.unlock(); }
  CheckpointLock(const CheckpointLock&) = delete;
  CheckpointLock& operator=(const CheckpointLock&) = delete;

 private:
  FiberMutex& m_;
};

// Holds a partition's mutex for a scope.
class PartitionLock {
 public:
  explicit PartitionLock(Partition& p) : m_(p.mutex()) { m_.lock(); }
  ~PartitionLock() { m_.unlock(); }
  PartitionLock(const PartitionLock&) = delete;
  PartitionLock& operator=(const PartitionLock&) = delete;

 private:
  FiberMutex& m_;
};

}  // namespace samsa::broker
