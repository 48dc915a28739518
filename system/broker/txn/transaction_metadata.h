#pragma once
// One transactional id's state at its transaction coordinator, as Kafka 2.8's
// TransactionMetadata.scala keeps it: the states and their byte values in
// __transaction_state, the legal previous states of each, the pending state
// that blocks a second transition while one is being written to the log,
// and the prepare / complete pairs (a transition is prepared, the TxnTransit
// is appended to __transaction_state, and only once the append is committed
// does completeTransitionTo apply it).
//
// Calling a prepare_* whose transition is illegal is a bug of the caller (the
// coordinator checks states first), as Kafka's IllegalStateException is:
// SAMSA_ASSERT.
#include <compare>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "system/protocol/errors.h"
#include "system/protocol/ids.h"

namespace samsa::broker::txn {

using protocol::ProducerEpoch;
using protocol::ProducerId;

// TransactionState, with the byte stored in TransactionLogValue.TransactionStatus.
enum class TxnState : std::int8_t {
  empty = 0,
  ongoing = 1,
  prepare_commit = 2,
  prepare_abort = 3,
  complete_commit = 4,
  complete_abort = 5,
  dead = 6,
  prepare_epoch_fence = 7,
};
inline constexpr TxnState k_all_txn_states[] = {
    TxnState::empty,          TxnState::ongoing,        TxnState::prepare_commit, TxnState::prepare_abort,
    TxnState::complete_commit, TxnState::complete_abort, TxnState::dead,           TxnState::prepare_epoch_fence};

// Kafka's names ("Empty", "Ongoing", "PrepareCommit" ...).
std::string_view to_string(TxnState s);
// TransactionMetadata.byteToState; nullopt for an unknown byte.
std::optional<TxnState> txn_state_from_byte(std::int8_t b);
// TransactionMetadata.validPreviousStates(to).contains(from).
bool is_valid_transition(TxnState from, TxnState to);
// TransactionState.isExpirationAllowed (transactional.id.expiration.ms).
bool is_expiration_allowed(TxnState s);
// TransactionMetadata.isEpochExhausted: epoch >= Short.MaxValue - 1.
bool is_epoch_exhausted(ProducerEpoch e);

struct TxnPartition {
  std::string topic;
  protocol::PartitionId partition{0};
  friend auto operator<=>(const TxnPartition&, const TxnPartition&) = default;
  friend bool operator==(const TxnPartition&, const TxnPartition&) = default;
};
using TxnPartitions = std::set<TxnPartition>;

// TxnTransitMetadata: the target of a prepared transition, as appended to
// the log (TransactionLog.valueToBytes).
struct TxnTransit {
  ProducerId producer_id = ProducerId::none();
  ProducerId last_producer_id = ProducerId::none();
  ProducerEpoch producer_epoch = ProducerEpoch::none();
  ProducerEpoch last_producer_epoch = ProducerEpoch::none();
  std::int32_t txn_timeout_ms = 0;
  TxnState state = TxnState::empty;
  TxnPartitions partitions;
  std::int64_t txn_start_timestamp_ms = -1;
  std::int64_t txn_last_update_timestamp_ms = -1;
  // clientTransactionVersion.supportsEpochBump (KIP-890 part 2, transaction
  // version 2): set on the PrepareX / CompleteX of a transaction whose EndTxn
  // bumped the epoch. In the log value v1 only: loading a v0 record takes
  // the coordinator's level instead (TransactionCoordinator::complete_load).
  bool epoch_bump = false;
  // TxnTransitMetadata.nextProducerId (Kafka 4.0): on the PrepareX of an
  // EndTxn that bumped the epoch to Short.MaxValue, the id the CompleteX
  // moves to with epoch 0 (the producer id rotation at an exhausted epoch).
  // In the log value v1 only.
  ProducerId next_producer_id = ProducerId::none();
  // Read from a value v1, which stores ClientTransactionVersion (and the
  // previous and next producer ids): a load believes it over the
  // coordinator's own level.
  bool client_version_stored = false;
  friend bool operator==(const TxnTransit&, const TxnTransit&) = default;
};

class TransactionMetadata {
 public:
  TransactionMetadata(std::string transactional_id, ProducerId producer_id, ProducerEpoch producer_epoch,
                      std::int32_t txn_timeout_ms, TxnState state, std::int64_t now_ms);
  // As loaded from the log (TransactionLog.readTxnRecordValue: no last
  // producer id or epoch, they are not stored in value v0).
  static TransactionMetadata from_transit(std::string transactional_id, const TxnTransit& t);

