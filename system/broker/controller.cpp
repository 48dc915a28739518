#include "system/broker/controller.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

#include "system/coord/kafka_layout.h"
#include "system/coord/recipes.h"

namespace samsa::broker {

using coord::Code;
namespace kafka = coord::kafka;

namespace {

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }
constexpr LeaderEpoch k_epoch_during_delete{-2};  // LeaderAndIsr.EpochDuringDelete
constexpr sim::Duration k_retry_backoff = std::chrono::milliseconds(200);
constexpr int k_max_election_rounds = 20;

bool contains(const std::vector<BrokerId>& v, BrokerId b) {
  return std::find(v.begin(), v.end(), b) != v.end();
}

std::string partitions_path(const std::string& topic) {
  return fmt::format("{}/partitions", kafka::topic_path(topic));
}
std::string partition_path(const TopicPartition& tp) {
  return fmt::format("{}/{}", partitions_path(tp.topic), tp.partition);
}
std::string state_path(const TopicPartition& tp) {
  return kafka::partition_state_path(tp.topic, tp.partition.value());
}
std::string topic_config_path(const std::string& topic) {
  return fmt::format("/config/topics/{}", topic);
}

kafka::PartitionState to_znode(const LeaderAndIsr& l, ControllerEpoch epoch) {
  kafka::PartitionState s;
  s.controller_epoch = epoch.value();
  s.leader = l.leader.value();
  s.leader_epoch = l.leader_epoch.value();
  for (auto b : l.isr) s.isr.push_back(b.value());
  return s;
}

// Deletes a node and everything below it (ZkUtils.deletePathRecursive).
Result<void, Code> remove_recursive(coord::Client& c, const std::string& path) {
  auto children = c.get_children(path);
  if (!children) return children.error() == Code::no_node ? Result<void, Code>{} : Err{children.error()};
  for (const auto& child : children->children)
    if (auto r = remove_recursive(c, path + "/" + child); !r) return r;
  auto r = c.remove(path);
  if (!r && r.error() != Code::no_node) return r;
  return {};
}

}  // namespace

// --- ControllerContext ---------------------------------------------------------------

BrokerSet ControllerContext::live_broker_ids() const {
  BrokerSet out;
  for (const auto& [id, info] : live_brokers)
    if (!shutting_down.count(id)) out.insert(id);
  return out;
}

BrokerSet ControllerContext::live_or_shutting_down_ids() const {
  BrokerSet out;
  for (const auto& [id, info] : live_brokers) out.insert(id);
  return out;
}

bool ControllerContext::is_replica_online(BrokerId b, bool include_shutting_down) const {
  return live_brokers.count(b) && (include_shutting_down || !shutting_down.count(b));
}

// --- events and requests ------------------------------------------------------------------

// Raised by watches (which must not park) and read by the controller fiber.
struct Controller::Signals {
  explicit Signals(sim::Parker& p) : wake(p) {}
  sim::Event wake;
  bool controller_change = false;
  bool broker_change = false;
  bool topic_change = false;
  bool isr_change = false;
  bool topic_deletion = false;
  std::vector<StopReplicaOutcome> stop_replica_outcomes;  // answers to StopReplica(delete)
  std::optional<sim::MonoTime> retry_at;  // a coordinator call failed: try again then

  coord::Watcher raise(bool Signals::*flag, const std::shared_ptr<Signals>& self) {
    return [self, flag](const coord::WatchedEvent&) {
      self.get()->*flag = true;
      self->wake.set();
    };
  }
};

struct Controller::ShutdownRequest {
  ShutdownRequest(sim::Parker& p, BrokerId b, BrokerEpoch e) : id(b), epoch(e), done(p) {}
  BrokerId id;
  BrokerEpoch epoch;
  ControlledShutdownResult result;
  sim::Event done;
};

Controller::Controller(sim::Runtime& rt, const BrokerConfig& config, ControllerChannel& channel)
    : rt_(rt), config_(config), id_(config.broker_id), channel_(channel) {}

Controller::~Controller() {
  for (auto* r : shutdown_requests_) {
    r->result.error = ErrorCode::not_controller;
    r->done.set();
  }
}

bool Controller::session_over() const {
  return client_ == nullptr || client_->state() == coord::SessionState::expired ||
         client_->state() == coord::SessionState::closed;
}

void Controller::run_session(coord::Client& c, BrokerEpoch own_epoch) {
  client_ = &c;
  own_epoch_ = own_epoch;
  auto sig = std::make_shared<Signals>(rt_.parker());
  signals_ = sig;
  c.on_state([sig](coord::SessionState) { sig->wake.set(); });
  sig->controller_change = true;
  // Unwinding (crash, stop) or the end of the session: resign. Never parks.
  struct Leave {
    Controller& self;
    coord::Client& c;
    ~Leave() {
      self.on_resignation();
      c.on_state({});
      self.client_ = nullptr;
    }
  } leave{*this, c};
  while (!session_over()) {
    sig->wake.reset();
    handle_pending();
    if (session_over()) break;
    const bool pending = sig->controller_change || (active_ && (sig->broker_change ||
                         sig->topic_change || sig->isr_change || sig->topic_deletion ||
                         !sig->stop_replica_outcomes.empty() || !shutdown_requests_.empty()));
    if (pending) continue;
    std::optional<sim::MonoTime> deadline = sig->retry_at;
    if (active_ && config_.auto_leader_rebalance_enable)
      deadline = deadline ? std::min(*deadline, next_rebalance_check_) : next_rebalance_check_;
    sig->wake.wait(deadline, "controller.event");
  }
}

