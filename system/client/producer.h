#pragma once
// The simulated Kafka producer, following the Java client (KafkaProducer,
// RecordAccumulator, Sender, NetworkClient, Metadata, TransactionManager
// for idempotence). One Producer lives on one node and is used from that
// node's fibers: send() appends to the accumulator (blocking up to
// max.block.ms for metadata and buffer.memory), a sender fiber drains ready
// batches into one Produce request per broker and handles the answers.
//
// Every send ends in exactly one outcome, classified as Jepsen does:
//   ok    written, with partition and offset (never for acks=0); offset -1
//         when the idempotent producer knows the batch is in the log (a later
//         sequence of its epoch was acknowledged) but not where;
//   fail  definitely not written (never sent, or rejected by the broker on
//         every attempt it made);
//   info  unknown (a lost ack, a request timeout, delivery.timeout.ms after
//         an attempt was sent, acks=0).
// The caller records outcomes in a history; this code knows no history.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "sim/runtime/runtime.h"
#include "system/client/group/consumer_protocol.h"
#include "system/client/group_metadata.h"
#include "system/client/producer_config.h"
#include "system/protocol/errors.h"

namespace samsa::client {

enum class OutcomeKind : std::uint8_t { ok, fail, info };
std::string_view to_string(OutcomeKind k);

struct SendOutcome {
  OutcomeKind kind = OutcomeKind::info;
  std::string topic;
  std::int32_t partition = -1;  // -1 when no partition was chosen
  std::int64_t offset = -1;     // only for ok (-1 there: written, where unknown)
  protocol::ErrorCode error = protocol::ErrorCode::none;
  std::string message;  // why, for fail and info
};

struct ProducerRecord {
  std::string topic;
  std::optional<std::int32_t> partition;  // explicit partition
  std::optional<std::string> key;         // nullopt: a null key
  std::string value;
  std::optional<std::int64_t> timestamp_ms;  // default: the node's wall clock
};

using SendCallback = std::function<void(const SendOutcome&)>;

namespace detail {
struct SendState;
}

// KafkaProducer.send's Future<RecordMetadata>.
class SendFuture {
 public:
  explicit SendFuture(std::shared_ptr<detail::SendState> s) : s_(std::move(s)) {}
  bool done() const;
  // Parks the calling fiber until the outcome is known.
  const SendOutcome& get() const;

 private:
  std::shared_ptr<detail::SendState> s_;
};

// TransactionManager.State (Kafka 2.8+).
enum class TxnState : std::uint8_t {
  uninitialized,
  initializing,
  ready,
  in_transaction,
  committing_transaction,
  aborting_transaction,
  abortable_error,
  fatal_error,
};
std::string_view to_string(TxnState s);

// How a transactional call ended, split as the Java client splits its
// exceptions: abortable (the application must abortTransaction and may go
// on), fatal (ProducerFencedException and the like: the producer must be
// closed), timeout (max.block.ms passed: the same call may be made again),
// illegal_state (the call does not fit the state: IllegalStateException).
enum class TxnErrorKind : std::uint8_t { none, abortable, fatal, timeout, illegal_state };
std::string_view to_string(TxnErrorKind k);

struct TxnResult {
  TxnErrorKind kind = TxnErrorKind::none;
  protocol::ErrorCode error = protocol::ErrorCode::none;
  std::string message;
  // commitTransaction only: EndTxn(commit) was sent, so after a failure the
  // transaction may have committed (Jepsen's info).
  bool maybe_committed = false;
  bool ok() const { return kind == TxnErrorKind::none; }
};

struct ProducerStats {
  std::uint64_t produce_requests = 0;
  std::uint64_t batches_sent = 0;  // every attempt of every batch
  std::uint64_t batches_retried = 0;
  std::uint64_t metadata_requests = 0;
  std::uint64_t init_producer_id_requests = 0;
  std::uint64_t epoch_bumps = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t txn_commits = 0;
  std::uint64_t txn_aborts = 0;
  std::uint64_t txn_epoch_bumps = 0;  // InitProducerId with the current id and epoch (KIP-360)
  std::uint64_t txn_end_epoch_bumps = 0;  // EndTxn v5 answered a new epoch (KIP-890 part 2)
  std::uint64_t txn_coordinator_requests = 0;
};

class Producer {
 public:
  // Kafka's keys (ProducerConfig); an error names the key.
  static Result<std::unique_ptr<Producer>, ConfigError> create(sim::Runtime& rt,
                                                               const std::map<std::string, std::string>& props);
  Producer(sim::Runtime& rt, ProducerConfig config);
  // Stops the producer's fibers; sends not yet complete never complete
  // (call close() first to finish them).
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Async style: the callback runs once, on the sender fiber (or at once,
  // on the caller's fiber, when the send fails before reaching a batch).
  // Sync style: send(record).get().
  SendFuture send(ProducerRecord record, SendCallback callback = {});
  // Makes every batch ready now and waits until all sends so far completed.
  void flush();
  // Sends what is queued, waits for all outcomes, stops the producer's fibers.
  void close();

  // KafkaProducer's transactions (transactional.id set; KIP-98, KIP-447,
  // KIP-360). Each call parks the caller until it is done or max.block.ms
  // passed, and returns the outcome as a value. One fiber uses them.
  // While a transaction is open, send() adds each new partition to it
  // (AddPartitionsToTxn) before the record is queued, and the Sender writes
  // only to added partitions.
  TxnResult init_transactions();
  TxnResult begin_transaction();
  // AddOffsetsToTxn, then TxnOffsetCommit v3 to the group's coordinator
  // with the consumer's generation and member id.
  TxnResult send_offsets_to_transaction(const std::map<group::TopicPartition, std::int64_t>& offsets,
                                        const ConsumerGroupMetadata& group);
  // Flushes, then EndTxn(commit).
  TxnResult commit_transaction();
  // Drops queued records, waits for those in flight, EndTxn(abort), then
  // InitProducerId with the current id and epoch when an error asked for a
  // new epoch.
  TxnResult abort_transaction();
  TxnState transaction_state() const;

  const ProducerConfig& config() const;
  const ProducerStats& stats() const;
  // The producer id and epoch in use (-1 when not idempotent or not yet known).
  std::pair<std::int64_t, std::int16_t> producer_id_and_epoch() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace samsa::client
