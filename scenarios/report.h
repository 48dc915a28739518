#pragma once
// The end of a code-defined scenario's run (scenario.h, Scenario::code) as a
// RunReport: the world's trace hash, events and virtual time, the scenario's
// typed violations, a stuck run as a liveness violation, an internal error as
// such, and optionally the disks. TOML scenarios build theirs in runner.cpp.
#include <string>
#include <vector>

#include "invariants/violation.h"
#include "scenarios/scenario.h"
#include "sim/world/world.h"

namespace samsa::scenarios {

RunReport make_report(std::string scenario, std::uint64_t seed, sim::World& world,
                      const sim::RunResult& result, std::vector<invariants::Violation> violations,
                      const std::string& save_disks_dir);

// For code-defined scenarios whose checkers write "name: explanation": the
// name before the colon is the violation's (Jepsen's anomaly names), and
// "liveness: ..." is a liveness violation, everything else safety.
invariants::Violation violation_from_text(const std::string& text);
RunReport make_report(std::string scenario, std::uint64_t seed, sim::World& world,
                      const sim::RunResult& result, const std::vector<std::string>& violations,
                      const std::string& save_disks_dir);

}  // namespace samsa::scenarios
