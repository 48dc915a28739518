#include "system/coord/kafka_layout.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>

namespace samsa::coord::kafka {

const std::vector<std::string>& persistent_paths() {
  static const std::vector<std::string> paths = {
      "/brokers", "/brokers/ids", "/brokers/topics", "/brokers/seqid", "/admin",
      "/admin/delete_topics", "/isr_change_notification", "/config", "/config/topics",
      "/config/brokers", "/consumers", "/latest_producer_id_block"};
  return paths;
}

std::string broker_path(std::int32_t id) { return fmt::format("{}/{}", k_brokers_ids, id); }
std::string topic_path(std::string_view topic) { return fmt::format("{}/{}", k_brokers_topics, topic); }
std::string partition_state_path(std::string_view topic, std::int32_t p) {
  return fmt::format("{}/{}/partitions/{}/state", k_brokers_topics, topic, p);
}
std::string consumer_ids_path(std::string_view group) {
  return fmt::format("{}/{}/ids", k_consumers, group);
}
std::string consumer_owner_path(std::string_view group, std::string_view topic, std::int32_t p) {
  return fmt::format("{}/{}/owners/{}/{}", k_consumers, group, topic, p);
}
std::string consumer_offset_path(std::string_view group, std::string_view topic, std::int32_t p) {
  return fmt::format("{}/{}/offsets/{}/{}", k_consumers, group, topic, p);
}

std::string broker_json(std::string_view host, std::uint16_t port, std::int64_t timestamp_ms) {
  return fmt::format(
      R"({{"listener_security_protocol_map":{{"PLAINTEXT":"PLAINTEXT"}},"endpoints":["PLAINTEXT://{}:{}"],"jmx_port":-1,"host":"{}","timestamp":"{}","port":{},"version":4}})",
      host, port, host, timestamp_ms, port);
}

std::string controller_json(std::int32_t broker_id, std::int64_t timestamp_ms) {
  return fmt::format(R"({{"version":1,"brokerid":{},"timestamp":"{}"}})", broker_id, timestamp_ms);
}

std::string topic_assignment_json(const std::map<std::int32_t, std::vector<std::int32_t>>& a) {
  std::string parts;
  for (const auto& [p, replicas] : a)
    parts += fmt::format(R"({}"{}":[{}])", parts.empty() ? "" : ",", p, fmt::join(replicas, ","));
  return fmt::format(R"({{"version":1,"partitions":{{{}}}}})", parts);
}

std::string partition_state_json(const PartitionState& s) {
  return fmt::format(R"({{"controller_epoch":{},"leader":{},"version":1,"leader_epoch":{},"isr":[{}]}})",
                     s.controller_epoch, s.leader, s.leader_epoch, fmt::join(s.isr, ","));
}

std::string producer_id_block_json(std::int32_t broker_id, std::int64_t start, std::int64_t end) {
  return fmt::format(R"({{"version":1,"broker":{},"block_start":"{}","block_end":"{}"}})", broker_id,
                     start, end);
}

std::optional<std::int64_t> json_int_field(std::string_view json, std::string_view field) {
  const std::string key = fmt::format("\"{}\":", field);
  const auto at = json.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  std::size_t i = at + key.size();
  if (i < json.size() && json[i] == '"') ++i;  // Kafka quotes some numbers
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(json.data() + i, json.data() + json.size(), v);
  if (ec != std::errc{} || end == json.data() + i) return std::nullopt;
  return v;
}

std::optional<PartitionState> parse_partition_state(std::string_view json) {
  PartitionState s;
  const auto ce = json_int_field(json, "controller_epoch");
  const auto leader = json_int_field(json, "leader");
  const auto le = json_int_field(json, "leader_epoch");
  const auto isr_at = json.find("\"isr\":[");
  if (!ce || !leader || !le || isr_at == std::string_view::npos) return std::nullopt;
  s.controller_epoch = static_cast<std::int32_t>(*ce);
  s.leader = static_cast<std::int32_t>(*leader);
  s.leader_epoch = static_cast<std::int32_t>(*le);
  const char* p = json.data() + isr_at + 7;
  const char* end = json.data() + json.size();
  while (p < end && *p != ']') {
    std::int32_t v = 0;
    const auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc{}) return std::nullopt;
    s.isr.push_back(v);
    p = next;
    if (p < end && *p == ',') ++p;
  }
  if (p >= end) return std::nullopt;
  return s;
}

}  // namespace samsa::coord::kafka
