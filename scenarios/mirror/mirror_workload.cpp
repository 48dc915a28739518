// The `mirror` workload: two Kafka clusters in one world, joined by a WAN
// link, and a MirrorMaker between them (the seed's advantage 10).
//
//   dc1 (source)  "dc1-zk", "dc1-b1".."dc1-bN", producers "dc1-p1".. writing
//                 unique values to the source topic (the [[topics]] table),
//                 idempotent, acks=all, recorded as `send` ops;
//   dc2 (target)  "dc2-zk", "dc2-b1".."dc2-bN", and the mirrors
//                 "dc2-mirror1".. (MirrorMaker 2 runs in the target
//                 datacenter: consume remote, produce local);
//   readers       "dc1-reader" reads the source topic, "dc2-reader" the
//                 remote topic, from the start, after the producers stop
//                 (`poll` ops): the final state the mirror checker judges.
//
// Every link between a dc1 node and a dc2 node is the WAN: `wan_latency_ms`
// (drawn per seed) plus up to `wan_jitter_ms` per frame, both ways
// (SimNetwork::set_link); the `wan-partition` nemesis cuts all of them.
//
// A mirror follows MirrorMaker's at-least-once loop (MM1's
// MirrorMakerThread: poll, send, flush, then commit; MM2's
// MirrorSourceTask with its producer acks=all and idempotent): a consumer in
// group `mirror_group` on the source cluster, a producer to the target
// cluster; each poll's records go to the remote topic
// "<source_alias>.<topic>" (MM2's DefaultReplicationPolicy) in the same
// partition with the same key and value; only after every send of the batch
// was acknowledged does it commit the batch's offsets on the source
// (commitSync). A send that fails ends the task (MM1's
// abort.on.send.failure, MM2's errors.tolerance=none): it starts again from
// the committed offsets. A crash, a failed commit or a rebalance between
// send and commit copies records again: duplicates, which at-least-once
// allows; a missing record is not allowed. One `mirror` op per batch
// {polls, sends}, then a `commit` op.
// Not modelled: MM2's offset syncs and checkpoints (MirrorCheckpointTask),
// heartbeats, topic config sync, record timestamps and headers.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "scenarios/broker/cluster.h"
#include "scenarios/kafka/client_json.h"
#include "scenarios/kafka/workload.h"
#include "scenarios/scenario.h"
#include "scenarios/workload.h"
#include "sim/world/world.h"
#include "invariants/history.h"
#include "system/broker/config.h"
#include "system/client/consumer.h"
#include "system/client/producer.h"

