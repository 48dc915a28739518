#pragma once
// The zoo: every built-in scenario that `demonstrates` an anomaly, run to
// show it. For each entry the seeds are tried in order (J at a time) until a
// run demonstrates one of the scenario's anomalies; that run is shrunk
// (fewest faults, shortest run that still shows it). An entry with a [zoo]
// legacy switch re-creates a fixed Kafka bug: it also runs a fixed number of
// control seeds (the found seed among them) with the switch off, which must
// hold. `samsa zoo` prints the table; DESIGN.md's goal is every bug found,
// median ≤ 60 s on 2 cores, shrunk to ≤ 3 faults.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "scenarios/scenario.h"

namespace samsa::scenarios {

struct ZooOptions {
  std::uint64_t first_seed = 1;
  std::uint64_t max_seeds = 200;     // seeds tried before an entry counts as not found (an entry's [zoo] max_seeds may raise it)
  std::uint64_t control_seeds = 5;   // runs with the legacy switch off
  unsigned jobs = 1;
  bool shrink = true;
  std::size_t shrink_runs = 150;     // bound on the shrinker's runs per entry
  std::function<void(const std::string&)> progress;  // one line per step, for a terminal
};

struct ZooResult {
  std::string scenario;
  std::string legacy_switch;          // "" for a configuration's own anomaly
  std::string issue;                  // KIP / JIRA
  std::vector<std::string> anomalies; // what it demonstrates
  bool found = false;
  std::optional<std::uint64_t> seed;  // the first seed that showed it
  std::string caught_by;              // the anomaly (checker) that showed it
  std::string explanation;            // that violation's line
  std::uint64_t seeds_tried = 0;
  double seconds = 0;                 // wall time to find it (seeds tried, on `jobs` threads)
  std::size_t faults = 0;             // in the found run's schedule
  std::optional<std::size_t> faults_shrunk;
  std::size_t shrink_runs = 0;
  bool deterministic = true;          // the found seed ran again gave the same trace hash
  // The control: the switch off, the found seed and the first control_seeds - 1 others.
  std::uint64_t control_runs = 0;
  std::vector<std::uint64_t> control_failed;  // seeds whose verdict was not ok
  Verdict control_worst = Verdict::ok;
  std::string internal_error;         // a run ended in samsa's own error
  bool ok() const;                    // found, deterministic, control held, no internal error
};

// The built-in scenarios with `demonstrates`, in name order; `only` (names)
// picks some.
std::vector<const Scenario*> zoo_scenarios(const std::vector<std::string>& only = {});

ZooResult run_zoo_entry(const Scenario& s, const ZooOptions& options);

nlohmann::json to_json(const ZooResult& r);

}  // namespace samsa::scenarios
