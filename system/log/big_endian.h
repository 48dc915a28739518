#pragma once
// Big-endian integers in byte buffers (Kafka's on-disk byte order).
#include <cstdint>

#include "sim/runtime/bytes.h"

namespace samsa::log {

inline void put_be(Bytes& out, std::uint64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

inline std::uint64_t get_be(ByteView in, std::size_t at, int width) {
  std::uint64_t v = 0;
  for (int i = 0; i < width; ++i) v = (v << 8) | in[at + static_cast<std::size_t>(i)];
  return v;
}

}  // namespace samsa::log
