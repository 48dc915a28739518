#pragma once
// The partitions a broker hosts and the requests on them (Kafka 2.8's
// ReplicaManager, DelayedProduce, DelayedFetch, MetadataCache):
//
//  - LeaderAndIsr makes replicas leaders or followers (a follower gets a
//    fetcher from the leader's broker), UpdateMetadata fills the metadata
//    cache, StopReplica drops replicas; each fenced by controller and broker
//    epoch (ControlFence).
//  - Produce appends on the leader; acks=all waits (the produce purgatory)
//    until the high watermark covers the batch, the request's timeout
//    (REQUEST_TIMED_OUT) or the loss of leadership (NOT_LEADER_OR_FOLLOWER).
//  - Fetch reads (consumers up to the high watermark, followers up to the log
//    end, KIP-74 byte limits) and long-polls (the fetch purgatory) until
//    fetch.min.bytes are there or max wait passes. A follower's fetch moves
//    its state at the leader, may expand the ISR and advance the HW.
//  - ISR shrink (a periodic check, replica.lag.time.max.ms) and expansion are
//    written to the coordinator with compare-and-set on the partition
//    state's zkVersion, then announced under /isr_change_notification in
//    batches (ZkIsrManager).
//
// A connection's requests are handled one at a time by its fiber (as
// Kafka's socket server mutes a channel while a request is in flight), so the
// purgatories are fibers parked on an event that watches the partitions they
// wait on (DelayedOperationPurgatory keys its watchers by partition), set
// when one of those changes; control requests set every parked request's.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sim/runtime/runtime.h"
#include "system/broker/admin.h"
#include "system/broker/config.h"
#include "system/broker/control_fence.h"
#include "system/broker/controller_channel.h"
#include "system/broker/partition.h"
#include "system/coord/client.h"
#include "system/protocol/typed_messages.h"

namespace samsa::broker {

class FetcherManager;

// The cluster as the last UpdateMetadata described it (MetadataCache).
class MetadataCache {
 public:
  void update(const UpdateMetadataCommand& u, BrokerId controller);
  const ControlPartitionState* partition(const TopicPartition& tp) const;
  std::optional<BrokerEndpoint> endpoint(BrokerId b) const;
  const std::map<BrokerId, BrokerInfo>& brokers() const { return brokers_; }
  const std::map<TopicPartition, ControlPartitionState>& partitions() const { return partitions_; }
  BrokerId controller() const { return controller_; }
  bool has_topic(const std::string& topic) const;
  void remember_endpoint(const BrokerInfo& b) { endpoints_[b.id] = b.endpoint; }

 private:
  std::map<TopicPartition, ControlPartitionState> partitions_;
  std::map<BrokerId, BrokerInfo> brokers_;
  std::map<BrokerId, BrokerEndpoint> endpoints_;  // also leaders named by LeaderAndIsr
  BrokerId controller_ = BrokerId::none();
};

struct ReplicaManagerStats {
  std::uint64_t isr_shrinks = 0;
  std::uint64_t isr_change_notifications = 0;  // /isr_change_notification nodes written
  std::uint64_t isr_expansions = 0;
  std::uint64_t isr_write_conflicts = 0;
  std::uint64_t produce_timeouts = 0;
  std::uint64_t truncations = 0;
};

class ReplicaManager : public std::enable_shared_from_this<ReplicaManager> {
  struct HostedTopic;

 public:
  ReplicaManager(sim::Runtime& rt, const BrokerConfig& config);
  ~ReplicaManager();
  ReplicaManager(const ReplicaManager&) = delete;
  ReplicaManager& operator=(const ReplicaManager&) = delete;

  BrokerId self() const { return self_; }
  const BrokerConfig& config() const { return config_; }
  sim::Runtime& runtime() const { return rt_; }
  ControlFence& fence() { return fence_; }
  MetadataCache& metadata() { return metadata_; }
  const ReplicaManagerStats& stats() const { return stats_; }
  // The coordinator session in which this broker is registered (nullptr
  // between sessions): ISR writes and topic creation go through it.
  void set_coordinator(coord::Client* c, BrokerEpoch epoch);
  coord::Client* coordinator() const { return coordinator_; }
  // The live leader of partition `p` of an internal topic (__consumer_offsets,
  // __transaction_state): Kafka's FindCoordinator path, which creates the
  // topic on first use (KafkaApis.getOrCreateInternalTopic) and answers
  // COORDINATOR_NOT_AVAILABLE until the partition has a leader that is alive.
  // `make_topic` describes the topic; it is called only to create it.
  std::pair<ErrorCode, protocol::BrokerId> internal_partition_leader(const std::string& topic,
                                                                      protocol::PartitionId p,
                                                                      const std::function<NewTopic()>& make_topic,
                                                                      sim::Random& rng);

