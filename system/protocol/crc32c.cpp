#include "system/protocol/crc32c.h"

#include <algorithm>
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

// The register after `n` zero bytes, as a linear map of the register:
// ZeroShift(c) = T[0][c & 0xff] ^ T[1][(c >> 8) & 0xff] ^ ... (zlib's
// crc32_combine idea with the map tabulated for one fixed length).
class ZeroShift {
 public:
  explicit ZeroShift(std::size_t n) {
    std::array<std::uint32_t, 32> basis{};
    const std::array<std::uint8_t, 64> zeros{};
    for (std::size_t bit = 0; bit < 32; ++bit) {
      std::uint32_t c = 1u << bit;
      for (std::size_t left = n; left > 0;) {
        const std::size_t step = std::min(left, zeros.size());
        c = table_update(c, zeros.data(), step);
        left -= step;
      }
      basis[bit] = c;
    }
    for (std::size_t k = 0; k < 4; ++k)
      for (std::uint32_t b = 0; b < 256; ++b) {
        std::uint32_t v = 0;
        for (std::size_t bit = 0; bit < 8; ++bit)
          if ((b >> bit) & 1u) v ^= basis[8 * k + bit];
        t_[k][b] = v;
      }
  }
  std::uint32_t operator()(std::uint32_t c) const {
    return t_[0][c & 0xff] ^ t_[1][(c >> 8) & 0xff] ^ t_[2][(c >> 16) & 0xff] ^ t_[3][c >> 24];
  }

 private:
  std::array<std::array<std::uint32_t, 256>, 4> t_{};
};

#if defined(__x86_64__)
// The crc32 instruction has a latency of 3 cycles and a throughput of one
// per cycle, so one dependency chain runs at a third of the unit's speed.
// Long inputs go as stripes of three blocks with a chain each (as Intel's
// crc_pcl and Linux's crc32c-pcl-intel do), joined by shifting the earlier
// blocks' registers over the later blocks' lengths. Measured (perf record
// of samsa live under kcat's produce load): CRC32C was 27% of the broker's
// samples with one chain (and two passes), 2% with three (and one pass).
constexpr std::size_t k_block_bytes = 4096;

__attribute__((target("sse4.2"))) std::uint64_t hw_chain(std::uint64_t c, const std::uint8_t* p,
                                                         std::size_t n) {
  for (; n >= 32; n -= 32, p += 32) {
    c = _mm_crc32_u64(c, load_le64(p));
    c = _mm_crc32_u64(c, load_le64(p + 8));
    c = _mm_crc32_u64(c, load_le64(p + 16));
    c = _mm_crc32_u64(c, load_le64(p + 24));
  }
  for (; n >= 8; n -= 8, p += 8) c = _mm_crc32_u64(c, load_le64(p));
  return c;
}

// Consumes the whole stripes at the front of [p, p + n), advancing both.
__attribute__((target("sse4.2"))) std::uint32_t hw_stripes(std::uint32_t c, const std::uint8_t*& p,
                                                           std::size_t& n) {
  static const ZeroShift shift(k_block_bytes);
  for (; n >= 3 * k_block_bytes; n -= 3 * k_block_bytes, p += 3 * k_block_bytes) {
    std::uint64_t a = c, b = 0, d = 0;
    const std::uint8_t* pb = p + k_block_bytes;
    const std::uint8_t* pd = p + 2 * k_block_bytes;
    for (std::size_t i = 0; i < k_block_bytes; i += 8) {
      a = _mm_crc32_u64(a, load_le64(p + i));
      b = _mm_crc32_u64(b, load_le64(pb + i));
      d = _mm_crc32_u64(d, load_le64(pd + i));
    }
    c = shift(shift(static_cast<std::uint32_t>(a)) ^ static_cast<std::uint32_t>(b)) ^
        static_cast<std::uint32_t>(d);
  }
  return c;
}

__attribute__((target("sse4.2"))) std::uint32_t hw_update(std::uint32_t c,
                                                          const std::uint8_t* p,
                                                          std::size_t n) {
  c = hw_stripes(c, p, n);
  auto c32 = static_cast<std::uint32_t>(hw_chain(c, p, n));
  p += n & ~std::size_t{7};
  for (n &= 7; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
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
