#include <catch2/catch.hpp>

#include "scenarios/shrink.h"

using namespace samsa::scenarios;

namespace {

// The first failing seed of a scenario among 1..20, with its report.
RunReport first_failure(const Scenario& s) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    RunOptions o;
    o.seed = seed;
    RunReport r = s.run(o);
    if (r.verdict != Verdict::ok && r.schedule.size() > 3) return r;
  }
  FAIL("no failing seed with more than 3 faults");
  return {};
}

void shrinks_to_three(const char* name) {
  const Scenario& s = *find_scenario(name);
  const RunReport failing = first_failure(s);
  INFO(name << " seed " << failing.seed << ": " << failing.schedule.size() << " faults");
  auto r = shrink(s, failing.seed, failing.schedule);
  REQUIRE(r.ok());
  CHECK(r->after.schedule.size() <= 3);
  CHECK(r->after.schedule.size() < failing.schedule.size());
  // The same violation still appears, and the shrunk run replays exactly.
  REQUIRE_FALSE(r->after.violations.empty());
  bool same = false;
  for (const auto& v : r->after.violations)
    same = same || (v.name == failing.violations.front().name && v.kind == failing.violations.front().kind);
  CHECK(same);
  RunOptions o;
  o.seed = failing.seed;
  o.schedule = r->after.schedule;
  CHECK(r->scenario.run(o).trace_hash == r->after.trace_hash);
}

}  // namespace

TEST_CASE("shrink: pingpong-dup-bug shrinks to at most 3 faults", "[scenarios][shrink]") {
  shrinks_to_three("selftest/pingpong-dup-bug");
}

TEST_CASE("shrink: the broken controller election shrinks to at most 3 faults", "[scenarios][shrink]") {
  shrinks_to_three("coord/controller-election-stale-epoch-bug");
}

TEST_CASE("shrink: a run that does not fail is refused", "[scenarios][shrink]") {
  const Scenario& s = *find_scenario("selftest/pingpong");
  RunOptions o;
  o.seed = 1;
  const RunReport r = s.run(o);
  REQUIRE(r.verdict == Verdict::ok);
  CHECK_FALSE(shrink(s, 1, r.schedule).ok());
}
