#include "scenarios/kafka/workload.h"
#include "scenarios/kafka/client_driver.h"
#include "scenarios/kafka/client_json.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <string_view>

#include "scenarios/broker/cluster.h"
#include "scenarios/broker/driver.h"
#include "scenarios/scenario.h"
#include "sim/world/world.h"
#include "invariants/kafka_checkers.h"
#include "invariants/snapshot.h"
#include "system/broker/config.h"
#include "system/broker/group/offsets_records.h"
#include "system/client/consumer.h"
#include "system/client/consumer_zookeeper.h"
#include "system/client/producer.h"

namespace samsa::scenarios::kafka {

namespace {

using namespace samsa::sim;
using invariants::Process;
using invariants::Violation;
using nlohmann::json;
using samsa::client::TopicPartition;

// [config] keys by who reads them. A key set to null keeps the default of
// the component (Kafka's, or the simulated cluster's below).
const std::vector<std::string> k_broker_keys = {
    "auto.leader.rebalance.enable", "controlled.shutdown.enable", "default.replication.factor",
    "group.initial.rebalance.delay.ms", "leader.imbalance.check.interval.seconds",
    "log.flush.interval.messages", "log.flush.interval.ms",
    "log.flush.scheduler.interval.ms", "log.segment.bytes", "min.insync.replicas",
    "offsets.commit.required.acks", "offsets.topic.num.partitions", "offsets.topic.replication.factor",
    "producer.id.expiration.ms", "replica.fetch.backoff.ms", "replica.fetch.wait.max.ms",
    "replica.high.watermark.checkpoint.interval.ms", "replica.lag.time.max.ms",
    "unclean.leader.election.enable", "zookeeper.session.timeout.ms",
    "samsa.legacy.dedupe.last.batch.only", "samsa.legacy.isr.expand.below.epoch.start",
    "samsa.legacy.no.broker.epoch", "samsa.legacy.no.controller.epoch.check",
    "samsa.legacy.no.fetch.leader.epoch", "samsa.legacy.offsets.for.leader.epoch.v0",
    "samsa.legacy.truncate.to.high.watermark"};
const std::vector<std::string> k_producer_keys = {
    "acks", "batch.size", "buffer.memory", "compression.type", "delivery.timeout.ms",
    "enable.idempotence", "linger.ms", "max.block.ms", "max.in.flight.requests.per.connection",
    "max.request.size", "metadata.max.age.ms", "partitioner.class", "reconnect.backoff.max.ms",
    "reconnect.backoff.ms", "request.timeout.ms", "retries", "retry.backoff.ms"};
const std::vector<std::string> k_consumer_keys = {
    "auto.commit.interval.ms", "auto.offset.reset", "enable.auto.commit", "fetch.max.wait.ms",
    "fetch.min.bytes", "group.id", "heartbeat.interval.ms", "max.partition.fetch.bytes",
    "max.poll.interval.ms", "max.poll.records", "partition.assignment.strategy",
    "rebalance.backoff.ms", "rebalance.max.retries", "request.timeout.ms", "retry.backoff.ms",
    "session.timeout.ms", "zookeeper.session.timeout.ms"};

// The simulated cluster's defaults where they differ from Kafka's (short
// timeouts for short runs); a scenario's [config] or --set overrides them.
json config_defaults() {
  json c = json::object();
  for (const auto* keys : {&k_broker_keys, &k_producer_keys, &k_consumer_keys})
    for (const auto& k : *keys) c[k] = nullptr;
  c["min.insync.replicas"] = 2;
  c["replica.lag.time.max.ms"] = 10000;
  c["offsets.topic.num.partitions"] = 5;
  c["group.initial.rebalance.delay.ms"] = 500;
  c["zookeeper.session.timeout.ms"] = 6000;
  c["request.timeout.ms"] = 3000;
  c["delivery.timeout.ms"] = 20000;
  c["group.id"] = "g";
  c["session.timeout.ms"] = 6000;
  c["heartbeat.interval.ms"] = 1000;
  c["max.poll.interval.ms"] = 10000;
  c["max.poll.records"] = 5;
  c["fetch.max.wait.ms"] = 200;
  c["auto.offset.reset"] = "earliest";
  c["enable.auto.commit"] = false;
  c["rebalance.backoff.ms"] = 500;
  return c;
}

// The final-state checks (the history's are [checkers]).
const std::vector<std::string> k_checks = {"replica-divergence", "progress"};

using Tp = std::pair<std::string, int>;  // topic, partition

}  // namespace

// Static node groups replica-1..replica-N (see setup).
constexpr int k_replica_groups = 5;

namespace {

class Kafka final : public Workload {
 public:
  // Reads the options and keys as setup uses them and checks them: the
  // workload type's validate (before the run) and setup (asserted) agree.
  Result<void, ConfigMistake> configure(const ScenarioSpec& spec) {
    if (auto r = read_options(spec); !r) return r;
    auto settings_map = properties(spec.config, k_broker_keys, "broker");
    if (!settings_map.count("offsets.topic.replication.factor"))
      settings_map["offsets.topic.replication.factor"] = std::to_string(std::min(3, brokers_));
    broker_settings_.assign(settings_map.begin(), settings_map.end());
    const auto consumer = clients_.classic_props("c1");
    return validate_configs(broker_settings_, clients_.producers > 0 ? &clients_.producer_props : nullptr,
                            clients_.consumers > 0 && !clients_.zookeeper ? &consumer : nullptr);
  }

