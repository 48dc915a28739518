#pragma once
// Fault schedules as data. A seed turns a scenario's nemeses into an explicit
// list of timed fault events; the list is printed, saved in failure files and
// replayed as saved (an edited or shrunk schedule replays too). JSON:
//   [{"at_ms":1200,"fault":"partition","node":"n1","peer":"n2","duration_ms":800}, ...]
// Nemesis-specific parameters sit beside those keys ("extra_ms", "delta_ms").
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/runtime/random.h"
#include "sim/runtime/result.h"

namespace samsa::scenarios {

struct ScenarioSpec;

struct FaultEvent {
  std::int64_t at_ms = 0;
  std::string fault;   // a nemesis name
  std::string node;    // the node it faults (counted by the budget)
  std::string peer;    // the other end, for link faults
  std::int64_t duration_ms = 0;
  nlohmann::json params = nlohmann::json::object();
  bool operator==(const FaultEvent&) const = default;
};

using Schedule = std::vector<FaultEvent>;

nlohmann::json to_json(const FaultEvent& e);
nlohmann::json to_json(const Schedule& s);
Result<Schedule, std::string> schedule_from_json(const nlohmann::json& j);
std::string to_string(const FaultEvent& e);  // one line for people

// Node names by group, as the workload named them ("all" included).
using NodeGroups = std::map<std::string, std::vector<std::string>>;

// Draws the schedule of one seed: fault arrivals at `rate_per_s` over the
// fault phase, each from a nemesis picked by weight, on a node and peer drawn
// from its targets, never more than the budget's nodes faulted at once.
Schedule generate_schedule(const ScenarioSpec& spec, const NodeGroups& groups, double rate_per_s,
                           sim::Random& rng);

// Most nodes faulted at once by lasting, budgeted events (for tests and checks).
std::int64_t max_faulted_at_once(const Schedule& s);

}  // namespace samsa::scenarios
