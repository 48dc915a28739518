#pragma once
// Kafka record batch v2 (magic 2, KIP-98), byte for byte as Kafka writes it:
//
//   offset  field                   covered by CRC
//   0       base_offset      int64  no
//   8       batch_length     int32  no   (bytes after this field)
//   12      partition_leader_epoch  no
//   16      magic            int8   no   (always 2)
//   17      crc              uint32 no   (CRC-32C of bytes 21..end)
//   21      attributes       int16  yes  (bits 0-2 compression, 3 timestamp
//                                         type, 4 transactional, 5 control,
//                                         6 delete horizon)
//   23      last_offset_delta int32 yes
//   27      base_timestamp   int64  yes
//   35      max_timestamp    int64  yes
//   43      producer_id      int64  yes
//   51      producer_epoch   int16  yes
//   53      base_sequence    int32  yes
//   57      records_count    int32  yes
//   61      records (compressed as a whole when attributes say so)
//
// Each record: length varint, attributes int8, timestamp_delta varlong,
// offset_delta varint, key (varint length, -1 = null), value (same),
// headers (varint count; each key varint length + bytes, value varint length
// + bytes, -1 = null). Varints are zigzag, as in protobuf.
//
// Reading never copies payloads: RecordView points into the batch bytes
// (uncompressed) or into a buffer owned by the RecordIterator (compressed).
// Bad bytes from outside yield a BatchErrc, never a crash or a read past the
// buffer.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "sim/runtime/bytes.h"
#include "sim/runtime/result.h"
#include "system/protocol/compression.h"

namespace samsa::protocol {

inline constexpr std::size_t k_batch_header_bytes = 61;  // record batch v2 header
inline constexpr std::size_t k_batch_log_overhead = 12;  // base offset + batch length
inline constexpr std::size_t k_batch_crc_offset = 17;    // where the CRC field sits
inline constexpr std::size_t k_batch_crc_start = 21;     // CRC covers attributes..end
inline constexpr std::int8_t k_batch_magic = 2;
// Upper bound on batch_length that read_batch_header accepts (Kafka's own
// limit is message.max.bytes, 1 MiB by default; this only rejects garbage).
inline constexpr std::int32_t k_batch_length_max = 1 << 30;
// A decompressed records section larger than this is refused
// (decompress_failed): a small batch must not make us allocate gigabytes.
inline constexpr std::size_t k_decompressed_bytes_max = 256u << 20;  // 256 MiB

inline constexpr std::int64_t k_no_producer_id = -1;
inline constexpr std::int16_t k_no_producer_epoch = -1;
inline constexpr std::int32_t k_no_sequence = -1;
inline constexpr std::int32_t k_no_partition_leader_epoch = -1;
inline constexpr std::int64_t k_no_timestamp = -1;

// Offsets and timestamps add as Java longs do: wrapping, never undefined
// (a batch from outside may hold any base and delta).
inline std::int64_t wrapping_add(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}

enum class TimestampType : std::uint8_t { create_time = 0, log_append_time = 1 };

enum class BatchErrc : std::uint8_t {
  truncated,                // fewer bytes than the header or batch_length say
  bad_magic,                // magic byte is not 2
  bad_length,               // batch_length smaller than a header or absurdly large
  crc_mismatch,             // stored CRC differs from the bytes
  bad_record,               // a record (or the records section) is malformed
  unsupported_compression,  // attribute bits 0-2 name no codec we know
  decompress_failed,        // the codec rejected the data, or it is too large
};
std::string_view to_string(BatchErrc e);

struct BatchHeader {
  std::int64_t base_offset = 0;
  std::int32_t batch_length = 0;
  std::int32_t partition_leader_epoch = k_no_partition_leader_epoch;
  std::int8_t magic = k_batch_magic;
  std::uint32_t crc = 0;
  std::int16_t attributes = 0;
  std::int32_t last_offset_delta = 0;
  std::int64_t base_timestamp = k_no_timestamp;
  std::int64_t max_timestamp = k_no_timestamp;
  std::int64_t producer_id = k_no_producer_id;
  std::int16_t producer_epoch = k_no_producer_epoch;
  std::int32_t base_sequence = k_no_sequence;
  std::int32_t records_count = 0;

