#pragma once
// The records of the internal __consumer_offsets topic, as Kafka 2.8's
// GroupMetadataManager writes them (schemas OffsetCommitKey,
// OffsetCommitValue, GroupMetadataKey, GroupMetadataValue in
// core/src/main/resources/common/message/, not flexible): a record key is an
// int16 version then the key struct (versions 0 and 1: an offset commit of
// (group, topic, partition); version 2: a group's metadata); a value is an
// int16 version then the value struct; a null value is a tombstone.
//
// Kafka 2.1+ writes offset commit key v1 / value v3 (v1 when the commit
// carries an expire timestamp) and group metadata key v2 / value v3. All
// versions are read.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sim/runtime/bytes.h"
#include "sim/runtime/result.h"
#include "system/protocol/ids.h"
#include "system/protocol/wire.h"

namespace samsa::broker::group {

inline constexpr std::string_view k_offsets_topic = "__consumer_offsets";

// Java's String.hashCode of the group id (UTF-16 code units of its UTF-8
// bytes). Each byte that does not start a well-formed UTF-8 sequence counts
// as one U+FFFD: close to, not proven equal to, Java's replacement of
// malformed input (group ids from real clients are well-formed).
std::int32_t java_string_hash(std::string_view s);
// GroupMetadataManager.partitionFor: Utils.abs(groupId.hashCode) %
// offsets.topic.num.partitions, where Utils.abs(Integer.MIN_VALUE) is 0.
std::int32_t offsets_partition_for(std::string_view group_id, std::int32_t num_partitions);

struct OffsetCommitKey {
  std::string group;
  std::string topic;
  std::int32_t partition = 0;
  bool operator==(const OffsetCommitKey&) const = default;
};
struct GroupMetadataKey {
  std::string group;
  bool operator==(const GroupMetadataKey&) const = default;
};
using RecordKey = std::variant<OffsetCommitKey, GroupMetadataKey>;

// OffsetAndMetadata.
struct OffsetCommitValue {
  protocol::Offset offset{0};
  protocol::LeaderEpoch leader_epoch = protocol::LeaderEpoch::none();  // v3+
  std::string metadata;
  std::int64_t commit_timestamp_ms = 0;
  std::int64_t expire_timestamp_ms = -1;  // v1 only
  bool operator==(const OffsetCommitValue&) const = default;
};

struct GroupMemberRecord {
  std::string member_id;
  std::optional<std::string> group_instance_id;  // v3+
  std::string client_id;
  std::string client_host;
  std::int32_t rebalance_timeout_ms = 0;  // v1+ (v0 reads it as the session timeout)
  std::int32_t session_timeout_ms = 0;
  Bytes subscription;
  Bytes assignment;
  bool operator==(const GroupMemberRecord&) const = default;
};

struct GroupMetadataValue {
  std::string protocol_type;
  protocol::GenerationId generation{0};
  std::optional<std::string> protocol;
  std::optional<std::string> leader;
  std::int64_t current_state_timestamp_ms = -1;  // v2+
  std::vector<GroupMemberRecord> members;
  bool operator==(const GroupMetadataValue&) const = default;
};

// Versions Kafka 2.8 writes.
inline constexpr std::int16_t k_offset_commit_key_version = 1;
inline constexpr std::int16_t k_group_metadata_key_version = 2;
inline constexpr std::int16_t k_offset_commit_value_version = 3;
inline constexpr std::int16_t k_group_metadata_value_version = 3;

Bytes encode_key(const OffsetCommitKey& k, std::int16_t version = k_offset_commit_key_version);
Bytes encode_key(const GroupMetadataKey& k);
// Version 3, or 1 when the value carries an expire timestamp (as Kafka picks).
Bytes encode_value(const OffsetCommitValue& v);
Bytes encode_value(const OffsetCommitValue& v, std::int16_t version);
Bytes encode_value(const GroupMetadataValue& v, std::int16_t version = k_group_metadata_value_version);

// readMessageKey / readOffsetMessageValue / readGroupMessageValue. Unknown
// versions are errors (Kafka throws IllegalStateException).
Result<RecordKey, protocol::DecodeError> decode_key(ByteView bytes);
Result<OffsetCommitValue, protocol::DecodeError> decode_offset_commit_value(ByteView bytes);
Result<GroupMetadataValue, protocol::DecodeError> decode_group_metadata_value(ByteView bytes);

}  // namespace samsa::broker::group
