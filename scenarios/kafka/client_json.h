#pragma once
// The JSON the Kafka-style workloads share (kafka, eos, mirror and samsa live
// workload): a scenario's [config] values as client properties, and partitions,
// offsets and consumed records as they appear in history ops.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "invariants/value.h"
#include "system/client/consumer.h"

namespace samsa::scenarios::kafka {

// A [config] value as Kafka's property text ("true", "5", "all").
inline std::string as_property(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
  return v.dump();
}

// The keys of `config` that one component (a client, or the brokers) takes,
// as properties; null means unset. `component`'s prefixed key
// ("producer.retries") wins over the unprefixed one, which every component
// that reads it shares (WorkloadType::components).
inline std::map<std::string, std::string> properties(const nlohmann::json& config,
                                                     const std::vector<std::string>& keys,
                                                     const std::string& component) {
  std::map<std::string, std::string> out;
  for (const auto& k : keys) {
    const auto prefixed = config.find(component + "." + k);
    if (prefixed != config.end() && !prefixed->is_null()) out[k] = as_property(*prefixed);
    else if (config.contains(k) && !config[k].is_null()) out[k] = as_property(config[k]);
  }
  return out;
}

inline nlohmann::json partitions_json(const std::vector<client::TopicPartition>& parts) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& tp : parts) a.push_back({{"topic", tp.topic}, {"partition", tp.partition.value()}});
  return a;
}

inline nlohmann::json offsets_json(const std::map<client::TopicPartition, std::int64_t>& offsets) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& [tp, o] : offsets)
    a.push_back({{"topic", tp.topic}, {"partition", tp.partition.value()}, {"offset", o}});
  return a;
}

// A consumed record in a poll op; `with_key` adds the record's key when it has one.
inline nlohmann::json record_json(const client::ConsumerRecord& r, bool with_key = true) {
  nlohmann::json j = {{"topic", r.topic}, {"partition", r.partition}, {"offset", r.offset},
                      {"value", r.value.value_or("")}};
  if (with_key && r.key) j["key"] = *r.key;
  return j;
}

// The same record written straight into a history value (keys in
// nlohmann's sorted order): the bytes Value(record_json(r, with_key)) holds.
inline void write_record(invariants::ValueWriter& w, const client::ConsumerRecord& r, bool with_key = true) {
  w.object();
  if (with_key && r.key) w.key("key").value(*r.key);
  w.key("offset").value(r.offset).key("partition").value(r.partition).key("topic").value(r.topic);
  w.key("value").value(r.value ? std::string_view(*r.value) : std::string_view()).end();
}

// A poll's value {"records": [r]} (one processed record), without the json.
inline invariants::Value one_record_poll(const client::ConsumerRecord& r) {
  invariants::ValueWriter w;
  w.object().key("records").array();
  write_record(w, r);
  w.end().end();
  return w.take();
}

}  // namespace samsa::scenarios::kafka
