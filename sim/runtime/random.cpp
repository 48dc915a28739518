#include "sim/runtime/random.h"

#include <cmath>

namespace samsa::sim {

namespace {
std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Random::Random(std::uint64_t seed) : seed_(seed) {
  std::uint64_t x = seed;
  for (auto& s : s_) s = splitmix64(x);
}

Random Random::derive(std::string_view name) const {
  std::uint64_t x = seed_ ^ stable_hash(name);
  return Random(splitmix64(x));
}

std::uint64_t Random::next() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

std::uint64_t Random::uniform(std::uint64_t lo, std::uint64_t hi) {
  SAMSA_ASSERT(lo <= hi);
  const std::uint64_t span = hi - lo;
  if (span == ~0ull) return next();
  const std::uint64_t n = span + 1;
  // Lemire's multiply-shift with rejection: unbiased and deterministic.
  std::uint64_t x = next();
  unsigned __int128 m = static_cast<unsigned __int128>(x) * n;
  std::uint64_t low = static_cast<std::uint64_t>(m);
  if (low < n) {
    const std::uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      x = next();
      m = static_cast<unsigned __int128>(x) * n;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return lo + static_cast<std::uint64_t>(m >> 64);
}

std::int64_t Random::uniform_signed(std::int64_t lo, std::int64_t hi) {
  SAMSA_ASSERT(lo <= hi);
  const auto span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + uniform(0, span));
}

double Random::unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

namespace {
// Natural log from IEEE basic operations only (frexp is exact), so every
// machine computes the same bits; libm's log may differ between versions.
double deterministic_log(double x) {
  SAMSA_ASSERT(x > 0);
  int e = 0;
  double m = std::frexp(x, &e);  // x = m * 2^e, m in [0.5, 1)
  if (m < 0.70710678118654752440) {
    m *= 2;
    --e;
  }
  // ln(m) = 2 atanh(z), z = (m - 1) / (m + 1), |z| < 0.172: 20 terms are
  // far below one ulp.
  const double z = (m - 1) / (m + 1);
  const double z2 = z * z;
  double term = z;
  double sum = 0;
  for (int k = 0; k < 20; ++k) {
    sum += term / (2 * k + 1);
    term *= z2;
  }
  return 2 * sum + e * 0.69314718055994530942;
}
}  // namespace

double Random::exponential(double mean) { return -mean * deterministic_log(1.0 - unit()); }

Duration Random::exponential(Duration mean) {
  return Duration(static_cast<std::int64_t>(exponential(static_cast<double>(mean.count()))));
}

}  // namespace samsa::sim
