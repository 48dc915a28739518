#pragma once
// Deterministic pseudo-random numbers with samsa's own distributions.
// std::uniform_*_distribution is not used: its results differ between
// standard libraries, and a seed must give one history everywhere.
#include <cstdint>
#include <span>
#include <string_view>

#include "sim/runtime/assert.h"
#include "sim/runtime/time.h"

namespace samsa::sim {

// 64-bit FNV-1a: a stable hash of names (stream names, buggify points).
constexpr std::uint64_t stable_hash(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

// xoshiro256** seeded by splitmix64.
class Random {
 public:
  explicit Random(std::uint64_t seed);

  // An independent stream for a named subsystem: adding draws to one stream
  // never shifts another's.
  Random derive(std::string_view name) const;
  std::uint64_t seed() const { return seed_; }

  std::uint64_t next();
  // Uniform in [lo, hi], both inclusive, without modulo bias.
  std::uint64_t uniform(std::uint64_t lo, std::uint64_t hi);
  std::int64_t uniform_signed(std::int64_t lo, std::int64_t hi);
  // Uniform in [0, 1) with 53 bits.
  double unit();
  bool chance(double p) { return unit() < p; }
  // Exponentially distributed with the given mean (inverse transform).
  double exponential(double mean);
  Duration exponential(Duration mean);
  Duration uniform(Duration lo, Duration hi) {
    return Duration(uniform_signed(lo.count(), hi.count()));
  }
  template <class T>
  const T& pick(std::span<const T> items) {
    SAMSA_ASSERT(!items.empty());
    return items[uniform(0, items.size() - 1)];
  }
  std::size_t index(std::size_t size) {
    SAMSA_ASSERT(size > 0);
    return static_cast<std::size_t>(uniform(0, size - 1));
  }

 private:
  std::uint64_t seed_;
  std::uint64_t s_[4];
};

}  // namespace samsa::sim
