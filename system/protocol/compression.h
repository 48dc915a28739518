#pragma once
// Kafka's compression codecs, by the value of record batch attribute bits 0-2.
#include <cstdint>
#include <string_view>

#include "sim/runtime/bytes.h"
#include "sim/runtime/result.h"

namespace samsa::protocol {

enum class Compression : std::uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };

std::string_view to_string(Compression c);

enum class CodecErrc : std::uint8_t {
  unsupported,  // not a codec we know (attribute values 5-7)
  malformed,    // the codec rejected the input
  too_large,    // decompressing would exceed the caller's limit
};
std::string_view to_string(CodecErrc e);

// Snappy as Java clients write it (xerial snappy-java stream framing: magic
// 0x82 "SNAPPY" 0x00, version and compatible-version int32s, then big-endian
// length-prefixed raw snappy chunks of at most 32 KiB input each), or one raw
// snappy block (librdkafka). decompress() recognises either by the magic.
enum class SnappyFraming : std::uint8_t { xerial, raw };

struct CompressOptions {
  SnappyFraming snappy_framing = SnappyFraming::xerial;
};

// Appends the compressed form of `input` to `out`. gzip: zlib with a gzip
// wrapper; lz4: an LZ4 frame with 64 KiB independent blocks (what Kafka's
// Java LZ4 stream reads); zstd: one zstd frame at level 3.
Result<void, CodecErrc> compress(Compression c, ByteView input, Bytes& out,
                                 CompressOptions options = {});

// Appends the decompressed form of `input` to `out`, producing at most
// `max_bytes` (too_large beyond). The output grows with what the codec
// really produces, never by a size the input claims.
Result<void, CodecErrc> decompress(Compression c, ByteView input, Bytes& out,
                                   std::size_t max_bytes);

}  // namespace samsa::protocol