namespace samsa::scenarios::mirror {

namespace {

using namespace samsa::sim;
using invariants::Process;
using invariants::Violation;
using nlohmann::json;
using samsa::client::TopicPartition;
using kafka::properties;
using kafka::record_json;

const std::vector<std::string> k_broker_keys = {
    "min.insync.replicas", "offsets.topic.num.partitions", "offsets.topic.replication.factor",
    "replica.lag.time.max.ms", "unclean.leader.election.enable", "zookeeper.session.timeout.ms",
    "group.initial.rebalance.delay.ms", "log.flush.interval.messages"};
const std::vector<std::string> k_producer_keys = {
    "acks", "enable.idempotence", "retries", "request.timeout.ms", "delivery.timeout.ms", "max.block.ms",
    "retry.backoff.ms", "linger.ms", "max.in.flight.requests.per.connection"};
const std::vector<std::string> k_consumer_keys = {
    "session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms", "max.poll.records",
    "fetch.max.wait.ms", "request.timeout.ms", "partition.assignment.strategy"};

json config_defaults() {
  json c = json::object();
  for (const auto* keys : {&k_broker_keys, &k_producer_keys, &k_consumer_keys})
    for (const auto& k : *keys) c[k] = nullptr;
  c["min.insync.replicas"] = 2;
  c["replica.lag.time.max.ms"] = 10000;
  c["offsets.topic.num.partitions"] = 5;
  c["group.initial.rebalance.delay.ms"] = 500;
  c["zookeeper.session.timeout.ms"] = 6000;
  c["acks"] = "all";
  c["enable.idempotence"] = true;
  c["request.timeout.ms"] = 5000;
  c["delivery.timeout.ms"] = 30000;
  c["max.block.ms"] = 20000;
  c["session.timeout.ms"] = 10000;
  c["heartbeat.interval.ms"] = 2000;
  c["max.poll.interval.ms"] = 30000;
  c["max.poll.records"] = 50;
  c["fetch.max.wait.ms"] = 300;
  return c;
}

// A duration option: a non-negative integer or [lo, hi] of them.
bool duration_ms_shape(const json& v) {
  auto ms = [](const json& x) { return x.is_number_integer() && x.get<std::int64_t>() >= 0; };
  if (v.is_array()) return v.size() == 2 && ms(v[0]) && ms(v[1]) && v[0].get<std::int64_t>() <= v[1].get<std::int64_t>();
  return ms(v);
}

// A number or [lo, hi] (checked by duration_ms_shape) drawn from the workload's per-seed stream.
std::int64_t draw_ms(Random& rng, const json& v) {
  SAMSA_ASSERT(duration_ms_shape(v), "duration options were validated before the run");
  if (v.is_array()) {
    const auto lo = v[0].get<std::int64_t>(), hi = v[1].get<std::int64_t>();
    return lo == hi ? lo : rng.uniform_signed(lo, hi);
  }
  return v.get<std::int64_t>();
}

class Mirror final : public Workload {
 public:
  // Reads the options and keys as setup uses them and checks them (the
  // workload type's validate before the run; setup asserts the same).
  Result<void, ConfigMistake> configure(const ScenarioSpec& spec) {
    if (auto r = read_options(spec); !r) return r;
    std::vector<std::pair<std::string, std::string>>& settings = broker_settings_;
    const auto broker = properties(spec.config, k_broker_keys, "broker");
    for (const auto& [k, v] : broker) settings.emplace_back(k, v);
    if (!broker.count("offsets.topic.replication.factor"))
      settings.emplace_back("offsets.topic.replication.factor", std::to_string(std::min(3, brokers_)));
    auto p = producer_props_;
    p["bootstrap.servers"] = "b1:9092";
    auto c = consumer_props_;
    c["bootstrap.servers"] = "b1:9092";
    c["group.id"] = group_;
    return kafka::validate_configs(settings, &p, &c);
  }

  void setup(WorkloadContext& ctx) override {
    const auto configured = configure(ctx.spec);
    SAMSA_ASSERT(configured.ok(), "the mirror workload's options and keys were validated before the run");
    const auto& settings = broker_settings_;
    source_ = std::make_unique<broker::Cluster>(ctx.world, broker::ClusterConfig{brokers_, settings, "dc1-"});
    target_ = std::make_unique<broker::Cluster>(ctx.world, broker::ClusterConfig{brokers_, settings, "dc2-"});
    add_datacenter(ctx, "dc1", *source_, "source-brokers");
    add_datacenter(ctx, "dc2", *target_, "target-brokers");
    for (int i = 1; i <= producers_; ++i) {
      const NodeId id = ctx.world.add_node(fmt::format("dc1-p{}", i), [this, &ctx, i](Runtime& rt) {
        run_producer(rt, ctx, i);
      });
      join(ctx, id, {"dc1", "producers", "clients"});
    }
    for (int i = 1; i <= mirrors_; ++i) {
      const NodeId id = ctx.world.add_node(fmt::format("dc2-mirror{}", i), [this, &ctx, i](Runtime& rt) {
        run_mirror(rt, ctx, i);
      });
      join(ctx, id, {"dc2", "mirrors", "clients"});
    }
    join(ctx, ctx.world.add_node("dc1-reader", [this, &ctx](Runtime& rt) { run_reader(rt, ctx, *source_, topic_); }),
         {"dc1"});
    join(ctx, ctx.world.add_node("dc2-reader", [this, &ctx](Runtime& rt) { run_reader(rt, ctx, *target_, remote_); }),
         {"dc2"});
    set_wan(ctx);
    ctx.dynamic_targets["source-leader"] = [this]() -> std::optional<NodeId> {
      if (auto b = source_->leader_of(topic_, 0)) return source_->node_of(*b);
      return std::nullopt;
    };
    ctx.dynamic_targets["target-leader"] = [this]() -> std::optional<NodeId> {
      if (auto b = target_->leader_of(remote_, 0)) return target_->node_of(*b);
      return std::nullopt;
    };
  }

