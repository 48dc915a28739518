#pragma once
// The znode layout Kafka 2.x keeps in ZooKeeper, and its JSON values written
// byte for byte as Kafka writes them (field order included).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// /brokers/ids/<id> (version 4).
std::string broker_json(std::string_view host, std::uint16_t port, std::int64_t timestamp_ms);
// /controller.
std::string controller_json(std::int32_t broker_id, std::int64_t timestamp_ms);
// /brokers/topics/<topic>: partition -> replicas.
std::string topic_assignment_json(const std::map<std::int32_t, std::vector<std::int32_t>>& a);

struct PartitionState {
  std::int32_t controller_epoch = 0;
  std::int32_t leader = -1;
  std::int32_t leader_epoch = 0;
  std::vector<std::int32_t> isr;
  friend bool operator==(const PartitionState&, const PartitionState&) = default;
};
// /brokers/topics/<topic>/partitions/<p>/state.
std::string partition_state_json(const PartitionState& s);
std::optional<PartitionState> parse_partition_state(std::string_view json);
// /latest_producer_id_block.
std::string producer_id_block_json(std::int32_t broker_id, std::int64_t start, std::int64_t end);

// The integer value of a top-level field ("brokerid": 3 or "block_end":"999"),
// for the flat objects above. nullopt when absent or not a number.
std::optional<std::int64_t> json_int_field(std::string_view json, std::string_view field);

}  // namespace samsa::coord::kafka
