#pragma once
// Workload "pingpong": the runtime's own workload. Every node runs an echo
// server and a client per peer; each client connection is a history process
// that records "connect" and then one "echo" per round trip (the sequence
// number sent, the one that came back). Checkers: echo-duplicate,
// echo-order (safety), echo-liveness (after the heal every pair completes a
// round trip again). Scenarios: selftest/pingpong.toml, pingpong-dup-bug.toml.
#include "scenarios/scenario.h"
#include "scenarios/workload.h"

namespace samsa::scenarios::selftest {

// Kept for callers from before scenario files: runs the built-in scenario.
struct PingpongConfig {
  std::uint64_t seed = 1;
  std::string log_level = "off";
  bool inject_duplicate_bug = false;  // the server echoes a frame twice now and then
  std::string save_disks_dir;
};
RunReport run_pingpong(const RunOptions& options);
RunReport run_pingpong_with(const PingpongConfig& config);

}  // namespace samsa::scenarios::selftest
