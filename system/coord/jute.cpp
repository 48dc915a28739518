#include "system/coord/jute.h"

#include "sim/runtime/network.h"

namespace samsa::coord {

namespace {
// A length beyond this cannot be real (ZooKeeper's jute.maxbuffer is 1 MiB;
// we allow a frame's worth).
constexpr std::int32_t k_max_length = 64 * 1024 * 1024;
}  // namespace

void JuteWriter::int32(std::int32_t v) {
  const auto u = static_cast<std::uint32_t>(v);
  for (int i = 3; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(u >> (8 * i)));
}

void JuteWriter::int64(std::int64_t v) {
  const auto u = static_cast<std::uint64_t>(v);
  for (int i = 7; i >= 0; --i) out_.push_back(static_cast<std::uint8_t>(u >> (8 * i)));
}

void JuteWriter::buffer(ByteView b) {
  int32(static_cast<std::int32_t>(b.size()));
  out_.insert(out_.end(), b.begin(), b.end());
}

void JuteWriter::stat(const Stat& s) {
  int64(s.czxid);
  int64(s.mzxid);
  int64(s.ctime);
  int64(s.mtime);
  int32(s.version);
  int32(s.cversion);
  int32(s.aversion);
  int64(s.ephemeral_owner);
  int32(s.data_length);
  int32(s.num_children);
  int64(s.pzxid);
}

Bytes JuteWriter::finish() {
  sim::put_frame_size(out_, 0);
  return std::move(out_);
}

Result<std::uint64_t, ParseError> JuteReader::fixed(int n) {
  if (in_.size() - pos_ < static_cast<std::size_t>(n))
    return Err{error("truncated: need " + std::to_string(n) + " bytes")};
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | in_[pos_ + i];
  pos_ += n;
  return v;
}

Result<std::int32_t, ParseError> JuteReader::int32() {
  auto v = fixed(4);
  if (!v) return Err{v.error()};
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(*v));
}

Result<std::int64_t, ParseError> JuteReader::int64() {
  auto v = fixed(8);
  if (!v) return Err{v.error()};
  return static_cast<std::int64_t>(*v);
}

Result<bool, ParseError> JuteReader::boolean() {
  auto v = fixed(1);
  if (!v) return Err{v.error()};
  return *v != 0;
}

Result<Bytes, ParseError> JuteReader::buffer() {
  const std::size_t at = pos_;
  auto n = int32();
  if (!n) return Err{n.error()};
  if (*n == -1) return Bytes{};  // null buffer
  if (*n < 0 || *n > k_max_length) return Err{ParseError{at, "bad length " + std::to_string(*n)}};
  if (in_.size() - pos_ < static_cast<std::size_t>(*n))
    return Err{ParseError{at, "length " + std::to_string(*n) + " beyond the frame"}};
  Bytes out(in_.begin() + static_cast<std::ptrdiff_t>(pos_),
            in_.begin() + static_cast<std::ptrdiff_t>(pos_ + *n));
  pos_ += *n;
  return out;
}

Result<std::string, ParseError> JuteReader::string() {
  auto b = buffer();
  if (!b) return Err{b.error()};
  return std::string(as_chars(*b));
}

Result<Stat, ParseError> JuteReader::stat() {
  Stat s;
  std::int64_t* longs[] = {&s.czxid, &s.mzxid, &s.ctime, &s.mtime};
  for (auto* p : longs) {
    auto v = int64();
    if (!v) return Err{v.error()};
    *p = *v;
  }
  std::int32_t* ints[] = {&s.version, &s.cversion, &s.aversion};
  for (auto* p : ints) {
    auto v = int32();
    if (!v) return Err{v.error()};
    *p = *v;
  }
  auto owner = int64();
  if (!owner) return Err{owner.error()};
  s.ephemeral_owner = *owner;
  auto len = int32();
  if (!len) return Err{len.error()};
  s.data_length = *len;
  auto kids = int32();
  if (!kids) return Err{kids.error()};
  s.num_children = *kids;
  auto pzxid = int64();
  if (!pzxid) return Err{pzxid.error()};
  s.pzxid = *pzxid;
  return s;
}

}  // namespace samsa::coord
