#pragma once
// Failure files: everything needed to replay a run, in one JSON file — the
// scenario's TOML text, the seed, the --set overrides, the fault schedule and
// the build id, beside what the run gave (verdict, trace hash, violations).
// `samsa replay FILE` runs the saved schedule, not one drawn again from the
// seed, so an edited or shrunk schedule replays as written.
#include <nlohmann/json.hpp>

#include <string>

#include "scenarios/scenario.h"

namespace samsa::scenarios {

struct FailureFile {
  Scenario scenario;  // parsed from the saved text with the saved overrides
  std::uint64_t seed = 0;
  std::optional<Schedule> schedule;  // absent in files from before schedules were saved
  std::string build_id;
  nlohmann::json recorded;  // the run's report as saved (verdict, trace_hash, violations ...)
};

// This binary's build id (version, compiler, git commit at configure time).
std::string build_id();

nlohmann::json failure_json(const Scenario& s, const RunReport& r);
Result<FailureFile, std::string> read_failure_file(const std::string& path);
// Writes failure_json(s, r) plus the replay command; an error message or "".
std::string write_failure_file(const std::string& path, const Scenario& s, const RunReport& r);

}  // namespace samsa::scenarios
