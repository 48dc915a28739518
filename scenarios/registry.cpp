#include <fmt/format.h>

#include <algorithm>

#include "scenarios/scenario.h"
#include "scenarios/broker/acks.h"
#include "scenarios/producer/delivery.h"
#include "scenarios/coord/controller_election.h"
#include "scenarios/selftest/pingpong.h"

namespace samsa::scenarios {

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::ok: return "ok";
    case Verdict::safety: return "safety";
    case Verdict::liveness: return "liveness";
    case Verdict::internal_error: return "internal_error";
  }
  return "unknown";
}

int exit_code(Verdict v) {
  switch (v) {
    case Verdict::ok: return 0;
    case Verdict::safety: return 1;
    case Verdict::liveness: return 3;
    case Verdict::internal_error: return 4;
  }
  return 4;
}

std::string trace_hash_hex(std::uint64_t h) { return fmt::format("{:016x}", h); }

nlohmann::json to_json(const RunReport& r) {
  nlohmann::json j;
  j["scenario"] = r.scenario;
  j["seed"] = r.seed;
  j["verdict"] = std::string(to_string(r.verdict));
  j["trace_hash"] = trace_hash_hex(r.trace_hash);
  j["events"] = r.events;
  j["virtual_time_ms"] = r.virtual_time_ms;
  j["wall_ms"] = r.wall_ms;
  j["violations"] = r.violations;
  j["details"] = r.details;
  return j;
}

const std::vector<Scenario>& builtin_scenarios() {
  static const std::vector<Scenario> all = [] {
    std::vector<Scenario> v = {
        {"broker/acks-all", "acks=all, min.insync.replicas=2, RF=3 on three brokers under leader and controller crashes, broker restarts, partitions, slow replication and coordinator restarts; no acknowledged record lost, replicas never diverge below the high watermark", broker::run_acks_all},
        {"broker/acks-1-leader-crash", "acks=1 with the leader crashing while replication is slow: an acknowledged write the new leader never had is lost (expect exit 1 on some seeds)", broker::run_acks_1_leader_crash},
        {"producer/idempotent-lost-acks", "the idempotent producer (acks=all, 5 in flight) under lost acks, broker crashes and restarts and cut links: no lost-write, duplicate or reordering within a partition", producer::run_idempotent_lost_acks},
        {"producer/retries-no-idempotence", "enable.idempotence=false, retries, 5 requests in flight under lost acks: duplicates and reordering are Kafka's hazard (expect exit 1 on some seeds)", producer::run_retries_no_idempotence},
        {"producer/acks-0", "acks=0 under the same faults: no send is ever ok with an offset; losses are counted", producer::run_acks_0},
        {"coord/controller-election", "three brokers race for /controller under broker crashes, partitions and coordinator restarts; checks one holder per epoch, increasing epochs, and a controller after the heal", coord::run_controller_election},
        {"selftest/pingpong",
         "nodes exchange numbered frames over the simulated network while nodes "
         "crash and restart and links partition; checks per-connection order "
         "and no duplicates, and progress after the faults heal",
         selftest::run_pingpong},
        {"selftest/pingpong-dup-bug",
         "pingpong with a server that sometimes echoes a frame twice: a "
         "deliberately broken system the checker must catch (expect exit 1)",
         [](const RunOptions& o) {
           selftest::PingpongConfig c;
           c.seed = o.seed;
           c.log_level = o.log_level;
           c.inject_duplicate_bug = true;
           c.save_disks_dir = o.save_disks_dir;
           auto r = selftest::run_pingpong_with(c);
           r.scenario = "selftest/pingpong-dup-bug";
           return r;
         }},
    };
    std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.name < b.name; });
    return v;
  }();
  return all;
}

const Scenario* find_scenario(std::string_view name) {
  for (const auto& s : builtin_scenarios())
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace samsa::scenarios