  void start(WorkloadContext& ctx) override {
    stop_at_ = ctx.end - std::chrono::milliseconds(stop_before_end_ms_);
    read_at_ = ctx.end - std::chrono::milliseconds(read_before_end_ms_);
    for (NodeId id : ctx.world.node_ids()) ctx.world.start(id);
  }

  std::vector<Violation> check(WorkloadContext& ctx) override;
  json details(WorkloadContext&) override { return counts_; }
  void teardown(WorkloadContext&) override {
    source_.reset();
    target_.reset();
  }

 private:
  void join(WorkloadContext& ctx, NodeId id, std::initializer_list<const char*> groups) {
    for (const char* g : groups) ctx.groups[g].push_back(id);
  }

  void add_datacenter(WorkloadContext& ctx, const char* dc, broker::Cluster& c, const char* brokers) {
    join(ctx, c.zk_node(), {dc, "coordinators"});
    for (int b = 1; b <= brokers_; ++b) join(ctx, c.node_of(b), {dc, brokers, "brokers"});
  }

  // One WAN: the same base latency on every cross-datacenter link, both ways.
  void set_wan(WorkloadContext& ctx) {
    wan_latency_ms_ = draw_ms(ctx.swarm, ctx.options.at("wan_latency_ms"));
    const auto latency = std::chrono::milliseconds(wan_latency_ms_);
    const auto jitter = std::chrono::milliseconds(wan_jitter_ms_);
    for (NodeId a : ctx.groups.at("dc1"))
      for (NodeId b : ctx.groups.at("dc2")) {
        ctx.world.network().set_link(a, b, latency, jitter);
        ctx.world.network().set_link(b, a, latency, jitter);
      }
  }

  Result<void, ConfigMistake> read_options(const ScenarioSpec& spec) {
    const json& o = spec.workload_options;
    auto mistake = [](std::string key, std::string message) { return Err(ConfigMistake{std::move(key), std::move(message)}); };
    brokers_ = spec.brokers > 0 ? static_cast<int>(spec.brokers) : 3;
    producers_ = static_cast<int>(o.at("producers").get<std::int64_t>());
    mirrors_ = static_cast<int>(o.at("mirrors").get<std::int64_t>());
    records_ = o.at("records").get<std::int64_t>();
    rate_per_s_ = o.at("rate_per_s").get<double>();
    wan_jitter_ms_ = o.at("wan_jitter_ms").get<std::int64_t>();
    stop_before_end_ms_ = o.at("stop_before_end_ms").get<std::int64_t>();
    read_before_end_ms_ = o.at("read_before_end_ms").get<std::int64_t>();
    group_ = o.at("mirror_group").get<std::string>();
    const std::string order = o.at("commit").get<std::string>();
    if (order != "after-send" && order != "before-send")
      return mistake("workload.commit", "must be after-send or before-send, not " + order);
    commit_first_ = order == "before-send";
    const std::string alias = o.at("source_alias").get<std::string>();
    if (producers_ < 1) return mistake("workload.producers", "must be at least 1");
    if (mirrors_ < 1) return mistake("workload.mirrors", "must be at least 1");
    if (rate_per_s_ <= 0) return mistake("workload.rate_per_s", "must be above 0");
    if (wan_jitter_ms_ < 0) return mistake("workload.wan_jitter_ms", "must not be negative");
    if (!duration_ms_shape(o.at("wan_latency_ms")))
      return mistake("workload.wan_latency_ms", "must be a non-negative integer or [lo, hi] with 0 <= lo <= hi");
    if (alias.empty() || alias.find('.') != std::string::npos)
      return mistake("workload.source_alias", "must be a non-empty name without '.'");
    if (spec.topics.size() != 1) return mistake("topics", "the mirror workload mirrors one [[topics]] table");
    topic_ = spec.topics[0].name;
    remote_ = alias + "." + topic_;  // DefaultReplicationPolicy.formatRemoteTopic
    partitions_ = static_cast<int>(spec.topics[0].partitions);
    replication_ = static_cast<int>(spec.topics[0].replication_factor);
    producer_props_ = properties(spec.config, k_producer_keys, "producer");
    consumer_props_ = properties(spec.config, k_consumer_keys, "consumer");
    consumer_props_["enable.auto.commit"] = "false";
    consumer_props_["auto.offset.reset"] = "earliest";
    return {};
  }

