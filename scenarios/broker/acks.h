#pragma once
// Produce-and-read-back scenarios on a simulated three-broker cluster, with a
// raw-request writer (scenarios/broker/driver.h) and a seeded nemesis:
//
//   broker/acks-all            acks=all, min.insync.replicas=2, RF=3: leader
//                              and controller crashes (process crashes: the
//                              page cache survives), broker restarts,
//                              symmetric and one-way partitions, clogged
//                              replication, coordinator restarts. Must hold:
//                              no acknowledged record lost, replicas never
//                              diverge below the high watermark.
//   broker/acks-1-leader-crash acks=1 and the same faults aimed at the leader
//                              while its followers are slowed: an
//                              acknowledged write the new leader never had
//                              is lost — a safety violation (exit 1) that a
//                              sweep of seeds 1..300 finds.
//
// Self-contained (no registry types beyond RunOptions/RunReport) so that it
// ports to the TOML scenario files as one workload + nemesis + checker.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "scenarios/scenario.h"

namespace samsa::scenarios::broker {

struct AcksConfig {
  std::uint64_t seed = 1;
  std::string log_level = "off";
  std::string save_disks_dir;
  std::int16_t acks = -1;
  int min_insync_replicas = 2;
  std::int64_t fault_phase_ms = 30000;
  std::int64_t heal_phase_ms = 30000;
  double fault_rate_per_s = 0;    // 0: drawn from the seed
  bool target_leader = false;     // aim crashes at the partition's leader
  // Extra broker keys (samsa.legacy.*, log.flush.interval.messages ...).
  std::vector<std::pair<std::string, std::string>> settings;
  // How a broker crash treats unsynced writes: false = a process crash (the
  // page cache survives), true = power loss of that node (it may not).
  bool power_loss = false;
  std::string name = "broker/acks-all";
};

RunReport run_acks(const AcksConfig& config);
RunReport run_acks_all(const RunOptions& options);
RunReport run_acks_1_leader_crash(const RunOptions& options);

}  // namespace samsa::scenarios::broker
