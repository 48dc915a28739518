#include "system/broker/txn/transaction_coordinator.h"

#include <limits>

#include "sim/runtime/assert.h"
#include "system/broker/group/offsets_records.h"

namespace samsa::broker::txn {

namespace {

// TransactionStateManager.appendTransactionToLog: the produce error of an
// append as the coordinator reports it.
ErrorCode coordinator_error(ErrorCode e) {
  switch (e) {
    case ErrorCode::unknown_topic_or_partition:
    case ErrorCode::not_enough_replicas:
    case ErrorCode::not_enough_replicas_after_append:
    case ErrorCode::request_timed_out:
      return ErrorCode::coordinator_not_available;
    case ErrorCode::not_leader_or_follower:
    case ErrorCode::kafka_storage_error:
      return ErrorCode::not_coordinator;
    case ErrorCode::message_too_large:
    case ErrorCode::record_list_too_large:
      return ErrorCode::unknown_server_error;
    default:
      return e;
  }
}

TxnStep answer(ErrorCode e) { return TxnStep{TxnAnswer{e}, std::nullopt}; }

TxnState prepare_state_for(TxnResult r) {
  return r == TxnResult::commit ? TxnState::prepare_commit : TxnState::prepare_abort;
}

}  // namespace

std::int32_t transaction_partition_for(std::string_view transactional_id, std::int32_t num_partitions) {
  // The same hash and Utils.abs as GroupMetadataManager.partitionFor.
  return group::offsets_partition_for(transactional_id, num_partitions);
}

// --- ownership --------------------------------------------------------------------------------------

void TransactionCoordinator::begin_load(std::int32_t partition, std::int32_t coordinator_epoch) {
  Owned& o = partitions_[partition];
  o = Owned{};
  o.coordinator_epoch = coordinator_epoch;
}

std::vector<TxnMarkers> TransactionCoordinator::complete_load(
    std::int32_t partition, std::int32_t coordinator_epoch,
    const std::map<std::string, std::optional<TxnTransit>>& loaded, std::int64_t now_ms) {
  std::vector<TxnMarkers> out;
  auto it = partitions_.find(partition);
  // A newer load (or an unload) came in between: this one is stale.
  if (it == partitions_.end() || it->second.coordinator_epoch != coordinator_epoch) return out;
  Owned& o = it->second;
  o.txns.clear();
  for (const auto& [id, t] : loaded) {
    if (!t) continue;  // tombstone: the id expired
    TxnTransit loaded_t = *t;
    // Value v1 says its ClientTransactionVersion; v0 has none: a transaction
    // caught ending takes the coordinator's level (samsa's clients send
    // EndTxn v5 wherever it is served).
    const bool ending = t->state == TxnState::prepare_commit || t->state == TxnState::prepare_abort ||
                        t->state == TxnState::complete_commit || t->state == TxnState::complete_abort;
    if (!t->client_version_stored) loaded_t.epoch_bump = ending && config_.epoch_bump_per_transaction;
    o.txns.emplace(id, TransactionMetadata::from_transit(id, loaded_t));
  }
  o.loading = false;
  // loadTransactionsForTxnTopicPartition: transactions caught between
  // PrepareX and CompleteX get their markers again.
  for (auto& [id, m] : o.txns) {
    if (m.state() == TxnState::prepare_commit || m.state() == TxnState::prepare_abort) {
      const TxnResult r = m.state() == TxnState::prepare_commit ? TxnResult::commit : TxnResult::abort;
      if (auto mk = prepare_markers(m, coordinator_epoch, r, now_ms)) out.push_back(std::move(*mk));
    }
  }
  return out;
}

void TransactionCoordinator::unload(std::int32_t partition) { partitions_.erase(partition); }

bool TransactionCoordinator::owns(std::int32_t partition) const {
  auto it = partitions_.find(partition);
  return it != partitions_.end() && !it->second.loading;
}

TransactionCoordinator::Lookup TransactionCoordinator::lookup(const std::string& transactional_id) {
  auto it = partitions_.find(partition_for(transactional_id));
  if (it == partitions_.end()) return {ErrorCode::not_coordinator};
  if (it->second.loading) return {ErrorCode::coordinator_load_in_progress};
  auto t = it->second.txns.find(transactional_id);
  return {ErrorCode::none, &it->second, t == it->second.txns.end() ? nullptr : &t->second};
}

const TransactionMetadata* TransactionCoordinator::metadata(const std::string& transactional_id) const {
  return const_cast<TransactionCoordinator*>(this)->lookup(transactional_id).txn;
}

std::vector<std::string> TransactionCoordinator::transactional_ids() const {
  std::vector<std::string> out;
  for (const auto& [p, o] : partitions_)
    for (const auto& [id, m] : o.txns) out.push_back(id);
  return out;
}

TxnLogAppend TransactionCoordinator::make_append(AppendFor kind, const std::string& transactional_id,
                                                 const Owned& o, TxnTransit t) const {
  TxnLogAppend a;
  a.kind = kind;
  a.transactional_id = transactional_id;
  a.partition = partition_for(transactional_id);
  a.coordinator_epoch = o.coordinator_epoch;
  a.transit = std::move(t);
  return a;
}

// --- InitProducerId ------------------------------------------------------------------------------------------

TxnStep TransactionCoordinator::init_producer_id(const std::string& transactional_id, std::int32_t timeout_ms,
                                                 std::optional<ProducerIdAndEpoch> expected,
                                                 const NewProducerId& new_id, std::int64_t now_ms) {
  if (transactional_id.empty()) return answer(ErrorCode::invalid_request);
  if (timeout_ms <= 0 || timeout_ms > config_.transaction_max_timeout_ms)
    return answer(ErrorCode::invalid_transaction_timeout);
  Lookup l = lookup(transactional_id);
  if (l.error != ErrorCode::none) return answer(l.error);
  if (l.txn == nullptr) {
    auto [it, fresh] = l.owner->txns.emplace(
        transactional_id,
        TransactionMetadata(transactional_id, new_id(), ProducerEpoch::none(), timeout_ms, TxnState::empty, now_ms));
    l.txn = &it->second;
  }
  TransactionMetadata& m = *l.txn;
  if (m.pending_transition_in_progress()) return answer(ErrorCode::concurrent_transactions);
  if (expected) {
    // KIP-360: a producer that names its id and epoch is fenced unless the
    // metadata is new, the id is the current one (the epoch is checked by
    // the bump), or it is the previous id with an exhausted epoch (a retry
    // across a rotation).
    const bool valid = m.producer_epoch().is_none() || expected->producer_id == m.producer_id() ||
                       (expected->producer_id == m.last_producer_id() && is_epoch_exhausted(expected->epoch));
    if (!valid) return answer(ErrorCode::producer_fenced);
  }
  switch (m.state()) {
    case TxnState::prepare_abort:
    case TxnState::prepare_commit:
      return answer(ErrorCode::concurrent_transactions);
    case TxnState::complete_abort:
    case TxnState::complete_commit:
    case TxnState::empty: {
      if (m.is_producer_epoch_exhausted() && (!expected || expected->epoch == m.producer_epoch())) {
        TxnTransit t = m.prepare_producer_id_rotation(new_id(), timeout_ms, now_ms, expected.has_value());
        return {std::nullopt, make_append(AppendFor::init_producer_id, transactional_id, *l.owner, std::move(t))};
      }
      auto bump = m.prepare_increment_producer_epoch(
          timeout_ms, expected ? std::optional<ProducerEpoch>(expected->epoch) : std::nullopt, now_ms);
      if (bump.error != ErrorCode::none) return answer(bump.error);
      return {std::nullopt, make_append(AppendFor::init_producer_id, transactional_id, *l.owner, bump.transit)};
    }
    case TxnState::ongoing: {
      // Abort the open transaction at a fenced epoch first; the client gets
      // CONCURRENT_TRANSACTIONS and retries, which bumps the epoch again.
      const TxnTransit fence = m.prepare_fence_producer_epoch();
      // handleInitProducerId aborts with TV_0: the fence is the only bump.
      TxnStep s = end_transaction(transactional_id, fence.producer_id, fence.producer_epoch, TxnResult::abort,
                                  AppendFor::init_epoch_fence, false, now_ms);
      SAMSA_ASSERT(s.append.has_value(), "an epoch fence of an Ongoing transaction aborts it");
      return s;
    }
    case TxnState::dead:
    case TxnState::prepare_epoch_fence:
      break;
  }
  SAMSA_ASSERT(false, "a transactional id in Dead or PrepareEpochFence");
  return answer(ErrorCode::unknown_server_error);
}

// --- AddPartitionsToTxn --------------------------------------------------------------------------------------

TxnStep TransactionCoordinator::add_partitions(const std::string& transactional_id, ProducerId id,
                                               ProducerEpoch epoch, const TxnPartitions& partitions,
                                               std::int64_t now_ms) {
  if (transactional_id.empty()) return answer(ErrorCode::invalid_request);
  Lookup l = lookup(transactional_id);
  if (l.error != ErrorCode::none) return answer(l.error);
  if (l.txn == nullptr || l.txn->producer_id() != id) return answer(ErrorCode::invalid_producer_id_mapping);
  TransactionMetadata& m = *l.txn;
  if (m.producer_epoch() != epoch) return answer(ErrorCode::producer_fenced);
  if (m.pending_transition_in_progress()) return answer(ErrorCode::concurrent_transactions);
  if (m.state() == TxnState::prepare_commit || m.state() == TxnState::prepare_abort)
    return answer(ErrorCode::concurrent_transactions);
  if (m.state() == TxnState::ongoing &&
      std::includes(m.partitions().begin(), m.partitions().end(), partitions.begin(), partitions.end()))
    return answer(ErrorCode::none);  // all there already
  // An id whose first InitProducerId append failed still has epoch -1; a
  // request naming it makes Kafka's prepareTransitionTo throw
  // IllegalArgumentException, which KafkaApis answers UNKNOWN_SERVER_ERROR.
  if (m.producer_epoch().is_none()) return answer(ErrorCode::unknown_server_error);
  TxnTransit t = m.prepare_add_partitions(partitions, now_ms);
  return {std::nullopt, make_append(AppendFor::add_partitions, transactional_id, *l.owner, std::move(t))};
}

// --- EndTxn ----------------------------------------------------------------------------------------------------

TxnStep TransactionCoordinator::end_txn(const std::string& transactional_id, ProducerId id, ProducerEpoch epoch,
                                        TxnResult result, std::int64_t now_ms, bool client_v2,
                                        const NewProducerId& new_id) {
  return end_transaction(transactional_id, id, epoch, result, AppendFor::end_txn,
                         client_v2 && config_.epoch_bump_per_transaction, now_ms, new_id);
}

namespace {

// endTxnEpochBumped: a retry of an EndTxn whose PrepareX bumped the epoch
// names the epoch before the bump.
bool epoch_bumped_by_end_txn(const TransactionMetadata& m, ProducerEpoch epoch) {
  return m.pending_state() != TxnState::prepare_epoch_fence && m.epoch_bump() && !epoch.is_none() &&
         m.producer_epoch().value() == epoch.value() + 1;
}

// endTransaction's isValidEpoch. With transaction version 2 the same epoch
// in PrepareX / CompleteX is the *next* transaction's, so only the epoch
// before the bump is a retry; otherwise clients name the current epoch and
// the coordinator's own aborts the fenced (higher) one.
// endTransaction's retryOnOverflow: the retry of an EndTxn whose completion
// rotated the producer id names the old id at Short.MaxValue - 1.
bool retry_on_overflow(const TransactionMetadata& m, ProducerId id, ProducerEpoch epoch) {
  constexpr std::int16_t k_last_client_epoch = std::numeric_limits<std::int16_t>::max() - 1;
  return m.epoch_bump() && (m.state() == TxnState::complete_commit || m.state() == TxnState::complete_abort) &&
         !m.pending_transition_in_progress() && id == m.last_producer_id() && id != m.producer_id() &&
         epoch.value() == k_last_client_epoch && m.producer_epoch() == ProducerEpoch(0);
}

bool valid_end_txn_epoch(const TransactionMetadata& m, ProducerEpoch epoch, bool from_client) {
  const bool v2 = m.pending_state() != TxnState::prepare_epoch_fence && m.epoch_bump();
  if (!v2) return (!from_client || epoch == m.producer_epoch()) && epoch >= m.producer_epoch();
  switch (m.state()) {
    case TxnState::prepare_commit:
    case TxnState::prepare_abort:
    case TxnState::complete_commit:
    case TxnState::complete_abort:
      return epoch_bumped_by_end_txn(m, epoch);
    default:
      return epoch == m.producer_epoch();
  }
}

}  // namespace

TxnStep TransactionCoordinator::end_transaction(const std::string& transactional_id, ProducerId id,
                                                ProducerEpoch epoch, TxnResult result, AppendFor kind,
                                                bool bump_version, std::int64_t now_ms, const NewProducerId& new_id) {
  if (transactional_id.empty()) return answer(ErrorCode::invalid_request);
  Lookup l = lookup(transactional_id);
  if (l.error != ErrorCode::none) return answer(l.error);
  if (l.txn != nullptr && kind == AppendFor::end_txn && retry_on_overflow(*l.txn, id, epoch)) {
    const TransactionMetadata& m = *l.txn;
    const bool same_result = (m.state() == TxnState::complete_commit) == (result == TxnResult::commit);
    if (!same_result) return answer(ErrorCode::invalid_txn_state);
    return {TxnAnswer{ErrorCode::none, m.producer_id(), m.producer_epoch()}, std::nullopt};
  }
  if (l.txn == nullptr || l.txn->producer_id() != id) return answer(ErrorCode::invalid_producer_id_mapping);
  TransactionMetadata& m = *l.txn;
  if (!valid_end_txn_epoch(m, epoch, kind == AppendFor::end_txn)) return answer(ErrorCode::producer_fenced);
  if (m.pending_transition_in_progress() && m.pending_state() != TxnState::prepare_epoch_fence)
    return answer(ErrorCode::concurrent_transactions);
  const bool wants_commit = result == TxnResult::commit;
  // A retry that finds its transaction complete gets the epoch it ended with.
  const TxnStep done{TxnAnswer{ErrorCode::none, m.producer_id(), m.producer_epoch()}, std::nullopt};
  switch (m.state()) {
    case TxnState::ongoing: {
      bool fence = false;
      if (!wants_commit && m.pending_state() == TxnState::prepare_epoch_fence) {
        fence = true;
        m.take_over_epoch_fence(epoch);
      }
      // Kafka 4.0: a bump that exhausts the epoch takes a new producer id
      // for the completion (no id at hand, or no epoch left after a fence:
      // no bump).
      bool bump = bump_version && m.producer_epoch().value() < std::numeric_limits<std::int16_t>::max();
      ProducerId next_id = ProducerId::none();
      if (bump && m.is_producer_epoch_exhausted()) {
        if (new_id) next_id = new_id();
        else bump = false;
      }
      TxnTransit t = m.prepare_abort_or_commit(prepare_state_for(result), now_ms, bump, next_id);
      TxnLogAppend a = make_append(kind, transactional_id, *l.owner, std::move(t));
      a.result = result;
      a.epoch_fence = fence;
      return {std::nullopt, std::move(a)};
    }
    case TxnState::complete_commit:
      return wants_commit ? done : answer(ErrorCode::invalid_txn_state);
    case TxnState::complete_abort:
      return wants_commit ? answer(ErrorCode::invalid_txn_state) : done;
    case TxnState::prepare_commit:
      return answer(wants_commit ? ErrorCode::concurrent_transactions : ErrorCode::invalid_txn_state);
    case TxnState::prepare_abort:
      return answer(wants_commit ? ErrorCode::invalid_txn_state : ErrorCode::concurrent_transactions);
    case TxnState::empty:
      return answer(ErrorCode::invalid_txn_state);
    case TxnState::dead:
    case TxnState::prepare_epoch_fence:
      break;
  }
  SAMSA_ASSERT(false, "a transactional id in Dead or PrepareEpochFence");
  return answer(ErrorCode::unknown_server_error);
}

std::optional<TxnMarkers> TransactionCoordinator::prepare_markers(TransactionMetadata& m,
                                                                  std::int32_t coordinator_epoch,
                                                                  TxnResult result, std::int64_t now_ms) {
  if (m.pending_transition_in_progress()) return std::nullopt;
  TxnMarkers mk;
  mk.transactional_id = m.transactional_id();
  mk.coordinator_epoch = coordinator_epoch;
  mk.result = result;
  mk.producer_id = m.producer_id();
  mk.producer_epoch = m.producer_epoch();
  mk.partitions = m.partitions();
  mk.complete = m.prepare_complete(now_ms);
  return mk;
}

std::map<TxnPartition, ErrorCode> TransactionCoordinator::verify_partitions(const std::string& transactional_id,
                                                                          ProducerId id, ProducerEpoch epoch,
                                                                          const TxnPartitions& partitions) {
  auto all = [&](ErrorCode e) {
    std::map<TxnPartition, ErrorCode> out;
    for (const auto& p : partitions) out[p] = e;
    return out;
  };
  if (transactional_id.empty()) return all(ErrorCode::invalid_request);
  Lookup l = lookup(transactional_id);
  if (l.error != ErrorCode::none) return all(l.error);
  if (l.txn == nullptr || l.txn->producer_id() != id) return all(ErrorCode::invalid_producer_id_mapping);
  const TransactionMetadata& m = *l.txn;
  if (m.producer_epoch() != epoch) return all(ErrorCode::producer_fenced);
  // No pending-state check: the append itself is guarded again.
  if (m.state() == TxnState::prepare_commit || m.state() == TxnState::prepare_abort)
    return all(ErrorCode::concurrent_transactions);
  std::map<TxnPartition, ErrorCode> out;
  for (const auto& p : partitions) out[p] = m.partitions().count(p) ? ErrorCode::none : ErrorCode::invalid_txn_state;
  return out;
}

// --- appends --------------------------------------------------------------------------------------------------

AppendOutcome TransactionCoordinator::append_done(const TxnLogAppend& a, ErrorCode append_error,
                                                  std::int64_t now_ms) {
  ErrorCode error = append_error == ErrorCode::none ? ErrorCode::none : coordinator_error(append_error);
  Lookup l = lookup(a.transactional_id);
  if (a.kind == AppendFor::expire) {
    // removeFromCacheCallback: only if the id is still ours and still dying.
    if (l.error != ErrorCode::none || l.txn == nullptr || l.owner->coordinator_epoch != a.coordinator_epoch ||
        l.txn->pending_state() != TxnState::dead)
      return {};
    if (error == ErrorCode::none) l.owner->txns.erase(a.transactional_id);
    else l.txn->abort_pending();
    return {};
  }
  const bool same_epoch = l.owner != nullptr && l.txn != nullptr && l.owner->coordinator_epoch == a.coordinator_epoch;
  if (error == ErrorCode::none) {
    if (l.error != ErrorCode::none) {
      error = l.error;
    } else if (!same_epoch) {
      error = ErrorCode::not_coordinator;  // the partition moved away and back meanwhile
    } else {
      l.txn->complete_transition(a.transit);
    }
  } else if (same_epoch) {
    const bool retry = a.kind == AppendFor::complete && error == ErrorCode::coordinator_not_available;
    if (retry) return AppendOutcome{std::nullopt, std::nullopt, a};
    l.txn->abort_pending();
  }

  AppendOutcome out;
  switch (a.kind) {
    case AppendFor::init_producer_id:
      out.answer = error == ErrorCode::none ? TxnAnswer{ErrorCode::none, a.transit.producer_id, a.transit.producer_epoch}
                                            : TxnAnswer{error};
      break;
    case AppendFor::add_partitions:
      out.answer = TxnAnswer{error};
      break;
    case AppendFor::end_txn:
    case AppendFor::init_epoch_fence:
    case AppendFor::timeout_abort: {
      if (error == ErrorCode::none) {
        // sendTxnMarkersCallback's checks before the markers go out.
        TransactionMetadata& m = *l.txn;
        if (m.producer_id() != a.transit.producer_id) {
          error = ErrorCode::invalid_producer_id_mapping;
        } else if (m.producer_epoch() != a.transit.producer_epoch) {
          error = ErrorCode::producer_fenced;
        } else if (m.pending_transition_in_progress()) {
          error = ErrorCode::concurrent_transactions;
        } else if (m.state() != prepare_state_for(a.result)) {
          error = ErrorCode::invalid_txn_state;
        } else {
          out.markers = prepare_markers(m, a.coordinator_epoch, a.result, now_ms);
        }
      } else if (a.epoch_fence && same_epoch) {
        l.txn->mark_failed_epoch_fence();
      }
      // The answer is the completion's id and epoch (newPreSendMetadata):
      // a rotated id at epoch 0 after an exhausted epoch.
      if (a.kind == AppendFor::end_txn)
        out.answer = error != ErrorCode::none ? TxnAnswer{error}
                     : out.markers ? TxnAnswer{error, out.markers->complete.producer_id, out.markers->complete.producer_epoch}
                                   : TxnAnswer{error, l.txn->producer_id(), l.txn->producer_epoch()};
      if (a.kind == AppendFor::init_epoch_fence)
        out.answer = TxnAnswer{error == ErrorCode::none ? ErrorCode::concurrent_transactions : error};
      break;
    }
    case AppendFor::complete:
      break;  // no one waits; a new coordinator completes it on load otherwise
    case AppendFor::expire:
      break;  // handled above
  }
  return out;
}

std::optional<TxnLogAppend> TransactionCoordinator::markers_done(const TxnMarkers& mk) {
  Lookup l = lookup(mk.transactional_id);
  if (l.error != ErrorCode::none || l.txn == nullptr || l.owner->coordinator_epoch != mk.coordinator_epoch)
    return std::nullopt;  // no longer ours: the new coordinator resends them
  if (l.txn->pending_state() != mk.complete.state) return std::nullopt;
  return make_append(AppendFor::complete, mk.transactional_id, *l.owner, mk.complete);
}

std::vector<TxnLogAppend> TransactionCoordinator::expire_transactional_ids(std::int64_t now_ms) {
  std::vector<TxnLogAppend> out;
  for (auto& [p, o] : partitions_) {
    if (o.loading) continue;
    for (auto& [id, m] : o.txns) {
      if (m.pending_transition_in_progress() || !is_expiration_allowed(m.state()) ||
          m.txn_last_update_timestamp_ms() > now_ms - config_.transactional_id_expiration_ms)
        continue;
      out.push_back(make_append(AppendFor::expire, id, o, m.prepare_dead()));
    }
  }
  return out;
}

std::vector<TxnLogAppend> TransactionCoordinator::abort_timed_out(std::int64_t now_ms) {
  std::vector<std::string> expired;
  for (auto& [p, o] : partitions_) {
    if (o.loading) continue;
    for (auto& [id, m] : o.txns) {
      if (!m.pending_transition_in_progress() && m.state() == TxnState::ongoing &&
          m.txn_start_timestamp_ms() + m.txn_timeout_ms() < now_ms)
        expired.push_back(id);
    }
  }
  std::vector<TxnLogAppend> out;
  for (const auto& id : expired) {
    TransactionMetadata& m = *lookup(id).txn;
    const TxnTransit fence = m.prepare_fence_producer_epoch();
    // abortTimedOutTransactions uses the coordinator's transaction version:
    // with TV_2 the abort bumps once more after the fence.
    TxnStep s = end_transaction(id, fence.producer_id, fence.producer_epoch, TxnResult::abort,
                                AppendFor::timeout_abort, config_.epoch_bump_per_transaction, now_ms);
    SAMSA_ASSERT(s.append.has_value(), "a timed-out Ongoing transaction aborts");
    out.push_back(std::move(*s.append));
  }
  return out;
}

}  // namespace samsa::broker::txn
