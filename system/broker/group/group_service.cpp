#include "system/broker/group/group_service.h"

#include "system/broker/admin.h"
#include "system/broker/find_coordinator.h"
#include "system/protocol/record_batch.h"

namespace samsa::broker::group {

using namespace protocol;

GroupConfig group_config(const BrokerConfig& c) {
  GroupConfig g;
  g.group_min_session_timeout_ms = c.group_min_session_timeout_ms;
  g.group_max_session_timeout_ms = c.group_max_session_timeout_ms;
  g.group_initial_rebalance_delay_ms = c.group_initial_rebalance_delay_ms;
  g.group_max_size = c.group_max_size;
  g.offsets_topic_num_partitions = c.offsets_topic_num_partitions;
  g.store_groups = true;  // GroupService appends the group records
  return g;
}

GroupService::GroupService(sim::Runtime& rt, const BrokerConfig& config, std::shared_ptr<ReplicaManager> rm,
                           std::shared_ptr<AdminContext> admin)
    : rt_(rt),
      config_(config),
      rm_(std::move(rm)),
      admin_(std::move(admin)),
      random_(rt.random("broker.group")),
      coordinator_(group_config(config), random_),
      replies_(rt.parker()),
      timers_(rt.parker()),
      stores_done_(rt.parker()) {}

// --- plumbing --------------------------------------------------------------------------------------

void GroupService::deliver(Replies& out) {
  for (auto& r : out) ready_[r.request] = std::move(r);
  out.clear();
  // Group records to store, each from a fiber of its own (the caller may be
  // the timer fiber, which must not wait for replicas).
  for (auto& store : coordinator_.take_stores()) {
    ++stores_in_flight_[store.group_id];
    rt_.spawn("group-store", [self = shared_from_this(), store = std::move(store)]() mutable {
      self->store_group(std::move(store));
    });
  }
  replies_.notify_all();
  timers_.notify_all();  // a call may have moved the earliest deadline
}

Reply GroupService::wait_reply(RequestId id) {
  for (;;) {
    auto it = ready_.find(id);
    if (it != ready_.end()) {
      Reply r = std::move(it->second);
      ready_.erase(it);
      return r;
    }
    replies_.wait("group.reply");
  }
}

void GroupService::run_timers() {
  // GroupMetadataManager's "delete-expired-group-metadata" task, at a fixed
  // rate from start-up. Only a coordinator with groups keeps a timer for it
  // (a broker without groups waits for nothing); a tick that fell while it
  // had none is skipped, not caught up.
  const TimeMs interval = config_.offsets_retention_check_interval_ms;
  TimeMs next_expiry = now_ms() + interval;
  for (;;) {
    auto next = coordinator_.next_deadline_ms();
    const bool had_groups = coordinator_.has_groups();
    if (had_groups) next = next ? std::min(*next, next_expiry) : next_expiry;
    if (!next) {
      timers_.wait("group.timers");
    } else if (*next > now_ms()) {
      timers_.wait("group.timers", sim::MonoTime{std::chrono::milliseconds(*next)});
    }
    Replies out;
    coordinator_.advance(now_ms(), out);
    deliver(out);
    const TimeMs now = now_ms();
    if (now >= next_expiry) {
      if (had_groups) expire_offsets();
      next_expiry += ((now - next_expiry) / interval + 1) * interval;
    }
  }
}

// GroupMetadataManager.cleanupGroupMetadata: tombstones for what expired,
// appended to each group's partition without waiting for replicas (Kafka
// appends them to the leader with acks 0 and lets a new leader expire them
// again); written from a fiber of their own so the timers go on.
void GroupService::expire_offsets() {
  const std::int64_t retention_ms = std::int64_t{config_.offsets_retention_minutes} * 60 * 1000;
  auto expired = coordinator_.expire_offsets(now_ms(), retention_ms);
  if (expired.empty()) return;
  std::vector<std::pair<std::string, Bytes>> batches;
  for (const auto& e : expired) {
    stats_.offsets_expired += e.offsets.size();
    if (e.group_tombstone) ++stats_.groups_removed;
    BatchBuilder b(BatchOptions{});
    for (const auto& tp : e.offsets) {
      const Bytes key = encode_key(OffsetCommitKey{e.group_id, tp.topic, tp.partition.value()});
      b.append(rt_.wall_ms(), ByteView(key), std::nullopt);
    }
    if (e.group_tombstone) {
      const Bytes key = encode_key(GroupMetadataKey{e.group_id});
      b.append(rt_.wall_ms(), ByteView(key), std::nullopt);
    }
    batches.emplace_back(e.group_id, b.finish());
  }
  rt_.log().info("group coordinator: {} group(s) with expired offsets", expired.size());
  rt_.spawn("group-expire", [self = shared_from_this(), batches = std::move(batches)]() mutable {
    for (auto& [group, batch] : batches) (void)self->append(group, std::move(batch), 1);
  });
}

// --- __consumer_offsets ----------------------------------------------------------------------------

void GroupService::on_leadership_change() {
  const std::int32_t n = config_.offsets_topic_num_partitions;
  for (std::int32_t p = 0; p < n; ++p) {
    auto part = rm_->partition(TopicPartition{std::string(k_offsets_topic), PartitionId(p)});
    const bool leading = part && part->is_leader();
    auto& s = partitions_[p];
    if (leading == s.leading) continue;
    s.leading = leading;
    ++s.generation;
    Replies out;
    if (leading) {
      coordinator_.set_partition_status(p, PartitionStatus::loading, out);
      const std::uint64_t gen = s.generation;
      rt_.spawn(fmt::format("group-load-{}", p), [self = shared_from_this(), p, gen] { self->load_partition(p, gen); });
    } else {
      ++stats_.unloads;
      coordinator_.set_partition_status(p, PartitionStatus::not_owned, out);
    }
    // A load reads the pending transactional offsets back from the log.
    std::erase_if(pending_txn_offsets_, [&](const auto& g) { return coordinator_.partition_for(g.first) == p; });
    deliver(out);
  }
}

namespace {

struct LoadedPartition {
  std::map<std::string, std::map<TopicPartitionKey, CommittedOffset>> offsets;
  std::map<std::string, GroupMetadataValue> groups;
  std::uint64_t records = 0;
};

// One record of the log, the last one of its key winning.
void apply_record(LoadedPartition& out, const RecordView& r) {
  if (!r.key) return;
  auto key = decode_key(*r.key);
  if (!key) return;  // GroupMetadataManager throws on an unknown key version; we skip it
  ++out.records;
  if (const auto* k = std::get_if<OffsetCommitKey>(&*key)) {
    const TopicPartitionKey tp{k->topic, PartitionId(k->partition)};
    if (!r.value) {
      // A group whose offsets all got tombstones is not loaded (an empty
      // entry would bring it back as an Empty group).
      auto g = out.offsets.find(k->group);
      if (g != out.offsets.end() && g->second.erase(tp) && g->second.empty()) out.offsets.erase(g);
      return;
    }
    auto v = decode_offset_commit_value(*r.value);
    if (!v) return;
    CommittedOffset o{v->offset, v->leader_epoch, v->metadata, v->commit_timestamp_ms, std::nullopt};  // wall clock
    if (v->expire_timestamp_ms >= 0) o.expire_timestamp_ms = v->expire_timestamp_ms;
    out.offsets[k->group][tp] = o;
  } else {
    const auto& g = std::get<GroupMetadataKey>(*key);
    if (!r.value) {
      out.groups.erase(g.group);
      return;
    }
    auto v = decode_group_metadata_value(*r.value);
    if (v) out.groups[g.group] = std::move(*v);
  }
}

}  // namespace

// GroupMetadataManager.doLoadGroupsAndOffsets: reads the partition from its
// start to the log end as it was when loading began.
void GroupService::load_partition(std::int32_t partition, std::uint64_t generation) {
  auto part = rm_->partition(TopicPartition{std::string(k_offsets_topic), PartitionId(partition)});
  if (!part) return;
  LoadedPartition loaded;
  // Transactional offset commits wait for their producer's marker.
  std::map<std::int64_t, LoadedPartition> open_txns;
  {
    PartitionLock lock(*part);
    const std::int64_t end = part->log_end_offset().value();
    std::int64_t offset = part->log_start_offset().value();
    while (offset < end) {
      auto read = part->log().read(offset, static_cast<std::uint64_t>(config_.offsets_load_buffer_size));
      if (!read || read->records.empty()) break;
      BatchReader batches(read->records);
      std::int64_t next = offset;
      while (auto b = batches.next()) {
        next = b->header.next_offset();
        auto it = RecordIterator::open(b->bytes);
        if (!it) continue;
        const std::int64_t pid = b->header.producer_id;
        if (b->header.is_control()) {
          auto r = it->next();
          if (!r || *r == nullptr || b->header.base_offset < offset) continue;
          auto marker = read_control_record(**r);
          auto txn = open_txns.find(pid);
          if (!marker || txn == open_txns.end()) continue;
          if (marker->type == ControlType::commit)
            for (const auto& [group, offsets] : txn->second.offsets)
              for (const auto& [tp, o] : offsets) loaded.offsets[group][tp] = o;
          open_txns.erase(txn);
          continue;
        }
        LoadedPartition& into = b->header.is_transactional() ? open_txns[pid] : loaded;
        for (;;) {
          auto r = it->next();
          if (!r || *r == nullptr) break;
          if ((*r)->offset >= offset && (*r)->offset < end) apply_record(into, **r);
        }
      }
      if (next <= offset) break;
      offset = next;
    }
  }
  auto& s = partitions_[partition];
  if (s.generation != generation || !s.leading) return;  // leadership moved while reading
  const TimeMs now = now_ms();
  // Records carry wall-clock times (Kafka's time.milliseconds()); the
  // coordinator's clock is the node's monotonic one.
  const TimeMs wall_minus_mono = rt_.wall_ms() - now;
  for (auto& [group, offsets] : loaded.offsets)
    for (auto& [tp, o] : offsets) {
      o.commit_timestamp_ms -= wall_minus_mono;
      if (o.expire_timestamp_ms) *o.expire_timestamp_ms -= wall_minus_mono;
    }
  for (auto& [group, value] : loaded.groups)
    if (value.current_state_timestamp_ms >= 0) value.current_state_timestamp_ms -= wall_minus_mono;
  Replies out;
  for (const auto& [group, offsets] : loaded.offsets) coordinator_.load_offsets(group, offsets, now);
  for (const auto& [pid, txn] : open_txns)
    for (const auto& [group, offsets] : txn.offsets) pending_txn_offsets_[group][pid] = offsets;
  for (const auto& [group, value] : loaded.groups) coordinator_.load_group(group, value, now, out);
  coordinator_.set_partition_status(partition, PartitionStatus::owned, out);
  ++stats_.loads;
  stats_.records_loaded += loaded.records;
  rt_.log().info("group coordinator: loaded {}-{} ({} records, {} groups)", k_offsets_topic, partition,
                 loaded.records, loaded.groups.size());
  deliver(out);
}

ErrorCode GroupService::append(std::string_view group_id, Bytes batch, std::optional<std::int16_t> acks,
                               std::int64_t* base_offset) {
  ++stats_.appends;
  ProduceRequest req;
  req.acks = acks.value_or(static_cast<std::int16_t>(config_.offsets_commit_required_acks));
  req.timeout_ms = config_.offsets_commit_timeout_ms;
  auto& t = req.topic_data.emplace_back();
  t.name = std::string(k_offsets_topic);
  auto& p = t.partition_data.emplace_back();
  p.index = PartitionId(coordinator_.partition_for(group_id));
  p.records = Records(std::move(batch));
  auto resp = rm_->produce(req, 8);
  ErrorCode e = ErrorCode::unknown_server_error;
  if (resp && !resp->responses.empty() && !resp->responses[0].partition_responses.empty()) {
    e = resp->responses[0].partition_responses[0].error_code;
    if (base_offset) *base_offset = resp->responses[0].partition_responses[0].base_offset.value();
  }
  if (e != ErrorCode::none) ++stats_.append_failures;
  switch (e) {
    case ErrorCode::none: return e;
    case ErrorCode::unknown_topic_or_partition:
    case ErrorCode::not_enough_replicas:
    case ErrorCode::not_enough_replicas_after_append: return ErrorCode::coordinator_not_available;
    case ErrorCode::not_leader_or_follower:
    case ErrorCode::kafka_storage_error: return ErrorCode::not_coordinator;
    case ErrorCode::message_too_large:
    case ErrorCode::record_list_too_large:
    case ErrorCode::invalid_fetch_size: return ErrorCode::invalid_commit_offset_size;
    default: return e;
  }
}

// GroupMetadataManager.storeGroup: appends the record with acks=all and
// tells the state machine how it went, with storeGroup's error mapping.
void GroupService::store_group(GroupStore store) {
  store.value.current_state_timestamp_ms += rt_.wall_ms() - now_ms();  // to the wall clock, as Kafka writes it
  BatchBuilder b(BatchOptions{});
  const Bytes key = encode_key(GroupMetadataKey{store.group_id});
  const Bytes v = encode_value(store.value);
  b.append(rt_.wall_ms(), ByteView(key), ByteView(v));
  ErrorCode e = append(store.group_id, b.finish());
  if (auto it = stores_in_flight_.find(store.group_id); it != stores_in_flight_.end() && --it->second == 0)
    stores_in_flight_.erase(it);
  stores_done_.notify_all();
  if (e == ErrorCode::request_timed_out) e = ErrorCode::rebalance_in_progress;
  if (e == ErrorCode::invalid_commit_offset_size) e = ErrorCode::unknown_server_error;
  if (e != ErrorCode::none)
    rt_.log().info("group coordinator: storing group {} generation {} failed: {}", store.group_id,
                   store.generation.value(), to_string(e));
  Replies out;
  coordinator_.group_stored(store, e, now_ms(), out);
  deliver(out);
}

// --- the APIs --------------------------------------------------------------------------------------

std::pair<ErrorCode, BrokerId> GroupService::coordinator_for(std::string_view key) {
  auto make_topic = [this] {  // as Kafka's GroupMetadataManager creates it
    NewTopic t;
    t.name = std::string(k_offsets_topic);
    t.num_partitions = config_.offsets_topic_num_partitions;
    t.replication_factor = config_.offsets_topic_replication_factor;
    t.configs = {{"cleanup.policy", "compact"},
                 {"compression.type", "producer"},
                 {"segment.bytes", std::to_string(config_.offsets_topic_segment_bytes)}};
    return t;
  };
  return rm_->internal_partition_leader(std::string(k_offsets_topic), PartitionId(coordinator_.partition_for(key)),
                                        make_topic, admin_->rng);
}

FindCoordinatorResponse GroupService::find_coordinator(const RequestHeader& h, const FindCoordinatorRequest& r) {
  return find_coordinator_response(h, r, rm_->metadata(), [&](const std::string& key) {
    // Key type 1 (TRANSACTION) is TxnService's; without it, no coordinator.
    if (r.key_type != 0) return std::pair{ErrorCode::coordinator_not_available, BrokerId::none()};
    return coordinator_for(key);
  });
}

JoinGroupResponse GroupService::join_group(const RequestHeader& h, const JoinGroupRequest& r) {
  JoinRequest j;
  j.group_id = r.group_id;
  j.member_id = r.member_id;
  j.group_instance_id = r.group_instance_id;
  j.require_known_member_id = h.api_version >= 4 && !r.group_instance_id;  // KafkaApis, KIP-394
  j.client_id = h.client_id.value_or("");
  j.client_host = "/" + h.client_id.value_or("");
  j.session_timeout_ms = r.session_timeout_ms;
  j.rebalance_timeout_ms = h.api_version == 0 ? r.session_timeout_ms : r.rebalance_timeout_ms;
  j.protocol_type = r.protocol_type;
  for (const auto& p : r.protocols) j.protocols.push_back(Protocol{p.name, p.metadata});
  const RequestId id = next_request();
  Replies out;
  coordinator_.join_group(id, j, now_ms(), out);
  deliver(out);
  const JoinResult res = std::get<JoinResult>(wait_reply(id).result);
  JoinGroupResponse resp;
  resp.error_code = res.error;
  resp.generation_id = res.generation_id;
  resp.protocol_type = res.protocol_type;
  resp.protocol_name = h.api_version >= 7 ? res.protocol_name : std::optional<std::string>(res.protocol_name.value_or(""));
  resp.leader = res.leader_id;
  resp.member_id = res.member_id;
  for (const auto& m : res.members) resp.members.push_back({m.member_id, m.group_instance_id, m.metadata, {}});
  return resp;
}

SyncGroupResponse GroupService::sync_group(const RequestHeader&, const SyncGroupRequest& r) {
  SyncRequest s;
  s.group_id = r.group_id;
  s.generation_id = r.generation_id;
  s.member_id = r.member_id;
  s.protocol_type = r.protocol_type;
  s.protocol_name = r.protocol_name;
  for (const auto& a : r.assignments) s.assignments[a.member_id] = a.assignment;
  const RequestId id = next_request();
  Replies out;
  // GroupCoordinator.doSyncGroup: the members learn their assignment only
  // once the group record is stored (store_group answers them).
  coordinator_.sync_group(id, s, now_ms(), out);
  deliver(out);
  const SyncResult res = std::get<SyncResult>(wait_reply(id).result);
  SyncGroupResponse resp;
  resp.error_code = res.error;
  resp.protocol_type = res.protocol_type;
  resp.protocol_name = res.protocol_name;
  resp.assignment = res.assignment;
  return resp;
}

HeartbeatResponse GroupService::heartbeat(const RequestHeader&, const HeartbeatRequest& r) {
  Replies out;
  HeartbeatResponse resp;
  resp.error_code = coordinator_.heartbeat(r.group_id, r.member_id, r.generation_id, now_ms(), out);
  deliver(out);
  return resp;
}

LeaveGroupResponse GroupService::leave_group(const RequestHeader& h, const LeaveGroupRequest& r) {
  std::vector<std::string> ids;
  if (h.api_version < 3) {
    ids.push_back(r.member_id);
  } else {
    for (const auto& m : r.members) ids.push_back(m.member_id);
  }
  Replies out;
  const LeaveResult res = coordinator_.leave_group(r.group_id, ids, now_ms(), out);
  deliver(out);
  LeaveGroupResponse resp;
  resp.error_code = res.error;
  if (h.api_version < 3) {
    if (resp.error_code == ErrorCode::none && !res.members.empty()) resp.error_code = res.members[0];
    return resp;
  }
  for (std::size_t i = 0; i < ids.size() && i < res.members.size(); ++i)
    resp.members.push_back({ids[i], r.members[i].group_instance_id, res.members[i], {}});
  return resp;
}

OffsetCommitResponse GroupService::offset_commit(const RequestHeader& h, const protocol::OffsetCommitRequest& r) {
  group::OffsetCommitRequest c;
  c.group_id = r.group_id;
  c.generation_id = h.api_version == 0 ? GenerationId::none() : r.generation_id_or_member_epoch;
  c.member_id = r.member_id;
  const TimeMs now = rt_.wall_ms();
  for (const auto& t : r.topics)
    for (const auto& p : t.partitions) {
      CommittedOffset o;
      o.offset = p.committed_offset;
      o.leader_epoch = p.committed_leader_epoch;
      o.metadata = p.committed_metadata.value_or("");
      // KafkaApis.handleOffsetCommitRequest: v1's explicit commit
      // timestamp, else now; v2-v4's retention_time_ms gives the offset an
      // expire timestamp (value v1), else offsets.retention.minutes applies.
      o.commit_timestamp_ms = h.api_version == 1 && p.commit_timestamp != -1 ? p.commit_timestamp : now;
      if (h.api_version >= 2 && h.api_version <= 4 && r.retention_time_ms != -1)
        o.expire_timestamp_ms = now + r.retention_time_ms;
      c.offsets.push_back({TopicPartitionKey{t.name, p.partition_index}, o});
    }
  Replies out;
  const TimeMs mono = now_ms();
  std::vector<ErrorCode> errors = coordinator_.commit_offsets(c, mono, out);
  deliver(out);
  // GroupMetadataManager.storeOffsets: the valid ones are appended, and
  // become the group's committed offsets once the append is committed.
  BatchBuilder b(BatchOptions{});
  std::vector<std::pair<TopicPartitionKey, CommittedOffset>> appended;
  for (std::size_t i = 0; i < c.offsets.size(); ++i) {
    if (errors[i] != ErrorCode::none) continue;
    const auto& [tp, o] = c.offsets[i];
    const Bytes key = encode_key(OffsetCommitKey{c.group_id, tp.topic, tp.partition.value()});
    const Bytes value = encode_value(
        OffsetCommitValue{o.offset, o.leader_epoch, o.metadata, o.commit_timestamp_ms, o.expire_timestamp_ms.value_or(-1)});
    b.append(now, ByteView(key), ByteView(value));
    // The state machine's clock is the node's monotonic one.
    CommittedOffset applied = o;
    applied.commit_timestamp_ms -= now - mono;
    if (applied.expire_timestamp_ms) *applied.expire_timestamp_ms -= now - mono;
    appended.emplace_back(tp, applied);
  }
  if (!appended.empty()) {
    std::int64_t record_offset = -1;
    const ErrorCode e = append(c.group_id, b.finish(), std::nullopt, &record_offset);
    if (e == ErrorCode::none) {
      coordinator_.offsets_appended(c.group_id, appended, record_offset);
    } else {
      for (auto& x : errors)
        if (x == ErrorCode::none) x = e;
    }
  }
  OffsetCommitResponse resp;
  std::size_t i = 0;
  for (const auto& t : r.topics) {
    auto& rt = resp.topics.emplace_back();
    rt.name = t.name;
    for (const auto& p : t.partitions) rt.partitions.push_back({p.partition_index, errors[i++], {}});
  }
  return resp;
}

// --- transactional offset commits ----------------------------------------------------------------

TxnOffsetCommitResponse GroupService::txn_offset_commit(const RequestHeader& h, const TxnOffsetCommitRequest& r) {
  ErrorCode error = ErrorCode::none;
  auto [status, summary] = coordinator_.describe_group(r.group_id);
  if (status != ErrorCode::none) {
    error = status;  // NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS
  } else if (h.api_version >= 3 && summary.state != GroupState::dead) {
    // KIP-447: the producer's consumer must still be in this generation.
    const bool known = r.member_id.empty() ||
                       std::any_of(summary.members.begin(), summary.members.end(),
                                   [&](const auto& m) { return m.member_id == r.member_id; });
    if (!known) error = ErrorCode::unknown_member_id;
    else if (r.generation_id.value() >= 0 && r.generation_id != summary.generation_id)
      error = ErrorCode::illegal_generation;
  }
  const TimeMs now = rt_.wall_ms();
  std::map<TopicPartitionKey, CommittedOffset> offsets;
  if (error == ErrorCode::none) {
    BatchOptions o;
    o.transactional = true;
    o.producer_id = r.producer_id.value();
    o.producer_epoch = r.producer_epoch.value();
    BatchBuilder b(o);
    for (const auto& t : r.topics)
      for (const auto& p : t.partitions) {
        CommittedOffset c{p.committed_offset, p.committed_leader_epoch, p.committed_metadata.value_or(""), now};
        offsets[TopicPartitionKey{t.name, p.partition_index}] = c;
        const Bytes key = encode_key(OffsetCommitKey{r.group_id, t.name, p.partition_index.value()});
        const Bytes value = encode_value(OffsetCommitValue{c.offset, c.leader_epoch, c.metadata, now, -1});
        b.append(now, ByteView(key), ByteView(value));
      }
    if (!offsets.empty()) {
      ++stats_.appends;
      const TopicPartition tp{std::string(k_offsets_topic), PartitionId(coordinator_.partition_for(r.group_id))};
      error = rm_->append_as_coordinator(tp, b.finish(), std::chrono::milliseconds(config_.offsets_commit_timeout_ms));
      if (error != ErrorCode::none) ++stats_.append_failures;
      if (error == ErrorCode::not_enough_replicas || error == ErrorCode::not_enough_replicas_after_append ||
          error == ErrorCode::request_timed_out || error == ErrorCode::unknown_topic_or_partition)
        error = ErrorCode::coordinator_not_available;
      if (error == ErrorCode::not_leader_or_follower) error = ErrorCode::not_coordinator;
    }
  }
  if (error == ErrorCode::none) {
    auto& pending = pending_txn_offsets_[r.group_id][r.producer_id.value()];
    for (const auto& [tp, c] : offsets) pending[tp] = c;
  }
  TxnOffsetCommitResponse resp;
  for (const auto& t : r.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.name = t.name;
    for (const auto& p : t.partitions) tr.partitions.push_back({p.partition_index, error, {}});
  }
  return resp;
}

void GroupService::complete_txn_offsets(std::int32_t partition, ProducerId id, bool commit) {
  const TimeMs now = now_ms();
  for (auto it = pending_txn_offsets_.begin(); it != pending_txn_offsets_.end();) {
    auto txn = it->second.find(id.value());
    if (coordinator_.partition_for(it->first) == partition && txn != it->second.end()) {
      if (commit) coordinator_.load_offsets(it->first, txn->second, now);
      it->second.erase(txn);
    }
    it = it->second.empty() ? pending_txn_offsets_.erase(it) : std::next(it);
  }
}

namespace {

template <class Part>
Part fetched_partition(PartitionId p, const std::map<TopicPartitionKey, CommittedOffset>& got,
                       const std::string& topic, ErrorCode error) {
  Part out;
  out.partition_index = p;
  out.committed_offset = Offset::none();
  out.metadata = "";
  out.error_code = error;
  auto it = got.find(TopicPartitionKey{topic, p});
  if (it != got.end()) {
    out.committed_offset = it->second.offset;
    out.committed_leader_epoch = it->second.leader_epoch;
    out.metadata = it->second.metadata;
  }
  return out;
}

}  // namespace

OffsetFetchResponse GroupService::offset_fetch(const RequestHeader& h, const OffsetFetchRequest& r) {
  OffsetFetchResponse resp;
  // KIP-447 (GroupMetadataManager.getOffsets with requireStable): a
  // partition whose offset a transaction still holds is UNSTABLE_OFFSET_COMMIT.
  auto stable = [&](const std::string& group, const TopicPartitionKey& tp, ErrorCode e) {
    if (!r.require_stable || h.api_version < 7 || e != ErrorCode::none) return e;
    auto g = pending_txn_offsets_.find(group);
    if (g == pending_txn_offsets_.end()) return e;
    for (const auto& [pid, offsets] : g->second)
      if (offsets.count(tp)) return ErrorCode::unstable_offset_commit;
    return e;
  };
  if (h.api_version >= 8) {
    for (const auto& g : r.groups) {
      std::optional<std::vector<TopicPartitionKey>> want;
      if (g.topics) {
        want.emplace();
        for (const auto& t : *g.topics)
          for (PartitionId p : t.partition_indexes) want->push_back({t.name, p});
      }
      auto [error, got] = coordinator_.fetch_offsets(g.group_id, want);
      auto& out = resp.groups.emplace_back();
      out.group_id = g.group_id;
      out.error_code = error;
      if (error != ErrorCode::none) continue;
      if (!want) {
        want.emplace();
        for (const auto& [tp, o] : got) want->push_back(tp);
      }
      for (const auto& tp : *want) {
        if (out.topics.empty() || out.topics.back().name != tp.topic) out.topics.emplace_back().name = tp.topic;
        out.topics.back().partitions.push_back(fetched_partition<OffsetFetchResponse::OffsetFetchResponsePartitions>(
            tp.partition, got, tp.topic, stable(g.group_id, tp, ErrorCode::none)));
      }
    }
    return resp;
  }
  std::optional<std::vector<TopicPartitionKey>> want;
  if (r.topics) {
    want.emplace();
    for (const auto& t : *r.topics)
      for (PartitionId p : t.partition_indexes) want->push_back({t.name, p});
  }
  auto [error, got] = coordinator_.fetch_offsets(r.group_id, want);
  // Before v2 the group's error is given in every partition.
  const ErrorCode per_partition = h.api_version < 2 ? error : ErrorCode::none;
  resp.error_code = error;
  if (error != ErrorCode::none && h.api_version >= 2) return resp;
  if (!want) {
    want.emplace();
    for (const auto& [tp, o] : got) want->push_back(tp);
  }
  for (const auto& tp : *want) {
    if (resp.topics.empty() || resp.topics.back().name != tp.topic) resp.topics.emplace_back().name = tp.topic;
    resp.topics.back().partitions.push_back(fetched_partition<OffsetFetchResponse::OffsetFetchResponsePartition>(
        tp.partition, got, tp.topic, stable(r.group_id, tp, per_partition)));
  }
  return resp;
}

DescribeGroupsResponse GroupService::describe_groups(const RequestHeader&, const DescribeGroupsRequest& r) {
  DescribeGroupsResponse resp;
  for (const auto& id : r.groups) {
    auto [error, s] = coordinator_.describe_group(id);
    auto& g = resp.groups.emplace_back();
    g.group_id = id;
    g.error_code = error;
    g.group_state = std::string(to_string(s.state));
    g.protocol_type = s.protocol_type;
    g.protocol_data = s.protocol_name;
    for (const auto& m : s.members)
      g.members.push_back({m.member_id, m.group_instance_id, m.client_id, m.client_host, m.metadata, m.assignment, {}});
  }
  return resp;
}

ListGroupsResponse GroupService::list_groups(const RequestHeader&, const ListGroupsRequest& r) {
  ListGroupsResponse resp;
  auto [error, groups] = coordinator_.list_groups();
  resp.error_code = error;
  for (const auto& [id, type, state] : groups) {
    const std::string name(to_string(state));
    if (!r.states_filter.empty() &&
        std::find(r.states_filter.begin(), r.states_filter.end(), name) == r.states_filter.end())
      continue;
    resp.groups.push_back({id, type, name, {}});
  }
  return resp;
}

// GroupCoordinator.handleDeleteGroups; the tombstones of one partition's
// groups go in one batch, and each answer waits for its batch to commit
// (Kafka 3.7's coordinator write, with GroupCoordinatorService's error
// mapping). A repeated id is answered once (Kafka keys the answers by id).
DeleteGroupsResponse GroupService::delete_groups(const RequestHeader&, const DeleteGroupsRequest& r) {
  std::vector<std::string> ids;
  for (const auto& id : r.groups_names)
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  auto deleted = coordinator_.delete_groups(ids);
  std::map<std::int32_t, std::vector<const GroupCoordinator::DeletedGroup*>> by_partition;
  for (const auto& d : deleted)
    if (d.error == ErrorCode::none) by_partition[coordinator_.partition_for(d.group_id)].push_back(&d);
  // The group's last record (the Empty one a LeaveGroup stored) goes in first.
  for (const auto& d : deleted)
    while (d.error == ErrorCode::none && stores_in_flight_.count(d.group_id)) stores_done_.wait("group.delete");
  std::map<std::string, ErrorCode> errors;
  for (const auto& [partition, groups] : by_partition) {
    BatchBuilder b(BatchOptions{});
    std::size_t records = 0;
    for (const auto* d : groups) {
      for (const auto& tp : d->offsets) {
        const Bytes key = encode_key(OffsetCommitKey{d->group_id, tp.topic, tp.partition.value()});
        b.append(rt_.wall_ms(), ByteView(key), std::nullopt);
        ++records;
      }
      if (d->group_tombstone) {
        const Bytes key = encode_key(GroupMetadataKey{d->group_id});
        b.append(rt_.wall_ms(), ByteView(key), std::nullopt);
        ++records;
      }
    }
    ErrorCode e = records == 0 ? ErrorCode::none : append(groups.front()->group_id, b.finish());
    if (e == ErrorCode::request_timed_out) e = ErrorCode::coordinator_not_available;
    if (e == ErrorCode::invalid_commit_offset_size) e = ErrorCode::unknown_server_error;
    for (const auto* d : groups) {
      coordinator_.group_deleted(d->group_id, e);
      errors[d->group_id] = e;
      if (e == ErrorCode::none) ++stats_.groups_deleted;
    }
    rt_.log().info("group coordinator: deleting {} group(s) of {}-{}: {}", groups.size(), k_offsets_topic,
                   partition, to_string(e));
  }
  DeleteGroupsResponse resp;
  for (const auto& d : deleted)
    resp.results.push_back({d.group_id, d.error == ErrorCode::none ? errors.at(d.group_id) : d.error, {}});
  return resp;
}

}  // namespace samsa::broker::group

