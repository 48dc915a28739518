#include "scenarios/kafka/client_driver.h"

#include <fmt/format.h>

#include <memory>
#include <optional>

#include "invariants/snapshot.h"
#include "scenarios/broker/driver.h"
#include "scenarios/kafka/client_json.h"
#include "scenarios/kafka/pacing.h"
#include "scenarios/kafka/workload.h"
#include "system/client/producer.h"

namespace samsa::scenarios::kafka {

namespace {

using namespace std::chrono_literals;
using invariants::Process;
using invariants::Value;
using invariants::ValueWriter;
using nlohmann::json;
using sim::Duration;
using sim::Runtime;

const char* const k_zookeeper_only[] = {"rebalance.backoff.ms", "rebalance.max.retries", "zookeeper.session.timeout.ms"};
// The ZooKeeper consumer's integer keys (its config is plain fields, not a parser).
const char* const k_zookeeper_ints[] = {"zookeeper.session.timeout.ms", "rebalance.max.retries",
                                        "rebalance.backoff.ms", "fetch.max.wait.ms"};

bool is_int(const std::string& v) {
  try {
    std::size_t used = 0;
    (void)std::stoi(v, &used);
    return used == v.size();
  } catch (const std::exception&) {
    return false;
  }
}

// The poll values recorded most often, written once.
const Value& empty_object() {
  static const Value v = json::object();
  return v;
}
const Value& no_records() {
  static const Value v = json{{"records", json::array()}};
  return v;
}

json records_json(const std::vector<client::ConsumerRecord>& records) {
  json polled = json::array();
  for (const auto& r : records) polled.push_back(record_json(r));
  return polled;
}

}  // namespace

std::map<std::string, std::string> ClientOptions::classic_props(const std::string& client_id) const {
  auto p = consumer_props;
  for (const char* zk_only : k_zookeeper_only) p.erase(zk_only);
  p["client.id"] = client_id;
  return p;
}

Result<ClientOptions, ConfigMistake> read_client_options(const ScenarioSpec& spec) {
  const json& o = spec.workload_options;
  auto mistake = [](std::string key, std::string message) { return Err(ConfigMistake{std::move(key), std::move(message)}); };
  ClientOptions c;
  c.producers = static_cast<int>(o.at("producers").get<std::int64_t>());
  c.records = o.at("records").get<std::int64_t>();
  c.rate_per_s = o.at("rate_per_s").get<double>();
  c.keys = static_cast<int>(o.at("keys").get<std::int64_t>());
  c.sync = o.at("sync").get<bool>();
  c.consumers = static_cast<int>(o.at("consumers").get<std::int64_t>());
  c.process_ms = o.at("process_ms").get<std::int64_t>();
  c.workers = static_cast<int>(o.at("workers").get<std::int64_t>());
  const std::string dispatch = o.at("dispatch").get<std::string>();
  if (dispatch != "round-robin" && dispatch != "key-hash")
    return mistake("workload.dispatch", "must be round-robin or key-hash, not " + dispatch);
  c.by_key = dispatch == "key-hash";
  if (c.workers < 0) return mistake("workload.workers", "must be 0 or more");
  const std::string protocol = o.at("group_protocol").get<std::string>();
  const std::string delivery = o.at("delivery").get<std::string>();
  if (protocol != "classic" && protocol != "zookeeper")
    return mistake("workload.group_protocol", "must be classic or zookeeper, not " + protocol);
  if (delivery != "process-before-commit" && delivery != "commit-before-process")
    return mistake("workload.delivery", "must be process-before-commit or commit-before-process, not " + delivery);
  if (c.rate_per_s <= 0) return mistake("workload.rate_per_s", "must be above 0");
  c.zookeeper = protocol == "zookeeper";
  c.commit_first = delivery == "commit-before-process";
  for (const auto& t : spec.topics) c.topics.push_back(t.name);
  c.producer_props = properties(spec.config, producer_config_keys(), "producer");
  c.consumer_props = properties(spec.config, consumer_config_keys(), "consumer");
  c.group = c.consumer_props.count("group.id") ? c.consumer_props.at("group.id") : "g";
  if (c.zookeeper && c.consumers > 0)
    for (const char* key : k_zookeeper_ints)
      if (c.consumer_props.count(key) && !is_int(c.consumer_props.at(key)))
        return mistake(key, fmt::format("consumer config: {} must be an integer, not '{}'", key, c.consumer_props.at(key)));
  return c;
}

std::optional<std::map<std::int64_t, std::string>> read_to_high_watermark(broker::RawClient& c,
                                                                          const sim::Address& leader,
                                                                          const std::string& topic, int partition,
                                                                          const std::function<bool()>& more) {
  std::map<std::int64_t, std::string> got;
  protocol::Offset next(0);
  while (more()) {
    auto f = broker::fetch(c, leader, topic, partition, next, 0);
    if (!f || f->error != protocol::ErrorCode::none) break;
    got.insert(f->values.begin(), f->values.end());
    if (f->next_offset >= f->high_watermark) return got;
    if (f->next_offset == next) break;
    next = f->next_offset;
  }
  return std::nullopt;
}

void record_read_back(Process& reader, const std::string& topic, int partition,
                      const std::map<std::int64_t, std::string>* log) {
  if (!log) {
    reader.fail("poll", {{"records", json::array()}});
    return;
  }
  ValueWriter w;  // {"records": [{offset, partition, topic, value}...]}, in nlohmann's key order
  w.object().key("records").array();
  for (const auto& [offset, value] : *log)
    w.object().key("offset").value(offset).key("partition").value(partition).key("topic").value(topic).key("value").value(value).end();
  w.end().end();
  reader.ok("poll", w.take());
}

struct ClientDriver::Member {
  // A consumer incarnation records on two processes: `p` polls (a poll ends
  // once its record is processed: what the application consumed) and
  // assignments; `q` commits, which in commit-before-process fall inside a
  // poll.
  Process p, q;
  explicit Member(invariants::History& h) : p(h), q(h) {}
};

ClientDriver::ClientDriver(ClientOptions options, invariants::History& history, DriverEnv env)
    : o_(std::move(options)), history_(history), env_(std::move(env)) {
  o_.producer_props["bootstrap.servers"] = env_.bootstrap_servers;
  o_.consumer_props["bootstrap.servers"] = env_.bootstrap_servers;
}

// --- producers -------------------------------------------------------------------------
void ClientDriver::run_producer(Runtime& rt, int index) {
  auto props = o_.producer_props;
  props["client.id"] = fmt::format("p{}", index);
  auto made = client::Producer::create(rt, props);
  SAMSA_ASSERT(made.ok(), "producer keys were validated before the run");
  client::Producer& producer = *made.value();
  stats_.acks0 = producer.config().acks == 0;
  sim::Random rng = rt.random(env_.shared_runtime ? fmt::format("producer-{}", index) : std::string("producer"));
  std::int64_t& next = next_seq_[index];
  const auto mean = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(1.0 / o_.rate_per_s));
  std::optional<Pacer> pacer;
  if (env_.deadline_pacing) pacer.emplace(rt.now());
  while (env_.producing(rt) && (o_.records == 0 || next < o_.records)) {
    const std::int64_t seq = next++;
    const std::string& topic = o_.topics[static_cast<std::size_t>(seq) % o_.topics.size()];
    SendFields f{topic, std::nullopt, fmt::format("p{}-{}", index, seq), index, seq};
    if (o_.keys > 0) f.key = fmt::format("k{}", seq % o_.keys);
    // One history process per send: sends overlap (max.in.flight), a
    // process has one pending operation. "producer" and "seq" order them.
    auto p = std::make_shared<Process>(history_);
    p->invoke("send", send_value(f, nullptr));
    ++stats_.sends;
    client::ProducerRecord record{topic, std::nullopt, f.key, f.value, std::nullopt};  // before f moves
    auto future = producer.send(std::move(record),
                                [this, p, f = std::move(f)](const client::SendOutcome& o) { on_sent(*p, f, o); });
    if (o_.sync) (void)future.get();
    const Duration gap = rng.uniform(mean / 5, mean * 9 / 5);
    if (pacer) rt.sleep_until(pacer->next(gap, rt.now()));
    else rt.sleep(gap);
  }
  producer.close();
  const auto& s = producer.stats();
  stats_.produce_requests += s.produce_requests;
  stats_.batches_retried += s.batches_retried;
  stats_.epoch_bumps += s.epoch_bumps;
  ++stats_.producers_done;
  if (!env_.healed()) ++stats_.producers_done_before_heal;
}

