#pragma once
// Workload "controller-election": brokers' election actors race for the
// ephemeral /controller znode (Kafka's recipe: create /controller and bump
// /controller_epoch at its zkVersion in one multi) on one coordinator, while
// nemeses crash brokers, cut and clog their links to the coordinator, and
// restart the coordinator from its disk. Each broker session is a history
// process recording "elect", "read-epoch" and "resign"; after the heal an
// observer node reads /controller ("read-controller"). Checkers:
// election-safety and election-liveness (invariants/checkers.cpp).
// Scenarios: coord/controller-election.toml and its broken variant
// coord/controller-election-stale-epoch-bug.toml.
#include "scenarios/scenario.h"
#include "scenarios/workload.h"

namespace samsa::scenarios::coord {

// Kept for callers from before scenario files: runs the built-in scenario.
struct ControllerElectionConfig {
  std::uint64_t seed = 1;
  std::string log_level = "off";
  bool stale_epoch_bug = false;
  std::string save_disks_dir;
};
RunReport run_controller_election(const RunOptions& options);
RunReport run_controller_election_with(const ControllerElectionConfig& config);

}  // namespace samsa::scenarios::coord
