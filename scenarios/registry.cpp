#include <fmt/format.h>

#include <algorithm>

#include "scenarios/scenario.h"
#include "scenarios/broker/acks.h"
#include "scenarios/groups/delivery.h"
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
        {"groups/at-least-once", "a group of three consumers reads a 4-partition topic with process-before-commit while consumers crash mid-processing: no record lost, no two owners in a generation, committed offsets never go back; duplicates are expected", groups::run_at_least_once},
        {"groups/at-most-once", "the same group with commit-before-process: no record processed twice; records lost to crashes between commit and processing are expected", groups::run_at_most_once},
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