void Controller::handle_pending() {
  Signals& sig = *signals_;
  // A coordinator call failed: once the backoff passed, re-check everything
  // (election first). Failures never re-raise a flag by themselves, so a lost
  // coordinator cannot make the loop spin.
  if (sig.retry_at && rt_.now() >= *sig.retry_at) {
    sig.retry_at.reset();
    sig.controller_change = true;
    if (active_) sig.broker_change = sig.topic_change = sig.isr_change = sig.topic_deletion = true;
  }
  if (sig.controller_change) {
    sig.controller_change = false;
    elect();
  }
  const auto step = [&](bool Signals::*flag, void (Controller::*fn)()) {
    if (!active_ || resign_ || session_over() || !(sig.*flag)) return;
    sig.*flag = false;
    (this->*fn)();
  };
  step(&Signals::broker_change, &Controller::process_broker_change);
  step(&Signals::topic_change, &Controller::process_topic_change);
  step(&Signals::topic_deletion, &Controller::process_topic_deletion);
  step(&Signals::isr_change, &Controller::process_isr_change_notification);
  if (active_ && !resign_ && !session_over() && !sig.stop_replica_outcomes.empty())
    process_stop_replica_outcomes();
  while (active_ && !resign_ && !shutdown_requests_.empty()) {
    ShutdownRequest* r = shutdown_requests_.front();
    shutdown_requests_.pop_front();
    process_controlled_shutdown(*r);
    r->done.set();
  }
  if (active_ && !resign_ && config_.auto_leader_rebalance_enable &&
      rt_.now() >= next_rebalance_check_) {
    check_and_trigger_auto_leader_rebalance();
    next_rebalance_check_ =
        rt_.now() + std::chrono::seconds(config_.leader_imbalance_check_interval_seconds);
  }
  if (resign_) {
    rt_.log().warn("controller {}: another controller took over (epoch {} fenced)", id_, ctx_.epoch);
    on_resignation();
    sig.controller_change = true;
  }
  if (!active_) {
    while (!shutdown_requests_.empty()) {
      shutdown_requests_.front()->result.error = ErrorCode::not_controller;
      shutdown_requests_.front()->done.set();
      shutdown_requests_.pop_front();
    }
  }
}

ControlledShutdownResult Controller::controlled_shutdown(BrokerId id, BrokerEpoch epoch) {
  if (!active_ || !signals_) return {ErrorCode::not_controller, {}};
  ShutdownRequest r(rt_.parker(), id, epoch);
  shutdown_requests_.push_back(&r);
  auto sig = signals_;
  sig->wake.set();
  // The request lives on this stack: if this fiber unwinds first, take it out.
  struct Unqueue {
    Controller& self;
    ShutdownRequest& r;
    ~Unqueue() {
      auto& q = self.shutdown_requests_;
      q.erase(std::remove(q.begin(), q.end(), &r), q.end());
    }
  } unqueue{*this, r};
  r.done.wait({}, "controller.controlled_shutdown");
  return r.result;
}

// --- election and failover -------------------------------------------------------------------

void Controller::elect() {
  Signals& sig = *signals_;
  auto retry = [&] { sig.retry_at = rt_.now() + k_retry_backoff; };
  auto watch = sig.raise(&Signals::controller_change, signals_);
  auto e = client_->exists(std::string(kafka::k_controller), watch);
  if (e) {
    if (e->ephemeral_owner != client_->session_id()) {
      if (active_) on_resignation();  // Kafka's maybeResign
      return;
    }
    if (active_) return;
    // Ours, but not yet active (a lost reply during the election): take it up
    // with the epoch now stored, which the same multi wrote.
    auto d = client_->get_data(std::string(kafka::k_controller_epoch));
    if (!d) return retry();
    std::int32_t epoch = 0;
    const auto text = as_chars(d->data);
    std::from_chars(text.data(), text.data() + text.size(), epoch);
    ctx_.epoch = ControllerEpoch(epoch);
    ctx_.epoch_zk_version = d->stat.version;
    return on_controller_failover();
  }
  if (e.error() != Code::no_node) return retry();
  if (active_) on_resignation();
  auto r = coord::try_elect_controller(*client_, id_.value(), rt_.wall_ms());
  if (!r) return retry();
  if (!r->elected) return;  // the watch on /controller tells us when it goes
  ctx_.epoch = ControllerEpoch(r->epoch);
  ctx_.epoch_zk_version = r->epoch_zk_version;
  on_controller_failover();
}

void Controller::on_controller_failover() {
  const ControllerEpoch epoch = ctx_.epoch;
  const std::int32_t version = ctx_.epoch_zk_version;
  ctx_ = ControllerContext{};
  ctx_.epoch = epoch;
  ctx_.epoch_zk_version = version;
  active_ = true;
  resign_ = false;
  rt_.log().info("controller {}: elected, controller epoch {}", id_, epoch);
  if (!load_context()) {
    // Try again shortly; /controller stays ours, elect() resumes from it.
    active_ = false;
    signals_->retry_at = rt_.now() + k_retry_backoff;
    return;
  }
  ++failovers_;
  for (const auto& [id, info] : ctx_.live_brokers) channel_.add_broker(info);
  // Brokers learn the live brokers before any LeaderAndIsr (Kafka's order).
  batch_.add_update_metadata_brokers(ctx_.live_or_shutting_down_ids());
  send_batch();
  // ReplicaStateMachine.startup.
  std::vector<std::pair<TopicPartition, BrokerId>> online, offline;
  for (const auto& [tp, info] : ctx_.partitions)
    for (auto b : info.replicas) (ctx_.is_replica_online(b, true) ? online : offline).emplace_back(tp, b);
  replicas_online(online);
  // Offline replicas go through OfflineReplica as in Kafka's startup: out of
  // the ISR (the leader too), and every live broker's cache learns the
  // partition. Without it a broker whose cache was lost (a power loss while
  // there was no controller) never hears of a partition with all replicas
  // down, lists a smaller topic in Metadata, and clients hash keys to other
  // partitions (swarm/kafka seed 163: per-key-order, RF=1, power-loss-all).
  replicas_offline(offline);
  if (resign_) return;
  // PartitionStateMachine.startup (initializePartitionState sets states as found).
  for (auto& [tp, info] : ctx_.partitions) {
    if (!info.leadership) info.state = PartitionState::new_partition;
    else if (ctx_.is_replica_online(info.leadership->leader, true)) info.state = PartitionState::online;
    else info.state = PartitionState::offline;
  }
  trigger_online_partition_state_change();
  send_batch();
  signals_->stop_replica_outcomes.clear();  // answers to an earlier term
  signals_->topic_deletion = true;
  signals_->isr_change = true;
  next_rebalance_check_ = rt_.now() + std::chrono::seconds(5);  // Kafka's first check
}

void Controller::on_resignation() {
  if (active_) rt_.log().info("controller {}: resigned (epoch {})", id_, ctx_.epoch);
  active_ = false;
  resign_ = false;
  channel_.clear();
  batch_ = RequestBatch{};
  const ControllerEpoch epoch = ctx_.epoch;
  ctx_ = ControllerContext{};
  ctx_.epoch = epoch;
}