// {[error,] [key,] [offset,] [partition,] producer, seq, topic, value}: the
// keys in nlohmann's sorted order, as the json this replaced dumped them.
// `o` null: the invoke's; else the completion's (its partition, and the
// offset of an ok or the error of a fail/info).
Value ClientDriver::send_value(const SendFields& f, const client::SendOutcome* o) {
  ValueWriter w;
  w.object();
  const bool ok = o && o->kind == client::OutcomeKind::ok;
  if (o && !ok) w.key("error").value(o->message);
  if (f.key) w.key("key").value(*f.key);
  if (ok && o->offset >= 0) w.key("offset").value(o->offset);  // none: written, where unknown
  if (o && o->partition >= 0) w.key("partition").value(o->partition);
  w.key("producer").value(f.producer).key("seq").value(f.seq).key("topic").value(f.topic).key("value").value(f.value);
  w.end();
  return w.take();
}

void ClientDriver::on_sent(Process& p, const SendFields& f, const client::SendOutcome& o) {
  env_.observe();
  const bool after_heal = env_.healed();
  switch (o.kind) {
    case client::OutcomeKind::ok:
      if (env_.track_acked) acked_.insert(f.value);
      ++stats_.ok;
      p.ok("send", send_value(f, &o));
      if (after_heal) ++stats_.completed_after_heal;
      break;
    case client::OutcomeKind::fail:
      ++stats_.fail;
      p.fail("send", send_value(f, &o));
      break;
    case client::OutcomeKind::info:
      ++stats_.info;
      p.info("send", send_value(f, &o));
      if (after_heal && stats_.acks0) ++stats_.completed_after_heal;
      break;
  }
}

