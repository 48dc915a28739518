#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>

#include "system/log/index.h"

using namespace samsa::log;
using samsa::Bytes;

namespace {

// Strictly increasing (offset, position) entries above `base`.
std::vector<OffsetEntry> gen_entries(std::int64_t base) {
  const auto steps = *rc::gen::container<std::vector<std::pair<std::uint16_t, std::uint16_t>>>(
      rc::gen::pair(rc::gen::inRange<std::uint16_t>(1, 500), rc::gen::inRange<std::uint16_t>(1, 5000)));
  std::vector<OffsetEntry> out;
  std::int64_t offset = base;
  std::uint32_t position = 0;
  for (const auto& [d_offset, d_position] : steps) {
    out.push_back({offset, position});
    offset += d_offset;
    position += d_position;
  }
  return out;
}

}  // namespace

TEST_CASE("offset index lookup finds the last entry at or below the target", "[log]") {
  rc::prop("binary search agrees with a linear scan", [] {
    const auto base = *rc::gen::inRange<std::int64_t>(0, 1'000'000);
    const auto entries = gen_entries(base);
    OffsetIndex index(base, 1 << 20);
    for (const auto& e : entries) index.append(e.offset, e.position);
    const auto target = *rc::gen::inRange<std::int64_t>(base - 10, base + 600 * (entries.size() + 1));
    std::optional<OffsetEntry> expected;
    for (const auto& e : entries)
      if (e.offset <= target) expected = e;
    RC_ASSERT(index.lookup(target) == expected);
  });
}

TEST_CASE("index files round-trip in Kafka's format", "[log]") {
  rc::prop("decode(encode(index)) == index, 8 bytes an entry", [] {
    const auto base = *rc::gen::inRange<std::int64_t>(0, 1'000'000);
    const auto entries = gen_entries(base);
    OffsetIndex index(base, 1 << 20);
    for (const auto& e : entries) index.append(e.offset, e.position);
    const Bytes file = index.encode();
    RC_ASSERT(file.size() == entries.size() * 8);
    auto back = OffsetIndex::decode(file, base, 1 << 20, 1ull << 32);
    RC_ASSERT(back.ok());
    RC_ASSERT(back->entries() == entries);
  });
  rc::prop("time index: decode(encode(index)) == index, 12 bytes an entry", [] {
    const auto base = *rc::gen::inRange<std::int64_t>(0, 1'000'000);
    const auto entries = gen_entries(base);
    TimeIndex index(base, 1 << 20);
    std::int64_t ts = 1'700'000'000'000;
    for (const auto& e : entries) index.maybe_append(ts += e.position, e.offset);
    const Bytes file = index.encode();
    RC_ASSERT(file.size() == index.size() * 12);
    auto back = TimeIndex::decode(file, base, 1 << 20);
    RC_ASSERT(back.ok());
    RC_ASSERT(back->entries() == index.entries());
  });
}

TEST_CASE("index entries use Kafka's big-endian layout", "[log]") {
  OffsetIndex index(170410, 10);
  index.append(170410 + 7, 0x01020304);
  CHECK(index.encode() == Bytes{0, 0, 0, 7, 1, 2, 3, 4});
  TimeIndex times(170410, 10);
  times.maybe_append(0x0102, 170411);
  times.maybe_append(0x0102, 170412);  // not larger: no entry
  CHECK(times.encode() == Bytes{0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 1});
}

TEST_CASE("garbage index files are refused, not trusted", "[log]") {
  CHECK_FALSE(OffsetIndex::decode(Bytes(7, 0), 0, 10, 100).ok());                 // partial entry
  CHECK_FALSE(OffsetIndex::decode(Bytes{0, 0, 0, 1, 0, 0, 0, 200}, 0, 10, 100).ok());  // past the log
  CHECK_FALSE(OffsetIndex::decode(Bytes{0, 0, 0, 2, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 9}, 0, 10, 100)
                  .ok());  // offsets go back
  CHECK_FALSE(OffsetIndex::decode(Bytes(8 * 11, 0), 0, 10, 100).ok());  // more than fits
  rc::prop("decoding arbitrary bytes never crashes", [](const std::vector<std::uint8_t>& bytes) {
    (void)OffsetIndex::decode(bytes, 5, 100, 1000);
    (void)TimeIndex::decode(bytes, 5, 100);
  });
}

TEST_CASE("a full index says so and truncation drops entries at and above an offset", "[log]") {
  OffsetIndex index(100, 3);
  index.append(101, 10);
  index.append(105, 20);
  CHECK_FALSE(index.full());
  index.append(109, 30);
  CHECK(index.full());
  index.truncate_to(105);
  CHECK(index.entries() == std::vector<OffsetEntry>{{101, 10}});
  CHECK(index.lookup(100) == std::nullopt);
  CHECK(index.lookup(104)->offset == 101);
}
