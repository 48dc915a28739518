#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>

#include "scenarios/sweep.h"
#include "scenarios/workload.h"

using namespace samsa::scenarios;
using namespace samsa::sim;

namespace {

// A deliberately nondeterministic workload (test-only): every run sleeps a
// little longer than the one before, so two runs of one seed differ.
std::atomic<int> g_runs{0};

class Nondeterministic final : public Workload {
 public:
  void setup(WorkloadContext& ctx) override {
    ctx.world.add_node("x", [](Runtime& rt) {
      rt.sleep(std::chrono::milliseconds(1 + g_runs.fetch_add(1) % 50));
      rt.yield();
    });
  }
  void start(WorkloadContext& ctx) override { ctx.world.start(0); }
};

// Throws std::out_of_range for every third seed.
class Throws final : public Workload {
 public:
  void setup(WorkloadContext& ctx) override {
    seed_ = ctx.swarm.uniform(0, 2);
    ctx.world.add_node("x", [](Runtime& rt) { rt.sleep(1ms); });
  }
  void start(WorkloadContext& ctx) override {
    if (seed_ == 0) throw std::out_of_range("vector::at: index 7 >= 3");
    ctx.world.start(0);
  }

 private:
  std::uint64_t seed_ = 0;
};

Scenario test_scenario(const char* workload) {
  static bool registered = [] {
    register_workload({"test-nondeterministic", "", {}, {}, {}, {},
                       [] { return std::make_unique<Nondeterministic>(); }});
    register_workload({"test-throws", "", {}, {}, {}, {}, [] { return std::make_unique<Throws>(); }});
    return true;
  }();
  (void)registered;
  auto s = scenario_from_text(fmt::format("[workload]\nname = \"{}\"\n[faults]\nphase_ms = 100\nheal_ms = 100\n",
                                          workload),
                              "test.toml", "test");
  REQUIRE(s.ok());
  return std::move(*s);
}

}  // namespace

TEST_CASE("sweep: recheck catches a nondeterministic scenario", "[scenarios][sweep]") {
  const Scenario s = test_scenario("test-nondeterministic");
  SweepOptions o;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) o.seeds.push_back(seed);
  o.jobs = 2;
  o.recheck = 1.0;
  const SweepResult r = sweep(s, o);
  CHECK(r.rechecked == 10);
  CHECK(r.mismatched >= 9);
  // Without rechecks it goes unnoticed: the point of --recheck.
  o.recheck = 0;
  CHECK(sweep(s, o).mismatched == 0);
}

TEST_CASE("sweep: a deterministic scenario passes its recheck", "[scenarios][sweep]") {
  SweepOptions o;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) o.seeds.push_back(seed);
  o.jobs = 2;
  o.recheck = 1.0;
  const SweepResult r = sweep(*find_scenario("selftest/pingpong-dup-bug"), o);
  CHECK(r.rechecked == 6);
  CHECK(r.mismatched == 0);
}

TEST_CASE("sweep: an exception escaping a run is that seed's internal_error; the sweep goes on",
          "[scenarios][sweep]") {
  const Scenario s = test_scenario("test-throws");
  SweepOptions o;
  for (std::uint64_t seed = 1; seed <= 12; ++seed) o.seeds.push_back(seed);
  o.jobs = 2;
  const SweepResult r = sweep(s, o);
  REQUIRE(r.outcomes.size() == 12);
  int internal = 0, ok = 0;
  for (const auto& out : r.outcomes) {
    if (out.report.verdict == Verdict::internal_error) {
      ++internal;
      CHECK(out.report.internal_error.find("vector::at: index 7 >= 3") != std::string::npos);
    }
    if (out.report.verdict == Verdict::ok) ++ok;
  }
  CHECK(internal >= 1);
  CHECK(ok >= 1);
  CHECK(internal + ok == 12);
}

TEST_CASE("sweep: the recheck sample is a fixed function of the seed", "[scenarios][sweep]") {
  int in = 0;
  for (std::uint64_t seed = 1; seed <= 10000; ++seed) in += in_recheck_sample(seed, 0.05) ? 1 : 0;
  CHECK(in > 400);
  CHECK(in < 600);
  CHECK(in_recheck_sample(17, 1.0));
  CHECK_FALSE(in_recheck_sample(17, 0.0));
}
