#pragma once
// Follower replication (Kafka 2.8's ReplicaFetcherManager, ReplicaFetcherThread,
// AbstractFetcherThread): one fetcher per source broker, for every partition
// this broker follows there. A partition added to a fetcher first truncates
// its log by leader epoch (OffsetsForLeaderEpoch, KIP-101, with KIP-279's
// rounds), never to its high watermark; then it fetches from its log end,
// naming the leader epoch it follows (KIP-320), appends what it gets and
// takes the leader's high watermark.
//
// Legacy switches: samsa.legacy.offsets.for.leader.epoch.v0 sends
// OffsetsForLeaderEpoch v0 (answers without an epoch); samsa.legacy.no.fetch.
// leader.epoch sends Fetch v8 (no current leader epoch).
//
// Fetchers are fibers of the broker's node that live as long as it: one per
// source broker, idle while it has no partitions. (Task scopes, when the
// runtime has them, will let a fetcher end with its last partition.)
#include <map>
#include <memory>
#include <optional>

#include "sim/runtime/runtime.h"
#include "system/broker/controller_channel.h"
#include "system/protocol/ids.h"

namespace samsa::broker {

class ReplicaManager;

struct FetchPartitionState {
  LeaderEpoch leader_epoch;  // the epoch in which this broker follows
  bool truncating = true;    // OffsetsForLeaderEpoch first
  sim::MonoTime retry_at{};  // backed off after an error until then
};

class ReplicaFetcher {
 public:
  ReplicaFetcher(sim::Runtime& rt, ReplicaManager& rm, BrokerId source);
  void add(const TopicPartition& tp, LeaderEpoch epoch);
  void remove(const TopicPartition& tp);
  bool empty() const { return partitions_.empty(); }
  // The fiber's body; returns never (the node's crash unwinds it).
  void run();

 private:
  bool ensure_connected();
  void drop_connection();
  void truncate_round();
  void fetch_round();
  template <class Resp, class Req>
  std::optional<Resp> call(const Req& req, std::int16_t version, sim::Duration timeout);

  sim::Runtime& rt_;
  ReplicaManager& rm_;
  BrokerId source_;
  std::map<TopicPartition, FetchPartitionState> partitions_;
  sim::Event work_;
  std::unique_ptr<sim::Connection> conn_;
  std::int32_t correlation_ = 0;
};

class FetcherManager {
 public:
  FetcherManager(sim::Runtime& rt, ReplicaManager& rm) : rt_(rt), rm_(rm) {}
  void add(const TopicPartition& tp, BrokerId leader, LeaderEpoch epoch);
  void remove(const TopicPartition& tp);
  std::size_t fetchers() const { return fetchers_.size(); }

 private:
  sim::Runtime& rt_;
  ReplicaManager& rm_;
  std::map<BrokerId, std::unique_ptr<ReplicaFetcher>> fetchers_;
};

}  // namespace samsa::broker