bool Controller::load_context() {
  Signals& sig = *signals_;
  auto brokers = read_live_brokers(*client_, sig.raise(&Signals::broker_change, signals_));
  if (!brokers) return false;
  ctx_.live_brokers = std::move(*brokers);
  auto topics = client_->get_children(std::string(kafka::k_brokers_topics),
                                      sig.raise(&Signals::topic_change, signals_));
  if (!topics) return false;
  for (const auto& t : topics->children)
    if (!read_topic(t)) return false;
  return true;
}

bool Controller::read_topic(const std::string& topic) {
  auto d = client_->get_data(kafka::topic_path(topic));
  if (!d) return d.error() == Code::no_node;  // deleted meanwhile: nothing to load
  auto assignment = parse_topic_assignment(as_chars(d->data));
  if (!assignment) {
    rt_.log().warn("controller {}: topic {} has an assignment that does not parse", id_, topic);
    return true;
  }
  if (auto cfg = client_->get_data(topic_config_path(topic)); cfg) {
    if (auto overrides = parse_topic_configs(as_chars(cfg->data))) {
      if (auto it = overrides->find("unclean.leader.election.enable"); it != overrides->end())
        ctx_.unclean_override[topic] = it->second == "true";
    }
  } else if (cfg.error() != Code::no_node) {
    return false;
  }
  ctx_.topics.insert(topic);
  for (const auto& [p, replicas] : *assignment) {
    const TopicPartition tp{topic, p};
    PartitionInfo& info = ctx_.partitions[tp];
    info.replicas = replicas;
    ControllerEpoch stored;
    info.leadership = read_leadership(tp, &stored);
    info.leadership_epoch = stored;
  }
  return true;
}

std::optional<LeaderAndIsr> Controller::read_leadership(const TopicPartition& tp,
                                                        ControllerEpoch* epoch) {
  auto d = client_->get_data(state_path(tp));
  if (!d) return std::nullopt;
  auto s = kafka::parse_partition_state(as_chars(d->data));
  if (!s) return std::nullopt;
  LeaderAndIsr l;
  l.leader = BrokerId(s->leader);
  l.leader_epoch = LeaderEpoch(s->leader_epoch);
  for (auto b : s->isr) l.isr.emplace_back(b);
  l.zk_version = d->stat.version;
  if (epoch) *epoch = ControllerEpoch(s->controller_epoch);
  return l;
}

bool Controller::controller_moved() {
  auto d = client_->get_data(std::string(kafka::k_controller_epoch));
  return d && d->stat.version != ctx_.epoch_zk_version;
}

// The multi fences the write with /controller_epoch's zkVersion (Kafka's
// KafkaZkClient.updateLeaderAndIsr with expectedControllerEpochZkVersion).
Controller::WriteResult Controller::write_leadership(const TopicPartition& tp, LeaderAndIsr& next) {
  const std::string data = kafka::partition_state_json(to_znode(next, ctx_.epoch));
  const std::string path = state_path(tp);
  auto m = client_->multi({coord::CheckOp{std::string(kafka::k_controller_epoch), ctx_.epoch_zk_version},
                           coord::SetDataOp{path, bytes_of(data), next.zk_version}});
  if (m) {
    next.zk_version = m->at(1).stat.version;
    return WriteResult::ok;
  }
  if (m.error() == Code::bad_version) return controller_moved() ? WriteResult::moved : WriteResult::conflict;
  if (m.error() != Code::connection_loss) return WriteResult::failed;
  // Unknown outcome: ours if the node now holds exactly what we wrote.
  auto now = client_->get_data(path);
  if (now && as_chars(now->data) == data && now->stat.version == next.zk_version + 1) {
    next.zk_version = now->stat.version;
    return WriteResult::ok;
  }
  if (controller_moved()) return WriteResult::moved;
  return now ? WriteResult::conflict : WriteResult::failed;
}

Controller::WriteResult Controller::create_leadership(const TopicPartition& tp, LeaderAndIsr& next) {
  if (!coord::ensure_path(*client_, partition_path(tp))) return WriteResult::failed;
  const std::string data = kafka::partition_state_json(to_znode(next, ctx_.epoch));
  const std::string path = state_path(tp);
  auto m = client_->multi({coord::CheckOp{std::string(kafka::k_controller_epoch), ctx_.epoch_zk_version},
                           coord::CreateOp{path, bytes_of(data), coord::CreateMode::persistent}});
  if (m) {
    next.zk_version = 0;
    return WriteResult::ok;
  }
  if (m.error() == Code::bad_version) return WriteResult::moved;
  if (m.error() == Code::node_exists) return WriteResult::conflict;
  if (m.error() != Code::connection_loss) return WriteResult::failed;
  auto now = client_->get_data(path);
  if (now && as_chars(now->data) == data && now->stat.version == 0) {
    next.zk_version = 0;
    return WriteResult::ok;
  }
  return now ? WriteResult::conflict : WriteResult::failed;
}

// --- state machines ---------------------------------------------------------------------

void Controller::set_partition_state(const TopicPartition& tp, PartitionState to) {
  auto it = ctx_.partitions.find(tp);
  if (it == ctx_.partitions.end()) return;
  if (!is_valid_transition(it->second.state, to) && it->second.state != to) {
    rt_.log().warn("controller {}: invalid transition of {} from {} to {}", id_, to_string(tp),
                   to_string(it->second.state), to_string(to));
    return;
  }
  it->second.state = to;
}

void Controller::set_replica_state(const TopicPartition& tp, BrokerId b, ReplicaState to) {
  auto [it, fresh] = ctx_.replica_states.try_emplace({tp, b}, ReplicaState::non_existent);
  if (!is_valid_transition(it->second, to) && it->second != to && !fresh) {
    rt_.log().warn("controller {}: invalid transition of replica {} of {} from {} to {}", id_, b,
                   to_string(tp), to_string(it->second), to_string(to));
    return;
  }
  it->second = to;
}