  void setup(WorkloadContext& ctx) override {
    const auto configured = configure(ctx.spec);
    SAMSA_ASSERT(configured.ok(), "the kafka workload's options and keys were validated before the run");
    const json& cfg = ctx.config;
    cluster_ = std::make_unique<broker::Cluster>(ctx.world, broker::ClusterConfig{brokers_, broker_settings_});
    ctx.groups["coordinator"] = {broker::Cluster::k_zk};
    for (int b = 1; b <= brokers_; ++b) ctx.groups["brokers"].push_back(cluster_->node_of(b));
    driver_ = std::make_unique<ClientDriver>(clients_, ctx.history, driver_env(ctx));
    for (int i = 1; i <= clients_.producers; ++i) {
      const NodeId id = ctx.world.add_node(fmt::format("p{}", i), [this, i](Runtime& rt) {
        wait_for_topics(rt);
        driver_->run_producer(rt, i);
      });
      ctx.groups["producers"].push_back(id);
      ctx.groups["clients"].push_back(id);
    }
    for (int i = 1; i <= clients_.consumers; ++i) {
      const NodeId id = ctx.world.add_node(fmt::format("c{}", i), [this](Runtime& rt) {
        wait_for_topics(rt);
        driver_->run_consumer(rt, rt.node_name());
      });
      ctx.groups["consumers"].push_back(id);
      ctx.groups["clients"].push_back(id);
    }
    ctx.world.add_node("admin", [this, &ctx](Runtime& rt) { run_admin(rt, ctx); });
    const std::string first = ctx.spec.topics.front().name;
    ctx.dynamic_targets["leader"] = [this, first]() -> std::optional<NodeId> {
      if (auto b = cluster_->leader_of(first, 0)) return cluster_->node_of(*b);
      return std::nullopt;
    };
    ctx.dynamic_targets["controller"] = [this]() -> std::optional<NodeId> {
      if (auto b = cluster_->controller()) return cluster_->node_of(*b);
      return std::nullopt;
    };
    // A follower of the first topic's partition 0 that is neither its
    // leader nor the controller: the last in assignment order (Cluster::
    // create_topic puts partition 0 on brokers 1..RF), the one the
    // controller elects last (the first live ISR replica wins). The broker a
    // controller-to-follower fault hits without touching the leader's own
    // LeaderAndIsr (KAFKA-6880's follower that hears the controller late).
    const int replicas = static_cast<int>(std::min<std::int64_t>(ctx.spec.topics.front().replication_factor, brokers_));
    ctx.dynamic_targets["follower"] = [this, first, replicas]() -> std::optional<NodeId> {
      const auto leader = cluster_->leader_of(first, 0);
      const auto controller = cluster_->controller();
      for (int b = replicas; b >= 1; --b)
        if (b != leader && b != controller && cluster_->node(b) != nullptr) return cluster_->node_of(b);
      return std::nullopt;
    };
    // replica-K: the broker in slot K of the first topic's partition 0
    // (Cluster::create_topic assigns it to brokers 1..RF in order), a role
    // that stays put while leaders move: replica-1 is the preferred leader,
    // and a controller elects the first live ISR replica in this order.
    for (int k = 1; k <= std::min(replicas, k_replica_groups); ++k)
      ctx.groups[fmt::format("replica-{}", k)] = {cluster_->node_of(k)};
    const int offsets_partitions =
        std::stoi(properties(cfg, k_broker_keys, "broker").at("offsets.topic.num.partitions"));
    const int coordinator_partition = samsa::broker::group::offsets_partition_for(clients_.group, offsets_partitions);
    ctx.dynamic_targets["group-coordinator"] = [this, coordinator_partition]() -> std::optional<NodeId> {
      if (auto b = cluster_->leader_of("__consumer_offsets", coordinator_partition)) return cluster_->node_of(*b);
      return std::nullopt;
    };
  }

