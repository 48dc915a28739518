// The producer. Sections follow the Java client's classes:
//   Metadata         (metadata.h) the cluster view, refreshed on demand and
//                    after metadata.max.age.ms; this file sends the requests;
//   NetworkClient    (network_client.h) one connection per broker, its
//                    in-flight requests in order, request.timeout.ms;
//   RecordAccumulator per-partition deques of batches, batch.size,
//                    linger.ms, buffer.memory;
//   Sender           drain -> one Produce request per broker; completion,
//                    retries, delivery.timeout.ms;
//   TransactionManager producer id and epoch, sequences per partition,
//                    epoch bumps (KIP-360); with transactional.id the
//                    transaction state machine, its coordinator requests
//                    and the split of abortable and fatal errors.
#include "system/client/producer.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <limits>
#include <set>

#include "system/client/metadata.h"
#include "system/client/network_client.h"
#include "system/client/partitioner.h"
#include "system/protocol/record_batch.h"
#include "system/protocol/typed_api.h"

namespace samsa::client {

namespace p = protocol;
using p::ErrorCode;
using sim::Duration;
using sim::MonoTime;

std::string_view to_string(TxnState s) {
  switch (s) {
    case TxnState::uninitialized: return "UNINITIALIZED";
    case TxnState::initializing: return "INITIALIZING";
    case TxnState::ready: return "READY";
    case TxnState::in_transaction: return "IN_TRANSACTION";
    case TxnState::committing_transaction: return "COMMITTING_TRANSACTION";
    case TxnState::aborting_transaction: return "ABORTING_TRANSACTION";
    case TxnState::abortable_error: return "ABORTABLE_ERROR";
    case TxnState::fatal_error: return "FATAL_ERROR";
  }
  return "?";
}

std::string_view to_string(TxnErrorKind k) {
  switch (k) {
    case TxnErrorKind::none: return "none";
    case TxnErrorKind::abortable: return "abortable";
    case TxnErrorKind::fatal: return "fatal";
    case TxnErrorKind::timeout: return "timeout";
    case TxnErrorKind::illegal_state: return "illegal_state";
  }
  return "?";
}

std::string_view to_string(OutcomeKind k) {
  switch (k) {
    case OutcomeKind::ok: return "ok";
    case OutcomeKind::fail: return "fail";
    case OutcomeKind::info: return "info";
  }
  return "?";
}

namespace detail {
struct SendState {
  explicit SendState(sim::Parker& parker) : event(parker) {}
  sim::Event event;
  bool done = false;
  SendOutcome outcome;
};
}  // namespace detail

bool SendFuture::done() const { return s_->done; }
const SendOutcome& SendFuture::get() const {
  while (!s_->done) s_->event.wait({}, "producer.send.get");
  return s_->outcome;
}

namespace {

constexpr std::int16_t k_produce_version = 7;
constexpr std::int16_t k_metadata_version = 9;
constexpr std::int16_t k_init_pid_version = 3;
constexpr std::int16_t k_find_coordinator_version = 3;
constexpr std::int16_t k_add_partitions_version = 3;
constexpr std::int16_t k_add_offsets_version = 3;
constexpr std::int16_t k_end_txn_version = 5;  // KIP-890 part 2: the answer carries the bumped epoch
constexpr std::int16_t k_txn_offset_commit_version = 3;
constexpr std::size_t k_batch_overhead_bytes = 61;  // DefaultRecordBatch.RECORD_BATCH_OVERHEAD

Duration ms(std::int64_t v) { return std::chrono::milliseconds(v); }

struct TopicPartition {
  std::string topic;
  std::int32_t partition = 0;
  friend auto operator<=>(const TopicPartition&, const TopicPartition&) = default;
};

struct Pending {
  std::optional<std::string> key;
  std::string value;
  std::int64_t timestamp_ms = 0;
  SendCallback callback;
  std::shared_ptr<detail::SendState> state;
};

// ProducerBatch.
struct Batch {
  TopicPartition tp;
  std::vector<Pending> records;
  std::size_t size_bytes = k_batch_overhead_bytes;
  std::size_t reserved_bytes = 0;  // taken from buffer.memory
  MonoTime created;
  MonoTime retry_at;
  int attempts = 0;
  bool in_flight = false;
  bool maybe_written = false;  // some attempt may have been appended
  bool done = false;
  std::int64_t producer_id = -1;
  std::int16_t epoch = -1;
  std::int32_t base_sequence = -1;
  std::int32_t count() const { return static_cast<std::int32_t>(records.size()); }
};
using BatchPtr = std::shared_ptr<Batch>;

// TransactionManager's per-partition sequence state (TxnPartitionEntry).
struct PartitionSequences {
  std::int32_t next = 0;
  std::int32_t last_acked = -1;
  std::set<std::int32_t> incomplete;  // base sequences of batches not yet done
};

bool ambiguous(ErrorCode e, std::int16_t acks) {
  // Errors after which the batch may be in the log (a later leader may keep it).
  return e == ErrorCode::request_timed_out || e == ErrorCode::not_enough_replicas_after_append ||
         e == ErrorCode::network_exception || (e == ErrorCode::not_leader_or_follower && acks == -1);
}

bool invalidates_metadata(ErrorCode e) {
  return e == ErrorCode::not_leader_or_follower || e == ErrorCode::unknown_topic_or_partition ||
         e == ErrorCode::leader_not_available || e == ErrorCode::network_exception ||
         e == ErrorCode::kafka_storage_error || e == ErrorCode::fenced_leader_epoch;
}

}  // namespace

class Producer::Impl {
 public:
  Impl(sim::Runtime& rt, ProducerConfig cfg)
      : rt_(rt),
        cfg_(std::move(cfg)),
        rng_(rt.random("producer." + cfg_.client_id)),
        wake_(rt.parker()),
        meta_waiters_(rt.parker()),
        memory_waiters_(rt.parker()),
        drained_(rt.parker()),
        stopped_(rt.parker()),
        scope_(rt.make_scope("producer." + cfg_.client_id)),
        metadata_(cfg_.bootstrap_servers, cfg_.metadata_max_age_ms, cfg_.retry_backoff_ms),
        net_(rt, network_config(cfg_), *scope_, &metadata_, "producer.conn.") {
    net_.on_change = [this] { wake(); };
    net_.on_deadline = [this](MonoTime t) { soon(t); };
    if (cfg_.partitioner_class == k_round_robin_partitioner)
      partitioner_ = std::make_unique<RoundRobinPartitioner>();
    else
      partitioner_ = std::make_unique<DefaultPartitioner>(rng_);
    idempotent_ = cfg_.enable_idempotence;
    transactional_ = cfg_.transactional();
    scope_->spawn("sender", [this] { sender_loop(); });
  }

  // Does not close(): a crash unwinds through here and must not park.
  ~Impl() { scope_->stop(); }

  SendFuture send(ProducerRecord rec, SendCallback cb);
  void flush();
  void close();
  // --- TransactionManager (transactions) ---
  TxnResult init_transactions();
  TxnResult begin_transaction();
  TxnResult send_offsets(const std::map<group::TopicPartition, std::int64_t>& offsets, const ConsumerGroupMetadata& g);
  TxnResult commit_transaction();
  TxnResult abort_transaction();
  TxnState txn_state_ = TxnState::uninitialized;

  ProducerConfig cfg_copy() const { return cfg_; }
  std::uint64_t disconnects() const { return net_.disconnects(); }
  sim::Runtime& rt_;
  ProducerConfig cfg_;
  ProducerStats stats_;
  std::int64_t producer_id_ = -1;
  std::int16_t epoch_ = -1;

