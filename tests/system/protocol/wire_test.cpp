#include <catch2/catch.hpp>
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <limits>

#include "system/protocol/wire.h"

using namespace samsa;
using namespace samsa::protocol;

namespace {
template <class F>
Bytes written(F&& f) {
  Bytes out;
  Writer w(out);
  f(w);
  return out;
}
}  // namespace

TEST_CASE("varints match Kafka's byte layout", "[protocol][wire]") {
  CHECK(written([](Writer& w) { w.unsigned_varint(0); }) == Bytes{0x00});
  CHECK(written([](Writer& w) { w.unsigned_varint(127); }) == Bytes{0x7f});
  CHECK(written([](Writer& w) { w.unsigned_varint(128); }) == Bytes{0x80, 0x01});
  CHECK(written([](Writer& w) { w.unsigned_varint(300); }) == Bytes{0xac, 0x02});
  CHECK(written([](Writer& w) { w.unsigned_varint(0xffffffffu); }) == Bytes{0xff, 0xff, 0xff, 0xff, 0x0f});
  // zigzag: 0, -1, 1, -2 -> 0, 1, 2, 3
  CHECK(written([](Writer& w) { w.varint(0); w.varint(-1); w.varint(1); w.varint(-2); }) ==
        Bytes{0x00, 0x01, 0x02, 0x03});
  CHECK(written([](Writer& w) { w.varint(std::numeric_limits<std::int32_t>::min()); }) ==
        Bytes{0xff, 0xff, 0xff, 0xff, 0x0f});
  CHECK(written([](Writer& w) { w.varlong(std::numeric_limits<std::int64_t>::min()); }) ==
        Bytes{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01});
}

TEST_CASE("fixed-width ints are big-endian", "[protocol][wire]") {
  CHECK(written([](Writer& w) { w.int16(0x0102); w.int32(-2); }) == Bytes{0x01, 0x02, 0xff, 0xff, 0xff, 0xfe});
  Bytes b{0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
  Reader r(b);
  CHECK(*r.int64() == std::numeric_limits<std::int64_t>::min() + 1);
  CHECK(r.at_end());
}

TEST_CASE("primitives round-trip and consume exactly what they wrote", "[protocol][wire]") {
  rc::prop("read(write(x)) == x for every int, varint, varlong, float and uuid", [](std::int8_t a, std::int16_t b,
                                                                                      std::int32_t c, std::int64_t d,
                                                                                      std::uint16_t e, std::uint32_t f,
                                                                                      std::int32_t g, std::int64_t h,
                                                                                      std::uint32_t i, Uuid u) {
    const double x = static_cast<double>(d) / 3.0;
    const Bytes out = written([&](Writer& w) {
      w.int8(a); w.int16(b); w.int32(c); w.int64(d); w.uint16(e); w.uint32(f);
      w.varint(g); w.varlong(h); w.unsigned_varint(i); w.float64(x); w.uuid(u);
    });
    Reader r(out);
    RC_ASSERT(*r.int8() == a);
    RC_ASSERT(*r.int16() == b);
    RC_ASSERT(*r.int32() == c);
    RC_ASSERT(*r.int64() == d);
    RC_ASSERT(*r.uint16() == e);
    RC_ASSERT(*r.uint32() == f);
    RC_ASSERT(*r.varint() == g);
    RC_ASSERT(*r.varlong() == h);
    RC_ASSERT(*r.unsigned_varint() == i);
    RC_ASSERT(*r.float64() == x);
    RC_ASSERT(*r.uuid() == u);
    RC_ASSERT(r.at_end());
  });
  rc::prop("unsigned_varint_size is the number of bytes written", [](std::uint32_t v) {
    RC_ASSERT(written([&](Writer& w) { w.unsigned_varint(v); }).size() == unsigned_varint_size(v));
  });
  rc::prop("lengths round-trip, classic and compact, null included", [](bool compact, bool null, std::uint16_t n) {
    const std::optional<std::size_t> len = null ? std::nullopt : std::optional<std::size_t>(n % 0x7fff);
    Bytes out = written([&](Writer& w) {
      w.string_length(len, compact);
      w.bytes_length(len, compact);
      w.array_length(len, compact);
    });
    out.resize(out.size() + 0x7fff);  // room so lengths are plausible
    Reader r(out);
    RC_ASSERT(*r.string_length(compact) == len);
    RC_ASSERT(*r.bytes_length(compact) == len);
    RC_ASSERT(*r.array_length(compact) == len);
  });
}

TEST_CASE("reads past the end are errors naming the offset", "[protocol][wire]") {
  const Bytes b{0x00, 0x01, 0x02};
  Reader r(b, 10);
  REQUIRE(r.int8().ok());
  auto e = r.int32();
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().offset == 11);
  CHECK(e.error().message == "int32: needs 4 bytes, 2 left");
  CHECK(r.remaining() == 2);  // a failed read consumes nothing
  CHECK(*r.int16() == 0x0102);
}

TEST_CASE("malformed varints and lengths are errors", "[protocol][wire]") {
  const Bytes unterminated{0x80, 0x80};
  CHECK_FALSE(Reader(unterminated).unsigned_varint().ok());
  const Bytes too_long{0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  CHECK(Reader(too_long).unsigned_varint().error().message == "varint: longer than 5 bytes");
  const Bytes over_32_bits{0xff, 0xff, 0xff, 0xff, 0x1f};
  CHECK(Reader(over_32_bits).unsigned_varint().error().message == "varint: does not fit 32 bits");
  const Bytes negative{0xff, 0xfe};  // int16 -2
  CHECK(Reader(negative).string_length(false).error().message == "string: negative length -2");
  const Bytes too_big{0x00, 0x00, 0x00, 0x05, 0x01};
  CHECK(Reader(too_big).bytes_length(false).error().message == "bytes: length 5 but 1 bytes left");
  const Bytes compact_null{0x00};
  CHECK(*Reader(compact_null).string_length(true) == std::nullopt);
  const Bytes classic_null{0xff, 0xff};
  CHECK(*Reader(classic_null).string_length(false) == std::nullopt);
}
