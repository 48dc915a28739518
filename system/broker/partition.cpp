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

// --- Partition -------------------------------------------------------------------------------

namespace samsa::broker {

namespace {

// The marker of a control batch (its one record); nullopt for data batches
// and for a control record that does not parse (Kafka skips those too).
std::optional<protocol::ControlRecord> control_marker(const protocol::BatchView& b) {
  if (!b.header.is_control()) return std::nullopt;
  auto it = protocol::RecordIterator::open(b.bytes);
  if (!it) return std::nullopt;
  auto rec = it->next();
  if (!rec || *rec == nullptr) return std::nullopt;
  auto marker = protocol::read_control_record(**rec);
  if (!marker) return std::nullopt;
  return *marker;
}

log::AbortedTxn to_log(const txn::AbortedTxn& a) {
  return {a.producer_id.value(), a.first_offset.value(), a.last_offset.value(), a.last_stable_offset.value()};
}

// The partition's transactions from every batch of the log (the producer
// snapshot keeps no transaction first offsets, so a load replays it all),
// then the log's .txnindex files wherever they were not trusted
// (LogSegment.recover's txnIndex rebuild, by the same replay).
Result<void, log::LogErrc> rebuild_transactions(log::Log& log, txn::PartitionTxns& txns) {
  txns.clear();
  std::vector<log::AbortedTxn> aborted;
  constexpr std::uint64_t k_chunk_bytes = 1 << 20;
  std::int64_t offset = log.log_start_offset();
  while (offset < log.log_end_offset()) {
    auto read = log.read(offset, k_chunk_bytes);
    if (!read) return Err{read.error()};
    protocol::BatchReader reader(read->records, /*check_crc=*/false);
    const std::int64_t before = offset;
    while (auto batch = reader.next()) {
      if (batch->header.last_offset() < offset) continue;
      auto done = txns.on_batch(batch->header, control_marker(*batch));
      if (done && done->aborted) aborted.push_back(to_log(done->aborted_txn()));
      offset = batch->header.next_offset();
    }
    if (offset == before) break;  // nothing readable there: keep what we have
  }
  return log.recover_txn_index(aborted);
}

}  // namespace

Partition::Partition(sim::Runtime& rt, std::string topic, protocol::PartitionId index,
                     std::unique_ptr<log::Log> log, PartitionOptions options)
    : rt_(rt),
      topic_(std::move(topic)),
      index_(index),
      log_(std::move(log)),
      options_(options),
      mutex_(rt.parker()),
      checkpoint_mutex_(rt.parker()),
      producers_(options.producer_batches_retained) {}

Result<void, log::LogErrc> Partition::load() {
  if (auto r = rebuild_producer_state(*log_, producers_); !r) return r;
  if (auto r = rebuild_transactions(*log_, txns_); !r) return r;
  auto hw = log_->read_high_watermark();
  // A checkpoint that does not parse: start from the log start, as Kafka.
  high_watermark_ = Offset(hw ? *hw : log_->log_start_offset());
  return {};
}

Result<void, log::LogErrc> Partition::make_leader(const Leadership& l, std::int64_t now_ms) {
  if (leader_) high_watermark_ = leader_->high_watermark();
  else leading_since_ = l.leader_epoch;
  leadership_ = l;
  // Partition.makeLeader: the new epoch starts at the log end offset.
  if (auto r = log_->assign_leader_epoch(l.leader_epoch.value()); !r) return r;
  leader_.emplace(LeaderInit{options_.self, l.replicas, l.isr, l.leader_epoch, log_end_offset(),
                             high_watermark_, now_ms});
  needs_truncation_ = false;
  leader_->maybe_increment_high_watermark();
  return {};
}

Result<void, log::LogErrc> Partition::make_follower(const Leadership& l) {
  if (leader_) high_watermark_ = leader_->high_watermark();
  leader_.reset();
  leadership_ = l;
  if (options_.legacy_truncate_to_high_watermark) {
    // Before KIP-101 (KAFKA-1211): cut to the local high watermark at once.
    needs_truncation_ = false;
    return truncate_to(high_watermark_);
  }
  needs_truncation_ = true;
  return {};
}

void Partition::isr_written(std::vector<BrokerId> isr, std::int32_t zk_version) {
  leadership_.isr = isr;
  leadership_.zk_version = zk_version;
  if (leader_) leader_->set_isr(std::move(isr));
}

ErrorCode Partition::validate(ByteView records, std::vector<protocol::BatchHeader>& headers) const {
  protocol::BatchReader reader(records, /*check_crc=*/true);
  while (auto b = reader.next()) {
    const auto& h = b->header;
    if (h.size_bytes() > static_cast<std::size_t>(options_.max_message_bytes))
      return ErrorCode::message_too_large;
    // LogValidator: clients never write control batches, and a batch's
    // records are numbered 0..count-1.
    if (h.is_control() || h.records_count <= 0 || h.last_offset_delta != h.records_count - 1)
      return ErrorCode::invalid_record;
    auto it = protocol::RecordIterator::open(b->bytes);
    if (!it) return ErrorCode::corrupt_message;
    std::int32_t expected_delta = 0;
    for (;;) {
      auto rec = it->next();
      if (!rec) return ErrorCode::corrupt_message;
      if (*rec == nullptr) break;
      if ((*rec)->offset_delta != expected_delta++) return ErrorCode::invalid_record;
    }
    if (expected_delta != h.records_count) return ErrorCode::corrupt_message;
    headers.push_back(h);
  }
  if (reader.stop_reason()) {
    return reader.stop_reason() == protocol::BatchErrc::bad_length &&
                   records.size() > static_cast<std::size_t>(options_.max_message_bytes)
               ? ErrorCode::message_too_large
               : ErrorCode::corrupt_message;
  }
  if (headers.empty()) return ErrorCode::invalid_record;
  return ErrorCode::none;
}

LeaderAppend Partition::append_as_leader(ByteView records, std::int16_t acks,
                                         std::int32_t min_insync_replicas, bool from_coordinator) {
  LeaderAppend out;
  out.log_start_offset = log_start_offset();
  if (!leader_) {
    out.error = ErrorCode::not_leader_or_follower;
    return out;
  }
  std::vector<protocol::BatchHeader> headers;
  if (out.error = validate(records, headers); out.error != ErrorCode::none) return out;
  if (acks == -1 && static_cast<std::int32_t>(leader_->isr().size()) < min_insync_replicas) {
    out.error = ErrorCode::not_enough_replicas;
    return out;
  }
  // The idempotence verdicts, batch by batch on a scratch copy (a request may
  // hold several batches of one producer).
  ProducerStateManager scratch = producers_;
  std::int64_t next = log_->log_end_offset();
  for (auto& h : headers) {
    h.base_offset = next;  // where the log will put it
    const std::int64_t last = next + h.last_offset_delta;
    if (auto pb = producer_batch(h); pb && from_coordinator) {
      pb->last_offset = Offset(last);
      pb->first_sequence = Sequence::none();  // recorded like a marker: epoch only
      scratch.update(*pb);
    } else if (pb) {
      const ProducerCheck c = scratch.check(*pb);
      if (c.duplicate_of) {
        out.duplicate = true;
        out.base_offset = *c.duplicate_of;
        out.last_offset = *c.duplicate_of + h.last_offset_delta;
        return out;
      }
      if (c.error != ErrorCode::none) {
        out.error = c.error;
        return out;
      }
      pb->last_offset = Offset(last);
      scratch.update(*pb);
    }
    next = last + 1;
  }
  // validate() checked the CRCs.
  auto info = log_->append_as_leader(records, leader_->epoch().value(), log::Log::Crc::verified);
  if (!info) {
    out.error = static_cast<ErrorCode>(log::kafka_error_code(info.error()));
    return out;
  }
  snapshot_at_roll(*info);
  producers_ = std::move(scratch);
  for (const auto& h : headers) txns_.on_batch(h, std::nullopt);
  out.base_offset = Offset(info->first_offset);
  out.last_offset = Offset(info->last_offset);
  leader_->on_append(log_end_offset());
  leader_->maybe_increment_high_watermark();
  return out;
}

bool Partition::record_follower_fetch(BrokerId follower, Offset fetch_offset, std::int64_t now_ms) {
  if (!leader_) return false;
  leader_->on_follower_fetch(follower, fetch_offset, now_ms);
  return leader_->maybe_increment_high_watermark();
}

bool Partition::maybe_increment_high_watermark() {
  return leader_ && leader_->maybe_increment_high_watermark();
}

Result<void, log::LogErrc> Partition::truncate_to(Offset offset) {
  if (offset >= log_end_offset()) return {};
  if (auto r = log_->truncate_to(offset.value()); !r) return r;
  high_watermark_ = std::min(high_watermark_, log_end_offset());
  // ProducerStateManager.truncateAndReload.
  if (auto r = rebuild_producer_state(*log_, producers_); !r) return r;
  return rebuild_transactions(*log_, txns_);
}

Result<void, log::LogErrc> Partition::truncate_fully_and_start_at(Offset offset) {
  if (auto r = log_->truncate_fully_and_start_at(offset.value()); !r) return r;
  high_watermark_ = offset;
  producers_.clear();
  txns_.clear();
  return {};
}

Result<log::AppendInfo, log::LogErrc> Partition::append_as_follower(ByteView records) {
  auto info = log_->append_as_follower(records);
  if (!info) return info;
  snapshot_at_roll(*info);
  protocol::BatchReader reader(records, /*check_crc=*/false);
  while (auto b = reader.next()) {
    if (auto pb = producer_batch(*b)) producers_.update(*pb);
    auto done = txns_.on_batch(b->header, control_marker(*b));
    if (done && done->aborted)
      if (auto r = log_->append_aborted_txn(to_log(done->aborted_txn())); !r) return Err{r.error()};
  }
  return info;
}

void Partition::update_follower_high_watermark(Offset leader_high_watermark) {
  // Kafka 2.8 ReplicaFetcherThread.processPartitionData calls
  // Log.updateHighWatermark(partitionData.highWatermark) on every response:
  // the leader's high watermark clamped to [log start, log end], taken even
  // when lower than ours (Log.updateHighWatermarkMetadata only warns of a
  // "Non-monotonic update"). So a follower's high watermark goes back when a
  // new leader's lags the old leader's (the new leader learned it a fetch
  // late); only the leader's never goes back within its epoch.
  high_watermark_ = std::clamp(leader_high_watermark, log_start_offset(), log_end_offset());
}

PartitionRead Partition::read(Offset fetch_offset, std::uint64_t max_bytes, bool up_to_log_end,
                              bool min_one, bool read_committed) {
  PartitionRead out;
  out.high_watermark = high_watermark();
  out.last_stable_offset = last_stable_offset();
  out.log_start_offset = log_start_offset();
  out.log_end_offset = log_end_offset();
  if (fetch_offset < out.log_start_offset || fetch_offset > out.log_end_offset) {
    out.error = ErrorCode::offset_out_of_range;
    return out;
  }
  const Offset max_offset = up_to_log_end    ? out.log_end_offset
                            : read_committed ? out.last_stable_offset
                                             : out.high_watermark;
  if (fetch_offset >= max_offset) return out;
  auto r = log_->read(fetch_offset.value(), max_bytes, max_offset.value(), min_one);
  if (!r) {
    out.error = static_cast<ErrorCode>(log::kafka_error_code(r.error()));
    return out;
  }
  out.records = std::move(r->records);
  if (read_committed) {
    // collectAbortedTransactions(fetchOffset, upperBoundOffset): up to the
    // offset after the last batch read.
    Offset upper = fetch_offset;
    protocol::BatchReader reader(out.records, /*check_crc=*/false);
    while (auto b = reader.next()) upper = Offset(b->header.next_offset());
    for (const auto& a : log_->collect_aborted_txns(fetch_offset.value(), upper.value()))
      out.aborted.push_back({protocol::ProducerId(a.producer_id), Offset(a.first_offset), Offset(a.last_offset),
                             Offset(a.last_stable_offset)});
  }
  return out;
}

LeaderAppend Partition::append_marker_as_leader(protocol::ProducerId id, protocol::ProducerEpoch epoch,
                                                protocol::ControlRecord marker, std::int16_t acks,
                                                std::int32_t min_insync_replicas) {
  LeaderAppend out;
  out.log_start_offset = log_start_offset();
  if (!leader_) {
    out.error = ErrorCode::not_leader_or_follower;
    return out;
  }
  if (acks == -1 && static_cast<std::int32_t>(leader_->isr().size()) < min_insync_replicas) {
    out.error = ErrorCode::not_enough_replicas;
    return out;
  }
  if (out.error = producers_.check_marker(id, epoch, marker.coordinator_epoch); out.error != ErrorCode::none)
    return out;
  protocol::BatchOptions o;
  o.base_offset = log_->log_end_offset();
  o.partition_leader_epoch = leader_->epoch().value();
  o.producer_id = id.value();
  o.producer_epoch = epoch.value();
  const Bytes batch = protocol::build_control_batch(o, rt_.wall_ms(), marker);
  auto info = log_->append_as_leader(batch, leader_->epoch().value());
  if (!info) {
    out.error = static_cast<ErrorCode>(log::kafka_error_code(info.error()));
    return out;
  }
  snapshot_at_roll(*info);
  protocol::BatchReader reader(batch, /*check_crc=*/false);
  auto stored = reader.next();
  SAMSA_ASSERT(stored.has_value(), "the control batch we built reads back");
  protocol::BatchHeader h = stored->header;
  h.base_offset = info->first_offset;
  if (auto pb = producer_batch(h)) {
    pb->coordinator_epoch = marker.coordinator_epoch;
    producers_.update(*pb);
  }
  // Log.appendAsLeader -> LogSegment.updateTxnIndex: an abort is indexed
  // with the marker. A failed index write is the log's failure (offline).
  if (auto done = txns_.on_batch(h, marker); done && done->aborted) {
    if (auto r = log_->append_aborted_txn(to_log(done->aborted_txn())); !r) {
      out.error = static_cast<ErrorCode>(log::kafka_error_code(r.error()));
      return out;
    }
  }
  out.base_offset = Offset(info->first_offset);
  out.last_offset = Offset(info->last_offset);
  leader_->on_append(log_end_offset());
  leader_->maybe_increment_high_watermark();
  return out;
}

Result<void, log::LogErrc> Partition::checkpoint_high_watermark() {
  return log_->checkpoint_high_watermark(high_watermark().value());
}

Result<void, log::LogErrc> Partition::save_producer_snapshot() {
  return log_->save_producer_snapshot(producers_.snapshot(), log_end_offset().value());
}

// UnifiedLog.roll: the state before an append's batches is the state at
// the new segment's base, so recovery can start from a segment's first
// offset with it and replay only that segment. (Kafka writes this file
// without an fsync under the log's lock and fsyncs it with the segment
// flush later; samsa writes it durably, since segments roll rarely.) A
// storage error takes the log offline, as on any log write; a full disk
// only leaves the next recovery a longer replay.
void Partition::snapshot_at_roll(const log::AppendInfo& info) {
  if (info.rolled_to) (void)log_->save_producer_snapshot(producers_.snapshot(), *info.rolled_to);
}

}  // namespace samsa::broker
