#pragma once
// Kafka wire primitives: big-endian fixed ints, (zigzag) varints, unsigned
// varints, classic and compact strings/bytes/array lengths, UUIDs and the
// tagged-field section of flexible versions.
//
// Reader never reads past its buffer: every read returns a Result whose error
// names the byte offset (from the start of the buffer) where the read began.
// Writer appends to a Bytes buffer and cannot fail.
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "sim/runtime/bytes.h"
#include "sim/runtime/network.h"
#include "sim/runtime/result.h"

namespace samsa::protocol {

struct DecodeError {
  std::size_t offset = 0;  // byte offset in the frame where decoding failed
  std::string message;
  std::string path;        // field path, e.g. "Topics[0].Partitions[2].Records"
};
// "byte 17: Topics[0].Name: string: needs 5 bytes, 2 left"
std::string describe(const DecodeError& e);

using Uuid = std::array<std::uint8_t, 16>;

// std::byteswap is C++23.
constexpr std::uint16_t byteswap(std::uint16_t v) { return __builtin_bswap16(v); }
constexpr std::uint32_t byteswap(std::uint32_t v) { return __builtin_bswap32(v); }
constexpr std::uint64_t byteswap(std::uint64_t v) { return __builtin_bswap64(v); }

// A big-endian integer at `p`: one load and a byte swap (a byte-at-a-time
// loop was most of the cost of decoding offsets and batch headers in issue
// 14's profile).
template <class T>
T load_be(const std::uint8_t* p) {
  static_assert(std::is_integral_v<T>);
  std::make_unsigned_t<T> v;
  std::memcpy(&v, p, sizeof(T));
  if constexpr (std::endian::native == std::endian::little && sizeof(T) > 1) v = byteswap(v);
  return static_cast<T>(v);
}

class Reader {
 public:
  explicit Reader(ByteView data, std::size_t base_offset = 0)
      : data_(data), base_(base_offset) {}
  // A reader over bytes that `owner` keeps alive (a whole frame): typed
  // record sets decoded through it share the frame instead of copying it
  // (see Records in typed.h). `data` must lie inside *owner.
  Reader(ByteView data, std::size_t base_offset, std::shared_ptr<const Bytes> owner)
      : data_(data), base_(base_offset), owner_(std::move(owner)) {}

  // The frame buffer this reader's bytes belong to, if it was given one.
  const std::shared_ptr<const Bytes>& owner() const { return owner_; }
  // A reader over `part` (bytes of this reader's buffer) whose offsets start
  // at `base_offset`, with the same owner.
  Reader sub(ByteView part, std::size_t base_offset) const { return Reader(part, base_offset, owner_); }

  std::size_t offset() const { return base_ + pos_; }  // absolute offset
  std::size_t remaining() const { return data_.size() - pos_; }
  bool at_end() const { return pos_ == data_.size(); }

  Result<std::int8_t, DecodeError> int8();
  Result<std::int16_t, DecodeError> int16();
  Result<std::int32_t, DecodeError> int32();
  Result<std::int64_t, DecodeError> int64();
  Result<std::uint16_t, DecodeError> uint16();
  Result<std::uint32_t, DecodeError> uint32();
  Result<double, DecodeError> float64();
  Result<std::uint32_t, DecodeError> unsigned_varint();
  Result<std::int32_t, DecodeError> varint();   // zigzag
  Result<std::int64_t, DecodeError> varlong();  // zigzag
  Result<Uuid, DecodeError> uuid();
  // `n` raw bytes as a view into the buffer.
  Result<ByteView, DecodeError> raw(std::size_t n);

  // Length of a string / bytes / array: nullopt means null. Classic forms use
  // int16 (strings) or int32 (bytes, arrays) with -1 for null; compact forms
  // use unsigned varint N+1 with 0 for null.
  Result<std::optional<std::size_t>, DecodeError> string_length(bool compact);
  Result<std::optional<std::size_t>, DecodeError> bytes_length(bool compact);
  Result<std::optional<std::size_t>, DecodeError> array_length(bool compact);

