#include "system/log/log.h"

#include <algorithm>

#include "system/log/names.h"

namespace samsa::log {

namespace {

constexpr std::int64_t k_int32_max = std::numeric_limits<std::int32_t>::max();

std::string base_name(const std::string& dir) {
  const auto slash = dir.rfind('/');
  return slash == std::string::npos ? dir : dir.substr(slash + 1);
}

}  // namespace

template <class T>
Result<T, LogErrc> Log::guard(Result<T, LogErrc> r) {
  if (!r && r.error() == LogErrc::storage_error) offline_ = true;
  return r;
}

Log::Log(sim::Runtime& rt, std::string dir, LogConfig config)
    : rt_(rt), disk_(rt.disk()), dir_(std::move(dir)), config_(config) {
  SAMSA_ASSERT(config_.segment_bytes > 0 && config_.segment_bytes <= k_int32_max,
               "segment.bytes must fit an int32 position");
}

Result<std::unique_ptr<Log>, LogErrc> Log::open(sim::Runtime& rt, std::string dir,
                                                LogConfig config) {
  std::unique_ptr<Log> log(new Log(rt, std::move(dir), config));
  if (!log->disk_.is_directory(log->dir_)) {
    if (auto r = log->disk_.mkdirs(log->dir_); !r) return Err{from_disk(r.error())};
  }
  if (auto r = log->load(); !r) return Err{r.error()};
  return log;
}

// --- opening and recovery ------------------------------------------------------------

Result<void, LogErrc> Log::load() {
  auto names = disk_.list(dir_);
  if (!names) return Err{from_disk(names.error())};
  std::vector<std::int64_t> bases;
  for (const auto& n : *names)
    if (auto base = parse_offset_file_name(n, k_log_suffix)) bases.push_back(*base);
  std::sort(bases.begin(), bases.end());
  if (auto r = remove_strays(*names, bases); !r) return r;

  // A missing or unreadable recovery point only costs a longer scan.
  recovery_point_ = 0;
  if (auto text = read_text_file(disk_, join_path(dir_, k_recovery_point_file)))
    if (auto cp = decode_offset_checkpoint(*text); cp && !cp->empty())
      recovery_point_ = cp->begin()->second;

  bool rebuild_epochs = false;
  auto epoch_text = read_text_file(disk_, join_path(dir_, k_leader_epoch_file));
  if (epoch_text) {
    auto cache = LeaderEpochCache::decode(*epoch_text);
    rebuild_epochs = !cache;
    if (cache) epochs_ = std::move(*cache);
  } else if (epoch_text.error() != LogErrc::not_found) {
    return Err{epoch_text.error()};
  }

  if (auto r = load_segments(bases); !r) return r;
  if (rebuild_epochs)
    if (auto r = rebuild_leader_epochs(); !r) return r;
  if (segments_.empty()) {
    auto seg = Segment::create(disk_, dir_, std::max<std::int64_t>(0, recovery_point_), config_);
    if (!seg) return Err{seg.error()};
    segments_.emplace((*seg)->base_offset(), std::move(*seg));
  }
  // Everything recovered is made durable, so the recovery point can move
  // to the log end: trusted segments next time are sealed and fsynced.
  for (auto& [base, seg] : segments_) {
    if (base < recovery_point_ && seg->next_offset() <= recovery_point_) continue;
    auto r = seg.get() == &active() ? seg->fsync() : seg->seal();
    if (!r) return r;
  }
  recovery_point_ = log_end_offset();
  if (auto r = write_recovery_point(recovery_point_); !r) return r;
  bool epochs_changed = epochs_.truncate_from_end(log_end_offset());
  epochs_changed |= epochs_.truncate_from_start(log_start_offset());
  if (epochs_changed)
    if (auto r = write_epochs(epochs_); !r) return r;
  if (auto r = delete_snapshots_above(log_end_offset()); !r) return r;
  last_flush_ms_ = rt_.wall_ms();
  return {};
}

// A leader-epoch checkpoint that does not parse (a latent sector error) is
// rebuilt from the epochs stamped in the batch headers.
Result<void, LogErrc> Log::rebuild_leader_epochs() {
  LeaderEpochCache epochs;
  for (auto& [base, seg] : segments_) {
    auto r = seg->for_each_header(
        [&](const BatchHeader& h) { epochs.assign(h.partition_leader_epoch, h.base_offset); });
    if (!r) return r;
  }
  epochs_ = std::move(epochs);
  return write_epochs(epochs_);
}

Result<void, LogErrc> Log::remove_strays(const std::vector<std::string>& names,
                                         const std::vector<std::int64_t>& bases) {
  for (const auto& n : names) {
    std::optional<std::int64_t> base = parse_offset_file_name(n, k_index_suffix);
    if (!base) base = parse_offset_file_name(n, k_time_index_suffix);
    if (!base) base = parse_offset_file_name(n, k_txn_index_suffix);
    const bool orphan_index = base && !std::binary_search(bases.begin(), bases.end(), *base);
    if (orphan_index || n.ends_with(".tmp")) {
      if (auto r = disk_.remove(join_path(dir_, n)); !r) return Err{from_disk(r.error())};
    }
  }
  return {};
}

Result<void, LogErrc> Log::load_segments(const std::vector<std::int64_t>& bases) {
  for (std::size_t i = 0; i < bases.size(); ++i) {
    auto seg = Segment::open(disk_, dir_, bases[i], config_);
    if (!seg) return Err{seg.error()};
    const bool trusted = i + 1 < bases.size() && bases[i + 1] <= recovery_point_;
    const std::uint64_t truncated_before = recovery_stats_.bytes_truncated;
    auto r = trusted ? (*seg)->load(bases[i + 1], recovery_stats_) : (*seg)->recover(recovery_stats_);
    if (!r) return r;
    const bool gap = !segments_.empty() && bases[i] != active().next_offset();
    if (gap) {
      // Offsets must run on: this segment and all later ones are not part of
      // the log (a crash between a truncation's deletions, or garbage).
      return delete_segments_from(bases[i]);
    }
    segments_.emplace(bases[i], std::move(*seg));
    if (recovery_stats_.bytes_truncated != truncated_before && i + 1 < bases.size())
      return delete_segments_from(bases[i + 1]);  // nothing after a cut survives
  }
  return {};
}

// Deletes the files of every segment at or above base_offset, highest
// first, so a crash in between leaves a contiguous prefix.
Result<void, LogErrc> Log::delete_segments_from(std::int64_t base_offset) {
  auto names = disk_.list(dir_);
  if (!names) return Err{from_disk(names.error())};
  std::vector<std::int64_t> doomed;
  for (const auto& n : *names)
    if (auto base = parse_offset_file_name(n, k_log_suffix); base && *base >= base_offset)
      doomed.push_back(*base);
  std::sort(doomed.rbegin(), doomed.rend());
  for (const std::int64_t base : doomed) {
    segments_.erase(base);
    for (auto suffix : {k_log_suffix, k_index_suffix, k_time_index_suffix, k_txn_index_suffix}) {
      auto r = disk_.remove(join_path(dir_, offset_file_name(base, suffix)));
      if (!r && r.error() != sim::DiskErrc::not_found) return Err{from_disk(r.error())};
    }
    ++recovery_stats_.segments_deleted;
  }
  return {};
}

Result<void, LogErrc> Log::write_recovery_point(std::int64_t offset) {
  const auto tp = parse_partition_dir(base_name(dir_)).value_or(std::pair{base_name(dir_), 0});
  const std::string text = encode_offset_checkpoint({{tp, offset}});
  return guard(write_text_file(disk_, join_path(dir_, k_recovery_point_file), text));
}

Result<void, LogErrc> Log::write_epochs(const LeaderEpochCache& epochs) {
  return guard(write_text_file(disk_, join_path(dir_, k_leader_epoch_file), epochs.encode()));
}

// --- appends ------------------------------------------------------------------------------

Result<std::vector<BatchHeader>, LogErrc> Log::check_records(ByteView records, Crc crc) const {
  if (offline_) return Err{LogErrc::offline};
  std::vector<BatchHeader> headers;
  std::uint64_t total = 0;
  protocol::BatchReader reader(records, /*check_crc=*/crc == Crc::check);
  while (auto b = reader.next()) {
    const BatchHeader& h = b->header;
    if (h.last_offset_delta < 0 || h.records_count < 0) return Err{LogErrc::corrupt_message};
    if (static_cast<std::int64_t>(h.size_bytes()) > config_.max_message_bytes)
      return Err{LogErrc::record_too_large};
    total += h.size_bytes();
    headers.push_back(h);
  }
  if (!reader.at_clean_end() || headers.empty()) return Err{LogErrc::corrupt_message};
  if (static_cast<std::int64_t>(total) > config_.segment_bytes) return Err{LogErrc::record_too_large};
  return headers;
}

Result<AppendInfo, LogErrc> Log::append_as_leader(ByteView records, std::int32_t leader_epoch, Crc crc) {
  auto headers = check_records(records, crc);
  if (!headers) return Err{headers.error()};
  Bytes copy(records.begin(), records.end());
  std::int64_t next = log_end_offset();
  std::size_t position = 0;
  for (auto& h : *headers) {
    const std::span<std::uint8_t> batch(copy.data() + position, h.size_bytes());
    protocol::set_base_offset(batch, next);
    protocol::set_partition_leader_epoch(batch, leader_epoch);
    h.base_offset = next;
    h.partition_leader_epoch = leader_epoch;
    next = h.next_offset();
    position += h.size_bytes();
  }
  LeaderEpochCache epochs = epochs_;
  if (epochs.assign(leader_epoch, log_end_offset())) {
    if (auto r = write_epochs(epochs); !r) return Err{r.error()};
    epochs_ = std::move(epochs);
  }
  return append(std::move(copy), std::move(*headers));
}

Result<AppendInfo, LogErrc> Log::append_as_follower(ByteView records) {
  auto headers = check_records(records, Crc::check);
  if (!headers) return Err{headers.error()};
  std::int64_t next = log_end_offset();
  LeaderEpochCache epochs = epochs_;
  bool epochs_changed = false;
  for (const auto& h : *headers) {
    if (h.base_offset != next) return Err{LogErrc::invalid_offset};
    next = h.next_offset();
    epochs_changed |= epochs.assign(h.partition_leader_epoch, h.base_offset);
  }
  if (epochs_changed) {
    if (auto r = write_epochs(epochs); !r) return Err{r.error()};
    epochs_ = std::move(epochs);
  }
  return append(Bytes(records.begin(), records.end()), std::move(*headers));
}

Result<AppendInfo, LogErrc> Log::append(Bytes records, std::vector<BatchHeader> headers) {
  const std::int64_t active_base = active().base_offset();
  if (auto r = maybe_roll(headers, records.size()); !r) return Err{r.error()};
  if (auto r = guard(active().append(records, headers)); !r) return Err{r.error()};
  AppendInfo info{headers.front().base_offset, headers.back().last_offset(), -1, headers.size(), std::nullopt};
  if (active().base_offset() != active_base) info.rolled_to = active().base_offset();
  for (const auto& h : headers) info.max_timestamp = std::max(info.max_timestamp, h.max_timestamp);
  if (auto r = after_append(info); !r) return Err{r.error()};
  return info;
}

Result<void, LogErrc> Log::after_append(const AppendInfo& info) {
  unflushed_messages_ += info.last_offset - info.first_offset + 1;
  if (unflushed_messages_ >= config_.flush_messages) return flush();
  return maybe_flush();
}

// Kafka's roll rules: the segment would outgrow segment.bytes, it is older
// than segment.ms (by record timestamps), an index is full, or a relative
// offset would not fit an int32.
Result<void, LogErrc> Log::maybe_roll(const std::vector<BatchHeader>& headers, std::uint64_t bytes) {
  const Segment& seg = active();
  if (seg.empty()) return {};
  std::int64_t max_ts = -1;
  for (const auto& h : headers) max_ts = std::max(max_ts, h.max_timestamp);
  const auto rolling = seg.rolling_timestamp();
  const bool roll_now =
      static_cast<std::int64_t>(seg.size_bytes() + bytes) > config_.segment_bytes ||
      (rolling && max_ts - *rolling > config_.segment_ms) || seg.index_full() ||
      headers.back().last_offset() - seg.base_offset() > k_int32_max ||
      rt_.buggify("log.roll_early");
  if (!roll_now) return {};
  return roll();
}

Result<void, LogErrc> Log::roll() {
  if (offline_) return Err{LogErrc::offline};
  if (active().empty()) return {};
  if (auto r = guard(active().seal()); !r) return r;
  const std::int64_t next = log_end_offset();
  auto seg = Segment::create(disk_, dir_, next, config_);
  if (!seg) return Err{seg.error()};
  segments_.emplace(next, std::move(*seg));
  // The sealed segment is durable: recovery may trust it from now on.
  recovery_point_ = next;
  unflushed_messages_ = 0;
  last_flush_ms_ = rt_.wall_ms();
  return write_recovery_point(next);
}

// --- flushing ---------------------------------------------------------------------------

// Only the active segment can hold unflushed data (a roll seals the
// previous one). The checkpoint file is written at roll, truncation and
// open, not here: recovery always scans the active segment, so a lagging
// checkpoint costs scan time only (Kafka checkpoints it periodically).
Result<void, LogErrc> Log::flush() {
  if (offline_) return Err{LogErrc::offline};
  // Durable is what was written before the fsync began: an append made while
  // it parks waits for a later one (UnifiedLog.flush(logEndOffset) takes the
  // offset first). A truncation meanwhile may have cut below it.
  const std::int64_t end = log_end_offset();
  const auto pending = unflushed_messages_;
  if (auto r = guard(active().fsync()); !r) return r;
  recovery_point_ = std::max(recovery_point_, std::min(end, log_end_offset()));
  unflushed_messages_ = unflushed_messages_ > pending ? unflushed_messages_ - pending : 0;
  last_flush_ms_ = rt_.wall_ms();
  return {};
}

Result<void, LogErrc> Log::maybe_flush() {
  if (unflushed_messages_ == 0) return {};
  if (rt_.wall_ms() - last_flush_ms_ < config_.flush_ms) return {};
  return flush();
}

// --- reads ------------------------------------------------------------------------------

Result<ReadInfo, LogErrc> Log::read(std::int64_t offset, std::uint64_t max_bytes,
                                    std::int64_t max_offset, bool min_one) {
  if (offline_) return Err{LogErrc::offline};
  if (offset < log_start_offset() || offset > log_end_offset())
    return Err{LogErrc::offset_out_of_range};
  ReadInfo out{{}, log_start_offset(), log_end_offset()};
  if (offset == log_end_offset() || offset >= max_offset) return out;
  auto it = std::prev(segments_.upper_bound(offset));
  Segment& seg = *it->second;
  auto position = guard(seg.find_position(offset));
  if (!position) return Err{position.error()};
  // Below the log end every offset lies in its segment, unless a header on
  // disk is corrupt (bad bytes from the disk are an error, not a bug).
  if (!position->has_value()) return Err{LogErrc::corrupt_storage};
  // At least a header, so that the first batch's size is known.
  const std::uint64_t want = std::max<std::uint64_t>(max_bytes, protocol::k_batch_header_bytes);
  auto chunk = guard(seg.map(**position, want));
  if (!chunk) return Err{chunk.error()};
  protocol::BatchReader reader(chunk->view(), config_.verify_crc_on_read);
  std::size_t taken = 0;
  std::int64_t taken_next_offset = 0;
  while (auto b = reader.next()) {
    if (b->header.last_offset() >= max_offset || b->position + b->bytes.size() > max_bytes) break;
    taken = b->position + b->bytes.size();
    taken_next_offset = b->header.next_offset();
    if (rt_.buggify("log.short_read")) break;  // fewer batches than fit: legal
  }
  const auto why = reader.stop_reason();
  if (taken == 0 && why && *why != protocol::BatchErrc::truncated)
    return Err{LogErrc::corrupt_storage};
  if (taken == 0 && min_one) return read_first_batch(seg, **position, max_offset, std::move(out));
  if (taken != 0) seg.note_boundary(**position + taken, taken_next_offset);  // the reader's next read starts there
  out.records = chunk->prefix(taken);
  return out;
}

// KIP-74: the first batch whole even when it is larger than max_bytes, so a
// consumer always makes progress.
Result<ReadInfo, LogErrc> Log::read_first_batch(Segment& seg, std::uint64_t position,
                                                std::int64_t max_offset, ReadInfo out) {
  auto head = guard(seg.read(position, protocol::k_batch_header_bytes));
  if (!head) return Err{head.error()};
  auto h = protocol::read_batch_header(*head);
  if (!h) return Err{LogErrc::corrupt_storage};
  if (h->last_offset() >= max_offset) return out;
  auto batch = guard(seg.map(position, h->size_bytes()));
  if (!batch) return Err{batch.error()};
  if (batch->size() != h->size_bytes() ||
      (config_.verify_crc_on_read && !protocol::batch_crc_ok(batch->view())))
    return Err{LogErrc::corrupt_storage};
  seg.note_boundary(position + h->size_bytes(), h->next_offset());
  out.records = std::move(*batch);
  return out;
}

Result<std::optional<TimestampOffset>, LogErrc> Log::offset_for_timestamp(std::int64_t target_ms) {
  if (offline_) return Err{LogErrc::offline};
  for (auto& [base, seg] : segments_) {
    if (seg->max_timestamp() < target_ms) continue;
    auto h = guard(seg->find_timestamp(target_ms));
    if (!h) return Err{h.error()};
    if (*h) {
      const TimestampOffset found{std::max((*h)->base_offset, log_start_offset()), (*h)->max_timestamp};
      return std::optional<TimestampOffset>{found};
    }
  }
  return std::optional<TimestampOffset>{};
}

// --- truncation and retention -------------------------------------------------------------

Result<void, LogErrc> Log::truncate_to(std::int64_t offset) {
  if (offline_) return Err{LogErrc::offline};
  if (offset < 0) return Err{LogErrc::offset_out_of_range};
  if (offset >= log_end_offset()) return {};
  if (offset <= log_start_offset()) return truncate_fully_and_start_at(offset);
  // Lower the checkpoint first: a crash half way then rescans.
  recovery_point_ = std::min(recovery_point_, offset);
  if (auto r = write_recovery_point(recovery_point_); !r) return r;
  if (auto r = guard(delete_segments_from(offset + 1)); !r) return r;
  if (auto r = guard(active().truncate_to(offset)); !r) return Err{r.error()};
  recovery_point_ = std::min(recovery_point_, log_end_offset());
  unflushed_messages_ = 0;
  if (epochs_.truncate_from_end(log_end_offset()))
    if (auto r = write_epochs(epochs_); !r) return r;
  return delete_snapshots_above(log_end_offset());
}

Result<void, LogErrc> Log::truncate_fully_and_start_at(std::int64_t offset) {
  if (offline_) return Err{LogErrc::offline};
  if (offset < 0) return Err{LogErrc::offset_out_of_range};
  recovery_point_ = offset;
  if (auto r = write_recovery_point(offset); !r) return r;
  if (auto r = guard(delete_segments_from(0)); !r) return r;
  auto seg = Segment::create(disk_, dir_, offset, config_);
  if (!seg) return guard(Result<void, LogErrc>(Err{seg.error()}));
  segments_.emplace(offset, std::move(*seg));
  unflushed_messages_ = 0;
  epochs_ = LeaderEpochCache{};
  if (auto r = write_epochs(epochs_); !r) return r;
  return delete_snapshots_above(-1);
}

Result<std::size_t, LogErrc> Log::delete_old_segments(std::int64_t now_ms,
                                                      std::int64_t upper_bound_offset) {
  if (offline_) return Err{LogErrc::offline};
  std::size_t deleted = 0;
  while (segments_.size() > 1) {
    const Segment& oldest = *segments_.begin()->second;
    if (std::next(segments_.begin())->first > upper_bound_offset) break;
    const bool over_size = config_.retention_bytes >= 0 &&
                           size_bytes() - oldest.size_bytes() >=
                               static_cast<std::uint64_t>(config_.retention_bytes);
    const bool too_old = config_.retention_ms >= 0 && oldest.max_timestamp() >= 0 &&
                         now_ms - oldest.max_timestamp() > config_.retention_ms;
    if (!over_size && !too_old) break;
    if (auto r = guard(segments_.begin()->second->remove_files()); !r) return Err{r.error()};
    segments_.erase(segments_.begin());
    ++deleted;
  }
  if (deleted == 0) return deleted;
  if (epochs_.truncate_from_start(log_start_offset()))
    if (auto r = write_epochs(epochs_); !r) return Err{r.error()};
  if (auto r = delete_snapshots_below(log_start_offset()); !r) return Err{r.error()};
  return deleted;
}

std::uint64_t Log::size_bytes() const {
  std::uint64_t total = 0;
  for (const auto& [base, seg] : segments_) total += seg->size_bytes();
  return total;
}

std::vector<std::int64_t> Log::segment_base_offsets() const {
  std::vector<std::int64_t> out;
  for (const auto& [base, seg] : segments_) out.push_back(base);
  return out;
}

// --- the aborted-transaction index -----------------------------------------------------

Result<void, LogErrc> Log::append_aborted_txn(const AbortedTxn& t) {
  if (offline_) return Err{LogErrc::offline};
  // The marker is in the log already: an index that misses it would show
  // its records to read_committed, so any failure takes the log offline
  // (Kafka's IOException in an append offlines the log dir).
  auto r = active().append_aborted_txn(t);
  if (!r) offline_ = true;
  return r;
}

std::vector<AbortedTxn> Log::collect_aborted_txns(std::int64_t fetch_offset,
                                                  std::int64_t upper_bound_offset) const {
  std::vector<AbortedTxn> out;
  auto it = segments_.upper_bound(fetch_offset);
  if (it != segments_.begin()) it = std::prev(it);
  for (; it != segments_.end(); ++it)
    if (collect_aborted_txns_in(it->second->aborted_txns(), fetch_offset, upper_bound_offset, out)) break;
  return out;
}

Result<void, LogErrc> Log::recover_txn_index(const std::vector<AbortedTxn>& replayed) {
  if (offline_) return Err{LogErrc::offline};
  auto next = replayed.begin();
  for (auto& [base, seg] : segments_) {
    while (next != replayed.end() && next->last_offset < base) ++next;
    auto end = next;
    while (end != replayed.end() && end->last_offset < seg->next_offset()) ++end;
    std::vector<AbortedTxn> mine(next, end);
    next = end;
    const bool lost = !seg->has_txn_file() && !mine.empty();
    if (!seg->txn_index_needs_rebuild() && !lost) continue;
    auto changed = guard(seg->rebuild_txn_index(std::move(mine)));
    if (!changed) return Err{changed.error()};
    if (*changed) ++recovery_stats_.txn_indexes_rebuilt;
  }
  return {};
}

// --- side files ------------------------------------------------------------------------------

Result<void, LogErrc> Log::assign_leader_epoch(std::int32_t epoch) {
  if (offline_) return Err{LogErrc::offline};
  LeaderEpochCache epochs = epochs_;
  if (!epochs.assign(epoch, log_end_offset())) return {};
  if (auto r = write_epochs(epochs); !r) return r;
  epochs_ = std::move(epochs);
  return {};
}

Result<void, LogErrc> Log::checkpoint_high_watermark(std::int64_t high_watermark) {
  if (offline_) return Err{LogErrc::offline};
  const auto tp = parse_partition_dir(base_name(dir_)).value_or(std::pair{base_name(dir_), 0});
  if (checkpointed_high_watermark_ == high_watermark) return {};
  const std::string text = encode_offset_checkpoint({{tp, high_watermark}});
  auto r = guard(write_text_file(disk_, join_path(dir_, k_high_watermark_file), text));
  if (r) checkpointed_high_watermark_ = high_watermark;
  return r;
}

Result<std::int64_t, LogErrc> Log::read_high_watermark() {
  auto text = read_text_file(disk_, join_path(dir_, k_high_watermark_file));
  if (!text) {
    if (text.error() == LogErrc::not_found) return std::int64_t{0};
    return Err{text.error()};
  }
  auto cp = decode_offset_checkpoint(*text);
  if (!cp || cp->size() != 1) return Err{LogErrc::corrupt_checkpoint};
  return std::min(cp->begin()->second, log_end_offset());
}

Result<std::vector<std::int64_t>, LogErrc> Log::snapshot_offsets() {
  auto names = disk_.list(dir_);
  if (!names) return Err{from_disk(names.error())};
  std::vector<std::int64_t> out;
  for (const auto& n : *names)
    if (auto o = parse_offset_file_name(n, k_snapshot_suffix)) out.push_back(*o);
  std::sort(out.begin(), out.end());
  return out;
}

Result<void, LogErrc> Log::save_producer_snapshot(const ProducerSnapshot& snapshot, std::int64_t offset) {
  if (offline_) return Err{LogErrc::offline};
  SAMSA_ASSERT(offset <= log_end_offset(), "a producer snapshot describes the log up to its offset");
  const std::string path = join_path(dir_, offset_file_name(offset, k_snapshot_suffix));
  std::string text = encode_producer_snapshot(snapshot);
  if (saved_snapshot_ && saved_snapshot_->first == offset && saved_snapshot_->second == text) return {};
  saved_snapshot_.reset();
  if (auto r = write_text_file(disk_, path, text); !r) return guard(r);
  saved_snapshot_.emplace(offset, std::move(text));
  auto offsets = snapshot_offsets();
  if (!offsets) return Err{offsets.error()};
  while (offsets->size() > std::max<std::size_t>(1, config_.producer_snapshots_kept)) {
    const std::string old = join_path(dir_, offset_file_name(offsets->front(), k_snapshot_suffix));
    if (auto r = disk_.remove(old); !r) return Err{from_disk(r.error())};
    offsets->erase(offsets->begin());
  }
  return {};
}

Result<std::optional<std::pair<std::int64_t, ProducerSnapshot>>, LogErrc>
Log::load_producer_snapshot() {
  using Found = std::optional<std::pair<std::int64_t, ProducerSnapshot>>;
  auto offsets = snapshot_offsets();
  if (!offsets) return Err{offsets.error()};
  for (auto it = offsets->rbegin(); it != offsets->rend(); ++it) {
    if (*it > log_end_offset()) continue;
    auto text = read_text_file(disk_, join_path(dir_, offset_file_name(*it, k_snapshot_suffix)));
    if (!text) return Err{text.error()};
    // A snapshot that does not parse is skipped: an older one still helps.
    if (auto snap = decode_producer_snapshot(*text)) return Found{{*it, std::move(*snap)}};
  }
  return Found{};
}

// Snapshots below the log start describe deleted data; the newest of them
// is kept (it still seeds producer state when nothing newer exists).
Result<void, LogErrc> Log::delete_snapshots_below(std::int64_t offset) {
  saved_snapshot_.reset();
  auto offsets = snapshot_offsets();
  if (!offsets) return Err{offsets.error()};
  std::vector<std::int64_t> below;
  for (const std::int64_t o : *offsets)
    if (o < offset) below.push_back(o);
  if (!below.empty()) below.pop_back();
  for (const std::int64_t o : below) {
    auto r = disk_.remove(join_path(dir_, offset_file_name(o, k_snapshot_suffix)));
    if (!r) return Err{from_disk(r.error())};
  }
  return {};
}

Result<void, LogErrc> Log::delete_snapshots_above(std::int64_t offset) {
  saved_snapshot_.reset();
  auto offsets = snapshot_offsets();
  if (!offsets) return Err{offsets.error()};
  for (const std::int64_t o : *offsets) {
    if (o <= offset) continue;
    auto r = disk_.remove(join_path(dir_, offset_file_name(o, k_snapshot_suffix)));
    if (!r) return Err{from_disk(r.error())};
  }
  return {};
}

}  // namespace samsa::log