  static std::string servers(const broker::Cluster& c) {
    std::string out;
    for (const auto& a : c.addresses()) out += fmt::format("{}{}:{}", out.empty() ? "" : ",", a.host, a.port);
    return out;
  }

  std::map<std::string, std::string> producer_props(const broker::Cluster& c, const std::string& id) const {
    auto p = producer_props_;
    p["bootstrap.servers"] = servers(c);
    p["client.id"] = id;
    return p;
  }
  std::map<std::string, std::string> consumer_props(const broker::Cluster& c, const std::string& id) const {
    auto p = consumer_props_;
    p["bootstrap.servers"] = servers(c);
    p["client.id"] = id;
    return p;
  }

  // --- the source producers --------------------------------------------------------
  void run_producer(Runtime& rt, WorkloadContext& ctx, int index) {
    if (index == 1) {
      while (!source_->create_topic(rt, topic_, partitions_, replication_)) rt.sleep(500ms);
      source_ready_ = true;
    }
    while (!source_ready_) rt.sleep(100ms);
    auto made = client::Producer::create(rt, producer_props(*source_, fmt::format("p{}", index)));
    SAMSA_ASSERT(made.ok(), "producer keys were validated in setup");
    client::Producer& producer = *made.value();
    Random rng = rt.random("mirror.producer");
    const auto mean = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(1.0 / rate_per_s_));
    const std::string name = fmt::format("p{}", index);
    while (rt.now().since_epoch < stop_at_ && (records_ == 0 || sent_[index] < records_)) {
      const std::int64_t seq = sent_[index]++;
      const std::string value = fmt::format("{}-{}", name, seq);
      json v = {{"topic", topic_}, {"value", value}, {"producer", name}, {"seq", seq}};
      auto p = std::make_shared<Process>(ctx.history);
      p->invoke("send", v);
      producer.send({topic_, std::nullopt, fmt::format("k{}", seq % 7), value, std::nullopt},
                    [this, p, v](const client::SendOutcome& o) mutable {
                      if (o.partition >= 0) v["partition"] = o.partition;
                      if (o.kind == client::OutcomeKind::ok) {
                        v["offset"] = o.offset;
                        ++acked_;
                        p->ok("send", v);
                      } else {
                        v["error"] = o.message;
                        if (o.kind == client::OutcomeKind::fail) p->fail("send", v);
                        else p->info("send", v);
                      }
                    });
      rt.sleep(rng.uniform(mean / 5, mean * 9 / 5));
    }
    producer.close();
  }

  // --- the mirrors -------------------------------------------------------------------
  enum class Batch : std::uint8_t { idle, mirrored, restart };

  // One poll's records copied: send all, flush, and commit only when every
  // send was acknowledged (the at-least-once order).
  Batch mirror_batch(Runtime& rt, Process& proc, int index, client::Consumer& c, client::Producer& p) {
    const auto records = c.poll(500ms);
    if (records.empty()) return Batch::idle;
    json polls = json::array();
    std::map<TopicPartition, std::int64_t> offsets;
    for (const auto& r : records) {
      polls.push_back(record_json(r, false));
      offsets[{r.topic, protocol::PartitionId(r.partition)}] = r.offset + 1;
    }
    // `commit = "before-send"`: the wrong order, on purpose (a crash
    // between the commit and the acks loses the batch): what the checker
    // must catch.
    if (commit_first_) commit(proc, c, offsets);
    proc.invoke("mirror", {{"polls", polls}});
    std::vector<client::SendFuture> futures;
    for (const auto& r : records)  // MirrorSourceTask.convertRecord: same partition, key, value
      futures.push_back(p.send({remote_, r.partition, r.key, r.value.value_or(""), std::nullopt}));
    p.flush();
    json sends = json::array();
    bool all_ok = true;
    for (std::size_t i = 0; i < futures.size(); ++i) {
      const auto& o = futures[i].get();
      json s = {{"topic", remote_}, {"partition", records[i].partition}, {"value", records[i].value.value_or("")}};
      if (o.kind == client::OutcomeKind::ok) {
        s["offset"] = o.offset;
        ++mirrored_;
      } else {
        s["error"] = o.message;
        all_ok = false;
      }
      sends.push_back(std::move(s));
    }
    if (!all_ok) {
      rt.log().info("mirror{}: a send failed; the task starts again from the committed offsets", index);
      proc.info("mirror", {{"polls", polls}, {"sends", sends}, {"error", "a send to the target failed"}});
      return Batch::restart;
    }
    proc.ok("mirror", {{"polls", polls}, {"sends", sends}});
    ++batches_;
    if (!commit_first_) commit(proc, c, offsets);
    return Batch::mirrored;
  }

