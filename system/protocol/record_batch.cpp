#include "system/protocol/record_batch.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "sim/runtime/assert.h"
#include "system/protocol/crc32c.h"
#include "system/protocol/wire.h"

namespace samsa::protocol {
namespace {

// ---- fixed-width big-endian fields (load_be is wire.h's) ----

template <class T>
void store_be(std::uint8_t* p, T value) {
  using U = std::make_unsigned_t<T>;
  auto v = static_cast<U>(value);
  for (std::size_t i = sizeof(T); i-- > 0;) {
    p[i] = static_cast<std::uint8_t>(v & 0xffu);
    v = static_cast<U>(v >> 8);
  }
}

// Field offsets of the v2 header.
constexpr std::size_t k_off_length = 8;
constexpr std::size_t k_off_leader_epoch = 12;
constexpr std::size_t k_off_magic = 16;
constexpr std::size_t k_off_attributes = 21;
constexpr std::size_t k_off_last_offset_delta = 23;
constexpr std::size_t k_off_base_timestamp = 27;
constexpr std::size_t k_off_max_timestamp = 35;
constexpr std::size_t k_off_producer_id = 43;
constexpr std::size_t k_off_producer_epoch = 51;
constexpr std::size_t k_off_base_sequence = 53;
constexpr std::size_t k_off_records_count = 57;
constexpr std::int32_t k_batch_length_min =
    static_cast<std::int32_t>(k_batch_header_bytes - k_batch_log_overhead);

// ---- zigzag varints (Kafka's ByteUtils) ----

// A bounds-checked reader over one record; every read reports failure
// instead of reading past the end.
class Cursor {
 public:
  explicit Cursor(ByteView b) : b_(b) {}
  std::size_t left() const { return b_.size() - pos_; }
  std::size_t pos() const { return pos_; }

  bool varlong(std::int64_t& out) {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= b_.size()) return false;
      const std::uint8_t byte = b_[pos_++];
      v |= std::uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80u) == 0) {
        out = static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
        return true;
      }
    }
    return false;  // more than 10 bytes
  }
  bool varint(std::int32_t& out) {
    std::uint32_t v = 0;
    for (int shift = 0; shift < 32; shift += 7) {
      if (pos_ >= b_.size()) return false;
      const std::uint8_t byte = b_[pos_++];
      v |= std::uint32_t{byte & 0x7fu} << shift;
      if ((byte & 0x80u) == 0) {
        out = static_cast<std::int32_t>((v >> 1) ^ (~(v & 1) + 1));
        return true;
      }
    }
    return false;  // more than 5 bytes
  }
  bool i8(std::int8_t& out) {
    if (pos_ >= b_.size()) return false;
    out = static_cast<std::int8_t>(b_[pos_++]);
    return true;
  }
  bool take(std::size_t n, ByteView& out) {
    if (n > left()) return false;
    out = b_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  // Varint length then bytes; length -1 is null, below -1 is malformed.
  bool nullable_bytes(std::optional<ByteView>& out) {
    std::int32_t n;
    if (!varint(n) || n < -1) return false;
    if (n == -1) {
      out.reset();
      return true;
    }
    ByteView v;
    if (!take(static_cast<std::size_t>(n), v)) return false;
    out = v;
    return true;
  }

 private:
  ByteView b_;
  std::size_t pos_ = 0;
};

std::int64_t wrapping_neg(std::int64_t v) {
  return static_cast<std::int64_t>(std::uint64_t{0} - static_cast<std::uint64_t>(v));
}

