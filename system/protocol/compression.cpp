#include "system/protocol/compression.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

#include "sim/runtime/assert.h"

namespace samsa::protocol {
namespace {

// ---- bounded output ----

// Hands out writable room at the end of `out`, growing it in steps (doubling,
// at least 64 KiB) as a codec really produces bytes, never beyond max_bytes.
class Sink {
 public:
  Sink(Bytes& out, std::size_t max_bytes) : out_(out), start_(out.size()), max_(max_bytes) {}

  // Room to write into; false when the limit is reached.
  bool room(std::uint8_t*& p, std::size_t& n) {
    if (out_.size() - start_ == used_) {
      if (used_ >= max_) return false;
      const std::size_t step = std::min(max_ - used_, std::max<std::size_t>(64 << 10, used_));
      out_.resize(out_.size() + step);
    }
    p = out_.data() + start_ + used_;
    n = out_.size() - start_ - used_;
    return true;
  }
  // Exactly `length` bytes of room at once (for codecs that need the whole
  // output buffer up front); false when that would pass the limit.
  bool room_for(std::size_t length, std::uint8_t*& p) {
    if (length > max_ - used_) return false;
    if (out_.size() < start_ + used_ + length) out_.resize(start_ + used_ + length);
    p = out_.data() + start_ + used_;
    return true;
  }
  void wrote(std::size_t n) { used_ += n; }
  std::size_t used() const { return used_; }
  void finish() { out_.resize(start_ + used_); }
  void discard() { out_.resize(start_); }

 private:
  Bytes& out_;
  std::size_t start_;
  std::size_t max_;
  std::size_t used_ = 0;
};

Result<void, CodecErrc> fail(Sink& sink, CodecErrc e) {
  sink.discard();
  return Err{e};
}

// ---- gzip (zlib with a gzip wrapper) ----

constexpr int k_gzip_window_bits = 15 + 16;  // +16: gzip header and trailer

Result<void, CodecErrc> gzip_compress(ByteView in, Bytes& out) {
  z_stream s{};
  SAMSA_ASSERT(deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, k_gzip_window_bits, 8,
                            Z_DEFAULT_STRATEGY) == Z_OK,
               "deflateInit2");
  const std::size_t start = out.size();
  out.resize(start + deflateBound(&s, static_cast<uLong>(in.size())));
  s.next_in = const_cast<Bytef*>(in.data());
  s.avail_in = static_cast<uInt>(in.size());
  s.next_out = out.data() + start;
  s.avail_out = static_cast<uInt>(out.size() - start);
  const int rc = deflate(&s, Z_FINISH);
  deflateEnd(&s);
  SAMSA_ASSERT(rc == Z_STREAM_END, "deflate into a deflateBound buffer");
  out.resize(start + s.total_out);
  return {};
}

// Reads one or more concatenated gzip members (as java.util.zip does).
Result<void, CodecErrc> gzip_decompress(ByteView in, Bytes& out, std::size_t max_bytes) {
  Sink sink(out, max_bytes);
  z_stream s{};
  if (inflateInit2(&s, k_gzip_window_bits) != Z_OK) return fail(sink, CodecErrc::malformed);
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&s, inflateEnd);
  s.next_in = const_cast<Bytef*>(in.data());
  s.avail_in = static_cast<uInt>(in.size());
  for (;;) {
    std::uint8_t* p;
    std::size_t n;
    if (!sink.room(p, n)) return fail(sink, CodecErrc::too_large);
    s.next_out = p;
    s.avail_out = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
    const uInt before = s.avail_out;
    const int rc = inflate(&s, Z_NO_FLUSH);
    sink.wrote(before - s.avail_out);
    if (rc == Z_STREAM_END) {
      if (s.avail_in == 0) break;
      if (inflateReset(&s) != Z_OK) return fail(sink, CodecErrc::malformed);
      continue;
    }
    if (rc != Z_OK) return fail(sink, CodecErrc::malformed);  // also a cut stream
    if (s.avail_in == 0 && s.avail_out != 0) return fail(sink, CodecErrc::malformed);
  }
  sink.finish();
  return {};
}

// ---- snappy, raw and xerial-framed ----