  // --- control requests (already decoded from their frames) ----------------------------
  struct PartitionError {
    TopicPartition tp;
    ErrorCode error = ErrorCode::none;
  };
  struct ControlResult {
    ErrorCode error = ErrorCode::none;
    std::vector<PartitionError> partitions;
  };
  ControlResult leader_and_isr(const ControlRequest& r);
  ControlResult update_metadata(const ControlRequest& r);
  ControlResult stop_replica(const ControlRequest& r);

  // --- client and replica requests --------------------------------------------------------------
  // nullopt for acks=0: Kafka sends no response.
  std::optional<protocol::ProduceResponse> produce(const protocol::ProduceRequest& req,
                                                   std::int16_t version);
  protocol::FetchResponse fetch(const protocol::FetchRequest& req, std::int16_t version);
  // The replica a Fetch comes from (ReplicaState from v15 on); -1 for a consumer.
  static protocol::BrokerId fetching_replica(const protocol::FetchRequest& req, std::int16_t version);
  protocol::ListOffsetsResponse list_offsets(const protocol::ListOffsetsRequest& req,
                                             std::int16_t version);
  protocol::OffsetForLeaderEpochResponse offsets_for_leader_epoch(
      const protocol::OffsetForLeaderEpochRequest& req, std::int16_t version);
  // One WriteTxnMarkers marker on a partition this broker leads, appended
  // with acks=all and answered once replicated (KafkaApis.handleWriteTxnMarkersRequest).
  ErrorCode append_txn_marker(const TopicPartition& tp, protocol::ProducerId id, protocol::ProducerEpoch epoch,
                              protocol::ControlRecord marker, sim::Duration timeout);
  // KIP-890 part 1: asks the transaction coordinator whether a partition is
  // in the producer's open transaction (set by the broker's TxnService).
  using TxnVerifier = std::function<ErrorCode(const std::string& transactional_id, protocol::ProducerId,
                                              protocol::ProducerEpoch, const TopicPartition&)>;
  void set_txn_verifier(TxnVerifier v) { txn_verifier_ = std::move(v); }
  // A coordinator's own batch (AppendOrigin.Coordinator: a transactional
  // offset commit), acks=all; the produce error.
  ErrorCode append_as_coordinator(const TopicPartition& tp, Bytes batch, sim::Duration timeout);

  // --- for the fetchers and the background fibers --------------------------------------------------
  std::shared_ptr<Partition> partition(const TopicPartition& tp) const { return partition(tp.topic, tp.partition); }
  // The same without a TopicPartition: the hot paths (Fetch, the replica
  // fetcher) look partitions up by a request's topic name, and building a
  // TopicPartition copies it (an allocation for "__consumer_offsets").
  std::shared_ptr<Partition> partition(std::string_view topic, protocol::PartitionId partition) const;
  // One topic's hosted partitions, found once for all of a request's
  // partitions of it (Fetch and the replica fetcher name a topic once for
  // its partitions, and a string compare per partition was a tenth of a
  // fetch pass). Found again after a host() or unhost(), which may have
  // moved the topic's entry.
  class TopicPartitions {
   public:
    TopicPartitions(const ReplicaManager& rm, std::string_view topic) : rm_(rm), topic_(topic) {}
    // nullptr when not hosted; valid until the caller parks.
    Partition* find(protocol::PartitionId partition);
    // The same, owned: for use across parks.
    std::shared_ptr<Partition> get(protocol::PartitionId partition);

   private:
    const std::shared_ptr<Partition>* slot(protocol::PartitionId partition);
    const ReplicaManager& rm_;
    std::string_view topic_;
    const HostedTopic* hosted_ = nullptr;
    std::uint64_t hosting_ = 0;
    bool found_ = false;
  };
  std::vector<TopicPartition> hosted() const;
  // Wakes every parked request (leadership, metadata or the ISR changed).
  void notify_changed();
  // Wakes the requests parked on `p` (its log end or high watermark moved).
  void notify_partition(Partition& p) { p.notify_watchers(); }
  // Fibers: the ISR expiration check, HW checkpoints and the flush schedule.
  void run_isr_expiration();
  void run_checkpoints();
  // ZkIsrManager's "isr-change-propagation": ISR changes written since the
  // last notification go to the controller in one node, once no change came
  // for 5 s or 60 s after the last one (checked every 2.5 s).
  void run_isr_change_propagation();
  FetcherManager& fetchers() { return *fetchers_; }

