#pragma once
// Walking the batches of a segment file held in memory. Pure: no disk, so
// the same code serves recovery (on chunks read through sim::Disk) and
// `samsa dump-log` (on a real file's bytes).
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "sim/runtime/bytes.h"
#include "system/protocol/record_batch.h"

namespace samsa::log {

using protocol::BatchHeader;

enum class ScanStop : std::uint8_t {
  clean_end,     // every byte belongs to a whole batch
  truncated,     // a partial batch at the end (a torn write, or the chunk ended)
  bad_magic,
  bad_length,
  crc_mismatch,  // only when the scan is strict
  offset_gap,    // a batch does not start at the previous batch's next offset (strict)
};
std::string_view to_string(ScanStop s);

struct ScannedBatch {
  BatchHeader header;
  std::uint64_t position = 0;  // in the file
  bool crc_ok = true;
};

struct ScanResult {
  std::vector<ScannedBatch> batches;
  std::uint64_t valid_bytes = 0;  // bytes of the good prefix, from the scan's start
  ScanStop stop = ScanStop::clean_end;
  std::int64_t next_offset = -1;  // after the last good batch; expected offset if none
};

struct ScanOptions {
  // The file position of bytes[0] (reported in ScannedBatch::position).
  std::uint64_t start_position = 0;
  // Strict (recovery): stop at the first batch with a bad CRC or an offset
  // gap. Lenient (dump-log): report crc_ok per batch and go on.
  bool strict = true;
  // The base offset the first batch must have (strict); -1 for any.
  std::int64_t expected_offset = -1;
};

ScanResult scan_batches(ByteView bytes, const ScanOptions& options);

}  // namespace samsa::log
