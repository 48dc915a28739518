#include "system/broker/replica_assignment.h"

#include <fmt/format.h>

#include <algorithm>

namespace samsa::broker {

namespace {

// AdminUtils.replicaIndex: the j-th follower sits 1 + (shift + j) % (n - 1)
// places after the first replica, so it is never the first replica itself.
std::size_t replica_index(std::size_t first, std::int64_t shift, std::int64_t j, std::size_t n) {
  const auto step = 1 + static_cast<std::size_t>((shift + j) % static_cast<std::int64_t>(n - 1));
  return (first + step) % n;
}

Result<void, AssignmentError> validate(std::size_t brokers, std::int32_t partitions,
                                       std::int32_t replication_factor) {
  if (partitions <= 0)
    return Err{AssignmentError{protocol::ErrorCode::invalid_partitions,
                               "Number of partitions must be larger than 0."}};
  if (replication_factor <= 0)
    return Err{AssignmentError{protocol::ErrorCode::invalid_replication_factor,
                               "Replication factor must be larger than 0."}};
  if (static_cast<std::size_t>(replication_factor) > brokers)
    return Err{AssignmentError{
        protocol::ErrorCode::invalid_replication_factor,
        fmt::format("Replication factor: {} larger than available brokers: {}.",
                    replication_factor, brokers)}};
  return {};
}

}  // namespace

Result<ReplicaAssignment, AssignmentError> assign_replicas_to_brokers(
    std::span<const BrokerId> brokers, std::int32_t partitions,
    std::int32_t replication_factor, std::int32_t start_index, std::int32_t replica_shift,
    std::int32_t start_partition_id) {
  if (auto v = validate(brokers.size(), partitions, replication_factor); !v) return Err{v.error()};
  SAMSA_ASSERT(start_index >= 0 && replica_shift >= 0, "start index and shift are indexes");
  const std::size_t n = brokers.size();
  ReplicaAssignment out;
  std::int64_t partition = std::max(0, start_partition_id);
  std::int64_t shift = replica_shift;
  for (std::int32_t i = 0; i < partitions; ++i, ++partition) {
    if (partition > 0 && partition % static_cast<std::int64_t>(n) == 0) ++shift;
    const auto first = static_cast<std::size_t>((partition + start_index) % static_cast<std::int64_t>(n));
    std::vector<BrokerId> replicas{brokers[first]};
    for (std::int32_t j = 0; j < replication_factor - 1; ++j)
      replicas.push_back(brokers[replica_index(first, shift, j, n)]);
    out.emplace(PartitionId(static_cast<std::int32_t>(partition)), std::move(replicas));
  }
  return out;
}

Result<ReplicaAssignment, AssignmentError> assign_replicas_to_brokers(
    std::span<const BrokerId> brokers, std::int32_t partitions,
    std::int32_t replication_factor, sim::Random& rng, std::int32_t fixed_start_index,
    std::int32_t start_partition_id) {
  if (auto v = validate(brokers.size(), partitions, replication_factor); !v) return Err{v.error()};
  // Kafka draws startIndex first, then nextReplicaShift.
  const auto draw = [&] { return static_cast<std::int32_t>(rng.index(brokers.size())); };
  const std::int32_t start = fixed_start_index >= 0 ? fixed_start_index : draw();
  const std::int32_t shift = fixed_start_index >= 0 ? fixed_start_index : draw();
  return assign_replicas_to_brokers(brokers, partitions, replication_factor, start, shift,
                                    start_partition_id);
}

}  // namespace samsa::broker