 private:
  // The error for a request to a partition this broker does not lead:
  // NOT_LEADER_OR_FOLLOWER when the partition exists (hosted here or in the
  // metadata), else UNKNOWN_TOPIC_OR_PARTITION (as Kafka's ReplicaManager).
  protocol::ErrorCode not_leader_error(const TopicPartition& tp, bool hosted) const;
  void delete_partition_dir(const std::string& dir);  // StopReplica with delete
  TopicConfig topic_config(const std::string& topic);  // parks: reads /config/topics/<topic>
  std::shared_ptr<Partition> get_or_open(const TopicPartition& tp, ErrorCode& error);
  ErrorCode become_leader_or_follower(const ControlPartitionState& s,
                                      const std::map<BrokerId, BrokerEndpoint>& leaders);
  // Writes the ISR with compare-and-set (Partition.updateIsr in Kafka 2.x).
  bool write_isr(Partition& p, std::vector<BrokerId> isr);
  // Whether the high watermark moved.
  bool maybe_expand_isr(Partition& p, BrokerId follower);
  void maybe_shrink_isr(Partition& p);
  // KIP-890 part 1 before a transactional produce opens a transaction on
  // `p`: the coordinator's verdict, Kafka 3.6's mapping (the coordinator's
  // retriable errors as NOT_ENOUGH_REPLICAS); `guard` is the partition's
  // marker count for the producer when verification began.
  ErrorCode verify_transactional(const protocol::ProduceRequest& req, const TopicPartition& tp, Partition& p,
                                 ByteView records, std::optional<std::uint64_t>& guard);
  ErrorCode wait_for_acks(const std::shared_ptr<Partition>& p, LeaderEpoch epoch, Offset last_offset,
                          sim::MonoTime deadline);
  ErrorCode append_and_wait(const TopicPartition& tp, sim::Duration timeout,
                            const std::function<LeaderAppend(Partition&)>& append);
  std::int64_t now_ms() { return sim::to_ms(rt_.now().since_epoch); }

  sim::Runtime& rt_;
  BrokerConfig config_;
  BrokerId self_;
  ControlFence fence_;
  MetadataCache metadata_;
  coord::Client* coordinator_ = nullptr;
  std::map<TopicPartition, std::shared_ptr<Partition>> partitions_;
  // The same partitions by topic, then index: every Produce and Fetch looks
  // its partitions up, and comparing whole TopicPartitions (topic strings)
  // all the way down partitions_ was a tenth of a Fetch's cost. A broker
  // hosts a handful of topics, so a flat list compared by length first
  // (string_view ==) and a vector indexed by partition beat two tree walks
  // of string compares. Only looked up, never iterated: its order reaches
  // nothing.
  struct HostedTopic {
    std::string name;
    std::vector<std::shared_ptr<Partition>> by_index;  // nullptr: not hosted
    std::size_t hosted = 0;                            // non-null entries
  };
  std::vector<HostedTopic> by_topic_;
  const HostedTopic* hosted_topic(std::string_view topic) const;
  HostedTopic* hosted_topic(std::string_view topic);
  void host(const TopicPartition& tp, std::shared_ptr<Partition> p);
  void unhost(const TopicPartition& tp);
  std::uint64_t hosting_changes_ = 0;  // host() and unhost() calls: a parked Fetch's lookups are stale
  class Watch;
  struct FetchPass;
  struct FetchSlot;
  void fetch_pass(FetchPass& pass, protocol::FetchResponse& resp, std::vector<FetchSlot>& slots, Watch& watch);
  void fetch_from(FetchPass& pass, const protocol::FetchRequest::FetchPartition& fp, Partition& p,
                  protocol::FetchResponse::PartitionData& pd);
  static protocol::FetchResponse fetch_skeleton(const protocol::FetchRequest& req);
  static void refill(protocol::FetchResponse::PartitionData& pd);
  Partition* fetch_leader(FetchSlot& slot, TopicPartitions& topic, protocol::PartitionId index, Watch& watch);
  std::vector<sim::Event*> parked_;  // every parked request's event, in the order they parked
  std::unique_ptr<FetcherManager> fetchers_;
  ReplicaManagerStats stats_;
  std::set<TopicPartition> isr_changes_;  // written, not yet announced
  std::int64_t last_isr_change_ms_ = 0;
  std::int64_t last_isr_propagation_ms_ = 0;
  TxnVerifier txn_verifier_;
};

}  // namespace samsa::broker