  void start(WorkloadContext& ctx) override {
    stop_at_ = ctx.end - std::chrono::milliseconds(stop_before_end_ms_);
    read_at_ = ctx.end - std::chrono::milliseconds(read_before_end_ms_);
    for (NodeId id : ctx.world.node_ids()) ctx.world.start(id);
  }

  std::vector<Violation> check(WorkloadContext& ctx) override;
  // The final state as invariants/ reads it: per partition the leader, its
  // epoch and high watermark (the highest-epoch leader's view), per replica
  // its records (batch leader epoch, hash of the value).
  const invariants::Snapshot& snapshot() {
    if (!snapshotted_) snapshotted_.emplace();  // the admin took none: no partitions, time -1
    return *snapshotted_;
  }
  static void add_replica(invariants::PartitionSnapshot& p, const broker::Cluster::ReplicaImage& img);
  // For the lost-write and unseen checkers: once the admin took any of it.
  const invariants::Snapshot* final_state(WorkloadContext&) override {
    return snapshot_.empty() ? nullptr : &snapshot();
  }
  json details(WorkloadContext& ctx) override;
  void teardown(WorkloadContext&) override { cluster_.reset(); }

 private:
  Result<void, ConfigMistake> read_options(const ScenarioSpec& spec) {
    const json& o = spec.workload_options;
    auto mistake = [](std::string key, std::string message) { return Err(ConfigMistake{std::move(key), std::move(message)}); };
    brokers_ = spec.brokers > 0 ? static_cast<int>(spec.brokers) : 3;
    auto clients = read_client_options(spec);
    if (!clients) return Err(clients.error());
    clients_ = std::move(*clients);
    stop_before_end_ms_ = o.at("stop_before_end_ms").get<std::int64_t>();
    read_before_end_ms_ = o.at("read_before_end_ms").get<std::int64_t>();
    for (const auto& c : o.at("checks")) {
      const std::string name = c.is_string() ? c.get<std::string>() : c.dump();
      if (std::find(k_checks.begin(), k_checks.end(), name) == k_checks.end())
        return mistake("workload.checks", fmt::format("names '{}' (known: {})", name, fmt::join(k_checks, ", ")));
      checks_.insert(name);
    }
    if (spec.topics.empty())
      return mistake("topics", "the kafka workload needs at least one [[topics]] table");
    for (const auto& t : spec.topics)
      for (int p = 0; p < t.partitions; ++p) partitions_.push_back({t.name, p});
    for (int b = 1; b <= brokers_; ++b) servers_ += fmt::format("{}b{}:9092", b > 1 ? "," : "", b);
    clients_.producer_props["bootstrap.servers"] = servers_;
    clients_.consumer_props["bootstrap.servers"] = servers_;
    return {};
  }

