#include "system/broker/controller_channel.h"

#include <fmt/format.h>

namespace samsa::broker {

std::string to_string(const TopicPartition& tp) {
  return fmt::format("{}-{}", tp.topic, tp.partition);
}

void RequestBatch::add_leader_and_isr(const std::set<BrokerId>& brokers,
                                      const ControlPartitionState& state) {
  for (auto b : brokers) {
    auto& slot = leader_and_isr_[b][state.tp];
    // A partition that is new for one LeaderAndIsr stays new (Kafka keeps isNew).
    const bool was_new = slot.is_new && slot.tp == state.tp;
    slot = state;
    slot.is_new = state.is_new || was_new;
  }
}

void RequestBatch::add_update_metadata(const std::set<BrokerId>& brokers,
                                       const ControlPartitionState& state) {
  ControlPartitionState s = state;
  s.is_new = false;
  for (auto b : brokers) update_metadata_[b][state.tp] = s;
}

void RequestBatch::add_update_metadata_brokers(const std::set<BrokerId>& brokers) {
  for (auto b : brokers) update_metadata_[b];
}

void RequestBatch::add_stop_replica(BrokerId broker, const StopReplicaPartition& p) {
  auto& slot = stop_replica_[broker][p.tp];
  const bool deleting = slot.delete_partition && slot.tp == p.tp;
  slot = p;
  slot.delete_partition = p.delete_partition || deleting;
}

bool RequestBatch::empty() const {
  return leader_and_isr_.empty() && update_metadata_.empty() && stop_replica_.empty();
}

void RequestBatch::send(ControllerChannel& channel, BrokerId controller_id, ControllerEpoch epoch,
                        const std::map<BrokerId, BrokerInfo>& live, const StopReplicaCallback& on_deleted) {
  const auto stamp = [&](BrokerId to, auto body, StopReplicaCallback cb = {}) {
    channel.send(to, ControlRequest{controller_id, epoch, live.at(to).epoch, std::move(body), std::move(cb)});
  };
  for (auto& [to, states] : leader_and_isr_) {
    if (!live.count(to)) continue;
    LeaderAndIsrCommand c;
    std::set<BrokerId> leaders;
    for (auto& [tp, s] : states) {
      c.partitions.push_back(s);
      leaders.insert(s.leader);
    }
    for (auto id : leaders)
      if (auto it = live.find(id); it != live.end()) c.live_leaders.push_back(it->second);
    stamp(to, std::move(c));
  }
  std::vector<BrokerInfo> brokers;
  for (const auto& [id, info] : live) brokers.push_back(info);
  for (auto& [to, states] : update_metadata_) {
    if (!live.count(to)) continue;
    UpdateMetadataCommand c;
    for (auto& [tp, s] : states) c.partitions.push_back(s);
    c.live_brokers = brokers;
    stamp(to, std::move(c));
  }
  for (auto& [to, parts] : stop_replica_) {
    if (!live.count(to)) continue;
    StopReplicaCommand c;
    bool deletes = false;
    for (auto& [tp, p] : parts) {
      c.partitions.push_back(p);
      deletes |= p.delete_partition;
    }
    stamp(to, std::move(c), deletes ? on_deleted : StopReplicaCallback{});
  }
  leader_and_isr_.clear();
  update_metadata_.clear();
  stop_replica_.clear();
}

}  // namespace samsa::broker
