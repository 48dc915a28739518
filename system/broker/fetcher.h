#pragma once
// Follower replication (Kafka 2.8's ReplicaFetcherManager, ReplicaFetcherThread,
// AbstractFetcherThread): one fetcher per source broker, for every partition
// this broker follows there. A partition added to a fetcher first truncates
// its log by leader epoch (OffsetsForLeaderEpoch, KIP-101, with KIP-279's
// rounds), never to its high watermark; then it fetches from its log end,
// naming the leader epoch it follows (KIP-320), appends what it gets and
// takes the leader's high watermark. A fetch beyond the leader's log end
// (OFFSET_OUT_OF_RANGE) cuts to that end, below the high watermark if need be,
// as AbstractFetcherThread.fetchOffsetAndTruncate does.
// Fetches go through an incremental fetch session with the source broker
// (KIP-227, fetch_session.h): after the first, a request names only the
// partitions whose fetch position moved, and an answer only those with news.
//
// Legacy switches: samsa.legacy.offsets.for.leader.epoch.v0 sends
// OffsetsForLeaderEpoch v0 (answers without an epoch); samsa.legacy.no.fetch.
// leader.epoch sends Fetch v8 (no current leader epoch).
//
// Each fetcher is a fiber in a task scope of its own. A fetcher whose last
// partition went away parks idle (holding no partition lock, in no log
// call); the manager then stops its scope, which cancels and joins it. A
// fetcher busy in a round is never cancelled: a log operation cut off
// midway would leave the in-memory log inconsistent on a live node.
#include <map>
#include <memory>
#include <optional>

#include "sim/runtime/runtime.h"
#include "system/broker/controller_channel.h"
#include "system/broker/fetch_session.h"
#include "system/protocol/ids.h"

namespace samsa::broker {

class ReplicaManager;

struct FetchPartitionState {
  LeaderEpoch leader_epoch;  // the epoch in which this broker follows
  bool truncating = true;    // OffsetsForLeaderEpoch first
  bool out_of_range = false; // ask the leader's log end before fetching again
  sim::MonoTime retry_at{};  // backed off after an error until then
};

class ReplicaFetcher {
 public:
  ReplicaFetcher(sim::Runtime& rt, ReplicaManager& rm, BrokerId source);
  void add(const TopicPartition& tp, LeaderEpoch epoch);
  void remove(const TopicPartition& tp);
  bool empty() const { return partitions_.empty(); }
  // Parked with no partitions: safe to cancel.
  bool idle() const { return idle_; }
  // The fiber's body; returns never (the node's crash unwinds it).
  void run();

 private:
  bool ensure_connected();
  void drop_connection();
  // The partition's state if it still follows in the epoch it was asked in.
  FetchPartitionState* unchanged(const TopicPartition& tp, const std::map<TopicPartition, LeaderEpoch>& asked);
  void truncate_round();
  void out_of_range_round();
  void fetch_round();
  template <class Resp, class Req>
  std::optional<Resp> call(const Req& req, std::int16_t version, sim::Duration timeout);

  sim::Runtime& rt_;
  ReplicaManager& rm_;
  BrokerId source_;
  std::map<TopicPartition, FetchPartitionState> partitions_;
  sim::Event work_;
  std::unique_ptr<sim::Connection> conn_;
  FetchSessionHandler session_;  // KIP-227, with the source broker
  std::int32_t correlation_ = 0;
  bool idle_ = false;
};

class FetcherManager {
 public:
  FetcherManager(sim::Runtime& rt, ReplicaManager& rm) : rt_(rt), rm_(rm) {}
  void add(const TopicPartition& tp, BrokerId leader, LeaderEpoch epoch);
  void remove(const TopicPartition& tp);
  std::size_t fetchers() const { return fetchers_.size(); }

 private:
  struct Entry {
    std::unique_ptr<ReplicaFetcher> fetcher;
    std::unique_ptr<sim::TaskScope> scope;
  };
  // Stops the scopes of fetchers that are empty and idle.
  void reap();

  sim::Runtime& rt_;
  ReplicaManager& rm_;
  std::map<BrokerId, Entry> fetchers_;
};

}  // namespace samsa::broker