// StopReplica v3's leader epoch (KIP-570): the broker fences an older one.
// Kafka before KIP-380 sent StopReplica v0 (no epoch at all; KIP-570 came in
// 2.6), so with samsa.legacy.no.broker.epoch none is sent and a request
// meant for an earlier incarnation stops whatever the replica is now.
LeaderEpoch Controller::stop_replica_epoch(const TopicPartition& tp, const PartitionInfo& info) const {
  if (config_.legacy.no_broker_epoch) return LeaderEpoch::none();
  // addStopReplicaRequestForBrokers: a topic queued for deletion sends the
  // EpochDuringDelete sentinel, which overrides any epoch.
  if (ctx_.topics_being_deleted.count(tp.topic)) return k_epoch_during_delete;
  return info.leadership ? info.leadership->leader_epoch : LeaderEpoch(0);
}

bool Controller::allow_unclean(const std::string& topic) const {
  if (auto it = ctx_.unclean_override.find(topic); it != ctx_.unclean_override.end()) return it->second;
  return config_.unclean_leader_election_enable;
}

void Controller::trigger_online_partition_state_change() {
  std::vector<TopicPartition> fresh, offline;
  for (const auto& [tp, info] : ctx_.partitions) {
    if (ctx_.topics_being_deleted.count(tp.topic)) continue;
    if (info.state == PartitionState::new_partition) fresh.push_back(tp);
    if (info.state == PartitionState::offline) offline.push_back(tp);
  }
  if (!fresh.empty()) initialize_leader_and_isr(fresh);
  if (!offline.empty()) elect_leaders(offline, Strategy::offline);
}

void Controller::initialize_leader_and_isr(const std::vector<TopicPartition>& partitions) {
  std::vector<TopicPartition> existing;
  for (const auto& tp : partitions) {
    PartitionInfo& info = ctx_.partitions.at(tp);
    auto init = initial_leader_and_isr(info.replicas, ctx_.live_broker_ids());
    if (!init) {
      rt_.log().warn("controller {}: no assigned replica of {} is alive", id_, to_string(tp));
      continue;
    }
    switch (create_leadership(tp, *init)) {
      case WriteResult::ok: {
        info.leadership = *init;
        info.leadership_epoch = ctx_.epoch;
        set_partition_state(tp, PartitionState::online);
        const std::set<BrokerId> to(init->isr.begin(), init->isr.end());
        add_leader_and_isr(to, tp, /*is_new=*/true);
        break;
      }
      case WriteResult::conflict: existing.push_back(tp); break;
      case WriteResult::moved: resign_ = true; return;
      case WriteResult::failed: signals_->retry_at = rt_.now() + k_retry_backoff; break;
    }
  }
  // A state an earlier controller already created: elect from it.
  for (const auto& tp : existing) set_partition_state(tp, PartitionState::offline);
  if (!existing.empty()) elect_leaders(existing, Strategy::offline);
}

void Controller::elect_leaders(const std::vector<TopicPartition>& partitions, Strategy strategy) {
  std::vector<TopicPartition> remaining = partitions;
  for (int round = 0; round < k_max_election_rounds && !remaining.empty(); ++round) {
    std::vector<TopicPartition> retry;
    for (const auto& tp : remaining) {
      PartitionInfo& info = ctx_.partitions.at(tp);
      ControllerEpoch stored;
      auto current = read_leadership(tp, &stored);  // Kafka re-reads before electing
      if (!current) continue;
      if (stored > ctx_.epoch) {  // written by a newer controller
        resign_ = true;
        return;
      }
      info.leadership = current;
      info.leadership_epoch = stored;
      std::optional<LeaderAndIsr> next;
      std::set<BrokerId> recipients;
      switch (strategy) {
        case Strategy::offline:
          next = elect_for_offline(*current, info.replicas, ctx_.live_broker_ids(), allow_unclean(tp.topic));
          for (auto b : info.replicas)
            if (ctx_.is_replica_online(b)) recipients.insert(b);
          break;
        case Strategy::preferred:
          next = elect_preferred(*current, info.replicas, ctx_.live_broker_ids());
          recipients.insert(info.replicas.begin(), info.replicas.end());
          break;
        case Strategy::controlled_shutdown:
          next = elect_for_controlled_shutdown(*current, info.replicas,
                                               ctx_.live_or_shutting_down_ids(), ctx_.shutting_down);
          for (auto b : info.replicas)
            if (ctx_.is_replica_online(b, true)) recipients.insert(b);
          break;
      }
      if (!next) {
        rt_.log().info("controller {}: no leader for {} (ISR {})", id_, to_string(tp),
                       fmt::join(current->isr, ","));
        continue;
      }
      switch (write_leadership(tp, *next)) {
        case WriteResult::ok:
          info.leadership = *next;
          info.leadership_epoch = ctx_.epoch;
          set_partition_state(tp, PartitionState::online);
          add_leader_and_isr(recipients, tp, false);
          break;
        case WriteResult::conflict: retry.push_back(tp); break;
        case WriteResult::moved: resign_ = true; return;
        case WriteResult::failed: signals_->retry_at = rt_.now() + k_retry_backoff; break;
      }
    }
    remaining = std::move(retry);
  }
}

void Controller::replicas_online(const std::vector<std::pair<TopicPartition, BrokerId>>& replicas) {
  for (const auto& [tp, b] : replicas) {
    auto it = ctx_.replica_states.find({tp, b});
    const bool was_new = it != ctx_.replica_states.end() && it->second == ReplicaState::new_replica;
    set_replica_state(tp, b, ReplicaState::online);
    const PartitionInfo& info = ctx_.partitions.at(tp);
    // NewReplica -> OnlineReplica sends nothing: the partition's own
    // initialisation told the replica (ReplicaStateMachine).
    if (!was_new && info.leadership) add_leader_and_isr({b}, tp, false);
  }
}

