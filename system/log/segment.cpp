#include "system/log/segment.h"

#include <algorithm>
#include <array>
#include <limits>

#include "system/log/names.h"

namespace samsa::log {

namespace {

constexpr std::uint64_t k_scan_chunk_bytes = 1 << 20;

std::size_t offset_entries_max(const LogConfig& c) {
  return static_cast<std::size_t>(std::max<std::int64_t>(1, c.segment_index_bytes / 8));
}
std::size_t time_entries_max(const LogConfig& c) {
  return static_cast<std::size_t>(std::max<std::int64_t>(1, c.segment_index_bytes / 12));
}

Result<void, LogErrc> ignore_missing(Result<void, sim::DiskErrc> r) {
  if (!r && r.error() != sim::DiskErrc::not_found) return Err{from_disk(r.error())};
  return {};
}

}  // namespace

Segment::Segment(sim::Disk& disk, std::string dir, std::int64_t base_offset,
                 const LogConfig& config, std::unique_ptr<sim::File> file)
    : disk_(disk),
      dir_(std::move(dir)),
      base_offset_(base_offset),
      config_(config),
      file_(std::move(file)),
      next_offset_(base_offset),
      offset_index_(base_offset, offset_entries_max(config)),
      time_index_(base_offset, time_entries_max(config)) {}

std::string Segment::path(std::string_view suffix) const {
  return join_path(dir_, offset_file_name(base_offset_, suffix));
}
std::string Segment::log_path() const { return path(k_log_suffix); }

Result<std::unique_ptr<Segment>, LogErrc> Segment::create(sim::Disk& disk, const std::string& dir,
                                                          std::int64_t base_offset,
                                                          const LogConfig& config) {
  const std::string p = join_path(dir, offset_file_name(base_offset, k_log_suffix));
  auto file = disk.open(p, {.create = true, .truncate = true});
  if (!file) return Err{from_disk(file.error())};
  return std::unique_ptr<Segment>(new Segment(disk, dir, base_offset, config, std::move(*file)));
}

Result<std::unique_ptr<Segment>, LogErrc> Segment::open(sim::Disk& disk, const std::string& dir,
                                                        std::int64_t base_offset,
                                                        const LogConfig& config) {
  const std::string p = join_path(dir, offset_file_name(base_offset, k_log_suffix));
  auto file = disk.open(p);
  if (!file) return Err{from_disk(file.error())};
  return std::unique_ptr<Segment>(new Segment(disk, dir, base_offset, config, std::move(*file)));
}

void Segment::reset_indexes() {
  offset_index_ = OffsetIndex(base_offset_, offset_entries_max(config_));
  time_index_ = TimeIndex(base_offset_, time_entries_max(config_));
  max_timestamp_ = -1;
  offset_of_max_timestamp_ = -1;
  rolling_timestamp_.reset();
  bytes_since_index_entry_ = 0;
  next_offset_ = base_offset_;
  size_bytes_ = 0;
  boundaries_ = {};
  next_boundary_ = 0;
}

// Whether a batch can follow in this segment: contiguous offsets whose
// relative values fit an int32 (headers read without a CRC check must
// pass this before they reach the indexes).
bool Segment::fits(const BatchHeader& h) const {
  return h.base_offset == next_offset_ && h.last_offset_delta >= 0 &&
         h.last_offset() - base_offset_ <= std::numeric_limits<std::int32_t>::max();
}

// Kafka's rule: an index entry for a batch once more than
// index.interval.bytes were appended since the last entry.
void Segment::index_batch(const BatchHeader& h, std::uint64_t position) {
  if (h.max_timestamp > max_timestamp_) {
    max_timestamp_ = h.max_timestamp;
    offset_of_max_timestamp_ = h.last_offset();
  }
  if (!rolling_timestamp_) rolling_timestamp_ = h.max_timestamp;
  if (bytes_since_index_entry_ > static_cast<std::uint64_t>(config_.index_interval_bytes) &&
      !index_full()) {
    offset_index_.append(h.last_offset(), static_cast<std::uint32_t>(position));
    if (max_timestamp_ >= 0) time_index_.maybe_append(max_timestamp_, offset_of_max_timestamp_);
    bytes_since_index_entry_ = 0;
  }
  bytes_since_index_entry_ += h.size_bytes();
  next_offset_ = h.next_offset();
}

Result<void, LogErrc> Segment::append(ByteView batches, const std::vector<BatchHeader>& headers) {
  const std::uint64_t start = size_bytes_;
  if (auto r = file_->append(batches); !r) {
    (void)file_->truncate(start);  // best effort: drop a partial write
    return Err{from_disk(r.error())};
  }
  std::uint64_t position = start;
  for (const auto& h : headers) {
    index_batch(h, position);
    position += h.size_bytes();
  }
  SAMSA_ASSERT(position == start + batches.size(), "headers do not cover the appended bytes");
  size_bytes_ = position;
  return {};
}

Result<Bytes, LogErrc> Segment::read(std::uint64_t position, std::uint64_t n) {
  if (position >= size_bytes_) return Bytes{};
  n = std::min(n, size_bytes_ - position);
  Bytes out(n);
  auto got = file_->read(position, out);
  if (!got) return Err{from_disk(got.error())};
  if (*got != n) return Err{LogErrc::storage_error};  // the file is shorter than written
  return out;
}

Result<protocol::Records, LogErrc> Segment::map(std::uint64_t position, std::uint64_t n) {
  if (position >= size_bytes_) return protocol::Records{};
  n = std::min(n, size_bytes_ - position);
  auto m = file_->map(position, static_cast<std::size_t>(n));
  if (!m) return Err{from_disk(m.error())};
  if ((*m)->bytes().size() != n) return Err{LogErrc::storage_error};  // the file is shorter than written
  const ByteView view = (*m)->bytes();
  return protocol::Records::of_mapping(std::move(*m), view);
}

Result<std::optional<BatchHeader>, LogErrc> Segment::header_at(std::uint64_t position) {
  if (position >= size_bytes_) return std::optional<BatchHeader>{};
  HeaderBytes buf{};
  auto n = read_header_bytes(position, buf);
  if (!n) return Err{n.error()};
  auto h = protocol::read_batch_header(ByteView(buf.data(), *n));
  if (!h || position + h->size_bytes() > size_bytes_) return Err{LogErrc::corrupt_storage};
  return std::optional<BatchHeader>{*h};
}

// What read() does, into a buffer on the stack: offset lookups walk many
// headers, and a heap vector per header was most of their cost (issue 14).
Result<std::size_t, LogErrc> Segment::read_header_bytes(std::uint64_t position, HeaderBytes& buf) {
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size_bytes_ - position));
  auto got = file_->read(position, std::span(buf).first(n));
  if (!got) return Err{from_disk(got.error())};
  if (*got != n) return Err{LogErrc::storage_error};  // the file is shorter than written
  return n;
}

