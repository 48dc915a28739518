#pragma once
// The transaction coordinator's decisions, pure (no fibers, no I/O, time
// passed in), as Kafka 2.8's TransactionCoordinator.scala with the cache and
// append bookkeeping of TransactionStateManager.scala:
//
//   InitProducerId / AddPartitionsToTxn / AddOffsetsToTxn / EndTxn either
//   answer at once (an error, or a retry of something already done) or
//   prepare a transition of the transactional id's TransactionMetadata and
//   hand back a TxnLogAppend: the owner appends it to __transaction_state
//   with acks=all and calls append_done with the append's error, which
//   completes (or drops) the transition and gives the request's answer and,
//   after PrepareCommit / PrepareAbort, the TxnMarkers to write to the
//   partition leaders (TransactionMarkerChannelManager). markers_done gives
//   the append of CompleteCommit / CompleteAbort.
//
// Ownership of the __transaction_state partitions as for groups: a partition
// being loaded answers COORDINATOR_LOAD_IN_PROGRESS, one not led here
// NOT_COORDINATOR; a load takes the last record of each transactional id and
// resends the markers of transactions left in PrepareCommit / PrepareAbort.
//
// KIP-890 part 2 (Kafka 4.0, transaction version 2): an EndTxn v5 bumps the
// producer epoch (see end_txn), and at an exhausted epoch rotates the
// producer id. transactional.id.expiration.ms: see expire_transactional_ids.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "system/broker/txn/transaction_metadata.h"
#include "system/protocol/errors.h"

namespace samsa::broker::txn {

using protocol::ErrorCode;

struct TxnCoordinatorConfig {
  std::int32_t transaction_max_timeout_ms = 900000;  // transaction.max.timeout.ms
  std::int32_t num_partitions = 50;                  // transaction.state.log.num.partitions
  // The finalized transaction.version supports the epoch bump per
  // transaction (KIP-890 part 2, TV_2); false is
  // samsa.legacy.no.epoch.bump.per.transaction (Kafka before 4.0).
  bool epoch_bump_per_transaction = true;
  std::int64_t transactional_id_expiration_ms = 604800000;  // transactional.id.expiration.ms
};

// TransactionResult: the marker's TransactionResult bool (commit = true).
enum class TxnResult { abort, commit };

struct ProducerIdAndEpoch {
  ProducerId producer_id = ProducerId::none();
  ProducerEpoch epoch = ProducerEpoch::none();
};

// Whose append a TxnLogAppend is: it decides the answer after it.
enum class AppendFor {
  init_producer_id,
  add_partitions,
  end_txn,           // EndTxn from the client
  init_epoch_fence,  // InitProducerId found an Ongoing transaction: abort it first
  timeout_abort,     // transaction.timeout.ms passed (abortTimedOutTransactions)
  complete,          // CompleteCommit / CompleteAbort after the markers
  expire,            // the tombstone of an expired transactional id (the transit is Dead)
};

struct TxnLogAppend {
  AppendFor kind = AppendFor::init_producer_id;
  std::string transactional_id;
  std::int32_t partition = 0;  // of __transaction_state
  std::int32_t coordinator_epoch = 0;
  TxnTransit transit;
  TxnResult result = TxnResult::abort;  // for the end_txn kinds
  bool epoch_fence = false;             // endTransaction's isEpochFence
};

// One WriteTxnMarkers job: a marker for each partition, then markers_done.
struct TxnMarkers {
  std::string transactional_id;
  std::int32_t coordinator_epoch = 0;
  TxnResult result = TxnResult::abort;
  ProducerId producer_id = ProducerId::none();
  ProducerEpoch producer_epoch = ProducerEpoch::none();
  TxnPartitions partitions;
  TxnTransit complete;  // appended once every marker is written
};

struct TxnAnswer {
  ErrorCode error = ErrorCode::none;
  ProducerId producer_id = ProducerId::none();  // InitProducerId, EndTxn (v5)
  ProducerEpoch producer_epoch = ProducerEpoch::none();
};

// A request's first step: an answer now, or an append to make.
struct TxnStep {
  std::optional<TxnAnswer> answer;
  std::optional<TxnLogAppend> append;
};

// After an append: the answer to the request that waited for it (none for
// the coordinator's own appends), and what to do next.
struct AppendOutcome {
  std::optional<TxnAnswer> answer;
  std::optional<TxnMarkers> markers;
  std::optional<TxnLogAppend> retry;  // the same append again (COORDINATOR_NOT_AVAILABLE of a completion)
};

// Utils.abs(transactionalId.hashCode) % transaction.state.log.num.partitions.
std::int32_t transaction_partition_for(std::string_view transactional_id, std::int32_t num_partitions);

class TransactionCoordinator {
 public:
  using NewProducerId = std::function<ProducerId()>;
  explicit TransactionCoordinator(TxnCoordinatorConfig config) : config_(config) {}