void Controller::replicas_offline(const std::vector<std::pair<TopicPartition, BrokerId>>& replicas) {
  for (const auto& [tp, b] : replicas) {
    PartitionInfo& info = ctx_.partitions.at(tp);
    if (ctx_.live_brokers.count(b)) batch_.add_stop_replica(b, StopReplicaPartition{tp, stop_replica_epoch(tp, info), false});
    for (int round = 0; round < k_max_election_rounds; ++round) {
      ControllerEpoch stored;
      auto current = read_leadership(tp, &stored);
      if (!current) break;
      info.leadership = current;
      info.leadership_epoch = stored;
      auto next = remove_replica_from_isr(*current, b);
      if (!next) break;
      const auto w = write_leadership(tp, *next);
      if (w == WriteResult::conflict) continue;
      if (w == WriteResult::moved) {
        resign_ = true;
        return;
      }
      if (w == WriteResult::ok) {
        info.leadership = *next;
        info.leadership_epoch = ctx_.epoch;
        // A topic queued for deletion tells its replicas nothing more
        // (ReplicaStateMachine.doHandleStateChanges, OfflineReplica).
        std::set<BrokerId> recipients;
        for (auto r : info.replicas)
          if (r != b) recipients.insert(r);
        if (!ctx_.topics_being_deleted.count(tp.topic)) add_leader_and_isr(recipients, tp, false);
      }
      break;
    }
    set_replica_state(tp, b, ReplicaState::offline);
  }
}

std::vector<std::pair<TopicPartition, BrokerId>> Controller::replicas_on(const BrokerSet& brokers) const {
  std::vector<std::pair<TopicPartition, BrokerId>> out;
  for (const auto& [tp, info] : ctx_.partitions)
    for (auto b : info.replicas)
      if (brokers.count(b)) out.emplace_back(tp, b);
  return out;
}

// --- requests -------------------------------------------------------------------------

ControlPartitionState Controller::control_state(const TopicPartition& tp, bool is_new) const {
  const PartitionInfo& info = ctx_.partitions.at(tp);
  ControlPartitionState s;
  s.tp = tp;
  s.controller_epoch = info.leadership_epoch;
  if (info.leadership) {
    s.leader = info.leadership->leader;
    s.leader_epoch = info.leadership->leader_epoch;
    s.isr = info.leadership->isr;
    s.zk_version = info.leadership->zk_version;
  }
  s.replicas = info.replicas;
  s.is_new = is_new;
  return s;
}

void Controller::add_leader_and_isr(const std::set<BrokerId>& to, const TopicPartition& tp, bool is_new) {
  const ControlPartitionState s = control_state(tp, is_new);
  batch_.add_leader_and_isr(to, s);
  batch_.add_update_metadata(ctx_.live_or_shutting_down_ids(), s);
}

void Controller::add_update_metadata(const std::set<BrokerId>& to, const std::vector<TopicPartition>& tps) {
  batch_.add_update_metadata_brokers(to);
  for (const auto& tp : tps)
    if (ctx_.partitions.count(tp)) batch_.add_update_metadata(to, control_state(tp));
}

void Controller::send_batch() {
  if (batch_.empty()) return;
  // Answers to deletions come back to this session's event loop.
  std::weak_ptr<Signals> sig = signals_;
  batch_.send(channel_, id_, ctx_.epoch, ctx_.live_brokers, [sig](const StopReplicaOutcome& o) {
    if (auto s = sig.lock()) {
      s->stop_replica_outcomes.push_back(o);
      s->wake.set();
    }
  });
}

// --- broker changes -------------------------------------------------------------------

void Controller::process_broker_change() {
  auto cur = read_live_brokers(*client_, signals_->raise(&Signals::broker_change, signals_));
  if (!cur) {
    signals_->retry_at = rt_.now() + k_retry_backoff;
    return;
  }
  std::vector<BrokerId> fresh, dead, bounced;
  for (const auto& [id, info] : *cur) {
    auto known = ctx_.live_brokers.find(id);
    if (known == ctx_.live_brokers.end()) fresh.push_back(id);
    else if (info.epoch > known->second.epoch) {
      // KIP-380: a newer czxid is a bounce (dead, then new). Before it
      // (KAFKA-7235) the controller compared broker ids only: a broker that
      // came back before the controller read /brokers/ids again was never
      // told its partitions, and the old incarnation's leaderships stood.
      if (config_.legacy.no_broker_epoch) known->second = info;
      else bounced.push_back(id);
    }
  }
  for (const auto& [id, info] : ctx_.live_brokers)
    if (!cur->count(id)) dead.push_back(id);
  if (!fresh.empty() || !dead.empty() || !bounced.empty())
    rt_.log().info("controller {}: brokers new [{}] dead [{}] bounced [{}]", id_, fmt::join(fresh, ","),
                   fmt::join(dead, ","), fmt::join(bounced, ","));
  if (!fresh.empty()) {
    for (auto id : fresh) {
      ctx_.live_brokers[id] = cur->at(id);
      channel_.add_broker(cur->at(id));
    }
    on_broker_startup(fresh);
  }
  if (!bounced.empty()) {
    for (auto id : bounced) {
      ctx_.live_brokers.erase(id);
      channel_.remove_broker(id);
    }
    on_broker_failure(bounced);
    for (auto id : bounced) {
      ctx_.live_brokers[id] = cur->at(id);
      channel_.add_broker(cur->at(id));
    }
    on_broker_startup(bounced);
  }
  if (!dead.empty()) {
    for (auto id : dead) {
      ctx_.live_brokers.erase(id);
      channel_.remove_broker(id);
    }
    on_broker_failure(dead);
  }
}

void Controller::on_broker_startup(const std::vector<BrokerId>& brokers) {
  const BrokerSet fresh(brokers.begin(), brokers.end());
  for (auto b : brokers) ctx_.shutting_down.erase(b);
  BrokerSet existing;
  for (auto b : ctx_.live_or_shutting_down_ids())
    if (!fresh.count(b)) existing.insert(b);
  batch_.add_update_metadata_brokers(existing);
  // Every partition with leadership info, its leader online or not
  // (ControllerContext.partitionsWithLeaders): a new broker's cache must list
  // all of a topic's partitions, or clients that ask it see a smaller topic
  // and hash keys to other partitions (swarm/kafka seed 163's per-key-order
  // after power-loss-all with RF=1). An offline leader is answered as
  // LEADER_NOT_AVAILABLE.
  std::vector<TopicPartition> with_leaders;
  for (const auto& [tp, info] : ctx_.partitions)
    if (info.leadership && !ctx_.topics_being_deleted.count(tp.topic)) with_leaders.push_back(tp);
  add_update_metadata(fresh, with_leaders);
  replicas_online(replicas_on(fresh));
  trigger_online_partition_state_change();
  // A broker with replicas of a topic being deleted is back: the deletion
  // may go on (TopicDeletionManager.resumeDeletionForTopics).
  bool resume = false;
  for (const auto& [tp, b] : replicas_on(fresh))
    if (ctx_.topics_being_deleted.count(tp.topic)) {
      ctx_.topics_ineligible_for_deletion.erase(tp.topic);
      resume = true;
    }
  if (resume) resume_deletions();
  send_batch();
}

