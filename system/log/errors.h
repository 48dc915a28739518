#pragma once
// Errors of the partition log, as values. The broker maps them to Kafka
// error codes with kafka_error_code().
#include <cstdint>
#include <string_view>

#include "sim/runtime/disk.h"

namespace samsa::log {

enum class LogErrc : std::uint8_t {
  storage_error,        // the disk failed (EIO); the log may be offline
  no_space,             // the disk is full; nothing was changed
  offline,              // an earlier fsync failed: the log refuses all work
  offset_out_of_range,  // a read or truncation outside [log start, log end]
  corrupt_message,      // an appended batch is malformed or fails its CRC
  corrupt_storage,      // a stored batch fails its CRC when read
  record_too_large,     // an appended batch exceeds max.message.bytes or segment.bytes
  invalid_offset,       // a follower batch does not start at the log end offset
  corrupt_checkpoint,   // a side file does not parse
  not_found,            // no such file (side files)
};

std::string_view to_string(LogErrc e);

// Kafka's error code for the error (OFFSET_OUT_OF_RANGE = 1, ...).
std::int16_t kafka_error_code(LogErrc e);

// What a failed disk call means for the log.
LogErrc from_disk(sim::DiskErrc e);

}  // namespace samsa::log