  bool healed(WorkloadContext& ctx) const { return ctx.world.now() >= ctx.heal_at; }

  void wait_for_topics(Runtime& rt) {
    while (!topics_ready_) rt.sleep(100ms);
  }

  // The client driver on the simulated cluster: producers stop
  // stop_before_end_ms before the end, consumers a second before it.
  DriverEnv driver_env(WorkloadContext& ctx) {
    DriverEnv env;
    env.bootstrap_servers = servers_;
    env.brokers = cluster_->addresses();
    env.zookeeper = {{"zk", 2181}};
    env.producing = [this](Runtime& rt) { return rt.now().since_epoch < stop_at_; };
    env.consuming = [&ctx](Runtime& rt) { return rt.now().since_epoch < ctx.end - 1s; };
    env.healed = [this, &ctx] { return healed(ctx); };
    env.observe = [this, &ctx] { observe(ctx); };
    return env;
  }

  // Leadership seen from outside at each client completion (plain reads of
  // the brokers' state, no scheduling, so the trace is the same), recorded
  // when it changed as nemesis-process "leader" / "controller" ops: the
  // timeline draws them as leader and epoch lanes (invariants/timeline.h).
  void observe(WorkloadContext& ctx) {
    if (!cluster_ || !topics_ready_) return;
    auto name = [](int broker) { return broker > 0 ? fmt::format("b{}", broker) : std::string("none"); };
    const auto leaders = cluster_->leaders_and_epochs_of(partitions_);
    for (std::size_t i = 0; i < partitions_.size(); ++i) {
      const auto& tp = partitions_[i];
      const auto& l = leaders[i];
      const std::pair<int, std::int32_t> now = l ? *l : std::pair<int, std::int32_t>{0, -1};
      if (const auto it = seen_leaders_.find(tp); it != seen_leaders_.end() && it->second == now) continue;
      seen_leaders_[tp] = now;
      ctx.history.nemesis("leader", {{"topic", tp.first}, {"partition", tp.second}, {"node", name(now.first)},
                                     {"leader_epoch", now.second}});
    }
    const auto c = cluster_->controller_and_epoch();
    const std::pair<int, std::int32_t> now = c ? *c : std::pair<int, std::int32_t>{0, -1};
    if (seen_controller_ == now) return;
    seen_controller_ = now;
    ctx.history.nemesis("controller", {{"node", name(now.first)}, {"controller_epoch", now.second}});
  }

  // --- admin: topics, read-back, snapshot ----------------------------------------------
  void run_admin(Runtime& rt, WorkloadContext& ctx) {
    for (const auto& t : ctx.spec.topics)
      while (!cluster_->create_topic(rt, t.name, static_cast<int>(t.partitions),
                                     static_cast<int>(t.replication_factor)))
        rt.sleep(500ms);
    topics_ready_ = true;
    rt.sleep_until(MonoTime{read_at_});
    bool all = true;
    // Without consumers the read-back is the history's consumption (Jepsen's
    // final reads): the checkers judge the sends against it. With a group,
    // what the group consumed is judged, and the read-back stays out.
    std::optional<Process> reader;
    if (clients_.consumers == 0) reader.emplace(ctx.history);
    for (const auto& tp : partitions_) {
      if (reader) reader->invoke("poll", json::object());
      const bool ok = read_partition(rt, tp, logs_[tp]);
      all = ok && all;
      if (reader) record_read_back(*reader, tp.first, tp.second, ok ? &logs_[tp] : nullptr);
    }
    read_done_ = all;
    // Every send acknowledged before now is in the logs read below, or lost.
    snapshotted_.emplace().time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(ctx.world.now()).count();
    for (const auto& tp : std::set<Tp>(partitions_.begin(), partitions_.end())) take_snapshot(tp);
  }