// --- consumers -------------------------------------------------------------------------
// An assignment reported inside a poll splits it: the poll so far returned
// nothing, then the assign, then the rest of the poll.
void ClientDriver::on_assigned(Member& m, const client::AssignOutcome& a, bool record_generation) {
  if (record_generation) assignments_[a.generation][m.p.id()] = a.partitions;
  const bool polling = m.p.pending();
  if (polling) m.p.ok("poll", Value(no_records()));
  m.p.invoke("assign", {{"group", o_.group}});
  m.p.ok("assign", {{"group", o_.group}, {"generation", a.generation}, {"partitions", partitions_json(a.partitions)}});
  if (polling) m.p.invoke("poll", Value(empty_object()));
}

// {group, offsets: [{offset, partition, topic}...]}, as offsets_json in nlohmann's key order.
Value ClientDriver::commit_value(const client::CommitOutcome& o) const {
  ValueWriter w;
  w.object().key("group").value(o_.group).key("offsets").array();
  for (const auto& [tp, offset] : o.offsets)
    w.object().key("offset").value(offset).key("partition").value(tp.partition.value()).key("topic").value(tp.topic).end();
  w.end().end();
  return w.take();
}

// {group}: a commit's invoke.
Value ClientDriver::group_value() const {
  ValueWriter w;
  w.object().key("group").value(o_.group).end();
  return w.take();
}

bool ClientDriver::record_commit(Process& p, const client::CommitOutcome& o) {
  // A commit whose answer was lost may have been written: info.
  if (o.ok) {
    p.ok("commit", commit_value(o));
  } else {
    ++stats_.commit_failures;
    if (o.error == protocol::ErrorCode::request_timed_out) p.info("commit", commit_value(o));
    else p.fail("commit", commit_value(o));
  }
  return o.ok;
}

void ClientDriver::processed(const client::ConsumerRecord& r) {
  ++processed_[r.value.value_or("")];
  if (env_.healed()) ++stats_.processed_after_heal;
}

// Processes the polled records one by one; each processed record ends a
// poll op of its own (the open one, then a new one per record), so a crash
// mid-batch leaves what was processed consumed and the rest unknown.
void ClientDriver::process_all(Runtime& rt, Member& m, const std::vector<client::ConsumerRecord>& records) {
  if (o_.workers > 0) return process_on_workers(rt, m, records);
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i > 0) m.p.invoke("poll", Value(empty_object()));
    rt.sleep(std::chrono::milliseconds(o_.process_ms));  // the application's work on the record
    processed(records[i]);
    m.p.ok("poll", one_record_poll(records[i]));
  }
}

