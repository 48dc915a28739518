#pragma once
// Producer scenarios: system/client's Producer writing to a simulated
// three-broker cluster (RF=3, min.insync.replicas=2, 3 partitions) while a
// seeded nemesis resets the producer's connections (lost acks: requests that
// arrived, answers that never did), crashes and restarts brokers and cuts
// the producer off from one. Every send is recorded Jepsen-style (invoke,
// then ok / fail / info) in DESIGN.md's history format; at the end the
// partitions are read back and checked:
//
//   producer/idempotent-lost-acks   enable.idempotence=true, acks=all: must
//                                   hold: no lost-write, no duplicate, no
//                                   nonmonotonic-send (reordering within a
//                                   partition), no failed send visible.
//   producer/retries-no-idempotence enable.idempotence=false, retries,
//                                   max.in.flight.requests.per.connection=5:
//                                   duplicates and reordering are Kafka's
//                                   documented hazard; they show as safety
//                                   violations (exit 1) on some seeds.
//   producer/acks-0                 acks=0: sends are never ok (no offset
//                                   comes back); losses are possible and
//                                   counted, not violations.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "scenarios/scenario.h"

namespace samsa::scenarios::producer {

struct DeliveryConfig {
  std::uint64_t seed = 1;
  std::string log_level = "off";
  std::string name = "producer/idempotent-lost-acks";
  std::map<std::string, std::string> producer;  // Kafka producer keys
  int partitions = 3;
  std::int64_t fault_phase_ms = 15000;
  std::int64_t heal_phase_ms = 15000;
  double fault_rate_per_s = 0;  // 0: drawn from the seed
  bool history_in_details = false;  // the whole history as details.history
};

RunReport run_delivery(const DeliveryConfig& config);
RunReport run_idempotent_lost_acks(const RunOptions& options);
RunReport run_retries_no_idempotence(const RunOptions& options);
RunReport run_acks_0(const RunOptions& options);

}  // namespace samsa::scenarios::producer