#include "system/broker/server.h"

namespace samsa::broker::group {

namespace {

template <class M, class F>
Handler serve_group(F fn) {
  return [fn](const RequestFrame& f) -> Result<std::optional<sim::FrameParts>, DecodeError> {
    auto body = f.body<M>();
    if (!body) return Err{body.error()};
    return std::optional<sim::FrameParts>(encode_response_frame(f.header, fn(f.header, *body)));
  };
}

}  // namespace

void add_group_handlers(Server& server, std::shared_ptr<GroupService> g) {
  server.add(ApiKey::find_coordinator, serve_group<FindCoordinatorRequest>([g](const RequestHeader& h, const auto& r) {
               return g->find_coordinator(h, r);
             }));
  server.add(ApiKey::join_group, serve_group<JoinGroupRequest>([g](const RequestHeader& h, const auto& r) {
               return g->join_group(h, r);
             }));
  server.add(ApiKey::sync_group, serve_group<SyncGroupRequest>([g](const RequestHeader& h, const auto& r) {
               return g->sync_group(h, r);
             }));
  server.add(ApiKey::heartbeat, serve_group<HeartbeatRequest>([g](const RequestHeader& h, const auto& r) {
               return g->heartbeat(h, r);
             }));
  server.add(ApiKey::leave_group, serve_group<LeaveGroupRequest>([g](const RequestHeader& h, const auto& r) {
               return g->leave_group(h, r);
             }));
  server.add(ApiKey::offset_commit, serve_group<protocol::OffsetCommitRequest>([g](const RequestHeader& h, const auto& r) {
               return g->offset_commit(h, r);
             }));
  server.add(ApiKey::offset_fetch, serve_group<OffsetFetchRequest>([g](const RequestHeader& h, const auto& r) {
               return g->offset_fetch(h, r);
             }));
  server.add(ApiKey::describe_groups, serve_group<DescribeGroupsRequest>([g](const RequestHeader& h, const auto& r) {
               return g->describe_groups(h, r);
             }));
  server.add(ApiKey::list_groups, serve_group<ListGroupsRequest>([g](const RequestHeader& h, const auto& r) {
               return g->list_groups(h, r);
             }));
  server.add(ApiKey::delete_groups, serve_group<DeleteGroupsRequest>([g](const RequestHeader& h, const auto& r) {
               return g->delete_groups(h, r);
             }));
  // KafkaApis.handleLeaderAndIsrRequest's onLeadershipChange callback, and
  // StopReplica's resignation.
  for (ApiKey key : {ApiKey::leader_and_isr, ApiKey::stop_replica}) {
    Handler inner = server.handler(key);
    SAMSA_ASSERT(static_cast<bool>(inner), "the replica handlers are added first");
    server.add(key, [inner, g](const RequestFrame& f) {
      auto out = inner(f);
      g->on_leadership_change();
      return out;
    });
  }
}

}  // namespace samsa::broker::group
