#pragma once
// A picture of a run: one self-contained HTML page (inline SVG and CSS, no
// script, nothing fetched) drawn from a history and its violations.
//   - a lane per client process: each operation a bar from its invoke to its
//     completion, coloured by ok / fail / info (a completion recorded
//     without an invoke is a thin tick);
//   - a lane per faulted node: each fault a shaded span from its nemesis op
//     for its duration_ms, cut by its "-end" op or the heal (a fault with no
//     duration, a reset, is a thin mark), and each heal a dashed line;
//   - a lane per partition (and one for the controller) from the workload's
//     leadership observations, nemesis-process ops "leader" {topic,
//     partition, node, leader_epoch} and "controller" {node,
//     controller_epoch}: a segment per leader, coloured by broker, labelled
//     with its epoch, until the next observation;
//   - operations named by a violation outlined and listed under the picture
//     with the checker's explanation; every bar's tooltip (<title>) shows
//     the op as JSON.
// Each op's shape has id "op-<index>"; each violation a row "violation-<i>".
#include <string>
#include <vector>

#include "invariants/history.h"
#include "invariants/violation.h"

namespace samsa::invariants {

struct TimelineOptions {
  std::string title = "samsa run";
  int width_px = 1200;        // of the time axis
  std::size_t max_lanes = 200;  // more client processes are folded into the last lane
};

std::string render_timeline(const History& h, const std::vector<Violation>& violations,
                            const TimelineOptions& options = {});

}  // namespace samsa::invariants
