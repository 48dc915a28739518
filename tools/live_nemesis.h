#pragma once
// `samsa live --nemesis FILE.toml --seed N`: the embedded cluster under a
// seeded fault schedule, for testing a user's own Kafka application. FILE is
// a scenario file (scenarios/README.md): its [faults] and [[nemesis]]
// tables, with the kafka workload's node groups (brokers, coordinator,
// leader, controller), are drawn into a schedule by the same generator as
// the simulated runs (scenarios/schedule.h), printed, and applied to the
// live cluster in real time, each fault printed as it happens. What live
// mode can apply: crash (kill, start again after the duration), restart,
// partition / partition-one-way / partition-silent (the link cut both ways:
// connections reset and connects refused, TCP's flavour), reset, pause
// (the node's network frozen: LiveLinks::pause), lost-acks (the broker acts
// on its clients' requests and loses a fraction, --lost-acks-fraction
// (default 0.5), of the responses, drawn from the seed:
// LiveLinks::lose_responses; the clients' side only, whatever its `peers`
// say); other nemeses are printed
// as skipped. After the fault phase every fault is
// healed and the cluster runs on until stopped.
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "scenarios/schedule.h"
#include "sim/live/live_world.h"

namespace samsa::tools {

struct LiveNemesisPlan {
  scenarios::Schedule schedule;
  std::int64_t fault_phase_ms = 0;
  double rate_per_s = 0;
  std::uint64_t seed = 0;  // also draws which responses lost-acks loses
  double lost_acks_fraction = 0.5;  // `samsa live --lost-acks-fraction`
};

// Reads FILE and draws the schedule of `seed` for these broker node names
// (and "coordinator"). Errors name file:line:col.
Result<LiveNemesisPlan, std::string> plan_live_nemesis(const std::string& path, std::uint64_t seed,
                                                       const std::vector<std::string>& brokers);

// Who a name in the schedule is now: a node name, or a dynamic target
// ("leader", "controller"); nullopt when nobody fits at the moment.
using LiveResolve = std::function<std::optional<sim::NodeId>(const std::string& name)>;

// Spawns the control fiber that applies `plan` from now on, printing one
// line per fault and end of fault to `out`.
void start_live_nemesis(sim::LiveWorld& world, LiveNemesisPlan plan, LiveResolve resolve,
                        std::ostream& out);

// True for the nemeses live mode applies.
bool live_nemesis_supported(const std::string& fault);

}  // namespace samsa::tools
