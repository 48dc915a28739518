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
#include <string>
#include <vector>

#include "sim/runtime/runtime.h"
#include "system/broker/controller_channel.h"
#include "system/broker/fetch_session.h"
#include "system/protocol/ids.h"
#include "system/protocol/api.h"
#include "system/protocol/typed_messages.h"

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
  FetchPartitionState* find(std::string_view topic, protocol::PartitionId partition);
  void truncate_round();
  void out_of_range_round();
  // fetch_: every partition that may fetch now, at its log end; false when none.
  bool build_fetch();
  void fetch_round();
  template <class Resp, class Req>
  std::optional<Resp> call(const Req& req, std::int16_t version, sim::Duration timeout);

  sim::Runtime& rt_;
  ReplicaManager& rm_;
  BrokerId source_;
  // The followed partitions (AbstractFetcherThread.partitionStates) in
  // TopicPartition order, so that a request names each topic once with its
  // partitions ascending. A sorted vector walks and searches cheaper than
  // the map it replaced, which every round walked three times; each state
  // is a heap node of its own, so that a pointer to it held across a park
  // stays valid while others come and go, as a map node's did.
  struct Followed {
    TopicPartition tp;
    FetchPartitionState st;
  };
  std::vector<std::unique_ptr<Followed>> partitions_;
  std::uint64_t changes_ = 0;  // add() and remove() calls: a Followed* kept from before may be gone
  // The last round's Fetch, rewritten in place by the next (the same
  // partitions round after round, so its topic names and partition lists
  // are reused instead of built anew), and in request order each asked
  // partition's leader epoch and state (valid while changes_ is
  // fetch_changes_: the answer finds its partitions without a search).
  protocol::FetchRequest fetch_;
  protocol::FetchRequest wire_;  // what of fetch_ the session sends
  std::vector<LeaderEpoch> fetch_epochs_;
  std::vector<Followed*> fetch_followed_;
  std::uint64_t fetch_changes_ = 0;
  protocol::RequestHeader header_;  // the client id, built once
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