  // commitSync of the batch's next offsets, recorded as a `commit` op.
  void commit(Process& proc, client::Consumer& c, const std::map<TopicPartition, std::int64_t>& offsets) {
    json committed = json::array();
    for (const auto& [tp, o] : offsets)
      committed.push_back({{"topic", tp.topic}, {"partition", tp.partition.value()}, {"offset", o}});
    proc.invoke("commit", {{"group", group_}, {"offsets", committed}});
    const client::CommitOutcome co = c.commit_sync(offsets);
    if (co.ok) {
      ++commits_;
      proc.ok("commit", {{"group", group_}, {"offsets", committed}});
    } else {
      // Rebalanced or cut off: the next owner starts from the last commit
      // and copies these again.
      ++commit_failures_;
      proc.fail("commit", {{"group", group_}, {"offsets", committed}, {"error", std::string(protocol::to_string(co.error))}});
    }
  }

  void ensure_remote_topic(Runtime& rt) {
    // MirrorSourceConnector creates the remote topic with the source's partition count.
    while (!target_ready_) {
      if (target_->create_topic(rt, remote_, partitions_, replication_)) target_ready_ = true;
      else rt.sleep(500ms);
    }
  }

  void run_mirror(Runtime& rt, WorkloadContext& ctx, int index) {
    ensure_remote_topic(rt);
    while (!source_ready_) rt.sleep(100ms);
    const std::string name = fmt::format("mirror{}", index);
    // The mirrors run to the end: catching up after the heal is what the
    // checker's mirror-lag judges.
    const Duration until = ctx.end - 500ms;
    while (rt.now().since_epoch < until) {
      Process proc(ctx.history);
      ++incarnations_;
      auto props = consumer_props(*source_, name);
      props["group.id"] = group_;
      auto config = client::make_consumer_config(props);
      SAMSA_ASSERT(config.ok(), "consumer keys were validated in setup");
      client::Consumer c(rt, *config);
      c.on_assign = [&](const client::AssignOutcome& a) {
        json parts = json::array();
        for (const auto& tp : a.partitions) parts.push_back({{"topic", tp.topic}, {"partition", tp.partition.value()}});
        proc.invoke("assign", {{"group", group_}});
        proc.ok("assign", {{"group", group_}, {"generation", a.generation}, {"partitions", parts}});
      };
      auto made = client::Producer::create(rt, producer_props(*target_, name));
      SAMSA_ASSERT(made.ok(), "producer keys were validated in setup");
      client::Producer& p = *made.value();
      c.subscribe({topic_});
      Batch b = Batch::idle;
      while (b != Batch::restart && rt.now().since_epoch < until) b = mirror_batch(rt, proc, index, c, p);
      p.close();
      c.close();
      if (b == Batch::restart) {
        ++restarts_;
        rt.sleep(1s);
      }
    }
  }

  // --- the readers ---------------------------------------------------------------------
  void run_reader(Runtime& rt, WorkloadContext& ctx, broker::Cluster& cluster, const std::string& topic) {
    rt.sleep_until(MonoTime{read_at_});
    Process proc(ctx.history);
    const bool target = &cluster == target_.get();
    auto config = client::make_consumer_config(consumer_props(cluster, target ? "dc2-reader" : "dc1-reader"));
    SAMSA_ASSERT(config.ok(), "consumer keys were validated in setup");
    client::Consumer c(rt, *config);
    std::vector<TopicPartition> tps;
    for (int p = 0; p < partitions_; ++p) tps.push_back({topic, protocol::PartitionId(p)});
    c.assign(tps);
    const Duration until = ctx.end - 500ms;
    while (rt.now().since_epoch < until) {
      proc.invoke("poll", json::object());
      json polled = json::array();
      for (const auto& r : c.poll(300ms)) {
        polled.push_back(record_json(r, false));
        if (target) target_values_[r.value.value_or("")].insert({r.partition, r.offset});
      }
      (target ? target_read_ : source_read_) += polled.size();
      proc.ok("poll", {{"records", polled}});
    }
    c.close();
  }