void Controller::on_broker_failure(const std::vector<BrokerId>& brokers) {
  for (auto b : brokers) ctx_.shutting_down.erase(b);
  const BrokerSet dead(brokers.begin(), brokers.end());
  std::vector<TopicPartition> offline_leader;
  for (const auto& [tp, info] : ctx_.partitions) {
    if (ctx_.topics_being_deleted.count(tp.topic) || !info.leadership) continue;
    if (!ctx_.is_replica_online(info.leadership->leader)) offline_leader.push_back(tp);
  }
  for (const auto& tp : offline_leader) set_partition_state(tp, PartitionState::offline);
  trigger_online_partition_state_change();
  if (resign_) return;
  std::vector<std::pair<TopicPartition, BrokerId>> replicas, deleting;
  for (const auto& r : replicas_on(dead))
    (ctx_.topics_being_deleted.count(r.first.topic) ? deleting : replicas).push_back(r);
  replicas_offline(replicas);
  // Replicas of topics being deleted cannot answer now: failed, retried
  // when their broker is back.
  fail_replica_deletion(deleting);
  if (offline_leader.empty()) batch_.add_update_metadata_brokers(ctx_.live_or_shutting_down_ids());
  send_batch();
}

// --- topics -----------------------------------------------------------------------------

void Controller::process_topic_change() {
  auto children = client_->get_children(std::string(kafka::k_brokers_topics),
                                        signals_->raise(&Signals::topic_change, signals_));
  if (!children) {
    signals_->retry_at = rt_.now() + k_retry_backoff;
    return;
  }
  const std::set<std::string> now(children->children.begin(), children->children.end());
  for (auto it = ctx_.topics.begin(); it != ctx_.topics.end();) {
    if (now.count(*it)) {
      ++it;
      continue;
    }
    const std::string gone = *it;
    it = ctx_.topics.erase(it);
    std::erase_if(ctx_.partitions, [&](const auto& kv) { return kv.first.topic == gone; });
    std::erase_if(ctx_.replica_states, [&](const auto& kv) { return kv.first.first.topic == gone; });
  }
  std::vector<TopicPartition> fresh;
  for (const auto& t : now) {
    if (ctx_.topics.count(t)) continue;
    if (!read_topic(t)) {
      signals_->retry_at = rt_.now() + k_retry_backoff;
      return;
    }
    for (const auto& [tp, info] : ctx_.partitions)
      if (tp.topic == t) fresh.push_back(tp);
  }
  if (!fresh.empty()) on_new_partition_creation(fresh);
}

void Controller::on_new_partition_creation(const std::vector<TopicPartition>& partitions) {
  std::string names;
  for (const auto& tp : partitions) names += (names.empty() ? "" : ",") + to_string(tp);
  rt_.log().info("controller {}: new partitions [{}]", id_, names);
  std::vector<std::pair<TopicPartition, BrokerId>> replicas;
  for (const auto& tp : partitions) {
    PartitionInfo& info = ctx_.partitions.at(tp);
    if (info.leadership) {  // an earlier controller initialised it already
      const bool led = ctx_.is_replica_online(info.leadership->leader, true);
      info.state = led ? PartitionState::online : PartitionState::offline;
      for (auto b : info.replicas)
        set_replica_state(tp, b, ctx_.is_replica_online(b, true) ? ReplicaState::online : ReplicaState::offline);
      if (led) add_leader_and_isr(std::set<BrokerId>(info.replicas.begin(), info.replicas.end()), tp, true);
      continue;
    }
    set_partition_state(tp, PartitionState::new_partition);
    for (auto b : info.replicas) {
      set_replica_state(tp, b, ReplicaState::new_replica);
      replicas.emplace_back(tp, b);
    }
  }
  trigger_online_partition_state_change();
  replicas_online(replicas);
  send_batch();
}

// TopicDeletion (KafkaController.processTopicDeletion): queue the topics
// /admin/delete_topics names; TopicDeletionManager does the rest.
void Controller::process_topic_deletion() {
  auto children = client_->get_children(std::string(kafka::k_delete_topics),
                                        signals_->raise(&Signals::topic_deletion, signals_));
  if (!children) {
    if (children.error() == Code::no_node) return;
    signals_->retry_at = rt_.now() + k_retry_backoff;
    return;
  }
  for (const auto& topic : children->children) {
    if (!config_.delete_topic_enable || !ctx_.topics.count(topic)) {
      // Kafka drops requests it will not act on.
      (void)client_->remove(fmt::format("{}/{}", kafka::k_delete_topics, topic));
      continue;
    }
    if (!ctx_.topics_being_deleted.insert(topic).second) continue;
    // TopicDeletionManager.enqueueTopicsForDeletion; a topic with a replica
    // on a broker that is down waits for it (topicsIneligibleForDeletion).
    for (const auto& [tp, info] : ctx_.partitions)
      if (tp.topic == topic)
        for (auto b : info.replicas)
          if (!ctx_.is_replica_online(b, true)) ctx_.topics_ineligible_for_deletion.insert(topic);
  }
  resume_deletions();
}

// TopicDeletionManager.resumeDeletions: a topic whose replicas are all
// deleted is removed; one with failed replicas and none in flight is tried
// again; one queued, not in flight and eligible (every replica's broker up)
// starts (again).
void Controller::resume_deletions() {
  const std::set<std::string> queued = ctx_.topics_being_deleted;
  for (const auto& topic : queued) {
    if (all_replicas_in(topic, ReplicaState::deletion_successful)) {
      complete_delete_topic(topic);
      continue;
    }
    const bool in_flight = any_replica_in(topic, ReplicaState::deletion_started);
    if (!in_flight && any_replica_in(topic, ReplicaState::deletion_ineligible)) {
      // retryDeletionForIneligibleReplicas: back to OfflineReplica.
      for (auto& [key, state] : ctx_.replica_states)
        if (key.first.topic == topic && state == ReplicaState::deletion_ineligible)
          set_replica_state(key.first, key.second, ReplicaState::offline);
    }
    if (!in_flight && !ctx_.topics_ineligible_for_deletion.count(topic)) start_topic_deletion(topic);
  }
  send_batch();
}

