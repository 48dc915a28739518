// JSON view of record sets (record batch v2), for `samsa decode` and tests.
#include "system/protocol/api.h"
#include "system/protocol/record_batch.h"

namespace samsa::protocol {

namespace {

bool is_utf8(ByteView b) {
  for (std::size_t i = 0; i < b.size();) {
    const std::uint8_t c = b[i];
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > b.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((b[i + k] & 0xc0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

std::string payload_json(std::optional<ByteView> b) {
  if (!b) return "null";
  if (is_utf8(*b)) return json_string(as_chars(*b));
  return "{\"hex\": \"" + hex(*b) + "\"}";
}

std::string pad(int indent) { return std::string(static_cast<std::size_t>(indent), ' '); }

std::string record_json(const RecordView& r) {
  std::string out = "{\"offset\": " + std::to_string(r.offset) + ", \"timestamp\": " + std::to_string(r.timestamp) +
                    ", \"key\": " + payload_json(r.key) + ", \"value\": " + payload_json(r.value);
  if (r.headers.size() > 0) {
    out += ", \"headers\": [";
    bool first = true;
    for (const HeaderView& h : r.headers) {
      out += (first ? "" : ", ") + std::string("{\"key\": ") + payload_json(h.key) +
             ", \"value\": " + payload_json(h.value) + "}";
      first = false;
    }
    out += "]";
  }
  return out + "}";
}

std::string records_of(ByteView batch, int indent) {
  auto it = RecordIterator::open(batch);
  if (!it) return "\"error: " + std::string(to_string(it.error())) + "\"";
  std::string out = "[";
  bool first = true;
  for (std::int32_t i = 0; i <= it->header().records_count; ++i) {
    auto rec = it->next();
    if (!rec) return out + (first ? "" : ",") + "\n" + pad(indent + 2) + "\"error: " +
                     std::string(to_string(rec.error())) + "\"\n" + pad(indent) + "]";
    if (!*rec) break;
    out += (first ? "\n" : ",\n") + pad(indent + 2) + record_json(**rec);
    first = false;
  }
  return out + (first ? "]" : "\n" + pad(indent) + "]");
}

std::string batch_json(const BatchView& b, int indent) {
  const BatchHeader& h = b.header;
  const std::string in = pad(indent + 2);
  std::string out = "{\n";
  out += in + "\"base_offset\": " + std::to_string(h.base_offset) + ", \"batch_length\": " +
         std::to_string(h.batch_length) + ", \"partition_leader_epoch\": " +
         std::to_string(h.partition_leader_epoch) + ", \"magic\": " + std::to_string(h.magic) + ",\n";
  out += in + "\"crc\": " + std::to_string(h.crc) + ", \"crc_ok\": " + (batch_crc_ok(b.bytes) ? "true" : "false") +
         ", \"attributes\": " + std::to_string(h.attributes) + ", \"compression\": " +
         (h.compression_known() ? json_string(to_string(h.compression())) : std::string("\"unknown\"")) +
         ", \"timestamp_type\": " +
         (h.timestamp_type() == TimestampType::create_time ? "\"create_time\"" : "\"log_append_time\"") +
         ", \"transactional\": " + (h.is_transactional() ? "true" : "false") +
         ", \"control\": " + (h.is_control() ? "true" : "false") + ",\n";
  out += in + "\"last_offset_delta\": " + std::to_string(h.last_offset_delta) + ", \"base_timestamp\": " +
         std::to_string(h.base_timestamp) + ", \"max_timestamp\": " + std::to_string(h.max_timestamp) +
         ", \"producer_id\": " + std::to_string(h.producer_id) + ", \"producer_epoch\": " +
         std::to_string(h.producer_epoch) + ", \"base_sequence\": " + std::to_string(h.base_sequence) +
         ", \"records_count\": " + std::to_string(h.records_count) + ",\n";
  out += in + "\"records\": " + records_of(b.bytes, indent + 2) + "\n" + pad(indent) + "}";
  return out;
}

}  // namespace

std::string records_to_json(ByteView records, int indent) {
  BatchReader reader(records, /*check_crc=*/false);
  std::string out = "{\n" + pad(indent + 2) + "\"size_bytes\": " + std::to_string(records.size()) + ",\n";
  out += pad(indent + 2) + "\"batches\": [";
  bool first = true;
  // Each batch is at least a header long, so this loop is bounded.
  while (auto batch = reader.next()) {
    out += (first ? "\n" : ",\n") + pad(indent + 4) + batch_json(*batch, indent + 4);
    first = false;
  }
  out += first ? "]" : "\n" + pad(indent + 2) + "]";
  if (!reader.at_clean_end()) {
    out += ",\n" + pad(indent + 2) + "\"stopped\": " +
           json_string(reader.stop_reason() ? to_string(*reader.stop_reason()) : "?") +
           ", \"tail_hex\": \"" + hex(records.subspan(reader.position())) + "\"";
  }
  return out + "\n" + pad(indent) + "}";
}

}  // namespace samsa::protocol
