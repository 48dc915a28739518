#pragma once
// Shrinking a failing run by delta debugging (Zeller's ddmin) over what can
// be made smaller while the same violation (name and kind) still appears,
// failing or demonstrated (a run that only demonstrates an allowed anomaly
// shrinks to the smallest run that still shows it):
//   1. the fault events (drop subsets, then single events),
//   2. each remaining fault's duration (halved while it still fails),
//   3. the run itself (a shorter fault phase; for safety, a shorter healed phase),
//   4. the workload's size (options it marks shrinkable) and the cluster's node count.
// Every candidate is a full deterministic run with an explicit schedule and
// --set overrides, so the result is an ordinary replayable failure file.
#include <functional>
#include <string>

#include "scenarios/scenario.h"

namespace samsa::scenarios {

struct ShrinkOptions {
  std::size_t max_runs = 600;
  std::function<void(const std::string&)> log;  // one line per accepted step
};

struct ShrinkResult {
  RunReport before;
  RunReport after;
  Scenario scenario;  // the original text with the shrunk overrides
  std::string target;  // "safety duplicate"
  std::size_t runs = 0;
};

Result<ShrinkResult, std::string> shrink(const Scenario& s, std::uint64_t seed,
                                         const Schedule& schedule, const ShrinkOptions& options = {});

}  // namespace samsa::scenarios
