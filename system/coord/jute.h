#pragma once
// ZooKeeper's jute encoding: big-endian ints, bool as one byte, buffers and
// strings as an int32 length (-1 for null) followed by the bytes, vectors as
// an int32 count followed by the items. Reading never trusts the input: every
// failure is a ParseError naming the byte offset.
#include <cstdint>
#include <string>
#include <vector>

#include "sim/runtime/bytes.h"
#include "sim/runtime/result.h"
#include "system/coord/types.h"

namespace samsa::coord {

struct ParseError {
  std::size_t offset = 0;
  std::string what;
};

class JuteWriter {
 public:
  // Starts a frame: 4 bytes of size prefix, filled in by finish().
  JuteWriter() : out_(4, 0) {}
  void int32(std::int32_t v);
  void int64(std::int64_t v);
  void boolean(bool v) { out_.push_back(v ? 1 : 0); }
  void buffer(ByteView b);
  void string(std::string_view s) { buffer(as_bytes(s)); }
  void stat(const Stat& s);
  // The whole frame, size prefix included.
  Bytes finish();

 private:
  Bytes out_;
};

class JuteReader {
 public:
  // Reads the body of a frame; `frame` includes the 4-byte size prefix.
  explicit JuteReader(ByteView frame) : in_(frame), pos_(frame.size() >= 4 ? 4 : frame.size()) {}
  Result<std::int32_t, ParseError> int32();
  Result<std::int64_t, ParseError> int64();
  Result<bool, ParseError> boolean();
  Result<Bytes, ParseError> buffer();
  Result<std::string, ParseError> string();
  Result<Stat, ParseError> stat();
  bool at_end() const { return pos_ >= in_.size(); }
  std::size_t offset() const { return pos_; }
  ParseError error(std::string what) const { return {pos_, std::move(what)}; }

 private:
  Result<std::uint64_t, ParseError> fixed(int n);
  ByteView in_;
  std::size_t pos_;
};

}  // namespace samsa::coord

// Evaluates a Result-returning expression; on error returns the error from
// the enclosing function, else declares `var` with the value.
#define SAMSA_COORD_CAT2(a, b) a##b
#define SAMSA_COORD_CAT(a, b) SAMSA_COORD_CAT2(a, b)
#define SAMSA_COORD_TRY(var, expr)                                  \
  auto SAMSA_COORD_CAT(coord_try_, __LINE__) = (expr);              \
  if (!SAMSA_COORD_CAT(coord_try_, __LINE__))                       \
    return ::samsa::Err{SAMSA_COORD_CAT(coord_try_, __LINE__).error()}; \
  auto var = std::move(SAMSA_COORD_CAT(coord_try_, __LINE__)).value()
