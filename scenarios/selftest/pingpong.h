#pragma once
// selftest/pingpong: the runtime's own scenario. Nodes exchange numbered
// frames over the simulated network while nodes crash and restart and links
// partition and reset. Invariants: on one connection no frame is delivered
// twice or out of order (safety); after the faults heal, every pair of nodes
// completes round trips again within a bound (liveness).
#include "scenarios/scenario.h"

namespace samsa::scenarios::selftest {

struct PingpongConfig {
  std::uint64_t seed = 1;
  std::string log_level = "off";
  int nodes = 0;               // 0: drawn from the seed (3..5)
  double fault_rate_per_s = 0; // 0: drawn from the seed
  std::int64_t fault_phase_ms = 15'000;
  std::int64_t heal_phase_ms = 10'000;
  std::int64_t liveness_bound_ms = 5'000;
  // Deliberate bugs, to prove the checkers catch them: the server echoes a
  // frame twice now and then.
  bool inject_duplicate_bug = false;
  std::string save_disks_dir;
};

RunReport run_pingpong(const RunOptions& options);
RunReport run_pingpong_with(const PingpongConfig& config);

}  // namespace samsa::scenarios::selftest
