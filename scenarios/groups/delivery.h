#pragma once
// Consumer-group delivery scenarios (the seed §4.4) on a simulated
// three-broker cluster: a topic of 4 partitions is written first (acks=all),
// then a group of three consumers (system/client/consumer.h) reads it while
// a seeded nemesis crashes and restarts consumers in the middle of their
// processing. The delivery mode is the workload's option:
//
//   groups/at-most-once   commit-before-process: poll, commitSync, then
//                         process. A crash between the commit and the end
//                         of processing loses those records; a commit that
//                         fails means the records are not processed. Must
//                         hold: no record processed twice; loss is the
//                         expected anomaly (reported in details).
//   groups/at-least-once  process-before-commit: poll, process, then
//                         commitSync. A crash before the commit processes
//                         records again. Must hold: every written record
//                         processed (no loss); duplicates are the expected
//                         anomaly.
//
// Both check that no two members of one generation own one partition
// (assignment-overlap) and that committed offsets of the group never go back
// (committed-offset-regression). The run records a history in DESIGN.md's
// format: `send` (the writes), `poll` (the records a consumer processed),
// `commit`, `assign` and the nemesis' `crash` / `restart`.
#include <cstdint>
#include <string>

#include "scenarios/scenario.h"

namespace samsa::scenarios::groups {

enum class DeliveryMode : std::uint8_t { commit_before_process, process_before_commit };

struct DeliveryConfig {
  std::uint64_t seed = 1;
  std::string log_level = "off";
  DeliveryMode mode = DeliveryMode::process_before_commit;
  int consumers = 3;
  int partitions = 4;
  int records_per_partition = 60;
  std::int64_t fault_phase_ms = 25000;
  std::int64_t heal_phase_ms = 25000;
  std::string name = "groups/at-least-once";
  std::string history_path;  // when set, the history is written here (JSON lines)
};

RunReport run_delivery(const DeliveryConfig& config);
RunReport run_at_most_once(const RunOptions& options);
RunReport run_at_least_once(const RunOptions& options);

}  // namespace samsa::scenarios::groups