  // One partition's replicas into the snapshot (the checkers read record
  // hashes) and their scalars into snapshot_ (details()); added once whole.
  void take_snapshot(const Tp& tp) {
    std::vector<broker::Cluster::ReplicaImage> images;
    invariants::PartitionSnapshot p;
    p.topic = tp.first;
    p.partition = tp.second;
    cluster_->scan_replicas(
        tp.first, tp.second,
        [&](const broker::Cluster::ReplicaImage& img) {
          images.push_back(img);
          add_replica(p, img);
        },
        [&](std::int64_t offset, std::int32_t epoch, std::string_view value) {
          p.replicas.back().records.push_back({offset, epoch, invariants::record_hash(value)});
        });
    snapshot_[tp] = std::move(images);
    snapshotted_->partitions.push_back(std::move(p));
  }

  std::optional<Address> leader_address(broker::RawClient& c, const Tp& tp) {
    for (int b = 1; b <= brokers_; ++b) {
      std::map<protocol::BrokerId, Address> brokers;
      auto leader = broker::find_leader(c, cluster_->address(b), tp.first, tp.second, &brokers);
      if (leader && brokers.count(*leader)) return brokers.at(*leader);
    }
    return std::nullopt;
  }

  // Reads the partition from its start to the leader's high watermark.
  bool read_partition(Runtime& rt, const Tp& tp, std::map<std::int64_t, std::string>& out) {
    broker::RawClient c(rt, "reader");
    for (int attempt = 0; attempt < 4; ++attempt) {
      auto leader = leader_address(c, tp);
      if (!leader) {
        rt.sleep(300ms);
        continue;
      }
      int fetches = 0;
      if (auto got = read_to_high_watermark(c, *leader, tp.first, tp.second, [&fetches] { return fetches++ < 5000; })) {
        out = std::move(*got);
        return true;
      }
      rt.sleep(300ms);
    }
    return false;
  }

  // --- state ---------------------------------------------------------------------------
  // options
  int brokers_ = 3;
  std::int64_t stop_before_end_ms_ = 9000, read_before_end_ms_ = 3000;
  ClientOptions clients_;
  std::string servers_;  // b1:9092,...
  std::vector<std::pair<std::string, std::string>> broker_settings_;
  std::set<std::string> checks_;
  std::vector<Tp> partitions_;
  Duration stop_at_{0}, read_at_{0};

