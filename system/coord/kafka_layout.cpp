#include "system/coord/kafka_layout.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <limits>

namespace samsa::coord::kafka {

using nlohmann::ordered_json;

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

// ---- writing: keys in the order Kafka's znodes show them ----

namespace {
// Compact, as Kafka's Jackson writes; invalid UTF-8 (a host name from
// outside) is replaced rather than thrown.
std::string dump(const ordered_json& j) {
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}
}  // namespace

std::string broker_json(std::string_view host, std::uint16_t port, std::int64_t timestamp_ms) {
  ordered_json j;
  j["listener_security_protocol_map"] = {{"PLAINTEXT", "PLAINTEXT"}};
  j["endpoints"] = ordered_json::array({fmt::format("PLAINTEXT://{}:{}", host, port)});
  j["jmx_port"] = -1;
  j["host"] = host;
  j["timestamp"] = std::to_string(timestamp_ms);
  j["port"] = port;
  j["version"] = 4;
  return dump(j);
}

std::string controller_json(std::int32_t broker_id, std::int64_t timestamp_ms) {
  ordered_json j;
  j["version"] = 1;
  j["brokerid"] = broker_id;
  j["timestamp"] = std::to_string(timestamp_ms);
  return dump(j);
}

std::string topic_assignment_json(const TopicAssignment& a) {
  ordered_json partitions = ordered_json::object();
  for (const auto& [p, replicas] : a) partitions[std::to_string(p)] = replicas;
  ordered_json j;
  j["version"] = 1;
  j["partitions"] = std::move(partitions);
  return dump(j);
}

std::string partition_state_json(const PartitionState& s) {
  ordered_json j;
  j["controller_epoch"] = s.controller_epoch;
  j["leader"] = s.leader;
  j["version"] = 1;
  j["leader_epoch"] = s.leader_epoch;
  j["isr"] = s.isr;
  return dump(j);
}

std::string producer_id_block_json(std::int32_t broker_id, std::int64_t start, std::int64_t end) {
  ordered_json j;
  j["version"] = 1;
  j["broker"] = broker_id;
  j["block_start"] = std::to_string(start);
  j["block_end"] = std::to_string(end);
  return dump(j);
}

// ---- reading ----

namespace {

using Json = nlohmann::json;

// One znode value being read: errors name the znode kind and the field.
class Fields {
 public:
  Fields(std::string_view kind, std::string_view text) : kind_(kind) {
    j_ = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  }

  std::optional<ZnodeError> check_object() const {
    if (j_.is_discarded()) return fail("not valid JSON");
    if (!j_.is_object()) return fail("not a JSON object");
    return std::nullopt;
  }

  // An integer field within [lo, hi].
  Result<std::int64_t, ZnodeError> integer(const char* name, std::int64_t lo, std::int64_t hi) const {
    const Json* v = find(name);
    if (v == nullptr) return Err{missing(name)};
    auto n = as_int(*v, lo, hi);
    if (!n) return Err{wrong(name, "an integer in range")};
    return *n;
  }
  // A number Kafka writes as a string ("timestamp":"1700000000000").
  Result<std::int64_t, ZnodeError> quoted_integer(const char* name) const {
    const Json* v = find(name);
    if (v == nullptr) return Err{missing(name)};
    if (!v->is_string()) return Err{wrong(name, "a number in a string")};
    const std::string& s = v->get_ref<const std::string&>();
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) {
      return Err{wrong(name, "a number in a string")};
    }
    return n;
  }
  Result<std::string, ZnodeError> string(const char* name) const {
    const Json* v = find(name);
    if (v == nullptr) return Err{missing(name)};
    if (!v->is_string()) return Err{wrong(name, "a string")};
    return v->get<std::string>();
  }
  Result<std::vector<std::int32_t>, ZnodeError> int32_array(const Json& v, const std::string& name) const {
    if (!v.is_array()) return Err{wrong(name, "an array of int32")};
    std::vector<std::int32_t> out;
    for (const Json& x : v) {
      auto n = as_int(x, std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max());
      if (!n) return Err{wrong(name, "an array of int32")};
      out.push_back(static_cast<std::int32_t>(*n));
    }
    return out;
  }
  const Json* find(const char* name) const {
    const auto it = j_.find(name);
    return it == j_.end() ? nullptr : &*it;
  }
  ZnodeError fail(std::string_view what) const { return {fmt::format("{}: {}", kind_, what)}; }
  ZnodeError missing(std::string_view name) const { return fail(fmt::format("no field \"{}\"", name)); }
  ZnodeError wrong(std::string_view name, std::string_view expected) const {
    return fail(fmt::format("\"{}\": expected {}", name, expected));
  }

 private:
  static std::optional<std::int64_t> as_int(const Json& v, std::int64_t lo, std::int64_t hi) {
    if (v.is_number_unsigned()) {
      const auto u = v.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(hi)) return std::nullopt;
      return static_cast<std::int64_t>(u);
    }
    if (!v.is_number_integer()) return std::nullopt;
    const auto n = v.get<std::int64_t>();
    if (n < lo || n > hi) return std::nullopt;
    return n;
  }

  std::string_view kind_;
  Json j_;
};

