#include "system/broker/txn/transaction_metadata.h"

#include <algorithm>
#include <limits>

#include "sim/runtime/assert.h"
#include "system/protocol/errors.h"

namespace samsa::broker::txn {

namespace {

constexpr std::int16_t k_epoch_max = std::numeric_limits<std::int16_t>::max();

// TransactionMetadata.validPreviousStates, one row per target state.
bool valid_previous(TxnState to, TxnState from) {
  using S = TxnState;
  switch (to) {
    case S::empty: return from == S::empty || from == S::complete_commit || from == S::complete_abort;
    case S::ongoing:
      return from == S::ongoing || from == S::empty || from == S::complete_commit || from == S::complete_abort;
    case S::prepare_commit: return from == S::ongoing;
    case S::prepare_abort: return from == S::ongoing || from == S::prepare_epoch_fence;
    case S::complete_commit: return from == S::prepare_commit;
    case S::complete_abort: return from == S::prepare_abort;
    case S::dead: return from == S::empty || from == S::complete_abort || from == S::complete_commit;
    case S::prepare_epoch_fence: return from == S::ongoing;
  }
  return false;
}

}  // namespace

std::string_view to_string(TxnState s) {
  switch (s) {
    case TxnState::empty: return "Empty";
    case TxnState::ongoing: return "Ongoing";
    case TxnState::prepare_commit: return "PrepareCommit";
    case TxnState::prepare_abort: return "PrepareAbort";
    case TxnState::complete_commit: return "CompleteCommit";
    case TxnState::complete_abort: return "CompleteAbort";
    case TxnState::dead: return "Dead";
    case TxnState::prepare_epoch_fence: return "PrepareEpochFence";
  }
  return "Unknown";
}

std::optional<TxnState> txn_state_from_byte(std::int8_t b) {
  if (b < 0 || b > 7) return std::nullopt;
  return static_cast<TxnState>(b);
}

bool is_valid_transition(TxnState from, TxnState to) { return valid_previous(to, from); }

bool is_expiration_allowed(TxnState s) {
  return s == TxnState::empty || s == TxnState::complete_commit || s == TxnState::complete_abort;
}

bool is_epoch_exhausted(ProducerEpoch e) { return e.value() >= k_epoch_max - 1; }

TransactionMetadata::TransactionMetadata(std::string transactional_id, ProducerId producer_id,
                                         ProducerEpoch producer_epoch, std::int32_t txn_timeout_ms,
                                         TxnState state, std::int64_t now_ms)
    : transactional_id_(std::move(transactional_id)),
      producer_id_(producer_id),
      producer_epoch_(producer_epoch),
      txn_timeout_ms_(txn_timeout_ms),
      state_(state),
      txn_last_update_timestamp_ms_(now_ms) {}

TransactionMetadata TransactionMetadata::from_transit(std::string transactional_id, const TxnTransit& t) {
  TransactionMetadata m(std::move(transactional_id), t.producer_id, t.producer_epoch, t.txn_timeout_ms, t.state,
                        t.txn_last_update_timestamp_ms);
  m.txn_start_timestamp_ms_ = t.txn_start_timestamp_ms;
  if (t.state != TxnState::empty) m.partitions_ = t.partitions;
  m.epoch_bump_ = t.epoch_bump;
  m.next_producer_id_ = t.next_producer_id;
  m.last_producer_id_ = t.last_producer_id;  // PreviousProducerId of a value v1; none from v0
  return m;
}

TxnTransit TransactionMetadata::current() const {
  return TxnTransit{producer_id_,     last_producer_id_, producer_epoch_,          last_producer_epoch_,
                    txn_timeout_ms_,  state_,            partitions_,              txn_start_timestamp_ms_,
                    txn_last_update_timestamp_ms_, epoch_bump_,    next_producer_id_};
}

TxnTransit TransactionMetadata::prepare_transition(TxnState next, ProducerId id, ProducerEpoch epoch,
                                                   ProducerEpoch last_epoch, std::int32_t timeout_ms,
                                                   TxnPartitions partitions, std::int64_t start_ms,
                                                   std::int64_t now_ms) {
  SAMSA_ASSERT(!pending_state_, "a transition prepared while another is pending");
  SAMSA_ASSERT(id.value() >= 0 && epoch.value() >= 0, "a transition to a negative producer id or epoch");
  SAMSA_ASSERT(is_valid_transition(state_, next), "an illegal transaction state transition");
  pending_state_ = next;
  // TxnTransitMetadata's lastProducerId is the id before this transition.
  return TxnTransit{id, producer_id_, epoch, last_epoch, timeout_ms, next, std::move(partitions), start_ms, now_ms};
}

TxnTransit TransactionMetadata::prepare_fence_producer_epoch() {
  SAMSA_ASSERT(producer_epoch_.value() != k_epoch_max, "fencing would overflow the epoch");
  // After a fence whose append failed the epoch was already bumped in
  // memory (and never returned to a client): do not bump it again.
  const ProducerEpoch bumped = has_failed_epoch_fence_ ? producer_epoch_ : producer_epoch_.next();
  return prepare_transition(TxnState::prepare_epoch_fence, producer_id_, bumped, ProducerEpoch::none(),
                            txn_timeout_ms_, partitions_, txn_start_timestamp_ms_, txn_last_update_timestamp_ms_);
}

TransactionMetadata::EpochBump TransactionMetadata::prepare_increment_producer_epoch(
    std::int32_t new_timeout_ms, std::optional<ProducerEpoch> expected, std::int64_t now_ms) {
  SAMSA_ASSERT(!is_producer_epoch_exhausted(), "no more epochs for this producer id");
  const ProducerEpoch bumped = producer_epoch_.next();
  ProducerEpoch next = bumped;
  ProducerEpoch last = ProducerEpoch::none();
  if (expected) {
    if (producer_epoch_.is_none() || *expected == producer_epoch_) {
      // The producer goes on after an error and no one else initialised.
      last = producer_epoch_;
    } else if (*expected == last_producer_epoch_) {
      // A retry of a call that succeeded: the current epoch, no bump.
      next = producer_epoch_;
      last = last_producer_epoch_;
    } else {
      return {protocol::ErrorCode::producer_fenced, {}};
    }
  }
  return {protocol::ErrorCode::none,
          prepare_transition(TxnState::empty, producer_id_, next, last, new_timeout_ms, {}, -1, now_ms)};
}

TxnTransit TransactionMetadata::prepare_producer_id_rotation(ProducerId new_id, std::int32_t new_timeout_ms,
                                                             std::int64_t now_ms, bool record_last_epoch) {
  SAMSA_ASSERT(state_ != TxnState::ongoing && state_ != TxnState::prepare_abort &&
                   state_ != TxnState::prepare_commit,
               "a producer id rotated while a transaction is pending");
  return prepare_transition(TxnState::empty, new_id, ProducerEpoch(0),
                            record_last_epoch ? producer_epoch_ : ProducerEpoch::none(), new_timeout_ms, {}, -1,
                            now_ms);
}

TxnTransit TransactionMetadata::prepare_add_partitions(const TxnPartitions& added, std::int64_t now_ms) {
  const bool starts = state_ == TxnState::empty || state_ == TxnState::complete_abort ||
                      state_ == TxnState::complete_commit;
  TxnPartitions all = partitions_;
  all.insert(added.begin(), added.end());
  return prepare_transition(TxnState::ongoing, producer_id_, producer_epoch_, last_producer_epoch_,
                            txn_timeout_ms_, std::move(all), starts ? now_ms : txn_start_timestamp_ms_, now_ms);
}

TxnTransit TransactionMetadata::prepare_abort_or_commit(TxnState next, std::int64_t now_ms, bool bump,
                                                        ProducerId next_producer_id) {
  SAMSA_ASSERT(next == TxnState::prepare_commit || next == TxnState::prepare_abort);
  SAMSA_ASSERT(!bump || producer_epoch_.value() < k_epoch_max, "an epoch bump past Short.MaxValue");
  SAMSA_ASSERT(next_producer_id.is_none() || (bump && is_producer_epoch_exhausted() && next_producer_id != producer_id_),
               "a producer id rotation only where the bump exhausts the epoch");
  const ProducerEpoch epoch = bump ? producer_epoch_.next() : producer_epoch_;
  const ProducerEpoch last = bump ? producer_epoch_ : last_producer_epoch_;
  TxnTransit t = prepare_transition(next, producer_id_, epoch, last, txn_timeout_ms_, partitions_,
                                    txn_start_timestamp_ms_, now_ms);
  t.epoch_bump = bump;
  t.next_producer_id = next_producer_id;
  return t;
}

TxnTransit TransactionMetadata::prepare_complete(std::int64_t now_ms) {
  const TxnState next = state_ == TxnState::prepare_commit ? TxnState::complete_commit : TxnState::complete_abort;
  // The state change is in the log: a failed fence before it no longer matters.
  has_failed_epoch_fence_ = false;
  // Kafka 4.0's prepareComplete: after a bump to Short.MaxValue the id
  // rotates, epoch 0; the last epoch stays the one the client last saw
  // (Short.MaxValue - 1), the markers carry Short.MaxValue.
  const bool rotate = epoch_bump_ && !next_producer_id_.is_none();
  TxnTransit t = prepare_transition(next, rotate ? next_producer_id_ : producer_id_,
                                    rotate ? ProducerEpoch(0) : producer_epoch_, last_producer_epoch_,
                                    txn_timeout_ms_, {}, txn_start_timestamp_ms_, now_ms);
  t.epoch_bump = epoch_bump_;  // the transaction version of the PrepareX
  return t;
}

TxnTransit TransactionMetadata::prepare_dead() {
  return prepare_transition(TxnState::dead, producer_id_, producer_epoch_, last_producer_epoch_, txn_timeout_ms_,
                            {}, txn_start_timestamp_ms_, txn_last_update_timestamp_ms_);
}

void TransactionMetadata::take_over_epoch_fence(ProducerEpoch fenced_epoch) {
  SAMSA_ASSERT(pending_state_ == TxnState::prepare_epoch_fence, "no epoch fence pending");
  pending_state_.reset();
  producer_epoch_ = fenced_epoch;
  last_producer_epoch_ = ProducerEpoch::none();
}

bool TransactionMetadata::valid_epoch(const TxnTransit& t) const {
  return t.producer_epoch == producer_epoch_ && t.producer_id == producer_id_;
}

bool TransactionMetadata::valid_epoch_bump(const TxnTransit& t) const {
  return t.producer_epoch == producer_epoch_.next() ||
         (t.producer_epoch == ProducerEpoch(0) && t.producer_id != producer_id_);
}

void TransactionMetadata::complete_transition(const TxnTransit& t) {
  SAMSA_ASSERT(pending_state_ == t.state, "completing a transition that is not the pending one");
  switch (t.state) {
    case TxnState::empty:  // InitProducerId
      SAMSA_ASSERT((producer_epoch_ == t.producer_epoch || valid_epoch_bump(t)) && t.partitions.empty() &&
                   t.txn_start_timestamp_ms == -1);
      txn_timeout_ms_ = t.txn_timeout_ms;
      producer_epoch_ = t.producer_epoch;
      last_producer_epoch_ = t.last_producer_epoch;
      producer_id_ = t.producer_id;
      last_producer_id_ = t.last_producer_id;
      break;
    case TxnState::ongoing:  // AddPartitionsToTxn
      SAMSA_ASSERT(valid_epoch(t) && txn_timeout_ms_ == t.txn_timeout_ms &&
                   std::includes(t.partitions.begin(), t.partitions.end(), partitions_.begin(), partitions_.end()));
      txn_start_timestamp_ms_ = t.txn_start_timestamp_ms;
      partitions_ = t.partitions;
      break;
    case TxnState::prepare_commit:
    case TxnState::prepare_abort:  // EndTxn
      // validProducerEpoch: with the bump it is the transit's last epoch
      // that must be the current one.
      SAMSA_ASSERT((t.epoch_bump ? t.last_producer_epoch == producer_epoch_ && t.producer_id == producer_id_
                                 : valid_epoch(t)) &&
                   partitions_ == t.partitions && txn_timeout_ms_ == t.txn_timeout_ms &&
                   txn_start_timestamp_ms_ == t.txn_start_timestamp_ms);
      if (t.epoch_bump) {
        producer_epoch_ = t.producer_epoch;
        last_producer_epoch_ = t.last_producer_epoch;
      }
      next_producer_id_ = t.next_producer_id;
      break;
    case TxnState::complete_commit:
    case TxnState::complete_abort: {  // the markers are written
      // validProducerEpoch, with the rotation: the new id at epoch 0.
      const bool rotated = !next_producer_id_.is_none() && t.producer_id == next_producer_id_ &&
                           t.producer_epoch == ProducerEpoch(0) && t.last_producer_epoch == last_producer_epoch_;
      SAMSA_ASSERT((valid_epoch(t) || rotated) && txn_timeout_ms_ == t.txn_timeout_ms &&
                   t.txn_start_timestamp_ms != -1);
      if (rotated) {
        last_producer_id_ = producer_id_;
        producer_id_ = t.producer_id;
        producer_epoch_ = t.producer_epoch;
      }
      next_producer_id_ = ProducerId::none();
      txn_start_timestamp_ms_ = t.txn_start_timestamp_ms;
      partitions_.clear();
      break;
    }
    case TxnState::prepare_epoch_fence:
    case TxnState::dead:
      // Never written: a fence becomes PrepareAbort before its append, and a
      // dead id is removed from the cache instead.
      SAMSA_ASSERT(false, "completing a transition to PrepareEpochFence or Dead");
  }
  txn_last_update_timestamp_ms_ = t.txn_last_update_timestamp_ms;
  epoch_bump_ = t.epoch_bump;
  pending_state_.reset();
  state_ = t.state;
}

}  // namespace samsa::broker::txn
