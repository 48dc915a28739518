#include "scenarios/groups/delivery.h"

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "scenarios/broker/cluster.h"
#include "scenarios/broker/driver.h"
#include "scenarios/report.h"
#include "sim/world/world.h"
#include "system/client/consumer.h"

namespace samsa::scenarios::groups {

namespace {

using namespace samsa::sim;
using samsa::client::Consumer;
using samsa::client::TopicPartition;
using nlohmann::json;

const std::string k_topic = "t";
const std::string k_group = "g";

// The run's history, DESIGN.md's format; time from the world's clock.
class History {
 public:
  explicit History(World& w) : world_(w) {}
  void add(const json& process, std::string_view type, std::string_view f, json value) {
    ops_.push_back({{"index", ops_.size()},
                    {"time_ns", world_.now().count()},
                    {"process", process},
                    {"type", type},
                    {"f", f},
                    {"value", std::move(value)}});
  }
  const std::vector<json>& ops() const { return ops_; }

 private:
  World& world_;
  std::vector<json> ops_;
};

struct Observations {
  std::set<std::string> sent;                     // acknowledged writes
  std::map<std::string, int> processed;           // value -> times processed
  std::map<std::int32_t, std::map<int, std::vector<TopicPartition>>> assignments;  // generation -> process -> partitions
  std::map<TopicPartition, std::vector<std::int64_t>> commits;  // successful commits, in order
  bool produced = false;
  bool stop = false;
  int next_process = 0;
  std::uint64_t crashes = 0, commit_failures = 0, skipped = 0;
};

json offsets_json(const std::map<TopicPartition, std::int64_t>& offsets) {
  json a = json::array();
  for (const auto& [tp, o] : offsets) a.push_back({{"topic", tp.topic}, {"partition", tp.partition.value()}, {"offset", o}});
  return a;
}

void produce_all(Runtime& rt, broker::Cluster& cluster, const DeliveryConfig& cfg, History& h, Observations& obs) {
  if (!cluster.create_topic(rt, k_topic, cfg.partitions, 3)) return;
  broker::RawClient c(rt, "writer");
  for (int p = 0; p < cfg.partitions; ++p) {
    for (int first = 0; first < cfg.records_per_partition; first += 10) {
      std::vector<std::string> values;
      for (int i = first; i < std::min(first + 10, cfg.records_per_partition); ++i)
        values.push_back(fmt::format("{}-{}", p, i));
      for (int attempt = 0; attempt < 100; ++attempt) {
        std::map<protocol::BrokerId, Address> brokers;
        auto leader = broker::find_leader(c, cluster.address(1 + attempt % cluster.brokers()), k_topic, p, &brokers);
        if (leader && brokers.count(*leader)) {
          auto r = broker::produce(c, brokers.at(*leader), k_topic, p, broker::make_batch(values, rt.wall_ms()), -1, 5000);
          if (r.kind == broker::ProduceResult::Kind::ok) {
            for (std::size_t i = 0; i < values.size(); ++i) {
              obs.sent.insert(values[i]);
              h.add(0, "ok", "send",
                    {{"topic", k_topic}, {"value", values[i]}, {"partition", p},
                     {"offset", r.base_offset.value() + static_cast<std::int64_t>(i)}});
            }
            break;
          }
        }
        rt.sleep(250ms);
      }
    }
  }
  obs.produced = true;
}

std::map<std::string, std::string> consumer_props(const std::string& id) {
  return {{"bootstrap.servers", "b1:9092,b2:9092,b3:9092"},
          {"client.id", id},
          {"group.id", k_group},
          {"auto.offset.reset", "earliest"},
          {"enable.auto.commit", "false"},
          {"session.timeout.ms", "6000"},
          {"heartbeat.interval.ms", "1000"},
          {"max.poll.interval.ms", "10000"},
          {"max.poll.records", "5"},
          {"fetch.max.wait.ms", "200"}};
}

void process(Runtime& rt, int pid, const client::ConsumerRecord& r, History& h, Observations& obs) {
  rt.sleep(100ms);  // the application's work on the record
  ++obs.processed[r.value.value_or("")];
  h.add(pid, "ok", "poll",
        {{"records", json::array({{{"topic", r.topic},
                                   {"partition", r.partition},
                                   {"offset", r.offset},
                                   {"value", r.value.value_or("")}}})}});
}

void run_consumer(Runtime& rt, const DeliveryConfig& cfg, History& h, Observations& obs) {
  const int pid = ++obs.next_process;  // a restarted consumer is a new process
  while (!obs.produced) rt.sleep(200ms);
  auto config = client::make_consumer_config(consumer_props(rt.node_name()));
  SAMSA_ASSERT(config.ok(), "the scenario's consumer keys are valid");
  Consumer c(rt, *config);
  c.on_assign = [&, pid](const client::AssignOutcome& a) {
    obs.assignments[a.generation][pid] = a.partitions;
    json parts = json::array();
    for (const auto& tp : a.partitions) parts.push_back({{"topic", tp.topic}, {"partition", tp.partition.value()}});
    h.add(pid, "ok", "assign", {{"group", k_group}, {"generation", a.generation}, {"partitions", parts}});
  };
  c.on_commit = [&, pid](const client::CommitOutcome& o) {
    // A commit whose answer was lost may have been written: info.
    const bool unknown = !o.ok && o.error == protocol::ErrorCode::request_timed_out;
    h.add(pid, o.ok ? "ok" : unknown ? "info" : "fail", "commit", {{"group", k_group}, {"offsets", offsets_json(o.offsets)}});
    if (o.ok) {
      for (const auto& [tp, off] : o.offsets) obs.commits[tp].push_back(off);
    } else {
      ++obs.commit_failures;
    }
  };
  c.subscribe({k_topic});
  while (!obs.stop) {
    auto records = c.poll(500ms);
    if (records.empty()) continue;
    if (cfg.mode == DeliveryMode::commit_before_process) {
      if (!c.commit_sync().ok) {
        obs.skipped += records.size();  // not committed: not processed (at most once)
        continue;
      }
      for (const auto& r : records) process(rt, pid, r, h, obs);
    } else {
      for (const auto& r : records) process(rt, pid, r, h, obs);
      (void)c.commit_sync();
    }
  }
  c.close();
}

void check(const DeliveryConfig& cfg, const Observations& obs, std::vector<std::string>& violations,
           std::uint64_t& lost, std::uint64_t& duplicated) {
  auto violation = [&](std::string v) {
    if (violations.size() < 50) violations.push_back(std::move(v));
  };
  for (const auto& v : obs.sent) {
    auto it = obs.processed.find(v);
    if (it == obs.processed.end()) {
      ++lost;
      if (cfg.mode == DeliveryMode::process_before_commit)
        violation(fmt::format("lost-write: {} was written and never processed", v));
    } else if (it->second > 1) {
      ++duplicated;
      if (cfg.mode == DeliveryMode::commit_before_process)
        violation(fmt::format("duplicate: {} processed {} times", v, it->second));
    }
  }
  for (const auto& [gen, members] : obs.assignments) {
    std::map<TopicPartition, int> owner;
    for (const auto& [pid, parts] : members)
      for (const auto& tp : parts) {
        auto [it, fresh] = owner.emplace(tp, pid);
        if (!fresh)
          violation(fmt::format("assignment-overlap: {} owned by processes {} and {} in generation {}",
                                client::group::to_string(tp), it->second, pid, gen));
      }
  }
  for (const auto& [tp, offs] : obs.commits)
    for (std::size_t i = 1; i < offs.size(); ++i)
      if (offs[i] < offs[i - 1])
        violation(fmt::format("committed-offset-regression: {} committed {} after {}", client::group::to_string(tp),
                              offs[i], offs[i - 1]));
  if (obs.sent.empty()) violation("liveness: nothing was written");
}

}  // namespace

RunReport run_delivery(const DeliveryConfig& cfg) {
  Observations obs;
  WorldConfig wc;
  wc.seed = cfg.seed;
  wc.log_level = cfg.log_level;
  World world(wc);
  History history(world);
  broker::Cluster cluster(world, broker::ClusterConfig{3,
                                                       {{"min.insync.replicas", "2"},
                                                        {"offsets.topic.num.partitions", "5"},
                                                        {"offsets.topic.replication.factor", "3"},
                                                        {"group.initial.rebalance.delay.ms", "500"}}});
  const Duration fault_phase = std::chrono::milliseconds(cfg.fault_phase_ms);
  const Duration end = fault_phase + std::chrono::milliseconds(cfg.heal_phase_ms);
  world.add_node("writer", [&](Runtime& rt) { produce_all(rt, cluster, cfg, history, obs); });
  std::vector<NodeId> consumers;
  std::map<NodeId, std::string> names;
  for (int i = 1; i <= cfg.consumers; ++i) {
    const std::string name = fmt::format("c{}", i);
    consumers.push_back(world.add_node(name, [&](Runtime& rt) { run_consumer(rt, cfg, history, obs); }));
    names[consumers.back()] = name;
  }
  for (NodeId n : world.node_ids()) world.start(n);
  Random faults = Random(cfg.seed).derive("groups-delivery.faults");
  world.spawn("nemesis", [&] {
    Runtime& ctl = world.control();
    while (!obs.produced) ctl.sleep(200ms);
    while (ctl.now().since_epoch < fault_phase) {
      ctl.sleep(std::chrono::milliseconds(faults.uniform(1000, 4000)));
      const NodeId victim = consumers[static_cast<std::size_t>(faults.uniform(0, cfg.consumers - 1))];
      if (!world.is_up(victim)) continue;
      ++obs.crashes;
      history.add("nemesis", "info", "crash", {{"node", names.at(victim)}});
      world.crash(victim);
      ctl.sleep(std::chrono::milliseconds(faults.uniform(200, 3000)));
      history.add("nemesis", "info", "restart", {{"node", names.at(victim)}});
      world.start(victim);
    }
    for (NodeId n : consumers)
      if (!world.is_up(n)) world.start(n);
    ctl.sleep_until(MonoTime{end - 3s});
    obs.stop = true;
  });
  const RunResult rr = world.run(end);
  std::vector<std::string> violations;
  std::uint64_t lost = 0, duplicated = 0;
  check(cfg, obs, violations, lost, duplicated);
  RunReport report = make_report(cfg.name, cfg.seed, world, rr, violations, "");
  report.details = {{"mode", cfg.mode == DeliveryMode::commit_before_process ? "commit-before-process"
                                                                              : "process-before-commit"},
                    {"sent", obs.sent.size()},
                    {"processed", obs.processed.size()},
                    {"lost", lost},
                    {"duplicated", duplicated},
                    {"crashes", obs.crashes},
                    {"generations", obs.assignments.size()},
                    {"commit_failures", obs.commit_failures},
                    {"skipped", obs.skipped},
                    {"history_ops", history.ops().size()}};
  if (!cfg.history_path.empty()) {
    std::ofstream out(cfg.history_path);
    for (const auto& op : history.ops()) out << op.dump() << '\n';
  }
  return report;
}

RunReport run_at_most_once(const RunOptions& o) {
  DeliveryConfig c;
  c.seed = o.seed;
  c.log_level = o.log_level;
  c.mode = DeliveryMode::commit_before_process;
  c.name = "groups/at-most-once";
  return run_delivery(c);
}

RunReport run_at_least_once(const RunOptions& o) {
  DeliveryConfig c;
  c.seed = o.seed;
  c.log_level = o.log_level;
  c.mode = DeliveryMode::process_before_commit;
  c.name = "groups/at-least-once";
  return run_delivery(c);
}

}  // namespace samsa::scenarios::groups
