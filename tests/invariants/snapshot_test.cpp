#include <catch2/catch.hpp>

#include "invariants/snapshot.h"

using namespace samsa::invariants;
using json = nlohmann::json;

namespace {

PartitionSnapshot three_replicas() {
  PartitionSnapshot p{std::string(1, 't'), 0, 1, 2, 3, {}};
  for (int b = 1; b <= 3; ++b) p.replicas.push_back({b, {{0, 1, 10}, {1, 1, 11}, {2, 2, 12}}});
  return p;
}

}  // namespace

TEST_CASE("replica-divergence: equal logs, or a follower behind, do not diverge", "[invariants][snapshot]") {
  Snapshot s;
  s.partitions.push_back(three_replicas());
  CHECK(check_replica_divergence(s).empty());
  s.partitions[0].replicas[2].records.pop_back();  // broker 3 is behind
  CHECK(check_replica_divergence(s).empty());
  s.partitions[0].replicas[1].records.push_back({3, 2, 99});  // above the HW: not committed
  CHECK(check_replica_divergence(s).empty());
}

TEST_CASE("replica-divergence: another record below the high watermark is found", "[invariants][snapshot]") {
  Snapshot s;
  s.partitions.push_back(three_replicas());
  s.partitions[0].replicas[2].records[1] = {1, 2, 77};  // broker 3 took another leader's record
  const auto v = check_replica_divergence(s);
  REQUIRE(v.size() == 1);
  CHECK(v[0].name == "replica-divergence");
  CHECK(v[0].kind == Kind::safety);
  CHECK(v[0].explanation.find("offset 1") != std::string::npos);
  CHECK(v[0].explanation.find("broker 3") != std::string::npos);
}

TEST_CASE("replica-divergence: a hole below the high watermark is divergence", "[invariants][snapshot]") {
  Snapshot s;
  s.partitions.push_back(three_replicas());
  auto& r = s.partitions[0].replicas[0].records;
  r.erase(r.begin() + 1);
  const auto v = check_replica_divergence(s);
  REQUIRE(v.size() == 1);
  CHECK(v[0].explanation.find("lacks") != std::string::npos);
}

TEST_CASE("snapshot: JSON round trip", "[invariants][snapshot]") {
  Snapshot s;
  s.time_ns = 32'000'000'000;
  s.partitions.push_back(three_replicas());
  s.partitions[0].replicas[1].log_start_offset = 1;
  const Snapshot back = snapshot_from_json(to_json(s));
  REQUIRE(back.partitions.size() == 1);
  CHECK(back.time_ns == s.time_ns);
  CHECK(back.partitions[0].replicas[1].log_start_offset == 1);
  CHECK(to_json(back) == to_json(s));
  // An older snapshot without them: taken after everything, nothing retained away.
  const Snapshot old = snapshot_from_json(json::parse(R"({"partitions":[{"topic":"t","replicas":[{"broker":1}]}]})"));
  CHECK(old.time_ns == -1);
  CHECK(old.partitions.at(0).replicas.at(0).log_start_offset == 0);
}

TEST_CASE("snapshot: record_hash is FNV-1a of the value", "[invariants][snapshot]") {
  CHECK(record_hash("") == 0xcbf29ce484222325ull);  // the offset basis
  CHECK(record_hash("a") == 0xaf63dc4c8601ec8cull);  // published FNV-1a 64 test vector
  CHECK(record_hash("p1-1") != record_hash("p1-2"));
}
