#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

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
  REQUIRE((r.ok() && r->has_value()));
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
