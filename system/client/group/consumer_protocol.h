#pragma once
// The "consumer" embedded protocol of the group membership API: the bytes a
// consumer puts in JoinGroup's protocol metadata (its subscription) and the
// leader puts in SyncGroup's assignments. Kafka's ConsumerProtocol.java with
// the schemas ConsumerProtocolSubscription.json and
// ConsumerProtocolAssignment.json (versions 0..3, not flexible): an int16
// version, then the struct at that version.
//
//   subscription v0: Topics []string, UserData nullable bytes
//                v1: + OwnedPartitions [](Topic string, Partitions []int32)
//                v2: + GenerationId int32 (default -1)
//                v3: + RackId nullable string (default null)
//   assignment v0..v3: AssignedPartitions [](Topic, Partitions), UserData
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/runtime/bytes.h"
#include "sim/runtime/result.h"
#include "system/protocol/ids.h"
#include "system/protocol/wire.h"

namespace samsa::client::group {

inline constexpr std::string_view k_consumer_protocol_type = "consumer";
inline constexpr std::int16_t k_consumer_protocol_lowest_version = 0;
inline constexpr std::int16_t k_consumer_protocol_highest_version = 3;

struct TopicPartition {
  std::string topic;
  protocol::PartitionId partition{0};
  auto operator<=>(const TopicPartition&) const = default;
};
// "topic-partition", as Kafka's TopicPartition.toString.
std::string to_string(const TopicPartition& tp);

// ConsumerPartitionAssignor.Subscription.
struct Subscription {
  std::vector<std::string> topics;
  std::optional<Bytes> user_data;
  std::vector<TopicPartition> owned_partitions;  // v1+
  protocol::GenerationId generation_id = protocol::GenerationId::none();  // v2+
  std::optional<std::string> rack_id;            // v3+; empty on the wire reads as absent
  // From the member's JoinGroup (group.instance.id, KIP-345), not from these
  // bytes; assignors order static members by it.
  std::optional<std::string> group_instance_id;
  bool operator==(const Subscription&) const = default;
};

// ConsumerPartitionAssignor.Assignment.
struct Assignment {
  std::vector<TopicPartition> partitions;
  std::optional<Bytes> user_data;
  bool operator==(const Assignment&) const = default;
};

// Kafka's serializeSubscription: topics sorted, owned partitions sorted by
// (topic, partition) and grouped by topic; fields newer than `version` are
// left out (all of them are ignorable). `version` must be 0..3.
Bytes encode_subscription(const Subscription& s,
                          std::int16_t version = k_consumer_protocol_highest_version);
// Kafka's serializeAssignment: partitions grouped by topic in order of first
// appearance, each topic's partitions in list order.
Bytes encode_assignment(const Assignment& a,
                        std::int16_t version = k_consumer_protocol_highest_version);

// Kafka's deserializeSubscription / deserializeAssignment: a version below 0
// is an error, a version above 3 is read as 3 (newer versions only append
// fields), and bytes after the fields are ignored for the same reason.
Result<Subscription, protocol::DecodeError> decode_subscription(ByteView bytes);
Result<Assignment, protocol::DecodeError> decode_assignment(ByteView bytes);
// The version prefix alone (ConsumerProtocol.deserializeVersion).
Result<std::int16_t, protocol::DecodeError> decode_version(ByteView bytes);

}  // namespace samsa::client::group