  std::unique_ptr<broker::Cluster> cluster_;
  std::unique_ptr<ClientDriver> driver_;
  bool topics_ready_ = false, read_done_ = false;
  // The final state: what the admin read back, and every replica.
  std::map<Tp, std::map<std::int64_t, std::string>> logs_;
  std::map<Tp, std::vector<broker::Cluster::ReplicaImage>> snapshot_;
  // Filled by the admin as it takes each partition (what it took if the run
  // ended first); empty when it took none.
  std::optional<invariants::Snapshot> snapshotted_;
  // The leadership observe() last recorded: (broker or 0, epoch).
  std::map<Tp, std::pair<int, std::int32_t>> seen_leaders_;
  std::optional<std::pair<int, std::int32_t>> seen_controller_;
  json counts_ = json::object();
};

// --- checks -------------------------------------------------------------------------------
// The history checkers (invariants/kafka_checkers.h, named in [checkers])
// judge sends and polls; here only what needs the final state: the replicas
// against each other, and whether the run made progress at all.

std::vector<Violation> Kafka::check(WorkloadContext& ctx) {
  std::vector<Violation> out;
  auto on = [this](const char* name) { return checks_.count(name) > 0; };
  std::uint64_t ok = 0, fail = 0, info = 0, info_missing = 0, records_read = 0;
  // Views into logs_, sorted: a set of copies was 3 MiB at 1,000 records/s.
  std::vector<std::string_view> in_log;
  for (const auto& [tp, log] : logs_) {
    records_read += log.size();
    for (const auto& [offset, value] : log) in_log.push_back(value);
  }
  std::sort(in_log.begin(), in_log.end());
  for (const auto& op : ctx.history.ops()) {
    if (op.f != "send" || op.type == invariants::OpType::invoke) continue;
    if (op.type == invariants::OpType::ok) ++ok;
    else if (op.type == invariants::OpType::fail) ++fail;
    else if (++info; !std::binary_search(in_log.begin(), in_log.end(), op.value.value("value", "")))
      ++info_missing;  // an unknown outcome that did not happen
  }
  // Nothing reads the read-back logs after this: the history checkers that
  // follow reuse their memory (3.6 MB at 1,000 records/s).
  in_log = {};
  logs_ = {};
  const invariants::Snapshot& final_state = snapshot();
  const auto divergence = invariants::check_replica_divergence(final_state);
  if (on("replica-divergence"))
    for (const auto& v : divergence) out.push_back(v);
  if (on("progress")) {
    if (!read_done_)
      out.push_back(Violation::liveness("liveness", "the partitions could not be read back after the heal"));
    const int producers = clients_.producers;
    const DriverStats& sent = driver_->stats();
    const bool finished_early = producers > 0 && sent.producers_done_before_heal == producers;
    if (producers > 0 && !finished_early && sent.completed_after_heal == 0)
      out.push_back(Violation::liveness("liveness", "no send completed after the heal"));
    if (producers > 0 && ok == 0 && !sent.acks0)
      out.push_back(Violation::liveness("liveness", "no send was acknowledged"));
  }
  const auto summary = invariants::delivery_summary(ctx.history, snapshot_.empty() ? nullptr : &final_state);
  counts_ = {{"ok", ok},
             {"fail", fail},
             {"info", info},
             {"info_missing", info_missing},
             {"records_read", records_read},
             {"divergent", divergence.size()},
             {"lost", summary.lost},
             {"unseen", summary.unseen},
             {"duplicated", summary.duplicated},
             {"redelivered", summary.redelivered},
             {"at_most_once", summary.at_most_once},
             {"at_least_once", summary.at_least_once}};
  return out;
}

// The replica's entry (its records follow) and, when it leads in a higher
// epoch than any seen, the partition's leader, epoch and high watermark.
void Kafka::add_replica(invariants::PartitionSnapshot& p, const broker::Cluster::ReplicaImage& img) {
  if (img.leader && img.leader_epoch > p.leader_epoch) {
    p.leader = img.broker;
    p.leader_epoch = img.leader_epoch;
    p.high_watermark = img.high_watermark;
  }
  auto& r = p.replicas.emplace_back();
  r.broker = img.broker;
  r.log_start_offset = img.log_start_offset;
  r.records.reserve(static_cast<std::size_t>(std::max<std::int64_t>(0, img.log_end_offset - img.log_start_offset)));
}

json Kafka::details(WorkloadContext&) {
  json d = counts_;
  d["brokers"] = brokers_;
  if (driver_) d.update(driver_->details());
  // The final-state snapshot in brief: each replica's log end, high watermark, leadership.
  json snap = json::array();
  for (const auto& [tp, images] : snapshot_)
    for (const auto& img : images)
      snap.push_back({{"topic", tp.first}, {"partition", tp.second}, {"broker", img.broker},
                      {"log_end_offset", img.log_end_offset}, {"high_watermark", img.high_watermark},
                      {"leader", img.leader}, {"leader_epoch", img.leader_epoch}});
  d["replicas"] = snap;
  return d;
}

}  // namespace

const std::vector<std::string>& check_names() { return k_checks; }
const std::vector<std::string>& producer_config_keys() { return k_producer_keys; }
const std::vector<std::string>& consumer_config_keys() { return k_consumer_keys; }

Result<void, ConfigMistake> validate_configs(std::vector<std::pair<std::string, std::string>> broker_settings,
                                             const std::map<std::string, std::string>* producer,
                                             const std::map<std::string, std::string>* consumer) {
  broker_settings.push_back({"broker.id", "1"});
  broker_settings.push_back({"zookeeper.connect", "zk:2181"});
  if (auto r = samsa::broker::make_broker_config(broker_settings); !r)
    return Err(ConfigMistake{r.error().key, "broker config: " + r.error().message, "broker"});
  if (producer)
    if (auto r = client::parse_producer_config(*producer); !r)
      return Err(ConfigMistake{r.error().key, "producer config: " + r.error().message, "producer"});
  if (consumer)
    if (auto r = client::make_consumer_config(*consumer); !r) {
      // make_consumer_config says "key: why".
      const std::string& e = r.error();
      const auto colon = e.find(": ");
      return Err(ConfigMistake{colon == std::string::npos ? std::string() : e.substr(0, colon),
                               "consumer config: " + e, "consumer"});
    }
  return {};
}

json flat_config(const ScenarioSpec& spec) {
  json c = json::object();
  const WorkloadType* w = find_workload(spec.workload);
  for (const auto& [k, v] : spec.config.items())
    if (!v.is_null() && !(w && component_key(*w, k))) c[k] = v;
  // A component's own value wins, as properties() gives it to the component.
  if (w)
    for (const auto& [k, v] : spec.config.items())
      if (const auto ck = component_key(*w, k); ck && !v.is_null()) c[ck->second] = v;
  return c;
}

json cluster_expectation_config(const ScenarioSpec& spec) {
  json c = flat_config(spec);
  std::int64_t rf = 1;
  for (const auto& t : spec.topics) rf = std::max(rf, t.replication_factor);
  c["replication.factor"] = rf;
  c["nemeses"] = json::array();
  for (const auto& n : spec.nemeses) {
    if (n.weight <= 0) continue;  // switched off (--set nemesis.NAME.weight=0)
    json j = {{"name", n.name}, {"targets", n.targets}, {"peers", n.peers}};
    if (n.params.contains("disk")) j["disk"] = n.params["disk"];
    c["nemeses"].push_back(j);
  }
  if (spec.max_faulted_nodes >= 0) c["max_faulted_nodes"] = spec.max_faulted_nodes;
  return c;
}

json expectation_config(const ScenarioSpec& spec) {
  json c = cluster_expectation_config(spec);
  const bool commit_first = spec.workload_options.value("delivery", "") == "commit-before-process";
  c["samsa.delivery"] = commit_first ? "at-most-once" : "at-least-once";
  c["samsa.consume"] = "subscribe";
  c["samsa.consumer.workers"] = spec.workload_options.value("workers", 0);
  c["samsa.consumer.dispatch"] = spec.workload_options.value("dispatch", "round-robin");
  return c;
}

}  // namespace samsa::scenarios::kafka

