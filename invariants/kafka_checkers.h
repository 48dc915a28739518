#pragma once
// The Kafka checkers (Jepsen's jepsen.tests.kafka names and meanings, plus
// samsa's own) over DESIGN.md's history format:
//
//   send   {topic, key, value[, partition, offset][, producer]}   one record,
//          or {records: [{topic, key, value[, partition, offset]}...][, producer]}
//   poll   {records: [{topic, partition, offset, key, value}...]}
//   commit {group, offsets: [{topic, partition, offset}...][, reset]}
//   assign {group, generation, partitions: [{topic, partition}...]}
//   txn    {sends: [send records...], polls: [poll records...]}
//   reset-offsets {group}   an explicit offset reset (kafka-consumer-groups --reset-offsets)
//
// Record values are unique per run, so (topic, value) names a record. The
// log of a partition ("version order") is built from ok sends with offsets,
// info sends that some poll read, and every poll; offsets become dense
// indexes over the offsets seen, so gaps (transaction markers, unknown
// offsets) are never called skips. `producer` groups sends of several
// processes into one producer for per-key-order and nonmonotonic-send (a
// producer with several requests in flight); it defaults to the process.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "invariants/history.h"
#include "invariants/snapshot.h"
#include "invariants/violation.h"

namespace samsa::invariants {

// Each is registered under its name (the part after check_, with - for _;
// G1a as "G1a"). Options are a JSON object; see kafka_checkers.cpp per checker.
// lost-write and unseen take the option "snapshot" (a Snapshot as JSON,
// snapshot.h): the final state, from which an acknowledged record in no
// replica's log is a lost-write even if no poll looked for it, and unseen
// keeps the ones still in a log.
std::vector<Violation> check_lost_write(const History& h, const nlohmann::json& options);
std::vector<Violation> check_unseen(const History& h, const nlohmann::json& options);
std::vector<Violation> check_duplicate(const History& h, const nlohmann::json& options);
std::vector<Violation> check_inconsistent_offsets(const History& h, const nlohmann::json& options);
std::vector<Violation> check_poll_skip(const History& h, const nlohmann::json& options);
std::vector<Violation> check_nonmonotonic_poll(const History& h, const nlohmann::json& options);
std::vector<Violation> check_nonmonotonic_send(const History& h, const nlohmann::json& options);
std::vector<Violation> check_int_poll_skip(const History& h, const nlohmann::json& options);
std::vector<Violation> check_int_nonmonotonic_poll(const History& h, const nlohmann::json& options);
std::vector<Violation> check_int_nonmonotonic_send(const History& h, const nlohmann::json& options);
std::vector<Violation> check_int_send_skip(const History& h, const nlohmann::json& options);
std::vector<Violation> check_precommitted_read(const History& h, const nlohmann::json& options);
std::vector<Violation> check_g1a(const History& h, const nlohmann::json& options);
std::vector<Violation> check_per_key_order(const History& h, const nlohmann::json& options);
std::vector<Violation> check_redelivery(const History& h, const nlohmann::json& options);
std::vector<Violation> check_committed_offset_regression(const History& h, const nlohmann::json& options);
std::vector<Violation> check_assignment_overlap(const History& h, const nlohmann::json& options);
std::vector<Violation> check_kafka_liveness(const History& h, const nlohmann::json& options);

// While one lives (on this thread), the Kafka checkers and delivery_summary
// share one analysis of `h` instead of each building its own; run_checkers
// makes one. Nested scopes over the same history reuse the outer one.
class SharedAnalysis {
 public:
  explicit SharedAnalysis(const History& h);
  ~SharedAnalysis();
  SharedAnalysis(const SharedAnalysis&) = delete;
  SharedAnalysis& operator=(const SharedAnalysis&) = delete;

 private:
  bool owner_ = false;
};

// While one lives (on this thread), lost-write and unseen judge from `s`
// when their options are an object without "snapshot": how the runner hands
// over a run's final state without a JSON copy of every replica's records
// (at 1,000 records/s that copy was the largest thing alive at the end).
class FinalState {
 public:
  explicit FinalState(const Snapshot& s);  // `s` must outlive the scope
  ~FinalState();
  FinalState(const FinalState&) = delete;
  FinalState& operator=(const FinalState&) = delete;

 private:
  const Snapshot* previous_;
};

struct Checker;
// The registry's entries for the checkers above (checkers.cpp adds them).
std::vector<Checker> kafka_checkers();
// The names above, as registered (Checker::name), in one list.
const std::vector<std::string>& kafka_checker_names();

// What `samsa check` prints about delivery: whether the run was at most once
// (no record in the log twice, no record consumed twice by one group), at
// least once (no lost-write, no unseen) and so exactly once, and per
// partition whether order held (no nonmonotonic-*, per-key-order or
// inconsistent-offsets case in it). `kafka` is false for a history with no
// send or poll; the rest is then empty.
struct PartitionOrder {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t records = 0;          // distinct offsets in the version order
  std::int64_t order_violations = 0;
  std::int64_t skips = 0;            // poll-skip and int-poll-skip cases
  bool ordered() const { return order_violations == 0; }
};
struct DeliverySummary {
  bool kafka = false;
  std::int64_t acked = 0, consumed = 0;  // distinct records
  std::int64_t lost = 0, unseen = 0, duplicated = 0, redelivered = 0;
  bool at_most_once = true, at_least_once = true;
  bool exactly_once() const { return at_most_once && at_least_once; }
  std::vector<PartitionOrder> partitions;
};
// With a final-state snapshot, lost counts the acknowledged records in no
// replica's log too, and unseen only those still in one (as the lost-write
// and unseen checkers with option snapshot).
DeliverySummary delivery_summary(const History& h, const Snapshot* final_state = nullptr);
nlohmann::json to_json(const DeliverySummary& s);

}  // namespace samsa::invariants
