#pragma once
// coord/controller-election: three brokers' election actors race for the
// ephemeral /controller znode (Kafka's recipe: create /controller and bump
// /controller_epoch at its zkVersion in one multi) while brokers crash, links
// to the coordinator partition and reset, and the coordinator itself
// restarts from its disk. Safety: at most one broker holds each controller
// epoch; epochs claimed over time strictly increase; no broker reads a
// /controller_epoch below one it read before (durability). Liveness: after the
// faults heal, exactly one broker believes it is controller, with the
// highest epoch, and /controller names it.
#include "scenarios/scenario.h"

namespace samsa::scenarios::coord {

struct ControllerElectionConfig {
  std::uint64_t seed = 1;
  std::string log_level = "off";
  double fault_rate_per_s = 0;  // 0: drawn from the seed
  std::int64_t fault_phase_ms = 20'000;
  std::int64_t liveness_bound_ms = 10'000;
  std::int32_t session_timeout_ms = 2'000;
  // Deliberate bug: the election writes the broker's own last epoch + 1,
  // unconditionally, instead of bumping /controller_epoch at its zkVersion.
  bool stale_epoch_bug = false;
  std::string save_disks_dir;
};

RunReport run_controller_election(const RunOptions& options);
RunReport run_controller_election_with(const ControllerElectionConfig& config);

}  // namespace samsa::scenarios::coord
