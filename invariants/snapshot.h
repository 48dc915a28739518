#pragma once
// The final state of a simulated cluster, as the replica-divergence and
// lost-write checkers read it: per topic-partition its leader, leader epoch and high watermark,
// and per replica the records of its log. A plain struct so a workload fills
// it from whatever it can read (the brokers' logs at the end of a run, or
// dump-log on saved disks) without the checker knowing system/ types.
//
//   Snapshot s;
//   auto& p = s.partitions.emplace_back();
//   p.topic = "orders"; p.partition = 2; p.leader = 1; p.leader_epoch = 4;
//   p.high_watermark = 106;
//   p.replicas.push_back({1, {{0, 1, hash_of("3-1")}, ...}});
//   auto v = check_replica_divergence(s);
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "invariants/violation.h"

namespace samsa::invariants {

struct ReplicaRecord {
  std::int64_t offset = 0;
  std::int32_t leader_epoch = 0;  // the partition leader epoch of the record's batch
  std::uint64_t hash = 0;         // record_hash of the record's value
};

// FNV-1a (64 bits) of a record's value: how the history's values are found
// in a snapshot (lost-write) and how replicas are compared.
std::uint64_t record_hash(std::string_view value);

struct ReplicaLog {
  std::int32_t broker = -1;
  std::vector<ReplicaRecord> records;  // in offset order
  std::int64_t log_start_offset = 0;   // below it retention removed records: not lost
};

struct PartitionSnapshot {
  std::string topic;
  std::int32_t partition = 0;
  std::int32_t leader = -1;  // -1: no leader
  std::int32_t leader_epoch = -1;
  std::int64_t high_watermark = 0;  // records below it are committed
  std::vector<ReplicaLog> replicas;
};

struct Snapshot {
  // When it was taken (the history's time_ns); -1: after every operation.
  // lost-write judges from it only the sends acknowledged before then.
  std::int64_t time_ns = -1;
  std::vector<PartitionSnapshot> partitions;
};

nlohmann::json to_json(const Snapshot& s);
Snapshot snapshot_from_json(const nlohmann::json& j);  // ignores what it does not know

// replica-divergence (safety): two replicas of one partition hold different
// records (epoch or hash) at one offset below the high watermark, or a
// replica whose log reaches past an offset below the high watermark lacks it.
// Replicas that are simply behind (out of the ISR) are not divergent.
std::vector<Violation> check_replica_divergence(const Snapshot& s);

}  // namespace samsa::invariants
