// `samsa live workload`: the kafka scenario workload's clients (system/client's
// Producer and Consumer, as scenarios/kafka/workload.cpp drives them in the
// simulation) on the live runtime against a real cluster, recording the same
// history (send / poll / commit / assign) to a JSON-lines file that
// `samsa check` judges.
//
// What differs from the simulated workload: the cluster is not ours (its
// broker keys are whatever it was started with: only the scenario's producer
// and consumer keys are used), so there is no final-state snapshot of the
// replicas; without consumers the final read-back of every partition (to its
// high watermark) is the history's consumption, as Jepsen's final reads.
// The run ends after --duration-ms, after `records` per producer, or at
// SIGTERM/SIGINT (a second one stops at once); producers then wait for
// every outcome, consumers go on until they processed every acknowledged
// record (or --drain-ms passed), and the partitions are read back.
#include "tools/live_workload.h"
#include "scenarios/kafka/client_json.h"

#include <fmt/format.h>

#include <asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "invariants/history.h"
#include "invariants/snapshot.h"
#include "scenarios/broker/driver.h"
#include "scenarios/kafka/workload.h"
#include "scenarios/spec.h"
#include "sim/live/live_world.h"
#include "system/client/consumer.h"
#include "system/client/consumer_zookeeper.h"
#include "system/client/producer.h"
#include "tools/pacing.h"

namespace samsa::tools {

namespace {

using namespace std::chrono_literals;
using invariants::Process;
using nlohmann::json;
using scenarios::kafka::offsets_json;
using scenarios::kafka::partitions_json;
using scenarios::kafka::properties;
using scenarios::kafka::record_json;
using sim::Duration;
using sim::Runtime;

struct WorkloadArgs {
  std::string bootstrap;
  std::string zookeeper;  // HOST:PORT of the coordinator (group_protocol = "zookeeper")
  std::string scenario;
  std::string history;
  std::vector<std::string> sets;
  std::int64_t duration_ms = 0;  // 0: the scenario's fault phase + heal
  std::int64_t drain_ms = 20000;
  std::int64_t read_timeout_ms = 60000;
  std::optional<std::uint64_t> seed;
  std::string log_level = "warn";
};

using Tp = std::pair<std::string, int>;

Result<std::vector<sim::Address>, std::string> parse_bootstrap(const std::string& list) {
  std::vector<sim::Address> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0) return Err{"--bootstrap: expected HOST:PORT, got '" + item + "'"};
    int port = 0;
    try {
      port = std::stoi(item.substr(colon + 1));
    } catch (const std::exception&) {
      port = 0;
    }
    if (port <= 0 || port > 65535) return Err{"--bootstrap: bad port in '" + item + "'"};
    out.push_back({item.substr(0, colon), static_cast<std::uint16_t>(port)});
  }
  if (out.empty()) return Err{std::string("--bootstrap: no address")};
  return out;
}

class LiveWorkload {
 public:
  LiveWorkload(sim::LiveWorld& world, invariants::History& history, const scenarios::ScenarioSpec& spec,
               const WorkloadArgs& args, std::vector<sim::Address> bootstrap)
      : world_(world), history_(history), spec_(spec), args_(args), bootstrap_(std::move(bootstrap)) {
    const json& o = spec.workload_options;
    producers_ = static_cast<int>(o.at("producers").get<std::int64_t>());
    records_ = o.at("records").get<std::int64_t>();
    rate_per_s_ = o.at("rate_per_s").get<double>();
    keys_ = static_cast<int>(o.at("keys").get<std::int64_t>());
    sync_ = o.at("sync").get<bool>();
    consumers_ = static_cast<int>(o.at("consumers").get<std::int64_t>());
    process_ms_ = o.at("process_ms").get<std::int64_t>();
    workers_ = static_cast<int>(o.at("workers").get<std::int64_t>());
    by_key_ = o.at("dispatch").get<std::string>() == "key-hash";
    commit_first_ = o.at("delivery").get<std::string>() == "commit-before-process";
    for (const auto& t : spec.topics) {
      topics_.push_back(t.name);
      for (int p = 0; p < t.partitions; ++p) partitions_.push_back({t.name, p});
    }
    producer_props_ = properties(spec.config, scenarios::kafka::producer_config_keys(), "producer");
    consumer_props_ = properties(spec.config, scenarios::kafka::consumer_config_keys(), "consumer");
    zk_props_ = consumer_props_;
    for (const char* zk_only : {"rebalance.backoff.ms", "rebalance.max.retries", "zookeeper.session.timeout.ms"})
      consumer_props_.erase(zk_only);
    zookeeper_ = o.at("group_protocol").get<std::string>() == "zookeeper";
    if (!args.zookeeper.empty())
      if (auto z = parse_bootstrap(args.zookeeper)) zookeeper_address_ = std::move(*z);
    group_ = consumer_props_.count("group.id") ? consumer_props_.at("group.id") : "g";
    producer_props_["bootstrap.servers"] = args.bootstrap;
    consumer_props_["bootstrap.servers"] = args.bootstrap;
    duration_ = std::chrono::milliseconds(args.duration_ms > 0 ? args.duration_ms
                                                               : spec.fault_phase_ms + spec.heal_ms);
  }

