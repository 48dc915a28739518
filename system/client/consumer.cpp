#include "system/client/consumer.h"

#include <algorithm>
#include <deque>
#include <iterator>

#include "system/client/group/assignor.h"
#include "system/client/metadata.h"
#include "system/client/network_client.h"
#include "system/protocol/record_batch.h"
#include "system/protocol/typed_api.h"

namespace samsa::client {

using namespace protocol;
using Ms = std::chrono::milliseconds;

namespace {
constexpr std::int16_t k_fetch_version = 11;
}  // namespace

namespace {

bool needs_rejoin(ErrorCode e) {
  return e == ErrorCode::rebalance_in_progress || e == ErrorCode::illegal_generation ||
         e == ErrorCode::unknown_member_id;
}
bool coordinator_lost(ErrorCode e) {
  return e == ErrorCode::not_coordinator || e == ErrorCode::coordinator_not_available;
}

// Fetcher.CompletedFetch.containsAbortMarker.
bool is_abort_marker(ByteView batch) {
  auto it = RecordIterator::open(batch);
  if (!it) return false;
  auto r = it->next();
  if (!r || *r == nullptr) return false;
  auto m = read_control_record(**r);
  return m && m->type == ControlType::abort;
}

// Fetched records not yet returned (Kafka's FetchBuffer), oldest first, and
// the runs of one partition they form (an answer's records of a partition
// are appended together): which partitions have buffered records is asked
// at every round of Fetches and for every answered partition, and walking
// every buffered record for it was quadratic at high rates (issue 14). A
// deque: poll takes up to max.poll.records from the front.
class FetchBuffer {
 public:
  bool empty() const { return records_.empty(); }
  std::size_t size() const { return records_.size(); }
  void clear() {
    records_.clear();
    runs_.clear();
  }
  void push_back(ConsumerRecord r) {
    if (runs_.empty() || !runs_.back().holds(r)) runs_.push_back({TopicPartition{r.topic, PartitionId(r.partition)}, 0});
    ++runs_.back().count;
    records_.push_back(std::move(r));
  }
  // The first n records, moved out.
  std::vector<ConsumerRecord> take_front(std::size_t n) {
    n = std::min(n, records_.size());
    std::vector<ConsumerRecord> out(std::make_move_iterator(records_.begin()),
                                    std::make_move_iterator(records_.begin() + static_cast<std::ptrdiff_t>(n)));
    records_.erase(records_.begin(), records_.begin() + static_cast<std::ptrdiff_t>(n));
    for (std::size_t left = n; left > 0;) {
      const std::size_t k = std::min(left, runs_.front().count);
      runs_.front().count -= k;
      left -= k;
      if (runs_.front().count == 0) runs_.pop_front();
    }
    return out;
  }
  void erase(const TopicPartition& tp) {
    std::erase_if(records_, [&](const ConsumerRecord& r) { return r.topic == tp.topic && r.partition == tp.partition.value(); });
    std::erase_if(runs_, [&](const Run& run) { return run.tp == tp; });
    // Runs of one partition that became neighbours join again.
    for (std::size_t i = 1; i < runs_.size();) {
      if (runs_[i].tp == runs_[i - 1].tp) {
        runs_[i - 1].count += runs_[i].count;
        runs_.erase(runs_.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }
  bool holds(const TopicPartition& tp) const {
    return std::any_of(runs_.begin(), runs_.end(), [&](const Run& run) { return run.tp == tp; });
  }
  void partitions_into(std::set<TopicPartition>& out) const {
    for (const Run& run : runs_) out.insert(run.tp);
  }

 private:
  struct Run {
    TopicPartition tp;
    std::size_t count = 0;
    bool holds(const ConsumerRecord& r) const { return tp.partition.value() == r.partition && tp.topic == r.topic; }
  };
  std::deque<ConsumerRecord> records_;
  std::deque<Run> runs_;
};

}  // namespace

struct Consumer::State {
  State(sim::Runtime& r, ConsumerConfig c)
      : rt(r),
        config(std::move(c)),
        rng(r.random("consumer")),
        scope(r.make_scope("consumer." + config.client_id)),
        metadata(config.bootstrap_servers, config.metadata_max_age_ms, config.retry_backoff_ms),
        net(r, network_config(config), *scope, &metadata, "consumer.conn.") {}
  // Connection fibers end before the state they use goes.
  ~State() { scope->stop(); }
  static NetworkConfig network_config(const ConsumerConfig& c) {
    // KafkaConsumer's NetworkClient: 100 requests in flight per connection.
    return NetworkConfig{c.client_id, c.request_timeout_ms, c.reconnect_backoff_ms, c.reconnect_backoff_max_ms, 10000, 100};
  }
  sim::Runtime& rt;
  ConsumerConfig config;
  sim::Random rng;
  std::unique_ptr<sim::TaskScope> scope;
  Metadata metadata;
  NetworkClient net;  // the poll loop's and the heartbeat fiber's (ConsumerNetworkClient)
  std::unique_ptr<group::Assignor> assignor;
  ConsumerStats stats;
  bool closed = false;
  bool heartbeat_running = false;

  // Subscription (SubscriptionState).
  std::vector<std::string> topics;  // subscribe()
  bool group_managed = false;
  std::vector<TopicPartition> assigned;
  std::map<TopicPartition, std::int64_t> positions;
  std::map<TopicPartition, std::int32_t> position_epochs;  // epoch of the last record consumed
  FetchBuffer buffered;

  // Fetches in flight, one per leader (Fetcher.nodesWithPendingFetchRequests),
  // and their answers not yet parsed (Fetcher.completedFetches). A change of
  // assignment bumps fetch_epoch: older answers are dropped.
  struct CompletedFetch {
    std::uint64_t epoch = 0;
    std::map<TopicPartition, std::int64_t> fetch_offsets;
    std::optional<FetchResponse> response;
  };
  std::set<std::int32_t> fetch_pending;
  std::deque<CompletedFetch> completed_fetches;
  std::uint64_t fetch_epoch = 0;

  // Group membership (AbstractCoordinator).
  std::optional<sim::Address> coordinator;
  std::string member_id;
  GenerationId generation = GenerationId::none();
  bool rejoin_needed = true;
  sim::MonoTime last_poll{};
  sim::MonoTime next_auto_commit{};
  std::optional<std::map<TopicPartition, std::int64_t>> pending_async;
  // The leader's view of the group's topics when it assigned
  // (ConsumerCoordinator.assignmentSnapshot): partition counts, a topic
  // without metadata absent. A metadata update that changes it makes the
  // leader rejoin (rejoinNeededOrPending), so that an assignment made while
  // a topic had no metadata is made again once it has.
  std::optional<std::map<std::string, std::int32_t>> assignment_snapshot;
  std::vector<std::string> group_topics;  // the leader's group subscription

  sim::Duration request_timeout() const { return Ms(config.request_timeout_ms); }
  void backoff() { rt.sleep(Ms(config.retry_backoff_ms)); }

  void refresh_metadata();
  std::map<std::string, std::int32_t> metadata_snapshot(const std::vector<std::string>& of) const;
  void check_metadata_snapshot();
  void maybe_refresh_metadata() {
    if (rt.now() >= metadata.update_due()) refresh_metadata();
  }
  Node coordinator_node() const { return Node{*coordinator, k_channel_coordinator}; }
  std::set<TopicPartition> unfetchable() const;
  bool send_fetches(std::int32_t max_wait_ms);
  void parse_fetch(const CompletedFetch& f);
  bool ensure_coordinator();
  void join_group();
  void on_join_complete(const Bytes& assignment, GenerationId gen);
  CommitOutcome commit(const std::map<TopicPartition, std::int64_t>& offsets, bool async);
  void update_positions();
  std::optional<std::int64_t> list_offset(const TopicPartition& tp, std::int64_t timestamp);
  void fetch_once(sim::Duration max_wait);
  void run_heartbeat();
  void leave_group();
};

// --- configuration -----------------------------------------------------------------------------

Result<ConsumerConfig, std::string> make_consumer_config(const std::map<std::string, std::string>& props) {
  ConsumerConfig c;
  for (const auto& [k, v] : props) {
    auto as_int = [&](std::int32_t& out) -> bool {
      try {
        std::size_t used = 0;
        const long long n = std::stoll(v, &used);
        if (used != v.size() || n < 0 || n > std::numeric_limits<std::int32_t>::max()) return false;
        out = static_cast<std::int32_t>(n);
        return true;
      } catch (...) {
        return false;
      }
    };
    bool ok = true;
    if (k == "bootstrap.servers") {
      std::size_t start = 0;
      while (start < v.size()) {
        std::size_t end = v.find(',', start);
        if (end == std::string::npos) end = v.size();
        const std::string hp = v.substr(start, end - start);
        const std::size_t colon = hp.rfind(':');
        std::int32_t port = 0;
        if (colon == std::string::npos) return Err{std::string("bootstrap.servers: host:port expected")};
        const std::string ps = hp.substr(colon + 1);
        if (ps.empty() || ps.find_first_not_of("0123456789") != std::string::npos || ps.size() > 5)
          return Err{std::string("bootstrap.servers: bad port")};
        port = std::stoi(ps);
        c.bootstrap_servers.push_back({hp.substr(0, colon), static_cast<std::uint16_t>(port)});
        start = end + 1;
      }
    } else if (k == "client.id") c.client_id = v;
    else if (k == "group.id") c.group_id = v;
    else if (k == "session.timeout.ms") ok = as_int(c.session_timeout_ms);
    else if (k == "heartbeat.interval.ms") ok = as_int(c.heartbeat_interval_ms);
    else if (k == "max.poll.interval.ms") ok = as_int(c.max_poll_interval_ms);
    else if (k == "max.poll.records") ok = as_int(c.max_poll_records) && c.max_poll_records >= 1;
    else if (k == "fetch.max.wait.ms") ok = as_int(c.fetch_max_wait_ms);
    else if (k == "fetch.min.bytes") ok = as_int(c.fetch_min_bytes);
    else if (k == "max.partition.fetch.bytes") ok = as_int(c.max_partition_fetch_bytes);
    else if (k == "auto.offset.reset") {
      ok = v == "earliest" || v == "latest" || v == "none";
      c.auto_offset_reset = v;
    } else if (k == "enable.auto.commit") {
      ok = v == "true" || v == "false";
      c.enable_auto_commit = v == "true";
    } else if (k == "auto.commit.interval.ms") ok = as_int(c.auto_commit_interval_ms);
    else if (k == "partition.assignment.strategy") {
      ok = group::make_assignor(v) != nullptr;
      c.partition_assignment_strategy = v;
    } else if (k == "request.timeout.ms") ok = as_int(c.request_timeout_ms);
    else if (k == "retry.backoff.ms") ok = as_int(c.retry_backoff_ms);
    else if (k == "metadata.max.age.ms") ok = as_int(c.metadata_max_age_ms);
    else if (k == "reconnect.backoff.ms") ok = as_int(c.reconnect_backoff_ms);
    else if (k == "reconnect.backoff.max.ms") ok = as_int(c.reconnect_backoff_max_ms);
    else if (k == "isolation.level") {
      ok = v == "read_committed" || v == "read_uncommitted";
      c.read_committed = v == "read_committed";
    }
    else return Err{k + ": unknown consumer key"};
    if (!ok) return Err{k + ": invalid value '" + v + "'"};
  }
  if (c.bootstrap_servers.empty()) return Err{std::string("bootstrap.servers: required")};
  if (c.heartbeat_interval_ms >= c.session_timeout_ms)
    return Err{std::string("heartbeat.interval.ms: must be below session.timeout.ms")};
  return c;
}

// --- metadata ----------------------------------------------------------------------------------

void Consumer::State::refresh_metadata() {
  std::vector<sim::Address> targets;
  for (const auto& [id, a] : metadata.brokers()) targets.push_back(a);
  for (const auto& a : config.bootstrap_servers) targets.push_back(a);
  std::set<std::string> wanted(topics.begin(), topics.end());
  for (const auto& tp : assigned) wanted.insert(tp.topic);
  if (assignment_snapshot) wanted.insert(group_topics.begin(), group_topics.end());
  metadata.set_topics(std::move(wanted));
  const MetadataRequest req = metadata.request();
  const std::size_t start = static_cast<std::size_t>(rng.uniform(0, static_cast<std::int64_t>(targets.size()) - 1));
  for (std::size_t i = 0; i < targets.size(); ++i) {
    auto resp = net.call<MetadataResponse>(Node{targets[(start + i) % targets.size()]}, req, 9, request_timeout());
    if (!resp) continue;
    metadata.update(*resp, rt.now());
    return;
  }
  metadata.failed_update(rt.now());
}

// ConsumerCoordinator.MetadataSnapshot: the partition count of each topic
// the metadata knows.
std::map<std::string, std::int32_t> Consumer::State::metadata_snapshot(const std::vector<std::string>& of) const {
  std::map<std::string, std::int32_t> out;
  for (const auto& t : of)
    if (auto n = metadata.partition_count(t); n && *n > 0) out[t] = *n;
  return out;
}

// ConsumerCoordinator.rejoinNeededOrPending: the leader rejoins when the
// group's topics look different from what it assigned.
void Consumer::State::check_metadata_snapshot() {
  if (!assignment_snapshot || rejoin_needed) return;
  if (metadata_snapshot(group_topics) != *assignment_snapshot) rejoin_needed = true;
}

// --- the group ---------------------------------------------------------------------------------

bool Consumer::State::ensure_coordinator() {
  if (coordinator) return true;
  std::vector<sim::Address> targets;
  for (const auto& [id, a] : metadata.brokers()) targets.push_back(a);
  for (const auto& a : config.bootstrap_servers) targets.push_back(a);
  FindCoordinatorRequest req;
  req.key = config.group_id;
  const std::size_t start = static_cast<std::size_t>(rng.uniform(0, static_cast<std::int64_t>(targets.size()) - 1));
  for (std::size_t i = 0; i < targets.size(); ++i) {
    auto resp = net.call<FindCoordinatorResponse>(Node{targets[(start + i) % targets.size()]}, req, 3, request_timeout());
    if (resp && resp->error_code == ErrorCode::none) {
      coordinator = sim::Address{resp->host, static_cast<std::uint16_t>(resp->port)};
      return true;
    }
  }
  return false;
}

void Consumer::State::on_join_complete(const Bytes& bytes, GenerationId gen) {
  auto a = group::decode_assignment(bytes);
  assigned = a ? a->partitions : std::vector<TopicPartition>{};
  std::sort(assigned.begin(), assigned.end());
  // Eager protocol: every position is given up and read again from the
  // committed offsets (ConsumerCoordinator.onJoinComplete).
  positions.clear();
  buffered.clear();
  ++fetch_epoch;
  completed_fetches.clear();
  generation = gen;
  rejoin_needed = false;
  ++stats.rebalances;
  if (assignor && a) assignor->on_assignment(*a, gen);
  // Topics the leader could not assign yet: ask again for their metadata.
  if (assignment_snapshot && assignment_snapshot->size() < group_topics.size()) metadata.request_update();
}

void Consumer::State::join_group() {
  // onJoinPrepare: an auto-commit before the partitions go.
  if (config.enable_auto_commit && generation != GenerationId::none() && !positions.empty())
    (void)commit(positions, false);
  for (int attempt = 0; !closed; ++attempt) {
    if (!ensure_coordinator()) {
      backoff();
      continue;
    }
    JoinGroupRequest req;
    req.group_id = config.group_id;
    req.session_timeout_ms = config.session_timeout_ms;
    req.rebalance_timeout_ms = config.max_poll_interval_ms;
    req.member_id = member_id;
    req.protocol_type = std::string(group::k_consumer_protocol_type);
    group::Subscription sub;
    sub.topics = topics;
    auto& p = req.protocols.emplace_back();
    p.name = std::string(assignor->name());
    p.metadata = group::encode_subscription(sub, assignor->version());
    // AbstractCoordinator.sendJoinGroupRequest: the coordinator may hold the
    // JoinGroup for the rebalance timeout, so the request waits that long and
    // JOIN_GROUP_TIMEOUT_LAPSE (5 s) more, at least request.timeout.ms. A
    // disconnect (the coordinator crashed) ends the wait at once and the
    // coordinator is looked up again (CoordinatorResponseHandler.onFailure:
    // markCoordinatorUnknown).
    const sim::MonoTime sent = rt.now();
    auto j = net.call<JoinGroupResponse>(coordinator_node(), req, 5,
                                         std::max(Ms(config.request_timeout_ms), Ms(config.max_poll_interval_ms) + Ms(5000)));
    if (!j) {
      rt.log().debug("consumer {}: JoinGroup to {}:{} unanswered after {} ms", config.client_id, coordinator->host,
                     coordinator->port, sim::to_ms(rt.now() - sent));
      coordinator.reset();
      backoff();
      continue;
    }
    if (j->error_code == ErrorCode::member_id_required) {
      member_id = j->member_id;  // KIP-394: join again with it
      continue;
    }
    if (j->error_code == ErrorCode::unknown_member_id) member_id.clear();
    if (coordinator_lost(j->error_code)) coordinator.reset();
    if (j->error_code != ErrorCode::none) {
      backoff();
      continue;
    }
    ++stats.joins;
    member_id = j->member_id;
    SyncGroupRequest sync;
    sync.group_id = config.group_id;
    sync.generation_id = j->generation_id;
    sync.member_id = member_id;
    assignment_snapshot.reset();
    if (j->leader == member_id) {
      // The leader computes the assignment (ConsumerCoordinator.performAssignment).
      group::GroupSubscription subs;
      std::set<std::string> all;
      for (const auto& m : j->members) {
        auto s = group::decode_subscription(m.metadata);
        if (!s) continue;
        s->group_instance_id = m.group_instance_id;
        all.insert(s->topics.begin(), s->topics.end());
        subs[m.member_id] = std::move(*s);
      }
      const auto mine = topics;
      topics.assign(all.begin(), all.end());
      refresh_metadata();
      topics = mine;
      group_topics.assign(all.begin(), all.end());
      // AbstractPartitionAssignor: a topic without metadata gets no partitions.
      assignment_snapshot = metadata_snapshot(group_topics);
      group::PartitionCounts counts;
      for (const auto& [t, n] : *assignment_snapshot) counts[t] = n;
      for (const auto& [member, a] : assignor->assign(counts, subs)) {
        auto& out = sync.assignments.emplace_back();
        out.member_id = member;
        out.assignment = group::encode_assignment(a);
      }
    }
    auto s = net.call<SyncGroupResponse>(coordinator_node(), sync, 3, request_timeout());
    if (!s) {
      coordinator.reset();
      backoff();
      continue;
    }
    if (s->error_code == ErrorCode::unknown_member_id) member_id.clear();
    if (coordinator_lost(s->error_code)) coordinator.reset();
    if (s->error_code != ErrorCode::none) {
      backoff();
      continue;
    }
    on_join_complete(s->assignment, j->generation_id);
    return;
  }
}

void Consumer::State::leave_group() {
  if (!coordinator || member_id.empty()) return;
  LeaveGroupRequest req;
  req.group_id = config.group_id;
  req.members.emplace_back().member_id = member_id;
  (void)net.call<LeaveGroupResponse>(coordinator_node(), req, 3, request_timeout());
  member_id.clear();
  generation = GenerationId::none();
  rejoin_needed = true;
}

// AbstractCoordinator.HeartbeatThread.
void Consumer::State::run_heartbeat() {
  while (!closed) {
    rt.sleep(Ms(config.heartbeat_interval_ms));
    if (closed || !group_managed || rejoin_needed || generation == GenerationId::none()) continue;
    // HeartbeatThread: a lost coordinator is looked up again from here too.
    if (!coordinator && !ensure_coordinator()) continue;
    if (rt.now() - last_poll > Ms(config.max_poll_interval_ms)) {
      // The poll loop is too slow: give the partitions up (maybeLeaveGroup).
      LeaveGroupRequest req;
      req.group_id = config.group_id;
      req.members.emplace_back().member_id = member_id;
      (void)net.call<LeaveGroupResponse>(coordinator_node(), req, 3, request_timeout());
      member_id.clear();
      generation = GenerationId::none();
      rejoin_needed = true;
      continue;
    }
    HeartbeatRequest req;
    req.group_id = config.group_id;
    req.generation_id = generation;
    req.member_id = member_id;
    const GenerationId sent_generation = generation;
    auto r = net.call<HeartbeatResponse>(coordinator_node(), req, 3, request_timeout());
    ++stats.heartbeats;
    if (generation != sent_generation) continue;  // a rebalance happened meanwhile
    if (!r) {
      coordinator.reset();
      continue;
    }
    if (needs_rejoin(r->error_code)) {
      rejoin_needed = true;
      if (r->error_code == ErrorCode::unknown_member_id) member_id.clear();
    } else if (coordinator_lost(r->error_code)) {
      coordinator.reset();
    }
  }
}

// --- offsets -----------------------------------------------------------------------------------

CommitOutcome Consumer::State::commit(const std::map<TopicPartition, std::int64_t>& offsets, bool async) {
  CommitOutcome out;
  out.offsets = offsets;
  out.async = async;
  if (offsets.empty()) {
    out.ok = true;
    return out;
  }
  if (!ensure_coordinator()) {
    out.error = ErrorCode::coordinator_not_available;
    return out;
  }
  protocol::OffsetCommitRequest req;
  req.group_id = config.group_id;
  req.generation_id_or_member_epoch = group_managed ? generation : GenerationId::none();
  req.member_id = group_managed ? member_id : "";
  for (const auto& [tp, off] : offsets) {
    if (req.topics.empty() || req.topics.back().name != tp.topic) req.topics.emplace_back().name = tp.topic;
    auto& p = req.topics.back().partitions.emplace_back();
    p.partition_index = tp.partition;
    p.committed_offset = Offset(off);
    auto e = position_epochs.find(tp);
    p.committed_leader_epoch = LeaderEpoch(e == position_epochs.end() ? -1 : e->second);
    p.committed_metadata = "";
  }
  auto resp = net.call<OffsetCommitResponse>(coordinator_node(), req, 7, request_timeout());
  if (!resp) {
    coordinator.reset();
    out.error = ErrorCode::request_timed_out;  // unknown: it may have been written
    return out;
  }
  out.ok = true;
  for (const auto& t : resp->topics)
    for (const auto& p : t.partitions)
      if (p.error_code != ErrorCode::none && out.ok) {
        out.ok = false;
        out.error = p.error_code;
      }
  if (needs_rejoin(out.error)) rejoin_needed = true;
  if (coordinator_lost(out.error)) coordinator.reset();
  return out;
}

std::optional<std::int64_t> Consumer::State::list_offset(const TopicPartition& tp, std::int64_t timestamp) {
  auto l = metadata.leader(tp.topic, tp.partition.value());
  auto addr = metadata.leader_address(tp.topic, tp.partition.value());
  if (!l || !addr) return std::nullopt;
  ListOffsetsRequest req;
  req.replica_id = BrokerId(-1);
  auto& t = req.topics.emplace_back();
  t.name = tp.topic;
  auto& p = t.partitions.emplace_back();
  p.partition_index = tp.partition;
  p.current_leader_epoch = l->leader_epoch;
  p.timestamp = timestamp;
  auto resp = net.call<ListOffsetsResponse>(Node{*addr}, req, 5, request_timeout());
  if (!resp || resp->topics.empty() || resp->topics[0].partitions.empty()) return std::nullopt;
  const auto& pr = resp->topics[0].partitions[0];
  if (pr.error_code != ErrorCode::none) {
    metadata.request_update();
    return std::nullopt;
  }
  return pr.offset.value();
}

// Positions for partitions without one: the committed offset, else the reset policy.
void Consumer::State::update_positions() {
  std::vector<TopicPartition> missing;
  for (const auto& tp : assigned)
    if (!positions.count(tp)) missing.push_back(tp);
  if (missing.empty()) return;
  std::map<TopicPartition, std::int64_t> committed;
  if (!config.group_id.empty() && ensure_coordinator()) {
    OffsetFetchRequest req;
    req.group_id = config.group_id;
    req.require_stable = config.read_committed;  // KIP-447: not while a transaction holds an offset
    req.topics.emplace();
    for (const auto& tp : missing) {
      if (req.topics->empty() || req.topics->back().name != tp.topic) req.topics->emplace_back().name = tp.topic;
      req.topics->back().partition_indexes.push_back(tp.partition);
    }
    auto resp = net.call<OffsetFetchResponse>(coordinator_node(), req, 7, request_timeout());
    if (!resp || resp->error_code != ErrorCode::none) {
      if (!resp || coordinator_lost(resp->error_code)) coordinator.reset();
      return;  // COORDINATOR_LOAD_IN_PROGRESS and the like: try again at the next poll
    }
    bool unstable = false;
    for (const auto& t : resp->topics)
      for (const auto& p : t.partitions) {
        if (p.error_code == ErrorCode::unstable_offset_commit) {
          // A transaction's offset is pending: no position yet, ask again
          // (ConsumerCoordinator.OffsetFetchResponseHandler retries).
          std::erase(missing, TopicPartition{t.name, p.partition_index});
          unstable = true;
        }
        if (p.error_code == ErrorCode::none && p.committed_offset.value() >= 0)
          committed[{t.name, p.partition_index}] = p.committed_offset.value();
      }
    if (unstable) ++stats.unstable_offsets;
  }
  maybe_refresh_metadata();
  for (const auto& tp : missing) {
    auto c = committed.find(tp);
    if (c != committed.end()) {
      positions[tp] = c->second;
      continue;
    }
    if (config.auto_offset_reset == "none") continue;  // NoOffsetForPartitionException: no position
    auto off = list_offset(tp, config.auto_offset_reset == "earliest" ? -2 : -1);
    if (off) {
      positions[tp] = *off;
      ++stats.offset_resets;
    }
  }
}

// AbstractFetch.fetchablePartitions leaves out the partitions with records
// in the buffer (FetchBuffer.bufferedPartitions: records not yet returned,
// answers not yet parsed).
std::set<TopicPartition> Consumer::State::unfetchable() const {
  std::set<TopicPartition> out;
  buffered.partitions_into(out);
  for (const auto& f : completed_fetches)
    if (f.epoch == fetch_epoch)
      for (const auto& [tp, offset] : f.fetch_offsets) out.insert(tp);
  return out;
}

// Fetcher.sendFetches: one Fetch to every leader of a fetchable partition
// that has no Fetch in flight, all at once. False when none is in flight.
bool Consumer::State::send_fetches(std::int32_t max_wait_ms) {
  std::map<std::int32_t, std::vector<TopicPartition>> by_leader;
  const std::set<TopicPartition> busy = unfetchable();
  for (const auto& [tp, pos] : positions) {
    if (busy.count(tp)) continue;
    auto l = metadata.leader(tp.topic, tp.partition.value());
    if (!l) {
      metadata.request_update();
      continue;
    }
    by_leader[l->leader].push_back(tp);
  }
  const sim::MonoTime now = rt.now();
  for (const auto& [leader, tps] : by_leader) {
    if (fetch_pending.count(leader)) continue;
    auto addr = metadata.broker(leader);
    if (!addr) {
      metadata.request_update();
      continue;
    }
    const Node node{*addr};
    if (!net.can_send(node, now)) continue;  // connecting; woken when it is ready
    FetchRequest req;
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = std::min(max_wait_ms, config.fetch_max_wait_ms);
    req.min_bytes = config.fetch_min_bytes;
    req.max_bytes = 52428800;
    req.isolation_level = config.read_committed ? 1 : 0;
    CompletedFetch pending;
    pending.epoch = fetch_epoch;
    for (const auto& tp : tps) {
      if (req.topics.empty() || req.topics.back().topic != tp.topic) req.topics.emplace_back().topic = tp.topic;
      auto& p = req.topics.back().partitions.emplace_back();
      p.partition = tp.partition;
      p.current_leader_epoch = metadata.leader(tp.topic, tp.partition.value())->leader_epoch;
      p.fetch_offset = Offset(positions.at(tp));
      p.partition_max_bytes = config.max_partition_fetch_bytes;
      pending.fetch_offsets[tp] = positions.at(tp);
    }
    ++stats.fetches;
    fetch_pending.insert(leader);
    net.send(node, req, k_fetch_version, true,
             [this, leader, pending = std::move(pending)](const SharedFrame* f, const std::string&) mutable {
               fetch_pending.erase(leader);
               if (f) {
                 auto r = decode_response_frame<FetchResponse>(*f, k_fetch_version);
                 if (r) pending.response = std::move(r->body);
               }
               completed_fetches.push_back(std::move(pending));
             },
             Ms(req.max_wait_ms) + request_timeout());
  }
  return !fetch_pending.empty();
}

// Fetcher.collectFetch for one answer: records at the position the fetch
// asked from; errors as Fetcher.handleFetchResponse.
void Consumer::State::parse_fetch(const CompletedFetch& f) {
  if (f.epoch != fetch_epoch) return;  // the assignment changed meanwhile
  if (!f.response) {
    metadata.request_update();
    return;
  }
  for (const auto& t : f.response->responses)
    for (const auto& pd : t.partitions) {
      const TopicPartition tp{t.topic, pd.partition_index};
      auto pos = positions.find(tp);
      if (pos == positions.end()) continue;  // revoked meanwhile
      // Records from an earlier answer not returned yet: this one (a Fetch
      // to an old leader) holds the same offsets again.
      if (buffered.holds(tp)) continue;
      auto asked = f.fetch_offsets.find(tp);
      if (asked == f.fetch_offsets.end() || asked->second != pos->second) continue;  // a seek meanwhile
      switch (pd.error_code) {
        case ErrorCode::none: break;
        case ErrorCode::offset_out_of_range:
          // Fetcher: reset by auto.offset.reset (none: keep failing).
          if (config.auto_offset_reset != "none") positions.erase(pos);
          continue;
        case ErrorCode::fenced_leader_epoch:
          ++stats.fenced;
          metadata.request_update();
          continue;
        default:  // NOT_LEADER_OR_FOLLOWER, UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_OR_PARTITION...
          metadata.request_update();
          continue;
      }
      if (!pd.records) continue;
      // Positions move when the application gets the records (poll);
      // a fetch that brings only control batches moves it here.
      std::int64_t next = pos->second;
      bool any = false;
      // read_committed (Fetcher.CompletedFetch): the aborted transactions
      // by first offset; a producer's batches from there to its abort
      // marker are skipped.
      std::vector<std::pair<std::int64_t, std::int64_t>> aborted;  // first offset, producer id
      if (config.read_committed && pd.aborted_transactions)
        for (const auto& a : *pd.aborted_transactions) aborted.emplace_back(a.first_offset.value(), a.producer_id.value());
      std::sort(aborted.begin(), aborted.end());
      std::size_t aborted_at = 0;
      std::set<std::int64_t> aborted_producers;
      BatchReader reader(pd.records->view());
      while (auto b = reader.next()) {
        next = std::max(next, b->header.next_offset());
        if (config.read_committed && b->header.producer_id >= 0) {
          while (aborted_at < aborted.size() && aborted[aborted_at].first <= b->header.last_offset())
            aborted_producers.insert(aborted[aborted_at++].second);
          if (b->header.is_control()) {
            if (is_abort_marker(b->bytes)) aborted_producers.erase(b->header.producer_id);
          } else if (b->header.is_transactional() && aborted_producers.count(b->header.producer_id)) {
            ++stats.aborted_batches_skipped;
            continue;
          }
        }
        if (b->header.is_control()) continue;
        auto it = RecordIterator::open(b->bytes);
        if (!it) break;
        for (;;) {
          auto r = it->next();
          if (!r || *r == nullptr) break;
          if ((*r)->offset < pos->second) continue;
          ConsumerRecord rec;
          rec.topic = tp.topic;
          rec.partition = tp.partition.value();
          rec.offset = (*r)->offset;
          if ((*r)->key) rec.key = std::string(as_chars(*(*r)->key));
          if ((*r)->value) rec.value = std::string(as_chars(*(*r)->value));
          rec.leader_epoch = b->header.partition_leader_epoch;
          buffered.push_back(std::move(rec));
          any = true;
        }
      }
      if (!any) pos->second = next;
    }
}

// KafkaConsumer.pollForFetches: fetches to all leaders at once, then waits
// until one answers or the poll's time is up; parses every answer in.
void Consumer::State::fetch_once(sim::Duration max_wait) {
  const sim::MonoTime deadline = rt.now() + max_wait;
  for (;;) {
    net.check_timeouts(rt.now());
    maybe_refresh_metadata();
    const auto wait_ms = static_cast<std::int32_t>(std::max<std::int64_t>(0, sim::to_ms(deadline - rt.now())));
    const bool in_flight = send_fetches(wait_ms);
    if (!completed_fetches.empty() || rt.now() >= deadline) break;
    // Nothing in flight: a leader unknown or connecting; look again soon.
    const sim::MonoTime until = in_flight ? deadline : std::min(deadline, rt.now() + Ms(config.retry_backoff_ms));
    net.wait_change(until, "consumer.fetch");
    if (!in_flight && completed_fetches.empty() && rt.now() >= until) break;
  }
  while (!completed_fetches.empty()) {
    CompletedFetch f = std::move(completed_fetches.front());
    completed_fetches.pop_front();
    parse_fetch(f);
  }
}

// --- the public face ---------------------------------------------------------------------------

Consumer::Consumer(sim::Runtime& rt, ConsumerConfig config) : s_(std::make_shared<State>(rt, std::move(config))) {
  s_->assignor = group::make_assignor(s_->config.partition_assignment_strategy);
  SAMSA_ASSERT(s_->assignor != nullptr, "make_consumer_config checked the strategy");
  s_->last_poll = rt.now();
  s_->next_auto_commit = rt.now() + Ms(s_->config.auto_commit_interval_ms);
}

Consumer::~Consumer() { s_->closed = true; }

void Consumer::subscribe(std::vector<std::string> topics) {
  std::sort(topics.begin(), topics.end());
  s_->topics = std::move(topics);
  s_->group_managed = true;
  s_->rejoin_needed = true;
  s_->metadata.request_update();
  if (!s_->heartbeat_running) {
    s_->heartbeat_running = true;
    s_->rt.spawn("consumer-heartbeat", [s = s_] { s->run_heartbeat(); });
  }
}

void Consumer::assign(std::vector<TopicPartition> partitions) {
  std::sort(partitions.begin(), partitions.end());
  s_->group_managed = false;
  s_->topics.clear();
  s_->assigned = std::move(partitions);
  std::erase_if(s_->positions, [&](const auto& kv) {
    return !std::binary_search(s_->assigned.begin(), s_->assigned.end(), kv.first);
  });
  s_->metadata.request_update();
  ++s_->fetch_epoch;
  if (on_assign) on_assign({-1, s_->assigned});
}

std::vector<ConsumerRecord> Consumer::poll(sim::Duration timeout) {
  State& s = *s_;
  s.last_poll = s.rt.now();
  const sim::MonoTime deadline = s.rt.now() + timeout;
  if (s.pending_async) {
    auto out = s.commit(*s.pending_async, true);
    s.pending_async.reset();
    if (on_commit) on_commit(out);
  }
  if (s.group_managed) {
    // ConsumerCoordinator.poll: find a lost coordinator; NetworkClient.poll
    // sends a requested metadata update; the leader compares the metadata
    // with what it assigned.
    if (!s.coordinator) (void)s.ensure_coordinator();
    s.maybe_refresh_metadata();
    s.check_metadata_snapshot();
  }
  if (s.group_managed && s.rejoin_needed) {
    s.join_group();
    if (on_assign && !s.rejoin_needed) on_assign({s.generation.value(), s.assigned});
  }
  if (s.config.enable_auto_commit && !s.config.group_id.empty() && s.rt.now() >= s.next_auto_commit) {
    s.next_auto_commit = s.rt.now() + Ms(s.config.auto_commit_interval_ms);
    auto out = s.commit(s.positions, true);
    if (on_commit) on_commit(out);
  }
  for (;;) {
    if (s.group_managed) {
      s.maybe_refresh_metadata();
      s.check_metadata_snapshot();
    }
    s.update_positions();
    if (s.buffered.empty() && !s.positions.empty()) s.fetch_once(deadline - s.rt.now());
    if (!s.buffered.empty() || s.rt.now() >= deadline || s.rejoin_needed) break;
    if (s.positions.empty()) s.rt.sleep(std::min<sim::Duration>(Ms(s.config.retry_backoff_ms), deadline - s.rt.now()));
  }
  s.last_poll = s.rt.now();
  std::vector<ConsumerRecord> out = s.buffered.take_front(static_cast<std::size_t>(s.config.max_poll_records));
  for (const auto& r : out) {
    const TopicPartition tp{r.topic, PartitionId(r.partition)};
    auto p = s.positions.find(tp);
    if (p != s.positions.end()) p->second = r.offset + 1;
    s.position_epochs[tp] = r.leader_epoch;
  }
  // KafkaConsumer.poll: before the records go to the application the next
  // round of Fetches goes out, for every partition with nothing buffered
  // (while another partition's records are still being handed out).
  if (!out.empty() && !(s.group_managed && s.rejoin_needed)) (void)s.send_fetches(s.config.fetch_max_wait_ms);
  return out;
}

CommitOutcome Consumer::commit_sync() { return commit_sync(s_->positions); }

CommitOutcome Consumer::commit_sync(const std::map<TopicPartition, std::int64_t>& offsets) {
  auto out = s_->commit(offsets, false);
  if (on_commit) on_commit(out);
  return out;
}

void Consumer::commit_async() { s_->pending_async = s_->positions; }

Result<void, std::string> Consumer::seek(const TopicPartition& tp, std::int64_t offset) {
  if (!std::binary_search(s_->assigned.begin(), s_->assigned.end(), tp))
    return Err{fmt::format("No current assignment for partition {}-{}", tp.topic, tp.partition.value())};
  s_->positions[tp] = offset;
  s_->buffered.erase(tp);
  return {};
}

std::optional<std::int64_t> Consumer::position(const TopicPartition& tp) const {
  auto it = s_->positions.find(tp);
  if (it == s_->positions.end()) return std::nullopt;
  return it->second;
}

std::vector<TopicPartition> Consumer::assignment() const { return s_->assigned; }
std::int32_t Consumer::generation() const { return s_->generation.value(); }
const std::string& Consumer::member_id() const { return s_->member_id; }
ConsumerGroupMetadata Consumer::group_metadata() const {
  return {s_->config.group_id, s_->generation.value(), s_->member_id, std::nullopt};
}
const ConsumerStats& Consumer::stats() const { return s_->stats; }

void Consumer::close() {
  if (s_->closed) return;
  if (s_->group_managed) {
    if (s_->config.enable_auto_commit) (void)s_->commit(s_->positions, false);
    s_->leave_group();
  }
  s_->closed = true;
}

}  // namespace samsa::client