  std::int64_t last_offset() const { return wrapping_add(base_offset, last_offset_delta); }
  std::int64_t next_offset() const { return wrapping_add(last_offset(), 1); }
  // Whole batch on the wire / on disk: 12 + batch_length.
  std::size_t size_bytes() const {
    return k_batch_log_overhead + static_cast<std::size_t>(batch_length);
  }
  // Raw bits 0-2; values 5-7 are not a Compression enumerator (see
  // compression_known()).
  Compression compression() const { return static_cast<Compression>(attributes & 0x7); }
  bool compression_known() const { return (attributes & 0x7) <= 4; }
  TimestampType timestamp_type() const {
    return (attributes & 0x8) ? TimestampType::log_append_time : TimestampType::create_time;
  }
  bool is_transactional() const { return (attributes & 0x10) != 0; }
  bool is_control() const { return (attributes & 0x20) != 0; }
  bool has_delete_horizon() const { return (attributes & 0x40) != 0; }
  // Last sequence number of an idempotent batch (wraps like Kafka's).
  std::int32_t last_sequence() const;

  friend bool operator==(const BatchHeader&, const BatchHeader&) = default;
};

// Parses the 61-byte header at the start of `bytes`. Checks that there are
// 61 bytes, that magic is 2 and that batch_length is sane; not the CRC, and
// not that all size_bytes() are present.
Result<BatchHeader, BatchErrc> read_batch_header(ByteView bytes);

// What an offset lookup needs of a batch header (Kafka's
// FileRecords.searchForOffsetWithSize looks only at each batch's last offset
// and size): read_batch_header's checks, without decoding the other fields.
struct BatchSpan {
  std::int64_t last_offset = 0;
  std::size_t size_bytes = 0;
};
Result<BatchSpan, BatchErrc> read_batch_span(ByteView bytes);

// CRC-32C of bytes 21..end of a whole batch (what the crc field must hold).
std::uint32_t compute_batch_crc(ByteView whole_batch);
// True when the stored crc matches; false also for a too-short batch.
bool batch_crc_ok(ByteView whole_batch);

// Fields outside the CRC: rewriting them needs no CRC update.
void set_base_offset(std::span<std::uint8_t> batch, std::int64_t base_offset);
void set_partition_leader_epoch(std::span<std::uint8_t> batch, std::int32_t epoch);
// Broker-side LogAppendTime: sets the timestamp-type bit and max_timestamp,
// then recomputes the CRC (both fields are covered by it).
void set_log_append_time(std::span<std::uint8_t> batch, std::int64_t timestamp_ms);

// One whole batch inside a larger byte range.
struct BatchView {
  BatchHeader header;
  ByteView bytes;             // all header.size_bytes() bytes of the batch
  std::size_t position = 0;   // where it starts in the range read
};

// Walks a byte range of consecutive batches (the `records` of a Produce or
// Fetch, a segment file) and yields whole batches as views. It stops at the
// end, at a partial tail (stop_reason() == truncated: fewer bytes than a
// header or than batch_length say, normal at the end of a Fetch response or
// a torn log write) or at a corrupt batch (bad_magic, bad_length,
// crc_mismatch). position() is then the length of the good prefix.
class BatchReader {
 public:
  explicit BatchReader(ByteView bytes, bool check_crc = true)
      : bytes_(bytes), check_crc_(check_crc) {}

  std::optional<BatchView> next();
  std::size_t position() const { return position_; }
  // Empty while batches keep coming and after a clean end.
  std::optional<BatchErrc> stop_reason() const { return stop_; }
  bool at_clean_end() const { return done_ && !stop_; }

 private:
  ByteView bytes_;
  bool check_crc_;
  std::size_t position_ = 0;
  bool done_ = false;
  std::optional<BatchErrc> stop_;
};

// One record header (Kafka "headers" of a record). Key is a UTF-8 string in
// Kafka; we hand out its bytes as they are.
struct HeaderView {
  ByteView key;
  std::optional<ByteView> value;  // nullopt = null
};

// Iterates the (already bounds-checked) headers of one record.
class HeaderRange {
 public:
  class Iterator;
  HeaderRange() = default;
  HeaderRange(ByteView bytes, std::int32_t count) : bytes_(bytes), count_(count) {}
  std::int32_t size() const { return count_; }
  Iterator begin() const;
  Iterator end() const;

 private:
  ByteView bytes_;
  std::int32_t count_ = 0;
};

class HeaderRange::Iterator {
 public:
  Iterator(ByteView rest, std::int32_t left);
  const HeaderView& operator*() const { return current_; }
  const HeaderView* operator->() const { return &current_; }
  Iterator& operator++();
  bool operator==(const Iterator& o) const { return left_ == o.left_; }

