#include "system/broker/replica_manager.h"

#include <algorithm>
#include <utility>

#include <boost/container/small_vector.hpp>

#include "system/broker/controller.h"
#include "system/broker/fetcher.h"
#include "system/coord/kafka_layout.h"
#include "system/log/names.h"

namespace samsa::broker {

using namespace protocol;

// --- MetadataCache ---------------------------------------------------------------------------

void MetadataCache::update(const UpdateMetadataCommand& u, BrokerId controller) {
  controller_ = controller;
  brokers_.clear();
  for (const auto& b : u.live_brokers) {
    brokers_[b.id] = b;
    endpoints_[b.id] = b.endpoint;
  }
  for (const auto& p : u.partitions) {
    if (p.leader == k_leader_during_delete) {
      partitions_.erase(p.tp);
      continue;
    }
    partitions_[p.tp] = p;
  }
}

const ControlPartitionState* MetadataCache::partition(const TopicPartition& tp) const {
  auto it = partitions_.find(tp);
  return it == partitions_.end() ? nullptr : &it->second;
}

std::optional<BrokerEndpoint> MetadataCache::endpoint(BrokerId b) const {
  auto it = endpoints_.find(b);
  if (it == endpoints_.end()) return std::nullopt;
  return it->second;
}

bool MetadataCache::has_topic(const std::string& topic) const {
  auto it = partitions_.lower_bound(TopicPartition{topic, PartitionId(0)});
  return it != partitions_.end() && it->first.topic == topic;
}

// --- the purgatories' watches ---------------------------------------------------------------------

// One parked request (a DelayedProduce or DelayedFetch watched under the
// keys of the partitions it waits on): its event is set when one of them
// changes, or by notify_changed. It unlinks itself when the request is
// answered, and when a crash or a cancellation unwinds its fiber.
class ReplicaManager::Watch {
 public:
  explicit Watch(ReplicaManager& rm) : rm_(rm), event_(rm.rt_.parker()) { rm_.parked_.push_back(&event_); }
  ~Watch() {
    for (const auto& p : watched_) p->unwatch(event_);
    std::erase(rm_.parked_, &event_);
  }
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  void add(const std::shared_ptr<Partition>& p) {
    if (std::find(watched_.begin(), watched_.end(), p) != watched_.end()) return;
    p->watch(event_);
    watched_.push_back(p);
  }
  // Forgets the changes seen so far: the caller looks at its partitions now.
  void reset() { event_.reset(); }
  // Parks until a change since reset() or the deadline; whether one came.
  bool wait(const char* what, sim::MonoTime deadline) { return event_.wait(deadline, what); }