  int brokers_ = 3, producers_ = 2, mirrors_ = 2, partitions_ = 1, replication_ = 3;
  std::int64_t records_ = 0, stop_before_end_ms_ = 14000, read_before_end_ms_ = 6000;
  std::int64_t wan_latency_ms_ = 0, wan_jitter_ms_ = 10;
  std::vector<std::pair<std::string, std::string>> broker_settings_;
  double rate_per_s_ = 20;
  std::string topic_, remote_, group_;
  std::map<std::string, std::string> producer_props_, consumer_props_;
  Duration stop_at_{0}, read_at_{0};
  std::unique_ptr<broker::Cluster> source_, target_;
  bool source_ready_ = false, target_ready_ = false, commit_first_ = false;
  std::map<int, std::int64_t> sent_;
  std::map<std::string, std::set<std::pair<std::int32_t, std::int64_t>>> target_values_;
  std::uint64_t acked_ = 0, mirrored_ = 0, batches_ = 0, commits_ = 0, commit_failures_ = 0, incarnations_ = 0,
                restarts_ = 0, source_read_ = 0, target_read_ = 0;
  json counts_ = json::object();
};

// The mirror checker judges the history; here the counts, and whether
// anything was mirrored at all.
std::vector<Violation> Mirror::check(WorkloadContext&) {
  std::vector<Violation> out;
  if (acked_ > 0 && mirrored_ == 0) out.push_back(Violation::liveness("mirror-lag", "the mirror copied nothing"));
  std::uint64_t duplicated = 0, extra = 0;
  for (const auto& [value, at] : target_values_)
    if (at.size() > 1) {
      ++duplicated;
      extra += at.size() - 1;
    }
  std::uint64_t sent = 0;
  for (const auto& [p, n] : sent_) sent += static_cast<std::uint64_t>(n);
  counts_ = {{"sent", sent},
             {"acked", acked_},
             {"mirrored_sends", mirrored_},
             {"mirror_batches", batches_},
             {"commits", commits_},
             {"commit_failures", commit_failures_},
             {"mirror_incarnations", incarnations_},
             {"mirror_task_restarts", restarts_},
             {"source_read", source_read_},
             {"target_read", target_read_},
             {"target_duplicated_records", duplicated},
             {"target_extra_copies", extra},
             {"wan_latency_ms", wan_latency_ms_},
             {"remote_topic", remote_}};
  return out;
}

json expectation_config(const ScenarioSpec& spec) {
  json c = kafka::cluster_expectation_config(spec);
  c["samsa.mirror"] = "at-least-once";
  c["samsa.consume"] = "subscribe";
  return c;
}

}  // namespace

}  // namespace samsa::scenarios::mirror

namespace samsa::scenarios {

WorkloadType mirror_workload() {
  WorkloadType t;
  t.name = "mirror";
  t.description =
      "two clusters joined by a WAN link; MirrorMaker (a consumer group on the source, an idempotent producer to "
      "the target) copies the source topic to <source_alias>.<topic>; readers read both back";
  t.options = {{"producers", 2},
               {"records", 0},
               {"rate_per_s", 20.0},
               {"mirrors", 2},
               {"mirror_group", "mirror"},
               {"commit", "after-send"},
               {"source_alias", "dc1"},
               {"wan_latency_ms", nlohmann::json::array({30, 100})},
               {"wan_jitter_ms", 10},
               {"stop_before_end_ms", 14000},
               {"read_before_end_ms", 6000}};
  t.config = mirror::config_defaults();
  t.components = {{"broker", mirror::k_broker_keys}, {"producer", mirror::k_producer_keys}, {"consumer", mirror::k_consumer_keys}};
  t.groups = {"dc1", "dc2", "brokers", "source-brokers", "target-brokers", "coordinators", "producers",
              "mirrors", "clients", "source-leader", "target-leader"};
  t.shrinkable = {"records"};
  t.expectation_config = mirror::expectation_config;
  t.make = [] { return std::make_unique<mirror::Mirror>(); };
  t.validate = [](const ScenarioSpec& spec) { return mirror::Mirror().configure(spec); };
  return t;
}

}  // namespace samsa::scenarios
