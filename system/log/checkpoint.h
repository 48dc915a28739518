#pragma once
// Side files of a partition directory, in Kafka's text checkpoint format:
// a version line ("0"), a count line, then one entry a line.
//
//   recovery-point-offset-checkpoint / replication-offset-checkpoint
//       "<topic> <partition> <offset>"   (Kafka keeps one per data
//       directory for all partitions; samsa keeps one per partition
//       directory, with the same format, so a Log owns all its files)
//   leader-epoch-checkpoint              "<epoch> <start offset>"
//   <20-digit offset>.snapshot           producer state, one producer a line:
//       "<producer id> <epoch> <last timestamp> <n> (<first seq> <last seq> <last offset>){n}"
//
// Every file is written with sim::write_atomic (tmp, fsync, rename), so a
// crash leaves the old file or the new one, never a torn one.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/runtime/bytes.h"
#include "sim/runtime/disk.h"
#include "sim/runtime/result.h"
#include "system/log/errors.h"

namespace samsa::log {

// Where a checkpoint file does not parse: 1-based line and what was wrong.
struct ParseError {
  std::size_t line = 0;
  std::string what;
};

// --- offset checkpoints ----------------------------------------------------------

using TopicPartition = std::pair<std::string, std::int32_t>;
using OffsetMap = std::map<TopicPartition, std::int64_t>;

std::string encode_offset_checkpoint(const OffsetMap& offsets);
Result<OffsetMap, ParseError> decode_offset_checkpoint(std::string_view text);

// --- leader epochs (KIP-101) -------------------------------------------------------

struct EpochEntry {
  std::int32_t epoch = 0;
  std::int64_t start_offset = 0;
  bool operator==(const EpochEntry&) const = default;
};

// epoch -> the first offset written in that epoch. Epochs and start offsets
// both increase along the vector.
class LeaderEpochCache {
 public:
  // Records that `epoch` starts at `start_offset`. Ignored unless epoch is
  // newer than the latest; a newer epoch at the same start offset replaces
  // entries that start there. Returns whether anything changed.
  bool assign(std::int32_t epoch, std::int64_t start_offset);
  // Drops entries starting at or after end_offset (log truncated to it).
  bool truncate_from_end(std::int64_t end_offset);
  // Drops entries wholly below start_offset (log start moved up); the
  // entry covering start_offset is moved to start there.
  bool truncate_from_start(std::int64_t start_offset);
  // OffsetsForLeaderEpoch: for `epoch`, the largest epoch <= it and the start
  // offset of the next larger epoch (or log_end_offset when there is none).
  // nullopt when no epoch <= the requested one is known.
  std::optional<EpochEntry> end_offset_for(std::int32_t epoch, std::int64_t log_end_offset) const;
  std::optional<EpochEntry> latest() const;
  const std::vector<EpochEntry>& entries() const { return entries_; }

  std::string encode() const;
  static Result<LeaderEpochCache, ParseError> decode(std::string_view text);

 private:
  std::vector<EpochEntry> entries_;
};

// --- producer state --------------------------------------------------------------------

struct ProducerBatchMeta {
  std::int32_t first_sequence = 0;
  std::int32_t last_sequence = 0;
  std::int64_t last_offset = 0;
  bool operator==(const ProducerBatchMeta&) const = default;
};

struct ProducerEntry {
  std::int16_t epoch = 0;
  std::int64_t last_timestamp_ms = 0;
  std::vector<ProducerBatchMeta> recent;  // the last few batches, oldest first (dedupe window)
  // The coordinator epoch of the last transaction marker (ProducerStateEntry.
  // coordinatorEpoch); -1 before any. Written last on its line, only when set.
  std::int32_t coordinator_epoch = -1;
  bool operator==(const ProducerEntry&) const = default;
};

// producer id -> its state. Ordered, so the file is the same every run.
using ProducerSnapshot = std::map<std::int64_t, ProducerEntry>;

std::string encode_producer_snapshot(const ProducerSnapshot& snapshot);
Result<ProducerSnapshot, ParseError> decode_producer_snapshot(std::string_view text);

// --- file helpers ----------------------------------------------------------------------

// Writes text durably and atomically.
Result<void, LogErrc> write_text_file(sim::Disk& disk, std::string_view path, std::string_view text);
// Reads a whole file as text; not_found when missing.
Result<std::string, LogErrc> read_text_file(sim::Disk& disk, std::string_view path);

}  // namespace samsa::log