  DecodeError error_here(std::string message) const { return {offset(), std::move(message)}; }

  // Fast paths for the typed messages: each reads only when the whole value
  // is there and in its common form, and otherwise returns false having read
  // nothing, so that the Result-returning read above gives the error.
  template <class T>
  bool try_fixed(T& out) {
    static_assert(std::is_integral_v<T>);
    if (remaining() < sizeof(T)) return false;
    out = load_be<T>(data_.data() + pos_);
    pos_ += sizeof(T);
    return true;
  }
  // A non-null length prefix as string_length (wide = false) / bytes_length /
  // array_length read it, when compact ones fit one byte.
  bool try_length(bool compact, bool wide, std::size_t& n) {
    std::size_t size = 0;
    std::int64_t v = 0;
    if (compact) {
      if (remaining() < 1 || data_[pos_] >= 0x80) return false;
      size = 1;
      v = static_cast<std::int64_t>(data_[pos_]) - 1;
    } else {
      size = wide ? 4 : 2;
      if (remaining() < size) return false;
      std::uint32_t u = 0;
      for (std::size_t i = 0; i < size; ++i) u = (u << 8) | data_[pos_ + i];
      v = wide ? static_cast<std::int32_t>(u) : static_cast<std::int16_t>(u);
    }
    if (v < 0 || static_cast<std::uint64_t>(v) > remaining() - size) return false;
    pos_ += size;
    n = static_cast<std::size_t>(v);
    return true;
  }
  // A one-byte unsigned varint (a tag count, a tag, a small size).
  bool try_small_varint(std::uint32_t& out) {
    if (remaining() < 1 || data_[pos_] >= 0x80) return false;
    out = data_[pos_++];
    return true;
  }
  // A zero byte (an empty tagged-field section).
  bool try_small_varint_zero() {
    if (remaining() < 1 || data_[pos_] != 0) return false;
    ++pos_;
    return true;
  }
  // `n` raw bytes when that many are left.
  bool try_raw(std::size_t n, ByteView& out) {
    if (n > remaining()) return false;
    out = data_.subspan(pos_, n);
    pos_ += n;
    return true;
  }

 private:
  Result<std::optional<std::size_t>, DecodeError> length_prefix(bool compact, bool wide,
                                                                const char* what);
  Result<ByteView, DecodeError> take(std::size_t n, const char* what);
  Result<std::uint64_t, DecodeError> unsigned_varlong(int max_bytes);

