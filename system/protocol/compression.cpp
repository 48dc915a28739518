#include "system/protocol/compression.h"

namespace samsa::protocol {

std::string_view to_string(Compression c) {
  switch (c) {
    case Compression::none: return "none";
    case Compression::gzip: return "gzip";
    case Compression::snappy: return "snappy";
    case Compression::lz4: return "lz4";
    case Compression::zstd: return "zstd";
  }
  return "unknown";
}

std::string_view to_string(CodecErrc e) {
  switch (e) {
    case CodecErrc::unsupported: return "unsupported";
    case CodecErrc::malformed: return "malformed";
    case CodecErrc::too_large: return "too_large";
  }
  return "unknown";
}

// Codecs land in the next commit; until then only `none` works.
Result<void, CodecErrc> compress(Compression c, ByteView input, Bytes& out, CompressOptions) {
  if (c != Compression::none) return Err{CodecErrc::unsupported};
  out.insert(out.end(), input.begin(), input.end());
  return {};
}

Result<void, CodecErrc> decompress(Compression c, ByteView input, Bytes& out,
                                   std::size_t max_bytes) {
  if (c != Compression::none) return Err{CodecErrc::unsupported};
  if (input.size() > max_bytes) return Err{CodecErrc::too_large};
  out.insert(out.end(), input.begin(), input.end());
  return {};
}

}  // namespace samsa::protocol
