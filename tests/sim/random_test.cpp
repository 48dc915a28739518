#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <cmath>

#include "sim/runtime/random.h"

using samsa::sim::Random;

TEST_CASE("same seed gives the same stream, different seeds differ", "[sim][random]") {
  Random a(42), b(42);
  for (int i = 0; i < 100; ++i) REQUIRE(a.next() == b.next());
  Random d(42), e(43);
  int same = 0;
  for (int i = 0; i < 100; ++i) same += d.next() == e.next();
  REQUIRE(same == 0);
}

TEST_CASE("the stream for a seed is stable across builds", "[sim][random]") {
  // Pinned values: a change here changes every recorded seed's history.
  Random s(0);
  const auto first = s.next();
  REQUIRE(first == 0x99ec5f36cb75f2b4ull);
}

TEST_CASE("derived streams are independent of draws on the parent", "[sim][random]") {
  Random a(7);
  Random a1 = a.derive("disk");
  a.next();
  a.next();
  Random a2 = a.derive("disk");
  REQUIRE(a1.next() == a2.next());
  REQUIRE(Random(7).derive("disk").next() != Random(7).derive("net").next());
}

TEST_CASE("uniform stays in range and hits both ends", "[sim][random]") {
  rc::prop("uniform(lo, hi) is within [lo, hi]", [](std::uint64_t seed, std::uint32_t lo,
                                                     std::uint16_t width) {
    Random r(seed);
    const std::uint64_t hi = std::uint64_t{lo} + width;
    for (int i = 0; i < 50; ++i) {
      const auto x = r.uniform(lo, hi);
      RC_ASSERT(x >= lo);
      RC_ASSERT(x <= hi);
    }
  });
  Random r(3);
  bool lo = false, hi = false;
  for (int i = 0; i < 1000; ++i) {
    const auto x = r.uniform(10, 13);
    lo |= x == 10;
    hi |= x == 13;
  }
  REQUIRE((lo && hi));
}

TEST_CASE("chance and exponential have the right means", "[sim][random]") {
  Random r(11);
  int hits = 0;
  double sum = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    hits += r.chance(0.3);
    sum += r.exponential(5.0);
  }
  REQUIRE(hits / double(n) == Approx(0.3).margin(0.01));
  REQUIRE(sum / n == Approx(5.0).margin(0.1));
}

TEST_CASE("exponential draws are pinned bits on every machine", "[sim][random]") {
  // exponential() computes its logarithm from basic IEEE operations only;
  // these values must never change (they decide fault schedules).
  Random r(5);
  const double a = r.exponential(1.0);
  const double b = r.exponential(1000.0);
  Random again(5);
  REQUIRE(again.exponential(1.0) == a);
  REQUIRE(again.exponential(1000.0) == b);
  REQUIRE(a == Approx(-std::log1p(-Random(5).unit())).epsilon(1e-15));
}
