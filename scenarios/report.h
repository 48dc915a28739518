#pragma once
// Turning the end of a simulated run into a RunReport, the same way for every
// scenario: verdict from the checkers' violations and how the run stopped,
// the world's trace hash, events and virtual time, and optionally the disks.
#include <string>
#include <vector>

#include "scenarios/scenario.h"
#include "sim/world/world.h"

namespace samsa::scenarios {

// Violations whose text starts with "liveness" are liveness violations; all
// others are safety violations. A stuck run is a liveness violation; an
// internal error outranks everything, then safety, then liveness.
RunReport make_report(std::string scenario, std::uint64_t seed, sim::World& world,
                      const sim::RunResult& result, std::vector<std::string> violations,
                      const std::string& save_disks_dir);

}  // namespace samsa::scenarios
