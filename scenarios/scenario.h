#pragma once
// A scenario: a TOML file (scenarios/spec.h) naming a workload, nemeses and
// checkers. Running it with a seed builds a world, draws (or is given) a fault
// schedule, runs the workload under it, checks the history and reports a
// verdict. Same scenario + seed + schedule + build → the same report.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "invariants/expectations.h"
#include "invariants/violation.h"
#include "scenarios/schedule.h"
#include "scenarios/spec.h"

namespace samsa::sim {
struct TraceLog;
}

namespace samsa::scenarios {

enum class Verdict : std::uint8_t { ok, safety, liveness, internal_error };
std::string_view to_string(Verdict v);
std::optional<Verdict> verdict_from_string(std::string_view s);
// Exit codes as DESIGN.md says: 0 ok, 1 safety, 3 liveness, 4 internal.
int exit_code(Verdict v);

struct RunOptions {
  std::uint64_t seed = 1;
  std::string log_level = "off";
  // When set, the durable contents of every node's disk are written here at
  // the end of the run (scenarios/disk_image.h).
  std::string save_disks_dir;
  // Replay this schedule instead of drawing one from the seed.
  std::optional<Schedule> schedule;
  // Write the run's history here (JSON lines).
  std::string history_path;
  // Record every traced event here (sim/world/trace.h), for --trace and
  // --trace-diff; not owned.
  sim::TraceLog* trace_log = nullptr;
};

struct RunReport {
  std::string scenario;
  std::uint64_t seed = 0;
  Verdict verdict = Verdict::ok;
  std::uint64_t trace_hash = 0;
  std::uint64_t events = 0;
  std::int64_t virtual_time_ms = 0;
  std::int64_t wall_ms = 0;  // filled in by the caller; never part of the history
  // The violations of what must hold: they decide the verdict.
  std::vector<invariants::Violation> violations;
  // Violations the configuration allows (invariants::expectations_for):
  // reported, not failing (acks=1 losing a write under a leader crash).
  std::vector<invariants::Violation> demonstrated;
  // {"must_hold": [checker...], "allowed": {anomaly: reason}, "demonstrates": [...]}
  nlohmann::json expected = nlohmann::json::object();
  std::vector<std::string> demonstrates;  // the scenario's `demonstrates`
  // The anomalies of `demonstrates` this run demonstrated (empty: none, or none declared).
  std::vector<std::string> shown() const;
  std::string internal_error;  // the message, when verdict is internal_error
  std::string bad_input;       // set when the run could not start (a schedule naming no node)
  Schedule schedule;
  nlohmann::json details = nlohmann::json::object();
};

nlohmann::json to_json(const RunReport& r);
std::string trace_hash_hex(std::uint64_t h);
// internal_error > safety > liveness > ok
Verdict verdict_of(const std::vector<invariants::Violation>& v);

// What the scenario's configuration promises (its workload's
// expectation_config through invariants::expectations_for; a workload
// without one promises everything its checkers check).
invariants::Expectations expectations_of(const ScenarioSpec& spec);

struct Scenario {
  std::string name;
  std::string description;
  std::string text;    // the TOML
  std::string origin;  // its file name, for messages
  std::vector<Override> overrides;
  ScenarioSpec spec;
  RunReport run(const RunOptions& options) const;  // scenarios/runner.cpp
};

// The built-in scenarios (TOML files under scenarios/, compiled in), by name.
const std::vector<Scenario>& builtin_scenarios();
const Scenario* find_scenario(std::string_view name);
// A built-in scenario's name or a path to a .toml file, with overrides.
Result<Scenario, SpecError> load_scenario(const std::string& name_or_file,
                                          const std::vector<Override>& overrides = {});
Result<Scenario, SpecError> scenario_from_text(const std::string& text, const std::string& origin,
                                               const std::string& default_name,
                                               const std::vector<Override>& overrides = {});

// Runs and turns anything escaping the run (any exception, not only samsa's
// InternalError) into an internal_error report; fills in wall_ms.
RunReport run_guarded(const Scenario& s, const RunOptions& options);

}  // namespace samsa::scenarios
