// The `eos` workload: exactly-once consume-transform-produce (KIP-98,
// KIP-447), the pattern of Kafka Streams' exactly_once_v2 and of the Java
// client's transactional examples:
//
//   feeder "p1"  an idempotent producer writes unique values to the input
//                topic (the first [[topics]] table), recorded as `send` ops;
//   "t1".."tN"   transformers: a consumer in group `group.id`
//                (isolation.level from [config], read_committed by default,
//                so OffsetFetch asks require_stable) and a transactional
//                producer (transactional.id "eos-tI"). Each round polls,
//                begins a transaction, writes one output record per input
//                record to the same partition of the output topic (the
//                second table) with the value "<input>@tI.<n>", sends the
//                consumed offsets with the consumer's group metadata
//                (sendOffsetsToTransaction, TxnOffsetCommit v3) and commits.
//                The round is one Jepsen `txn` op {polls, sends}: ok when
//                the commit succeeded, fail when the transaction was aborted
//                (then the consumer seeks back to what it polled), info when
//                the outcome is unknown (a fatal error or a timeout after
//                EndTxn(commit) was sent; the transformer then starts again
//                with a new consumer and producer instance, which fences the
//                old one);
//   "reader"     after the transformers stop, a consumer with
//                `reader_isolation` reads the output topic from the start,
//                recorded as `poll` ops.
//
// So the checkers see: exactly-once (an input committed by two
// transactions), G1a (an aborted transaction's output was read: expected
// with reader_isolation = read_uncommitted), lost-write / unseen (a
// committed output or an acknowledged input never read), duplicate, G0 /
// G1c over the transactions.
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
#include "system/broker/group/offsets_records.h"
#include "system/broker/txn_service.h"
#include "system/client/consumer.h"
#include "system/client/producer.h"

namespace samsa::scenarios::kafka {

namespace {

using namespace samsa::sim;
using invariants::Process;
using invariants::Violation;
using nlohmann::json;
using samsa::client::TopicPartition;

const std::vector<std::string> k_eos_broker_keys = {
    "min.insync.replicas", "offsets.topic.num.partitions", "offsets.topic.replication.factor",
    "replica.lag.time.max.ms", "unclean.leader.election.enable", "zookeeper.session.timeout.ms",
    "group.initial.rebalance.delay.ms", "log.flush.interval.messages",
    "transaction.state.log.num.partitions", "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr", "transaction.max.timeout.ms",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms", "transactional.id.expiration.ms",
    "samsa.legacy.no.implicit.add.partitions", "samsa.legacy.no.epoch.bump.per.transaction"};
const std::vector<std::string> k_eos_producer_keys = {
    "request.timeout.ms", "delivery.timeout.ms", "max.block.ms", "transaction.timeout.ms", "retry.backoff.ms",
    "linger.ms", "max.in.flight.requests.per.connection"};
const std::vector<std::string> k_eos_consumer_keys = {
    "group.id", "isolation.level", "session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms",
    "max.poll.records", "fetch.max.wait.ms", "partition.assignment.strategy"};

json eos_config_defaults() {
  json c = json::object();
  for (const auto* keys : {&k_eos_broker_keys, &k_eos_producer_keys, &k_eos_consumer_keys})
    for (const auto& k : *keys) c[k] = nullptr;
  c["min.insync.replicas"] = 2;
  c["replica.lag.time.max.ms"] = 10000;
  c["offsets.topic.num.partitions"] = 5;
  c["transaction.state.log.num.partitions"] = 5;
  c["transaction.abort.timed.out.transaction.cleanup.interval.ms"] = 1000;
  c["group.initial.rebalance.delay.ms"] = 500;
  c["zookeeper.session.timeout.ms"] = 6000;
  c["request.timeout.ms"] = 3000;
  c["delivery.timeout.ms"] = 20000;
  c["max.block.ms"] = 20000;
  c["transaction.timeout.ms"] = 10000;
  c["group.id"] = "eos";
  c["isolation.level"] = "read_committed";
  c["session.timeout.ms"] = 6000;
  c["heartbeat.interval.ms"] = 1000;
  c["max.poll.interval.ms"] = 20000;
  c["max.poll.records"] = 10;
  c["fetch.max.wait.ms"] = 200;
  return c;
}

class Eos final : public Workload {
 public:
  // Reads the options and keys as setup uses them and checks them (the
  // workload type's validate before the run; setup asserts the same).
  Result<void, ConfigMistake> configure(const ScenarioSpec& spec) {
    if (auto r = read_options(spec); !r) return r;
    auto settings_map = properties(spec.config, k_eos_broker_keys, "broker");
    for (const char* rf : {"offsets.topic.replication.factor", "transaction.state.log.replication.factor"})
      if (!settings_map.count(rf)) settings_map[rf] = std::to_string(std::min(3, brokers_));
    if (!settings_map.count("transaction.state.log.min.isr"))
      settings_map["transaction.state.log.min.isr"] = std::to_string(std::min(2, brokers_));
    broker_settings_.assign(settings_map.begin(), settings_map.end());
    const auto producer = txn_props(1);
    const auto consumer = consumer_props(1);
    return validate_configs(broker_settings_, &producer, &consumer);
  }