constexpr std::int64_t k_int32_min = std::numeric_limits<std::int32_t>::min();
constexpr std::int64_t k_int32_max = std::numeric_limits<std::int32_t>::max();
constexpr std::int64_t k_int64_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t k_int64_max = std::numeric_limits<std::int64_t>::max();

#define SAMSA_ZNODE_TRY(var, expr)          \
  auto var##_r = (expr);                    \
  if (!var##_r) return Err{var##_r.error()}; \
  auto var = std::move(var##_r).value()

}  // namespace

Result<BrokerRegistration, ZnodeError> parse_broker(std::string_view json) {
  const Fields f("broker registration", json);
  if (auto e = f.check_object()) return Err{*e};
  BrokerRegistration b;
  SAMSA_ZNODE_TRY(host, f.string("host"));
  SAMSA_ZNODE_TRY(port, f.integer("port", 0, std::numeric_limits<std::uint16_t>::max()));
  SAMSA_ZNODE_TRY(timestamp, f.quoted_integer("timestamp"));
  SAMSA_ZNODE_TRY(version, f.integer("version", k_int32_min, k_int32_max));
  const auto* endpoints = f.find("endpoints");
  if (endpoints == nullptr) return Err{f.missing("endpoints")};
  if (!endpoints->is_array()) return Err{f.wrong("endpoints", "an array of strings")};
  for (const auto& e : *endpoints) {
    if (!e.is_string()) return Err{f.wrong("endpoints", "an array of strings")};
    b.endpoints.push_back(e.get<std::string>());
  }
  b.host = std::move(host);
  b.port = static_cast<std::uint16_t>(port);
  b.timestamp_ms = timestamp;
  b.version = static_cast<std::int32_t>(version);
  return b;
}

Result<ControllerRegistration, ZnodeError> parse_controller(std::string_view json) {
  const Fields f("controller", json);
  if (auto e = f.check_object()) return Err{*e};
  SAMSA_ZNODE_TRY(id, f.integer("brokerid", k_int32_min, k_int32_max));
  SAMSA_ZNODE_TRY(timestamp, f.quoted_integer("timestamp"));
  return ControllerRegistration{static_cast<std::int32_t>(id), timestamp};
}

Result<TopicAssignment, ZnodeError> parse_topic_assignment(std::string_view json) {
  const Fields f("topic assignment", json);
  if (auto e = f.check_object()) return Err{*e};
  const auto* partitions = f.find("partitions");
  if (partitions == nullptr) return Err{f.missing("partitions")};
  if (!partitions->is_object()) return Err{f.wrong("partitions", "an object")};
  TopicAssignment a;
  for (const auto& [key, replicas] : partitions->items()) {
    std::int32_t p = 0;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), p);
    if (ec != std::errc{} || end != key.data() + key.size() || key.empty() || p < 0) {
      return Err{f.fail(fmt::format("partition key \"{}\" is not a partition number", key))};
    }
    SAMSA_ZNODE_TRY(list, f.int32_array(replicas, "partitions." + key));
    a[p] = std::move(list);
  }
  return a;
}

Result<PartitionState, ZnodeError> parse_partition_state(std::string_view json) {
  const Fields f("partition state", json);
  if (auto e = f.check_object()) return Err{*e};
  SAMSA_ZNODE_TRY(ce, f.integer("controller_epoch", k_int32_min, k_int32_max));
  SAMSA_ZNODE_TRY(leader, f.integer("leader", k_int32_min, k_int32_max));
  SAMSA_ZNODE_TRY(le, f.integer("leader_epoch", k_int32_min, k_int32_max));
  const auto* isr = f.find("isr");
  if (isr == nullptr) return Err{f.missing("isr")};
  SAMSA_ZNODE_TRY(list, f.int32_array(*isr, "isr"));
  return PartitionState{static_cast<std::int32_t>(ce), static_cast<std::int32_t>(leader),
                        static_cast<std::int32_t>(le), std::move(list)};
}

Result<ProducerIdBlock, ZnodeError> parse_producer_id_block(std::string_view json) {
  const Fields f("producer id block", json);
  if (auto e = f.check_object()) return Err{*e};
  SAMSA_ZNODE_TRY(broker, f.integer("broker", k_int32_min, k_int32_max));
  SAMSA_ZNODE_TRY(start, f.quoted_integer("block_start"));
  SAMSA_ZNODE_TRY(end, f.quoted_integer("block_end"));
  if (start > end) return Err{f.fail("block_start after block_end")};
  return ProducerIdBlock{static_cast<std::int32_t>(broker), start, end};
}

std::optional<std::int64_t> json_int_field(std::string_view json, std::string_view field) {
  const Fields f("znode", json);
  if (f.check_object()) return std::nullopt;
  const std::string name(field);
  if (const auto* v = f.find(name.c_str()); v != nullptr && v->is_string()) {
    auto n = f.quoted_integer(name.c_str());
    return n ? std::optional<std::int64_t>(*n) : std::nullopt;
  }
  auto n = f.integer(name.c_str(), k_int64_min, k_int64_max);
  return n ? std::optional<std::int64_t>(*n) : std::nullopt;
}

}  // namespace samsa::coord::kafka
