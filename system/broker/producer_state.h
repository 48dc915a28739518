#pragma once
// Broker-side idempotence for one partition: per producer id, its epoch and
// the sequence ranges and offsets of its last few batches, as Kafka 2.x's
// ProducerStateManager / ProducerStateEntry / ProducerAppendInfo keep them.
//
// A leader checks a client's batch before appending it (check); every stored
// batch, whether appended as leader, as follower or replayed from the log
// after a restart, is recorded with update (no checks: the log is the truth).
// The state is saved as the log's producer snapshot side file and rebuilt
// from the newest snapshot plus the batches after it (rebuild_producer_state).
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>

#include "system/log/checkpoint.h"
#include "system/log/errors.h"
#include "system/protocol/errors.h"
#include "system/protocol/ids.h"
#include "system/protocol/record_batch.h"

namespace samsa::log {
class Log;
}

namespace samsa::broker {

using protocol::ErrorCode;
using protocol::Offset;
using protocol::ProducerEpoch;
using protocol::ProducerId;
using protocol::Sequence;

// What an idempotent batch says about itself, once stored at an offset.
struct ProducerBatch {
  ProducerId producer_id = ProducerId::none();
  ProducerEpoch epoch = ProducerEpoch::none();
  Sequence first_sequence = Sequence::none();
  Sequence last_sequence = Sequence::none();
  Offset last_offset = Offset::none();  // ignored by check()
  std::int64_t timestamp_ms = -1;
  std::int32_t coordinator_epoch = -1;  // of a transaction marker; -1 for data
  friend bool operator==(const ProducerBatch&, const ProducerBatch&) = default;
};

// The batch of a stored (or about-to-be-stored) record batch header; nullopt
// when the batch carries no producer id (not idempotent).
std::optional<ProducerBatch> producer_batch(const protocol::BatchHeader& h);
// The same for a whole batch: a control batch's marker gives its coordinator epoch.
std::optional<ProducerBatch> producer_batch(const protocol::BatchView& b);

struct ProducerCheck {
  ErrorCode error = ErrorCode::none;
  // Set when the batch is a retry of a batch still remembered: Kafka answers
  // it with NONE and the original batch's first offset, and stores nothing.
  std::optional<Offset> duplicate_of;
  bool appendable() const { return error == ErrorCode::none && !duplicate_of; }
};

class ProducerStateManager {
 public:
  // ProducerStateEntry.NumBatchesToRetain (KAFKA-5494: enough for
  // max.in.flight.requests.per.connection = 5).
  static constexpr std::size_t k_batches_retained = 5;

  // batches_retained = 1 is samsa.legacy.dedupe.last.batch.only.
  explicit ProducerStateManager(std::size_t batches_retained = k_batches_retained);

  // A client's batch against the state (Log.analyzeAndValidateProducerState,
  // ProducerAppendInfo.checkProducerEpoch / checkSequence of Kafka 2.0):
  //   same epoch and the sequence range of a remembered batch -> duplicate_of;
  //   an epoch older than the stored one                      -> INVALID_PRODUCER_EPOCH;
  //   no state for the producer and first sequence != 0       -> UNKNOWN_PRODUCER_ID;
  //   a newer epoch whose first sequence is not 0, or the same
  //   epoch and not the sequence after the last one           -> OUT_OF_ORDER_SEQUENCE_NUMBER.
  // Never changes the state.
  ProducerCheck check(const ProducerBatch& b) const;
  // ProducerAppendInfo.appendEndTxnMarker's checks for a marker a leader is
  // about to write: INVALID_PRODUCER_EPOCH for an epoch older than the
  // producer's, TRANSACTION_COORDINATOR_FENCED for a coordinator epoch older
  // than the one of the last marker (a zombie coordinator's marker).
  ErrorCode check_marker(ProducerId id, ProducerEpoch epoch, std::int32_t coordinator_epoch) const;
  // Records a stored batch. A newer epoch forgets the older epoch's batches;
  // a transaction marker (no sequence) changes nothing else.
  void update(const ProducerBatch& b);

  // The first offset of a remembered batch (last offset minus the sequence
  // span, as Kafka's BatchMetadata.firstOffset).
  static Offset first_offset(const log::ProducerBatchMeta& m);

  const log::ProducerEntry* entry(ProducerId id) const;
  std::size_t producers() const { return state_.size(); }
  std::size_t batches_retained() const { return retained_; }

  // A truncation cannot simply forget the batches above the cut (the ones
  // below it may have scrolled out of the window), so it reloads instead:
  // rebuild_producer_state (clear, newest snapshot below the end, replay).
  void clear() { state_.clear(); }
  const log::ProducerSnapshot& snapshot() const { return state_; }
  void load(log::ProducerSnapshot s);

 private:
  std::size_t retained_;
  log::ProducerSnapshot state_;
};

// Rebuilds `m` for `log` as Kafka's ProducerStateManager.truncateAndReload
// does after a restart or a truncation: the newest snapshot at or below the
// log end offset, then every idempotent batch from that offset (or the log
// start when there is none) to the log end.
Result<void, log::LogErrc> rebuild_producer_state(log::Log& log, ProducerStateManager& m);

}  // namespace samsa::broker