  void setup(WorkloadContext& ctx) override {
    const auto configured = configure(ctx.spec);
    SAMSA_ASSERT(configured.ok(), "the eos workload's options and keys were validated before the run");
    world_ = &ctx.world;
    cluster_ = std::make_unique<broker::Cluster>(ctx.world, broker::ClusterConfig{brokers_, broker_settings_});
    ctx.groups["coordinator"] = {broker::Cluster::k_zk};
    for (int b = 1; b <= brokers_; ++b) ctx.groups["brokers"].push_back(cluster_->node_of(b));
    const NodeId feeder = ctx.world.add_node("p1", [this, &ctx](Runtime& rt) { run_feeder(rt, ctx); });
    ctx.groups["feeder"] = {feeder};
    ctx.groups["clients"].push_back(feeder);
    for (int i = 1; i <= transformers_; ++i) {
      const NodeId id = ctx.world.add_node(fmt::format("t{}", i), [this, &ctx, i](Runtime& rt) {
        run_transformer(rt, ctx, i);
      });
      ctx.groups["transformers"].push_back(id);
      ctx.groups["clients"].push_back(id);
    }
    ctx.world.add_node("reader", [this, &ctx](Runtime& rt) { run_reader(rt, ctx); });
    ctx.dynamic_targets["leader"] = [this]() -> std::optional<NodeId> {
      if (auto b = cluster_->leader_of(output_, 0)) return cluster_->node_of(*b);
      return std::nullopt;
    };
    const auto partition_leader = [this](const std::string& topic, int partition) -> std::optional<NodeId> {
      if (auto b = cluster_->leader_of(topic, partition)) return cluster_->node_of(*b);
      return std::nullopt;
    };
    const auto broker_config = properties(ctx.config, k_eos_broker_keys, "broker");
    const int offsets_partitions = std::stoi(broker_config.at("offsets.topic.num.partitions"));
    const int group_partition = samsa::broker::group::offsets_partition_for(group_, offsets_partitions);
    ctx.dynamic_targets["group-coordinator"] = [=]() { return partition_leader("__consumer_offsets", group_partition); };
    // The transaction coordinator of t1's transactional.id (the same
    // Utils.abs(hashCode) % partitions as groups).
    const int txn_partitions = std::stoi(broker_config.at("transaction.state.log.num.partitions"));
    const int txn_partition = samsa::broker::group::offsets_partition_for("eos-t1", txn_partitions);
    txn_partition_ = txn_partition;
    ctx.dynamic_targets["txn-coordinator"] = [=, this, &ctx]() {
      auto node = partition_leader("__transaction_state", txn_partition);
      if (node) note_coordinator_fault(ctx.world, *cluster_->leader_of("__transaction_state", txn_partition));
      return node;
    };
  }

  void start(WorkloadContext& ctx) override {
    stop_at_ = ctx.end - std::chrono::milliseconds(stop_before_end_ms_);
    read_at_ = ctx.end - std::chrono::milliseconds(read_before_end_ms_);
    for (NodeId id : ctx.world.node_ids()) ctx.world.start(id);
  }

  std::vector<Violation> check(WorkloadContext& ctx) override;
  json details(WorkloadContext&) override { return counts_; }
  void teardown(WorkloadContext&) override { cluster_.reset(); }

