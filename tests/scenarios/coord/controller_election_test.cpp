#include <catch2/catch.hpp>

#include <set>
#include <thread>

#include "scenarios/coord/controller_election.h"
#include "scenarios/scenario.h"

using namespace samsa::scenarios;

namespace {
RunReport election(std::uint64_t seed) {
  RunOptions o;
  o.seed = seed;
  return find_scenario("coord/controller-election")->run(o);
}
}  // namespace

TEST_CASE("controller-election: same seed, same trace; different seeds, different traces",
          "[determinism][coord][election]") {
  std::set<std::uint64_t> hashes;
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const auto a = election(seed);
    const auto b = election(seed);
    INFO("seed " << seed << ": " << (a.violations.empty() ? std::string() : a.violations.front().to_string()));
    REQUIRE(a.trace_hash == b.trace_hash);
    REQUIRE(a.events == b.events);
    REQUIRE(a.verdict == Verdict::ok);
    REQUIRE(a.details["elections"].get<int>() >= 1);
    hashes.insert(a.trace_hash);
  }
  REQUIRE(hashes.size() == 4);
}

TEST_CASE("controller-election: the checker catches an election without the epoch check",
          "[coord][election]") {
  int caught = 0;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    coord::ControllerElectionConfig c;
    c.seed = seed;
    c.stale_epoch_bug = true;
    if (coord::run_controller_election_with(c).verdict == Verdict::safety) ++caught;
  }
  REQUIRE(caught >= 3);
}

TEST_CASE("controller-election: 200 seeds are deterministic and hold their invariants",
          "[determinism][coord][election][slow]") {
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    const auto a = election(seed);
    INFO("seed " << seed << ": " << (a.violations.empty() ? std::string() : a.violations.front().to_string()));
    REQUIRE(a.verdict == Verdict::ok);
    REQUIRE(election(seed).trace_hash == a.trace_hash);
  }
}

TEST_CASE("controller-election: two runs on two threads at once agree",
          "[determinism][coord][election]") {
  const auto alone = election(21).trace_hash;
  std::uint64_t a = 0, b = 0;
  std::thread t1([&] { a = election(21).trace_hash; });
  std::thread t2([&] { b = election(21).trace_hash; });
  t1.join();
  t2.join();
  REQUIRE(a == alone);
  REQUIRE(b == alone);
}