// header_at's read and checks for the scan of find_position, which needs
// only each batch's last offset and size: the same read of the same bytes,
// and the same errors.
Result<protocol::BatchSpan, LogErrc> Segment::span_at(std::uint64_t position) {
  HeaderBytes buf{};
  auto n = read_header_bytes(position, buf);
  if (!n) return Err{n.error()};
  auto s = protocol::read_batch_span(ByteView(buf.data(), *n));
  if (!s || position + s->size_bytes > size_bytes_) return Err{LogErrc::corrupt_storage};
  return *s;
}

void Segment::note_boundary(std::uint64_t position, std::int64_t next_offset) {
  SAMSA_ASSERT(position <= size_bytes_, "a boundary lies in the segment");
  for (const Boundary& b : boundaries_)
    if (b.position == position) return;  // another reader got here first: keep the slots for the rest
  boundaries_[next_boundary_] = Boundary{position, next_offset};
  next_boundary_ = (next_boundary_ + 1) % boundaries_.size();
}

std::uint64_t Segment::scan_start(std::int64_t offset) const {
  const auto entry = offset_index_.lookup(offset);
  std::uint64_t position = entry ? entry->position : 0;
  for (const Boundary& b : boundaries_)
    if (b.next_offset <= offset && b.position > position) position = b.position;
  return position;
}