// The seed's §2.4: the application hands a poll's records to `workers`
// threads (fibers here), round robin or by key hash, each taking its own
// time per record, and waits for them all before the next poll (and the
// commit). Each worker records its records as polls of its own process, in
// the order it finished them: round robin reorders one key's records
// across workers (per-key-order); by key hash one key stays on one worker.
void ClientDriver::process_on_workers(Runtime& rt, Member& m, const std::vector<client::ConsumerRecord>& records) {
  m.p.ok("poll", Value(no_records()));  // handed over, not processed yet
  sim::Random rng = rt.random("workers");
  std::vector<std::vector<std::pair<const client::ConsumerRecord*, Duration>>> queues(
      static_cast<std::size_t>(o_.workers));
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    const std::size_t w = o_.by_key ? static_cast<std::size_t>(invariants::record_hash(r.key.value_or("")) % queues.size())
                                    : i % queues.size();
    // Work varies per record (0.5 to 1.5 times process_ms): workers overtake each other.
    const auto work = std::chrono::milliseconds(
        o_.process_ms / 2 + static_cast<std::int64_t>(rng.uniform(0, static_cast<std::uint64_t>(o_.process_ms))));
    queues[w].push_back({&r, work});
  }
  std::size_t running = 0;
  sim::Event done(rt.parker());
  auto scope = rt.make_scope("workers");
  for (std::size_t w = 0; w < queues.size(); ++w) {
    if (queues[w].empty()) continue;
    ++running;
    scope->spawn(fmt::format("worker{}", w), [&, w] {
      Process worker(history_);
      for (const auto& [r, work] : queues[w]) {
        worker.invoke("poll", Value(empty_object()));
        rt.sleep(work);
        processed(*r);
        worker.ok("poll", one_record_poll(*r));
      }
      if (--running == 0) done.set();
    });
  }
  if (running > 0) done.wait(std::nullopt, "kafka.workers");
}

// One round: poll, then commit and process in the delivery mode's order.
// `commit` returns whether the commit was ok.
template <class Poll, class Commit>
void ClientDriver::consume_round(Runtime& rt, Member& m, Poll poll, Commit commit) {
  m.p.invoke("poll", Value(empty_object()));
  const auto records = poll();
  env_.observe();
  if (records.empty()) {
    m.p.ok("poll", Value(no_records()));
    return;
  }
  if (o_.commit_first) {
    if (!commit()) {
      stats_.skipped += records.size();  // not committed: not processed (at most once)
      m.p.fail("poll", {{"records", json::array()}, {"skipped", records_json(records)}});
      return;
    }
    process_all(rt, m, records);
  } else {
    process_all(rt, m, records);
    (void)commit();
  }
}

void ClientDriver::run_consumer(Runtime& rt, const std::string& client_id) {
  if (o_.zookeeper) run_zookeeper_consumer(rt, client_id);
  else run_classic_consumer(rt, client_id);
}

void ClientDriver::run_classic_consumer(Runtime& rt, const std::string& client_id) {
  auto config = client::make_consumer_config(o_.classic_props(client_id));
  SAMSA_ASSERT(config.ok(), "consumer keys were validated before the run");
  Member m(history_);
  ++stats_.consumer_incarnations;
  bool in_sync_commit = false;
  client::Consumer c(rt, *config);
  c.on_assign = [&](const client::AssignOutcome& a) { on_assigned(m, a, true); };
  c.on_commit = [&](const client::CommitOutcome& o) {
    if (in_sync_commit || m.q.pending()) return;  // recorded by the caller / busy
    m.q.invoke("commit", group_value());
    record_commit(m.q, o);
  };
  c.subscribe(o_.topics);
  while (env_.consuming(rt))
    consume_round(
        rt, m, [&] { return c.poll(500ms); },
        [&] {
          m.q.invoke("commit", group_value());
          in_sync_commit = true;
          const auto o = c.commit_sync();
          in_sync_commit = false;
          return record_commit(m.q, o);
        });
  c.close();
}

