#include "system/broker/txn_service.h"

#include "system/broker/admin.h"
#include "system/broker/find_coordinator.h"
#include "system/broker/group/group_service.h"
#include "system/broker/group/offsets_records.h"
#include "system/broker/server.h"
#include "system/broker/txn/transaction_log.h"
#include "system/protocol/record_batch.h"

namespace samsa::broker {

using namespace protocol;
using txn::TxnAnswer;
using txn::TxnLogAppend;
using txn::TxnMarkers;
using txn::TxnPartitions;
using txn::TxnStep;

namespace {

txn::TxnCoordinatorConfig coordinator_config(const BrokerConfig& c) {
  return txn::TxnCoordinatorConfig{c.transaction_max_timeout_ms, c.transaction_state_log_num_partitions,
                                   !c.legacy.no_epoch_bump_per_transaction, c.transactional_id_expiration_ms};
}

const std::string k_txn_topic(txn::k_transaction_state_topic);

constexpr auto k_marker_retry = std::chrono::milliseconds(100);

}  // namespace

TxnService::TxnService(sim::Runtime& rt, const BrokerConfig& config, std::shared_ptr<ReplicaManager> rm,
                       std::shared_ptr<AdminContext> admin)
    : rt_(rt), config_(config), rm_(std::move(rm)), admin_(std::move(admin)), coordinator_(coordinator_config(config)) {}

// --- __transaction_state ---------------------------------------------------------------------------

void TxnService::on_leadership_change() {
  const std::int32_t n = config_.transaction_state_log_num_partitions;
  for (std::int32_t p = 0; p < n; ++p) {
    auto part = rm_->partition(TopicPartition{k_txn_topic, PartitionId(p)});
    const bool leading = part && part->is_leader();
    auto& s = partitions_[p];
    if (leading == s.leading) continue;
    s.leading = leading;
    ++s.generation;
    if (leading) {
      // The coordinator epoch is the partition's leader epoch (onElection).
      const std::int32_t epoch = part->leader_epoch().value();
      coordinator_.begin_load(p, epoch);
      const std::uint64_t gen = s.generation;
      rt_.spawn(fmt::format("txn-load-{}", p),
                [self = shared_from_this(), p, gen, epoch] { self->load_partition(p, gen, epoch); });
    } else {
      ++stats_.unloads;
      coordinator_.unload(p);
    }
  }
}

// TransactionStateManager.loadTransactionsForTxnTopicPartition: the log from
// its start to its end as it was when loading began; the last record of
// each transactional id wins.
void TxnService::load_partition(std::int32_t partition, std::uint64_t generation, std::int32_t coordinator_epoch) {
  auto part = rm_->partition(TopicPartition{k_txn_topic, PartitionId(partition)});
  if (!part) return;
  std::map<std::string, std::optional<txn::TxnTransit>> loaded;
  {
    PartitionLock lock(*part);
    const std::int64_t end = part->log_end_offset().value();
    std::int64_t offset = part->log_start_offset().value();
    while (offset < end) {
      auto read = part->log().read(offset, 5 * 1024 * 1024);  // transaction.state.log.load.buffer.size
      if (!read || read->records.empty()) break;
      BatchReader batches(read->records);
      std::int64_t next = offset;
      while (auto b = batches.next()) {
        next = b->header.next_offset();
        if (b->header.is_control()) continue;
        auto it = RecordIterator::open(b->bytes);
        if (!it) continue;
        for (;;) {
          auto r = it->next();
          if (!r || *r == nullptr) break;
          if ((*r)->offset < offset || (*r)->offset >= end || !(*r)->key) continue;
          auto key = txn::decode_txn_key(*(*r)->key);
          if (!key) continue;  // Kafka throws on an unknown version; we skip the record
          if (!(*r)->value) {
            loaded[*key] = std::nullopt;
            continue;
          }
          auto value = txn::decode_txn_value(*(*r)->value);
          if (value) loaded[*key] = *value;
        }
      }
      if (next <= offset) break;
      offset = next;
    }
  }
  auto& s = partitions_[partition];
  if (s.generation != generation || !s.leading) return;  // leadership moved while reading
  auto resend = coordinator_.complete_load(partition, coordinator_epoch, loaded, now_ms());
  ++stats_.loads;
  rt_.log().info("txn coordinator: loaded {}-{} ({} transactional ids, {} to complete)", k_txn_topic, partition,
                 loaded.size(), resend.size());
  for (auto& m : resend)
    rt_.spawn("txn-markers", [self = shared_from_this(), m = std::move(m)] { self->send_markers(m); });
}

ErrorCode TxnService::append(const TxnLogAppend& a) {
  ++stats_.appends;
  BatchBuilder b(BatchOptions{});
  const Bytes key = txn::encode_txn_key(a.transactional_id);
  if (a.transit.state == txn::TxnState::dead) {
    b.append(rt_.wall_ms(), ByteView(key), std::nullopt);  // the tombstone of an expired id
  } else {
    // TransactionLog.valueToBytes with the coordinator's transaction
    // version: value v1 from TV_1 on (Kafka 4.0), v0 before (the legacy switch).
    const Bytes value = txn::encode_txn_value(a.transit, config_.legacy.no_epoch_bump_per_transaction ? 0 : 1);
    b.append(rt_.wall_ms(), ByteView(key), ByteView(value));
  }
  ProduceRequest req;
  req.acks = -1;  // TransactionLog.EnforcedRequiredAcks
  req.timeout_ms = config_.request_timeout_ms;
  auto& t = req.topic_data.emplace_back();
  t.name = k_txn_topic;
  auto& p = t.partition_data.emplace_back();
  p.index = PartitionId(a.partition);
  p.records = Records(b.finish());
  auto resp = rm_->produce(req, 8);
  ErrorCode e = ErrorCode::unknown_server_error;
  if (resp && !resp->responses.empty() && !resp->responses[0].partition_responses.empty())
    e = resp->responses[0].partition_responses[0].error_code;
  if (e != ErrorCode::none) ++stats_.append_failures;
  return e;
}

std::optional<TxnAnswer> TxnService::append_and_apply(TxnLogAppend a) {
  for (;;) {
    const ErrorCode e = append(a);
    txn::AppendOutcome o = coordinator_.append_done(a, e, now_ms());
    if (a.kind == txn::AppendFor::complete && e == ErrorCode::none) ++stats_.completed;
    if (o.markers)
      rt_.spawn("txn-markers", [self = shared_from_this(), m = std::move(*o.markers)] { self->send_markers(m); });
    if (!o.retry) return o.answer;
    rt_.sleep(k_marker_retry);  // COORDINATOR_NOT_AVAILABLE of a completion: try again
    a = *o.retry;
  }
}

TxnAnswer TxnService::finish(TxnStep step) {
  if (step.answer) return *step.answer;
  SAMSA_ASSERT(step.append.has_value(), "a step answers or appends");
  auto answer = append_and_apply(std::move(*step.append));
  SAMSA_ASSERT(answer.has_value(), "a request's append answers it");
  return *answer;
}

// --- markers (TransactionMarkerChannelManager) --------------------------------------------------------

void TxnService::send_markers(TxnMarkers m) {
  TxnPartitions pending = m.partitions;
  const std::int32_t txn_partition = coordinator_.partition_for(m.transactional_id);
  while (!pending.empty()) {
    if (!coordinator_.owns(txn_partition)) return;  // the new coordinator sends them
    std::map<BrokerId, TxnPartitions> by_leader;
    for (auto it = pending.begin(); it != pending.end();) {
      const ControlPartitionState* s = rm_->metadata().partition(TopicPartition{it->topic, it->partition});
      if (s == nullptr && !rm_->metadata().has_topic(it->topic)) {
        it = pending.erase(it);  // the topic was deleted: no marker is due there
        continue;
      }
      if (s != nullptr && !s->leader.is_none()) by_leader[s->leader].insert(*it);
      ++it;
    }
    bool aborted = false;
    for (const auto& [leader, parts] : by_leader) {
      TxnMarkers batch = m;
      batch.partitions = parts;
      if (!write_markers(leader, batch, pending)) aborted = true;
    }
    // INVALID_PRODUCER_EPOCH / TRANSACTION_COORDINATOR_FENCED: a newer
    // producer or coordinator owns the transaction now; stop.
    if (aborted) return;
    if (!pending.empty()) {
      ++stats_.marker_retries;
      rt_.sleep(k_marker_retry);
    }
  }
  if (auto a = coordinator_.markers_done(m)) (void)append_and_apply(std::move(*a));
}

bool TxnService::write_markers(BrokerId leader, const TxnMarkers& m, TxnPartitions& pending) {
  const ControlRecord marker{m.result == txn::TxnResult::commit ? ControlType::commit : ControlType::abort,
                             m.coordinator_epoch};
  const auto timeout = std::chrono::milliseconds(config_.request_timeout_ms);
  // The per-partition answer, however it was written.
  auto settle = [&](const txn::TxnPartition& tp, ErrorCode e) {
    switch (e) {
      case ErrorCode::none:
        ++stats_.markers_sent;
        pending.erase(tp);
        return true;
      case ErrorCode::invalid_producer_epoch:
      case ErrorCode::transaction_coordinator_fenced:
        return false;
      case ErrorCode::unsupported_for_message_format:
        pending.erase(tp);
        return true;
      default:  // NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT ...: again later
        return true;
    }
  };
  bool go_on = true;
  if (leader == rm_->self()) {
    for (const auto& tp : m.partitions)
      go_on = settle(tp, write_marker_here(TopicPartition{tp.topic, tp.partition}, m.producer_id, m.producer_epoch,
                                           marker)) && go_on;
    return go_on;
  }
  const auto ep = rm_->metadata().endpoint(leader);
  if (!ep) return true;
  auto c = rt_.net().connect(sim::Address{ep->host, ep->port}, rt_.deadline_after(timeout));
  if (!c) return true;
  WriteTxnMarkersRequest req;
  auto& wm = req.markers.emplace_back();
  wm.producer_id = m.producer_id;
  wm.producer_epoch = m.producer_epoch;
  wm.transaction_result = m.result == txn::TxnResult::commit;
  wm.coordinator_epoch = m.coordinator_epoch;
  for (const auto& tp : m.partitions) {
    if (wm.topics.empty() || wm.topics.back().name != tp.topic) wm.topics.push_back({tp.topic, {}, {}});
    wm.topics.back().partition_indexes.push_back(tp.partition);
  }
  RequestHeader h;
  h.api_key = ApiKey::write_txn_markers;
  h.api_version = 0;
  h.correlation_id = ++correlation_;
  h.client_id = fmt::format("broker-{}-txn-markers", rm_->self());
  auto conn = std::move(*c);
  std::optional<WriteTxnMarkersResponse> resp;
  if (conn->send(encode_request_frame(h, req))) {
    if (auto frame = conn->recv(rt_.deadline_after(timeout))) {
      auto r = decode_response_frame<WriteTxnMarkersResponse>(share_frame(std::move(*frame)), 0);
      if (r && r->correlation_id == h.correlation_id) resp = std::move(r->body);
    }
  }
  conn->close();
  if (!resp) return true;  // a broken connection: every partition again
  for (const auto& mr : resp->markers)
    for (const auto& t : mr.topics)
      for (const auto& p : t.partitions) go_on = settle({t.name, p.partition_index}, p.error_code) && go_on;
  return go_on;
}

ErrorCode TxnService::write_marker_here(const TopicPartition& tp, ProducerId id, ProducerEpoch epoch,
                                        ControlRecord marker) {
  const ErrorCode e = rm_->append_txn_marker(tp, id, epoch, marker,
                                             std::chrono::milliseconds(config_.request_timeout_ms));
  if (e == ErrorCode::none && tp.topic == group::k_offsets_topic && offsets_marker_)
    offsets_marker_(tp.partition.value(), id, marker.type == ControlType::commit);
  return e;
}

void TxnService::run_timers() {
  const auto interval = std::chrono::milliseconds(config_.transaction_abort_timed_out_transaction_cleanup_interval_ms);
  const auto expire_interval =
      std::chrono::milliseconds(config_.transaction_remove_expired_transaction_cleanup_interval_ms);
  // transaction.remove.expired.transaction.cleanup.interval.ms, checked on
  // the abort timer's ticks (no timer of its own: one fewer wake-up).
  auto next_expire = rt_.now() + expire_interval;
  for (;;) {
    rt_.sleep(interval);
    for (auto& a : coordinator_.abort_timed_out(now_ms())) {
      ++stats_.timed_out;
      rt_.spawn("txn-timeout-abort", [self = shared_from_this(), a = std::move(a)] { (void)self->append_and_apply(a); });
    }
    if (rt_.now() < next_expire) continue;
    next_expire = rt_.now() + expire_interval;
    for (auto& a : coordinator_.expire_transactional_ids(now_ms())) {
      ++stats_.expired;
      rt_.spawn("txn-expire", [self = shared_from_this(), a = std::move(a)] { (void)self->append_and_apply(a); });
    }
  }
}

// --- the APIs -------------------------------------------------------------------------------------------

std::pair<ErrorCode, BrokerId> TxnService::coordinator_for(std::string_view transactional_id) {
  auto make_topic = [this] {  // as Kafka's TransactionLog creates it
    NewTopic t;
    t.name = k_txn_topic;
    t.num_partitions = config_.transaction_state_log_num_partitions;
    t.replication_factor = config_.transaction_state_log_replication_factor;
    t.configs = {{"cleanup.policy", "compact"},
                 {"compression.type", "uncompressed"},
                 {"min.insync.replicas", std::to_string(config_.transaction_state_log_min_isr)},
                 {"segment.bytes", std::to_string(config_.transaction_state_log_segment_bytes)},
                 {"unclean.leader.election.enable", "false"}};
    return t;
  };
  return rm_->internal_partition_leader(std::string(k_txn_topic),
                                        PartitionId(coordinator_.partition_for(transactional_id)), make_topic,
                                        admin_->rng);
}

FindCoordinatorResponse TxnService::find_coordinator(const RequestHeader& h, const FindCoordinatorRequest& r) {
  return find_coordinator_response(h, r, rm_->metadata(), [this](const std::string& key) { return coordinator_for(key); });
}

std::optional<ProducerId> TxnService::new_producer_id() {
  coord::Client* c = rm_->coordinator();
  if (c == nullptr) return std::nullopt;
  auto id = admin_->producer_ids.generate(*c);
  if (!id) return std::nullopt;
  return *id;
}

InitProducerIdResponse TxnService::init_producer_id(const RequestHeader& h, const InitProducerIdRequest& r) {
  InitProducerIdResponse resp;
  resp.producer_id = ProducerId::none();
  resp.producer_epoch = ProducerEpoch::none();
  const std::string id = r.transactional_id.value_or("");
  std::optional<txn::ProducerIdAndEpoch> expected;
  if (h.api_version >= 3 && !r.producer_id.is_none()) expected = txn::ProducerIdAndEpoch{r.producer_id, r.producer_epoch};
  // The id generator parks (a block from the coordinator), the pure
  // coordinator must not: take one first if this call may need it.
  std::optional<ProducerId> fresh;
  const txn::TransactionMetadata* m = coordinator_.metadata(id);
  if (m == nullptr || m->is_producer_epoch_exhausted()) {
    fresh = new_producer_id();
    if (!fresh) {
      resp.error_code = ErrorCode::coordinator_not_available;
      return resp;
    }
  }
  bool used = false;
  auto ids = [&] {
    SAMSA_ASSERT(fresh.has_value() && !used, "one producer id taken ahead for this call");
    used = true;
    return *fresh;
  };
  const TxnAnswer a = finish(coordinator_.init_producer_id(id, r.transaction_timeout_ms, expected, ids, now_ms()));
  resp.error_code = a.error;
  if (a.error == ErrorCode::none) {
    resp.producer_id = a.producer_id;
    resp.producer_epoch = a.producer_epoch;
  }
  return resp;
}

ErrorCode TxnService::verify_partition(const std::string& transactional_id, ProducerId id, ProducerEpoch epoch,
                                       const TopicPartition& tp) {
  const txn::TxnPartition part{tp.topic, tp.partition};
  auto [error, leader] = coordinator_for(transactional_id);
  if (error != ErrorCode::none) return error;
  if (leader == rm_->self()) return coordinator_.verify_partitions(transactional_id, id, epoch, {part}).at(part);
  const auto ep = rm_->metadata().endpoint(leader);
  if (!ep) return ErrorCode::coordinator_not_available;
  const auto timeout = std::chrono::milliseconds(config_.request_timeout_ms);
  auto c = rt_.net().connect(sim::Address{ep->host, ep->port}, rt_.deadline_after(timeout));
  if (!c) return ErrorCode::coordinator_not_available;
  AddPartitionsToTxnRequest req;
  auto& t = req.transactions.emplace_back();
  t.transactional_id = transactional_id;
  t.producer_id = id;
  t.producer_epoch = epoch;
  t.verify_only = true;
  t.topics.push_back({tp.topic, {tp.partition}, {}});
  RequestHeader h;
  h.api_key = ApiKey::add_partitions_to_txn;
  h.api_version = 4;
  h.correlation_id = ++correlation_;
  h.client_id = fmt::format("broker-{}-txn-verification", rm_->self());
  auto conn = std::move(*c);
  ErrorCode out = ErrorCode::coordinator_not_available;
  if (conn->send(encode_request_frame(h, req))) {
    if (auto frame = conn->recv(rt_.deadline_after(timeout))) {
      auto r = decode_response_frame<AddPartitionsToTxnResponse>(share_frame(std::move(*frame)), 4);
      if (r && r->correlation_id == h.correlation_id) {
        out = r->body.error_code;
        for (const auto& res : r->body.results_by_transaction)
          for (const auto& tr : res.topic_results)
            for (const auto& pr : tr.results_by_partition)
              if (out == ErrorCode::none) out = pr.partition_error_code;
      }
    }
  }
  conn->close();
  return out;
}

AddPartitionsToTxnResponse TxnService::add_partitions_to_txn(const RequestHeader& h, const AddPartitionsToTxnRequest& r) {
  if (h.api_version >= 4) {
    // From another broker (KIP-890): batches of transactions; VerifyOnly
    // checks, the others add as the v3 path does.
    AddPartitionsToTxnResponse resp;
    for (const auto& t : r.transactions) {
      TxnPartitions parts;
      for (const auto& tp : t.topics)
        for (PartitionId p : tp.partitions) parts.insert({tp.name, p});
      std::map<txn::TxnPartition, ErrorCode> verdicts;
      if (t.verify_only) {
        verdicts = coordinator_.verify_partitions(t.transactional_id, t.producer_id, t.producer_epoch, parts);
      } else {
        const ErrorCode e =
            finish(coordinator_.add_partitions(t.transactional_id, t.producer_id, t.producer_epoch, parts, now_ms())).error;
        for (const auto& p : parts) verdicts[p] = e;
      }
      auto& res = resp.results_by_transaction.emplace_back();
      res.transactional_id = t.transactional_id;
      for (const auto& [p, e] : verdicts) {
        if (res.topic_results.empty() || res.topic_results.back().name != p.topic)
          res.topic_results.push_back({p.topic, {}, {}});
        res.topic_results.back().results_by_partition.push_back({p.partition, e, {}});
      }
    }
    return resp;
  }
  // Versions 0-3: one transaction, from its producer.
  TxnPartitions parts;
  bool unknown = false;
  for (const auto& t : r.v3_and_below_topics)
    for (PartitionId p : t.partitions) {
      parts.insert({t.name, p});
      if (!rm_->metadata().partition(TopicPartition{t.name, p})) unknown = true;
    }
  ErrorCode error = ErrorCode::none;
  AddPartitionsToTxnResponse resp;
  if (!unknown) {
    error = finish(coordinator_.add_partitions(r.v3_and_below_transactional_id, r.v3_and_below_producer_id,
                                               r.v3_and_below_producer_epoch, parts, now_ms()))
                .error;
  }
  for (const auto& t : r.v3_and_below_topics) {
    auto& tr = resp.results_by_topic_v3_and_below.emplace_back();
    tr.name = t.name;
    for (PartitionId p : t.partitions) {
      // KafkaApis: unknown partitions get UNKNOWN_TOPIC_OR_PARTITION, the
      // others OPERATION_NOT_ATTEMPTED.
      ErrorCode e = error;
      if (unknown)
        e = rm_->metadata().partition(TopicPartition{t.name, p}) ? ErrorCode::operation_not_attempted
                                                                 : ErrorCode::unknown_topic_or_partition;
      tr.results_by_partition.push_back({p, e, {}});
    }
  }
  return resp;
}

ErrorCode TxnService::verify_offset_commit(const TxnOffsetCommitRequest& r) {
  if (config_.legacy.no_implicit_add_partitions) return ErrorCode::none;
  const TopicPartition tp{std::string(group::k_offsets_topic),
                          PartitionId(group::offsets_partition_for(r.group_id, config_.offsets_topic_num_partitions))};
  if (auto part = rm_->partition(tp)) {
    PartitionLock lock(*part);
    if (part->is_leader() && part->transactions().open_transaction(r.producer_id)) return ErrorCode::none;
  }
  const ErrorCode e = verify_partition(r.transactional_id, r.producer_id, r.producer_epoch, tp);
  switch (e) {
    case ErrorCode::coordinator_load_in_progress:
    case ErrorCode::coordinator_not_available:
    case ErrorCode::not_coordinator:
      return ErrorCode::concurrent_transactions;  // retriable for the producer; the group coordinator is fine
    default:
      return e;  // NONE, INVALID_TXN_STATE (not in the transaction), PRODUCER_FENCED ...
  }
}

AddOffsetsToTxnResponse TxnService::add_offsets_to_txn(const RequestHeader&, const AddOffsetsToTxnRequest& r) {
  // The group's __consumer_offsets partition joins the transaction (KIP-98).
  const PartitionId offsets_partition(group::offsets_partition_for(r.group_id, config_.offsets_topic_num_partitions));
  AddOffsetsToTxnResponse resp;
  resp.error_code = finish(coordinator_.add_partitions(r.transactional_id, r.producer_id, r.producer_epoch,
                                                       {{std::string(group::k_offsets_topic), offsets_partition}},
                                                       now_ms()))
                        .error;
  return resp;
}

EndTxnResponse TxnService::end_txn(const RequestHeader& h, const EndTxnRequest& r) {
  // KafkaApis.handleEndTxnRequest: v5 and above is transaction version 2.
  // Its bump at an exhausted epoch rotates the producer id: take one first
  // (the generator parks, the pure coordinator must not).
  std::optional<ProducerId> fresh;
  const txn::TransactionMetadata* m = coordinator_.metadata(r.transactional_id);
  if (h.api_version >= 5 && m != nullptr && m->is_producer_epoch_exhausted() && m->state() == txn::TxnState::ongoing)
    fresh = new_producer_id();
  txn::TransactionCoordinator::NewProducerId ids;
  if (fresh) ids = [&] { return *fresh; };
  const TxnAnswer a = finish(coordinator_.end_txn(r.transactional_id, r.producer_id, r.producer_epoch,
                                                  r.committed ? txn::TxnResult::commit : txn::TxnResult::abort,
                                                  now_ms(), h.api_version >= 5, ids));
  EndTxnResponse resp;
  resp.error_code = a.error;
  resp.producer_id = a.producer_id;  // written from v5 on
  resp.producer_epoch = a.producer_epoch;
  return resp;
}

// --- handlers ---------------------------------------------------------------------------------------------

namespace {

template <class M, class F>
Handler serve_txn(F fn) {
  return [fn](const RequestFrame& f) -> Result<std::optional<sim::FrameParts>, DecodeError> {
    auto body = f.body<M>();
    if (!body) return Err{body.error()};
    return std::optional<sim::FrameParts>(encode_response_frame(f.header, fn(f.header, *body)));
  };
}

// KafkaApis.handleWriteTxnMarkersRequest on a partition leader.
WriteTxnMarkersResponse write_txn_markers(TxnService& txns, const WriteTxnMarkersRequest& r) {
  WriteTxnMarkersResponse resp;
  for (const auto& m : r.markers) {
    auto& mr = resp.markers.emplace_back();
    mr.producer_id = m.producer_id;
    const ControlRecord marker{m.transaction_result ? ControlType::commit : ControlType::abort, m.coordinator_epoch};
    for (const auto& t : m.topics) {
      auto& tr = mr.topics.emplace_back();
      tr.name = t.name;
      for (PartitionId p : t.partition_indexes)
        tr.partitions.push_back({p, txns.write_marker_here(TopicPartition{t.name, p}, m.producer_id, m.producer_epoch, marker), {}});
    }
  }
  return resp;
}

}  // namespace

void add_txn_handlers(Server& server, std::shared_ptr<TxnService> txns, std::shared_ptr<group::GroupService> groups,
                      std::shared_ptr<ReplicaManager> rm) {
  rm->set_txn_verifier([weak = std::weak_ptr<TxnService>(txns)](const std::string& id, ProducerId pid,
                                                                ProducerEpoch epoch, const TopicPartition& tp) {
    auto self = weak.lock();
    return self ? self->verify_partition(id, pid, epoch, tp) : ErrorCode::coordinator_not_available;
  });
  txns->set_offsets_marker_listener([groups](std::int32_t partition, ProducerId id, bool commit) {
    groups->complete_txn_offsets(partition, id, commit);
  });
  server.add(ApiKey::txn_offset_commit,
             serve_txn<TxnOffsetCommitRequest>([groups, txns](const RequestHeader& h, const auto& r) {
               if (const ErrorCode e = txns->verify_offset_commit(r); e != ErrorCode::none) {
                 TxnOffsetCommitResponse resp;
                 for (const auto& t : r.topics) {
                   auto& tr = resp.topics.emplace_back();
                   tr.name = t.name;
                   for (const auto& p : t.partitions) tr.partitions.push_back({p.partition_index, e, {}});
                 }
                 return resp;
               }
               return groups->txn_offset_commit(h, r);
             }));
  server.add(ApiKey::add_partitions_to_txn,
             serve_txn<AddPartitionsToTxnRequest>([txns](const RequestHeader& h, const auto& r) {
               return txns->add_partitions_to_txn(h, r);
             }));
  server.add(ApiKey::add_offsets_to_txn, serve_txn<AddOffsetsToTxnRequest>([txns](const RequestHeader& h, const auto& r) {
               return txns->add_offsets_to_txn(h, r);
             }));
  server.add(ApiKey::end_txn, serve_txn<EndTxnRequest>([txns](const RequestHeader& h, const auto& r) {
               return txns->end_txn(h, r);
             }));
  server.add(ApiKey::write_txn_markers, serve_txn<WriteTxnMarkersRequest>([txns](const RequestHeader&, const auto& r) {
               return write_txn_markers(*txns, r);
             }));
  // FindCoordinator: key type 1 (TRANSACTION) here, the groups' otherwise.
  if (Handler groups = server.handler(ApiKey::find_coordinator)) {
    server.add(ApiKey::find_coordinator, [groups, txns](const RequestFrame& f) -> Result<std::optional<sim::FrameParts>, DecodeError> {
      auto body = f.body<FindCoordinatorRequest>();
      if (!body) return Err{body.error()};
      if (f.header.api_version == 0 || body->key_type != 1) return groups(f);
      return std::optional<sim::FrameParts>(encode_response_frame(f.header, txns->find_coordinator(f.header, *body)));
    });
  }
  // InitProducerId: a transactional.id here, the idempotent case as before.
  if (Handler plain = server.handler(ApiKey::init_producer_id)) {
    server.add(ApiKey::init_producer_id, [plain, txns](const RequestFrame& f) -> Result<std::optional<sim::FrameParts>, DecodeError> {
      auto body = f.body<InitProducerIdRequest>();
      if (!body) return Err{body.error()};
      if (!body->transactional_id) return plain(f);
      return std::optional<sim::FrameParts>(encode_response_frame(f.header, txns->init_producer_id(f.header, *body)));
    });
  }
  for (ApiKey key : {ApiKey::leader_and_isr, ApiKey::stop_replica}) {
    Handler inner = server.handler(key);
    SAMSA_ASSERT(static_cast<bool>(inner), "the replica handlers are added first");
    server.add(key, [inner, txns](const RequestFrame& f) {
      auto out = inner(f);
      txns->on_leadership_change();
      return out;
    });
  }
}

}  // namespace samsa::broker
