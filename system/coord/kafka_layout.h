#pragma once
// The znode layout Kafka 2.x keeps in ZooKeeper, and its JSON values written
// byte for byte as Kafka writes them (field order included).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/runtime/result.h"

namespace samsa::coord::kafka {

inline constexpr std::string_view k_brokers_ids = "/brokers/ids";
inline constexpr std::string_view k_brokers_topics = "/brokers/topics";
inline constexpr std::string_view k_controller = "/controller";
inline constexpr std::string_view k_controller_epoch = "/controller_epoch";
inline constexpr std::string_view k_isr_change_notification = "/isr_change_notification";
inline constexpr std::string_view k_delete_topics = "/admin/delete_topics";
inline constexpr std::string_view k_latest_producer_id_block = "/latest_producer_id_block";
inline constexpr std::string_view k_consumers = "/consumers";

// The persistent paths a Kafka cluster creates at start.
const std::vector<std::string>& persistent_paths();

std::string broker_path(std::int32_t broker_id);
std::string topic_path(std::string_view topic);
std::string partition_state_path(std::string_view topic, std::int32_t partition);
std::string consumer_ids_path(std::string_view group);
std::string consumer_owner_path(std::string_view group, std::string_view topic, std::int32_t p);
std::string consumer_offset_path(std::string_view group, std::string_view topic, std::int32_t p);

// Znode values are JSON written with Kafka's key order (nlohmann
// ordered_json, compact like Kafka's Jackson output) and read back robustly:
// a value that is not JSON, not an object, lacks a field or has a field of
// the wrong type or out of range is a ZnodeError, never a crash or a wrong
// number. Kafka quotes some numbers ("timestamp", "block_start"); readers
// accept exactly the form Kafka writes for each field.
struct ZnodeError {
  std::string message;  // e.g. "partition state: \"isr\": expected an array of int32"
  friend bool operator==(const ZnodeError&, const ZnodeError&) = default;
};

// /brokers/ids/<id> (version 4; Kafka's BrokerIdZNode).
std::string broker_json(std::string_view host, std::uint16_t port, std::int64_t timestamp_ms);
struct BrokerRegistration {
  std::string host;
  std::uint16_t port = 0;
  std::vector<std::string> endpoints;  // "PLAINTEXT://host:port"
  std::int64_t timestamp_ms = 0;
  std::int32_t version = 0;
  friend bool operator==(const BrokerRegistration&, const BrokerRegistration&) = default;
};
Result<BrokerRegistration, ZnodeError> parse_broker(std::string_view json);

// /controller (Kafka's ControllerZNode).
std::string controller_json(std::int32_t broker_id, std::int64_t timestamp_ms);
struct ControllerRegistration {
  std::int32_t broker_id = -1;
  std::int64_t timestamp_ms = 0;
  friend bool operator==(const ControllerRegistration&, const ControllerRegistration&) = default;
};
Result<ControllerRegistration, ZnodeError> parse_controller(std::string_view json);

// /brokers/topics/<topic>: partition -> replicas (Kafka's TopicZNode, version 1).
using TopicAssignment = std::map<std::int32_t, std::vector<std::int32_t>>;
std::string topic_assignment_json(const TopicAssignment& a);
Result<TopicAssignment, ZnodeError> parse_topic_assignment(std::string_view json);

struct PartitionState {
  std::int32_t controller_epoch = 0;
  std::int32_t leader = -1;
  std::int32_t leader_epoch = 0;
  std::vector<std::int32_t> isr;
  friend bool operator==(const PartitionState&, const PartitionState&) = default;
};
// /brokers/topics/<topic>/partitions/<p>/state (Kafka's TopicPartitionStateZNode).
std::string partition_state_json(const PartitionState& s);
Result<PartitionState, ZnodeError> parse_partition_state(std::string_view json);

// /latest_producer_id_block (Kafka's ProducerIdBlockZNode, version 1).
std::string producer_id_block_json(std::int32_t broker_id, std::int64_t start, std::int64_t end);
struct ProducerIdBlock {
  std::int32_t broker_id = -1;
  std::int64_t block_start = 0;
  std::int64_t block_end = 0;
  friend bool operator==(const ProducerIdBlock&, const ProducerIdBlock&) = default;
};
Result<ProducerIdBlock, ZnodeError> parse_producer_id_block(std::string_view json);

// The integer value of a top-level field of a JSON object ("brokerid": 3, or
// a quoted number as Kafka writes "block_end":"999"). nullopt when the value
// is not JSON, the field is absent, or it is not an int64.
std::optional<std::int64_t> json_int_field(std::string_view json, std::string_view field);

}  // namespace samsa::coord::kafka