 private:
  ReplicaManager& rm_;
  sim::Event event_;
  // Inline for a Fetch's usual few partitions (a Produce watches one): a
  // heap vector per parked request was a fifth of the Fetch path's allocations.
  boost::container::small_vector<std::shared_ptr<Partition>, 8> watched_;
};

void ReplicaManager::notify_changed() {
  for (sim::Event* e : parked_) e->set();
}

// --- ReplicaManager -----------------------------------------------------------------------------

ReplicaManager::ReplicaManager(sim::Runtime& rt, const BrokerConfig& config)
    : rt_(rt),
      config_(config),
      self_(config.broker_id),
      fence_(config.legacy),
      fetchers_(std::make_unique<FetcherManager>(rt, *this)) {}

ReplicaManager::~ReplicaManager() = default;

void ReplicaManager::set_coordinator(coord::Client* c, BrokerEpoch epoch) {
  coordinator_ = c;
  if (c != nullptr) fence_.set_broker_epoch(epoch);
}

std::shared_ptr<Partition> ReplicaManager::partition(std::string_view topic, PartitionId partition) const {
  const HostedTopic* t = hosted_topic(topic);
  const auto i = partition.value();
  if (t == nullptr || i < 0 || static_cast<std::size_t>(i) >= t->by_index.size()) return nullptr;
  return t->by_index[static_cast<std::size_t>(i)];
}

const std::shared_ptr<Partition>* ReplicaManager::TopicPartitions::slot(PartitionId partition) {
  if (!found_ || hosting_ != rm_.hosting_changes_) {
    hosted_ = rm_.hosted_topic(topic_);
    hosting_ = rm_.hosting_changes_;
    found_ = true;
  }
  const auto i = partition.value();
  if (hosted_ == nullptr || i < 0 || static_cast<std::size_t>(i) >= hosted_->by_index.size()) return nullptr;
  return &hosted_->by_index[static_cast<std::size_t>(i)];
}

Partition* ReplicaManager::TopicPartitions::find(PartitionId partition) {
  const auto* p = slot(partition);
  return p == nullptr ? nullptr : p->get();
}

std::shared_ptr<Partition> ReplicaManager::TopicPartitions::get(PartitionId partition) {
  const auto* p = slot(partition);
  return p == nullptr ? nullptr : *p;
}

const ReplicaManager::HostedTopic* ReplicaManager::hosted_topic(std::string_view topic) const {
  for (const HostedTopic& t : by_topic_)
    if (t.name == topic) return &t;
  return nullptr;
}

ReplicaManager::HostedTopic* ReplicaManager::hosted_topic(std::string_view topic) {
  return const_cast<HostedTopic*>(std::as_const(*this).hosted_topic(topic));
}

void ReplicaManager::host(const TopicPartition& tp, std::shared_ptr<Partition> p) {
  SAMSA_ASSERT(tp.partition.value() >= 0, "a hosted partition has an index");
  ++hosting_changes_;
  HostedTopic* t = hosted_topic(tp.topic);
  if (t == nullptr) t = &by_topic_.emplace_back(HostedTopic{tp.topic, {}, 0});
  const auto i = static_cast<std::size_t>(tp.partition.value());
  if (i >= t->by_index.size()) t->by_index.resize(i + 1);
  if (t->by_index[i] == nullptr) ++t->hosted;
  t->by_index[i] = p;
  partitions_[tp] = std::move(p);
}

void ReplicaManager::unhost(const TopicPartition& tp) {
  ++hosting_changes_;
  partitions_.erase(tp);
  HostedTopic* t = hosted_topic(tp.topic);
  const auto i = static_cast<std::size_t>(tp.partition.value());
  if (t == nullptr || tp.partition.value() < 0 || i >= t->by_index.size() || t->by_index[i] == nullptr) return;
  t->by_index[i] = nullptr;
  if (--t->hosted == 0) by_topic_.erase(by_topic_.begin() + (t - by_topic_.data()));
}

std::vector<TopicPartition> ReplicaManager::hosted() const {
  std::vector<TopicPartition> out;
  for (const auto& [tp, p] : partitions_) out.push_back(tp);
  return out;
}

TopicConfig ReplicaManager::topic_config(const std::string& topic) {
  // LogManager takes a new log's configuration from the broker's defaults
  // plus the topic's overrides in /config/topics/<topic> (CreateTopics'
  // configs). Without an answer from the coordinator the broker's defaults
  // stand in, with a warning.
  if (coordinator_ != nullptr) {
    auto d = coordinator_->get_data(fmt::format("/config/topics/{}", topic));
    if (!d && d.error() == coord::Code::no_node) return topic_defaults(config_);
    if (d) {
      if (auto overrides = parse_topic_configs(as_chars(d->data))) {
        if (auto t = make_topic_config(config_, *overrides)) return *t;
      }
    }
  }
  rt_.log().warn("topic {}: configuration overrides not read; the broker's defaults apply", topic);
  return topic_defaults(config_);
}

std::pair<ErrorCode, BrokerId> ReplicaManager::internal_partition_leader(
    const std::string& topic, PartitionId p, const std::function<NewTopic()>& make_topic, sim::Random& rng) {
  if (!metadata_.has_topic(topic)) {
    if (coordinator_ != nullptr) {
      auto r = create_topics(*coordinator_, config_, {make_topic()}, false, rng);
      if (!r.empty() && r[0].error != ErrorCode::none && r[0].error != ErrorCode::topic_already_exists)
        rt_.log().info("creating {}: {}", topic, protocol::to_string(r[0].error));
    }
    return {ErrorCode::coordinator_not_available, BrokerId::none()};
  }
  const ControlPartitionState* s = metadata_.partition(TopicPartition{topic, p});
  if (s == nullptr || s->leader.is_none() || !metadata_.brokers().count(s->leader))
    return {ErrorCode::coordinator_not_available, BrokerId::none()};
  return {ErrorCode::none, s->leader};
}

std::shared_ptr<Partition> ReplicaManager::get_or_open(const TopicPartition& tp, ErrorCode& error) {
  if (auto p = partition(tp)) return p;
  // An empty log.dir is the node's disk root itself (live mode: the disk
  // root is log.dirs, and Kafka keeps partition dirs right in it).
  const std::string name = log::partition_dir_name(tp.topic, tp.partition.value());
  const std::string dir = config_.log_dir.empty() ? name : config_.log_dir + "/" + name;
  const TopicConfig topic = topic_config(tp.topic);
  if (auto p = partition(tp)) return p;  // opened by another fiber meanwhile
  log::LogConfig lc = topic.log_config();
  lc.producer_snapshots_kept = static_cast<std::size_t>(config_.max_id_map_snapshots);
  auto log = log::Log::open(rt_, dir, lc);
  if (!log) {
    error = ErrorCode::kafka_storage_error;
    return nullptr;
  }
  PartitionOptions o;
  o.self = self_;
  o.replica_lag_time_max_ms = config_.replica_lag_time_max_ms;
  o.min_insync_replicas = topic.min_insync_replicas;
  o.max_message_bytes = topic.max_message_bytes;
  o.producer_batches_retained = config_.legacy.dedupe_last_batch_only
                                    ? 1
                                    : ProducerStateManager::k_batches_retained;
  o.legacy_truncate_to_high_watermark = config_.legacy.truncate_to_high_watermark;
  o.legacy_isr_expand_below_epoch_start = config_.legacy.isr_expand_below_epoch_start;
  auto p = std::make_shared<Partition>(rt_, tp.topic, tp.partition, std::move(*log), o);
  if (auto r = p->load(); !r) {
    error = ErrorCode::kafka_storage_error;
    return nullptr;
  }
  // Another fiber may have opened it while this one parked.
  if (auto q = partition(tp)) return q;
  host(tp, p);
  return p;
}

// --- control requests ----------------------------------------------------------------------------

ReplicaManager::ControlResult ReplicaManager::leader_and_isr(const ControlRequest& r) {
  ControlResult out;
  out.error = fence_.admit(r.controller_epoch, r.broker_epoch);
  if (out.error != ErrorCode::none) return out;
  const auto& cmd = std::get<LeaderAndIsrCommand>(r.body);
  std::map<BrokerId, BrokerEndpoint> leaders;
  for (const auto& b : cmd.live_leaders) {
    leaders[b.id] = b.endpoint;
    metadata_.remember_endpoint(b);
  }
  for (const auto& s : cmd.partitions)
    out.partitions.push_back({s.tp, become_leader_or_follower(s, leaders)});
  notify_changed();
  return out;
}

ErrorCode ReplicaManager::become_leader_or_follower(const ControlPartitionState& s,
                                                    const std::map<BrokerId, BrokerEndpoint>& leaders) {
  if (std::find(s.replicas.begin(), s.replicas.end(), self_) == s.replicas.end())
    return ErrorCode::unknown_topic_or_partition;
  ErrorCode error = ErrorCode::none;
  auto p = get_or_open(s.tp, error);
  if (!p) return error;
  PartitionLock lock(*p);
  // ReplicaManager.becomeLeaderOrFollower: only a newer leader epoch counts.
  // Kafka 0.8.0-beta, before KAFKA-532, compared neither the controller
  // epoch nor the leader epoch (every LeaderAndIsr was makeLeader or
  // makeFollower); `samsa.legacy.no.controller.epoch.check` is that broker,
  // so a zombie controller's late LeaderAndIsr moves a replica back to an
  // older leader epoch.
  const bool check_leader_epoch = !config_.legacy.no_controller_epoch_check;
  if (check_leader_epoch && (!p->leadership().leader.is_none() || p->is_leader())) {
    if (s.leader_epoch <= p->leader_epoch()) return ErrorCode::stale_controller_epoch;
  }
  Leadership l{s.controller_epoch, s.leader, s.leader_epoch, s.isr, s.zk_version, s.replicas};
  if (s.leader == self_) {
    fetchers_->remove(s.tp);
    if (auto st = p->make_leader(l, now_ms()); !st) return ErrorCode::kafka_storage_error;
    rt_.log().info("{}: leader in epoch {} at offset {}, ISR {}", to_string(s.tp),
                   s.leader_epoch, p->log_end_offset(), fmt::join(s.isr, ","));
    return ErrorCode::none;
  }
  // ReplicaManager.makeFollowers: only change the partition's state when the
  // new leader is available. Adopting the epoch of an unavailable (dead or
  // NoLeader) leader would make the controller's next LeaderAndIsr for that
  // same epoch, sent once the leader is back, look stale: the follower would
  // never fetch again. The log exists already (get_or_open, KAFKA-1647).
  if (!leaders.count(s.leader) && !metadata_.endpoint(s.leader)) {
    rt_.log().info("{}: cannot follow {} in epoch {}: the leader is unavailable", to_string(s.tp),
                   s.leader, s.leader_epoch);
    return ErrorCode::none;
  }
  if (auto st = p->make_follower(l); !st) return ErrorCode::kafka_storage_error;
  fetchers_->remove(s.tp);
  fetchers_->add(s.tp, s.leader, s.leader_epoch);
  rt_.log().info("{}: follower of {} in epoch {}", to_string(s.tp), s.leader, s.leader_epoch);
  return ErrorCode::none;
}

ReplicaManager::ControlResult ReplicaManager::update_metadata(const ControlRequest& r) {
  ControlResult out;
  out.error = fence_.admit(r.controller_epoch, r.broker_epoch);
  if (out.error != ErrorCode::none) return out;
  metadata_.update(std::get<UpdateMetadataCommand>(r.body), r.controller_id);
  notify_changed();
  return out;
}

ReplicaManager::ControlResult ReplicaManager::stop_replica(const ControlRequest& r) {
  ControlResult out;
  out.error = fence_.admit(r.controller_epoch, r.broker_epoch);
  if (out.error != ErrorCode::none) return out;
  for (const auto& s : std::get<StopReplicaCommand>(r.body).partitions) {
    fetchers_->remove(s.tp);
    auto p = partition(s.tp);
    ErrorCode e = ErrorCode::none;
    if (p) {
      CheckpointLock files(*p);  // no checkpoint is written into a directory being deleted
      PartitionLock lock(*p);
      // KIP-570, ReplicaManager.stopReplicas: the replica stops for a newer
      // leader epoch than ours or a sentinel (EpochDuringDelete -2, NoEpoch
      // -1 from an old request version); an older or the same epoch is
      // FENCED_LEADER_EPOCH (the same epoch: this controller's state is not
      // newer than what the replica already follows).
      if (!s.leader_epoch.is_none() && s.leader_epoch.value() >= 0 &&
          s.leader_epoch <= p->leader_epoch()) {
        e = ErrorCode::fenced_leader_epoch;
      } else {
        Leadership l = p->leadership();
        l.leader = BrokerId::none();
        (void)p->make_follower(l);
        (void)p->checkpoint_high_watermark();
        if (s.delete_partition) {
          (void)p->truncate_fully_and_start_at(Offset(0));
          unhost(s.tp);
          delete_partition_dir(p->log().dir());
        }
      }
    }
    out.partitions.push_back({s.tp, e});
  }
  notify_changed();
  return out;
}

namespace {
// Removes a directory and everything under it; false if anything stayed.
bool remove_tree(sim::Disk& disk, const std::string& dir) {
  auto names = disk.list(dir);
  if (!names) return false;
  bool ok = true;
  for (const auto& n : *names) {
    const std::string path = dir + "/" + n;
    if (disk.is_directory(path)) ok = remove_tree(disk, path) && ok;
    else ok = disk.remove(path).ok() && ok;
  }
  return disk.remove(dir).ok() && ok;
}
}  // namespace

void ReplicaManager::delete_partition_dir(const std::string& dir) {
  // LogManager.asyncDelete renames the directory to *-delete and removes it
  // after file.delete.delay.ms; samsa removes it at once (nothing reads a
  // deleted partition's files).
  if (!remove_tree(rt_.disk(), dir) || !rt_.disk().fsync_dir(sim::parent_of(dir)).ok())
    rt_.log().warn("{}: not every file of the deleted partition was removed", dir);
}

// --- ISR changes ----------------------------------------------------------------------------------

bool ReplicaManager::write_isr(Partition& p, std::vector<BrokerId> isr) {
  if (coordinator_ == nullptr) return false;
  const Leadership& l = p.leadership();
  coord::kafka::PartitionState st;
  st.controller_epoch = l.controller_epoch.value();
  st.leader = self_.value();
  st.leader_epoch = l.leader_epoch.value();
  for (BrokerId b : isr) st.isr.push_back(b.value());
  const std::string path = coord::kafka::partition_state_path(p.topic(), p.index().value());
  const std::string json = coord::kafka::partition_state_json(st);
  coord::Client* c = coordinator_;
  auto r = c->set_data(path, Bytes(json.begin(), json.end()), l.zk_version);
  if (!r) {
    // bad_version: the controller changed the state; its LeaderAndIsr will
    // follow ("Cached zkVersion not equal to that in zookeeper").
    if (r.error() == coord::Code::bad_version) ++stats_.isr_write_conflicts;
    rt_.log().info("{}: ISR {} not written ({})", to_string(TopicPartition{p.topic(), p.index()}),
                   fmt::join(isr, ","), coord::to_string(r.error()));
    return false;
  }
  p.isr_written(isr, r->version);
  isr_changes_.insert(TopicPartition{p.topic(), p.index()});
  last_isr_change_ms_ = now_ms();
  rt_.log().info("{}: ISR now {} (zkVersion {})", to_string(TopicPartition{p.topic(), p.index()}),
                 fmt::join(isr, ","), r->version);
  return true;
}

bool ReplicaManager::maybe_expand_isr(Partition& p, BrokerId follower) {
  const LeaderState* ls = p.leader_state();
  if (ls == nullptr || !ls->can_join_isr(follower, config_.legacy.isr_expand_below_epoch_start))
    return false;
  std::vector<BrokerId> isr = ls->isr();
  isr.push_back(follower);
  if (!write_isr(p, std::move(isr))) return false;
  ++stats_.isr_expansions;
  return p.maybe_increment_high_watermark();
}

void ReplicaManager::maybe_shrink_isr(Partition& p) {
  const LeaderState* ls = p.leader_state();
  if (ls == nullptr) return;
  const auto out = ls->out_of_sync(now_ms(), config_.replica_lag_time_max_ms);
  if (out.empty()) return;
  std::vector<BrokerId> isr = ls->isr();
  std::erase_if(isr, [&](BrokerId b) { return std::find(out.begin(), out.end(), b) != out.end(); });
  if (write_isr(p, std::move(isr))) {
    ++stats_.isr_shrinks;
    p.maybe_increment_high_watermark();
  }
}

void ReplicaManager::run_isr_expiration() {
  // ReplicaManager.startup: "isr-expiration" every replica.lag.time.max.ms / 2.
  const auto period = std::chrono::milliseconds(std::max<std::int64_t>(1, config_.replica_lag_time_max_ms / 2));
  for (;;) {
    rt_.sleep(period);
    for (const auto& tp : hosted()) {
      auto p = partition(tp);
      if (!p || !p->is_leader()) continue;
      PartitionLock lock(*p);
      maybe_shrink_isr(*p);
    }
    notify_changed();
  }
}

void ReplicaManager::run_isr_change_propagation() {
  // ZkIsrManager.DefaultIsrPropagationConfig: checkIntervalMs, lingerMs, maxDelayMs.
  constexpr std::int64_t k_check_ms = 2500, k_linger_ms = 5000, k_max_delay_ms = 60000;
  last_isr_change_ms_ = last_isr_propagation_ms_ = now_ms();
  for (;;) {
    rt_.sleep(std::chrono::milliseconds(k_check_ms));
    const std::int64_t now = now_ms();
    if (isr_changes_.empty() || coordinator_ == nullptr) continue;
    if (last_isr_change_ms_ + k_linger_ms >= now && last_isr_propagation_ms_ + k_max_delay_ms >= now) continue;
    const std::vector<TopicPartition> changed(isr_changes_.begin(), isr_changes_.end());
    if (!propagate_isr_changes(*coordinator_, changed)) continue;  // tried again at the next check
    for (const auto& tp : changed) isr_changes_.erase(tp);
    last_isr_propagation_ms_ = now;
    ++stats_.isr_change_notifications;
  }
}

void ReplicaManager::run_checkpoints() {
  const auto period =
      std::chrono::milliseconds(std::max<std::int64_t>(1, config_.replica_high_watermark_checkpoint_interval_ms));
  const std::int64_t flush_ms = config_.effective_log_flush_interval_ms();
  std::int64_t last_flush_ms = now_ms();
  for (;;) {
    rt_.sleep(period);
    const bool flush_due = flush_ms != k_long_max && now_ms() - last_flush_ms >= flush_ms;
    if (flush_due) last_flush_ms = now_ms();
    for (const auto& tp : hosted()) {
      auto p = partition(tp);
      if (!p) continue;
      CheckpointLock files(*p);
      (void)p->checkpoint_high_watermark();  // without the partition's mutex
      // No producer snapshot here: Kafka takes them at segment roll, close
      // and recovery (Partition::save_producer_snapshot); a periodic one
      // cost a write and 5 fsyncs every 5 s under each busy partition's lock.
      if (!flush_due) continue;
      PartitionLock lock(*p);
      (void)p->log().flush();
    }
  }
}

// --- Produce ----------------------------------------------------------------------------------------

namespace {

// Whether `p` has led without a break since `appended_in` (the epoch of an append).
bool still_leading(const Partition& p, LeaderEpoch appended_in) {
  return p.is_leader() && p.leading_since() <= appended_in;
}

}  // namespace

ErrorCode ReplicaManager::wait_for_acks(const std::shared_ptr<Partition>& p, LeaderEpoch epoch,
                                        Offset last_offset, sim::MonoTime deadline) {
  Watch watch(*this);
  watch.add(p);
  for (;;) {
    watch.reset();
    // Partition.checkEnoughReplicasReachOffset: answered while this broker
    // leads. Kafka asks only that; samsa also asks that it has led without a
    // break since the append (a leader that became follower may have cut the
    // record and led again). An epoch bump by the controller with the same
    // leader (OfflineReplica's ISR shrink) keeps the wait: failing it would
    // answer an earlier batch NOT_LEADER_OR_FOLLOWER while a later one of the
    // same producer succeeds, which idempotent clients read as acknowledged
    // without an offset (librdkafka).
    if (!still_leading(*p, epoch)) return ErrorCode::not_leader_or_follower;
    if (p->high_watermark() > last_offset) {
      const auto isr = p->leader_state()->isr().size();
      return static_cast<std::int32_t>(isr) < p->options().min_insync_replicas
                 ? ErrorCode::not_enough_replicas_after_append
                 : ErrorCode::none;
    }
    if (!watch.wait("produce.purgatory", deadline) && rt_.now() >= deadline) {
      if (still_leading(*p, epoch) && p->high_watermark() > last_offset) continue;
      ++stats_.produce_timeouts;
      return ErrorCode::request_timed_out;
    }
  }
}

namespace {

// The first batch of a produce's records, if it is a transactional data batch.
std::optional<protocol::BatchHeader> transactional_batch(ByteView records) {
  protocol::BatchReader reader(records, /*check_crc=*/false);
  auto b = reader.next();
  if (!b || !b->header.is_transactional() || b->header.is_control() ||
      b->header.producer_id == protocol::k_no_producer_id)
    return std::nullopt;
  return b->header;
}

std::uint64_t guarded_marker_count(const Partition& p, ByteView records) {
  auto h = transactional_batch(records);
  return h ? p.transactions().markers_seen(ProducerId(h->producer_id)) : 0;
}

}  // namespace

std::optional<ProduceResponse> ReplicaManager::produce(const ProduceRequest& req, std::int16_t) {
  ProduceResponse resp;
  const bool valid_acks = req.acks == -1 || req.acks == 0 || req.acks == 1;
  const sim::MonoTime deadline = rt_.deadline_after(std::chrono::milliseconds(std::max(0, req.timeout_ms)));
  struct Pending {
    std::size_t topic, part;
    std::shared_ptr<Partition> p;
    LeaderEpoch epoch;
    Offset last;
  };
  std::vector<Pending> pending;
  for (const auto& t : req.topic_data) {
    auto& tr = resp.responses.emplace_back();
    tr.name = t.name;
    for (const auto& pd : t.partition_data) {
      auto& pr = tr.partition_responses.emplace_back();
      pr.index = pd.index;
      pr.base_offset = Offset::none();
      if (!valid_acks) {
        pr.error_code = ErrorCode::invalid_required_acks;
        continue;
      }
      const TopicPartition tp{t.name, pd.index};
      auto p = partition(tp);
      if (!p) {
        pr.error_code = not_leader_error(tp, false);
        continue;
      }
      const ByteView records = pd.records ? pd.records->view() : ByteView{};
      std::optional<std::uint64_t> guard;
      if (ErrorCode v = verify_transactional(req, tp, *p, records, guard); v != ErrorCode::none) {
        pr.error_code = v;
        continue;
      }
      LeaderAppend a;
      {
        PartitionLock lock(*p);
        a = guard && *guard != guarded_marker_count(*p, records)
                ? LeaderAppend{ErrorCode::invalid_txn_state}
                : p->append_as_leader(records, req.acks, p->options().min_insync_replicas);
      }
      pr.error_code = a.error;
      pr.log_start_offset = a.log_start_offset;
      if (a.error != ErrorCode::none) continue;
      pr.base_offset = a.base_offset;
      notify_partition(*p);
      if (req.acks == -1)
        pending.push_back({resp.responses.size() - 1, tr.partition_responses.size() - 1, p,
                           p->leader_epoch(), a.last_offset});
    }
  }
  // The produce purgatory (DelayedProduce): every acks=all partition waits
  // for its high watermark, up to the request's timeout.
  for (const auto& w : pending) {
    auto& pr = resp.responses[w.topic].partition_responses[w.part];
    pr.error_code = wait_for_acks(w.p, w.epoch, w.last, deadline);
    if (pr.error_code != ErrorCode::none) pr.base_offset = Offset::none();
  }
  if (req.acks == 0) return std::nullopt;
  return resp;
}

// --- Fetch --------------------------------------------------------------------------------------------

// A Fetch's request-wide state and what the current pass found so far.
struct ReplicaManager::FetchPass {
  const FetchRequest& req;
  BrokerId replica;
  bool from_follower = false;
  bool hard_max_bytes = false;  // v0-v2: no first batch beyond max_bytes (KIP-74)
  bool first = true;            // the first pass records the follower's fetch
  std::uint64_t bytes = 0, limit = 0;
  bool any_error = false, min_one = false;
};

// One partition of a parked Fetch between its wake-ups: the hosted replica it
// found and under which hosting change, so that a wake-up re-reads the
// partition without looking it up and watching it again (DelayedFetch keeps
// its partitions' fetch status the same way). The lookup is redone when
// host() or unhost() ran meanwhile: a StopReplica or LeaderAndIsr may have
// replaced the replica.
struct ReplicaManager::FetchSlot {
  std::shared_ptr<Partition> p;
  std::uint64_t hosting = 0;
  bool found = false;
  bool watched = false;  // p is in the Watch (it was the leader at a wake-up)
};

// The parked Fetch's answer with one entry per asked partition, built once:
// each wake-up refills the entries in place instead of a new response.
FetchResponse ReplicaManager::fetch_skeleton(const FetchRequest& req) {
  FetchResponse resp;
  resp.responses.reserve(req.topics.size());
  for (const auto& t : req.topics) {
    auto& tr = resp.responses.emplace_back();
    tr.topic = t.topic;
    tr.topic_id = t.topic_id;
    tr.partitions.resize(t.partitions.size());
    for (std::size_t i = 0; i < t.partitions.size(); ++i) tr.partitions[i].partition_index = t.partitions[i].partition;
  }
  return resp;
}

// Back to a fresh entry before a pass: the fields a pass writes, to their
// defaults (a whole new PartitionData per partition and pass cost more than
// the rest of a pass that finds nothing new).
void ReplicaManager::refill(FetchResponse::PartitionData& pd) {
  static const FetchResponse::PartitionData fresh{};
  pd.error_code = ErrorCode::none;
  pd.high_watermark = Offset::none();
  pd.last_stable_offset = fresh.last_stable_offset;
  pd.log_start_offset = fresh.log_start_offset;
  if (!pd.aborted_transactions || !pd.aborted_transactions->empty()) pd.aborted_transactions.emplace();
  if (!pd.records || !pd.records->empty()) pd.records.emplace();
}

// The slot's partition if this broker leads it, watched from its first
// wake-up as leader on (as the purgatory watches only partitions it reads).
Partition* ReplicaManager::fetch_leader(FetchSlot& slot, TopicPartitions& topic, PartitionId index, Watch& watch) {
  if (!slot.found || slot.hosting != hosting_changes_) {
    slot.p = topic.get(index);
    slot.hosting = hosting_changes_;
    slot.found = true;
    slot.watched = false;
  }
  if (!slot.p || !slot.p->is_leader()) return nullptr;
  if (!slot.watched) watch.add(slot.p);
  slot.watched = true;
  return slot.p.get();
}

BrokerId ReplicaManager::fetching_replica(const FetchRequest& req, std::int16_t version) {
  return version >= 15 && req.replica_state ? req.replica_state->replica_id : req.replica_id;
}

FetchResponse ReplicaManager::fetch(const FetchRequest& req, std::int16_t version) {
  const BrokerId replica = fetching_replica(req, version);
  const sim::MonoTime deadline = rt_.deadline_after(std::chrono::milliseconds(std::max(0, req.max_wait_ms)));
  FetchPass pass{req, replica, replica.value() >= 0, version <= 2};
  Watch watch(*this);
  FetchResponse resp = fetch_skeleton(req);
  std::vector<FetchSlot> slots;
  for (const auto& t : req.topics) slots.resize(slots.size() + t.partitions.size());
  for (;;) {
    watch.reset();
    fetch_pass(pass, resp, slots, watch);
    pass.first = false;
    // The fetch purgatory (DelayedFetch): answer once fetch.min.bytes are
    // there, on an error, or when max wait has passed.
    if (pass.bytes >= static_cast<std::uint64_t>(std::max(1, req.min_bytes)) || pass.any_error ||
        rt_.now() >= deadline)
      return resp;
    (void)watch.wait("fetch.purgatory", deadline);
  }
}

// One pass over the asked partitions, refilling `resp`'s entries.
void ReplicaManager::fetch_pass(FetchPass& pass, FetchResponse& resp, std::vector<FetchSlot>& slots,
                                Watch& watch) {
  pass.bytes = 0;
  pass.limit = static_cast<std::uint64_t>(std::max(0, pass.req.max_bytes));
  pass.any_error = false;
  pass.min_one = !pass.hard_max_bytes;
  std::size_t slot = 0;
  for (std::size_t ti = 0; ti < pass.req.topics.size(); ++ti) {
    const auto& t = pass.req.topics[ti];
    TopicPartitions topic(*this, t.topic);
    for (std::size_t pi = 0; pi < t.partitions.size(); ++pi) {
      const auto& fp = t.partitions[pi];
      auto& pd = resp.responses[ti].partitions[pi];
      refill(pd);
      FetchSlot& s = slots[slot++];
      Partition* p = fetch_leader(s, topic, fp.partition, watch);
      if (p == nullptr) {
        pd.error_code = not_leader_error(TopicPartition{t.topic, fp.partition}, s.p != nullptr);
        pass.any_error = true;
        continue;
      }
      fetch_from(pass, fp, *p, pd);
    }
  }
}

// One partition this broker leads: the follower's state on the first pass,
// then the read (KIP-74 limits, KIP-98 isolation).
void ReplicaManager::fetch_from(FetchPass& pass, const FetchRequest::FetchPartition& fp, Partition& p,
                                FetchResponse::PartitionData& pd) {
  PartitionLock lock(p);
  if (!config_.legacy.no_fetch_leader_epoch) {
    pd.error_code = check_current_leader_epoch(fp.current_leader_epoch, p.leader_epoch());
    if (pd.error_code != ErrorCode::none) {
      pass.any_error = true;
      return;
    }
  }
  if (pass.from_follower && pass.first) {
    if (p.record_follower_fetch(pass.replica, fp.fetch_offset, now_ms())) notify_partition(p);
    if (maybe_expand_isr(p, pass.replica)) notify_partition(p);
  }
  const auto part_max = static_cast<std::uint64_t>(std::max(0, fp.partition_max_bytes));
  // isolation_level 1 = READ_COMMITTED (KIP-98); followers read to the log end.
  const bool read_committed = !pass.from_follower && pass.req.isolation_level == 1;
  PartitionRead r =
      p.read(fp.fetch_offset, std::min(part_max, pass.limit), pass.from_follower, pass.min_one, read_committed);
  pd.error_code = r.error;
  pd.high_watermark = r.high_watermark;
  pd.last_stable_offset = r.last_stable_offset;
  pd.log_start_offset = r.log_start_offset;
  if (read_committed) {
    pd.aborted_transactions.emplace();
    for (const auto& a : r.aborted) pd.aborted_transactions->push_back({a.producer_id, a.first_offset, {}});
  }
  if (r.error != ErrorCode::none) {
    pass.any_error = true;
    return;
  }
  if (!r.records.empty()) {
    pass.min_one = false;
    pass.bytes += r.records.size();
    pass.limit = pass.limit > r.records.size() ? pass.limit - r.records.size() : 0;
    pd.records = std::move(r.records);
  }
}

ErrorCode ReplicaManager::not_leader_error(const TopicPartition& tp, bool hosted) const {
  return hosted || metadata_.partition(tp) ? ErrorCode::not_leader_or_follower
                                           : ErrorCode::unknown_topic_or_partition;
}

// --- ListOffsets and OffsetsForLeaderEpoch ---------------------------------------------------------------

ListOffsetsResponse ReplicaManager::list_offsets(const ListOffsetsRequest& req, std::int16_t version) {
  constexpr std::int64_t k_latest = -1, k_earliest = -2;
  ListOffsetsResponse resp;
  for (const auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.name = t.name;
    for (const auto& lp : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition_index = lp.partition_index;
      const TopicPartition tp{t.name, lp.partition_index};
      auto p = partition(tp);
      if (!p || !p->is_leader()) {
        pr.error_code = not_leader_error(tp, p != nullptr);
        continue;
      }
      PartitionLock lock(*p);
      pr.error_code = check_current_leader_epoch(lp.current_leader_epoch, p->leader_epoch());
      if (pr.error_code != ErrorCode::none) continue;
      // Consumers see up to the high watermark (the replica may see the log end).
      const Offset end = req.replica_id.value() >= 0 ? p->log_end_offset() : p->high_watermark();
      std::optional<Offset> found;
      if (lp.timestamp == k_latest) {
        found = end;
      } else if (lp.timestamp == k_earliest) {
        found = p->log_start_offset();
      } else {
        auto r = p->log().offset_for_timestamp(lp.timestamp);
        if (!r) {
          pr.error_code = static_cast<ErrorCode>(log::kafka_error_code(r.error()));
          continue;
        }
        if (r.value() && Offset(r.value()->offset) < end) {
          found = Offset(r.value()->offset);
          pr.timestamp = r.value()->timestamp_ms;
        }
      }
      if (!found) continue;  // no such timestamp: offset -1, as Kafka
      pr.offset = *found;
      pr.leader_epoch = p->leader_epoch();
      if (version == 0) pr.old_style_offsets.push_back(*found);
    }
  }
  return resp;
}

OffsetForLeaderEpochResponse ReplicaManager::offsets_for_leader_epoch(
    const OffsetForLeaderEpochRequest& req, std::int16_t version) {
  OffsetForLeaderEpochResponse resp;
  for (const auto& t : req.topics) {
    auto& tr = resp.topics.emplace_back();
    tr.topic = t.topic;
    for (const auto& op : t.partitions) {
      auto& pr = tr.partitions.emplace_back();
      pr.partition = op.partition;
      const TopicPartition tp{t.topic, op.partition};
      auto p = partition(tp);
      if (!p || !p->is_leader()) {
        pr.error_code = not_leader_error(tp, p != nullptr);
        continue;
      }
      PartitionLock lock(*p);
      pr.error_code = check_current_leader_epoch(op.current_leader_epoch, p->leader_epoch());
      if (pr.error_code != ErrorCode::none) continue;
      const auto e = end_offset_for(p->log().leader_epochs(), op.leader_epoch, p->log_end_offset());
      pr.end_offset = e.end_offset;
      // v0 answers carry no epoch (KIP-279 added it in v1).
      pr.leader_epoch = version >= 1 ? e.leader_epoch : LeaderEpoch::none();
    }
  }
  return resp;
}

// --- transaction markers (KIP-98) ---------------------------------------------------------------

ErrorCode ReplicaManager::append_txn_marker(const TopicPartition& tp, ProducerId id, ProducerEpoch epoch,
                                            ControlRecord marker, sim::Duration timeout) {
  return append_and_wait(tp, timeout, [&](Partition& p) {
    return p.append_marker_as_leader(id, epoch, marker, -1, config_.min_insync_replicas);
  });
}

ErrorCode ReplicaManager::append_as_coordinator(const TopicPartition& tp, Bytes batch, sim::Duration timeout) {
  return append_and_wait(tp, timeout, [&](Partition& p) {
    return p.append_as_leader(batch, -1, config_.min_insync_replicas, /*from_coordinator=*/true);
  });
}

// An append of the broker's own (a marker, a coordinator's batch) on a
// partition it leads, answered once acks=all holds for it.
ErrorCode ReplicaManager::append_and_wait(const TopicPartition& tp, sim::Duration timeout,
                                          const std::function<LeaderAppend(Partition&)>& append) {
  auto p = partition(tp);
  if (!p || !p->is_leader()) return not_leader_error(tp, p != nullptr);
  LeaderAppend a;
  LeaderEpoch leader_epoch;
  {
    PartitionLock lock(*p);
    leader_epoch = p->leader_epoch();
    a = append(*p);
  }
  if (a.error != ErrorCode::none) return a.error;
  notify_partition(*p);
  return wait_for_acks(p, leader_epoch, a.last_offset, rt_.deadline_after(timeout));
}

ErrorCode ReplicaManager::verify_transactional(const ProduceRequest& req, const TopicPartition& tp, Partition& p,
                                               ByteView records, std::optional<std::uint64_t>& guard) {
  if (config_.legacy.no_implicit_add_partitions || !txn_verifier_ || !req.transactional_id) return ErrorCode::none;
  const auto h = transactional_batch(records);
  if (!h) return ErrorCode::none;
  const ProducerId id(h->producer_id);
  {
    PartitionLock lock(p);
    // Kafka 3.6 verifies only a batch that would open a transaction here.
    if (!p.is_leader() || p.transactions().open_transaction(id)) return ErrorCode::none;
    guard = p.transactions().markers_seen(id);
  }
  const ErrorCode e = txn_verifier_(*req.transactional_id, id, ProducerEpoch(h->producer_epoch), tp);
  switch (e) {
    case ErrorCode::concurrent_transactions:
    case ErrorCode::coordinator_load_in_progress:
    case ErrorCode::coordinator_not_available:
    case ErrorCode::not_coordinator:
      return ErrorCode::not_enough_replicas;
    case ErrorCode::producer_fenced:
      // AddPartitionsToTxnManager: "Producers expect to handle
      // INVALID_PRODUCER_EPOCH in this scenario" (a late produce of a
      // transaction the coordinator has bumped past, KIP-890 part 2).
      return ErrorCode::invalid_producer_epoch;
    default:
      return e;  // NONE, INVALID_TXN_STATE ("Partition was not added to the transaction"), INVALID_PRODUCER_ID_MAPPING ...
  }
}

}  // namespace samsa::broker