// onTopicDeletion + startReplicaDeletion: UpdateMetadata marks the
// partitions as being deleted (LeaderDuringDelete); every replica not yet
// deleted gets StopReplica(delete) if its broker is up, else it is
// ReplicaDeletionIneligible and the topic waits for that broker.
void Controller::start_topic_deletion(const std::string& topic) {
  rt_.log().info("controller {}: deletion of topic {} (re)started", id_, topic);
  for (auto& [tp, info] : ctx_.partitions) {
    if (tp.topic != topic) continue;
    ControlPartitionState s = control_state(tp);
    s.leader = k_leader_during_delete;
    batch_.add_update_metadata(ctx_.live_or_shutting_down_ids(), s);
    if (info.state != PartitionState::offline) set_partition_state(tp, PartitionState::offline);
    for (auto b : info.replicas) {
      if (replica_state(tp, b) == ReplicaState::deletion_successful) continue;
      if (!ctx_.is_replica_online(b, true)) {
        set_replica_state(tp, b, ReplicaState::offline);
        set_replica_state(tp, b, ReplicaState::deletion_ineligible);
        ctx_.topics_ineligible_for_deletion.insert(topic);
        continue;
      }
      // startReplicaDeletion: OfflineReplica first (StopReplica without
      // delete and the replica out of the ISR, written with compare-and-set),
      // then ReplicaDeletionStarted (StopReplica(delete), merged with it).
      replicas_offline({{tp, b}});
      if (resign_) return;
      batch_.add_stop_replica(b, StopReplicaPartition{tp, k_epoch_during_delete, true});
      set_replica_state(tp, b, ReplicaState::deletion_started);
    }
  }
}

// TopicDeletionStopReplicaResponseReceived: failReplicaDeletion for the
// partitions answered with an error, completeReplicaDeletion for the rest.
void Controller::process_stop_replica_outcomes() {
  auto outcomes = std::move(signals_->stop_replica_outcomes);
  signals_->stop_replica_outcomes.clear();
  for (const auto& o : outcomes) {
    std::vector<std::pair<TopicPartition, BrokerId>> failed;
    for (const auto& [tp, error] : o.partitions) {
      if (!ctx_.topics_being_deleted.count(tp.topic)) continue;
      if (replica_state(tp, o.broker) != ReplicaState::deletion_started) continue;  // a late answer
      if (error == ErrorCode::none) set_replica_state(tp, o.broker, ReplicaState::deletion_successful);
      else failed.emplace_back(tp, o.broker);
    }
    fail_replica_deletion(failed);
  }
  resume_deletions();
}

// failReplicaDeletion: ReplicaDeletionIneligible, and the topic waits until
// a broker with one of its replicas starts (onBrokerStartup).
void Controller::fail_replica_deletion(const std::vector<std::pair<TopicPartition, BrokerId>>& replicas) {
  for (const auto& [tp, b] : replicas) {
    const ReplicaState st = replica_state(tp, b);
    if (st != ReplicaState::deletion_started && st != ReplicaState::offline) continue;
    rt_.log().info("controller {}: deletion of replica {} of {} failed; retried later", id_, b, to_string(tp));
    set_replica_state(tp, b, ReplicaState::deletion_ineligible);
    ctx_.topics_ineligible_for_deletion.insert(tp.topic);
  }
}

// completeDeleteTopic: only now do the topic's znodes go, the marker last.
void Controller::complete_delete_topic(const std::string& topic) {
  if (!remove_recursive(*client_, kafka::topic_path(topic)) ||
      !remove_recursive(*client_, topic_config_path(topic)) ||
      !remove_recursive(*client_, fmt::format("{}/{}", kafka::k_delete_topics, topic))) {
    signals_->retry_at = rt_.now() + k_retry_backoff;
    return;
  }
  ctx_.topics.erase(topic);
  ctx_.topics_being_deleted.erase(topic);
  ctx_.topics_ineligible_for_deletion.erase(topic);
  ctx_.unclean_override.erase(topic);
  std::erase_if(ctx_.partitions, [&](const auto& kv) { return kv.first.topic == topic; });
  std::erase_if(ctx_.replica_states, [&](const auto& kv) { return kv.first.first.topic == topic; });
  rt_.log().info("controller {}: deleted topic {}", id_, topic);
}

ReplicaState Controller::replica_state(const TopicPartition& tp, BrokerId b) const {
  auto it = ctx_.replica_states.find({tp, b});
  return it == ctx_.replica_states.end() ? ReplicaState::non_existent : it->second;
}

bool Controller::any_replica_in(const std::string& topic, ReplicaState st) const {
  for (const auto& [tp, info] : ctx_.partitions)
    if (tp.topic == topic)
      for (auto b : info.replicas)
        if (replica_state(tp, b) == st) return true;
  return false;
}

bool Controller::all_replicas_in(const std::string& topic, ReplicaState st) const {
  for (const auto& [tp, info] : ctx_.partitions)
    if (tp.topic == topic)
      for (auto b : info.replicas)
        if (replica_state(tp, b) != st) return false;
  return true;
}

// --- ISR change notifications -------------------------------------------------------------

void Controller::process_isr_change_notification() {
  const std::string root(kafka::k_isr_change_notification);
  auto children = client_->get_children(root, signals_->raise(&Signals::isr_change, signals_));
  if (!children) {
    signals_->retry_at = rt_.now() + k_retry_backoff;
    return;
  }
  std::set<TopicPartition> changed;
  for (const auto& child : children->children) {
    const std::string path = root + "/" + child;
    if (auto d = client_->get_data(path)) {
      const auto j = nlohmann::json::parse(as_chars(d->data), nullptr, false);
      if (j.is_object() && j.contains("partitions") && j["partitions"].is_array())
        for (const auto& p : j["partitions"])
          if (p.is_object() && p.value("topic", nlohmann::json()).is_string() &&
              p.value("partition", nlohmann::json()).is_number_integer())
            changed.insert({p["topic"].get<std::string>(), PartitionId(p["partition"].get<std::int32_t>())});
    }
    (void)client_->remove(path);
  }
  std::vector<TopicPartition> refreshed;
  for (const auto& tp : changed) {
    auto it = ctx_.partitions.find(tp);
    if (it == ctx_.partitions.end()) continue;
    ControllerEpoch stored;
    if (auto l = read_leadership(tp, &stored)) {
      it->second.leadership = l;
      it->second.leadership_epoch = stored;
      refreshed.push_back(tp);
    }
  }
  if (!refreshed.empty()) {
    add_update_metadata(ctx_.live_or_shutting_down_ids(), refreshed);
    send_batch();
  }
}