 private:
  // --- Metadata ---
  std::optional<TopicLayout> layout(const std::string& topic) const;
  std::optional<sim::Address> leader_of(const TopicPartition& tp) const;
  void maybe_update_metadata(MonoTime now);
  void on_metadata(const p::MetadataResponse& m);
  static NetworkConfig network_config(const ProducerConfig& c) {
    return NetworkConfig{c.client_id,       c.request_timeout_ms,          c.reconnect_backoff_ms,
                         c.reconnect_backoff_max_ms, c.connection_setup_timeout_ms, c.max_in_flight};
  }
  // A node that can take a request now (NetworkClient.leastLoadedNode + ready).
  std::optional<Node> ready_least_loaded(MonoTime now);
  // --- RecordAccumulator ---
  bool reserve_memory(std::size_t bytes, MonoTime deadline);
  void release_memory(std::size_t bytes);
  SendOutcome append(const TopicPartition& tp, Pending&& rec, MonoTime deadline, bool* needs_new_batch,
                     bool abort_on_new_batch);
  void ready_and_drain(MonoTime now);
  void expire_batches(MonoTime now);
  // --- Sender ---
  void sender_loop();
  void send_produce(const Node& to, std::vector<BatchPtr> batches);
  void on_produce_response(const std::vector<BatchPtr>& batches, const p::SharedFrame* frame,
                           const std::string& why);
  void complete_batch(const BatchPtr& b, ErrorCode err, std::int64_t base_offset, const std::string& why);
  bool can_retry(const Batch& b, ErrorCode err) const;
  bool is_next_sequence(const Batch& b) const;
  // Whether an acknowledged later sequence of the batch's producer epoch
  // proves it is in the log: the broker takes an epoch's sequences only in
  // order (ProducerStateManager's checkSequence).
  bool written_before(const Batch& b) const;
  static bool sequence_error(ErrorCode e) {
    return e == ErrorCode::out_of_order_sequence_number || e == ErrorCode::unknown_producer_id;
  }
  void reenqueue(const BatchPtr& b);
  void finish_batch(const BatchPtr& b, OutcomeKind kind, ErrorCode err, std::int64_t base_offset,
                    const std::string& why);
  void soon(MonoTime t) {
    if (!next_wake_ || t < *next_wake_) next_wake_ = t;
  }
  void wake() { wake_.set(); }
  // --- TransactionManager (idempotence) ---
  void maybe_init_producer_id(MonoTime now);
  void reset_sequences();
  // A transactional producer's epoch is the coordinator's: no local bump.
  bool bump_pending() const { return idempotent_ && !transactional_ && (producer_id_ < 0 || bump_needed_); }
  // --- TransactionManager (transactions) ---
  enum class TxnStep : std::uint8_t { done, retry, find_coordinator, abortable, fatal };
  static TxnStep classify_txn_error(ErrorCode e);
  TxnResult txn_error(TxnErrorKind kind, ErrorCode e, std::string message);
  void transition_to_abortable(ErrorCode e, std::string message);
  void transition_to_fatal(ErrorCode e, std::string message);
  std::optional<TxnResult> fail_if_not_ready_for(std::string_view what) const;
  bool find_coordinator(std::int8_t key_type, const std::string& key, MonoTime deadline, std::optional<sim::Address>& out);
  // One coordinator request with TxnRequestHandler's retries; `error_of`
  // reads the error out of the answer.
  template <class Resp, class Req, class ErrorOf>
  TxnResult txn_call(std::int8_t key_type, const std::string& key, std::optional<sim::Address>& coordinator,
                     const Req& req, std::int16_t version, MonoTime deadline, ErrorOf error_of, Resp* out = nullptr);
  TxnResult add_partition(const TopicPartition& tp);
  TxnResult init_producer_id_txn(MonoTime deadline, bool bump);
  TxnResult end_txn(bool commit, MonoTime deadline);
  std::int16_t end_txn_version(MonoTime deadline);
  // Queued batches never sent are dropped when the transaction is to be aborted.
  void abort_undrained_batches(ErrorCode e, const std::string& why);
  void wait_in_flight();

