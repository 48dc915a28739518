#include "system/log/errors.h"

namespace samsa::log {

std::string_view to_string(LogErrc e) {
  switch (e) {
    case LogErrc::storage_error: return "storage error";
    case LogErrc::no_space: return "no space left on device";
    case LogErrc::offline: return "log offline after an fsync failure";
    case LogErrc::offset_out_of_range: return "offset out of range";
    case LogErrc::corrupt_message: return "corrupt message";
    case LogErrc::corrupt_storage: return "stored batch fails its CRC";
    case LogErrc::record_too_large: return "record batch too large";
    case LogErrc::invalid_offset: return "batch does not start at the log end offset";
    case LogErrc::corrupt_checkpoint: return "corrupt checkpoint file";
    case LogErrc::not_found: return "not found";
  }
  return "unknown log error";
}

std::int16_t kafka_error_code(LogErrc e) {
  switch (e) {
    case LogErrc::offset_out_of_range: return 1;    // OFFSET_OUT_OF_RANGE
    case LogErrc::corrupt_message: return 2;        // CORRUPT_MESSAGE
    case LogErrc::record_too_large: return 10;      // MESSAGE_TOO_LARGE
    case LogErrc::invalid_offset: return 1;         // a follower's view of the range is wrong
    case LogErrc::storage_error:
    case LogErrc::no_space:
    case LogErrc::offline:
    case LogErrc::corrupt_storage:
    case LogErrc::corrupt_checkpoint:
    case LogErrc::not_found: return 56;             // KAFKA_STORAGE_ERROR
  }
  return -1;  // UNKNOWN_SERVER_ERROR
}

LogErrc from_disk(sim::DiskErrc e) {
  switch (e) {
    case sim::DiskErrc::no_space: return LogErrc::no_space;
    case sim::DiskErrc::not_found: return LogErrc::not_found;
    default: return LogErrc::storage_error;
  }
}

}  // namespace samsa::log
