#pragma once
// Checkers over transactions (Jepsen's Kafka workload and Elle's anomaly
// names): the dependency graph of `txn` and `send` operations, with
//   ww  T1 wrote the record at index i of a partition's version order and
//       T2 the one at index i+1 (offsets made dense over those seen),
//   wr  T1 wrote a record that T2 polled,
// and, over it:
//   G0          a cycle of ww edges (write cycle);
//   G1c         a cycle of ww and wr edges with at least one wr edge
//               (circular information flow);
//   exactly-once  one input record consumed by two transactions that
//               committed (ok, or info with some of its writes read): the
//               consume-transform-produce loop processed it twice.
// Nodes are ok operations and info operations some of whose writes were
// read; aborted (fail) transactions are not (their reads are G1a's
// business, kafka_checkers.h). Polls have no out-edges here, so they never
// sit on a cycle. The rw (anti-dependency) edges of G-single / G2 are not
// built.
#include <nlohmann/json.hpp>

#include <vector>

#include "invariants/history.h"
#include "invariants/violation.h"

namespace samsa::invariants {

std::vector<Violation> check_g0(const History& h, const nlohmann::json& options);
std::vector<Violation> check_g1c(const History& h, const nlohmann::json& options);
std::vector<Violation> check_exactly_once(const History& h, const nlohmann::json& options);

struct Checker;
// The registry's entries for the checkers above (checkers.cpp adds them).
std::vector<Checker> txn_checkers();

}  // namespace samsa::invariants
