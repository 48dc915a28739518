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
// The I/O around them (the log, the coordinator's compare-and-set of the ISR)
// lives in replica_manager.
#include <cstdint>
#include <optional>
#include <vector>

#include "system/log/checkpoint.h"
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

}  // namespace samsa::broker
