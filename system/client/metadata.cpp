#include "system/client/metadata.h"

#include <algorithm>

namespace samsa::client {

namespace p = protocol;
using p::ErrorCode;

Metadata::Metadata(std::vector<sim::Address> bootstrap_servers, std::int64_t metadata_max_age_ms,
                   std::int64_t retry_backoff_ms)
    : bootstrap_(std::move(bootstrap_servers)),
      max_age_(std::chrono::milliseconds(metadata_max_age_ms)),
      retry_backoff_(std::chrono::milliseconds(retry_backoff_ms)) {}

sim::MonoTime Metadata::update_due() const {
  return needed_ ? retry_at_ : std::max(retry_at_, last_ok_ + max_age_);
}

p::MetadataRequest Metadata::request() {
  p::MetadataRequest req;
  req.topics.emplace();
  for (const auto& t : topics_) req.topics->emplace_back().name = t;
  req.allow_auto_topic_creation = false;
  in_flight_ = true;
  return req;
}

void Metadata::update(const p::MetadataResponse& m, sim::MonoTime now) {
  in_flight_ = false;
  brokers_.clear();
  for (const auto& b : m.brokers) brokers_[b.node_id.value()] = sim::Address{b.host, static_cast<std::uint16_t>(b.port)};
  bool missing = false;
  for (const auto& t : m.topics) {
    if (!t.name) continue;
    TopicMeta tm;
    tm.error = t.error_code;
    std::int32_t n = 0;
    for (const auto& pt : t.partitions) n = std::max(n, pt.partition_index.value() + 1);
    tm.partitions.assign(static_cast<std::size_t>(n), PartitionMeta{});
    for (const auto& pt : t.partitions) {
      // REPLICA_NOT_AVAILABLE still names the leader (MetadataResponse.partitionMetadata).
      const bool has_leader = pt.error_code == ErrorCode::none || pt.error_code == ErrorCode::replica_not_available;
      auto& pm = tm.partitions[static_cast<std::size_t>(pt.partition_index.value())];
      pm.leader = has_leader ? pt.leader_id.value() : -1;
      pm.leader_epoch = pt.leader_epoch;
      if (!has_leader) missing = true;
    }
    if (tm.error != ErrorCode::none) missing = true;
    meta_[*t.name] = std::move(tm);
  }
  last_ok_ = now;
  needed_ = missing;
  retry_at_ = now + retry_backoff_;
  ++version_;
}

void Metadata::failed_update(sim::MonoTime now) {
  in_flight_ = false;
  retry_at_ = now + retry_backoff_;
}

std::vector<sim::Address> Metadata::nodes() const {
  std::vector<sim::Address> out;
  for (const auto& [id, a] : brokers_) out.push_back(a);
  if (out.empty()) out = bootstrap_;
  return out;
}

std::optional<sim::Address> Metadata::broker(std::int32_t id) const {
  auto it = brokers_.find(id);
  if (it == brokers_.end()) return std::nullopt;
  return it->second;
}

const TopicMeta* Metadata::topic(const std::string& topic) const {
  auto it = meta_.find(topic);
  return it == meta_.end() ? nullptr : &it->second;
}

std::optional<std::int32_t> Metadata::partition_count(const std::string& topic) const {
  const TopicMeta* t = this->topic(topic);
  if (t == nullptr || t->error != ErrorCode::none) return std::nullopt;
  return static_cast<std::int32_t>(t->partitions.size());
}

std::optional<PartitionMeta> Metadata::leader(const std::string& topic, std::int32_t partition) const {
  const TopicMeta* t = this->topic(topic);
  if (t == nullptr || partition < 0 || partition >= static_cast<std::int32_t>(t->partitions.size())) return std::nullopt;
  const PartitionMeta& pm = t->partitions[static_cast<std::size_t>(partition)];
  if (pm.leader < 0) return std::nullopt;
  return pm;
}

std::optional<sim::Address> Metadata::leader_address(const std::string& topic, std::int32_t partition) const {
  const TopicMeta* t = this->topic(topic);
  if (t == nullptr || partition < 0 || partition >= static_cast<std::int32_t>(t->partitions.size())) return std::nullopt;
  return broker(t->partitions[static_cast<std::size_t>(partition)].leader);
}

}  // namespace samsa::client
