// The producer scenarios (scenarios/producer/delivery.cpp): determinism;
// the idempotent producer keeps exactly-once order per partition under lost
// acks, leader changes and broker restarts over 300 seeds; without
// idempotence, retries with 5 requests in flight duplicate and reorder on
// some seed; acks=0 loses sends and never reports one ok.
#include <catch2/catch.hpp>

#include <set>

#include "scenarios/producer/delivery.h"
#include "scenarios/scenario.h"

using namespace samsa::scenarios;

namespace {
RunReport run(std::string_view name, std::uint64_t seed) {
  RunOptions o;
  o.seed = seed;
  return find_scenario(name)->run(o);
}

// A shorter run of the same scenario for the many-seed sweeps.
RunReport run_short(std::map<std::string, std::string> producer, std::uint64_t seed) {
  producer::DeliveryConfig c;
  c.seed = seed;
  c.producer = std::move(producer);
  c.fault_phase_ms = 6000;
  c.heal_phase_ms = 14000;  // the workload sends until 9 s before the end
  return producer::run_delivery(c);
}

const std::map<std::string, std::string> k_idempotent = {
    {"enable.idempotence", "true"}, {"acks", "all"}, {"max.in.flight.requests.per.connection", "5"}};
const std::map<std::string, std::string> k_plain = {
    {"enable.idempotence", "false"}, {"acks", "all"}, {"max.in.flight.requests.per.connection", "5"}};

void check_idempotent(std::uint64_t from, std::uint64_t to) {
  std::uint64_t retried = 0, info = 0, bumps = 0;
  for (std::uint64_t seed = from; seed <= to; ++seed) {
    // Odd seeds with a short delivery.timeout.ms: batches expire in flight
    // (unknown outcome) and the producer must bump its epoch (KIP-360).
    auto props = k_idempotent;
    if (seed % 2 == 1) props["delivery.timeout.ms"] = "4000";
    const auto r = run_short(props, seed);
    INFO("seed " << seed << ": " << (r.violations.empty() ? std::string() : r.violations.front().to_string()));
    REQUIRE(r.verdict == Verdict::ok);
    REQUIRE(r.details["ok"].get<int>() > 0);
    retried += r.details["batches_retried"].get<std::uint64_t>();
    info += r.details["info"].get<std::uint64_t>();
    bumps += r.details["epoch_bumps"].get<std::uint64_t>();
  }
  // The faults did bite: batches were retried.
  CHECK(retried > 0);
  WARN("seeds " << from << ".." << to << ": " << retried << " batches retried, " << info
                << " sends of unknown outcome, " << bumps << " epoch bumps");
}
}  // namespace

TEST_CASE("producer scenarios: same seed, same trace; different seeds, different traces",
          "[determinism][client][scenario]") {
  for (std::string_view name : {"producer/idempotent-lost-acks", "producer/retries-no-idempotence", "producer/acks-0"}) {
    std::set<std::uint64_t> hashes;
    for (std::uint64_t seed = 1; seed <= 2; ++seed) {
      const auto a = run(name, seed);
      const auto b = run(name, seed);
      INFO(name << " seed " << seed);
      REQUIRE(a.trace_hash == b.trace_hash);
      REQUIRE(a.events == b.events);
      REQUIRE(a.details == b.details);
      hashes.insert(a.trace_hash);
    }
    REQUIRE(hashes.size() == 2);
  }
}

TEST_CASE("producer/idempotent-lost-acks holds on its built-in seeds 1..5", "[client][scenario]") {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto r = run("producer/idempotent-lost-acks", seed);
    INFO("seed " << seed << ": " << (r.violations.empty() ? std::string() : r.violations.front().to_string()));
    REQUIRE(r.verdict == Verdict::ok);
  }
}

TEST_CASE("idempotent + acks=all: no duplicate, no reordering within a partition, no lost write (300 seeds)",
          "[client][scenario]") {
  check_idempotent(1, 300);
}

TEST_CASE("idempotent + acks=all holds over 3,000 more seeds", "[client][scenario][sweep]") {
  check_idempotent(301, 3300);
}

TEST_CASE("no idempotence, retries, 5 in flight: a seed duplicates and a seed reorders", "[client][scenario]") {
  std::optional<std::uint64_t> dup, reorder;
  for (std::uint64_t seed = 1; seed <= 300 && (!dup || !reorder); ++seed) {
    const auto r = run_short(k_plain, seed);
    if (r.verdict == Verdict::ok) continue;
    INFO("seed " << seed << ": " << r.violations.front().to_string());
    REQUIRE(r.verdict == Verdict::safety);
    for (const auto& v : r.violations) {
      REQUIRE((v.name == "duplicate" || v.name == "nonmonotonic-send"));
    }
    if (r.details["duplicates"].get<int>() > 0 && !dup) dup = seed;
    if (r.details["reorders"].get<int>() > 0 && !reorder) reorder = seed;
  }
  REQUIRE(dup);
  REQUIRE(reorder);
  WARN("duplicate at seed " << *dup << ", reordering at seed " << *reorder);
}

TEST_CASE("acks=0: sends are never ok with an offset; some are lost", "[client][scenario]") {
  std::uint64_t missing = 0;
  for (std::uint64_t seed = 1; seed <= 20 && missing == 0; ++seed) {
    const auto r = run_short({{"acks", "0"}}, seed);
    INFO("seed " << seed << ": " << (r.violations.empty() ? std::string() : r.violations.front().to_string()));
    REQUIRE(r.verdict == Verdict::ok);
    REQUIRE(r.details["ok"].get<int>() == 0);
    REQUIRE(r.details["info"].get<int>() > 0);
    missing += r.details["unacked_missing"].get<std::uint64_t>();
  }
  REQUIRE(missing > 0);
}

