// The zoo (scenarios/zoo.cpp): every scenario that demonstrates an anomaly
// is listed; an entry is found on the first seed that shows it, shrunk, and,
// for a legacy switch, holds with the switch off.
#include <catch2/catch.hpp>

#include <algorithm>

#include "scenarios/zoo.h"

using namespace samsa::scenarios;

namespace {

bool listed(const std::string& name) {
  const auto all = zoo_scenarios();
  return std::any_of(all.begin(), all.end(), [&](const Scenario* s) { return s->name == name; });
}

}  // namespace

TEST_CASE("the zoo lists every built-in scenario that demonstrates an anomaly, and only those", "[scenarios][zoo]") {
  std::size_t demonstrating = 0;
  for (const auto& s : builtin_scenarios()) {
    INFO(s.name);
    CHECK(listed(s.name) == !s.spec.demonstrates.empty());
    demonstrating += s.spec.demonstrates.empty() ? 0 : 1;
  }
  CHECK(zoo_scenarios().size() == demonstrating);
  CHECK(listed("broker/acks-1-leader-crash"));
  CHECK_FALSE(listed("broker/acks-all"));
  REQUIRE(zoo_scenarios({"producer/inflight-reordering"}).size() == 1);
}

TEST_CASE("a zoo entry is found on its first showing seed, deterministic, and shrunk", "[scenarios][zoo]") {
  ZooOptions o;
  o.max_seeds = 5;
  o.jobs = 2;
  o.shrink_runs = 40;
  const Scenario& s = *find_scenario("producer/inflight-reordering");
  const ZooResult r = run_zoo_entry(s, o);
  INFO(r.internal_error);
  REQUIRE(r.found);
  REQUIRE(r.seed.has_value());
  CHECK(r.caught_by == "nonmonotonic-send");
  CHECK(r.deterministic);
  CHECK(r.ok());
  CHECK(r.control_runs == 0);  // no legacy switch: nothing to turn off
  CHECK(r.seeds_tried == *r.seed);  // seeds in order from 1: the first showing one
  // Every earlier seed did not show it.
  for (std::uint64_t seed = 1; seed < *r.seed; ++seed) {
    RunOptions ro;
    ro.seed = seed;
    CHECK(run_guarded(s, ro).shown().empty());
  }
  REQUIRE(r.faults_shrunk.has_value());
  CHECK(*r.faults_shrunk <= r.faults);
  CHECK(r.shrink_runs > 0);
  const auto j = to_json(r);
  CHECK(j["found"].get<bool>());
  CHECK(j["seed"].get<std::uint64_t>() == *r.seed);
  CHECK(j["replay"].get<std::string>() == "samsa run producer/inflight-reordering --seed " + std::to_string(*r.seed));
}

TEST_CASE("a zoo entry that no seed in range shows is reported not found", "[scenarios][zoo]") {
  // With the faults switched off nothing is lost on the one seed tried.
  auto calm = load_scenario("broker/acks-1-leader-crash", {{"faults.rate_per_s", "0"}});
  REQUIRE(calm.ok());
  ZooOptions o;
  o.max_seeds = 1;
  o.shrink = false;
  const ZooResult r = run_zoo_entry(*calm, o);
  CHECK_FALSE(r.found);
  CHECK_FALSE(r.ok());
  CHECK(r.seeds_tried == 1);
  CHECK(to_json(r)["seed"].is_null());
}

TEST_CASE("a legacy switch's zoo entry finds its bug and holds with the switch off (KAFKA-1211)", "[scenarios][zoo]") {
  ZooOptions o;
  o.max_seeds = 5;
  o.control_seeds = 2;
  o.jobs = 2;
  o.shrink = false;
  const Scenario& s = *find_scenario("zoo/truncate-to-high-watermark");
  REQUIRE(s.spec.zoo_switch == "samsa.legacy.truncate.to.high.watermark");
  const ZooResult r = run_zoo_entry(s, o);
  INFO(r.internal_error);
  REQUIRE(r.found);
  CHECK(r.issue == "KAFKA-1211");
  CHECK(std::find(r.anomalies.begin(), r.anomalies.end(), r.caught_by) != r.anomalies.end());
  CHECK(r.control_runs == 2);  // the found seed and one more, the switch off
  CHECK(r.control_failed.empty());
  CHECK(r.ok());
  // The found seed with the switch off: the same faults, nothing to demonstrate, nothing failing.
  auto off = load_scenario("zoo/truncate-to-high-watermark", {{"samsa.legacy.truncate.to.high.watermark", "false"}});
  REQUIRE(off.ok());
  RunOptions ro;
  ro.seed = *r.seed;
  const auto rep = run_guarded(*off, ro);
  CHECK(rep.verdict == Verdict::ok);
  CHECK(rep.demonstrated.empty());
}
