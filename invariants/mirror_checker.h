#pragma once
// The mirror checker: a topic copied from a source cluster to a target
// cluster by a MirrorMaker-style process (scenarios/mirror), judged at-least-
// once. It reads the history:
//   - `send` ok ops of the source topic {topic, partition, offset, value}: the
//     acknowledged source records (values unique per run);
//   - `poll` ok ops {records: [{topic, partition, offset, value}]} of the
//     source and the target topic: what the readers found at the end;
//   - `mirror` ops {polls, sends: [{topic, partition, offset?, value}]}: when
//     the mirror's produce to the target was acknowledged (ok or info ops);
//   - the nemesis op `heal-all`: the end of the fault phase.
// Violations:
//   mirror-lost    (safety) an acknowledged source record no target read
//                  found, though the source still has it (or the source read
//                  did not get that far);
//   lost-write     (safety) the same record is gone from the source too: the
//                  source read passed its offset without it;
//   mirror-order   (safety) a target partition's first copies are not in
//                  source offset order, or a copy is in another partition
//                  than its source (MirrorMaker keeps partitions);
//   mirror-phantom (safety) a target record whose value no source send
//                  carried;
//   duplicate      (safety; at-least-once allows it: expectations_for with
//                  samsa.mirror) one summary: records at two or more target
//                  offsets, with the number of extra copies;
//   mirror-lag     (liveness) an acknowledged source record first
//                  acknowledged in the target later than `within_ms` after
//                  max(heal, its source ack).
// Options: source_topic, target_topic (required), within_ms (default 10000).
#include <nlohmann/json.hpp>

#include <vector>

#include "invariants/checker.h"
#include "invariants/history.h"
#include "invariants/violation.h"

namespace samsa::invariants {

std::vector<Violation> check_mirror(const History& h, const nlohmann::json& options);

}  // namespace samsa::invariants
