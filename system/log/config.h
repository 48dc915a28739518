#pragma once
// Per-log configuration, with Kafka's topic-level names and defaults.
#include <cstdint>
#include <limits>

namespace samsa::log {

struct LogConfig {
  std::int64_t segment_bytes = 1 << 30;                 // segment.bytes
  std::int64_t segment_ms = 7 * 24 * 3600 * 1000LL;     // segment.ms
  std::int64_t segment_index_bytes = 10 * 1024 * 1024;  // segment.index.bytes
  std::int64_t index_interval_bytes = 4096;             // index.interval.bytes
  std::int64_t retention_bytes = -1;                    // retention.bytes (-1: no limit)
  std::int64_t retention_ms = 7 * 24 * 3600 * 1000LL;   // retention.ms (-1: no limit)
  // flush.messages / flush.ms: Kafka's defaults never fsync on their own and
  // leave data in the page cache; flush_messages = 1 fsyncs every append.
  std::int64_t flush_messages = std::numeric_limits<std::int64_t>::max();
  std::int64_t flush_ms = std::numeric_limits<std::int64_t>::max();
  std::int64_t max_message_bytes = 1048588;             // max.message.bytes
  // Check each stored batch's CRC when it is read (a latent sector error
  // then yields corrupt_storage instead of bad bytes).
  bool verify_crc_on_read = true;
  // Producer state snapshots kept (the broker's max.id.map.snapshots).
  std::size_t producer_snapshots_kept = 2;
};

}  // namespace samsa::log