namespace samsa::scenarios {

WorkloadType kafka_workload() {
  WorkloadType t;
  t.name = "kafka";
  t.description =
      "a coordinator, brokers, the scenario's topics, producers and a consumer group recording "
      "send/poll/commit/assign/process into the history; final-state checks against every replica";
  t.options = {{"producers", 1},
               {"records", 0},
               {"rate_per_s", 250.0},
               {"keys", 7},
               {"sync", false},
               {"consumers", 0},
               {"group_protocol", "classic"},
               {"delivery", "process-before-commit"},
               {"process_ms", 100},
               {"workers", 0},
               {"dispatch", "round-robin"},
               {"stop_before_end_ms", 9000},
               {"read_before_end_ms", 3000},
               {"checks", kafka::check_names()}};
  t.config = kafka::config_defaults();
  t.components = {{"broker", kafka::k_broker_keys}, {"producer", kafka::k_producer_keys}, {"consumer", kafka::k_consumer_keys}};
  t.groups = {"brokers", "coordinator", "producers", "consumers", "clients",
              "leader",  "controller",  "follower", "group-coordinator"};
  for (int k = 1; k <= kafka::k_replica_groups; ++k) t.groups.push_back(fmt::format("replica-{}", k));
  t.shrinkable = {"records"};
  t.expectation_config = kafka::expectation_config;
  t.make = [] { return std::make_unique<kafka::Kafka>(); };
  t.validate = [](const ScenarioSpec& spec) { return kafka::Kafka().configure(spec); };
  return t;
}

}  // namespace samsa::scenarios