  // Checks the client keys before anything connects; an error names the key.
  std::optional<std::string> validate() const {
    if (spec_.workload != "kafka") return "the live workload runs kafka scenarios, not " + spec_.workload;
    if (const auto g = spec_.workload_options.at("group_protocol").get<std::string>(); g != "classic" && g != "zookeeper")
      return "workload.group_protocol must be classic or zookeeper, not " + g;
    if (!args_.zookeeper.empty() && zookeeper_address_.empty())
      return "--zookeeper: expected HOST:PORT, got '" + args_.zookeeper + "'";
    if (zookeeper_ && consumers_ > 0 && args_.zookeeper.empty())
      return std::string("group_protocol = \"zookeeper\" needs --zookeeper HOST:PORT (the coordinator)");
    if (workers_ < 0) return std::string("workload.workers must be 0 or more");
    if (const auto d = spec_.workload_options.at("dispatch").get<std::string>(); d != "round-robin" && d != "key-hash")
      return "workload.dispatch must be round-robin or key-hash, not " + d;
    if (topics_.empty()) return std::string("the scenario has no [[topics]]");
    if (rate_per_s_ <= 0) return std::string("workload.rate_per_s must be above 0");
    if (producers_ > 0)
      if (auto r = client::parse_producer_config(producer_props_); !r) return "producer config: " + r.error().message;
    if (consumers_ > 0) {
      auto p = consumer_props_;
      p["client.id"] = "c1";
      if (auto r = client::make_consumer_config(p); !r) return "consumer config: " + r.error();
      if (zookeeper_)
        for (const char* key : {"zookeeper.session.timeout.ms", "rebalance.max.retries", "rebalance.backoff.ms",
                                "fetch.max.wait.ms"})
          if (zk_props_.count(key) && !is_int(zk_props_.at(key)))
            return fmt::format("consumer config: {} must be an integer, not '{}'", key, zk_props_.at(key));
    }
    return std::nullopt;
  }

  void start() {
    world_.spawn("driver", [this] { drive(); });
  }

  void stop_soon() {
    if (!stopping_) std::cout << "workload: stopping (signal)" << std::endl;
    stopping_ = true;
  }
  int exit_code() const { return exit_code_; }

 private:
  Runtime& rt() { return world_.control(); }
  sim::MonoTime now() { return rt().now(); }
  bool producing() { return !stopping_ && now() < end_; }

  void drive() {
    if (!create_topics()) {
      std::cerr << "samsa live workload: the topics could not be created\n";
      exit_code_ = 1;
      world_.request_stop();
      return;
    }
    start_ = now();
    end_ = start_ + duration_;
    std::cout << fmt::format("workload: started ({} producers, {} consumers, {} partitions, {} ms)", producers_,
                             consumers_, partitions_.size(), duration_ / 1ms)
              << std::endl;
    auto scope = rt().make_scope("clients");
    for (int i = 1; i <= producers_; ++i) {
      ++running_;
      scope->spawn(fmt::format("p{}", i), [this, i] {
        run_producer(i);
        --running_;
      });
    }
    for (int i = 1; i <= consumers_; ++i) {
      ++running_;
      scope->spawn(fmt::format("c{}", i), [this, i] {
        run_consumer(i);
        --running_;
      });
    }
    while (running_ > 0) rt().sleep(50ms);
    scope->stop();
    bool read = true;
    if (consumers_ == 0) read = read_back();
    print_summary(read);
    exit_code_ = read ? 0 : 1;
    world_.request_stop();
  }