// Kafka 0.8's high-level consumer against the coordinator: ownership is
// ephemeral znodes (no generations: assignment-overlap does not apply);
// commits write the offsets znodes and have no outcome.
void ClientDriver::run_zookeeper_consumer(Runtime& rt, const std::string& client_id) {
  const auto& props = o_.consumer_props;
  client::ZookeeperConsumerConfig zc;
  zc.zookeeper_connect = env_.zookeeper;
  zc.bootstrap_servers = env_.brokers;
  zc.group_id = o_.group;
  zc.consumer_id = client_id;
  zc.topics = o_.topics;
  zc.auto_commit_enable = false;
  zc.auto_offset_reset =
      props.count("auto.offset.reset") && props.at("auto.offset.reset") == "latest" ? "largest" : "smallest";
  auto number = [&props](const char* key, std::int32_t& field) {
    if (props.count(key)) field = std::stoi(props.at(key));  // an integer: read_client_options checked
  };
  number("zookeeper.session.timeout.ms", zc.zookeeper_session_timeout_ms);
  number("rebalance.max.retries", zc.rebalance_max_retries);
  number("rebalance.backoff.ms", zc.rebalance_backoff_ms);
  number("fetch.max.wait.ms", zc.fetch_wait_max_ms);
  if (props.count("partition.assignment.strategy"))
    zc.partition_assignment_strategy = props.at("partition.assignment.strategy");
  Member m(history_);
  const std::int64_t incarnation = ++stats_.consumer_incarnations;
  client::ZookeeperConsumer c(rt, zc);
  c.on_assign = [&](const client::AssignOutcome& a) { on_assigned(m, a, false); };
  while (env_.consuming(rt)) {
    consume_round(
        rt, m,
        [&] {
          auto records = c.poll(500ms);
          zk_stats_[incarnation] = c.stats();
          return records;
        },
        [&] {
          m.q.invoke("commit", group_value());
          c.commit();  // writes the positions to the offsets znodes; no outcome
          m.q.ok("commit", group_value());
          return true;
        });
  }
  c.close();
  zk_stats_[incarnation] = c.stats();
}

// --- what the run reports --------------------------------------------------------------
client::ZookeeperConsumerStats ClientDriver::zookeeper_stats() const {
  client::ZookeeperConsumerStats t;
  for (const auto& [i, s] : zk_stats_) {
    t.rebalances += s.rebalances;
    t.attempts += s.attempts;
    t.claim_conflicts += s.claim_conflicts;
    t.rebalance_failures += s.rebalance_failures;
    t.registrations += s.registrations;
    t.offset_commits += s.offset_commits;
  }
  return t;
}

std::size_t ClientDriver::acked_processed() const {
  std::size_t n = 0;
  for (const auto& v : acked_) n += processed_.count(v);
  return n;
}

json ClientDriver::details() const {
  json d = json::object();
  d["sends"] = stats_.sends;
  d["completed_after_heal"] = stats_.completed_after_heal;
  d["produce_requests"] = stats_.produce_requests;
  d["batches_retried"] = stats_.batches_retried;
  d["epoch_bumps"] = stats_.epoch_bumps;
  if (o_.producer_props.count("acks")) d["acks"] = o_.producer_props.at("acks");
  if (o_.consumers == 0) return d;
  d["delivery"] = o_.commit_first ? "commit-before-process" : "process-before-commit";
  d["group_protocol"] = o_.zookeeper ? "zookeeper" : "classic";
  d["processed"] = processed_.size();
  d["processed_after_heal"] = stats_.processed_after_heal;
  d["consumer_incarnations"] = stats_.consumer_incarnations;
  d["generations"] = assignments_.size();
  d["commit_failures"] = stats_.commit_failures;
  d["skipped"] = stats_.skipped;
  if (o_.zookeeper) {
    const auto t = zookeeper_stats();
    d["zk_rebalances"] = t.rebalances;
    d["zk_rebalance_attempts"] = t.attempts;
    d["zk_claim_conflicts"] = t.claim_conflicts;
    d["zk_rebalance_failures"] = t.rebalance_failures;
    d["zk_registrations"] = t.registrations;
  }
  return d;
}

}  // namespace samsa::scenarios::kafka