constexpr std::array<std::uint8_t, 8> k_xerial_magic = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
constexpr std::size_t k_xerial_header_bytes = 16;  // magic, version, compatible version
constexpr std::size_t k_xerial_chunk_bytes = 32 << 10;

void put_be32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}
std::uint32_t get_be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

void snappy_raw_compress(ByteView in, Bytes& out) {
  const std::size_t start = out.size();
  out.resize(start + snappy::MaxCompressedLength(in.size()));
  std::size_t n = 0;
  snappy::RawCompress(reinterpret_cast<const char*>(in.data()), in.size(),
                      reinterpret_cast<char*>(out.data() + start), &n);
  out.resize(start + n);
}

void snappy_xerial_compress(ByteView in, Bytes& out) {
  out.insert(out.end(), k_xerial_magic.begin(), k_xerial_magic.end());
  put_be32(out, 1);  // version
  put_be32(out, 1);  // minimum compatible version
  for (std::size_t pos = 0; pos < in.size(); pos += k_xerial_chunk_bytes) {
    const std::size_t length_at = out.size();
    put_be32(out, 0);
    snappy_raw_compress(in.subspan(pos, std::min(k_xerial_chunk_bytes, in.size() - pos)), out);
    const auto n = static_cast<std::uint32_t>(out.size() - length_at - 4);
    for (int i = 0; i < 4; ++i) out[length_at + i] = static_cast<std::uint8_t>(n >> (24 - 8 * i));
  }
}

// One raw snappy block. The block is validated before any allocation, so the
// length it claims is backed by real content.
Result<void, CodecErrc> snappy_raw_decompress(ByteView in, Sink& sink) {
  const char* src = reinterpret_cast<const char*>(in.data());
  std::size_t length = 0;
  if (!snappy::GetUncompressedLength(src, in.size(), &length)) return Err{CodecErrc::malformed};
  if (length > 0 && !snappy::IsValidCompressedBuffer(src, in.size()))
    return Err{CodecErrc::malformed};
  std::uint8_t* p = nullptr;
  if (!sink.room_for(length, p)) return Err{CodecErrc::too_large};
  if (length > 0 && !snappy::RawUncompress(src, in.size(), reinterpret_cast<char*>(p)))
    return Err{CodecErrc::malformed};
  sink.wrote(length);
  return {};
}

bool is_xerial(ByteView in) {
  return in.size() >= k_xerial_header_bytes &&
         std::equal(k_xerial_magic.begin(), k_xerial_magic.end(), in.begin());
}

Result<void, CodecErrc> snappy_xerial_decompress(ByteView in, Sink& sink) {
  std::size_t pos = k_xerial_header_bytes;  // version fields are not checked (as snappy-java)
  while (pos < in.size()) {
    if (in.size() - pos < 4) return Err{CodecErrc::malformed};
    const std::size_t n = get_be32(in.data() + pos);
    pos += 4;
    if (n > in.size() - pos) return Err{CodecErrc::malformed};
    auto chunk = snappy_raw_decompress(in.subspan(pos, n), sink);
    if (!chunk) return chunk;
    pos += n;
  }
  return {};
}

Result<void, CodecErrc> snappy_decompress(ByteView in, Bytes& out, std::size_t max_bytes) {
  Sink sink(out, max_bytes);
  auto done = is_xerial(in) ? snappy_xerial_decompress(in, sink) : snappy_raw_decompress(in, sink);
  if (!done) return fail(sink, done.error());
  sink.finish();
  return {};
}

// ---- lz4 frame ----

Result<void, CodecErrc> lz4_compress(ByteView in, Bytes& out) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  const std::size_t start = out.size();
  out.resize(start + LZ4F_compressFrameBound(in.size(), &prefs));
  const std::size_t n =
      LZ4F_compressFrame(out.data() + start, out.size() - start, in.data(), in.size(), &prefs);
  SAMSA_ASSERT(!LZ4F_isError(n), "LZ4F_compressFrame into a bound-sized buffer");
  out.resize(start + n);
  return {};
}

