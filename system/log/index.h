#pragma once
// The sparse offset index (.index) and the time index (.timeindex) of one
// segment, in Kafka's file formats (big-endian):
//   .index      8 bytes an entry: relative offset int32, log position int32
//   .timeindex 12 bytes an entry: timestamp int64, relative offset int32
// Offsets are relative to the segment's base offset. An offset index entry
// names the last offset of a batch and the position where that batch starts;
// a time index entry names the largest timestamp seen so far and the last
// offset of the batch that carried it.
//
// Kafka preallocates these files and mmaps them. Here the entries live in
// memory (a vector) and are written whole to the file at roll and flush; a
// sealed segment's index files are read back through sim::map_all (mmap on
// the live disk, one read on the simulated one). Recovery never trusts an
// index of unflushed data: it rebuilds it from the log.
#include <cstdint>
#include <optional>
#include <vector>

#include "sim/runtime/bytes.h"
#include "sim/runtime/result.h"

namespace samsa::log {

inline constexpr std::size_t k_offset_entry_bytes = 8;
inline constexpr std::size_t k_time_entry_bytes = 12;

struct OffsetEntry {
  std::int64_t offset = 0;     // absolute
  std::uint32_t position = 0;  // byte position of the batch in the .log
  bool operator==(const OffsetEntry&) const = default;
};

struct TimeEntry {
  std::int64_t timestamp_ms = 0;
  std::int64_t offset = 0;  // absolute
  bool operator==(const TimeEntry&) const = default;
};

// Where an index file is not sane, by entry number.
struct IndexError {
  std::size_t entry = 0;
  const char* what = "";
};

class OffsetIndex {
 public:
  OffsetIndex(std::int64_t base_offset, std::size_t max_entries)
      : base_offset_(base_offset), max_entries_(max_entries) {}

  // Adds an entry; offsets and positions must increase (asserted).
  void append(std::int64_t offset, std::uint32_t position);
  // The last entry whose offset is <= target, or nullopt (start at 0).
  std::optional<OffsetEntry> lookup(std::int64_t target) const;
  // Drops every entry whose offset is >= offset.
  void truncate_to(std::int64_t offset);
  bool full() const { return entries_.size() >= max_entries_; }
  std::size_t size() const { return entries_.size(); }
  const std::vector<OffsetEntry>& entries() const { return entries_; }
  std::int64_t base_offset() const { return base_offset_; }

  Bytes encode() const;
  // Parses an index file; checks that offsets and positions increase and
  // that positions lie inside a log of `log_size_bytes`.
  static Result<OffsetIndex, IndexError> decode(ByteView file, std::int64_t base_offset,
                                                std::size_t max_entries,
                                                std::uint64_t log_size_bytes);

 private:
  std::int64_t base_offset_;
  std::size_t max_entries_;
  std::vector<OffsetEntry> entries_;
};

class TimeIndex {
 public:
  TimeIndex(std::int64_t base_offset, std::size_t max_entries)
      : base_offset_(base_offset), max_entries_(max_entries) {}

  // Adds an entry when timestamp_ms is larger than the last entry's.
  void maybe_append(std::int64_t timestamp_ms, std::int64_t offset);
  // The last entry whose timestamp is <= target, or nullopt.
  std::optional<TimeEntry> lookup(std::int64_t target_ms) const;
  void truncate_to(std::int64_t offset);
  bool full() const { return entries_.size() >= max_entries_; }
  std::size_t size() const { return entries_.size(); }
  const std::vector<TimeEntry>& entries() const { return entries_; }
  std::optional<TimeEntry> last() const {
    if (entries_.empty()) return std::nullopt;
    return entries_.back();
  }

  Bytes encode() const;
  static Result<TimeIndex, IndexError> decode(ByteView file, std::int64_t base_offset,
                                              std::size_t max_entries);

 private:
  std::int64_t base_offset_;
  std::size_t max_entries_;
  std::vector<TimeEntry> entries_;
};

}  // namespace samsa::log
