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

namespace {

FaultEvent crash(std::int64_t at_ms, const char* node, std::int64_t duration_ms) {
  FaultEvent e;
  e.at_ms = at_ms;
  e.fault = "crash";
  e.node = node;
  e.duration_ms = duration_ms;
  e.params = {{"disk", "keep_all"}};
  return e;
}

}  // namespace

TEST_CASE("shrink: two faults of one nemesis on one node merge into one spanning both", "[scenarios][shrink]") {
  const Schedule s{crash(100, "b1", 50), crash(120, "b2", 10), crash(400, "b1", 100)};
  auto m = merged(s, 0, 2);
  REQUIRE(m.has_value());
  REQUIRE(m->size() == 2);
  CHECK((*m)[0] == crash(100, "b1", 400));  // from 100 to 500, in time order
  CHECK((*m)[1] == crash(120, "b2", 10));
  // Overlapping: the later end wins, whichever starts first.
  auto o = merged(Schedule{crash(100, "b1", 500), crash(200, "b1", 50)}, 1, 0);
  REQUIRE(o.has_value());
  CHECK(o->front() == crash(100, "b1", 500));
}

TEST_CASE("shrink: faults on different targets, of different nemeses or instants do not merge", "[scenarios][shrink]") {
  CHECK_FALSE(merged(Schedule{crash(100, "b1", 50), crash(200, "b2", 50)}, 0, 1));
  FaultEvent pause = crash(200, "b1", 50);
  pause.fault = "pause";
  CHECK_FALSE(merged(Schedule{crash(100, "b1", 50), pause}, 0, 1));
  FaultEvent torn = crash(200, "b1", 50);
  torn.params["disk"] = "torn";
  CHECK_FALSE(merged(Schedule{crash(100, "b1", 50), torn}, 0, 1));
  CHECK_FALSE(merged(Schedule{crash(100, "b1", 0), crash(200, "b1", 0)}, 0, 1));
  CHECK_FALSE(merged(Schedule{crash(100, "b1", 50)}, 0, 0));
}

TEST_CASE("shrink: a dropped fault's place is taken by the faults after or before it", "[scenarios][shrink]") {
  const Schedule s{crash(1000, "b3", 600), crash(6000, "b2", 500), crash(6600, "b1", 5000)};
  auto tail = dropped_in_place(s, 0, true);
  REQUIRE(tail.has_value());
  CHECK(*tail == Schedule{crash(1000, "b2", 500), crash(1600, "b1", 5000)});  // gaps kept
  auto head = dropped_in_place(s, 2, false);
  REQUIRE(head.has_value());
  CHECK(*head == Schedule{crash(1600, "b3", 600), crash(6600, "b2", 500)});
  CHECK_FALSE(dropped_in_place(s, 2, true));   // nothing after the last
  CHECK_FALSE(dropped_in_place(s, 0, false));  // nothing before the first
}

TEST_CASE("shrink: a fault moves halfway to its neighbours and the schedule stays in time order", "[scenarios][shrink]") {
  const Schedule s{crash(1000, "b1", 10), crash(3000, "b2", 10), crash(4000, "b3", 10)};
  CHECK(shift_times(s, 1, 10000) == std::vector<std::int64_t>{2000, 3500});
  CHECK(shift_times(s, 0, 10000) == std::vector<std::int64_t>{500, 2000});
  // The last one moves at most so that it still ends inside the fault phase.
  CHECK(shift_times(s, 2, 5000) == std::vector<std::int64_t>{3500, 4495});
  const Schedule moved = shifted(s, 2, 500);
  CHECK(moved == Schedule{crash(500, "b3", 10), crash(1000, "b1", 10), crash(3000, "b2", 10)});
}

TEST_CASE("shrink: KAFKA-6361's demonstration, the zoo's first seed, shrinks to three faults and "
          "replays",
          "[scenarios][shrink][slow]") {
  // Before merging and moving, removal alone stopped at 5 faults (seed 14,
  // 21 faults): two fast leader changes need a first one from the faults,
  // and the workload's own timing gives it once the later faults move up.
  // Since the Kafka-faithful controller failover and produce purgatory
  // (95a38b3, f3f770c), bounces alone shrank to 5 (seed 96): two to make
  // replica-3 leader, one to make replica-1 lag inside the ISR, two leader
  // bounces. With a follower cut from the other brokers (the entry's
  // isolate nemesis) the sequence takes three: the isolation, a bounce of
  // the leader, a bounce of the isolated follower once it leads (seed 9).
  const Scenario& s = *find_scenario("zoo/offsets-for-leader-epoch-v0");
  std::optional<RunReport> found;
  for (std::uint64_t seed = 1; seed <= 200 && !found; ++seed) {  // the zoo's --max-seeds
    RunOptions o;
    o.seed = seed;
    RunReport r = run_guarded(s, o);
    if (!r.shown().empty()) found = std::move(r);
  }
  REQUIRE(found.has_value());
  INFO("seed " << found->seed << ": " << found->schedule.size() << " faults");
  ShrinkOptions so;
  so.max_runs = 150;  // the zoo's budget
  auto r = shrink(s, found->seed, found->schedule, so);
  REQUIRE(r.ok());
  CHECK(r->after.schedule.size() < found->schedule.size());
  CHECK(r->after.schedule.size() <= 3);  // issue 14's goal
  CHECK_FALSE(r->after.shown().empty());
  RunOptions o;
  o.seed = found->seed;
  o.schedule = r->after.schedule;
  CHECK(r->scenario.run(o).trace_hash == r->after.trace_hash);
}
