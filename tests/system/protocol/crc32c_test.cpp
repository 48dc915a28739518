#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <string_view>

#include "system/protocol/crc32c.h"

using samsa::as_bytes;
using samsa::Bytes;
using samsa::ByteView;
using samsa::protocol::crc32c;
using samsa::protocol::crc32c_portable;

TEST_CASE("crc32c matches the published vectors", "[protocol][crc32c]") {
  // RFC 3720 appendix B.4 and the usual check value.
  Bytes zeros(32, 0x00), ones(32, 0xff), up(32), down(32);
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<std::uint8_t>(i);
    down[i] = static_cast<std::uint8_t>(31 - i);
  }
  for (auto f : {crc32c, crc32c_portable}) {
    CHECK(f(zeros, 0) == 0x8A9136AAu);
    CHECK(f(ones, 0) == 0x62A8AB43u);
    CHECK(f(up, 0) == 0x46DD794Eu);
    CHECK(f(down, 0) == 0x113FDB5Cu);
    CHECK(f(as_bytes("123456789"), 0) == 0xE3069283u);
    CHECK(f(ByteView{}, 0) == 0u);
  }
}

TEST_CASE("crc32c chains and agrees with the table version", "[protocol][crc32c]") {
  rc::prop("crc32c(b, crc32c(a)) == crc32c(a ++ b)", [](const Bytes& a, const Bytes& b) {
    Bytes ab = a;
    ab.insert(ab.end(), b.begin(), b.end());
    RC_ASSERT(crc32c(b, crc32c(a)) == crc32c(ab));
  });
  rc::prop("hardware and table implementations agree at every length and alignment",
           [](const Bytes& data, std::uint8_t skip, std::uint32_t seed) {
             const ByteView v = ByteView(data).subspan(std::min<std::size_t>(skip, data.size()));
             RC_ASSERT(crc32c(v, seed) == crc32c_portable(v, seed));
           });
  // Inputs long enough for the hardware version's three-block stripes
  // (12 KiB each), with every kind of tail after them.
  rc::prop("hardware and table implementations agree on long inputs",
           [](std::uint32_t fill, std::uint32_t seed) {
             const auto length = *rc::gen::inRange<std::size_t>(0, 64 * 1024);
             Bytes data(length);
             std::uint32_t x = fill | 1u;
             for (auto& b : data) b = static_cast<std::uint8_t>((x = x * 1664525u + 1013904223u) >> 24);
             RC_ASSERT(crc32c(data, seed) == crc32c_portable(data, seed));
           });
}