  // CreateTopics (v4) to whichever broker is the controller; an existing
  // topic is fine (a second run against the same cluster).
  bool create_topics() {
    scenarios::broker::RawClient c(rt(), "samsa-live-workload");
    const auto deadline = now() + std::chrono::milliseconds(args_.read_timeout_ms);
    std::set<std::string> done;
    while (now() < deadline && !stopping_) {
      std::map<protocol::BrokerId, sim::Address> brokers;
      for (const auto& b : bootstrap_) {
        (void)scenarios::broker::find_leader(c, b, topics_.front(), 0, &brokers);
        if (!brokers.empty()) break;
      }
      std::vector<sim::Address> targets = bootstrap_;
      for (const auto& [id, a] : brokers) targets.push_back(a);
      for (const auto& to : targets) {
        protocol::CreateTopicsRequest req;
        for (const auto& t : spec_.topics) {
          if (done.count(t.name)) continue;
          protocol::CreateTopicsRequest::CreatableTopic ct;
          ct.name = t.name;
          ct.num_partitions = static_cast<std::int32_t>(t.partitions);
          ct.replication_factor = static_cast<std::int16_t>(t.replication_factor);
          req.topics.push_back(std::move(ct));
        }
        if (req.topics.empty()) break;
        req.timeout_ms = 10000;
        auto resp = c.call<protocol::CreateTopicsResponse>(to, req, 4, 15s);
        if (!resp) continue;
        for (const auto& r : resp->topics)
          if (r.error_code == protocol::ErrorCode::none || r.error_code == protocol::ErrorCode::topic_already_exists)
            done.insert(r.name);
      }
      if (done.size() == spec_.topics.size() && leaders_known(c)) return true;
      rt().sleep(300ms);
    }
    return false;
  }

  bool leaders_known(scenarios::broker::RawClient& c) {
    for (const auto& tp : partitions_)
      if (!leader_address(c, tp)) return false;
    return true;
  }

  std::optional<sim::Address> leader_address(scenarios::broker::RawClient& c, const Tp& tp) {
    for (const auto& b : bootstrap_) {
      std::map<protocol::BrokerId, sim::Address> brokers;
      auto leader = scenarios::broker::find_leader(c, b, tp.first, tp.second, &brokers);
      if (leader && brokers.count(*leader)) return brokers.at(*leader);
    }
    return std::nullopt;
  }

