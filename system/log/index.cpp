#include "system/log/index.h"

#include <algorithm>
#include <limits>

#include "system/log/big_endian.h"

namespace samsa::log {

namespace {

constexpr std::int64_t k_int32_max = std::numeric_limits<std::int32_t>::max();

std::uint32_t relative(std::int64_t offset, std::int64_t base) {
  SAMSA_ASSERT(offset >= base && offset - base <= k_int32_max, "offset outside segment range");
  return static_cast<std::uint32_t>(offset - base);
}

}  // namespace

void OffsetIndex::append(std::int64_t offset, std::uint32_t position) {
  SAMSA_ASSERT(!full(), "append to a full offset index");
  SAMSA_ASSERT(entries_.empty() ||
                   (offset > entries_.back().offset && position > entries_.back().position),
               "offset index entries must increase");
  relative(offset, base_offset_);
  entries_.push_back({offset, position});
}

std::optional<OffsetEntry> OffsetIndex::lookup(std::int64_t target) const {
  // Binary search: the first entry above target, then one back.
  auto it = std::upper_bound(entries_.begin(), entries_.end(), target,
                             [](std::int64_t t, const OffsetEntry& e) { return t < e.offset; });
  if (it == entries_.begin()) return std::nullopt;
  return *std::prev(it);
}

void OffsetIndex::truncate_to(std::int64_t offset) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), offset,
                             [](const OffsetEntry& e, std::int64_t o) { return e.offset < o; });
  entries_.erase(it, entries_.end());
}

Bytes OffsetIndex::encode() const {
  Bytes out;
  out.reserve(entries_.size() * k_offset_entry_bytes);
  for (const auto& e : entries_) {
    put_be(out, relative(e.offset, base_offset_), 4);
    put_be(out, e.position, 4);
  }
  return out;
}

Result<OffsetIndex, IndexError> OffsetIndex::decode(ByteView file, std::int64_t base_offset,
                                                    std::size_t max_entries,
                                                    std::uint64_t log_size_bytes) {
  if (file.size() % k_offset_entry_bytes != 0) return Err{IndexError{0, "partial entry"}};
  const std::size_t n = file.size() / k_offset_entry_bytes;
  if (n > max_entries) return Err{IndexError{max_entries, "more entries than the index holds"}};
  OffsetIndex index(base_offset, max_entries);
  for (std::size_t i = 0; i < n; ++i) {
    const auto rel = static_cast<std::int64_t>(get_be(file, i * 8, 4));
    const auto pos = static_cast<std::uint32_t>(get_be(file, i * 8 + 4, 4));
    if (rel > k_int32_max) return Err{IndexError{i, "negative relative offset"}};
    if (pos >= log_size_bytes) return Err{IndexError{i, "position past the end of the log"}};
    const std::int64_t offset = base_offset + rel;
    if (!index.entries_.empty() &&
        (offset <= index.entries_.back().offset || pos <= index.entries_.back().position))
      return Err{IndexError{i, "entries do not increase"}};
    index.entries_.push_back({offset, pos});
  }
  return index;
}

void TimeIndex::maybe_append(std::int64_t timestamp_ms, std::int64_t offset) {
  if (!entries_.empty() && timestamp_ms <= entries_.back().timestamp_ms) return;
  SAMSA_ASSERT(!full(), "append to a full time index");
  SAMSA_ASSERT(entries_.empty() || offset > entries_.back().offset,
               "time index offsets must increase");
  relative(offset, base_offset_);
  entries_.push_back({timestamp_ms, offset});
}

std::optional<TimeEntry> TimeIndex::lookup(std::int64_t target_ms) const {
  auto it = std::upper_bound(entries_.begin(), entries_.end(), target_ms,
                             [](std::int64_t t, const TimeEntry& e) { return t < e.timestamp_ms; });
  if (it == entries_.begin()) return std::nullopt;
  return *std::prev(it);
}

void TimeIndex::truncate_to(std::int64_t offset) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), offset,
                             [](const TimeEntry& e, std::int64_t o) { return e.offset < o; });
  entries_.erase(it, entries_.end());
}

Bytes TimeIndex::encode() const {
  Bytes out;
  out.reserve(entries_.size() * k_time_entry_bytes);
  for (const auto& e : entries_) {
    put_be(out, static_cast<std::uint64_t>(e.timestamp_ms), 8);
    put_be(out, relative(e.offset, base_offset_), 4);
  }
  return out;
}

Result<TimeIndex, IndexError> TimeIndex::decode(ByteView file, std::int64_t base_offset,
                                                std::size_t max_entries) {
  if (file.size() % k_time_entry_bytes != 0) return Err{IndexError{0, "partial entry"}};
  const std::size_t n = file.size() / k_time_entry_bytes;
  if (n > max_entries) return Err{IndexError{max_entries, "more entries than the index holds"}};
  TimeIndex index(base_offset, max_entries);
  for (std::size_t i = 0; i < n; ++i) {
    const auto ts = static_cast<std::int64_t>(get_be(file, i * 12, 8));
    const auto rel = static_cast<std::int64_t>(get_be(file, i * 12 + 8, 4));
    if (rel > k_int32_max) return Err{IndexError{i, "negative relative offset"}};
    const std::int64_t offset = base_offset + rel;
    if (!index.entries_.empty() && (ts <= index.entries_.back().timestamp_ms ||
                                    offset <= index.entries_.back().offset))
      return Err{IndexError{i, "entries do not increase"}};
    index.entries_.push_back({ts, offset});
  }
  return index;
}

}  // namespace samsa::log
