#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "system/protocol/record_batch.h"

using namespace samsa::protocol;
using samsa::as_bytes;
using samsa::as_chars;
using samsa::Bytes;
using samsa::ByteView;

namespace {

// An owned copy of a record, to compare what was written with what is read.
struct PlainHeader {
  std::string key;
  std::optional<std::string> value;
  friend bool operator==(const PlainHeader&, const PlainHeader&) = default;
};
struct PlainRecord {
  std::int64_t timestamp = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<PlainHeader> headers;
  friend bool operator==(const PlainRecord&, const PlainRecord&) = default;
};

std::optional<ByteView> view(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return as_bytes(*s);
}
std::optional<std::string> plain(const std::optional<ByteView>& b) {
  if (!b) return std::nullopt;
  return std::string(as_chars(*b));
}

Bytes build(const BatchOptions& options, const std::vector<PlainRecord>& records) {
  BatchBuilder b(options);
  for (const auto& r : records) {
    std::vector<HeaderView> hs;
    for (const auto& h : r.headers) hs.push_back({as_bytes(h.key), view(h.value)});
    b.append(r.timestamp, view(r.key), view(r.value), hs);
  }
  return b.finish();
}

std::vector<PlainRecord> read_all(ByteView batch) {
  auto it = RecordIterator::open(batch);
  REQUIRE(it.ok());
  std::vector<PlainRecord> out;
  for (;;) {
    auto r = it->next();
    REQUIRE(r.ok());
    if (!*r) break;
    PlainRecord p{(*r)->timestamp, plain((*r)->key), plain((*r)->value), {}};
    for (const auto& h : (*r)->headers) p.headers.push_back({std::string(as_chars(h.key)), plain(h.value)});
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

TEST_CASE("a built batch has the v2 header fields", "[protocol][record_batch]") {
  BatchOptions o;
  o.base_offset = 100;
  o.partition_leader_epoch = 7;
  o.producer_id = 42;
  o.producer_epoch = 3;
  o.base_sequence = 10;
  const Bytes batch = build(o, {{1000, "k1", "v1", {}}, {1005, std::nullopt, "v2", {{"h", "x"}}},
                                {999, "k3", std::nullopt, {}}});
  auto h = read_batch_header(batch);
  REQUIRE(h.ok());
  CHECK(h->base_offset == 100);
  CHECK(h->size_bytes() == batch.size());
  CHECK(h->partition_leader_epoch == 7);
  CHECK(h->magic == 2);
  CHECK(h->last_offset_delta == 2);
  CHECK(h->last_offset() == 102);
  CHECK(h->base_timestamp == 1000);
  CHECK(h->max_timestamp == 1005);
  CHECK(h->producer_id == 42);
  CHECK(h->producer_epoch == 3);
  CHECK(h->base_sequence == 10);
  CHECK(h->last_sequence() == 12);
  CHECK(h->records_count == 3);
  CHECK(h->compression() == Compression::none);
  CHECK_FALSE(h->is_transactional());
  CHECK_FALSE(h->is_control());
  CHECK(batch_crc_ok(batch));
  const auto records = read_all(batch);
  REQUIRE(records.size() == 3);
  CHECK(records[1].key == std::nullopt);
  CHECK(records[1].headers == std::vector<PlainHeader>{{"h", "x"}});
  CHECK(records[2].value == std::nullopt);
  CHECK(records[2].timestamp == 999);
}

TEST_CASE("base offset and leader epoch are rewritten without touching the CRC",
          "[protocol][record_batch]") {
  Bytes batch = build({}, {{1, "k", "v", {}}});
  set_base_offset(batch, 12345);
  set_partition_leader_epoch(batch, 9);
  CHECK(batch_crc_ok(batch));
  auto h = read_batch_header(batch);
  REQUIRE(h.ok());
  CHECK(h->base_offset == 12345);
  CHECK(h->partition_leader_epoch == 9);
  auto it = RecordIterator::open(batch);
  REQUIRE(it.ok());
  auto r = it->next();
  REQUIRE((r.ok() && *r != nullptr));
  CHECK((*r)->offset == 12345);
}

TEST_CASE("read_batch_header rejects short, foreign and absurd headers", "[protocol][record_batch]") {
  Bytes batch = build({}, {{1, "k", "v", {}}});
  CHECK(read_batch_header(ByteView(batch).first(60)).error() == BatchErrc::truncated);
  Bytes magic = batch;
  magic[16] = 1;
  CHECK(read_batch_header(magic).error() == BatchErrc::bad_magic);
  Bytes length = batch;
  length[8] = 0x7f;
  CHECK(read_batch_header(length).error() == BatchErrc::bad_length);
  Bytes small = batch;
  small[8] = small[9] = small[10] = 0;
  small[11] = 48;
  CHECK(read_batch_header(small).error() == BatchErrc::bad_length);
}

TEST_CASE("read_batch_span agrees with read_batch_header on any bytes", "[protocol][record_batch]") {
  // The offset lookup's short parse must accept and reject exactly what the
  // full one does, and give the same last offset and size.
  rc::prop("same verdict, last offset and size", [] {
    Bytes bytes = build({}, {{1, "k", "v", {}}});
    const auto cut = *rc::gen::inRange<std::size_t>(0, bytes.size() + 1);
    bytes.resize(cut);
    const auto flips = *rc::gen::container<std::vector<std::pair<std::size_t, std::uint8_t>>>(
        rc::gen::pair(rc::gen::inRange<std::size_t>(0, 64), rc::gen::arbitrary<std::uint8_t>()));
    for (const auto& [at, v] : flips)
      if (at < bytes.size()) bytes[at] = v;
    const auto h = read_batch_header(bytes);
    const auto s = read_batch_span(bytes);
    RC_ASSERT(h.ok() == s.ok());
    if (!h.ok()) {
      RC_ASSERT(h.error() == s.error());
      return;
    }
    RC_ASSERT(s->last_offset == h->last_offset());
    RC_ASSERT(s->size_bytes == h->size_bytes());
  });
}

TEST_CASE("BatchReader yields whole batches and reports a partial tail", "[protocol][record_batch]") {
  Bytes stream;
  for (int i = 0; i < 3; ++i) {
    BatchOptions o;
    o.base_offset = i * 10;
    const Bytes b = build(o, {{i, "k", std::string(i * 7, 'x'), {}}});
    stream.insert(stream.end(), b.begin(), b.end());
  }
  BatchReader all(stream);
  int n = 0;
  while (auto b = all.next()) CHECK(b->header.base_offset == 10 * n++);
  CHECK(n == 3);
  CHECK(all.at_clean_end());
  CHECK(all.position() == stream.size());

  BatchReader cut(ByteView(stream).first(stream.size() - 1));
  n = 0;
  while (cut.next()) ++n;
  CHECK(n == 2);
  CHECK(cut.stop_reason() == BatchErrc::truncated);
}

namespace {

rc::Gen<std::optional<std::string>> gen_nullable() {
  return rc::gen::oneOf(rc::gen::just(std::optional<std::string>{}),
                        rc::gen::map(rc::gen::string<std::string>(),
                                     [](std::string s) { return std::optional<std::string>(s); }));
}

rc::Gen<PlainRecord> gen_record() {
  return rc::gen::build<PlainRecord>(
      rc::gen::set(&PlainRecord::timestamp, rc::gen::inRange<std::int64_t>(0, 1LL << 42)),
      rc::gen::set(&PlainRecord::key, gen_nullable()),
      rc::gen::set(&PlainRecord::value, gen_nullable()),
      rc::gen::set(&PlainRecord::headers,
                   rc::gen::container<std::vector<PlainHeader>>(rc::gen::build<PlainHeader>(
                       rc::gen::set(&PlainHeader::key, rc::gen::string<std::string>()),
                       rc::gen::set(&PlainHeader::value, gen_nullable())))));
}

rc::Gen<Compression> gen_compression() {
  return rc::gen::element(Compression::none, Compression::gzip, Compression::snappy,
                          Compression::lz4, Compression::zstd);
}

BatchOptions gen_options() {
  BatchOptions o;
  o.base_offset = *rc::gen::inRange<std::int64_t>(0, 1LL << 50);
  o.partition_leader_epoch = *rc::gen::inRange<std::int32_t>(-1, 1000);
  o.compression = *gen_compression();
  o.transactional = *rc::gen::arbitrary<bool>();
  o.producer_id = *rc::gen::inRange<std::int64_t>(-1, 1LL << 40);
  o.producer_epoch = *rc::gen::inRange<std::int16_t>(-1, 100);
  o.base_sequence = *rc::gen::inRange<std::int32_t>(-1, 1 << 30);
  return o;
}

Bytes concat(const std::vector<Bytes>& parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace

TEST_CASE("batches round-trip through builder and iterator", "[protocol][record_batch]") {
  rc::prop("records read back equal to those written, in every compression", [] {
    const BatchOptions o = gen_options();
    const auto records = *rc::gen::nonEmpty(rc::gen::container<std::vector<PlainRecord>>(gen_record()));
    const Bytes batch = build(o, records);
    RC_ASSERT(batch_crc_ok(batch));
    auto h = read_batch_header(batch);
    RC_ASSERT(h.ok());
    RC_ASSERT(h->size_bytes() == batch.size());
    RC_ASSERT(h->compression() == o.compression);
    RC_ASSERT(h->is_transactional() == o.transactional);
    RC_ASSERT(h->base_offset == o.base_offset);
    RC_ASSERT(h->last_offset_delta == static_cast<std::int32_t>(records.size()) - 1);
    RC_ASSERT(h->base_timestamp == records.front().timestamp);
    std::int64_t max_ts = records.front().timestamp;
    for (const auto& r : records) max_ts = std::max(max_ts, r.timestamp);
    RC_ASSERT(h->max_timestamp == max_ts);
    RC_ASSERT(read_all(batch) == records);

    auto it = RecordIterator::open(batch);
    RC_ASSERT(it.ok());
    for (std::int64_t expect = o.base_offset;; ++expect) {
      auto r = it->next();
      RC_ASSERT(r.ok());
      if (!*r) break;
      RC_ASSERT((*r)->offset == expect);
    }
  });
}

TEST_CASE("the CRC catches every single-byte change it covers", "[protocol][record_batch]") {
  rc::prop("flipping any byte from offset 21 on makes batch_crc_ok false", [] {
    const BatchOptions o = gen_options();
    // Small batches, so that trying every position stays quick.
    const auto records = *rc::gen::resize(
        20, rc::gen::nonEmpty(rc::gen::container<std::vector<PlainRecord>>(gen_record())));
    Bytes batch = build(o, records);
    const auto flip = *rc::gen::inRange<std::uint8_t>(1, 255);
    for (std::size_t at = k_batch_crc_start; at < batch.size(); ++at) {  // every position
      batch[at] ^= flip;
      RC_ASSERT(!batch_crc_ok(batch));
      batch[at] ^= flip;
    }
    const std::size_t at = *rc::gen::inRange<std::size_t>(k_batch_crc_start, batch.size());
    batch[at] ^= flip;
    BatchReader reader(batch);
    RC_ASSERT(!reader.next());
    RC_ASSERT(reader.stop_reason().has_value());
  });
}

TEST_CASE("a cut batch stream yields its whole batches, then stops", "[protocol][record_batch]") {
  rc::prop("every prefix of a valid stream reads as its whole batches plus a truncated tail", [] {
    std::vector<Bytes> batches;
    std::vector<std::size_t> ends;
    const int n = *rc::gen::inRange(1, 5);
    for (int i = 0; i < n; ++i) {
      BatchOptions o = gen_options();
      batches.push_back(build(o, *rc::gen::nonEmpty(rc::gen::container<std::vector<PlainRecord>>(gen_record()))));
      ends.push_back((ends.empty() ? 0 : ends.back()) + batches.back().size());
    }
    const Bytes stream = concat(batches);
    const std::size_t cut = *rc::gen::inRange<std::size_t>(0, stream.size() + 1);
    BatchReader reader(ByteView(stream).first(cut));
    std::size_t whole = 0;
    while (auto b = reader.next()) {
      RC_ASSERT(b->position + b->bytes.size() == ends[whole]);
      ++whole;
    }
    const auto expect_whole = static_cast<std::size_t>(
        std::upper_bound(ends.begin(), ends.end(), cut) - ends.begin());
    RC_ASSERT(whole == expect_whole);
    RC_ASSERT(reader.position() == (whole == 0 ? 0 : ends[whole - 1]));
    if (reader.position() == cut)
      RC_ASSERT(reader.at_clean_end());
    else
      RC_ASSERT(reader.stop_reason() == std::optional<BatchErrc>(BatchErrc::truncated));
  });
}

TEST_CASE("malformed records are errors, never reads past the buffer", "[protocol][record_batch]") {
  rc::prop("any damage to the records section gives records or bad_record", [] {
    BatchOptions o = gen_options();
    o.compression = Compression::none;
    const auto records = *rc::gen::nonEmpty(rc::gen::container<std::vector<PlainRecord>>(gen_record()));
    Bytes batch = build(o, records);
    const std::size_t at = *rc::gen::inRange<std::size_t>(k_batch_header_bytes - 4, batch.size());
    batch[at] ^= *rc::gen::inRange<std::uint8_t>(1, 255);
    // A copy with exactly the batch's bytes, so ASan sees any overread.
    auto it = RecordIterator::open(batch);
    if (!it.ok()) return;
    for (int i = 0; i <= static_cast<int>(records.size()) + 1; ++i) {
      auto r = it->next();
      if (!r.ok()) {
        RC_ASSERT(r.error() == BatchErrc::bad_record);
        return;
      }
      if (!*r) return;
    }
    RC_FAIL("iterator went past records_count");
  });
  rc::prop("damaged compressed records give decompress_failed or bad_record", [] {
    BatchOptions o = gen_options();
    o.compression = *rc::gen::element(Compression::gzip, Compression::snappy, Compression::lz4,
                                      Compression::zstd);
    Bytes batch = build(o, *rc::gen::nonEmpty(rc::gen::container<std::vector<PlainRecord>>(gen_record())));
    const std::size_t at = *rc::gen::inRange<std::size_t>(k_batch_header_bytes, batch.size());
    batch[at] ^= *rc::gen::inRange<std::uint8_t>(1, 255);
    auto it = RecordIterator::open(batch);
    if (!it.ok()) {
      RC_ASSERT(it.error() == BatchErrc::decompress_failed);
      return;
    }
    for (;;) {
      auto r = it->next();
      if (!r.ok()) {
        RC_ASSERT(r.error() == BatchErrc::bad_record);
        return;
      }
      if (!*r) return;
    }
  });
}

TEST_CASE("record iteration checks count and trailing bytes", "[protocol][record_batch]") {
  Bytes batch = build({}, {{1, "a", "b", {}}, {2, "c", "d", {}}});
  Bytes fewer = batch;
  fewer[60] = 1;  // records_count 2 -> 1: a record is left over
  auto it = RecordIterator::open(fewer);
  REQUIRE(it.ok());
  REQUIRE(it->next().ok());
  CHECK(it->next().error() == BatchErrc::bad_record);
  Bytes more = batch;
  more[60] = 3;  // one record missing
  auto it2 = RecordIterator::open(more);
  REQUIRE(it2.ok());
  REQUIRE(it2->next().ok());
  REQUIRE(it2->next().ok());
  CHECK(it2->next().error() == BatchErrc::bad_record);
  Bytes unknown = batch;
  unknown[22] |= 0x7;  // compression 7
  CHECK(RecordIterator::open(unknown).error() == BatchErrc::unsupported_compression);
}

TEST_CASE("control batches carry transaction markers", "[protocol][record_batch]") {
  for (ControlType type : {ControlType::abort, ControlType::commit}) {
    BatchOptions o;
    o.base_offset = 77;
    o.producer_id = 5;
    o.producer_epoch = 2;
    const Bytes batch = build_control_batch(o, 1234, {type, 17});
    REQUIRE(batch_crc_ok(batch));
    auto h = read_batch_header(batch);
    REQUIRE(h.ok());
    CHECK(h->is_control());
    CHECK(h->is_transactional());
    CHECK(h->producer_id == 5);
    CHECK(h->records_count == 1);
    auto it = RecordIterator::open(batch);
    REQUIRE(it.ok());
    auto r = it->next();
    REQUIRE((r.ok() && *r != nullptr));
    CHECK((*r)->offset == 77);
    CHECK((*r)->timestamp == 1234);
    auto marker = read_control_record(**r);
    REQUIRE(marker.ok());
    CHECK(*marker == ControlRecord{type, 17});
    // Byte-exact key and value, as Kafka's ControlRecordType / EndTransactionMarker write them.
    CHECK(Bytes((*r)->key->begin(), (*r)->key->end()) ==
          Bytes{0, 0, 0, static_cast<std::uint8_t>(type)});
    CHECK(Bytes((*r)->value->begin(), (*r)->value->end()) == Bytes{0, 0, 0, 0, 0, 17});
  }
  RecordView plain_record;
  CHECK(read_control_record(plain_record).error() == BatchErrc::bad_record);
}

TEST_CASE("LogAppendTime rewrites max timestamp and record timestamps", "[protocol][record_batch]") {
  Bytes batch = build({}, {{10, "a", "b", {}}, {20, "c", "d", {}}});
  set_log_append_time(batch, 5000);
  REQUIRE(batch_crc_ok(batch));
  auto h = read_batch_header(batch);
  REQUIRE(h.ok());
  CHECK(h->timestamp_type() == TimestampType::log_append_time);
  CHECK(h->max_timestamp == 5000);
  for (const auto& r : read_all(batch)) CHECK(r.timestamp == 5000);
}

TEST_CASE("a hand-written batch decodes to the expected fields", "[protocol][record_batch]") {
  // One record, key "k", value "v", no headers, base offset 0, written field
  // by field from the v2 layout (not by our builder).
  Bytes b = {0, 0, 0, 0, 0, 0, 0, 0,  // base offset
             0, 0, 0, 58,             // batch length = 70 - 12
             0xff, 0xff, 0xff, 0xff,  // partition leader epoch -1 (as producers send)
             2,                       // magic
             0, 0, 0, 0,              // crc, filled below
             0, 0,                    // attributes
             0, 0, 0, 0,              // last offset delta
             0, 0, 0, 0, 0, 0, 0, 100,    // base timestamp
             0, 0, 0, 0, 0, 0, 0, 100,    // max timestamp
             0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // producer id -1
             0xff, 0xff,              // producer epoch -1
             0xff, 0xff, 0xff, 0xff,  // base sequence -1
             0, 0, 0, 1,              // records count
             // record: length 8 (zigzag 16), attributes, ts delta 0, offset delta 0,
             // key len 1 (2) 'k', value len 1 (2) 'v', headers 0
             16, 0, 0, 0, 2, 'k', 2, 'v', 0};
  REQUIRE(b.size() == 70);
  const std::uint32_t crc = compute_batch_crc(b);
  for (int i = 0; i < 4; ++i) b[17 + i] = static_cast<std::uint8_t>(crc >> (24 - 8 * i));
  REQUIRE(batch_crc_ok(b));
  const auto records = read_all(b);
  REQUIRE(records.size() == 1);
  CHECK(records[0] == PlainRecord{100, "k", "v", {}});
  // And our builder writes the very same bytes.
  CHECK(build({}, {{100, "k", "v", {}}}) == b);
}

namespace {

// tests/data/records/ (see tests/data/README.md).
Bytes golden(const std::string& name) {
  const std::string dir = std::string(SAMSA_TEST_DATA_DIR) + "/records/";
  std::ifstream in(dir + name, std::ios::binary);
  REQUIRE(in.good());
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// What tools/make-record-goldens.py writes into every batch.
const std::vector<PlainRecord> k_golden_records = {
    {1700000000000, "key-0", [] { std::string s; for (int i = 0; i < 8; ++i) s += "value-0 "; return s; }(),
     {{"trace", "abc"}, {"empty", std::nullopt}}},
    {1700000000005, std::nullopt, [] { std::string s; for (int i = 0; i < 8; ++i) s += "value-1 "; return s; }(), {}},
    {1699999999990, "key-2", std::nullopt, {{"h", ""}}},
};

}  // namespace

TEST_CASE("batches written by kafka-python decode field by field", "[protocol][record_batch][golden]") {
  SECTION("uncompressed") {
    const Bytes batch = golden("kafka_python_none.bin");
    REQUIRE(batch_crc_ok(batch));
    auto h = read_batch_header(batch);
    REQUIRE(h.ok());
    CHECK(h->size_bytes() == batch.size());
    CHECK(h->compression() == Compression::none);
    CHECK(h->records_count == 3);
    CHECK(h->last_offset_delta == 2);
    CHECK(h->base_timestamp == 1700000000000);
    CHECK(h->max_timestamp == 1700000000005);
    CHECK(h->producer_id == -1);
    CHECK_FALSE(h->is_transactional());
    CHECK(read_all(batch) == k_golden_records);
    // Our builder writes the same bytes (kafka-python sends leader epoch 0).
    BatchOptions o;
    o.partition_leader_epoch = 0;
    CHECK(build(o, k_golden_records) == batch);
  }
  SECTION("gzip, transactional, idempotent") {
    const Bytes batch = golden("kafka_python_gzip.bin");
    REQUIRE(batch_crc_ok(batch));
    auto h = read_batch_header(batch);
    REQUIRE(h.ok());
    CHECK(h->compression() == Compression::gzip);
    CHECK(h->is_transactional());
    CHECK(h->producer_id == 1000);
    CHECK(h->producer_epoch == 5);
    CHECK(h->base_sequence == 42);
    CHECK(h->last_sequence() == 44);
    CHECK(read_all(batch) == k_golden_records);
  }
}

namespace {

// A batch around a hand-written records section, with correct length and CRC.
Bytes batch_around(const Bytes& records_section, std::int32_t count) {
  Bytes b = build({}, {{0, "k", "v", {}}});
  b.resize(k_batch_header_bytes);
  b.insert(b.end(), records_section.begin(), records_section.end());
  const auto length = static_cast<std::uint32_t>(b.size() - k_batch_log_overhead);
  for (int i = 0; i < 4; ++i) {
    b[8 + i] = static_cast<std::uint8_t>(length >> (24 - 8 * i));
    b[57 + i] = static_cast<std::uint8_t>(static_cast<std::uint32_t>(count) >> (24 - 8 * i));
  }
  const std::uint32_t crc = compute_batch_crc(b);
  for (int i = 0; i < 4; ++i) b[17 + i] = static_cast<std::uint8_t>(crc >> (24 - 8 * i));
  return b;
}

BatchErrc first_error(const Bytes& batch) {
  auto it = RecordIterator::open(batch);
  if (!it) return it.error();
  for (;;) {
    auto r = it->next();
    if (!r) return r.error();
    REQUIRE(*r != nullptr);  // these batches must fail before their end
  }
}

}  // namespace

TEST_CASE("hand-made malformed records are bad_record", "[protocol][record_batch]") {
  // The good record: length 8 (zigzag 16), attrs, ts 0, offset 0, key "k", value "v", 0 headers.
  const Bytes good = {16, 0, 0, 0, 2, 'k', 2, 'v', 0};
  REQUIRE(read_all(batch_around(good, 1)).size() == 1);
  // Length says 9 but the fields end after 8: a stray byte inside the record.
  CHECK(first_error(batch_around({18, 0, 0, 0, 2, 'k', 2, 'v', 0, 0}, 1)) == BatchErrc::bad_record);
  // Length says 7: the headers count falls outside the record.
  CHECK(first_error(batch_around({14, 0, 0, 0, 2, 'k', 2, 'v', 0}, 1)) == BatchErrc::bad_record);
  // Negative record length.
  CHECK(first_error(batch_around({1, 0}, 1)) == BatchErrc::bad_record);
  // Key length -2 (zigzag 3).
  CHECK(first_error(batch_around({12, 0, 0, 0, 3, 'k', 2, 'v', 0}, 1)) == BatchErrc::bad_record);
  // Key length beyond the record.
  CHECK(first_error(batch_around({16, 0, 0, 0, 40, 'k', 2, 'v', 0}, 1)) == BatchErrc::bad_record);
  // Header count 1 with a negative header key length.
  CHECK(first_error(batch_around({18, 0, 0, 0, 2, 'k', 2, 'v', 2, 1}, 1)) == BatchErrc::bad_record);
  // A varint longer than 5 bytes.
  CHECK(first_error(batch_around({0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 1)) == BatchErrc::bad_record);
  // Negative records count.
  CHECK(first_error(batch_around(good, -1)) == BatchErrc::bad_record);
}

TEST_CASE("extreme header values wrap like Java longs instead of overflowing",
          "[protocol][record_batch]") {
  // base_timestamp INT64_MIN and a record timestamp delta of -1 (zigzag 1);
  // base_offset INT64_MAX and last_offset_delta 1 (found by tools/fuzz decode).
  Bytes b = batch_around({16, 0, 1, 0, 2, 'k', 2, 'v', 0}, 1);
  b[27] = 0x80;
  for (int i = 28; i < 35; ++i) b[i] = 0;
  b[0] = 0x7f;
  for (int i = 1; i < 8; ++i) b[i] = 0xff;
  b[26] = 1;  // last_offset_delta = 1
  const std::uint32_t crc = compute_batch_crc(b);
  for (int i = 0; i < 4; ++i) b[17 + i] = static_cast<std::uint8_t>(crc >> (24 - 8 * i));
  auto h = read_batch_header(b);
  REQUIRE(h.ok());
  CHECK(h->last_offset() == std::numeric_limits<std::int64_t>::min());
  auto it = RecordIterator::open(b);
  REQUIRE(it.ok());
  auto r = it->next();
  REQUIRE((r.ok() && *r != nullptr));
  CHECK((*r)->timestamp == std::numeric_limits<std::int64_t>::max());
  CHECK((*r)->offset == std::numeric_limits<std::int64_t>::max());

  BatchHeader seq;
  seq.base_sequence = std::numeric_limits<std::int32_t>::max() - 1;
  seq.last_offset_delta = 3;
  CHECK(seq.last_sequence() == 1);  // ..., INT32_MAX, 0, 1 (Kafka's wrap)
  seq.base_sequence = 5;
  seq.last_offset_delta = std::numeric_limits<std::int32_t>::min();  // garbage from outside
  (void)seq.last_sequence();  // defined, whatever it is
}
