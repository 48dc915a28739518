#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <string>

#include "system/protocol/compression.h"

using namespace samsa::protocol;
using samsa::as_bytes;
using samsa::Bytes;
using samsa::ByteView;

namespace {

constexpr Compression k_codecs[] = {Compression::none, Compression::gzip, Compression::snappy,
                                    Compression::lz4, Compression::zstd};
constexpr std::size_t k_unlimited = std::size_t{1} << 32;

Bytes squeeze(Compression c, ByteView in, CompressOptions o = {}) {
  Bytes out;
  REQUIRE(compress(c, in, out, o).ok());
  return out;
}

// Mostly repetitive bytes, so that codecs really compress.
rc::Gen<Bytes> gen_payload() {
  return rc::gen::map(rc::gen::container<std::vector<std::pair<std::uint8_t, std::uint8_t>>>(
                          rc::gen::pair(rc::gen::arbitrary<std::uint8_t>(),
                                        rc::gen::inRange<std::uint8_t>(1, 200))),
                      [](const std::vector<std::pair<std::uint8_t, std::uint8_t>>& runs) {
                        Bytes b;
                        for (auto [byte, n] : runs) b.insert(b.end(), n, byte);
                        return b;
                      });
}

}  // namespace

TEST_CASE("every codec round-trips", "[protocol][compression]") {
  rc::prop("decompress(compress(x)) == x for every codec and snappy framing", [] {
    const Bytes in = *rc::gen::oneOf(gen_payload(), rc::gen::arbitrary<Bytes>());
    const Compression c = *rc::gen::elementOf(std::vector<Compression>(std::begin(k_codecs), std::end(k_codecs)));
    CompressOptions o;
    o.snappy_framing = *rc::gen::element(SnappyFraming::xerial, SnappyFraming::raw);
    Bytes packed;
    RC_ASSERT(compress(c, in, packed, o).ok());
    Bytes out = {7, 7};  // decompress appends
    RC_ASSERT(decompress(c, packed, out, k_unlimited).ok());
    RC_ASSERT(Bytes(out.begin() + 2, out.end()) == in);
  });
}

TEST_CASE("snappy output is xerial-framed by default and raw on request", "[protocol][compression]") {
  const std::string text(100000, 'a');
  const Bytes xerial = squeeze(Compression::snappy, as_bytes(text));
  REQUIRE(xerial.size() > 16);
  CHECK(Bytes(xerial.begin(), xerial.begin() + 16) ==
        Bytes{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1});
  const Bytes raw = squeeze(Compression::snappy, as_bytes(text), {SnappyFraming::raw});
  CHECK(raw[0] != 0x82);
  for (const Bytes& packed : {xerial, raw}) {
    Bytes out;
    REQUIRE(decompress(Compression::snappy, packed, out, k_unlimited).ok());
    CHECK(out == Bytes(text.begin(), text.end()));
  }
}

TEST_CASE("a hand-made xerial snappy stream decodes", "[protocol][compression]") {
  // Header, then two chunks each holding one raw snappy block made of a
  // single literal: varint length, tag (len-1)<<2, bytes.
  const Bytes frame = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0,    0,   0,   0,   1,   0,
                       0,    0,   1,   0,   0,   0,   7,   0x05, 0x10, 'h', 'e', 'l', 'l',
                       'o',  0,   0,   0,   8,   0x06, 0x14, ' ', 'w', 'o', 'r', 'l', 'd'};
  Bytes out;
  REQUIRE(decompress(Compression::snappy, frame, out, k_unlimited).ok());
  CHECK(std::string(out.begin(), out.end()) == "hello world");
  // A chunk length running past the end is malformed.
  Bytes cut(frame.begin(), frame.end() - 1);
  Bytes out2;
  CHECK(decompress(Compression::snappy, cut, out2, k_unlimited).error() == CodecErrc::malformed);
}

TEST_CASE("decompression stops at the size limit", "[protocol][compression]") {
  const Bytes zeros(4 << 20, 0);
  for (Compression c : k_codecs) {
    const Bytes packed = squeeze(c, zeros);
    Bytes out = {1, 2, 3};
    auto r = decompress(c, packed, out, 1 << 20);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == CodecErrc::too_large);
    CHECK(out == Bytes{1, 2, 3});  // nothing partial is left behind
    Bytes exact;
    CHECK(decompress(c, packed, exact, zeros.size()).ok());
  }
}

TEST_CASE("damaged compressed data is an error, never a crash", "[protocol][compression]") {
  rc::prop("a strict prefix decodes to an error or to a prefix of the input", [] {
    const Bytes in = *gen_payload();
    const Compression c = *rc::gen::elementOf(std::vector<Compression>(std::begin(k_codecs) + 1, std::end(k_codecs)));
    const Bytes packed = squeeze(c, in);
    const std::size_t cut = *rc::gen::inRange<std::size_t>(0, packed.size());
    Bytes out;
    auto r = decompress(c, ByteView(packed).first(cut), out, k_unlimited);
    if (r.ok()) {
      RC_ASSERT(out.size() <= in.size());
      RC_ASSERT(std::equal(out.begin(), out.end(), in.begin()));
    }
  });
  rc::prop("arbitrary bytes never crash any codec", [](const Bytes& junk) {
    for (Compression c : k_codecs) {
      Bytes out;
      (void)decompress(c, junk, out, 1 << 20);
      RC_ASSERT(out.size() <= std::size_t{1} << 20);
    }
  });
  rc::prop("one flipped byte in compressed data is an error or a bounded output", [] {
    const Bytes in = *gen_payload();
    const Compression c = *rc::gen::elementOf(std::vector<Compression>(std::begin(k_codecs) + 1, std::end(k_codecs)));
    Bytes packed = squeeze(c, in);
    const std::size_t at = *rc::gen::inRange<std::size_t>(0, packed.size());
    packed[at] ^= *rc::gen::inRange<std::uint8_t>(1, 255);
    Bytes out;
    (void)decompress(c, packed, out, 1 << 20);
    RC_ASSERT(out.size() <= std::size_t{1} << 20);
  });
  Bytes out;
  CHECK(decompress(static_cast<Compression>(5), Bytes{1}, out, 10).error() == CodecErrc::unsupported);
}

TEST_CASE("lz4 frames use the header Kafka's Java reader expects", "[protocol][compression]") {
  // KafkaLZ4BlockInputStream: magic 0x184D2204 (LE), FLG version 01 with
  // independent blocks (0x60), BD 64 KiB max block (0x40), no content size.
  const Bytes packed = squeeze(Compression::lz4, as_bytes(std::string(1000, 'x')));
  REQUIRE(packed.size() > 7);
  CHECK(Bytes(packed.begin(), packed.begin() + 6) == Bytes{0x04, 0x22, 0x4d, 0x18, 0x60, 0x40});
}