Result<std::optional<std::uint64_t>, LogErrc> Segment::find_position(std::int64_t offset) {
  if (offset >= next_offset_) return std::optional<std::uint64_t>{};
  std::uint64_t position = scan_start(offset);
  // A forward scan over batch headers from the index entry (or a boundary past it).
  while (position < size_bytes_) {
    auto s = span_at(position);
    if (!s) return Err{s.error()};
    if (s->last_offset >= offset) return std::optional<std::uint64_t>{position};
    position += s->size_bytes;
  }
  return std::optional<std::uint64_t>{};
}

Result<void, LogErrc> Segment::for_each_header(const std::function<void(const BatchHeader&)>& fn) {
  std::uint64_t position = 0;
  while (position < size_bytes_) {
    auto h = header_at(position);
    if (!h && h.error() != LogErrc::corrupt_storage) return Err{h.error()};
    if (!h || !*h) break;
    fn(**h);
    position += (*h)->size_bytes();
  }
  return {};
}

Result<std::optional<BatchHeader>, LogErrc> Segment::find_timestamp(std::int64_t target_ms) {
  if (max_timestamp_ < target_ms) return std::optional<BatchHeader>{};
  std::uint64_t position = 0;
  if (const auto entry = time_index_.lookup(target_ms)) {
    auto p = find_position(entry->offset);
    if (!p) return Err{p.error()};
    position = p->value_or(0);
  }
  while (position < size_bytes_) {
    auto h = header_at(position);
    if (!h) return Err{h.error()};
    if ((*h)->max_timestamp >= target_ms) return h;
    position += (*h)->size_bytes();
  }
  return std::optional<BatchHeader>{};
}

Result<std::uint64_t, LogErrc> Segment::truncate_to(std::int64_t offset) {
  if (offset >= next_offset_) return std::uint64_t{0};
  auto position = find_position(std::max(offset, base_offset_));
  if (!position) return Err{position.error()};
  const std::uint64_t cut = position->value_or(size_bytes_);
  const std::uint64_t dropped = size_bytes_ - cut;
  if (auto r = truncate_txn_index(offset); !r) return Err{r.error()};
  if (auto r = file_->truncate(cut); !r) return Err{from_disk(r.error())};
  if (auto r = file_->fsync(); !r) return Err{from_disk(r.error())};
  // Rebuild the indexes and timestamps exactly from what is left; headers
  // that do not walk (corruption) get the full scan, which cuts there.
  RecoveryStats ignored;
  reset_indexes();
  size_bytes_ = cut;
  if (!rebuild_from_headers(ignored)) {
    if (auto r = recover(ignored); !r) return Err{r.error()};
    if (auto r = file_->fsync(); !r) return Err{from_disk(r.error())};
  }
  return dropped;
}

Result<void, LogErrc> Segment::rebuild_from_headers(RecoveryStats& stats) {
  const std::uint64_t size = size_bytes_;
  reset_indexes();
  size_bytes_ = size;
  std::uint64_t position = 0;
  while (position < size) {
    auto h = header_at(position);
    if (!h) return Err{h.error()};
    if (!*h || !fits(**h)) return Err{LogErrc::corrupt_storage};
    index_batch(**h, position);
    position += (*h)->size_bytes();
  }
  ++stats.indexes_rebuilt;
  return {};
}

Result<bool, LogErrc> Segment::load_index_files() {
  // Through mmap, as Kafka's AbstractIndex (the live disk maps them).
  auto index_map = sim::map_all(disk_, path(k_index_suffix));
  auto time_map = sim::map_all(disk_, path(k_time_index_suffix));
  if (!index_map || !time_map) return false;
  auto index = OffsetIndex::decode((*index_map)->bytes(), base_offset_, offset_entries_max(config_), size_bytes_);
  auto times = TimeIndex::decode((*time_map)->bytes(), base_offset_, time_entries_max(config_));
  if (!index || !times) return false;
  if (!index->entries().empty() && index->entries().back().offset >= next_offset_) return false;
  if (!times->entries().empty() && times->entries().back().offset >= next_offset_) return false;
  offset_index_ = std::move(*index);
  time_index_ = std::move(*times);
  if (const auto last = time_index_.last()) {
    max_timestamp_ = last->timestamp_ms;
    offset_of_max_timestamp_ = last->offset;
  }
  return true;
}

