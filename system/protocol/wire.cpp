#include "system/protocol/wire.h"

#include <array>
#include <bit>
#include <cstring>
#include <string>

namespace samsa::protocol {

Result<ByteView, DecodeError> Reader::take(std::size_t n, const char* what) {
  if (n > remaining()) {
    return Err{error_here(std::string(what) + ": needs " + std::to_string(n) +
                          " bytes, " + std::to_string(remaining()) + " left")};
  }
  ByteView out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

std::string describe(const DecodeError& e) {
  return "byte " + std::to_string(e.offset) + ": " + (e.path.empty() ? "" : e.path + ": ") + e.message;
}

Result<std::int8_t, DecodeError> Reader::int8() {
  SAMSA_TRY(b, take(1, "int8"));
  return static_cast<std::int8_t>(b[0]);
}
Result<std::int16_t, DecodeError> Reader::int16() {
  SAMSA_TRY(b, take(2, "int16"));
  return static_cast<std::int16_t>(load_be<std::uint16_t>(b.data()));
}
Result<std::int32_t, DecodeError> Reader::int32() {
  SAMSA_TRY(b, take(4, "int32"));
  return static_cast<std::int32_t>(load_be<std::uint32_t>(b.data()));
}
Result<std::int64_t, DecodeError> Reader::int64() {
  SAMSA_TRY(b, take(8, "int64"));
  return static_cast<std::int64_t>(load_be<std::uint64_t>(b.data()));
}
Result<std::uint16_t, DecodeError> Reader::uint16() {
  SAMSA_TRY(b, take(2, "uint16"));
  return load_be<std::uint16_t>(b.data());
}
Result<std::uint32_t, DecodeError> Reader::uint32() {
  SAMSA_TRY(b, take(4, "uint32"));
  return load_be<std::uint32_t>(b.data());
}
Result<double, DecodeError> Reader::float64() {
  SAMSA_TRY(b, take(8, "float64"));
  return std::bit_cast<double>(load_be<std::uint64_t>(b.data()));
}

Result<std::uint64_t, DecodeError> Reader::unsigned_varlong(int max_bytes) {
  const std::size_t start = offset();
  std::uint64_t v = 0;
  for (int i = 0; i < max_bytes; ++i) {
    if (at_end()) return Err{DecodeError{start, "varint: truncated"}};
    const std::uint8_t b = data_[pos_++];
    v |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) return v;
  }
  return Err{DecodeError{start, "varint: longer than " + std::to_string(max_bytes) + " bytes"}};
}

Result<std::uint32_t, DecodeError> Reader::unsigned_varint() {
  const std::size_t start = offset();
  SAMSA_TRY(v, unsigned_varlong(5));
  if (v > 0xffffffffu) return Err{DecodeError{start, "varint: does not fit 32 bits"}};
  return static_cast<std::uint32_t>(v);
}
Result<std::int32_t, DecodeError> Reader::varint() {
  SAMSA_TRY(u, unsigned_varint());
  return static_cast<std::int32_t>((u >> 1) ^ (~(u & 1) + 1));
}
Result<std::int64_t, DecodeError> Reader::varlong() {
  SAMSA_TRY(u, unsigned_varlong(10));
  return static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
}
Result<Uuid, DecodeError> Reader::uuid() {
  SAMSA_TRY(b, take(16, "uuid"));
  Uuid u;
  std::memcpy(u.data(), b.data(), 16);
  return u;
}
Result<ByteView, DecodeError> Reader::raw(std::size_t n) { return take(n, "bytes"); }

namespace {
// A length can never exceed what is left in the buffer (every element takes
// at least one byte, or is checked by the caller), so oversized lengths fail
// here instead of driving huge allocations.
Result<std::optional<std::size_t>, DecodeError> check_length(std::int64_t n, std::size_t start,
                                                             std::size_t left, const char* what) {
  if (n == -1) return std::optional<std::size_t>{};
  if (n < -1) return Err{DecodeError{start, std::string(what) + ": negative length " + std::to_string(n)}};
  if (static_cast<std::uint64_t>(n) > left) {
    return Err{DecodeError{start, std::string(what) + ": length " + std::to_string(n) + " but " +
                                      std::to_string(left) + " bytes left"}};
  }
  return std::optional<std::size_t>{static_cast<std::size_t>(n)};
}
}  // namespace

// A length prefix: compact (unsigned varint of n + 1) or classic (int16 for
// strings, int32 for bytes and arrays); -1 is null.
Result<std::optional<std::size_t>, DecodeError> Reader::length_prefix(bool compact, bool wide,
                                                                      const char* what) {
  const std::size_t start = offset();
  std::int64_t n;
  if (compact) {
    SAMSA_TRY(u, unsigned_varint());
    n = static_cast<std::int64_t>(u) - 1;
  } else if (wide) {
    SAMSA_TRY(s, int32());
    n = s;
  } else {
    SAMSA_TRY(s, int16());
    n = s;
  }
  return check_length(n, start, remaining(), what);
}
Result<std::optional<std::size_t>, DecodeError> Reader::string_length(bool compact) {
  return length_prefix(compact, false, "string");
}
Result<std::optional<std::size_t>, DecodeError> Reader::bytes_length(bool compact) {
  return length_prefix(compact, true, "bytes");
}
Result<std::optional<std::size_t>, DecodeError> Reader::array_length(bool compact) {
  return length_prefix(compact, true, "array");
}

void Writer::splice(std::shared_ptr<const sim::Mapping> map, ByteView view) {
  SAMSA_ASSERT(splices_ != nullptr, "splice into a writer without a splice list");
  if (view.empty()) return;
  spliced_bytes_ += view.size();
  splices_->push_back({out_.size(), std::move(map), view});
}

void Writer::unsigned_varlong(std::uint64_t v) {
  std::array<std::uint8_t, 10> b;
  std::size_t n = 0;
  while (v >= 0x80) {
    b[n++] = static_cast<std::uint8_t>(v | 0x80);
    v >>= 7;
  }
  b[n++] = static_cast<std::uint8_t>(v);
  out_.insert(out_.end(), b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
}

void Writer::patch_int32(std::size_t at, std::int32_t v) {
  SAMSA_ASSERT(at + 4 <= out_.size(), "patch past the end");
  const auto u = static_cast<std::uint32_t>(v);
  for (int i = 0; i < 4; ++i) out_[at + i] = static_cast<std::uint8_t>(u >> (8 * (3 - i)));
}

std::size_t unsigned_varint_size(std::uint32_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

}  // namespace samsa::protocol