 private:
  Result<void, ConfigMistake> read_options(const ScenarioSpec& spec) {
    const json& o = spec.workload_options;
    auto mistake = [](std::string key, std::string message) { return Err(ConfigMistake{std::move(key), std::move(message)}); };
    brokers_ = spec.brokers > 0 ? static_cast<int>(spec.brokers) : 3;
    records_ = o.at("records").get<std::int64_t>();
    rate_per_s_ = o.at("rate_per_s").get<double>();
    transformers_ = static_cast<int>(o.at("transformers").get<std::int64_t>());
    stop_before_end_ms_ = o.at("stop_before_end_ms").get<std::int64_t>();
    read_before_end_ms_ = o.at("read_before_end_ms").get<std::int64_t>();
    const std::string iso = o.at("reader_isolation").get<std::string>();
    if (iso != "read_committed" && iso != "read_uncommitted")
      return mistake("workload.reader_isolation", "must be read_committed or read_uncommitted, not " + iso);
    reader_committed_ = iso == "read_committed";
    abort_chance_ = o.at("abort_chance").get<double>();
    if (rate_per_s_ <= 0) return mistake("workload.rate_per_s", "must be above 0");
    if (transformers_ < 1) return mistake("workload.transformers", "must be at least 1");
    if (spec.topics.size() != 2 || spec.topics[0].partitions != spec.topics[1].partitions)
      return mistake("topics", "the eos workload needs two [[topics]] tables (input, output) with the same partition count");
    input_ = spec.topics[0].name;
    output_ = spec.topics[1].name;
    partitions_ = static_cast<int>(spec.topics[0].partitions);
    producer_props_ = properties(spec.config, k_eos_producer_keys, "producer");
    consumer_props_ = properties(spec.config, k_eos_consumer_keys, "consumer");
    group_ = consumer_props_.at("group.id");
    std::string servers;
    for (int b = 1; b <= brokers_; ++b) servers += fmt::format("{}b{}:9092", b > 1 ? "," : "", b);
    producer_props_["bootstrap.servers"] = servers;
    consumer_props_["bootstrap.servers"] = servers;
    consumer_props_["enable.auto.commit"] = "false";
    consumer_props_["auto.offset.reset"] = "earliest";
    return {};
  }

  std::map<std::string, std::string> txn_props(int i) const {
    auto p = producer_props_;
    p["client.id"] = fmt::format("t{}", i);
    p["transactional.id"] = fmt::format("eos-t{}", i);
    return p;
  }
  std::map<std::string, std::string> consumer_props(int i) const {
    auto p = consumer_props_;
    p["client.id"] = fmt::format("t{}", i);
    return p;
  }

  void wait_for_topics(Runtime& rt) {
    while (!topics_ready_) rt.sleep(100ms);
  }

