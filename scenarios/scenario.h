#pragma once
// A scenario: a named, seeded experiment. Running it builds a world (cluster,
// workload, fault schedule) from the seed, runs it, checks its invariants and
// reports a verdict. Same scenario + seed + build → the same report.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace samsa::scenarios {

enum class Verdict : std::uint8_t { ok, safety, liveness, internal_error };
std::string_view to_string(Verdict v);
// Exit codes as DESIGN.md says: 0 ok, 1 safety, 3 liveness, 4 internal.
int exit_code(Verdict v);

struct RunOptions {
  std::uint64_t seed = 1;
  std::string log_level = "off";
  // When set, the durable contents of every node's disk are written here at
  // the end of the run (scenarios/disk_image.h).
  std::string save_disks_dir;
};

struct RunReport {
  std::string scenario;
  std::uint64_t seed = 0;
  Verdict verdict = Verdict::ok;
  std::uint64_t trace_hash = 0;
  std::uint64_t events = 0;
  std::int64_t virtual_time_ms = 0;
  std::int64_t wall_ms = 0;  // filled in by the caller; never part of the history
  std::vector<std::string> violations;
  nlohmann::json details = nlohmann::json::object();
};

nlohmann::json to_json(const RunReport& r);
std::string trace_hash_hex(std::uint64_t h);

struct Scenario {
  std::string name;
  std::string description;
  std::function<RunReport(const RunOptions&)> run;
};

// The built-in scenarios, sorted by name.
const std::vector<Scenario>& builtin_scenarios();
const Scenario* find_scenario(std::string_view name);

}  // namespace samsa::scenarios