Result<void, LogErrc> Segment::load(std::int64_t next_offset, RecoveryStats& stats) {
  if (auto r = load_txn_index(stats); !r) return r;
  reset_indexes();
  size_bytes_ = file_->size();
  next_offset_ = next_offset;
  auto loaded = load_index_files();
  if (!loaded) return Err{loaded.error()};
  if (*loaded) {
    // segment.ms counts from the first batch, should this segment become
    // active again after a truncation.
    if (auto first = header_at(0); first && *first) rolling_timestamp_ = (*first)->max_timestamp;
    return {};
  }
  // Missing or not sane: rebuild from the batch headers; a segment whose
  // headers do not walk is corrupt and gets the full recovery.
  if (rebuild_from_headers(stats) && next_offset_ == next_offset) return {};
  return recover(stats);
}

Result<void, LogErrc> Segment::recover(RecoveryStats& stats) {
  // LogSegment.recover rebuilds the transaction index from the batches it
  // keeps; here the partition's replay does, so the entries wait for it.
  if (auto r = load_txn_index(stats); !r) return r;
  txn_index_needs_rebuild_ = true;
  reset_indexes();
  const std::uint64_t file_size = file_->size();
  std::uint64_t position = 0;
  std::uint64_t chunk = k_scan_chunk_bytes;
  ++stats.segments_scanned;
  while (position < file_size) {
    Bytes buf(std::min(chunk, file_size - position));
    auto got = file_->read(position, buf);
    if (!got) return Err{from_disk(got.error())};
    if (*got == 0) break;  // shorter than it said: cut here
    buf.resize(*got);
    const auto scan = scan_batches(buf, {.start_position = position, .strict = true,
                                         .expected_offset = next_offset_});
    std::uint64_t valid = 0;
    for (const auto& b : scan.batches) {
      if (!fits(b.header)) break;
      index_batch(b.header, b.position);
      valid = b.position + b.header.size_bytes() - position;
      ++stats.batches_scanned;
    }
    stats.bytes_scanned += valid;
    if (valid != scan.valid_bytes) {
      position += valid;
      break;
    }
    position += scan.valid_bytes;
    const bool chunk_ended = position + (buf.size() - scan.valid_bytes) < file_size;
    if (scan.stop == ScanStop::clean_end) continue;
    if (scan.stop == ScanStop::truncated && chunk_ended) {
      if (scan.valid_bytes == 0) chunk *= 2;  // one batch larger than the chunk
      continue;
    }
    break;
  }
  size_bytes_ = position;
  // Entries of markers the scan cut off are no part of this log any more.
  std::erase_if(aborted_txns_, [&](const AbortedTxn& t) { return t.last_offset >= next_offset_; });
  if (position < file_size) {
    stats.bytes_truncated += file_size - position;
    if (auto r = file_->truncate(position); !r) return Err{from_disk(r.error())};
  }
  return {};
}

Result<void, LogErrc> Segment::fsync() {
  if (auto r = file_->fsync(); !r) return Err{from_disk(r.error())};
  if (txn_file_dirty_) {
    if (auto r = txn_file_->fsync(); !r) return Err{from_disk(r.error())};
    txn_file_dirty_ = false;
  }
  return {};
}

Result<void, LogErrc> Segment::seal() {
  if (max_timestamp_ >= 0 && !time_index_.full())
    time_index_.maybe_append(max_timestamp_, offset_of_max_timestamp_);
  if (auto r = fsync(); !r) return r;
  const Bytes index = offset_index_.encode();
  const Bytes times = time_index_.encode();
  if (auto r = sim::write_atomic(disk_, path(k_index_suffix), index); !r)
    return Err{from_disk(r.error())};
  if (auto r = sim::write_atomic(disk_, path(k_time_index_suffix), times); !r)
    return Err{from_disk(r.error())};
  return {};
}

Result<void, LogErrc> Segment::remove_files() {
  if (auto r = ignore_missing(disk_.remove(path(k_log_suffix))); !r) return r;
  if (auto r = ignore_missing(disk_.remove(path(k_index_suffix))); !r) return r;
  if (auto r = ignore_missing(disk_.remove(path(k_time_index_suffix))); !r) return r;
  txn_file_.reset();
  return ignore_missing(disk_.remove(path(k_txn_index_suffix)));
}