  ByteView data_;
  std::size_t base_ = 0;
  std::size_t pos_ = 0;
  std::shared_ptr<const Bytes> owner_;
};

class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}
  // A writer that puts mapped record bytes (Records::of_mapping) into
  // `splices` instead of copying them (sim::FrameParts).
  Writer(Bytes& out, std::vector<sim::FrameParts::Splice>& splices) : out_(out), splices_(&splices) {}

  // Bytes written into `out` (spliced bytes not counted).
  std::size_t size() const { return out_.size(); }
  bool splicing() const { return splices_ != nullptr; }
  // Bytes that went into splices.
  std::size_t spliced_bytes() const { return spliced_bytes_; }
  void splice(std::shared_ptr<const sim::Mapping> map, ByteView view);
  // The fixed-size and one-byte writes are inline and append with a range
  // insert of a compile-time length: that is a capacity check, one store and
  // a bump of the vector's end, where an out-of-line call with a resize (and
  // its zero fill) and a variable-length memcpy was the encoder's largest
  // cost in the standard benchmark (issue 14).
  void int8(std::int8_t v) { out_.push_back(static_cast<std::uint8_t>(v)); }
  void int16(std::int16_t v) { be<2>(static_cast<std::uint16_t>(v)); }
  void int32(std::int32_t v) { be<4>(static_cast<std::uint32_t>(v)); }
  void int64(std::int64_t v) { be<8>(static_cast<std::uint64_t>(v)); }
  void uint16(std::uint16_t v) { be<2>(v); }
  void uint32(std::uint32_t v) { be<4>(v); }
  void float64(double v) { be<8>(std::bit_cast<std::uint64_t>(v)); }
  void unsigned_varint(std::uint32_t v) {
    if (v < 0x80) return out_.push_back(static_cast<std::uint8_t>(v));
    unsigned_varlong(v);
  }
  void varint(std::int32_t v) {
    const auto u = static_cast<std::uint32_t>(v);
    unsigned_varint((u << 1) ^ static_cast<std::uint32_t>(v >> 31));
  }
  void varlong(std::int64_t v) {
    const auto u = static_cast<std::uint64_t>(v);
    const std::uint64_t z = (u << 1) ^ static_cast<std::uint64_t>(v >> 63);
    if (z < 0x80) return out_.push_back(static_cast<std::uint8_t>(z));
    unsigned_varlong(z);
  }
  void uuid(const Uuid& v) { out_.insert(out_.end(), v.begin(), v.end()); }
  void raw(ByteView v) { out_.insert(out_.end(), v.begin(), v.end()); }
  // Lengths as Reader reads them; nullopt writes null.
  void string_length(std::optional<std::size_t> n, bool compact) {
    if (compact) return unsigned_varint(n ? static_cast<std::uint32_t>(*n + 1) : 0);
    SAMSA_ASSERT(!n || *n <= 0x7fff, "string longer than int16 allows");
    int16(n ? static_cast<std::int16_t>(*n) : -1);
  }
  void bytes_length(std::optional<std::size_t> n, bool compact) {
    if (compact) return unsigned_varint(n ? static_cast<std::uint32_t>(*n + 1) : 0);
    int32(n ? static_cast<std::int32_t>(*n) : -1);
  }
  void array_length(std::optional<std::size_t> n, bool compact) { bytes_length(n, compact); }
  // Overwrites 4 bytes at `at` with a big-endian int32 (frame size prefixes).
  void patch_int32(std::size_t at, std::int32_t v);

 private:
  // The low N bytes of `v`, big-endian.
  template <std::size_t N>
  void be(std::uint64_t v) {
    static_assert(N >= 1 && N <= 8);
    std::array<std::uint8_t, N> b;
    if constexpr (std::endian::native == std::endian::little) {
      const std::uint64_t big = __builtin_bswap64(v << (64 - 8 * N));
      std::memcpy(b.data(), &big, N);
    } else {
      for (std::size_t i = 0; i < N; ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * (N - 1 - i)));
    }
    out_.insert(out_.end(), b.begin(), b.end());
  }
  // A varint of two bytes or more (the one-byte case is inline).
  void unsigned_varlong(std::uint64_t v);
  Bytes& out_;
  std::vector<sim::FrameParts::Splice>* splices_ = nullptr;
  std::size_t spliced_bytes_ = 0;
};

// Size in bytes of `v` written as an unsigned varint.
std::size_t unsigned_varint_size(std::uint32_t v);

}  // namespace samsa::protocol

// Evaluates a Result-returning expression; on error returns the error from
// the enclosing function, else declares `var` with the value.
#define SAMSA_PROTO_CAT2(a, b) a##b
#define SAMSA_PROTO_CAT(a, b) SAMSA_PROTO_CAT2(a, b)
#define SAMSA_TRY(var, expr)                                                   \
  auto SAMSA_PROTO_CAT(try_, __LINE__) = (expr);                               \
  if (!SAMSA_PROTO_CAT(try_, __LINE__))                                        \
    return ::samsa::Err{SAMSA_PROTO_CAT(try_, __LINE__).error()};              \
  auto var = std::move(SAMSA_PROTO_CAT(try_, __LINE__)).value()