// --- controlled shutdown and preferred leaders --------------------------------------------

void Controller::process_controlled_shutdown(ShutdownRequest& r) {
  auto known = ctx_.live_brokers.find(r.id);
  if (known == ctx_.live_brokers.end()) {
    r.result.error = ErrorCode::broker_not_available;
    return;
  }
  if (!config_.legacy.no_broker_epoch && !r.epoch.is_none() && r.epoch < known->second.epoch) {  // KIP-380
    r.result.error = ErrorCode::stale_broker_epoch;
    return;
  }
  ctx_.shutting_down.insert(r.id);
  std::vector<TopicPartition> led;
  std::vector<std::pair<TopicPartition, BrokerId>> followed;
  for (const auto& [tp, info] : ctx_.partitions) {
    if (!contains(info.replicas, r.id) || info.replicas.size() <= 1 || !info.leadership) continue;
    if (ctx_.topics_being_deleted.count(tp.topic)) continue;
    if (info.leadership->leader == r.id) led.push_back(tp);
    else followed.emplace_back(tp, r.id);
  }
  elect_leaders(led, Strategy::controlled_shutdown);
  if (!resign_) replicas_offline(followed);
  send_batch();
  for (const auto& [tp, info] : ctx_.partitions)
    if (info.replicas.size() > 1 && info.leadership && info.leadership->leader == r.id)
      r.result.remaining.push_back(tp);
}

void Controller::check_and_trigger_auto_leader_rebalance() {
  std::map<BrokerId, std::vector<TopicPartition>> by_preferred;
  for (const auto& [tp, info] : ctx_.partitions)
    if (!info.replicas.empty() && !ctx_.topics_being_deleted.count(tp.topic))
      by_preferred[info.replicas.front()].push_back(tp);
  for (const auto& [preferred, tps] : by_preferred) {
    std::vector<TopicPartition> not_preferred;
    for (const auto& tp : tps) {
      const auto& l = ctx_.partitions.at(tp).leadership;
      if (l && l->leader != preferred) not_preferred.push_back(tp);
    }
    const double imbalance = static_cast<double>(not_preferred.size()) / static_cast<double>(tps.size());
    if (imbalance <= config_.leader_imbalance_per_broker_percentage / 100.0) continue;
    if (!ctx_.is_replica_online(preferred)) continue;
    rt_.log().info("controller {}: preferred leader {} leads {} of {}; electing", id_, preferred,
                   tps.size() - not_preferred.size(), tps.size());
    elect_leaders(not_preferred, Strategy::preferred);
    send_batch();
    if (resign_) return;
  }
}

// --- znode values and admin writes -----------------------------------------------------------

std::optional<std::map<PartitionId, std::vector<BrokerId>>> parse_topic_assignment(std::string_view json) {
  const auto j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object() || !j.contains("partitions") || !j["partitions"].is_object()) return std::nullopt;
  std::map<PartitionId, std::vector<BrokerId>> out;
  for (const auto& [key, replicas] : j["partitions"].items()) {
    std::int32_t p = 0;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), p);
    if (ec != std::errc{} || end != key.data() + key.size() || p < 0 || !replicas.is_array()) return std::nullopt;
    std::vector<BrokerId> rs;
    for (const auto& r : replicas) {
      if (!r.is_number_integer()) return std::nullopt;
      rs.emplace_back(r.get<std::int32_t>());
    }
    out.emplace(PartitionId(p), std::move(rs));
  }
  return out;
}

std::optional<std::map<std::string, std::string>> parse_topic_configs(std::string_view json) {
  const auto j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object() || !j.contains("config") || !j["config"].is_object()) return std::nullopt;
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j["config"].items()) {
    if (!v.is_string()) return std::nullopt;
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

std::string topic_configs_json(const std::map<std::string, std::string>& configs) {
  nlohmann::ordered_json j;
  j["version"] = 1;
  j["config"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : configs) j["config"][k] = v;
  return j.dump();
}

Result<void, Code> write_topic(coord::Client& c, const std::string& topic,
                               const std::map<PartitionId, std::vector<BrokerId>>& assignment,
                               const std::map<std::string, std::string>& configs) {
  // The config first, not transactional with the assignment (as Kafka).
  const std::string cfg_path = topic_config_path(topic);
  const Bytes cfg_data = bytes_of(topic_configs_json(configs));
  auto cfg = c.create(cfg_path, cfg_data);
  if (!cfg && cfg.error() == Code::node_exists) {
    // A leftover of a deleted topic of that name: overwrite it.
    if (auto set = c.set_data(cfg_path, cfg_data); !set) return Err{set.error()};
  } else if (!cfg && cfg.error() != Code::connection_loss) {
    return Err{cfg.error()};
  }
  std::map<std::int32_t, std::vector<std::int32_t>> plain;
  for (const auto& [p, rs] : assignment)
    for (auto b : rs) plain[p.value()].push_back(b.value());
  auto r = c.create(kafka::topic_path(topic), bytes_of(kafka::topic_assignment_json(plain)));
  if (!r) return Err{r.error()};
  return {};
}

Result<void, Code> mark_topic_for_deletion(coord::Client& c, const std::string& topic) {
  auto r = c.create(fmt::format("{}/{}", kafka::k_delete_topics, topic), {});
  if (!r) return Err{r.error()};
  return {};
}

Result<void, Code> propagate_isr_changes(coord::Client& c, const std::vector<TopicPartition>& partitions) {
  nlohmann::ordered_json j;
  j["version"] = 1;
  j["partitions"] = nlohmann::ordered_json::array();
  for (const auto& tp : partitions)
    j["partitions"].push_back({{"topic", tp.topic}, {"partition", tp.partition.value()}});
  auto r = c.create(fmt::format("{}/isr_change_", kafka::k_isr_change_notification),
                    bytes_of(j.dump()), coord::CreateMode::persistent_sequential);
  if (!r) return Err{r.error()};
  return {};
}

}  // namespace samsa::broker