  const std::string& transactional_id() const { return transactional_id_; }
  ProducerId producer_id() const { return producer_id_; }
  ProducerId last_producer_id() const { return last_producer_id_; }
  ProducerEpoch producer_epoch() const { return producer_epoch_; }
  ProducerEpoch last_producer_epoch() const { return last_producer_epoch_; }
  std::int32_t txn_timeout_ms() const { return txn_timeout_ms_; }
  TxnState state() const { return state_; }
  std::optional<TxnState> pending_state() const { return pending_state_; }
  bool pending_transition_in_progress() const { return pending_state_.has_value(); }
  const TxnPartitions& partitions() const { return partitions_; }
  std::int64_t txn_start_timestamp_ms() const { return txn_start_timestamp_ms_; }
  std::int64_t txn_last_update_timestamp_ms() const { return txn_last_update_timestamp_ms_; }
  bool has_failed_epoch_fence() const { return has_failed_epoch_fence_; }
  bool is_producer_epoch_exhausted() const { return is_epoch_exhausted(producer_epoch_); }
  // The clientTransactionVersion of the last transition supports the epoch
  // bump per transaction (KIP-890 part 2).
  bool epoch_bump() const { return epoch_bump_; }
  // The id a PrepareX at an exhausted epoch rotates to (none otherwise).
  ProducerId next_producer_id() const { return next_producer_id_; }
  // The state as a transit (prepareNoTransit), for snapshots and tests.
  TxnTransit current() const;

  // --- prepare: sets the pending state, returns what to append ------------------------
  // PrepareEpochFence with epoch + 1 (the same epoch again after a fence
  // whose append failed).
  TxnTransit prepare_fence_producer_epoch();
  // Empty with the next epoch (InitProducerId). `expected` is KIP-360's
  // producer epoch of the request: PRODUCER_FENCED when it is neither the
  // current nor the last epoch; a retry of the last successful call gets the
  // current epoch back without another bump.
  struct EpochBump {
    protocol::ErrorCode error = protocol::ErrorCode::none;
    TxnTransit transit;
  };
  EpochBump prepare_increment_producer_epoch(std::int32_t new_timeout_ms, std::optional<ProducerEpoch> expected,
                                             std::int64_t now_ms);
  // Empty with a new producer id and epoch 0 (the epoch is exhausted).
  TxnTransit prepare_producer_id_rotation(ProducerId new_id, std::int32_t new_timeout_ms, std::int64_t now_ms,
                                          bool record_last_epoch);
  TxnTransit prepare_add_partitions(const TxnPartitions& added, std::int64_t now_ms);
  // PrepareCommit / PrepareAbort. `bump` (KIP-890 part 2, Kafka 4.0's
  // prepareAbortOrCommit with transaction version 2): the transit carries
  // epoch + 1 and the current epoch as the last one, so the markers and the
  // next transaction use the new epoch and a late write of this one is fenced.
  // `next_producer_id`: the bump reaches Short.MaxValue (the epoch was
  // exhausted), so the completion moves to this id with epoch 0
  // (prepareAbortOrCommit's nextProducerId, prepareComplete's rotation).
  TxnTransit prepare_abort_or_commit(TxnState next, std::int64_t now_ms, bool bump = false,
                                     ProducerId next_producer_id = ProducerId::none());
  TxnTransit prepare_complete(std::int64_t now_ms);
  TxnTransit prepare_dead();

  // endTransaction's epoch fence: the pending PrepareEpochFence is dropped to
  // make way for PrepareAbort at the fenced epoch.
  void take_over_epoch_fence(ProducerEpoch fenced_epoch);
  // The append of the pending transition failed: forget it (or keep it, for
  // a caller that retries the same append).
  void abort_pending() { pending_state_.reset(); }
  void mark_failed_epoch_fence() { has_failed_epoch_fence_ = true; }
  // completeTransitionTo: the append of `t` was committed. Asserts Kafka's
  // checks (the pending state is t's, epochs and partitions move legally).
  void complete_transition(const TxnTransit& t);

 private:
  TxnTransit prepare_transition(TxnState next, ProducerId id, ProducerEpoch epoch, ProducerEpoch last_epoch,
                                std::int32_t timeout_ms, TxnPartitions partitions, std::int64_t start_ms,
                                std::int64_t now_ms);
  bool valid_epoch(const TxnTransit& t) const;
  bool valid_epoch_bump(const TxnTransit& t) const;

  std::string transactional_id_;
  ProducerId producer_id_;
  ProducerId last_producer_id_ = ProducerId::none();
  ProducerEpoch producer_epoch_;
  ProducerEpoch last_producer_epoch_ = ProducerEpoch::none();
  std::int32_t txn_timeout_ms_;
  TxnState state_;
  TxnPartitions partitions_;
  std::int64_t txn_start_timestamp_ms_ = -1;
  std::int64_t txn_last_update_timestamp_ms_;
  std::optional<TxnState> pending_state_;
  bool has_failed_epoch_fence_ = false;
  bool epoch_bump_ = false;
  ProducerId next_producer_id_ = ProducerId::none();
};

}  // namespace samsa::broker::txn
