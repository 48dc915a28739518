#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "scenarios/nemesis.h"
#include "scenarios/scenario.h"
#include "scenarios/schedule.h"
#include "tests/sim/world_helpers.h"

using namespace samsa::scenarios;

namespace {

const Scenario& pingpong() { return *find_scenario("selftest/pingpong"); }

}  // namespace

TEST_CASE("schedule: generate, write as JSON, read back and replay: the same trace",
          "[scenarios][schedule]") {
  for (const char* name : {"selftest/pingpong", "coord/controller-election"}) {
    for (std::uint64_t seed : {1, 2, 3}) {
      INFO(name << " seed " << seed);
      const Scenario& s = *find_scenario(name);
      RunOptions o;
      o.seed = seed;
      const RunReport drawn = s.run(o);
      REQUIRE_FALSE(drawn.schedule.empty());
      const std::string text = to_json(drawn.schedule).dump();
      auto parsed = schedule_from_json(nlohmann::json::parse(text));
      REQUIRE(parsed.ok());
      REQUIRE(*parsed == drawn.schedule);
      o.schedule = *parsed;
      const RunReport replayed = s.run(o);
      CHECK(replayed.trace_hash == drawn.trace_hash);
      CHECK(replayed.events == drawn.events);
    }
  }
}

TEST_CASE("schedule: an edited schedule replays as written", "[scenarios][schedule]") {
  RunOptions o;
  o.seed = 5;
  const RunReport drawn = pingpong().run(o);
  Schedule fewer(drawn.schedule.begin(), drawn.schedule.begin() + 2);
  o.schedule = fewer;
  const RunReport edited = pingpong().run(o);
  CHECK(edited.schedule == fewer);
  CHECK(edited.details["faults"] == 2);
  CHECK(edited.trace_hash != drawn.trace_hash);
  o.schedule = Schedule{};
  CHECK(pingpong().run(o).details["faults"] == 0);
}

TEST_CASE("schedule: a schedule naming a node the run lacks is bad input", "[scenarios][schedule]") {
  RunOptions o;
  o.seed = 1;
  o.schedule = Schedule{FaultEvent{100, "crash", "n9", "", 100, {{"disk", "random"}}}};
  CHECK(pingpong().run(o).bad_input.find("n9") != std::string::npos);
  CHECK_FALSE(schedule_from_json(nlohmann::json::parse(R"([{"at_ms":1,"fault":"nosuch","node":"n1"}])")).ok());
  CHECK_FALSE(schedule_from_json(nlohmann::json::parse(R"([{"at_ms":1,"fault":"partition","node":"n1"}])")).ok());
}

TEST_CASE("schedule: the generator never faults more nodes at once than the budget",
          "[scenarios][schedule]") {
  rc::prop("max_faulted_at_once <= max_faulted_nodes", [](std::uint32_t seed, std::uint8_t budget) {
    const std::int64_t b = budget % 4;
    auto s = scenario_from_text(pingpong().text, "p.toml", "p",
                                {{"faults.max_faulted_nodes", std::to_string(b)},
                                 {"faults.rate_per_s", "4.0"}, {"cluster.nodes", "5"}});
    RC_ASSERT(s.ok());
    NodeGroups groups = {{"all", {"n1", "n2", "n3", "n4", "n5"}}};
    samsa::sim::Random rng(seed);
    const Schedule sched = generate_schedule(s->spec, groups, 4.0, rng);
    RC_ASSERT(max_faulted_at_once(sched) <= b);
    for (const auto& e : sched) RC_ASSERT(e.at_ms < s->spec.fault_phase_ms);
  });
}

TEST_CASE("schedule: a crash is never scheduled on a node a crash holds down", "[scenarios][schedule]") {
  rc::prop("no overlapping crashes of one node", [](std::uint32_t seed) {
    auto s = scenario_from_text(pingpong().text, "p.toml", "p", {{"faults.rate_per_s", "5.0"}});
    RC_ASSERT(s.ok());
    NodeGroups groups = {{"all", {"n1", "n2", "n3"}}};
    samsa::sim::Random rng(seed);
    const Schedule sched = generate_schedule(s->spec, groups, 5.0, rng);
    for (const auto& a : sched)
      for (const auto& b : sched)
        if (&a != &b && a.fault == "crash" && b.fault == "crash" && a.node == b.node)
          RC_ASSERT(!(a.at_ms <= b.at_ms && b.at_ms < a.at_ms + a.duration_ms));
  });
}

