#pragma once
// The transaction coordinator as a broker actor (Kafka 2.8's
// TransactionCoordinator wired by KafkaApis, with TransactionStateManager's
// storage and TransactionMarkerChannelManager's marker sending). It owns the
// pure txn::TransactionCoordinator (system/broker/txn) and:
//
//  - answers FindCoordinator with key type 1 by the leader of the id's
//    __transaction_state partition (Utils.abs(hashCode) %
//    transaction.state.log.num.partitions), creating the topic on first use
//    (replication transaction.state.log.replication.factor, min.insync.replicas
//    transaction.state.log.min.isr, cleanup.policy=compact);
//  - serves InitProducerId with a transactional.id (the idempotent case stays
//    with handlers_admin), AddPartitionsToTxn, AddOffsetsToTxn (the group's
//    __consumer_offsets partition) and EndTxn, appending each transition to
//    __transaction_state with acks=all before it answers;
//  - after PrepareCommit / PrepareAbort sends WriteTxnMarkers to each
//    partition's leader (retrying on NOT_LEADER_OR_FOLLOWER and the like,
//    giving up on INVALID_PRODUCER_EPOCH), then appends CompleteCommit /
//    CompleteAbort;
//  - aborts transactions past transaction.timeout.ms every
//    transaction.abort.timed.out.transaction.cleanup.interval.ms;
//  - loads a __transaction_state partition when this broker becomes its
//    leader (COORDINATOR_LOAD_IN_PROGRESS meanwhile), resending the markers of
//    transactions left in PrepareCommit / PrepareAbort; unloads it when it
//    stops leading (NOT_COORDINATOR).
//
// The partition leaders' side, WriteTxnMarkers, is ReplicaManager::append_txn_marker.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "sim/runtime/runtime.h"
#include "system/broker/config.h"
#include "system/broker/handlers_admin.h"
#include "system/broker/replica_manager.h"
#include "system/broker/txn/transaction_coordinator.h"
#include "system/protocol/typed_api.h"

namespace samsa::broker {

class Server;

struct TxnServiceStats {
  std::uint64_t loads = 0;
  std::uint64_t unloads = 0;
  std::uint64_t appends = 0;
  std::uint64_t append_failures = 0;
  std::uint64_t markers_sent = 0;       // WriteTxnMarkers partitions written
  std::uint64_t marker_retries = 0;
  std::uint64_t completed = 0;          // CompleteCommit / CompleteAbort written
  std::uint64_t timed_out = 0;          // transactions aborted by transaction.timeout.ms
  std::uint64_t expired = 0;            // transactional ids expired (transactional.id.expiration.ms)
};

class TxnService : public std::enable_shared_from_this<TxnService> {
 public:
  TxnService(sim::Runtime& rt, const BrokerConfig& config, std::shared_ptr<ReplicaManager> rm,
             std::shared_ptr<AdminContext> admin);
  TxnService(const TxnService&) = delete;
  TxnService& operator=(const TxnService&) = delete;

  // The periodic abort of timed-out transactions.
  void run_timers();
  // Loads the __transaction_state partitions this broker now leads and
  // unloads the ones it lost; after every LeaderAndIsr and StopReplica.
  void on_leadership_change();

  protocol::FindCoordinatorResponse find_coordinator(const protocol::RequestHeader& h,
                                                     const protocol::FindCoordinatorRequest& r);
  protocol::InitProducerIdResponse init_producer_id(const protocol::RequestHeader& h,
                                                    const protocol::InitProducerIdRequest& r);
  protocol::AddPartitionsToTxnResponse add_partitions_to_txn(const protocol::RequestHeader& h,
                                                             const protocol::AddPartitionsToTxnRequest& r);
  protocol::AddOffsetsToTxnResponse add_offsets_to_txn(const protocol::RequestHeader& h,
                                                       const protocol::AddOffsetsToTxnRequest& r);
  protocol::EndTxnResponse end_txn(const protocol::RequestHeader& h, const protocol::EndTxnRequest& r);

