// The consumer-group delivery scenarios (scenarios/groups/delivery.cpp):
// determinism, and each delivery mode showing its own anomaly on a fixed
// seed while keeping its promise.
#include <catch2/catch.hpp>

#include "scenarios/groups/delivery.h"
#include "scenarios/scenario.h"

using namespace samsa::scenarios;

namespace {
RunReport run(std::string_view name, std::uint64_t seed) {
  RunOptions o;
  o.seed = seed;
  return find_scenario(name)->run(o);
}
}  // namespace

TEST_CASE("group scenarios: same seed, same trace; different seeds, different traces",
          "[determinism][consumer][scenario]") {
  for (std::string_view name : {"groups/at-most-once", "groups/at-least-once"}) {
    INFO(name);
    const auto a = run(name, 3), b = run(name, 3), c = run(name, 4);
    CHECK(a.trace_hash == b.trace_hash);
    CHECK(a.details == b.details);
    CHECK(a.trace_hash != c.trace_hash);
  }
}

TEST_CASE("commit-before-process: a consumer crash loses records and never processes one twice (seed 1)",
          "[consumer][scenario]") {
  const auto r = run("groups/at-most-once", 1);
  INFO(r.details.dump());
  CHECK(r.verdict == Verdict::ok);
  CHECK(r.details["lost"].get<int>() > 0);
  CHECK(r.details["duplicated"].get<int>() == 0);
  CHECK(r.details["crashes"].get<int>() > 0);
}

TEST_CASE("process-before-commit: a consumer crash processes records again and loses none (seed 1)",
          "[consumer][scenario]") {
  const auto r = run("groups/at-least-once", 1);
  INFO(r.details.dump());
  CHECK(r.verdict == Verdict::ok);
  CHECK(r.details["duplicated"].get<int>() > 0);
  CHECK(r.details["lost"].get<int>() == 0);
  CHECK(r.details["processed"] == r.details["sent"]);
}

TEST_CASE("both delivery modes keep their promise, one owner per partition per generation and no committed-offset "
          "regression over seeds 1..30 (200 with [slow])",
          "[consumer][scenario]") {
  for (std::string_view name : {"groups/at-most-once", "groups/at-least-once"}) {
    for (std::uint64_t seed = 1; seed <= 30; ++seed) {
      const auto r = run(name, seed);
      INFO(name << " seed " << seed << ": " << (r.violations.empty() ? std::string() : r.violations.front().to_string()));
      REQUIRE(r.verdict == Verdict::ok);
    }
  }
}

TEST_CASE("delivery modes over seeds 1..200", "[consumer][scenario][slow]") {
  for (std::string_view name : {"groups/at-most-once", "groups/at-least-once"}) {
    for (std::uint64_t seed = 1; seed <= 200; ++seed) {
      const auto r = run(name, seed);
      INFO(name << " seed " << seed << ": " << (r.violations.empty() ? std::string() : r.violations.front().to_string()));
      REQUIRE(r.verdict == Verdict::ok);
    }
  }
}
