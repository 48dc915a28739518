#include "system/protocol/murmur2.h"

#include "sim/runtime/assert.h"

namespace samsa::protocol {

// Java does this arithmetic on signed ints with wrap-around and reads bytes
// masked with & 0xff; unsigned 32-bit arithmetic gives the same bits.
std::int32_t murmur2(ByteView key) {
  constexpr std::uint32_t seed = 0x9747b28cu;
  constexpr std::uint32_t m = 0x5bd1e995u;
  constexpr int r = 24;
  const std::size_t length = key.size();
  std::uint32_t h = seed ^ static_cast<std::uint32_t>(length);
  const std::uint8_t* p = key.data();
  for (std::size_t i = 0; i + 4 <= length; i += 4) {
    std::uint32_t k = std::uint32_t{p[i]} | (std::uint32_t{p[i + 1]} << 8) |
                      (std::uint32_t{p[i + 2]} << 16) | (std::uint32_t{p[i + 3]} << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const std::size_t tail = length & ~std::size_t{3};
  switch (length % 4) {
    case 3: h ^= std::uint32_t{p[tail + 2]} << 16; [[fallthrough]];
    case 2: h ^= std::uint32_t{p[tail + 1]} << 8; [[fallthrough]];
    case 1:
      h ^= p[tail];
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<std::int32_t>(h);
}

std::int32_t partition_for_key(ByteView key, std::int32_t partitions) {
  SAMSA_ASSERT(partitions > 0, "partition_for_key needs at least one partition");
  return (murmur2(key) & 0x7fffffff) % partitions;
}

}  // namespace samsa::protocol
