// The broker scenarios (scenarios/broker/acks.cpp): determinism, acks=all
// holding over many seeds, acks=1 losing an acknowledged write.
#include <catch2/catch.hpp>

#include <set>

#include "scenarios/broker/acks.h"
#include "scenarios/scenario.h"

using namespace samsa::scenarios;

namespace {
RunReport run(std::string_view name, std::uint64_t seed) {
  RunOptions o;
  o.seed = seed;
  return find_scenario(name)->run(o);
}

void check_seeds(std::uint64_t from, std::uint64_t to) {
  for (std::uint64_t seed = from; seed <= to; ++seed) {
    const auto r = run("broker/acks-all", seed);
    INFO("seed " << seed << ": " << (r.violations.empty() ? "" : r.violations.front()));
    REQUIRE(r.verdict == Verdict::ok);
    REQUIRE(r.details["acked"].get<int>() > 0);
  }
}
}  // namespace

TEST_CASE("broker scenarios: same seed, same trace; different seeds, different traces",
          "[determinism][broker][scenario]") {
  for (std::string_view name : {"broker/acks-all", "broker/acks-1-leader-crash"}) {
    std::set<std::uint64_t> hashes;
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      const auto a = run(name, seed);
      const auto b = run(name, seed);
      INFO(name << " seed " << seed);
      REQUIRE(a.trace_hash == b.trace_hash);
      REQUIRE(a.events == b.events);
      REQUIRE(a.details == b.details);
      hashes.insert(a.trace_hash);
    }
    REQUIRE(hashes.size() == 3);
  }
}

TEST_CASE("acks=all, min.insync.replicas=2, RF=3: no acknowledged record lost, no divergence (500 seeds)",
          "[broker][scenario]") {
  check_seeds(1, 500);
}

TEST_CASE("acks=all holds over 5,000 more seeds", "[broker][scenario][sweep]") { check_seeds(501, 5500); }

TEST_CASE("acks=1: a leader crash before replication loses an acknowledged write within seeds 1..300",
          "[broker][scenario]") {
  std::uint64_t found = 0;
  for (std::uint64_t seed = 1; seed <= 300 && found == 0; ++seed) {
    const auto r = run("broker/acks-1-leader-crash", seed);
    if (r.verdict == Verdict::ok) continue;
    REQUIRE(r.verdict == Verdict::safety);
    REQUIRE(r.violations.front().rfind("lost-write", 0) == 0);
    REQUIRE(exit_code(r.verdict) == 1);
    found = seed;
  }
  REQUIRE(found != 0);
}