// --- the aborted-transaction index -------------------------------------------------------

// A file that does not read or parse is kept out of use until the replay
// rebuilds it; a missing one is an empty index (Kafka creates it lazily).
Result<void, LogErrc> Segment::load_txn_index(RecoveryStats& stats) {
  txn_file_.reset();
  txn_file_dirty_ = false;
  aborted_txns_.clear();
  txn_file_entries_.clear();
  txn_index_needs_rebuild_ = false;
  auto bytes = sim::read_all(disk_, path(k_txn_index_suffix));
  txn_file_exists_ = bytes || bytes.error() != sim::DiskErrc::not_found;
  if (!txn_file_exists_) return {};
  auto entries = bytes ? decode_txn_index(*bytes, base_offset_)
                       : Result<std::vector<AbortedTxn>, IndexError>(Err{IndexError{0, "unreadable"}});
  if (!entries) {
    txn_index_needs_rebuild_ = true;
    return {};
  }
  txn_file_entries_ = *entries;
  aborted_txns_ = std::move(*entries);
  ++stats.txn_indexes_loaded;
  return {};
}

Result<void, LogErrc> Segment::append_aborted_txn(const AbortedTxn& t) {
  SAMSA_ASSERT(t.last_offset >= base_offset_ && t.last_offset < next_offset_,
               "an abort marker is indexed in the segment that stores it");
  SAMSA_ASSERT(aborted_txns_.empty() || t.last_offset > aborted_txns_.back().last_offset,
               "abort markers are indexed in offset order");
  if (!txn_file_) {
    auto f = disk_.open(path(k_txn_index_suffix), {.create = true});
    if (!f) return Err{from_disk(f.error())};
    txn_file_ = std::move(*f);
    txn_file_exists_ = true;
  }
  Bytes entry;
  encode_aborted_txn(entry, t);
  const std::uint64_t start = txn_file_->size();
  if (auto r = txn_file_->append(entry); !r) {
    (void)txn_file_->truncate(start);  // best effort: drop a partial entry
    return Err{from_disk(r.error())};
  }
  txn_file_dirty_ = true;
  aborted_txns_.push_back(t);
  txn_file_entries_.push_back(t);
  return {};
}

// TransactionIndex.truncateTo: the entries of markers at or above offset go.
Result<void, LogErrc> Segment::truncate_txn_index(std::int64_t offset) {
  auto keep = [&](const std::vector<AbortedTxn>& v) {
    return static_cast<std::size_t>(
        std::find_if(v.begin(), v.end(), [&](const AbortedTxn& t) { return t.last_offset >= offset; }) -
        v.begin());
  };
  aborted_txns_.resize(keep(aborted_txns_));
  const std::size_t n = keep(txn_file_entries_);
  if (n == txn_file_entries_.size()) return {};
  txn_file_entries_.resize(n);
  if (!txn_file_) {
    auto f = disk_.open(path(k_txn_index_suffix));
    if (!f) return Err{from_disk(f.error())};
    txn_file_ = std::move(*f);
  }
  if (auto r = txn_file_->truncate(n * k_aborted_txn_bytes); !r) return Err{from_disk(r.error())};
  if (auto r = txn_file_->fsync(); !r) return Err{from_disk(r.error())};
  txn_file_dirty_ = false;
  return {};
}

Result<bool, LogErrc> Segment::rebuild_txn_index(std::vector<AbortedTxn> entries) {
  txn_index_needs_rebuild_ = false;
  const bool same = txn_file_exists_ && entries == txn_file_entries_;
  aborted_txns_ = entries;
  if (same || (entries.empty() && !txn_file_exists_)) return false;
  txn_file_.reset();
  txn_file_dirty_ = false;
  if (entries.empty()) {
    if (auto r = ignore_missing(disk_.remove(path(k_txn_index_suffix))); !r) return Err{r.error()};
    txn_file_exists_ = false;
    txn_file_entries_.clear();
    return true;
  }
  if (auto r = sim::write_atomic(disk_, path(k_txn_index_suffix), encode_txn_index(entries)); !r)
    return Err{from_disk(r.error())};
  txn_file_exists_ = true;
  txn_file_entries_ = std::move(entries);
  return true;
}

}  // namespace samsa::log