  sim::Random rng_;
  bool idempotent_ = true;
  bool transactional_ = false;
  // TransactionManager (transactions)
  std::optional<sim::Address> txn_coordinator_;
  // The EndTxn version the transaction coordinator takes (ApiVersions), by
  // its address: v5 is transaction version 2 (KIP-890 part 2).
  std::optional<std::pair<sim::Address, std::int16_t>> end_txn_version_;
  std::optional<sim::Address> group_coordinator_;
  std::string group_coordinator_key_;
  std::set<TopicPartition> txn_partitions_;  // added to the open transaction
  bool txn_started_ = false;                 // something was added: EndTxn is needed
  bool epoch_bump_required_ = false;         // KIP-360: InitProducerId with the current id after the abort
  bool commit_sent_ = false;
  TxnResult last_error_;
  std::unique_ptr<Partitioner> partitioner_;
  // RecordAccumulator
  std::map<TopicPartition, std::deque<BatchPtr>> queues_;
  std::set<BatchPtr> in_flight_batches_;
  std::map<TopicPartition, int> in_flight_per_partition_;
  std::int64_t used_memory_ = 0;
  std::size_t incomplete_records_ = 0;
  // TransactionManager
  std::map<TopicPartition, PartitionSequences> sequences_;
  bool bump_needed_ = false;
  std::set<TopicPartition> partitions_to_rewrite_;  // partitionsToRewriteSequences
  bool init_in_flight_ = false;
  MonoTime init_retry_at_{};
  // Sender
  sim::Event wake_;
  sim::WaitQueue meta_waiters_;
  sim::WaitQueue memory_waiters_;
  sim::WaitQueue drained_;
  sim::Event stopped_;
  std::optional<MonoTime> next_wake_;
  int flushing_ = 0;
  bool closing_ = false;
  bool stopped_flag_ = false;
  std::unique_ptr<sim::TaskScope> scope_;
  Metadata metadata_;
  NetworkClient net_;  // its fibers run in scope_
};

// ---------------------------------------------------------------- Metadata

std::optional<TopicLayout> Producer::Impl::layout(const std::string& topic) const {
  const TopicMeta* t = metadata_.topic(topic);
  if (t == nullptr || t->error != ErrorCode::none || t->partitions.empty()) return std::nullopt;
  TopicLayout l;
  l.partitions = static_cast<std::int32_t>(t->partitions.size());
  for (std::int32_t i = 0; i < l.partitions; ++i)
    if (t->partitions[static_cast<std::size_t>(i)].leader >= 0) l.available.push_back(PartitionId(i));
  return l;
}

std::optional<sim::Address> Producer::Impl::leader_of(const TopicPartition& tp) const {
  return metadata_.leader_address(tp.topic, tp.partition);
}

std::optional<Node> Producer::Impl::ready_least_loaded(MonoTime now) {
  auto addr = net_.least_loaded(now, rng_);
  if (!addr) return std::nullopt;  // woken when a connection is ready or a backoff ends
  const Node node{*addr};
  if (!net_.ready(node, now)) return std::nullopt;
  return node;
}

// Metadata.timeToNextUpdate: an update that was asked for, or the age limit.
void Producer::Impl::maybe_update_metadata(MonoTime now) {
  if (metadata_.in_flight()) return;
  const MonoTime due = metadata_.update_due();
  if (now < due) {
    soon(due);
    return;
  }
  auto node = ready_least_loaded(now);
  if (!node) return;
  ++stats_.metadata_requests;
  net_.send(*node, metadata_.request(), k_metadata_version, true, [this](const p::SharedFrame* f, const std::string&) {
    std::optional<p::MetadataResponse> resp;
    if (f) {
      auto r = p::decode_response_frame<p::MetadataResponse>(*f, k_metadata_version);
      if (r) resp = std::move(r->body);
    }
    if (!resp) {
      metadata_.failed_update(rt_.now());
      return;
    }
    on_metadata(*resp);
  });
}

void Producer::Impl::on_metadata(const p::MetadataResponse& m) {
  metadata_.update(m, rt_.now());
  meta_waiters_.notify_all();
}

// ------------------------------------------------------- RecordAccumulator

bool Producer::Impl::reserve_memory(std::size_t bytes, MonoTime deadline) {
  // BufferPool.allocate: waits (FIFO) for memory up to max.block.ms.
  while (used_memory_ + static_cast<std::int64_t>(bytes) > cfg_.buffer_memory) {
    wake();  // a full pool makes every batch ready (RecordAccumulator.ready: exhausted)
    if (memory_waiters_.wait("producer.buffer.memory", deadline) == sim::Wake::timed_out &&
        used_memory_ + static_cast<std::int64_t>(bytes) > cfg_.buffer_memory)
      return false;
  }
  used_memory_ += static_cast<std::int64_t>(bytes);
  return true;
}

void Producer::Impl::release_memory(std::size_t bytes) {
  used_memory_ -= static_cast<std::int64_t>(bytes);
  SAMSA_ASSERT(used_memory_ >= 0);
  memory_waiters_.notify_all();
}

SendOutcome Producer::Impl::append(const TopicPartition& tp, Pending&& rec, MonoTime deadline, bool* needs_new_batch,
                                   bool abort_on_new_batch) {
  // DefaultRecord.sizeInBytes, roughly: varints and attributes around key and value.
  const std::size_t rec_bytes = 21 + rec.value.size() + (rec.key ? rec.key->size() : 0);
  auto& q = queues_[tp];
  if (!q.empty() && !q.back()->in_flight && q.back()->attempts == 0 && q.back()->base_sequence < 0 &&
      q.back()->size_bytes + rec_bytes <= static_cast<std::size_t>(cfg_.batch_size)) {
    q.back()->size_bytes += rec_bytes;
    q.back()->records.push_back(std::move(rec));
    if (q.back()->size_bytes >= static_cast<std::size_t>(cfg_.batch_size) || q.size() > 1) wake();
    return {OutcomeKind::ok};
  }
  if (abort_on_new_batch) {
    *needs_new_batch = true;
    return {OutcomeKind::ok};
  }
  const std::size_t reserve = std::max<std::size_t>(cfg_.batch_size, rec_bytes + k_batch_overhead_bytes);
  if (!reserve_memory(reserve, deadline))
    return {OutcomeKind::fail, tp.topic, tp.partition, -1, ErrorCode::none,
            fmt::format("Failed to allocate memory within the configured max blocking time {} ms.", cfg_.max_block_ms)};
  auto b = std::make_shared<Batch>();
  b->tp = tp;
  b->created = rt_.now();
  b->reserved_bytes = reserve;
  b->size_bytes += rec_bytes;
  b->records.push_back(std::move(rec));
  auto& q2 = queues_[tp];  // the wait above may have changed the map
  q2.push_back(b);
  wake();
  return {OutcomeKind::ok};
}

// RecordAccumulator.ready + drain: which partitions have a sendable first
// batch, grouped by leader; then one request per leader, at most one batch
// per partition, within max.request.size.
void Producer::Impl::ready_and_drain(MonoTime now) {
  if (bump_pending()) return;
  // TransactionManager.isSendToPartitionAllowed: only within an open (or
  // committing) transaction, and only to partitions added to it.
  if (transactional_ && txn_state_ != TxnState::in_transaction && txn_state_ != TxnState::committing_transaction)
    return;
  std::map<sim::Address, std::vector<TopicPartition>> by_leader;
  const bool exhausted = !memory_waiters_.empty();
  for (auto& [tp, q] : queues_) {
    if (q.empty()) continue;
    if (transactional_ && !txn_partitions_.count(tp)) continue;
    const BatchPtr& first = q.front();
    auto leader = leader_of(tp);
    if (!leader) {
      metadata_.request_update();
      continue;
    }
    if (first->attempts > 0 && now < first->retry_at) {
      soon(first->retry_at);
      continue;
    }
    const bool full = q.size() > 1 || first->size_bytes >= static_cast<std::size_t>(cfg_.batch_size);
    const MonoTime linger_end = first->created + ms(cfg_.linger_ms);
    if (!full && now < linger_end && flushing_ == 0 && !closing_ && !exhausted) {
      soon(linger_end);
      continue;
    }
    // guaranteeMessageOrder: max.in.flight = 1 mutes a partition with a batch in flight.
    if (cfg_.max_in_flight == 1 && in_flight_per_partition_[tp] > 0) continue;
    if (idempotent_) {
      // Sender/RecordAccumulator.shouldStopDrainBatchesForPartition: a retry
      // goes only when it is the lowest incomplete sequence of its partition.
      auto& s = sequences_[tp];
      if (first->base_sequence >= 0 && !s.incomplete.empty() && *s.incomplete.begin() != first->base_sequence)
        continue;
    }
    by_leader[*leader].push_back(tp);
  }
  for (auto& [addr, tps] : by_leader) {
    const Node node{addr};
    if (!net_.can_send(node, now)) continue;
    std::vector<BatchPtr> batches;
    std::size_t bytes = 0;
    for (const auto& tp : tps) {
      auto& q = queues_[tp];
      BatchPtr b = q.front();
      if (!batches.empty() && bytes + b->size_bytes > static_cast<std::size_t>(cfg_.max_request_size)) break;
      q.pop_front();
      bytes += b->size_bytes;
      if (idempotent_ && b->base_sequence < 0) {
        auto& s = sequences_[tp];
        b->producer_id = producer_id_;
        b->epoch = epoch_;
        b->base_sequence = s.next;
        s.next += b->count();
        s.incomplete.insert(b->base_sequence);
      }
      batches.push_back(std::move(b));
    }
    send_produce(node, std::move(batches));
  }
}

// RecordAccumulator.expiredBatches and Sender.getExpiredInflightBatches:
// delivery.timeout.ms after a batch was created it fails; once an attempt
// was sent its fate is unknown.
void Producer::Impl::expire_batches(MonoTime now) {
  const Duration limit = ms(cfg_.delivery_timeout_ms);
  std::vector<BatchPtr> expired;
  for (auto& [tp, q] : queues_) {
    for (auto it = q.begin(); it != q.end();) {
      if (now >= (*it)->created + limit) {
        expired.push_back(*it);
        it = q.erase(it);
      } else {
        soon((*it)->created + limit);
        ++it;
      }
    }
  }
  for (const auto& b : in_flight_batches_) {
    if (b->done) continue;
    if (now >= b->created + limit) expired.push_back(b);
    else soon(b->created + limit);
  }
  for (const auto& b : expired) {
    if (written_before(*b)) {
      finish_batch(b, OutcomeKind::ok, ErrorCode::none, -1, {});
      continue;
    }
    const bool unknown = b->maybe_written || b->in_flight;
    finish_batch(b, unknown ? OutcomeKind::info : OutcomeKind::fail, ErrorCode::request_timed_out, -1,
                 fmt::format("Expiring {} record(s) for {}-{}: {} ms has passed since batch creation", b->count(),
                             b->tp.topic, b->tp.partition, cfg_.delivery_timeout_ms));
  }
}

// ------------------------------------------------------------------ Sender

void Producer::Impl::send_produce(const Node& to, std::vector<BatchPtr> batches) {
  p::ProduceRequest req;
  if (transactional_) req.transactional_id = cfg_.transactional_id;
  req.acks = cfg_.acks;
  req.timeout_ms = static_cast<std::int32_t>(cfg_.request_timeout_ms);
  for (const auto& b : batches) {
    if (req.topic_data.empty() || req.topic_data.back().name != b->tp.topic) req.topic_data.emplace_back().name = b->tp.topic;
    p::BatchOptions o;
    o.compression = cfg_.compression;
    o.transactional = transactional_;
    o.producer_id = b->producer_id;
    o.producer_epoch = b->epoch;
    o.base_sequence = b->base_sequence;
    p::BatchBuilder builder(o);
    for (const auto& r : b->records) {
      std::optional<ByteView> key;
      if (r.key) key = as_bytes(*r.key);
      builder.append(r.timestamp_ms, key, as_bytes(r.value));
    }
    auto& pd = req.topic_data.back().partition_data.emplace_back();
    pd.index = PartitionId(b->tp.partition);
    pd.records = p::Records(builder.finish());
    b->in_flight = true;
    ++b->attempts;
    ++in_flight_per_partition_[b->tp];
    in_flight_batches_.insert(b);
    ++stats_.batches_sent;
  }
  ++stats_.produce_requests;
  if (cfg_.acks == 0) {
    // No answer comes (the request is not "expecting a response"): each
    // send completes now, its fate unknown.
    net_.send(to, req, k_produce_version, false, {});
    for (const auto& b : batches) {
      b->maybe_written = true;
      complete_batch(b, ErrorCode::none, -1, "acks=0: no acknowledgement");
    }
    return;
  }
  net_.send(to, req, k_produce_version, true, [this, batches](const p::SharedFrame* f, const std::string& why) {
    on_produce_response(batches, f, why);
  });
}

void Producer::Impl::on_produce_response(const std::vector<BatchPtr>& batches, const p::SharedFrame* frame,
                                         const std::string& why) {
  std::optional<p::ProduceResponse> resp;
  if (frame) {
    auto r = p::decode_response_frame<p::ProduceResponse>(*frame, k_produce_version);
    if (r) resp = std::move(r->body);
  }
  for (const auto& b : batches) {
    ErrorCode err = ErrorCode::network_exception;
    std::int64_t base = -1;
    if (resp) {
      err = ErrorCode::unknown_server_error;
      for (const auto& t : resp->responses) {
        if (t.name != b->tp.topic) continue;
        for (const auto& pr : t.partition_responses) {
          if (pr.index.value() != b->tp.partition) continue;
          err = pr.error_code;
          base = pr.base_offset.value();
        }
      }
    }
    complete_batch(b, err, base, resp ? std::string(p::to_string(err)) : why);
  }
}

// TransactionManager.canRetry / Sender.canRetry.
bool Producer::Impl::can_retry(const Batch& b, ErrorCode err) const {
  if (b.attempts > cfg_.retries) return false;
  if (rt_.now() >= b.created + ms(cfg_.delivery_timeout_ms)) return false;
  if (idempotent_) {
    if (b.producer_id != producer_id_ || b.epoch != epoch_) return false;
    // A batch behind one that failed or is being retried: the broker saw a
    // gap; it goes again, in order, once the earlier one is in. The first
    // unacknowledged batch itself: the broker lost the producer's state or
    // never got the batch before; it goes again from sequence 0 under a
    // bumped epoch (complete_batch asks for the bump). Kafka 2.8+'s
    // TransactionManager.canRetry for the idempotent producer.
    if (sequence_error(err)) return true;
  }
  return err == ErrorCode::network_exception || p::is_retriable(err);
}

bool Producer::Impl::written_before(const Batch& b) const {
  if (!idempotent_ || b.base_sequence < 0 || b.producer_id != producer_id_ || b.epoch != epoch_) return false;
  auto it = sequences_.find(b.tp);
  return it != sequences_.end() && b.base_sequence + b.count() - 1 <= it->second.last_acked;
}

bool Producer::Impl::is_next_sequence(const Batch& b) const {
  auto it = sequences_.find(b.tp);
  return it != sequences_.end() && it->second.last_acked + 1 == b.base_sequence;
}

void Producer::Impl::complete_batch(const BatchPtr& b, ErrorCode err, std::int64_t base_offset, const std::string& why) {
  if (b->in_flight) {
    b->in_flight = false;
    in_flight_batches_.erase(b);
    --in_flight_per_partition_[b->tp];
  }
  if (err == ErrorCode::duplicate_sequence_number) err = ErrorCode::none;  // written before
  if (b->done) {
    // Expired while in flight; an answer still tells the sequences.
    if (idempotent_ && err == ErrorCode::none && b->producer_id == producer_id_ && b->epoch == epoch_) {
      auto& s = sequences_[b->tp];
      s.last_acked = std::max(s.last_acked, b->base_sequence + b->count() - 1);
    }
    return;
  }
  if (err == ErrorCode::none) {
    if (cfg_.acks == 0) finish_batch(b, OutcomeKind::info, err, -1, why);
    else finish_batch(b, OutcomeKind::ok, err, base_offset, {});
    return;
  }
  if (written_before(*b)) {
    // A later sequence of this epoch was acknowledged, so this batch is in
    // the log before it; a retry would only meet OUT_OF_ORDER_SEQUENCE_NUMBER
    // (the broker remembers the last 5 batches) until delivery.timeout.ms.
    finish_batch(b, OutcomeKind::ok, ErrorCode::none, -1, {});
    return;
  }
  if (ambiguous(err, cfg_.acks)) b->maybe_written = true;
  if (invalidates_metadata(err)) metadata_.request_update();
  // TransactionManager.requestEpochBumpForPartition: a real gap at the
  // broker (UNKNOWN_PRODUCER_ID, or OUT_OF_ORDER_SEQUENCE_NUMBER for the
  // next sequence) is closed by a new epoch whose sequences start at 0.
  const bool gap = idempotent_ && sequence_error(err) && b->producer_id == producer_id_ && b->epoch == epoch_ &&
                   is_next_sequence(*b);
  if (gap) {
    bump_needed_ = true;
    // TransactionManager.requestEpochBumpForPartition: the bump rewrites
    // this partition's unacknowledged batches under the new epoch.
    if (!transactional_) partitions_to_rewrite_.insert(b->tp);
  }
  // A transactional producer's gap is closed by aborting and a new epoch
  // from the coordinator: the batch fails (finish_batch makes the
  // transaction abortable).
  if (!(transactional_ && gap) && can_retry(*b, err)) {
    ++stats_.batches_retried;
    b->retry_at = rt_.now() + ms(cfg_.retry_backoff_ms);
    reenqueue(b);
    return;
  }
  finish_batch(b, b->maybe_written ? OutcomeKind::info : OutcomeKind::fail, err, -1, why);
}

// RecordAccumulator.reenqueue: at the front (so without idempotence a
// retry goes after batches sent since: the reordering hazard), or for an
// idempotent producer in sequence order (insertInSequenceOrder).
void Producer::Impl::reenqueue(const BatchPtr& b) {
  auto& q = queues_[b->tp];
  if (!idempotent_ || b->base_sequence < 0) {
    q.push_front(b);
    return;
  }
  auto it = q.begin();
  while (it != q.end() && (*it)->base_sequence >= 0 && (*it)->base_sequence < b->base_sequence) ++it;
  q.insert(it, b);
}

void Producer::Impl::finish_batch(const BatchPtr& b, OutcomeKind kind, ErrorCode err, std::int64_t base_offset,
                                  const std::string& why) {
  SAMSA_ASSERT(!b->done);
  b->done = true;
  if (idempotent_ && b->base_sequence >= 0 && b->producer_id == producer_id_ && b->epoch == epoch_) {
    auto& s = sequences_[b->tp];
    s.incomplete.erase(b->base_sequence);
    if (kind == OutcomeKind::ok) s.last_acked = std::max(s.last_acked, b->base_sequence + b->count() - 1);
    // A batch that failed or whose fate is unknown leaves a gap the broker
    // will not accept past: bump the epoch and start the sequences again
    // (KIP-360; TransactionManager.requestEpochBumpForPartition). With
    // transactions the coordinator bumps it after the abort.
    else if (transactional_) epoch_bump_required_ = true;
    else bump_needed_ = true;
  }
  // TransactionManager.maybeTransitionToErrorState: a failed batch fences
  // (fatal) or makes the open transaction abortable.
  if (transactional_ && kind != OutcomeKind::ok) {
    const std::string msg = fmt::format("a batch to {}-{} failed: {}", b->tp.topic, b->tp.partition, why);
    if (err == ErrorCode::producer_fenced || err == ErrorCode::transactional_id_authorization_failed ||
        err == ErrorCode::cluster_authorization_failed)
      transition_to_fatal(err, msg);
    else
      transition_to_abortable(err, msg);
  }
  release_memory(b->reserved_bytes);
  for (std::size_t i = 0; i < b->records.size(); ++i) {
    auto& r = b->records[i];
    SendOutcome o;
    o.kind = kind;
    o.topic = b->tp.topic;
    o.partition = b->tp.partition;
    // ok without an offset: written, where is unknown (Java's RecordMetadata without one).
    o.offset = kind == OutcomeKind::ok && base_offset >= 0 ? base_offset + static_cast<std::int64_t>(i) : -1;
    o.error = err;
    o.message = why;
    r.state->outcome = o;
    r.state->done = true;
    r.state->event.set();
    --incomplete_records_;
    if (r.callback) r.callback(o);
  }
  if (incomplete_records_ == 0) drained_.notify_all();
}

// ------------------------------------------------------ TransactionManager

// TransactionManager.bumpIdempotentEpochAndResetIdIfNeeded (Kafka 2.8+,
// KIP-360): an idempotent producer bumps its epoch itself, keeping its
// producer id (the broker takes a higher epoch whose first sequence is 0);
// only an exhausted epoch (Short.MAX_VALUE) or no producer id at all asks
// InitProducerId for a new id (resetIdempotentProducerId). samsa bumps once
// nothing is in flight (Java bumps at once, rewrites the in-flight batches
// of the partitions that asked and lets the others finish under the old
// epoch); reset_sequences does the rewrite.
void Producer::Impl::maybe_init_producer_id(MonoTime now) {
  if (transactional_) return;  // init_transactions asks the coordinator
  if (!bump_pending() || init_in_flight_) return;
  if (!in_flight_batches_.empty()) return;
  if (producer_id_ >= 0 && bump_needed_) {
    ++stats_.epoch_bumps;
    if (epoch_ < std::numeric_limits<std::int16_t>::max()) {
      ++epoch_;
      reset_sequences();
      return;
    }
    producer_id_ = -1;  // the epoch is exhausted: a new producer id
    epoch_ = -1;
  }
  if (now < init_retry_at_) {
    soon(init_retry_at_);
    return;
  }
  auto node = ready_least_loaded(now);
  if (!node) return;
  p::InitProducerIdRequest req;
  req.transactional_id.reset();
  req.transaction_timeout_ms = std::numeric_limits<std::int32_t>::max();  // as the Java client sends it
  req.producer_id = p::ProducerId(-1);
  req.producer_epoch = p::ProducerEpoch(-1);
  init_in_flight_ = true;
  ++stats_.init_producer_id_requests;
  net_.send(*node, req, k_init_pid_version, true, [this](const p::SharedFrame* f, const std::string&) {
    init_in_flight_ = false;
    std::optional<p::InitProducerIdResponse> resp;
    if (f) {
      auto r = p::decode_response_frame<p::InitProducerIdResponse>(*f, k_init_pid_version);
      if (r) resp = std::move(r->body);
    }
    if (!resp || resp->error_code != ErrorCode::none) {
      init_retry_at_ = rt_.now() + ms(cfg_.retry_backoff_ms);
      return;
    }
    producer_id_ = resp->producer_id.value();
    epoch_ = resp->producer_epoch.value();
    reset_sequences();
  });
}

// After a bump every partition starts again at sequence 0 under the new
// epoch. In a partition whose sequence error asked for the bump, every
// unacknowledged batch is resent under it with a new sequence, even one an
// earlier attempt of which may be in the log, as the Java client does
// (TransactionManager.bumpIdempotentProducerEpoch rewrites the in-flight
// batches of partitionsToRewriteSequences, TxnPartitionMap.
// startSequencesAtBeginning). The broker cannot tell such a batch is a
// duplicate: if it answered OUT_OF_ORDER_SEQUENCE_NUMBER to a batch it had
// stored (it remembers too few batches: samsa.legacy.dedupe.last.batch.only,
// KAFKA-5494) the batch is stored twice. In the other partitions a batch
// that may be in the log is not resent (Java would finish it under the old
// epoch; samsa bumps only once nothing is in flight): its fate is unknown.
// The others get new sequences when drained.
void Producer::Impl::reset_sequences() {
  bump_needed_ = false;
  sequences_.clear();
  std::vector<BatchPtr> unknown;
  for (auto& [tp, q] : queues_) {
    const bool rewrite = partitions_to_rewrite_.count(tp) > 0;
    for (auto it = q.begin(); it != q.end();) {
      if ((*it)->maybe_written && !rewrite) {
        unknown.push_back(*it);
        it = q.erase(it);
        continue;
      }
      (*it)->base_sequence = -1;
      (*it)->producer_id = -1;
      (*it)->epoch = -1;
      ++it;
    }
  }
  partitions_to_rewrite_.clear();
  for (const auto& b : unknown)
    finish_batch(b, OutcomeKind::info, ErrorCode::out_of_order_sequence_number, -1,
                 "an earlier attempt may be in the log; not resent under the new producer epoch");
  bump_needed_ = false;  // those batches are already of the old epoch
}

// ----------------------------------------------------------- the loop

void Producer::Impl::sender_loop() {
  for (;;) {
    const MonoTime now = rt_.now();
    next_wake_.reset();
    expire_batches(now);
    net_.check_timeouts(now);
    maybe_update_metadata(now);
    maybe_init_producer_id(now);
    // Sender.maybeSendAndPollTransactionalRequest: a transaction that must
    // abort sends nothing more.
    if (transactional_ && (txn_state_ == TxnState::abortable_error || txn_state_ == TxnState::fatal_error ||
                           txn_state_ == TxnState::aborting_transaction))
      abort_undrained_batches(last_error_.error, "the transaction is being aborted: " + last_error_.message);
    ready_and_drain(now);
    if (closing_ && incomplete_records_ == 0 && in_flight_batches_.empty()) break;
    std::optional<MonoTime> until = next_wake_;
    if (until && *until <= now) until = now + ms(1);  // never spin in virtual time
    wake_.wait(until, "producer.sender");
    wake_.reset();
  }
  stopped_flag_ = true;
  stopped_.set();
}

SendFuture Producer::Impl::send(ProducerRecord rec, SendCallback cb) {
  auto state = std::make_shared<detail::SendState>(rt_.parker());
  SendFuture future(state);
  auto fail_now = [&](std::string why, std::int32_t partition = -1) {
    SendOutcome o{OutcomeKind::fail, rec.topic, partition, -1, ErrorCode::none, std::move(why)};
    state->outcome = o;
    state->done = true;
    state->event.set();
    if (cb) cb(o);
    return future;
  };
  if (closing_) return fail_now("Cannot perform operation after producer has been closed");
  if (transactional_) {
    if (auto bad = fail_if_not_ready_for("send")) return fail_now(bad->message);
  }
  const MonoTime deadline = rt_.now() + ms(cfg_.max_block_ms);
  // KafkaProducer.waitOnMetadata.
  metadata_.add_topic(rec.topic);
  std::optional<TopicLayout> l = layout(rec.topic);
  while (!l || (rec.partition && *rec.partition >= l->partitions)) {
    if (rt_.now() >= deadline)
      return fail_now(rec.partition && l ? fmt::format("Partition {} of topic {} with partition count {} is not present in "
                                                       "metadata after {} ms.", *rec.partition, rec.topic, l->partitions, cfg_.max_block_ms)
                                         : fmt::format("Topic {} not present in metadata after {} ms.", rec.topic, cfg_.max_block_ms));
    metadata_.request_update();
    wake();
    meta_waiters_.wait("producer.metadata", deadline);
    l = layout(rec.topic);
  }
  const std::size_t rec_bytes = 21 + rec.value.size() + (rec.key ? rec.key->size() : 0) + k_batch_overhead_bytes;
  if (rec_bytes > static_cast<std::size_t>(cfg_.max_request_size))
    return fail_now(fmt::format("The message is {} bytes when serialized which is larger than {}, which is the value "
                                "of the max.request.size configuration.", rec_bytes, cfg_.max_request_size));
  if (static_cast<std::int64_t>(rec_bytes) > cfg_.buffer_memory)
    return fail_now(fmt::format("The message is {} bytes when serialized which is larger than the total memory buffer "
                                "you have configured with the buffer.memory configuration.", rec_bytes));
  std::optional<p::PartitionId> explicit_partition;
  if (rec.partition) explicit_partition = p::PartitionId(*rec.partition);
  std::optional<ByteView> key;
  if (rec.key) key = as_bytes(*rec.key);
  TopicPartition tp{rec.topic, choose_partition(explicit_partition, *partitioner_, rec.topic, key, *l).value()};
  // TransactionManager.maybeAddPartition: the partition joins the
  // transaction before its first record is queued (the Java client adds it
  // asynchronously and holds the batch back until then).
  if (transactional_) {
    TxnResult added = add_partition(tp);
    if (!added.ok()) return fail_now(added.message, tp.partition);
  }
  Pending pending{rec.key, std::move(rec.value), rec.timestamp_ms.value_or(rt_.wall_ms()), std::move(cb), state};
  ++incomplete_records_;
  bool new_batch = false;
  // KafkaProducer.doSend with abortOnNewBatch: the sticky partitioner
  // moves on when a record would start a new batch.
  SendOutcome r = append(tp, std::move(pending), deadline, &new_batch, !explicit_partition.has_value());
  if (new_batch) {
    partitioner_->on_new_batch(tp.topic, *l, p::PartitionId(tp.partition));
    tp.partition = choose_partition(explicit_partition, *partitioner_, rec.topic, key, *l).value();
    if (transactional_) {
      TxnResult added = add_partition(tp);
      if (!added.ok()) {
        r = {OutcomeKind::fail, tp.topic, tp.partition, -1, added.error, added.message};
        new_batch = false;
      }
    }
    if (new_batch) r = append(tp, std::move(pending), deadline, &new_batch, false);
  }
  if (r.kind == OutcomeKind::fail) {
    --incomplete_records_;
    if (incomplete_records_ == 0) drained_.notify_all();
    state->outcome = r;
    state->done = true;
    state->event.set();
    if (pending.callback) pending.callback(r);
  }
  return future;
}

void Producer::Impl::flush() {
  ++flushing_;
  wake();
  while (incomplete_records_ > 0) drained_.wait("producer.flush");
  --flushing_;
}

void Producer::Impl::close() {
  if (stopped_flag_) return;
  closing_ = true;
  wake();
  stopped_.wait({}, "producer.close");
  net_.close();
}

// ------------------------------------- TransactionManager (transactions)
//
// Kafka 2.8+'s TransactionManager for a transactional.id, with its
// coordinator requests made on the caller's fiber (the Java client queues
// them for the Sender; the order is the same: a partition is added before
// its first batch goes, EndTxn after every batch is done).

// The TxnRequestHandlers' handling of a coordinator's answer.
Producer::Impl::TxnStep Producer::Impl::classify_txn_error(ErrorCode e) {
  switch (e) {
    case ErrorCode::none: return TxnStep::done;
    case ErrorCode::not_coordinator:
    case ErrorCode::coordinator_not_available:
    case ErrorCode::network_exception:
    case ErrorCode::request_timed_out: return TxnStep::find_coordinator;
    case ErrorCode::coordinator_load_in_progress:
    case ErrorCode::concurrent_transactions:
    case ErrorCode::unknown_topic_or_partition:
    case ErrorCode::unstable_offset_commit: return TxnStep::retry;
    // ProducerFencedException, InvalidTxnStateException and the
    // authorization errors end the producer.
    case ErrorCode::producer_fenced:
    case ErrorCode::invalid_producer_epoch:
    case ErrorCode::invalid_txn_state:
    case ErrorCode::transactional_id_authorization_failed:
    case ErrorCode::cluster_authorization_failed:
    case ErrorCode::unsupported_version:
    case ErrorCode::unsupported_for_message_format: return TxnStep::fatal;
    // KIP-360: the coordinator lost the producer id (or a group fenced the
    // member, KIP-447's CommitFailedException): abort, then a new epoch.
    case ErrorCode::invalid_producer_id_mapping:
    case ErrorCode::unknown_producer_id:
    case ErrorCode::unknown_member_id:
    case ErrorCode::illegal_generation:
    case ErrorCode::fenced_instance_id:
    case ErrorCode::topic_authorization_failed:
    case ErrorCode::group_authorization_failed:
    case ErrorCode::operation_not_attempted: return TxnStep::abortable;
    default: return p::is_retriable(e) ? TxnStep::retry : TxnStep::fatal;
  }
}

TxnResult Producer::Impl::txn_error(TxnErrorKind kind, ErrorCode e, std::string message) {
  TxnResult r;
  r.kind = kind;
  r.error = e;
  r.message = std::move(message);
  return r;
}

// TransactionManager.transitionToAbortableError: only from a state where a
// transaction is open (a failure while aborting or after a fatal error
// changes nothing).
void Producer::Impl::transition_to_abortable(ErrorCode e, std::string message) {
  if (txn_state_ != TxnState::in_transaction && txn_state_ != TxnState::committing_transaction &&
      txn_state_ != TxnState::abortable_error)
    return;
  if (txn_state_ != TxnState::abortable_error) last_error_ = txn_error(TxnErrorKind::abortable, e, std::move(message));
  txn_state_ = TxnState::abortable_error;
  wake();
}

void Producer::Impl::transition_to_fatal(ErrorCode e, std::string message) {
  if (txn_state_ == TxnState::fatal_error) return;
  last_error_ = txn_error(TxnErrorKind::fatal, e, std::move(message));
  txn_state_ = TxnState::fatal_error;
  wake();
}

// TransactionManager.failIfNotReadyForSend and the state checks of each call.
std::optional<TxnResult> Producer::Impl::fail_if_not_ready_for(std::string_view what) const {
  auto err = [&](TxnErrorKind k, ErrorCode e, std::string m) {
    TxnResult r;
    r.kind = k;
    r.error = e;
    r.message = std::move(m);
    return std::optional<TxnResult>(std::move(r));
  };
  if (txn_state_ == TxnState::fatal_error || txn_state_ == TxnState::abortable_error)
    return err(last_error_.kind, last_error_.error,
               fmt::format("Cannot perform {} because at least one previous transactional or idempotent request has "
                           "failed with errors: {}", what, last_error_.message));
  if (producer_id_ < 0)
    return err(TxnErrorKind::illegal_state, ErrorCode::none,
               fmt::format("Cannot perform a '{}' before completing a call to initTransactions", what));
  if (txn_state_ != TxnState::in_transaction)
    return err(TxnErrorKind::illegal_state, ErrorCode::none,
               fmt::format("Cannot call {} in state {}", what, to_string(txn_state_)));
  return std::nullopt;
}

// FindCoordinator (key type 1: transaction, 0: group) from any broker.
bool Producer::Impl::find_coordinator(std::int8_t key_type, const std::string& key, MonoTime deadline,
                                      std::optional<sim::Address>& out) {
  p::FindCoordinatorRequest req;
  req.key = key;
  req.key_type = key_type;
  while (rt_.now() < deadline) {
    std::vector<sim::Address> targets = metadata_.nodes();
    if (targets.empty()) targets = cfg_.bootstrap_servers;
    const auto start = static_cast<std::size_t>(rng_.uniform(0, static_cast<std::int64_t>(targets.size()) - 1));
    for (std::size_t i = 0; i < targets.size() && rt_.now() < deadline; ++i) {
      ++stats_.txn_coordinator_requests;
      auto resp = net_.call<p::FindCoordinatorResponse>(Node{targets[(start + i) % targets.size()], k_channel_coordinator},
                                                        req, k_find_coordinator_version, ms(cfg_.request_timeout_ms));
      if (resp && resp->error_code == ErrorCode::none) {
        out = sim::Address{resp->host, static_cast<std::uint16_t>(resp->port)};
        return true;
      }
    }
    rt_.sleep(ms(cfg_.retry_backoff_ms));
  }
  return false;
}

template <class Resp, class Req, class ErrorOf>
TxnResult Producer::Impl::txn_call(std::int8_t key_type, const std::string& key, std::optional<sim::Address>& coordinator,
                                   const Req& req, std::int16_t version, MonoTime deadline, ErrorOf error_of, Resp* out) {
  ErrorCode last = ErrorCode::request_timed_out;
  while (rt_.now() < deadline) {
    if (!coordinator && !find_coordinator(key_type, key, deadline, coordinator)) break;
    ++stats_.txn_coordinator_requests;
    auto resp = net_.call<Resp>(Node{*coordinator, k_channel_coordinator}, req, version, ms(cfg_.request_timeout_ms));
    const ErrorCode e = resp ? error_of(*resp) : ErrorCode::network_exception;
    last = e;
    if (e != ErrorCode::none)
      rt_.log().debug("producer {}: {} to {}: {}", cfg_.client_id, Req::k_name, coordinator->host, p::to_string(e));
    switch (classify_txn_error(e)) {
      case TxnStep::done:
        if (out) *out = std::move(*resp);
        return {};
      case TxnStep::find_coordinator:
        // FindCoordinator again after retry.backoff.ms (a refused or
        // backing-off connection fails at once: no busy loop).
        coordinator.reset();
        rt_.sleep(ms(cfg_.retry_backoff_ms));
        break;
      case TxnStep::retry:
        // Java retries CONCURRENT_TRANSACTIONS after 20 ms when adding partitions; retry.backoff.ms otherwise.
        rt_.sleep(ms(e == ErrorCode::concurrent_transactions ? std::min<std::int64_t>(20, cfg_.retry_backoff_ms)
                                                              : cfg_.retry_backoff_ms));
        break;
      case TxnStep::abortable:
        return txn_error(TxnErrorKind::abortable, e, fmt::format("{} failed: {}", Req::k_name, p::to_string(e)));
      case TxnStep::fatal:
        return txn_error(TxnErrorKind::fatal, e, fmt::format("{} failed: {}", Req::k_name, p::to_string(e)));
    }
  }
  return txn_error(TxnErrorKind::timeout, last,
                   fmt::format("Timeout expired after {} ms while awaiting {}", cfg_.max_block_ms, Req::k_name));
}

// InitProducerId with the transactional.id; `bump` sends the current id
// and epoch (KIP-360: the coordinator bumps the epoch of this producer,
// or fences if another instance took over).
TxnResult Producer::Impl::init_producer_id_txn(MonoTime deadline, bool bump) {
  p::InitProducerIdRequest req;
  req.transactional_id = cfg_.transactional_id;
  req.transaction_timeout_ms = cfg_.transaction_timeout_ms;
  req.producer_id = p::ProducerId(bump ? producer_id_ : -1);
  req.producer_epoch = p::ProducerEpoch(bump ? epoch_ : -1);
  p::InitProducerIdResponse resp;
  TxnResult r = txn_call<p::InitProducerIdResponse>(
      1, cfg_.transactional_id, txn_coordinator_, req, k_init_pid_version, deadline,
      [](const p::InitProducerIdResponse& x) { return x.error_code; }, &resp);
  if (!r.ok()) return r;
  if (bump) ++stats_.txn_epoch_bumps;
  producer_id_ = resp.producer_id.value();
  epoch_ = resp.producer_epoch.value();
  reset_sequences();
  epoch_bump_required_ = false;
  return {};
}

TxnResult Producer::Impl::init_transactions() {
  if (!transactional_)
    return txn_error(TxnErrorKind::illegal_state, ErrorCode::none,
                     "Transactional method invoked on a non-transactional producer.");
  if (txn_state_ != TxnState::uninitialized && txn_state_ != TxnState::initializing)
    return txn_error(TxnErrorKind::illegal_state, ErrorCode::none,
                     fmt::format("Invalid transition attempted from state {} to state INITIALIZING", to_string(txn_state_)));
  txn_state_ = TxnState::initializing;
  TxnResult r = init_producer_id_txn(rt_.now() + ms(cfg_.max_block_ms), false);
  if (r.kind == TxnErrorKind::fatal || r.kind == TxnErrorKind::abortable) {
    transition_to_fatal(r.error, r.message);
    r.kind = TxnErrorKind::fatal;
    return r;
  }
  if (r.ok()) txn_state_ = TxnState::ready;
  return r;  // a timeout may be retried
}

TxnResult Producer::Impl::begin_transaction() {
  if (!transactional_)
    return txn_error(TxnErrorKind::illegal_state, ErrorCode::none,
                     "Transactional method invoked on a non-transactional producer.");
  if (txn_state_ == TxnState::fatal_error || txn_state_ == TxnState::abortable_error) return last_error_;
  if (txn_state_ != TxnState::ready)
    return txn_error(TxnErrorKind::illegal_state, ErrorCode::none,
                     fmt::format("Invalid transition attempted from state {} to state IN_TRANSACTION", to_string(txn_state_)));
  txn_state_ = TxnState::in_transaction;
  txn_partitions_.clear();
  txn_started_ = false;
  commit_sent_ = false;
  last_error_ = {};
  return {};
}

// AddPartitionsToTxn v3 for one partition not yet in the transaction.
TxnResult Producer::Impl::add_partition(const TopicPartition& tp) {
  if (txn_partitions_.count(tp)) return {};
  p::AddPartitionsToTxnRequest req;
  req.v3_and_below_transactional_id = cfg_.transactional_id;
  req.v3_and_below_producer_id = p::ProducerId(producer_id_);
  req.v3_and_below_producer_epoch = p::ProducerEpoch(epoch_);
  req.v3_and_below_topics.push_back({tp.topic, {p::PartitionId(tp.partition)}, {}});
  TxnResult r = txn_call<p::AddPartitionsToTxnResponse>(
      1, cfg_.transactional_id, txn_coordinator_, req, k_add_partitions_version, rt_.now() + ms(cfg_.max_block_ms),
      [](const p::AddPartitionsToTxnResponse& x) {
        if (x.error_code != ErrorCode::none) return x.error_code;
        for (const auto& t : x.results_by_topic_v3_and_below)
          for (const auto& pr : t.results_by_partition)
            if (pr.partition_error_code != ErrorCode::none) return pr.partition_error_code;
        return ErrorCode::none;
      });
  if (r.ok()) {
    txn_partitions_.insert(tp);
    txn_started_ = true;
    return r;
  }
  // A send that cannot add its partition makes the transaction abortable
  // (or ends the producer); a timeout too, as the Java client's expired batch.
  if (r.kind == TxnErrorKind::fatal) transition_to_fatal(r.error, r.message);
  else transition_to_abortable(r.error, r.message);
  if (r.kind != TxnErrorKind::fatal) r.kind = TxnErrorKind::abortable;
  return r;
}

TxnResult Producer::Impl::send_offsets(const std::map<group::TopicPartition, std::int64_t>& offsets,
                                       const ConsumerGroupMetadata& g) {
  if (!transactional_)
    return txn_error(TxnErrorKind::illegal_state, ErrorCode::none,
                     "Transactional method invoked on a non-transactional producer.");
  if (auto bad = fail_if_not_ready_for("sendOffsetsToTransaction")) return *bad;
  const MonoTime deadline = rt_.now() + ms(cfg_.max_block_ms);
  auto on_error = [&](TxnResult r) {
    if (r.kind == TxnErrorKind::fatal) transition_to_fatal(r.error, r.message);
    else if (r.kind == TxnErrorKind::abortable) transition_to_abortable(r.error, r.message);
    return r;
  };
  p::AddOffsetsToTxnRequest add;
  add.transactional_id = cfg_.transactional_id;
  add.producer_id = p::ProducerId(producer_id_);
  add.producer_epoch = p::ProducerEpoch(epoch_);
  add.group_id = g.group_id;
  TxnResult r = txn_call<p::AddOffsetsToTxnResponse>(1, cfg_.transactional_id, txn_coordinator_, add, k_add_offsets_version,
                                                     deadline, [](const p::AddOffsetsToTxnResponse& x) { return x.error_code; });
  if (!r.ok()) return on_error(std::move(r));
  txn_started_ = true;
  // TxnOffsetCommit v3 (KIP-447): the group coordinator checks generation and member.
  p::TxnOffsetCommitRequest req;
  req.transactional_id = cfg_.transactional_id;
  req.group_id = g.group_id;
  req.producer_id = p::ProducerId(producer_id_);
  req.producer_epoch = p::ProducerEpoch(epoch_);
  req.generation_id = p::GenerationId(g.generation_id);
  req.member_id = g.member_id;
  req.group_instance_id = g.group_instance_id;
  for (const auto& [tp, off] : offsets) {
    if (req.topics.empty() || req.topics.back().name != tp.topic) req.topics.emplace_back().name = tp.topic;
    auto& part = req.topics.back().partitions.emplace_back();
    part.partition_index = tp.partition;
    part.committed_offset = p::Offset(off);
    part.committed_metadata = "";
  }
  if (group_coordinator_key_ != g.group_id) group_coordinator_.reset();
  group_coordinator_key_ = g.group_id;
  r = txn_call<p::TxnOffsetCommitResponse>(0, g.group_id, group_coordinator_, req, k_txn_offset_commit_version, deadline,
                                           [](const p::TxnOffsetCommitResponse& x) {
                                             for (const auto& t : x.topics)
                                               for (const auto& pr : t.partitions)
                                                 if (pr.error_code != ErrorCode::none) return pr.error_code;
                                             return ErrorCode::none;
                                           });
  if (!r.ok()) return on_error(std::move(r));
  return {};
}

// Drops the batches not in flight (RecordAccumulator.abortUndrainedBatches).
void Producer::Impl::abort_undrained_batches(ErrorCode e, const std::string& why) {
  std::vector<BatchPtr> dropped;
  for (auto& [tp, q] : queues_) {
    for (const auto& b : q) dropped.push_back(b);
    q.clear();
  }
  for (const auto& b : dropped)
    finish_batch(b, b->maybe_written ? OutcomeKind::info : OutcomeKind::fail,
                 e == ErrorCode::none ? ErrorCode::operation_not_attempted : e, -1, why);
}

void Producer::Impl::wait_in_flight() {
  wake();
  while (incomplete_records_ > 0) drained_.wait("producer.txn.drain");
}

// NetworkClient's ApiVersions and NodeApiVersions.latestUsableVersion(EndTxn):
// a coordinator that serves EndTxn only up to v4 (Kafka before KIP-890 part
// 2, or samsa.legacy.no.epoch.bump.per.transaction) gets v4, whose answer
// carries no epoch: the producer keeps its id and epoch across
// transactions. Asked once per coordinator; without an answer, v5.
std::int16_t Producer::Impl::end_txn_version(MonoTime deadline) {
  if (!txn_coordinator_ && !find_coordinator(1, cfg_.transactional_id, deadline, txn_coordinator_))
    return k_end_txn_version;
  if (end_txn_version_ && end_txn_version_->first == *txn_coordinator_) return end_txn_version_->second;
  p::ApiVersionsRequest req;
  req.client_software_name = "samsa";
  req.client_software_version = "1";
  auto resp = net_.call<p::ApiVersionsResponse>(Node{*txn_coordinator_, k_channel_coordinator}, req, 3,
                                                ms(cfg_.request_timeout_ms));
  if (!resp || resp->error_code != ErrorCode::none) return k_end_txn_version;
  std::int16_t v = k_end_txn_version;
  for (const auto& a : resp->api_keys)
    if (a.api_key == static_cast<std::int16_t>(p::ApiKey::end_txn)) v = std::min(v, a.max_version);
  end_txn_version_.emplace(*txn_coordinator_, v);
  return v;
}

TxnResult Producer::Impl::end_txn(bool commit, MonoTime deadline) {
  if (!txn_started_) return {};  // nothing was added: the coordinator knows no transaction
  p::EndTxnRequest req;
  req.transactional_id = cfg_.transactional_id;
  req.producer_id = p::ProducerId(producer_id_);
  req.producer_epoch = p::ProducerEpoch(epoch_);
  req.committed = commit;
  if (commit) commit_sent_ = true;
  p::EndTxnResponse resp;
  TxnResult r = txn_call<p::EndTxnResponse>(1, cfg_.transactional_id, txn_coordinator_, req, end_txn_version(deadline),
                                            deadline, [](const p::EndTxnResponse& x) { return x.error_code; }, &resp);
  // TransactionManager.EndTxnHandler (transaction version 2): the next
  // transaction runs under the producer id and epoch the coordinator gave
  // back, its sequences from 0. A coordinator without the bump (the
  // legacy switch) answers the epoch unchanged.
  if (r.ok() && !resp.producer_id.is_none() && !resp.producer_epoch.is_none() &&
      (resp.producer_id.value() != producer_id_ || resp.producer_epoch.value() != epoch_)) {
    producer_id_ = resp.producer_id.value();
    epoch_ = resp.producer_epoch.value();
    ++stats_.txn_end_epoch_bumps;
    reset_sequences();
  }
  return r;
}

TxnResult Producer::Impl::commit_transaction() {
  if (!transactional_)
    return txn_error(TxnErrorKind::illegal_state, ErrorCode::none,
                     "Transactional method invoked on a non-transactional producer.");
  if (txn_state_ == TxnState::fatal_error || txn_state_ == TxnState::abortable_error) {
    TxnResult r = last_error_;
    r.message = "Cannot commit transaction: " + r.message;
    r.maybe_committed = commit_sent_;
    return r;
  }
  if (txn_state_ != TxnState::in_transaction && txn_state_ != TxnState::committing_transaction)
    return txn_error(TxnErrorKind::illegal_state, ErrorCode::none,
                     fmt::format("Invalid transition attempted from state {} to state COMMITTING_TRANSACTION",
                                 to_string(txn_state_)));
  const MonoTime deadline = rt_.now() + ms(cfg_.max_block_ms);
  txn_state_ = TxnState::committing_transaction;
  // KafkaProducer.commitTransaction flushes; a failed batch makes it abortable.
  ++flushing_;
  wake();
  while (incomplete_records_ > 0 && rt_.now() < deadline) drained_.wait("producer.txn.flush", deadline);
  --flushing_;
  if (txn_state_ != TxnState::committing_transaction) {
    TxnResult r = last_error_;
    r.message = "Cannot commit transaction: " + r.message;
    return r;
  }
  if (incomplete_records_ > 0)
    return txn_error(TxnErrorKind::timeout, ErrorCode::request_timed_out,
                     fmt::format("Timeout expired after {} ms while awaiting the records of the transaction", cfg_.max_block_ms));
  TxnResult r = end_txn(true, deadline);
  r.maybe_committed = commit_sent_;
  if (r.ok()) {
    ++stats_.txn_commits;
    txn_state_ = TxnState::ready;
    return r;
  }
  if (r.kind == TxnErrorKind::fatal) transition_to_fatal(r.error, r.message);
  else if (r.kind == TxnErrorKind::abortable) {
    transition_to_abortable(r.error, r.message);
    epoch_bump_required_ = true;
  }
  return r;
}

TxnResult Producer::Impl::abort_transaction() {
  if (!transactional_)
    return txn_error(TxnErrorKind::illegal_state, ErrorCode::none,
                     "Transactional method invoked on a non-transactional producer.");
  if (txn_state_ == TxnState::fatal_error) return last_error_;
  if (txn_state_ != TxnState::in_transaction && txn_state_ != TxnState::abortable_error &&
      txn_state_ != TxnState::aborting_transaction)
    return txn_error(TxnErrorKind::illegal_state, ErrorCode::none,
                     fmt::format("Invalid transition attempted from state {} to state ABORTING_TRANSACTION",
                                 to_string(txn_state_)));
  const MonoTime deadline = rt_.now() + ms(cfg_.max_block_ms);
  const bool pid_lost = last_error_.error == ErrorCode::invalid_producer_id_mapping;
  txn_state_ = TxnState::aborting_transaction;
  abort_undrained_batches(last_error_.error, "the transaction is being aborted");
  wait_in_flight();
  // KIP-360: after INVALID_PRODUCER_ID_MAPPING the coordinator takes no
  // EndTxn; InitProducerId alone ends the transaction.
  TxnResult r = pid_lost ? TxnResult{} : end_txn(false, deadline);
  if (r.ok() && (epoch_bump_required_ || pid_lost)) r = init_producer_id_txn(deadline, true);
  if (r.ok()) {
    ++stats_.txn_aborts;
    txn_state_ = TxnState::ready;
    last_error_ = {};
    txn_partitions_.clear();
    return r;
  }
  if (r.kind == TxnErrorKind::fatal || r.kind == TxnErrorKind::abortable) {
    r.kind = TxnErrorKind::fatal;  // an abort that cannot finish ends the producer
    transition_to_fatal(r.error, r.message);
  }
  return r;  // a timeout: abortTransaction may be called again
}

// ------------------------------------------------------------ Producer

Result<std::unique_ptr<Producer>, ConfigError> Producer::create(sim::Runtime& rt,
                                                                const std::map<std::string, std::string>& props) {
  auto cfg = parse_producer_config(props);
  if (!cfg) return Err{cfg.error()};
  return std::make_unique<Producer>(rt, std::move(cfg).value());
}

Producer::Producer(sim::Runtime& rt, ProducerConfig config) : impl_(std::make_unique<Impl>(rt, std::move(config))) {}
Producer::~Producer() = default;
SendFuture Producer::send(ProducerRecord record, SendCallback callback) {
  return impl_->send(std::move(record), std::move(callback));
}
void Producer::flush() { impl_->flush(); }
void Producer::close() { impl_->close(); }
const ProducerConfig& Producer::config() const { return impl_->cfg_; }
const ProducerStats& Producer::stats() const {
  impl_->stats_.disconnects = impl_->disconnects();
  return impl_->stats_;
}
TxnResult Producer::init_transactions() { return impl_->init_transactions(); }
TxnResult Producer::begin_transaction() { return impl_->begin_transaction(); }
TxnResult Producer::send_offsets_to_transaction(const std::map<group::TopicPartition, std::int64_t>& offsets,
                                                const ConsumerGroupMetadata& group) {
  return impl_->send_offsets(offsets, group);
}
TxnResult Producer::commit_transaction() { return impl_->commit_transaction(); }
TxnResult Producer::abort_transaction() { return impl_->abort_transaction(); }
TxnState Producer::transaction_state() const { return impl_->txn_state_; }
std::pair<std::int64_t, std::int16_t> Producer::producer_id_and_epoch() const {
  return {impl_->producer_id_, impl_->epoch_};
}

}  // namespace samsa::client