  // --- the feeder --------------------------------------------------------------------
  void run_feeder(Runtime& rt, WorkloadContext& ctx) {
    for (const auto& t : ctx.spec.topics)
      while (!cluster_->create_topic(rt, t.name, static_cast<int>(t.partitions), static_cast<int>(t.replication_factor)))
        rt.sleep(500ms);
    topics_ready_ = true;
    // The feeder keeps Kafka's delivery.timeout.ms: the scenario's short
    // timeouts are for the transformers.
    std::map<std::string, std::string> props = {{"bootstrap.servers", producer_props_.at("bootstrap.servers")},
                                                {"client.id", "p1"}};
    if (producer_props_.count("request.timeout.ms")) props["request.timeout.ms"] = producer_props_.at("request.timeout.ms");
    auto made = client::Producer::create(rt, props);
    SAMSA_ASSERT(made.ok(), "producer keys were validated in setup");
    client::Producer& producer = *made.value();
    Random rng = rt.random("feeder");
    const auto mean = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(1.0 / rate_per_s_));
    while (rt.now().since_epoch < stop_at_ && next_input_ < records_) {
      const std::int64_t seq = next_input_++;
      json v = {{"topic", input_}, {"value", fmt::format("i{}", seq)}, {"producer", "feeder"}, {"seq", seq}};
      auto p = std::make_shared<Process>(ctx.history);
      p->invoke("send", v);
      producer.send({input_, std::nullopt, std::nullopt, v["value"].get<std::string>(), std::nullopt},
                    [p, v](const client::SendOutcome& o) mutable {
                      if (o.partition >= 0) v["partition"] = o.partition;
                      if (o.kind == client::OutcomeKind::ok) {
                        v["offset"] = o.offset;
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

  // --- transactions caught by a fault of their coordinator ---------------------------------
  // The fault's time and the state each transformer's transactional id was
  // in at the broker about to be hit: what a crash interrupts. The
  // transformer that later ends that transaction counts how it ended.
  struct CoordinatorFault {
    int transformer = 0;
    samsa::broker::txn::TxnState state{};
    Duration at{0};
    bool ended = false;
  };
  void note_coordinator_fault(World& world, int broker) {
    ++coordinator_faults_;
    const auto* node = cluster_->node(broker);
    if (node == nullptr || !node->txns) return;
    for (int i = 1; i <= transformers_; ++i) {
      const auto* m = node->txns->coordinator().metadata(fmt::format("eos-t{}", i));
      if (m == nullptr) continue;
      const auto st = m->state();
      using S = samsa::broker::txn::TxnState;
      if (st != S::ongoing && st != S::prepare_commit && st != S::prepare_abort) continue;
      caught_.push_back({i, st, world.now()});
      ++(st == S::ongoing ? caught_ongoing_ : caught_prepare_);
    }
  }
  // The transaction of transformer `index` that ran over [began, now] ended
  // committed (or aborted): count the faults it outlived.
  void count_caught(int index, Duration began, Duration now, bool committed) {
    for (auto& f : caught_) {
      if (f.transformer != index || f.ended || f.at < began || f.at > now) continue;
      f.ended = true;
      if (!committed) ++caught_aborted_;
      else if (f.state == samsa::broker::txn::TxnState::ongoing) ++caught_ongoing_committed_;
      else ++caught_prepare_committed_;
    }
  }

  // --- the transformers ----------------------------------------------------------------
  enum class Round : std::uint8_t { idle, committed, aborted, restart };

  // One consume-transform-produce transaction; the txn op ends here.
  Round transform(Runtime& rt, Random& rng, Process& proc, int index, client::Consumer& c, client::Producer& p) {
    const auto records = c.poll(500ms);
    if (records.empty()) return Round::idle;
    json polls = json::array();
    std::map<TopicPartition, std::int64_t> offsets, rewind;
    for (const auto& r : records) {
      polls.push_back(record_json(r, false));
      const TopicPartition tp{r.topic, protocol::PartitionId(r.partition)};
      offsets[tp] = r.offset + 1;
      if (!rewind.count(tp)) rewind[tp] = r.offset;
    }
    proc.invoke("txn", {{"polls", polls}});
    const Duration began = world_->now();
    // A crash unwinds through here: the txn ends info with what it polled
    // and sent so far (the outcome is unknown; a committed one shows by its
    // output being read).
    json so_far = json::array();
    struct OnUnwind {
      Process& proc;
      const json& polls;
      const json& sends;
      ~OnUnwind() {
        if (proc.pending()) proc.close({{"polls", polls}, {"sends", sends}, {"error", "the transformer crashed"}});
      }
    } on_unwind{proc, polls, so_far};
    auto end_aborted = [&](const std::string& why, json sends) {
      rt.log().info("eos: t{} aborted: {}", index, why);
      // Read them again in the next transaction; a partition a rebalance
      // took meanwhile is read from its committed offset by its new owner.
      for (const auto& [tp, o] : rewind) (void)c.seek(tp, o);
      ++aborted_;
      count_caught(index, began, world_->now(), false);
      proc.fail("txn", {{"polls", polls}, {"sends", std::move(sends)}, {"error", why}});
      return Round::aborted;
    };
    auto end_unknown = [&](const std::string& why, json sends) {
      rt.log().info("eos: t{} unknown outcome: {}", index, why);
      ++unknown_;
      proc.info("txn", {{"polls", polls}, {"sends", std::move(sends)}, {"error", why}});
      return Round::restart;
    };
    client::TxnResult r = p.begin_transaction();
    if (!r.ok()) return end_unknown("beginTransaction: " + r.message, json::array());
    std::vector<std::pair<json, client::SendFuture>> sent;
    for (const auto& rec : records) {
      const std::string value = fmt::format("{}@t{}.{}", rec.value.value_or(""), index, ++txn_seq_[index]);
      json s = {{"topic", output_}, {"partition", rec.partition}, {"value", value}};
      so_far.push_back(s);
      sent.emplace_back(s, p.send({output_, rec.partition, std::nullopt, value, std::nullopt}));
    }
    // The application gives up on some rounds (abort_chance): the records
    // are in the log, then aborted.
    if (abort_chance_ > 0 && rng.chance(abort_chance_)) {
      p.flush();
      json sends = json::array();
      for (auto& [s, f] : sent) {
        const auto& o = f.get();
        if (o.kind == client::OutcomeKind::ok) s["offset"] = o.offset;
        sends.push_back(std::move(s));
      }
      const client::TxnResult a = p.abort_transaction();
      if (a.ok()) return end_aborted("the application aborted", sends);
      return end_unknown("abort: " + a.message, sends);
    }
    if (p.transaction_state() == client::TxnState::in_transaction)
      r = p.send_offsets_to_transaction(offsets, c.group_metadata());
    if (r.ok()) r = p.commit_transaction();
    for (int retry = 0; retry < 2 && r.kind == client::TxnErrorKind::timeout; ++retry) r = p.commit_transaction();
    json sends = json::array();
    for (auto& [s, f] : sent) {
      const auto& o = f.get();
      if (o.kind == client::OutcomeKind::ok) s["offset"] = o.offset;
      sends.push_back(std::move(s));
    }
    if (r.ok()) {
      ++committed_;
      count_caught(index, began, world_->now(), true);
      proc.ok("txn", {{"polls", polls}, {"sends", sends}});
      return Round::committed;
    }
    if (r.kind == client::TxnErrorKind::abortable) {
      const client::TxnResult a = p.abort_transaction();
      if (a.ok()) return end_aborted(r.message, sends);
      return end_unknown(r.message + "; abort: " + a.message, sends);
    }
    // Fatal (fenced, INVALID_TXN_STATE) or timed out: only a finished abort
    // is a definite failure. Even without this round's EndTxn(commit) the
    // transaction may have committed: a delayed EndTxn of the previous
    // round, same producer epoch, ends this one (what KIP-890 part 2's
    // epoch bump per transaction prevents).
    rt.log().info("eos: t{} {} error: {}", index, to_string(r.kind), r.message);
    return end_unknown(r.message, sends);
  }

  // One incarnation after another: a fatal error or an unknown outcome
  // starts a new consumer and producer (the new producer fences the old).
  void run_transformer(Runtime& rt, WorkloadContext& ctx, int index) {
    wait_for_topics(rt);
    while (rt.now().since_epoch < stop_at_) {
      Process proc(ctx.history);
      ++incarnations_;
      auto config = client::make_consumer_config(consumer_props(index));
      SAMSA_ASSERT(config.ok(), "consumer keys were validated in setup");
      client::Consumer c(rt, *config);
      Random rng = rt.random("eos.transformer");
      c.on_assign = [&](const client::AssignOutcome& a) {
        json parts = json::array();
        for (const auto& tp : a.partitions) parts.push_back({{"topic", tp.topic}, {"partition", tp.partition.value()}});
        proc.invoke("assign", {{"group", group_}});
        proc.ok("assign", {{"group", group_}, {"generation", a.generation}, {"partitions", parts}});
      };
      auto made = client::Producer::create(rt, txn_props(index));
      SAMSA_ASSERT(made.ok(), "producer keys were validated in setup");
      client::Producer& p = *made.value();
      c.subscribe({input_});
      const client::TxnResult init = p.init_transactions();
      rt.log().info("eos: t{} initTransactions: {} {}", index, to_string(init.kind), init.message);
      Round round = init.ok() ? Round::idle : Round::restart;
      if (!init.ok()) ++init_failures_;
      while (round != Round::restart && rt.now().since_epoch < stop_at_) round = transform(rt, rng, proc, index, c, p);
      const auto& s = p.stats();
      epoch_bumps_ += s.txn_epoch_bumps;
      end_txn_epoch_bumps_ += s.txn_end_epoch_bumps;
      p.close();
      c.close();
      if (round == Round::restart) rt.sleep(500ms);
    }
  }

  // --- the reader ------------------------------------------------------------------------
  void run_reader(Runtime& rt, WorkloadContext& ctx) {
    rt.sleep_until(MonoTime{read_at_});
    Process proc(ctx.history);
    auto props = consumer_props_;
    props.erase("group.id");
    props["client.id"] = "reader";
    props["isolation.level"] = reader_committed_ ? "read_committed" : "read_uncommitted";
    auto config = client::make_consumer_config(props);
    SAMSA_ASSERT(config.ok(), "consumer keys were validated in setup");
    client::Consumer c(rt, *config);
    std::vector<TopicPartition> tps;
    for (int p = 0; p < partitions_; ++p) tps.push_back({output_, protocol::PartitionId(p)});
    c.assign(tps);
    const Duration until = ctx.end - 500ms;
    while (rt.now().since_epoch < until) {
      proc.invoke("poll", json::object());
      json polled = json::array();
      for (const auto& r : c.poll(300ms)) polled.push_back(record_json(r, false));
      read_ += polled.size();
      proc.ok("poll", {{"records", polled}});
    }
    c.close();
  }

  int brokers_ = 3, transformers_ = 2, partitions_ = 1;
  std::int64_t records_ = 200, stop_before_end_ms_ = 8000, read_before_end_ms_ = 6000;
  std::vector<std::pair<std::string, std::string>> broker_settings_;
  double rate_per_s_ = 40, abort_chance_ = 0;
  bool reader_committed_ = true;
  std::string input_, output_, group_;
  std::map<std::string, std::string> producer_props_, consumer_props_;
  Duration stop_at_{0}, read_at_{0};
  std::unique_ptr<broker::Cluster> cluster_;
  World* world_ = nullptr;
  int txn_partition_ = 0;
  std::vector<CoordinatorFault> caught_;
  std::uint64_t coordinator_faults_ = 0, caught_ongoing_ = 0, caught_prepare_ = 0, caught_ongoing_committed_ = 0,
                caught_prepare_committed_ = 0, caught_aborted_ = 0;
  bool topics_ready_ = false;
  std::int64_t next_input_ = 0;
  std::map<int, std::int64_t> txn_seq_;
  std::uint64_t committed_ = 0, aborted_ = 0, unknown_ = 0, incarnations_ = 0, init_failures_ = 0, read_ = 0,
                epoch_bumps_ = 0, end_txn_epoch_bumps_ = 0;
  json counts_ = json::object();
};

// The history checkers judge; here only whether the run got anywhere.
std::vector<Violation> Eos::check(WorkloadContext&) {
  std::vector<Violation> out;
  if (committed_ == 0) out.push_back(Violation::liveness("liveness", "no transaction committed"));
  counts_ = {{"inputs", next_input_},       {"committed", committed_},   {"aborted", aborted_},
             {"unknown", unknown_},         {"incarnations", incarnations_}, {"init_failures", init_failures_},
             {"txn_epoch_bumps", epoch_bumps_}, {"end_txn_epoch_bumps", end_txn_epoch_bumps_}, {"read", read_},
             {"reader_isolation", reader_committed_ ? "read_committed" : "read_uncommitted"},
             // Faults of t1's transaction coordinator, the transactions they
             // caught Ongoing or PrepareX, and how those ended.
             {"coordinator_faults", coordinator_faults_},   {"caught_ongoing", caught_ongoing_},
             {"caught_prepare", caught_prepare_},           {"caught_ongoing_committed", caught_ongoing_committed_},
             {"caught_prepare_committed", caught_prepare_committed_}, {"caught_aborted", caught_aborted_}};
  // The coordinator epoch of t1's __transaction_state partition (its leader
  // epoch): how many times a coordinator loaded it.
  if (auto le = cluster_->leader_and_epoch_of("__transaction_state", txn_partition_))
    counts_["txn_coordinator_epoch"] = le->second;
  return out;
}

}  // namespace

}  // namespace samsa::scenarios::kafka

namespace samsa::scenarios {

WorkloadType eos_workload() {
  WorkloadType t;
  t.name = "eos";
  t.description =
      "exactly-once consume-transform-produce: a feeder writes the input topic, transformers copy it to the "
      "output topic in transactions with their consumed offsets, a reader reads the output back";
  t.options = {{"records", 200},
               {"rate_per_s", 40.0},
               {"transformers", 2},
               {"reader_isolation", "read_committed"},
               {"abort_chance", 0.0},
               {"stop_before_end_ms", 8000},
               {"read_before_end_ms", 6000}};
  t.config = kafka::eos_config_defaults();
  t.components = {{"broker", kafka::k_eos_broker_keys},
                  {"producer", kafka::k_eos_producer_keys},
                  {"consumer", kafka::k_eos_consumer_keys}};
  // Only the legacy switches permit anything here: what a transactional
  // consume-transform-produce may show otherwise the checkers decide alone.
  t.expectation_config = [](const ScenarioSpec& spec) {
    nlohmann::json c = nlohmann::json::object();
    const nlohmann::json flat = kafka::flat_config(spec);
    for (const auto& [k, v] : flat.items())
      if (k.starts_with("samsa.legacy.")) c[k] = v;
    return c;
  };
  t.groups = {"brokers", "coordinator", "feeder", "transformers", "clients",
              "leader", "group-coordinator", "txn-coordinator"};
  t.shrinkable = {"records"};
  t.make = [] { return std::make_unique<kafka::Eos>(); };
  t.validate = [](const ScenarioSpec& spec) { return kafka::Eos().configure(spec); };
  return t;
}

}  // namespace samsa::scenarios