std::size_t varlong_size(std::int64_t value) {
  auto v = (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void put_varlong(Bytes& out, std::int64_t value) {
  auto v = (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

// Varints of int32 values encode exactly as varlongs of the same value.
std::size_t varint_size(std::int32_t v) { return varlong_size(v); }
void put_varint(Bytes& out, std::int32_t v) { put_varlong(out, v); }

std::int32_t checked_length(std::size_t n) {
  SAMSA_ASSERT(n <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
               "field longer than 2 GiB");
  return static_cast<std::int32_t>(n);
}

std::size_t nullable_size(const std::optional<ByteView>& b) {
  if (!b) return 1;
  return varint_size(checked_length(b->size())) + b->size();
}

void put_nullable(Bytes& out, const std::optional<ByteView>& b) {
  if (!b) {
    put_varint(out, -1);
    return;
  }
  put_varint(out, checked_length(b->size()));
  out.insert(out.end(), b->begin(), b->end());
}

// Parses headers [count] from `c`, only checking bounds.
bool skip_headers(Cursor& c, std::int32_t count) {
  for (std::int32_t i = 0; i < count; ++i) {
    std::int32_t key_len;
    ByteView key;
    std::optional<ByteView> value;
    if (!c.varint(key_len) || key_len < 0) return false;
    if (!c.take(static_cast<std::size_t>(key_len), key)) return false;
    if (!c.nullable_bytes(value)) return false;
  }
  return true;
}

// One record from the front of `data`; `used` is how many bytes it took.
bool parse_record(ByteView data, const BatchHeader& h, RecordView& r, std::size_t& used) {
  Cursor outer(data);
  std::int32_t length;
  if (!outer.varint(length) || length < 0) return false;
  ByteView body;
  if (!outer.take(static_cast<std::size_t>(length), body)) return false;
  used = outer.pos();

  Cursor c(body);
  std::int32_t header_count;
  if (!c.i8(r.attributes) || !c.varlong(r.timestamp_delta) || !c.varint(r.offset_delta))
    return false;
  if (!c.nullable_bytes(r.key) || !c.nullable_bytes(r.value)) return false;
  if (!c.varint(header_count) || header_count < 0) return false;
  const std::size_t headers_start = c.pos();
  if (!skip_headers(c, header_count)) return false;
  if (c.left() != 0) return false;  // the length field must match the content
  r.headers = HeaderRange(body.subspan(headers_start), header_count);
  r.offset = wrapping_add(h.base_offset, r.offset_delta);
  r.timestamp = h.timestamp_type() == TimestampType::log_append_time
                    ? h.max_timestamp
                    : wrapping_add(h.base_timestamp, r.timestamp_delta);
  return true;
}

BatchErrc from_codec(CodecErrc e) {
  return e == CodecErrc::unsupported ? BatchErrc::unsupported_compression
                                     : BatchErrc::decompress_failed;
}

}  // namespace

std::string_view to_string(BatchErrc e) {
  switch (e) {
    case BatchErrc::truncated: return "truncated";
    case BatchErrc::bad_magic: return "bad_magic";
    case BatchErrc::bad_length: return "bad_length";
    case BatchErrc::crc_mismatch: return "crc_mismatch";
    case BatchErrc::bad_record: return "bad_record";
    case BatchErrc::unsupported_compression: return "unsupported_compression";
    case BatchErrc::decompress_failed: return "decompress_failed";
  }
  return "unknown";
}

std::int32_t BatchHeader::last_sequence() const {
  if (base_sequence == k_no_sequence) return k_no_sequence;
  // As Kafka's DefaultRecordBatch.incrementSequence: past INT32_MAX the
  // sequence wraps to 0. In 64 bits, so that no header from outside overflows.
  constexpr std::int64_t max = std::numeric_limits<std::int32_t>::max();
  const std::int64_t base = base_sequence, delta = last_offset_delta;
  if (base > max - delta) return static_cast<std::int32_t>(delta - (max - base) - 1);
  return static_cast<std::int32_t>(base + delta);
}

Result<BatchHeader, BatchErrc> read_batch_header(ByteView bytes) {
  if (bytes.size() < k_batch_header_bytes) return Err{BatchErrc::truncated};
  const std::uint8_t* p = bytes.data();
  BatchHeader h;
  h.magic = static_cast<std::int8_t>(p[k_off_magic]);
  if (h.magic != k_batch_magic) return Err{BatchErrc::bad_magic};
  h.batch_length = load_be<std::int32_t>(p + k_off_length);
  if (h.batch_length < k_batch_length_min || h.batch_length > k_batch_length_max)
    return Err{BatchErrc::bad_length};
  h.base_offset = load_be<std::int64_t>(p);
  h.partition_leader_epoch = load_be<std::int32_t>(p + k_off_leader_epoch);
  h.crc = load_be<std::uint32_t>(p + k_batch_crc_offset);
  h.attributes = load_be<std::int16_t>(p + k_off_attributes);
  h.last_offset_delta = load_be<std::int32_t>(p + k_off_last_offset_delta);
  h.base_timestamp = load_be<std::int64_t>(p + k_off_base_timestamp);
  h.max_timestamp = load_be<std::int64_t>(p + k_off_max_timestamp);
  h.producer_id = load_be<std::int64_t>(p + k_off_producer_id);
  h.producer_epoch = load_be<std::int16_t>(p + k_off_producer_epoch);
  h.base_sequence = load_be<std::int32_t>(p + k_off_base_sequence);
  h.records_count = load_be<std::int32_t>(p + k_off_records_count);
  return h;
}

Result<BatchSpan, BatchErrc> read_batch_span(ByteView bytes) {
  if (bytes.size() < k_batch_header_bytes) return Err{BatchErrc::truncated};
  const std::uint8_t* p = bytes.data();
  if (static_cast<std::int8_t>(p[k_off_magic]) != k_batch_magic) return Err{BatchErrc::bad_magic};
  const auto batch_length = load_be<std::int32_t>(p + k_off_length);
  if (batch_length < k_batch_length_min || batch_length > k_batch_length_max) return Err{BatchErrc::bad_length};
  return BatchSpan{wrapping_add(load_be<std::int64_t>(p), load_be<std::int32_t>(p + k_off_last_offset_delta)),
                   k_batch_log_overhead + static_cast<std::size_t>(batch_length)};
}

std::uint32_t compute_batch_crc(ByteView whole_batch) {
  SAMSA_ASSERT(whole_batch.size() >= k_batch_header_bytes, "not a whole batch");
  return crc32c(whole_batch.subspan(k_batch_crc_start));
}

bool batch_crc_ok(ByteView whole_batch) {
  if (whole_batch.size() < k_batch_header_bytes) return false;
  return load_be<std::uint32_t>(whole_batch.data() + k_batch_crc_offset) ==
         compute_batch_crc(whole_batch);
}

void set_base_offset(std::span<std::uint8_t> batch, std::int64_t base_offset) {
  SAMSA_ASSERT(batch.size() >= k_batch_header_bytes, "not a whole batch");
  store_be(batch.data(), base_offset);
}

void set_partition_leader_epoch(std::span<std::uint8_t> batch, std::int32_t epoch) {
  SAMSA_ASSERT(batch.size() >= k_batch_header_bytes, "not a whole batch");
  store_be(batch.data() + k_off_leader_epoch, epoch);
}

void set_log_append_time(std::span<std::uint8_t> batch, std::int64_t timestamp_ms) {
  SAMSA_ASSERT(batch.size() >= k_batch_header_bytes, "not a whole batch");
  const auto attributes = load_be<std::int16_t>(batch.data() + k_off_attributes);
  store_be(batch.data() + k_off_attributes, static_cast<std::int16_t>(attributes | 0x8));
  store_be(batch.data() + k_off_max_timestamp, timestamp_ms);
  store_be(batch.data() + k_batch_crc_offset, compute_batch_crc(batch));
}

// ---- BatchReader ----

std::optional<BatchView> BatchReader::next() {
  if (done_) return std::nullopt;
  const ByteView rest = bytes_.subspan(position_);
  auto stop = [&](std::optional<BatchErrc> why) -> std::optional<BatchView> {
    done_ = true;
    stop_ = why;
    return std::nullopt;
  };
  if (rest.empty()) return stop(std::nullopt);
  // Judge what we can see of a partial header first, so that a torn tail
  // with sane fields reads as truncated and garbage reads as corrupt.
  if (rest.size() > k_off_magic && static_cast<std::int8_t>(rest[k_off_magic]) != k_batch_magic)
    return stop(BatchErrc::bad_magic);
  if (rest.size() >= k_batch_log_overhead) {
    const auto length = load_be<std::int32_t>(rest.data() + k_off_length);
    if (length < k_batch_length_min || length > k_batch_length_max)
      return stop(BatchErrc::bad_length);
  }
  auto header = read_batch_header(rest);
  if (!header) return stop(header.error());
  if (rest.size() < header->size_bytes()) return stop(BatchErrc::truncated);
  const ByteView whole = rest.first(header->size_bytes());
  if (check_crc_ && !batch_crc_ok(whole)) return stop(BatchErrc::crc_mismatch);
  BatchView view{*header, whole, position_};
  position_ += whole.size();
  return view;
}

// ---- headers ----

HeaderRange::Iterator HeaderRange::begin() const { return Iterator(bytes_, count_); }
HeaderRange::Iterator HeaderRange::end() const { return Iterator({}, 0); }

HeaderRange::Iterator::Iterator(ByteView rest, std::int32_t left) : rest_(rest), left_(left) {
  if (left_ > 0) parse();
}

HeaderRange::Iterator& HeaderRange::Iterator::operator++() {
  if (--left_ > 0) parse();
  return *this;
}

// Bounds were checked when the record was parsed: failure here is our bug.
void HeaderRange::Iterator::parse() {
  Cursor c(rest_);
  std::int32_t key_len;
  bool ok = c.varint(key_len) && key_len >= 0 &&
            c.take(static_cast<std::size_t>(key_len), current_.key) &&
            c.nullable_bytes(current_.value);
  SAMSA_ASSERT(ok, "record header bytes changed after validation");
  rest_ = rest_.subspan(c.pos());
}

// ---- RecordIterator ----

Result<RecordIterator, BatchErrc> RecordIterator::open(ByteView whole_batch,
                                                       std::size_t decompressed_bytes_max) {
  auto header = read_batch_header(whole_batch);
  if (!header) return Err{header.error()};
  if (whole_batch.size() < header->size_bytes()) return Err{BatchErrc::truncated};
  if (header->records_count < 0) return Err{BatchErrc::bad_record};
  if (!header->compression_known()) return Err{BatchErrc::unsupported_compression};
  const ByteView section =
      whole_batch.subspan(k_batch_header_bytes, header->size_bytes() - k_batch_header_bytes);
  if (header->compression() == Compression::none)
    return RecordIterator(*header, section, {}, false);
  Bytes owned;
  auto done = decompress(header->compression(), section, owned, decompressed_bytes_max);
  if (!done) return Err{from_codec(done.error())};
  return RecordIterator(*header, {}, std::move(owned), true);
}

Result<const RecordView*, BatchErrc> RecordIterator::next() {
  if (failed_) return Err{*failed_};
  const ByteView rest = records().subspan(pos_);
  if (read_ == header_.records_count) {
    if (rest.empty()) return static_cast<const RecordView*>(nullptr);
    failed_ = BatchErrc::bad_record;  // bytes after the last record
    return Err{*failed_};
  }
  std::size_t used = 0;
  if (!parse_record(rest, header_, current_, used)) {
    failed_ = BatchErrc::bad_record;
    return Err{*failed_};
  }
  pos_ += used;
  ++read_;
  return &current_;
}

// ---- BatchBuilder ----

BatchBuilder::BatchBuilder(BatchOptions options) : options_(options) {
  buffer_.reserve(512);
  buffer_.resize(k_batch_header_bytes);
}

void BatchBuilder::append(std::int64_t timestamp_ms, std::optional<ByteView> key,
                          std::optional<ByteView> value, std::span<const HeaderView> headers) {
  SAMSA_ASSERT(count_ < std::numeric_limits<std::int32_t>::max(), "batch full");
  if (count_ == 0) base_timestamp_ = timestamp_ms;
  max_timestamp_ = count_ == 0 ? timestamp_ms : std::max(max_timestamp_, timestamp_ms);
  const std::int64_t ts_delta = wrapping_add(timestamp_ms, wrapping_neg(base_timestamp_));
  const std::int32_t header_count = checked_length(headers.size());

  std::size_t body = 1 + varlong_size(ts_delta) + varint_size(count_) + nullable_size(key) +
                     nullable_size(value) + varint_size(header_count);
  for (const auto& h : headers) body += nullable_size(h.key) + nullable_size(h.value);

  put_varint(buffer_, checked_length(body));
  buffer_.push_back(0);  // record attributes: unused, always 0
  put_varlong(buffer_, ts_delta);
  put_varint(buffer_, count_);
  put_nullable(buffer_, key);
  put_nullable(buffer_, value);
  put_varint(buffer_, header_count);
  for (const auto& h : headers) {
    put_nullable(buffer_, h.key);
    put_nullable(buffer_, h.value);
  }
  ++count_;
}

Bytes BatchBuilder::finish() {
  SAMSA_ASSERT(count_ > 0, "finish() of an empty batch");
  Bytes out;
  if (options_.compression == Compression::none) {
    out = std::move(buffer_);
  } else {
    out.reserve(buffer_.size() / 2 + k_batch_header_bytes);
    out.resize(k_batch_header_bytes);
    const ByteView records = ByteView(buffer_).subspan(k_batch_header_bytes);
    auto done = compress(options_.compression, records, out);
    SAMSA_ASSERT(done.ok(), "compressing a batch failed");
  }
  std::int16_t attributes = static_cast<std::int16_t>(options_.compression);
  if (options_.timestamp_type == TimestampType::log_append_time) attributes |= 0x8;
  if (options_.transactional) attributes |= 0x10;
  if (options_.control) attributes |= 0x20;

  std::uint8_t* p = out.data();
  store_be(p, options_.base_offset);
  store_be(p + k_off_length, checked_length(out.size() - k_batch_log_overhead));
  store_be(p + k_off_leader_epoch, options_.partition_leader_epoch);
  p[k_off_magic] = static_cast<std::uint8_t>(k_batch_magic);
  store_be(p + k_off_attributes, attributes);
  store_be(p + k_off_last_offset_delta, count_ - 1);
  store_be(p + k_off_base_timestamp, base_timestamp_);
  store_be(p + k_off_max_timestamp, max_timestamp_);
  store_be(p + k_off_producer_id, options_.producer_id);
  store_be(p + k_off_producer_epoch, options_.producer_epoch);
  store_be(p + k_off_base_sequence, options_.base_sequence);
  store_be(p + k_off_records_count, count_);
  store_be(p + k_batch_crc_offset, compute_batch_crc(out));
  return out;
}

// ---- control batches ----

Bytes build_control_batch(BatchOptions options, std::int64_t timestamp_ms, ControlRecord marker) {
  options.control = true;
  options.transactional = true;
  std::uint8_t key[4] = {};
  std::uint8_t value[6] = {};
  store_be(key + 2, static_cast<std::int16_t>(marker.type));  // key version 0
  store_be(value + 2, marker.coordinator_epoch);               // value version 0
  BatchBuilder b(options);
  b.append(timestamp_ms, ByteView(key), ByteView(value));
  return b.finish();
}

Result<ControlRecord, BatchErrc> read_control_record(const RecordView& record) {
  if (!record.key || record.key->size() < 4) return Err{BatchErrc::bad_record};
  if (!record.value || record.value->size() < 6) return Err{BatchErrc::bad_record};
  if (load_be<std::int16_t>(record.key->data()) < 0) return Err{BatchErrc::bad_record};
  const auto type = load_be<std::int16_t>(record.key->data() + 2);
  if (type != 0 && type != 1) return Err{BatchErrc::bad_record};
  ControlRecord c;
  c.type = static_cast<ControlType>(type);
  c.coordinator_epoch = load_be<std::int32_t>(record.value->data() + 2);
  return c;
}

}  // namespace samsa::protocol
