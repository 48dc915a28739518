#pragma once
// Shrinking a failing run by delta debugging (Zeller's ddmin) over what can
// be made smaller while the same violation (name and kind) still appears,
// failing or demonstrated (a run that only demonstrates an allowed anomaly
// shrinks to the smallest run that still shows it):
//   1. the fault events (drop subsets, then single events),
//   2. faults merged: two of one nemesis on one target become one event
//      spanning both (fewer faults, same fault time),
//   3. faults moved: one fault dropped while the faults after it take its
//      place in time (or the ones before it move up to it), or one event
//      shifted halfway towards its neighbour, kept only when that lets
//      another fault go (a schedule 1-minimal under removal is often not
//      minimal once the timing may change: KAFKA-6361's needs a leader
//      change first, which the workload's own timing can give),
//   4. each remaining fault's duration (halved while it still fails),
//   5. the run itself (a shorter fault phase; for safety, a shorter healed phase),
//   6. the workload's size (options it marks shrinkable) and the cluster's node count.
// Every candidate is a full deterministic run with an explicit schedule and
// --set overrides, so the result is an ordinary replayable failure file.
#include <functional>
#include <optional>
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

// The schedule with events i and j (one nemesis, one node, peer and
// parameters, both lasting) replaced by one event from the earlier start to
// the later end, in time order; nullopt when they cannot merge.
std::optional<Schedule> merged(const Schedule& s, std::size_t i, std::size_t j);
// The schedule with event i moved to at_ms (at least 0), in time order
// (stable for equal times).
Schedule shifted(const Schedule& s, std::size_t i, std::int64_t at_ms);
// The schedule without event j, the events after it moved earlier so the
// next one starts where j did (tail), or the events before it moved later so
// the previous one starts where j did (head); nullopt when there is none.
std::optional<Schedule> dropped_in_place(const Schedule& s, std::size_t j, bool tail);
// The times the shrinker tries for event i: halfway to the previous event's
// start (or to 0) and halfway to the next one's (or to the phase's end),
// without the event's own time and without repeats.
std::vector<std::int64_t> shift_times(const Schedule& s, std::size_t i, std::int64_t phase_ms);

Result<ShrinkResult, std::string> shrink(const Scenario& s, std::uint64_t seed,
                                         const Schedule& schedule, const ShrinkOptions& options = {});

}  // namespace samsa::scenarios
