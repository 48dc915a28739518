#include <catch2/catch.hpp>

#include <set>
#include <thread>

#include "scenarios/scenario.h"
#include "scenarios/selftest/pingpong.h"

using namespace samsa::scenarios;

namespace {
RunReport pingpong(std::uint64_t seed) {
  RunOptions o;
  o.seed = seed;
  return find_scenario("selftest/pingpong")->run(o);
}
}  // namespace

TEST_CASE("pingpong: same seed, same trace; different seeds, different traces",
          "[determinism][pingpong]") {
  std::set<std::uint64_t> hashes;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto a = pingpong(seed);
    const auto b = pingpong(seed);
    REQUIRE(a.trace_hash == b.trace_hash);
    REQUIRE(a.events == b.events);
    REQUIRE(a.verdict == Verdict::ok);
    hashes.insert(a.trace_hash);
  }
  REQUIRE(hashes.size() == 5);
}

TEST_CASE("pingpong: two runs on two threads at once agree", "[determinism][pingpong]") {
  const auto alone = pingpong(77).trace_hash;
  std::uint64_t a = 0, b = 0;
  std::thread t1([&] { a = pingpong(77).trace_hash; });
  std::thread t2([&] { b = pingpong(77).trace_hash; });
  t1.join();
  t2.join();
  REQUIRE(a == alone);
  REQUIRE(b == alone);
}

TEST_CASE("pingpong: the checker catches a duplicating server", "[pingpong]") {
  selftest::PingpongConfig c;
  c.seed = 3;
  c.inject_duplicate_bug = true;
  const auto r = selftest::run_pingpong_with(c);
  REQUIRE(r.verdict == Verdict::safety);
}

namespace {
void sweep_pingpong(std::uint64_t seeds) {
  std::set<std::uint64_t> hashes;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    const auto a = pingpong(seed);
    const auto b = pingpong(seed);
    INFO("seed " << seed);
    REQUIRE(a.trace_hash == b.trace_hash);
    REQUIRE(a.verdict == Verdict::ok);
    hashes.insert(a.trace_hash);
  }
  REQUIRE(hashes.size() == seeds);
}
}  // namespace

TEST_CASE("pingpong: 1000 seeds are deterministic and hold their invariants",
          "[determinism][pingpong]") {
  sweep_pingpong(1000);
}

TEST_CASE("pingpong: 20000 seeds are deterministic and hold their invariants",
          "[determinism][pingpong][slow]") {
  sweep_pingpong(20000);
}