// Reads one or more concatenated frames.
Result<void, CodecErrc> lz4_decompress(ByteView in, Bytes& out, std::size_t max_bytes) {
  Sink sink(out, max_bytes);
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION)))
    return fail(sink, CodecErrc::malformed);
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> ctx(raw, LZ4F_freeDecompressionContext);
  std::size_t pos = 0;
  std::size_t hint = 1;  // nonzero: a frame is expected or unfinished
  while (pos < in.size()) {
    std::uint8_t* p;
    std::size_t n;
    if (!sink.room(p, n)) return fail(sink, CodecErrc::too_large);
    std::size_t src_n = in.size() - pos;
    hint = LZ4F_decompress(ctx.get(), p, &n, in.data() + pos, &src_n, nullptr);
    if (LZ4F_isError(hint)) return fail(sink, CodecErrc::malformed);
    pos += src_n;
    sink.wrote(n);
    if (src_n == 0 && n == 0) return fail(sink, CodecErrc::malformed);  // no progress
  }
  // Output may still be buffered inside the context after all input is read.
  while (hint != 0) {
    std::uint8_t* p;
    std::size_t n;
    if (!sink.room(p, n)) return fail(sink, CodecErrc::too_large);
    std::size_t src_n = 0;
    hint = LZ4F_decompress(ctx.get(), p, &n, nullptr, &src_n, nullptr);
    if (LZ4F_isError(hint) || n == 0) return fail(sink, CodecErrc::malformed);  // cut frame
    sink.wrote(n);
  }
  sink.finish();
  return {};
}

// ---- zstd ----

constexpr int k_zstd_level = 3;

Result<void, CodecErrc> zstd_compress(ByteView in, Bytes& out) {
  const std::size_t start = out.size();
  out.resize(start + ZSTD_compressBound(in.size()));
  const std::size_t n =
      ZSTD_compress(out.data() + start, out.size() - start, in.data(), in.size(), k_zstd_level);
  SAMSA_ASSERT(!ZSTD_isError(n), "ZSTD_compress into a bound-sized buffer");
  out.resize(start + n);
  return {};
}

// Streaming, so that a frame without a content size (zstd-jni streams) works
// and a frame claiming a huge size allocates only what it really produces.
Result<void, CodecErrc> zstd_decompress(ByteView in, Bytes& out, std::size_t max_bytes) {
  Sink sink(out, max_bytes);
  std::unique_ptr<ZSTD_DCtx, std::size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx) return fail(sink, CodecErrc::malformed);
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  std::size_t hint = 1;
  while (src.pos < src.size || hint != 0) {
    std::uint8_t* p;
    std::size_t n;
    if (!sink.room(p, n)) return fail(sink, CodecErrc::too_large);
    ZSTD_outBuffer dst{p, n, 0};
    const std::size_t before_in = src.pos;
    hint = ZSTD_decompressStream(ctx.get(), &dst, &src);
    if (ZSTD_isError(hint)) return fail(sink, CodecErrc::malformed);
    sink.wrote(dst.pos);
    if (dst.pos == 0 && src.pos == before_in) return fail(sink, CodecErrc::malformed);  // cut
  }
  sink.finish();
  return {};
}

}  // namespace

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

Result<void, CodecErrc> compress(Compression c, ByteView input, Bytes& out,
                                 CompressOptions options) {
  switch (c) {
    case Compression::none:
      out.insert(out.end(), input.begin(), input.end());
      return {};
    case Compression::gzip: return gzip_compress(input, out);
    case Compression::snappy:
      if (options.snappy_framing == SnappyFraming::raw)
        snappy_raw_compress(input, out);
      else
        snappy_xerial_compress(input, out);
      return {};
    case Compression::lz4: return lz4_compress(input, out);
    case Compression::zstd: return zstd_compress(input, out);
  }
  return Err{CodecErrc::unsupported};
}

Result<void, CodecErrc> decompress(Compression c, ByteView input, Bytes& out,
                                   std::size_t max_bytes) {
  switch (c) {
    case Compression::none:
      if (input.size() > max_bytes) return Err{CodecErrc::too_large};
      out.insert(out.end(), input.begin(), input.end());
      return {};
    case Compression::gzip: return gzip_decompress(input, out, max_bytes);
    case Compression::snappy: return snappy_decompress(input, out, max_bytes);
    case Compression::lz4: return lz4_decompress(input, out, max_bytes);
    case Compression::zstd: return zstd_decompress(input, out, max_bytes);
  }
  return Err{CodecErrc::unsupported};
}

}  // namespace samsa::protocol
