// Replica placement: Kafka's own vectors for AdminUtils.assignReplicasToBrokers
// (rack-unaware) and the properties the placement promises.
#include "system/broker/replica_assignment.h"

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <set>

using namespace samsa;
using namespace samsa::broker;
using samsa::protocol::ErrorCode;

namespace {
std::vector<BrokerId> ids_of(std::vector<std::int32_t> v) {
  std::vector<BrokerId> out;
  for (auto x : v) out.emplace_back(x);
  return out;
}
// Kafka's vectors as plain numbers.
ReplicaAssignment vec(std::map<std::int32_t, std::vector<std::int32_t>> m) {
  ReplicaAssignment out;
  for (auto& [p, rs] : m) out.emplace(PartitionId(p), ids_of(rs));
  return out;
}
}  // namespace

TEST_CASE("replica assignment: Kafka's AdminRackAwareTest.testReplicaAssignment vector",
          "[broker][assignment]") {
  const auto brokers = ids_of({0, 1, 2, 3, 4});
  const ReplicaAssignment expected = vec({
      {0, {0, 1, 2}}, {1, {1, 2, 3}}, {2, {2, 3, 4}}, {3, {3, 4, 0}}, {4, {4, 0, 1}},
      {5, {0, 2, 3}}, {6, {1, 3, 4}}, {7, {2, 4, 0}}, {8, {3, 0, 1}}, {9, {4, 1, 2}}});
  sim::Random rng(1);
  auto got = assign_replicas_to_brokers(brokers, 10, 3, rng, /*fixed_start_index=*/0);
  REQUIRE(got.ok());
  CHECK(*got == expected);
  CHECK(assign_replicas_to_brokers(brokers, 10, 3, 0, 0).value() == expected);
}

TEST_CASE("replica assignment: the table in AdminUtils' comment (5 brokers, 10 partitions)",
          "[broker][assignment]") {
  // Rows of the comment: which partition's 1st/2nd/3rd replica each broker holds.
  const std::vector<std::vector<std::int32_t>> rows = {
      {0, 1, 2, 3, 4}, {5, 6, 7, 8, 9},  // 1st replica
      {4, 0, 1, 2, 3}, {8, 9, 5, 6, 7},  // 2nd replica
      {3, 4, 0, 1, 2}, {7, 8, 9, 5, 6},  // 3rd replica
  };
  const auto brokers = ids_of({0, 1, 2, 3, 4});
  const auto a = assign_replicas_to_brokers(brokers, 10, 3, 0, 0).value();
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::int32_t b = 0; b < 5; ++b) {
      const auto p = rows[r][static_cast<std::size_t>(b)];
      INFO("row " << r << " broker " << b << " partition " << p);
      CHECK(a.at(PartitionId(p)).at(r / 2) == BrokerId(b));
    }
}

TEST_CASE("replica assignment: start index, shift and start partition id", "[broker][assignment]") {
  const auto brokers = ids_of({1, 2, 3});
  // Worked by hand from AdminUtils: start index 1, shift 0, bumped at p3.
  const ReplicaAssignment expected = vec({{0, {2, 3}}, {1, {3, 1}}, {2, {1, 2}},
                                          {3, {2, 1}}, {4, {3, 2}}, {5, {1, 3}}});
  CHECK(assign_replicas_to_brokers(brokers, 6, 2, 1, 0).value() == expected);
  // Adding partitions continues the same sequence (AdminZkClient.addPartitions).
  const ReplicaAssignment added = vec({{3, {2, 1}}, {4, {3, 2}}, {5, {1, 3}}});
  CHECK(assign_replicas_to_brokers(brokers, 3, 2, 1, 0, 3).value() == added);
}

TEST_CASE("replica assignment: Kafka's errors", "[broker][assignment]") {
  const auto brokers = ids_of({0, 1, 2, 3, 4});
  sim::Random rng(1);
  auto zero_rf = assign_replicas_to_brokers(brokers, 10, 0, rng);
  REQUIRE(!zero_rf.ok());
  CHECK(zero_rf.error().code == ErrorCode::invalid_replication_factor);
  auto too_big = assign_replicas_to_brokers(brokers, 10, 6, rng);
  REQUIRE(!too_big.ok());
  CHECK(too_big.error().message == "Replication factor: 6 larger than available brokers: 5.");
  auto no_partitions = assign_replicas_to_brokers(brokers, 0, 1, rng);
  REQUIRE(!no_partitions.ok());
  CHECK(no_partitions.error().code == ErrorCode::invalid_partitions);
}

TEST_CASE("replica assignment: replicas distinct, on given brokers, leaders and replicas balanced",
          "[broker][assignment][property]") {
  rc::prop("placement properties", [] {
    const auto n = *rc::gen::inRange<std::int32_t>(1, 12);
    auto raw = *rc::gen::unique<std::vector<std::int32_t>>(
        static_cast<std::size_t>(n), rc::gen::inRange<std::int32_t>(0, 1000));
    std::sort(raw.begin(), raw.end());
    const auto ids = ids_of(raw);
    const auto rf = *rc::gen::inRange<std::int32_t>(1, n + 1);
    const auto partitions = *rc::gen::inRange<std::int32_t>(1, 60);
    const auto start = *rc::gen::inRange<std::int32_t>(0, n);
    const auto shift = *rc::gen::inRange<std::int32_t>(0, n);
    const auto a = assign_replicas_to_brokers(ids, partitions, rf, start, shift).value();
    RC_ASSERT(a.size() == static_cast<std::size_t>(partitions));
    std::map<BrokerId, int> leaders, replicas;
    std::int32_t expect_p = 0;
    for (const auto& [p, rs] : a) {
      RC_ASSERT(p == PartitionId(expect_p++));
      RC_ASSERT(rs.size() == static_cast<std::size_t>(rf));
      RC_ASSERT(std::set<BrokerId>(rs.begin(), rs.end()).size() == rs.size());
      for (auto r : rs) RC_ASSERT(std::binary_search(ids.begin(), ids.end(), r));
      ++leaders[rs.front()];
      for (auto r : rs) ++replicas[r];
    }
    // Leaders go round-robin: every broker leads floor or ceil of P/N.
    for (auto id : ids) {
      RC_ASSERT(leaders[id] >= partitions / n);
      RC_ASSERT(leaders[id] <= (partitions + n - 1) / n);
    }
    // Each full round places every broker exactly rf times.
    int lo = partitions * rf, hi = 0;
    for (auto id : ids) {
      lo = std::min(lo, replicas[id]);
      hi = std::max(hi, replicas[id]);
    }
    RC_ASSERT(hi - lo <= rf);
    if (partitions % n == 0) RC_ASSERT(lo == hi);
  });
}
