#include "system/broker/producer_state.h"

#include <algorithm>
#include <limits>

#include "system/log/log.h"

namespace samsa::broker {
namespace {

constexpr std::int64_t k_seq_max = std::numeric_limits<std::int32_t>::max();

// ProducerStateEntry's inSequence: the next sequence, wrapping after INT32_MAX.
bool in_sequence(std::int32_t last, std::int32_t next) {
  return static_cast<std::int64_t>(next) == static_cast<std::int64_t>(last) + 1 ||
         (next == 0 && last == k_seq_max);
}

// Records between the first and last sequence of a batch (they wrap alike).
std::int64_t sequence_span(std::int32_t first, std::int32_t last) {
  if (last >= first) return static_cast<std::int64_t>(last) - first;
  return (k_seq_max - first) + last + 1;
}

}  // namespace

std::optional<ProducerBatch> producer_batch(const protocol::BatchHeader& h) {
  if (h.producer_id == protocol::k_no_producer_id) return std::nullopt;
  ProducerBatch b;
  b.producer_id = ProducerId(h.producer_id);
  b.epoch = ProducerEpoch(h.producer_epoch);
  b.first_sequence = Sequence(h.base_sequence);
  b.last_sequence = Sequence(h.last_sequence());
  b.last_offset = Offset(h.last_offset());
  b.timestamp_ms = h.max_timestamp;
  return b;
}

std::optional<ProducerBatch> producer_batch(const protocol::BatchView& b) {
  auto pb = producer_batch(b.header);
  if (!pb || !b.header.is_control()) return pb;
  auto it = protocol::RecordIterator::open(b.bytes);
  if (!it) return pb;
  auto rec = it->next();
  if (!rec || *rec == nullptr) return pb;
  if (auto marker = protocol::read_control_record(**rec)) pb->coordinator_epoch = marker->coordinator_epoch;
  return pb;
}

ErrorCode ProducerStateManager::check_marker(ProducerId id, ProducerEpoch epoch,
                                             std::int32_t coordinator_epoch) const {
  const log::ProducerEntry* e = entry(id);
  if (e == nullptr) return ErrorCode::none;
  if (epoch.value() < e->epoch) return ErrorCode::invalid_producer_epoch;
  if (coordinator_epoch < e->coordinator_epoch) return ErrorCode::transaction_coordinator_fenced;
  return ErrorCode::none;
}

ProducerStateManager::ProducerStateManager(std::size_t batches_retained)
    : retained_(batches_retained) {
  SAMSA_ASSERT(retained_ >= 1);
}

Offset ProducerStateManager::first_offset(const log::ProducerBatchMeta& m) {
  return Offset(m.last_offset - sequence_span(m.first_sequence, m.last_sequence));
}

const log::ProducerEntry* ProducerStateManager::entry(ProducerId id) const {
  auto it = state_.find(id.value());
  return it == state_.end() ? nullptr : &it->second;
}

ProducerCheck ProducerStateManager::check(const ProducerBatch& b) const {
  const std::int32_t first = b.first_sequence.value();
  const log::ProducerEntry* e = entry(b.producer_id);
  if (e == nullptr || e->epoch == ProducerEpoch::none().value()) {
    // A producer this partition has no record of: only its first batch is
    // acceptable (Kafka 2.0: its data may have been removed by retention).
    if (first != 0) return {ErrorCode::unknown_producer_id, std::nullopt};
    return {};
  }
  if (b.epoch.value() == e->epoch) {
    for (const auto& m : e->recent) {
      if (m.first_sequence == first && m.last_sequence == b.last_sequence.value())
        return {ErrorCode::none, first_offset(m)};
    }
  }
  if (b.epoch.value() < e->epoch) return {ErrorCode::invalid_producer_epoch, std::nullopt};
  if (b.epoch.value() > e->epoch) {
    if (first != 0) return {ErrorCode::out_of_order_sequence_number, std::nullopt};
    return {};
  }
  const std::int32_t last = e->recent.empty() ? Sequence::none().value()
                                              : e->recent.back().last_sequence;
  if (!in_sequence(last, first)) return {ErrorCode::out_of_order_sequence_number, std::nullopt};
  return {};
}

void ProducerStateManager::update(const ProducerBatch& b) {
  auto [it, fresh] = state_.try_emplace(b.producer_id.value());
  log::ProducerEntry& e = it->second;
  if (fresh || e.epoch != b.epoch.value()) {
    e.epoch = b.epoch.value();
    e.recent.clear();
  }
  // A transaction marker (a control batch: no sequence) moves only the
  // epoch (ProducerAppendInfo.appendEndTxnMarker, maybeUpdateProducerEpoch).
  if (b.first_sequence.is_none()) {
    e.last_timestamp_ms = std::max(e.last_timestamp_ms, b.timestamp_ms);
    if (b.coordinator_epoch >= 0) e.coordinator_epoch = b.coordinator_epoch;
    return;
  }
  e.recent.push_back({b.first_sequence.value(), b.last_sequence.value(), b.last_offset.value()});
  while (e.recent.size() > retained_) e.recent.erase(e.recent.begin());
  e.last_timestamp_ms = std::max(e.last_timestamp_ms, b.timestamp_ms);
}

void ProducerStateManager::load(log::ProducerSnapshot s) {
  for (auto& [id, e] : s) {
    while (e.recent.size() > retained_) e.recent.erase(e.recent.begin());
  }
  state_ = std::move(s);
}

Result<void, log::LogErrc> rebuild_producer_state(log::Log& log, ProducerStateManager& m) {
  m.clear();
  auto snap = log.load_producer_snapshot();
  if (!snap) return Err{snap.error()};
  std::int64_t from = log.log_start_offset();
  if (snap.value()) {
    from = std::max(from, snap.value()->first);
    m.load(std::move(snap.value()->second));
  }
  constexpr std::uint64_t k_chunk_bytes = 1 << 20;
  std::int64_t offset = from;
  while (offset < log.log_end_offset()) {
    auto read = log.read(offset, k_chunk_bytes);
    if (!read) return Err{read.error()};
    protocol::BatchReader reader(read->records, /*check_crc=*/false);
    const std::int64_t before = offset;
    while (auto batch = reader.next()) {
      const auto& h = batch->header;
      if (h.base_offset < from || h.last_offset() < offset) continue;
      if (auto pb = producer_batch(*batch)) m.update(*pb);
      offset = h.next_offset();
    }
    if (offset == before) break;  // nothing readable there: keep what we have
  }
  // UnifiedLog.rebuildProducerState ends with takeSnapshot: the next load
  // (or truncation) starts here instead of replaying the same batches. The
  // state is rebuilt either way: a write that fails (a full disk) costs the
  // next load a longer replay; a storage error takes the log offline, as
  // every failed log write does.
  if (from < log.log_end_offset()) (void)log.save_producer_snapshot(m.snapshot(), log.log_end_offset());
  return {};
}

}  // namespace samsa::broker
