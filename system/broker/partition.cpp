#include "system/broker/partition.h"

#include <algorithm>

#include "sim/runtime/assert.h"

namespace samsa::broker {

LeaderState::LeaderState(const LeaderInit& init)
    : self_(init.self),
      replicas_(init.replicas),
      isr_(init.isr),
      epoch_(init.epoch),
      epoch_start_offset_(init.log_end_offset),
      log_end_offset_(init.log_end_offset),
      high_watermark_(std::min(init.high_watermark, init.log_end_offset)) {
  SAMSA_ASSERT(std::find(replicas_.begin(), replicas_.end(), self_) != replicas_.end(),
               "a leader is one of the partition's replicas");
  if (!in_isr(self_)) isr_.push_back(self_);
  for (BrokerId id : replicas_) {
    if (id == self_) continue;
    // Partition.makeLeader: resetLastCaughtUpTime(leaderEpochStartOffset,
    // now, in ISR ? now : 0): ISR members get a full lag period to fetch.
    RemoteReplica r;
    r.id = id;
    r.last_caught_up_ms = in_isr(id) ? init.now_ms : 0;
    r.last_fetch_leader_log_end_offset = epoch_start_offset_;
    r.last_fetch_ms = r.last_caught_up_ms;
    remotes_.push_back(r);
  }
}

bool LeaderState::in_isr(BrokerId id) const {
  return std::find(isr_.begin(), isr_.end(), id) != isr_.end();
}

const RemoteReplica* LeaderState::remote(BrokerId id) const {
  for (const auto& r : remotes_)
    if (r.id == id) return &r;
  return nullptr;
}

RemoteReplica* LeaderState::find(BrokerId id) {
  return const_cast<RemoteReplica*>(std::as_const(*this).remote(id));
}

void LeaderState::on_append(Offset log_end_offset) {
  SAMSA_ASSERT(log_end_offset >= log_end_offset_, "a leader's log only grows");
  log_end_offset_ = log_end_offset;
}

bool LeaderState::on_follower_fetch(BrokerId follower, Offset fetch_offset, std::int64_t now_ms) {
  RemoteReplica* r = find(follower);
  if (r == nullptr) return false;
  // Replica.updateFetchState: caught up if it fetched from our log end, or
  // from at least where our log end was at its previous fetch.
  if (fetch_offset >= log_end_offset_) {
    r->last_caught_up_ms = std::max(r->last_caught_up_ms, now_ms);
  } else if (fetch_offset >= r->last_fetch_leader_log_end_offset) {
    r->last_caught_up_ms = std::max(r->last_caught_up_ms, r->last_fetch_ms);
  }
  r->log_end_offset = fetch_offset;
  r->last_fetch_leader_log_end_offset = log_end_offset_;
  r->last_fetch_ms = now_ms;
  return true;
}

bool LeaderState::can_join_isr(BrokerId follower, bool below_epoch_start_allowed) const {
  const RemoteReplica* r = remote(follower);
  if (r == nullptr || in_isr(follower) || r->log_end_offset.is_none()) return false;
  if (r->log_end_offset < high_watermark_) return false;
  return below_epoch_start_allowed || r->log_end_offset >= epoch_start_offset_;
}

std::vector<BrokerId> LeaderState::out_of_sync(std::int64_t now_ms, std::int64_t lag_max_ms) const {
  std::vector<BrokerId> out;
  for (BrokerId id : isr_) {
    const RemoteReplica* r = remote(id);
    if (r == nullptr) continue;  // the leader
    if (r->log_end_offset != log_end_offset_ && now_ms - r->last_caught_up_ms > lag_max_ms)
      out.push_back(id);
  }
  return out;
}

void LeaderState::set_isr(std::vector<BrokerId> isr) {
  SAMSA_ASSERT(std::find(isr.begin(), isr.end(), self_) != isr.end(),
               "the leader stays in its own ISR");
  isr_ = std::move(isr);
}

bool LeaderState::maybe_increment_high_watermark() {
  Offset candidate = log_end_offset_;
  for (BrokerId id : isr_) {
    const RemoteReplica* r = remote(id);
    if (r == nullptr) continue;
    if (r->log_end_offset.is_none()) return false;  // not fetched yet: holds the HW
    candidate = std::min(candidate, r->log_end_offset);
  }
  if (candidate <= high_watermark_) return false;
  high_watermark_ = candidate;
  return true;
}

// --- truncation --------------------------------------------------------------------------

TruncationDecision follower_truncation(const log::LeaderEpochCache& local, Offset log_end_offset,
                                       Offset high_watermark, const EpochEndOffset& leader,
                                       bool legacy_v0) {
  if (leader.end_offset.is_none()) return {std::min(high_watermark, log_end_offset), true};
  if (legacy_v0 || leader.leader_epoch.is_none())
    return {std::min(leader.end_offset, log_end_offset), true};
  const EpochEndOffset mine = end_offset_for(local, leader.leader_epoch, log_end_offset);
  if (mine.end_offset.is_none()) return {std::min(leader.end_offset, log_end_offset), true};
  const Offset cut = std::min(leader.end_offset, mine.end_offset);
  // KIP-279: the follower's largest epoch <= the leader's answer is older
  // than it: cut there, then ask again with that older epoch.
  return {std::min(cut, log_end_offset), mine.leader_epoch == leader.leader_epoch};
}

EpochEndOffset end_offset_for(const log::LeaderEpochCache& cache, LeaderEpoch requested,
                              Offset log_end_offset) {
  const auto latest = cache.latest();
  if (!latest || requested.is_none() || requested.value() > latest->epoch) return {};
  const auto& entries = cache.entries();
  if (requested.value() < entries.front().epoch)
    return {ErrorCode::none, requested, Offset(entries.front().start_offset)};
  const auto e = cache.end_offset_for(requested.value(), log_end_offset.value());
  SAMSA_ASSERT(e.has_value(), "an epoch between the first and the latest has an answer");
  return {ErrorCode::none, LeaderEpoch(e->epoch), Offset(e->start_offset)};
}

EpochEndOffset leader_end_offset_for_v0(const log::LeaderEpochCache& cache, LeaderEpoch requested,
                                        Offset log_end_offset) {
  EpochEndOffset e = leader_end_offset_for(cache, requested, log_end_offset);
  e.leader_epoch = LeaderEpoch::none();
  return e;
}

ErrorCode check_current_leader_epoch(LeaderEpoch requested, LeaderEpoch ours) {
  if (requested.is_none()) return ErrorCode::none;
  if (requested < ours) return ErrorCode::fenced_leader_epoch;
  if (requested > ours) return ErrorCode::unknown_leader_epoch;
  return ErrorCode::none;
}

}  // namespace samsa::broker