  // --- producers: as scenarios/kafka/workload.cpp's run_producer ------------------------
  void run_producer(int index) {
    auto props = producer_props_;
    props["client.id"] = fmt::format("p{}", index);
    auto made = client::Producer::create(rt(), props);
    SAMSA_ASSERT(made.ok(), "producer keys were validated before the run");
    client::Producer& producer = *made.value();
    sim::Random rng = rt().random(fmt::format("producer-{}", index));
    const auto mean = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(1.0 / rate_per_s_));
    Pacer pacer(rt().now());  // absolute deadlines: real sleeps overshoot (tools/pacing.h)
    std::int64_t seq = 0;
    while (producing() && (records_ == 0 || seq < records_)) {
      const std::string& topic = topics_[static_cast<std::size_t>(seq) % topics_.size()];
      std::optional<std::string> key;
      if (keys_ > 0) key = fmt::format("k{}", seq % keys_);
      json v = {{"topic", topic}, {"value", fmt::format("p{}-{}", index, seq)}, {"producer", index}, {"seq", seq}};
      if (key) v["key"] = *key;
      ++seq;
      auto p = std::make_shared<Process>(history_);
      p->invoke("send", v);
      ++sends_;
      auto future = producer.send({topic, std::nullopt, key, v["value"].get<std::string>(), std::nullopt},
                                  [this, p, v](const client::SendOutcome& o) mutable { on_sent(*p, std::move(v), o); });
      if (sync_) (void)future.get();
      rt().sleep_until(pacer.next(rng.uniform(mean / 5, mean * 9 / 5), rt().now()));
    }
    producer.close();
    ++producers_done_;
  }

  void on_sent(Process& p, json v, const client::SendOutcome& o) {
    if (o.partition >= 0) v["partition"] = o.partition;
    switch (o.kind) {
      case client::OutcomeKind::ok:
        if (o.offset >= 0) v["offset"] = o.offset;
        acked_.insert(v["value"].get<std::string>());
        ++ok_;
        p.ok("send", v);
        break;
      case client::OutcomeKind::fail:
        v["error"] = o.message;
        ++fail_;
        p.fail("send", v);
        break;
      case client::OutcomeKind::info:
        v["error"] = o.message;
        ++info_;
        p.info("send", v);
        break;
    }
  }

  // --- consumers: as scenarios/kafka/workload.cpp's run_consumer -------------------------
  struct Member {
    Process p, q;
    explicit Member(invariants::History& h) : p(h), q(h) {}
  };

  void on_assigned(Member& m, const client::AssignOutcome& a) {
    const bool polling = m.p.pending();
    if (polling) m.p.ok("poll", {{"records", json::array()}});
    m.p.invoke("assign", {{"group", group_}});
    m.p.ok("assign", {{"group", group_}, {"generation", a.generation}, {"partitions", partitions_json(a.partitions)}});
    if (polling) m.p.invoke("poll", json::object());
  }

  bool record_commit(Process& p, const client::CommitOutcome& o) {
    const json v = {{"group", group_}, {"offsets", offsets_json(o.offsets)}};
    if (o.ok) p.ok("commit", v);
    else if (o.error == protocol::ErrorCode::request_timed_out) p.info("commit", v);
    else p.fail("commit", v);
    return o.ok;
  }

  void process_all(Member& m, const std::vector<client::ConsumerRecord>& records) {
    if (workers_ > 0) return process_on_workers(m, records);
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (i > 0) m.p.invoke("poll", json::object());
      rt().sleep(std::chrono::milliseconds(process_ms_));
      processed_.insert(records[i].value.value_or(""));
      m.p.ok("poll", {{"records", json::array({record_json(records[i])})}});
    }
  }

  // The seed's §2.4, as scenarios/kafka/workload.cpp's process_on_workers:
  // the poll's records go to `workers` fibers (round robin or by key hash),
  // each taking 0.5-1.5 times process_ms per record, each recording its
  // records as polls of its own process in the order it finished them; the
  // next poll (and the commit) waits for all of them.
  void process_on_workers(Member& m, const std::vector<client::ConsumerRecord>& records) {
    m.p.ok("poll", {{"records", json::array()}});  // handed over, not processed yet
    sim::Random rng = rt().random("workers");
    std::vector<std::vector<std::pair<const client::ConsumerRecord*, std::chrono::milliseconds>>> queues(
        static_cast<std::size_t>(workers_));
    for (std::size_t i = 0; i < records.size(); ++i) {
      const auto& r = records[i];
      const std::size_t w = by_key_ ? static_cast<std::size_t>(invariants::record_hash(r.key.value_or("")) % queues.size())
                                    : i % queues.size();
      const auto work = std::chrono::milliseconds(
          process_ms_ / 2 + static_cast<std::int64_t>(rng.uniform(0, static_cast<std::uint64_t>(process_ms_))));
      queues[w].push_back({&r, work});
    }
    std::size_t running = 0;
    sim::Event done(rt().parker());
    auto scope = rt().make_scope("workers");
    for (std::size_t w = 0; w < queues.size(); ++w) {
      if (queues[w].empty()) continue;
      ++running;
      scope->spawn(fmt::format("worker{}", w), [&, w] {
        Process worker(history_);
        for (const auto& [r, work] : queues[w]) {
          worker.invoke("poll", json::object());
          rt().sleep(work);
          processed_.insert(r->value.value_or(""));
          worker.ok("poll", {{"records", json::array({record_json(*r)})}});
        }
        if (--running == 0) done.set();
      });
    }
    if (running > 0) done.wait(std::nullopt, "kafka.workers");
  }

  // Consumers go on after the producers ended until every acknowledged
  // record was processed, or --drain-ms passed.
  bool consuming() {
    if (producing() || producers_done_ < producers_) return true;
    if (!drain_end_) drain_end_ = now() + std::chrono::milliseconds(args_.drain_ms);
    if (now() >= *drain_end_) return false;
    for (const auto& v : acked_)
      if (!processed_.count(v)) return true;
    return false;
  }

  void run_consumer(int index) {
    if (zookeeper_) return run_zookeeper_consumer(index);
    auto props = consumer_props_;
    props["client.id"] = fmt::format("c{}", index);
    auto config = client::make_consumer_config(props);
    SAMSA_ASSERT(config.ok(), "consumer keys were validated before the run");
    Member m(history_);
    bool in_sync_commit = false;
    client::Consumer c(rt(), *config);
    c.on_assign = [&](const client::AssignOutcome& a) { on_assigned(m, a); };
    c.on_commit = [&](const client::CommitOutcome& o) {
      if (in_sync_commit || m.q.pending()) return;
      m.q.invoke("commit", {{"group", group_}});
      record_commit(m.q, o);
    };
    c.subscribe(topics_);
    auto commit = [&] {
      m.q.invoke("commit", {{"group", group_}});
      in_sync_commit = true;
      const auto o = c.commit_sync();
      in_sync_commit = false;
      return record_commit(m.q, o);
    };
    while (consuming()) {
      m.p.invoke("poll", json::object());
      const auto records = c.poll(500ms);
      if (records.empty()) {
        m.p.ok("poll", {{"records", json::array()}});
        continue;
      }
      if (commit_first_) {
        json polled = json::array();
        for (const auto& r : records) polled.push_back(record_json(r));
        if (!commit()) {
          m.p.fail("poll", {{"records", json::array()}, {"skipped", polled}});
          continue;
        }
        process_all(m, records);
      } else {
        process_all(m, records);
        (void)commit();
      }
    }
    c.close();
  }

  static bool is_int(const std::string& v) {
    try {
      std::size_t used = 0;
      (void)std::stoi(v, &used);
      return used == v.size();
    } catch (const std::exception&) {
      return false;
    }
  }

  // As scenarios/kafka/workload.cpp's run_zookeeper_consumer: Kafka 0.8's
  // high-level consumer (client::ZookeeperConsumer) against the coordinator
  // at --zookeeper; commits write the offsets znodes and have no outcome.
  void run_zookeeper_consumer(int index) {
    client::ZookeeperConsumerConfig zc;
    zc.zookeeper_connect = zookeeper_address_;
    zc.bootstrap_servers = bootstrap_;
    zc.group_id = group_;
    zc.consumer_id = fmt::format("c{}", index);
    zc.topics = topics_;
    zc.auto_commit_enable = false;
    zc.auto_offset_reset =
        zk_props_.count("auto.offset.reset") && zk_props_.at("auto.offset.reset") == "latest" ? "largest" : "smallest";
    auto number = [this](const char* key, std::int32_t& field) {
      if (zk_props_.count(key)) field = std::stoi(zk_props_.at(key));
    };
    number("zookeeper.session.timeout.ms", zc.zookeeper_session_timeout_ms);
    number("rebalance.max.retries", zc.rebalance_max_retries);
    number("rebalance.backoff.ms", zc.rebalance_backoff_ms);
    number("fetch.max.wait.ms", zc.fetch_wait_max_ms);
    if (zk_props_.count("partition.assignment.strategy"))
      zc.partition_assignment_strategy = zk_props_.at("partition.assignment.strategy");
    Member m(history_);
    client::ZookeeperConsumer c(rt(), zc);
    c.on_assign = [&](const client::AssignOutcome& a) { on_assigned(m, a); };
    while (consuming()) {
      m.p.invoke("poll", json::object());
      const auto records = c.poll(500ms);
      if (records.empty()) {
        m.p.ok("poll", {{"records", json::array()}});
        continue;
      }
      auto commit = [&] {
        m.q.invoke("commit", {{"group", group_}});
        c.commit();
        m.q.ok("commit", {{"group", group_}});
      };
      if (commit_first_) {
        commit();
        process_all(m, records);
      } else {
        process_all(m, records);
        commit();
      }
    }
    c.close();
  }

  // --- the final read-back: every partition from 0 to its leader's high watermark ---------
  bool read_back() {
    scenarios::broker::RawClient c(rt(), "samsa-live-reader");
    Process reader(history_);
    bool all = true;
    const auto deadline = now() + std::chrono::milliseconds(args_.read_timeout_ms);
    for (const auto& tp : partitions_) {
      reader.invoke("poll", json::object());
      std::map<std::int64_t, std::string> log;
      const bool ok = read_partition(c, tp, log, deadline);
      all = ok && all;
      json records = json::array();
      for (const auto& [offset, value] : log)
        records.push_back({{"topic", tp.first}, {"partition", tp.second}, {"offset", offset}, {"value", value}});
      records_read_ += log.size();
      if (ok) reader.ok("poll", {{"records", records}});
      else reader.fail("poll", {{"records", json::array()}});
      if (!ok) std::cerr << fmt::format("samsa live workload: {}-{} could not be read back\n", tp.first, tp.second);
    }
    return all;
  }

  bool read_partition(scenarios::broker::RawClient& c, const Tp& tp, std::map<std::int64_t, std::string>& out,
                      sim::MonoTime deadline) {
    while (now() < deadline) {
      auto leader = leader_address(c, tp);
      if (!leader) {
        rt().sleep(300ms);
        continue;
      }
      std::map<std::int64_t, std::string> got;
      protocol::Offset next(0);
      while (now() < deadline) {
        auto f = scenarios::broker::fetch(c, *leader, tp.first, tp.second, next, 0);
        if (!f || f->error != protocol::ErrorCode::none) break;
        got.insert(f->values.begin(), f->values.end());
        if (f->next_offset >= f->high_watermark) {
          out = std::move(got);
          return true;
        }
        if (f->next_offset == next) break;
        next = f->next_offset;
      }
      c.drop(*leader);
      rt().sleep(300ms);
    }
    return false;
  }

  void print_summary(bool read) {
    std::cout << fmt::format("workload: {} sends: {} ok, {} failed, {} unknown; {} records read back{}", sends_, ok_,
                             fail_, info_, records_read_, read ? "" : " (incomplete)");
    if (consumers_ > 0) std::cout << fmt::format("; {} of {} acked processed", processed_count(), acked_.size());
    std::cout << std::endl;
  }
  std::size_t processed_count() const {
    std::size_t n = 0;
    for (const auto& v : acked_) n += processed_.count(v);
    return n;
  }

  sim::LiveWorld& world_;
  invariants::History& history_;
  const scenarios::ScenarioSpec& spec_;
  const WorkloadArgs& args_;
  std::vector<sim::Address> bootstrap_;
  int producers_ = 1, consumers_ = 0, keys_ = 0;
  std::int64_t records_ = 0, process_ms_ = 0;
  int workers_ = 0;       // application threads per consumer (0: the poll loop processes)
  bool zookeeper_ = false;  // group_protocol = "zookeeper": Kafka 0.8's consumer
  std::map<std::string, std::string> zk_props_;  // the consumer keys with the ZooKeeper-only ones
  std::vector<sim::Address> zookeeper_address_;
  bool by_key_ = false;   // workers chosen by key hash, else round robin
  double rate_per_s_ = 250;
  bool sync_ = false, commit_first_ = false;
  std::vector<std::string> topics_;
  std::vector<Tp> partitions_;
  std::map<std::string, std::string> producer_props_, consumer_props_;
  std::string group_;
  Duration duration_{0};
  sim::MonoTime start_{}, end_{};
  std::optional<sim::MonoTime> drain_end_;
  bool stopping_ = false;
  int running_ = 0, producers_done_ = 0;
  std::uint64_t sends_ = 0, ok_ = 0, fail_ = 0, info_ = 0, records_read_ = 0;
  std::set<std::string> acked_, processed_;
  int exit_code_ = 0;
};

