#include "system/log/scan.h"

namespace samsa::log {

std::string_view to_string(ScanStop s) {
  switch (s) {
    case ScanStop::clean_end: return "clean end";
    case ScanStop::truncated: return "truncated batch at the end";
    case ScanStop::bad_magic: return "bad magic byte";
    case ScanStop::bad_length: return "bad batch length";
    case ScanStop::crc_mismatch: return "CRC mismatch";
    case ScanStop::offset_gap: return "offsets not contiguous";
  }
  return "unknown";
}

namespace {

ScanStop stop_of(protocol::BatchErrc e) {
  switch (e) {
    case protocol::BatchErrc::bad_magic: return ScanStop::bad_magic;
    case protocol::BatchErrc::bad_length: return ScanStop::bad_length;
    case protocol::BatchErrc::crc_mismatch: return ScanStop::crc_mismatch;
    default: return ScanStop::truncated;
  }
}

// Header fields the batch reader leaves unchecked but a log relies on.
bool header_sane(const BatchHeader& h) {
  return h.base_offset >= 0 && h.last_offset_delta >= 0 && h.records_count >= 0;
}

}  // namespace

ScanResult scan_batches(ByteView bytes, const ScanOptions& options) {
  ScanResult out;
  out.next_offset = options.expected_offset;
  protocol::BatchReader reader(bytes, /*check_crc=*/false);
  while (auto batch = reader.next()) {
    const BatchHeader& h = batch->header;
    if (!header_sane(h)) {
      out.stop = ScanStop::bad_length;
      return out;
    }
    const bool crc_ok = protocol::batch_crc_ok(batch->bytes);
    if (options.strict) {
      if (!crc_ok) {
        out.stop = ScanStop::crc_mismatch;
        return out;
      }
      if (out.next_offset >= 0 && h.base_offset != out.next_offset) {
        out.stop = ScanStop::offset_gap;
        return out;
      }
    }
    out.batches.push_back({h, options.start_position + batch->position, crc_ok});
    out.valid_bytes = batch->position + batch->bytes.size();
    out.next_offset = h.next_offset();
  }
  if (auto why = reader.stop_reason()) out.stop = stop_of(*why);
  return out;
}

}  // namespace samsa::log