  // Called after a marker is written to a __consumer_offsets partition of
  // this broker (KafkaApis.handleWriteTxnMarkersRequest's
  // scheduleHandleTxnCompletion): (partition, producer id, commit).
  using OffsetsMarkerListener = std::function<void(std::int32_t, protocol::ProducerId, bool)>;
  void set_offsets_marker_listener(OffsetsMarkerListener l) { offsets_marker_ = std::move(l); }
  // One marker on a partition this broker leads, then the listener.
  ErrorCode write_marker_here(const TopicPartition& tp, protocol::ProducerId id, protocol::ProducerEpoch epoch,
                              protocol::ControlRecord marker);

  // KIP-890 part 1 for a partition leader of this broker: asks the
  // transactional id's coordinator (here, or AddPartitionsToTxn v4 with
  // VerifyOnly) whether `tp` is in the producer's open transaction.
  ErrorCode verify_partition(const std::string& transactional_id, protocol::ProducerId id,
                             protocol::ProducerEpoch epoch, const TopicPartition& tp);

  // KIP-890 part 1 for a TxnOffsetCommit (Kafka 3.6's
  // GroupCoordinator.handleTxnCommitOffsets verifying the offsets
  // partition): unless the producer already has a transaction open on the
  // group's __consumer_offsets partition here, the coordinator must say the
  // partition is in its ongoing transaction; else a delayed TxnOffsetCommit
  // of an ended transaction would join the producer's next one.
  // NONE also when samsa.legacy.no.implicit.add.partitions is set.
  ErrorCode verify_offset_commit(const protocol::TxnOffsetCommitRequest& r);

  const txn::TransactionCoordinator& coordinator() const { return coordinator_; }
  const TxnServiceStats& stats() const { return stats_; }

 private:
  struct TxnPartitionState {
    bool leading = false;
    std::uint64_t generation = 0;  // bumped on every change: a load of an older one is dropped
  };

  std::int64_t now_ms() { return sim::to_ms(rt_.now().since_epoch); }
  // A request's step to its answer: the append (if any) and what follows it.
  txn::TxnAnswer finish(txn::TxnStep step);
  // Appends the transition, applies the outcome (markers go out on a fiber
  // of their own); the answer for the waiting request.
  std::optional<txn::TxnAnswer> append_and_apply(txn::TxnLogAppend a);
  ErrorCode append(const txn::TxnLogAppend& a);
  void send_markers(txn::TxnMarkers m);
  // The partitions of `batch` whose marker was written, or whose producer
  // was fenced there (no need to retry); the rest stays in `pending`.
  bool write_markers(protocol::BrokerId leader, const txn::TxnMarkers& m, txn::TxnPartitions& pending);
  void load_partition(std::int32_t partition, std::uint64_t generation, std::int32_t coordinator_epoch);
  std::pair<ErrorCode, protocol::BrokerId> coordinator_for(std::string_view transactional_id);
  std::optional<protocol::ProducerId> new_producer_id();

  sim::Runtime& rt_;
  BrokerConfig config_;
  std::shared_ptr<ReplicaManager> rm_;
  std::shared_ptr<AdminContext> admin_;
  txn::TransactionCoordinator coordinator_;
  std::map<std::int32_t, TxnPartitionState> partitions_;
  std::int32_t correlation_ = 0;
  OffsetsMarkerListener offsets_marker_;
  TxnServiceStats stats_;
};

namespace group {
class GroupService;
}

// Adds AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, WriteTxnMarkers and
// TxnOffsetCommit (to the group coordinator), and
// wraps FindCoordinator (key type 1 here, the rest to the group
// coordinator), InitProducerId (a transactional.id here, the rest to the
// admin handler) and LeaderAndIsr / StopReplica (then on_leadership_change).
// Also sets the replica manager's KIP-890 verifier.
void add_txn_handlers(Server& server, std::shared_ptr<TxnService> txns, std::shared_ptr<group::GroupService> groups,
                      std::shared_ptr<ReplicaManager> rm);

}  // namespace samsa::broker