int run_workload(const WorkloadArgs& a) {
  std::ifstream in(a.scenario);
  if (!in) {
    std::cerr << "samsa live workload: " << a.scenario << ": cannot read\n";
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();
  std::vector<scenarios::Override> overrides;
  for (const auto& s : a.sets) {
    auto o = scenarios::parse_override(s);
    if (!o) {
      std::cerr << "samsa live workload: --set " << s << ": " << o.error() << "\n";
      return 2;
    }
    overrides.push_back(std::move(*o));
  }
  auto spec = scenarios::parse_scenario(text.str(), a.scenario, "live", overrides);
  if (!spec) {
    std::cerr << spec.error().to_string() << "\n";
    return 2;
  }
  auto bootstrap = parse_bootstrap(a.bootstrap);
  if (!bootstrap) {
    std::cerr << "samsa live workload: " << bootstrap.error() << "\n";
    return 2;
  }
  auto out = std::make_shared<std::ofstream>(a.history);
  if (!*out) {
    std::cerr << "samsa live workload: cannot write " << a.history << "\n";
    return 2;
  }
  sim::LiveConfig wc;
  wc.seed = a.seed;
  wc.log_level = a.log_level;
  sim::LiveWorld world(wc);
  const auto t0 = sim::LiveWorld::mono_now();
  invariants::History history([t0] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(sim::LiveWorld::mono_now() - t0).count();
  });
  history.stream_to(out);
  LiveWorkload workload(world, history, *spec, a, std::move(*bootstrap));
  if (auto bad = workload.validate()) {
    std::cerr << "samsa live workload: " << a.scenario << ": " << *bad << "\n";
    return 2;
  }
  std::cout << "seed " << world.seed() << std::endl;
  // The first signal ends the run in order (outcomes, drain, read-back); a
  // second stops at once.
  asio::signal_set signals(world.io(), SIGINT, SIGTERM);
  int seen = 0;
  std::function<void(const std::error_code&, int)> on_signal = [&](const std::error_code& ec, int) {
    if (ec) return;
    if (++seen == 1) {
      workload.stop_soon();
      signals.async_wait(on_signal);
    } else {
      world.request_stop();
    }
  };
  signals.async_wait(on_signal);
  workload.start();
  const auto r = world.run();
  signals.cancel();
  out->flush();
  if (r.reason == sim::LiveStop::internal_error) {
    std::cerr << "samsa live workload: internal error: " << r.message << "\n";
    return 4;
  }
  if (seen > 1) return 130;
  return workload.exit_code();
}

}  // namespace