TEST_CASE("nemesis restart: `disk` says what the restart keeps of unsynced writes (keep_all: a "
          "process restart; keep_none: a power cycle); a bad mode is bad input", "[scenarios][schedule]") {
  using namespace std::chrono_literals;
  const Nemesis* restart = find_nemesis("restart");
  REQUIRE(restart);
  for (const std::string mode : {"keep_all", "keep_none"}) {
    INFO(mode);
    samsa::sim::World world(samsa::testing::quiet_config(3));
    int starts = 0;
    std::uint64_t size_after = 99;
    const auto n = world.add_node("n", [&](samsa::sim::Runtime& rt) {
      auto f = rt.disk().open("data", {.create = true});
      REQUIRE(f.ok());
      if (++starts == 1) {
        REQUIRE((*f)->append(samsa::as_bytes(std::string("unsynced"))).ok());  // no fsync
        rt.sleep(10s);
      } else {
        size_after = (*f)->size();
      }
    });
    world.start(n);
    samsa::sim::Random rng(2);
    const nlohmann::json drawn = restart->draw(rng, nlohmann::json{{"disk", mode}});
    const FaultEvent e{1000, "restart", "n", "", 0, drawn};
    world.spawn("nemesis", [&] {
      world.control().sleep(1s);
      restart->apply(world, e, n, 0);
    });
    (void)world.run(world.now() + 5s);
    CHECK(starts == 2);
    CHECK(size_after == (mode == "keep_all" ? 8u : 0u));
  }
  // Unset (random): nothing written into the event, so older schedules stay as they were.
  samsa::sim::Random rng(1);
  CHECK(restart->draw(rng, nlohmann::json{{"disk", "random"}}).empty());
  auto bad = scenario_from_text(pingpong().text + "\n[[nemesis]]\nname = \"restart\"\ndisk = \"nope\"\n",
                                "bad.toml", "bad", {});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().to_string().find("disk") != std::string::npos);
}

TEST_CASE("nemesis lost-acks: two overlapping windows on one link compose; the link heals when the last ends",
          "[scenarios][schedule]") {
  using namespace std::chrono_literals;
  const Nemesis* lost = find_nemesis("lost-acks");
  REQUIRE(lost);
  samsa::sim::World world(samsa::testing::quiet_config(4));
  const auto a = world.add_node("a", [](samsa::sim::Runtime& rt) { rt.sleep(10s); });
  const auto b = world.add_node("b", [](samsa::sim::Runtime& rt) { rt.sleep(10s); });
  const FaultEvent first{1000, "lost-acks", "a", "b", 3000, nlohmann::json::object()};
  const FaultEvent second{2000, "lost-acks", "a", "b", 3000, nlohmann::json::object()};
  std::vector<bool> cut;  // after each step
  auto dropping = [&] { return world.network().silently_cut(a, b) == samsa::sim::SilentMode::drop; };
  world.spawn("nemesis", [&] {
    auto& ctl = world.control();
    ctl.sleep(1s);
    lost->apply(world, first, a, b);
    cut.push_back(dropping());
    ctl.sleep(1s);
    lost->apply(world, second, a, b);
    cut.push_back(dropping());
    ctl.sleep(2s);
    lost->revert(world, first, a, b);  // the second window is still open
    cut.push_back(dropping());
    ctl.sleep(1s);
    lost->revert(world, second, a, b);
    cut.push_back(dropping());
    lost->apply(world, first, a, b);  // a later window, then the heal ends it
    world.network().heal_all();
    lost->revert(world, first, a, b);
    cut.push_back(dropping());
    lost->apply(world, second, a, b);  // and the count starts afresh
    cut.push_back(dropping());
  });
  world.start(a);
  world.start(b);
  (void)world.run(world.now() + 8s);
  CHECK(cut == std::vector<bool>{true, true, true, false, false, true});
  CHECK_FALSE(world.network().silently_cut(b, a).has_value());  // one way only
}