 private:
  void parse();
  ByteView rest_;
  std::int32_t left_;
  HeaderView current_;
};

struct RecordView {
  std::int8_t attributes = 0;
  std::int64_t timestamp_delta = 0;
  std::int32_t offset_delta = 0;
  std::int64_t offset = 0;     // base_offset + offset_delta
  std::int64_t timestamp = 0;  // base_timestamp + delta, or max_timestamp
                               // under LogAppendTime (as Kafka reports it)
  std::optional<ByteView> key;    // nullopt = null
  std::optional<ByteView> value;  // nullopt = null (a tombstone)
  HeaderRange headers;
};

// Records of one batch, in order. For a compressed batch the records section
// is decompressed once into a buffer the iterator owns: views stay valid as
// long as the iterator (and, uncompressed, the batch bytes) live.
class RecordIterator {
 public:
  // `whole_batch` must be exactly one batch (as a BatchView gives it). The
  // CRC is not checked here (BatchReader does that).
  static Result<RecordIterator, BatchErrc> open(
      ByteView whole_batch, std::size_t decompressed_bytes_max = k_decompressed_bytes_max);

  // The next record, nullptr after the last one, or an error for a malformed
  // record, a count that disagrees with the bytes, or trailing bytes. The
  // record lives in the iterator until the next call (copy it to keep it;
  // its views stay valid as said above). Use: `auto r = it.next();
  // if (!r) error; if (!*r) end; (*r)->value`.
  Result<const RecordView*, BatchErrc> next();
  const BatchHeader& header() const { return header_; }

 private:
  RecordIterator(BatchHeader header, ByteView records, Bytes owned, bool use_owned)
      : header_(header), records_(records), owned_(std::move(owned)), use_owned_(use_owned) {}
  ByteView records() const { return use_owned_ ? ByteView(owned_) : records_; }

  BatchHeader header_;
  ByteView records_;  // the records section inside the batch (uncompressed)
  Bytes owned_;       // the decompressed records section (compressed)
  bool use_owned_ = false;
  std::size_t pos_ = 0;  // read position in records()
  std::int32_t read_ = 0;
  RecordView current_;
  std::optional<BatchErrc> failed_;
};

// What a BatchBuilder needs to know besides the records.
struct BatchOptions {
  std::int64_t base_offset = 0;
  std::int32_t partition_leader_epoch = k_no_partition_leader_epoch;
  Compression compression = Compression::none;
  TimestampType timestamp_type = TimestampType::create_time;
  bool transactional = false;
  bool control = false;
  std::int64_t producer_id = k_no_producer_id;
  std::int16_t producer_epoch = k_no_producer_epoch;
  std::int32_t base_sequence = k_no_sequence;
};

// Appends records into one growing buffer; finish() writes the header, the
// (optionally compressed) records and the CRC. Offset deltas are 0, 1, 2, ...
// base_timestamp is the first record's timestamp.
class BatchBuilder {
 public:
  explicit BatchBuilder(BatchOptions options);

  void append(std::int64_t timestamp_ms, std::optional<ByteView> key,
              std::optional<ByteView> value, std::span<const HeaderView> headers = {});
  std::int32_t records_count() const { return count_; }
  // Bytes of the batch so far if it were finished uncompressed.
  std::size_t size_bytes() const { return buffer_.size(); }
  // At least one record must have been appended. The builder is spent.
  Bytes finish();

 private:
  BatchOptions options_;
  Bytes buffer_;  // 61 reserved header bytes, then the records
  std::int32_t count_ = 0;
  std::int64_t base_timestamp_ = k_no_timestamp;
  std::int64_t max_timestamp_ = k_no_timestamp;
};

// Transaction markers (control batches, KIP-98).
enum class ControlType : std::int16_t { abort = 0, commit = 1 };
struct ControlRecord {
  ControlType type = ControlType::abort;
  std::int32_t coordinator_epoch = 0;
  friend bool operator==(const ControlRecord&, const ControlRecord&) = default;
};

// A transactional control batch with one marker record.
Bytes build_control_batch(BatchOptions options, std::int64_t timestamp_ms, ControlRecord marker);
// Reads the marker from a record of a control batch (key: version int16 +
// type int16; value: version int16 + coordinator epoch int32). Unknown types
// are bad_record.
Result<ControlRecord, BatchErrc> read_control_record(const RecordView& record);

}  // namespace samsa::protocol
