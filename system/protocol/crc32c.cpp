#include "system/protocol/crc32c.h"

#include <array>
#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace samsa::protocol {
namespace {

constexpr std::uint32_t k_poly = 0x82F63B78u;  // Castagnoli, reflected

// Slicing-by-8 tables: table[k][b] is the CRC of byte b followed by k zeros.
using Tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr Tables make_tables() {
  Tables t{};
  for (std::uint32_t b = 0; b < 256; ++b) {
    std::uint32_t c = b;
    for (int i = 0; i < 8; ++i) c = (c >> 1) ^ ((c & 1u) ? k_poly : 0u);
    t[0][b] = c;
  }
  for (std::size_t k = 1; k < 8; ++k)
    for (std::size_t b = 0; b < 256; ++b)
      t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xffu];
  return t;
}

constexpr Tables k_tables = make_tables();

std::uint64_t load_le64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

// Works on the inverted register; callers invert on entry and exit.
std::uint32_t table_update(std::uint32_t c, const std::uint8_t* p, std::size_t n) {
  const auto& t = k_tables;
  for (; n >= 8; n -= 8, p += 8) {
    const std::uint64_t w = load_le64(p) ^ c;
    c = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^ t[5][(w >> 16) & 0xff] ^
        t[4][(w >> 24) & 0xff] ^ t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^
        t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
  }
  for (; n > 0; --n, ++p) c = (c >> 8) ^ t[0][(c ^ *p) & 0xffu];
  return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t hw_update(std::uint32_t c,
                                                          const std::uint8_t* p,
                                                          std::size_t n) {
  std::uint64_t c64 = c;
  for (; n >= 32; n -= 32, p += 32) {
    c64 = _mm_crc32_u64(c64, load_le64(p));
    c64 = _mm_crc32_u64(c64, load_le64(p + 8));
    c64 = _mm_crc32_u64(c64, load_le64(p + 16));
    c64 = _mm_crc32_u64(c64, load_le64(p + 24));
  }
  for (; n >= 8; n -= 8, p += 8) c64 = _mm_crc32_u64(c64, load_le64(p));
  auto c32 = static_cast<std::uint32_t>(c64);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return c32;
}

bool detect_hardware() { return __builtin_cpu_supports("sse4.2"); }
#else
std::uint32_t hw_update(std::uint32_t c, const std::uint8_t* p, std::size_t n) {
  return table_update(c, p, n);
}
bool detect_hardware() { return false; }
#endif

// Decided once per process; constant afterwards (not mutable state).
bool has_hardware() {
  static const bool yes = detect_hardware();
  return yes;
}

}  // namespace

std::uint32_t crc32c(ByteView data, std::uint32_t crc) {
  const std::uint32_t c = ~crc;
  if (has_hardware()) return ~hw_update(c, data.data(), data.size());
  return ~table_update(c, data.data(), data.size());
}

std::uint32_t crc32c_portable(ByteView data, std::uint32_t crc) {
  return ~table_update(~crc, data.data(), data.size());
}

bool crc32c_uses_hardware() { return has_hardware(); }

}  // namespace samsa::protocol