Command add_live_workload_command(CLI::App& live) {
  auto a = std::make_shared<WorkloadArgs>();
  Command c;
  c.app = live.add_subcommand("workload",
                              "a kafka scenario's producers and consumer group against a running cluster, "
                              "recording the history `samsa check` judges");
  c.app->add_option("--bootstrap", a->bootstrap, "HOST:PORT[,HOST:PORT...] of the cluster")->required();
  c.app->add_option("--scenario", a->scenario, "a scenario file (TOML) whose workload is kafka")->required();
  c.app->add_option("--history", a->history, "where the history goes (JSON lines)")->required();
  c.app->add_option("--zookeeper", a->zookeeper,
                    "HOST:PORT of the coordinator, for a scenario whose group_protocol is zookeeper");
  c.app->add_option("--set", a->sets, "KEY=VALUE override of the scenario (as `samsa run --set`)");
  c.app->add_option("--duration-ms", a->duration_ms,
                    "how long the producers write (default: the scenario's faults phase_ms + heal_ms)");
  c.app->add_option("--drain-ms", a->drain_ms,
                    "how long consumers may go on after the producers to process every acked record (default 20000)");
  c.app->add_option("--read-timeout-ms", a->read_timeout_ms,
                    "how long topic creation and the final read-back may take (default 60000)");
  c.app->add_option("--seed", a->seed, "the seed of the clients' random streams (default: from the OS, printed)");
  c.app->add_option("--log-level", a->log_level, "the clients' log level (default warn)")
      ->check(CLI::IsMember({"off", "error", "warn", "info", "debug", "trace"}));
  c.run = [a] { return run_workload(*a); };
  return c;
}

}  // namespace samsa::tools