  // --- ownership of __transaction_state partitions -------------------------------------------
  void begin_load(std::int32_t partition, std::int32_t coordinator_epoch);
  // The records read (the last one per transactional id); a tombstone is nullopt.
  // Returns the markers to resend for PrepareCommit / PrepareAbort.
  std::vector<TxnMarkers> complete_load(std::int32_t partition, std::int32_t coordinator_epoch,
                                        const std::map<std::string, std::optional<TxnTransit>>& loaded,
                                        std::int64_t now_ms);
  void unload(std::int32_t partition);
  bool owns(std::int32_t partition) const;
  std::int32_t partition_for(std::string_view transactional_id) const {
    return transaction_partition_for(transactional_id, config_.num_partitions);
  }

  // --- requests ---------------------------------------------------------------------------------------
  // handleInitProducerId for a non-null transactional id (the idempotent case
  // has no coordinator state).
  TxnStep init_producer_id(const std::string& transactional_id, std::int32_t timeout_ms,
                           std::optional<ProducerIdAndEpoch> expected, const NewProducerId& new_id,
                           std::int64_t now_ms);
  // handleAddPartitionsToTransaction (AddOffsetsToTxn adds the group's
  // __consumer_offsets partition through it).
  TxnStep add_partitions(const std::string& transactional_id, ProducerId id, ProducerEpoch epoch,
                         const TxnPartitions& partitions, std::int64_t now_ms);
  // handleEndTransaction. `client_v2` is an EndTxn of version 5 or more
  // (KafkaApis: clientTransactionVersion TV_2): with the coordinator's
  // epoch_bump_per_transaction the epoch is bumped at PrepareX, the answer
  // carries the producer id and the new epoch, and a retry naming the old
  // epoch is recognised (endTxnEpochBumped). When that bump exhausts the
  // epoch (Short.MaxValue - 1 -> Short.MaxValue) the completion rotates to
  // a new producer id from `new_id` with epoch 0, and the answer carries it
  // (Kafka 4.0's nextProducerId, prepareComplete); a retry naming the old id
  // at Short.MaxValue - 1 is recognised (retryOnOverflow). Without `new_id`
  // such a transaction ends without a bump.
  TxnStep end_txn(const std::string& transactional_id, ProducerId id, ProducerEpoch epoch, TxnResult result,
                  std::int64_t now_ms, bool client_v2 = false, const NewProducerId& new_id = {});
  // KIP-890 part 1 (Kafka 3.6's handleVerifyPartitionsInTransaction, for a
  // partition leader's AddPartitionsToTxn v4 with VerifyOnly): NONE for each
  // partition in the open transaction, INVALID_TXN_STATE for the others; one
  // error for all when the id, producer or epoch does not match
  // (INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED), the transaction is
  // ending (CONCURRENT_TRANSACTIONS) or the id is not coordinated here.
  std::map<TxnPartition, ErrorCode> verify_partitions(const std::string& transactional_id, ProducerId id,
                                                      ProducerEpoch epoch, const TxnPartitions& partitions);

  // --- the owner's callbacks ------------------------------------------------------------------------------
  // `append_error` is the produce error of the append (Kafka's mapping to
  // coordinator errors is applied here).
  AppendOutcome append_done(const TxnLogAppend& a, ErrorCode append_error, std::int64_t now_ms);
  // Every marker of the job is written (or given up for a partition whose
  // producer was fenced there): the completion to append, if still ours.
  std::optional<TxnLogAppend> markers_done(const TxnMarkers& m);
  // abortTimedOutTransactions: Ongoing transactions past their timeout with
  // no pending transition are fenced (epoch + 1) and aborted.
  std::vector<TxnLogAppend> abort_timed_out(std::int64_t now_ms);
  // TransactionStateManager.removeExpiredTransactionalIds: ids in Empty,
  // CompleteCommit or CompleteAbort with no pending transition, untouched
  // for longer than transactional.id.expiration.ms, move to Dead; the owner
  // appends a tombstone (a null value) for each, and append_done drops the id.
  std::vector<TxnLogAppend> expire_transactional_ids(std::int64_t now_ms);

  // --- inspection --------------------------------------------------------------------------------------------
  const TransactionMetadata* metadata(const std::string& transactional_id) const;
  std::vector<std::string> transactional_ids() const;

 private:
  struct Owned {
    bool loading = true;
    std::int32_t coordinator_epoch = 0;
    std::map<std::string, TransactionMetadata> txns;
  };
  // getTransactionState: the id's metadata (nullptr when unknown), or
  // COORDINATOR_LOAD_IN_PROGRESS / NOT_COORDINATOR.
  struct Lookup {
    ErrorCode error = ErrorCode::none;
    Owned* owner = nullptr;
    TransactionMetadata* txn = nullptr;
  };
  Lookup lookup(const std::string& transactional_id);
  TxnStep end_transaction(const std::string& transactional_id, ProducerId id, ProducerEpoch epoch,
                          TxnResult result, AppendFor kind, bool bump_version, std::int64_t now_ms,
                          const NewProducerId& new_id = {});
  TxnLogAppend make_append(AppendFor kind, const std::string& transactional_id, const Owned& o,
                           TxnTransit t) const;
  std::optional<TxnMarkers> prepare_markers(TransactionMetadata& m, std::int32_t coordinator_epoch,
                                            TxnResult result, std::int64_t now_ms);

  TxnCoordinatorConfig config_;
  std::map<std::int32_t, Owned> partitions_;
};

}  // namespace samsa::broker::txn
