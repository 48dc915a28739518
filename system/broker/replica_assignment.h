#pragma once
// Replica placement for new topics and partitions: exactly Kafka's rack-unaware
// AdminUtils.assignReplicasToBrokers (Kafka 2.8). The first replica of each
// partition goes round-robin over the brokers from a start index; the others
// follow with a shift that grows by one after every full round, so that the
// followers of one broker's partitions spread over all other brokers.
//
// Kafka draws the start index and the first shift at random when no fixed
// start index is given; samsa's caller draws them from its runtime stream.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "sim/runtime/random.h"
#include "sim/runtime/result.h"
#include "system/protocol/errors.h"
#include "system/protocol/ids.h"

namespace samsa::broker {

using protocol::BrokerId;
using protocol::PartitionId;

struct AssignmentError {
  protocol::ErrorCode code;  // INVALID_PARTITIONS or INVALID_REPLICATION_FACTOR
  std::string message;       // Kafka's wording
};

// partition id -> replicas (the first one is the preferred leader).
using ReplicaAssignment = std::map<PartitionId, std::vector<BrokerId>>;

// `brokers` in the order Kafka uses them: sorted by id (AdminZkClient's
// getBrokerMetadatas sorts). `start_index` and `replica_shift` are Kafka's
// startIndex and nextReplicaShift: both equal `fixedStartIndex` when one is
// given, else each a random index into `brokers`. `start_partition_id` is
// the first partition to assign (adding partitions), -1 for a new topic.
Result<ReplicaAssignment, AssignmentError> assign_replicas_to_brokers(
    std::span<const BrokerId> brokers, std::int32_t partitions,
    std::int32_t replication_factor, std::int32_t start_index, std::int32_t replica_shift,
    std::int32_t start_partition_id = -1);

// Kafka's overload with fixedStartIndex: -1 draws both indexes from `rng`.
Result<ReplicaAssignment, AssignmentError> assign_replicas_to_brokers(
    std::span<const BrokerId> brokers, std::int32_t partitions,
    std::int32_t replication_factor, sim::Random& rng, std::int32_t fixed_start_index = -1,
    std::int32_t start_partition_id = -1);

}  // namespace samsa::broker
