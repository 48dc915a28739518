#include "scenarios/producer/delivery.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "scenarios/broker/cluster.h"
#include "scenarios/broker/driver.h"
#include "scenarios/report.h"
#include "sim/world/world.h"
#include "system/client/producer.h"

namespace samsa::scenarios::producer {

namespace {

using namespace samsa::sim;
using nlohmann::json;
using broker::Cluster;
using broker::RawClient;

const std::string k_topic = "t";
constexpr int k_brokers = 3;

// The history of one run, in DESIGN.md's JSON-lines format. (A stand-in
// until invariants/history.h lands; same fields.)
struct History {
  std::vector<json> ops;
  void add(Duration t, int process, const char* type, const char* f, json value) {
    json op = {{"index", ops.size()}, {"time_ns", t.count()}, {"process", process},
               {"type", type},        {"f", f},                {"value", std::move(value)}};
    ops.push_back(std::move(op));
  }
  void nemesis(Duration t, const std::string& f, json value) {
    json op = {{"index", ops.size()}, {"time_ns", t.count()}, {"process", "nemesis"},
               {"type", "info"},      {"f", f},                {"value", std::move(value)}};
    ops.push_back(std::move(op));
  }
};

struct Run {
  History history;
  bool stop = false, healed = false, read_done = false;
  std::uint64_t ok_after_heal = 0;
  std::map<int, std::map<std::int64_t, std::string>> logs;  // partition -> offset -> value
  client::ProducerStats stats;
  std::string config_error;
};

struct Fault {
  Duration at;
  enum Kind { reset, crash, restart, cut, heal } kind;
  NodeId broker = 1;
};

std::vector<Fault> make_schedule(Random& rng, const DeliveryConfig& cfg, double rate) {
  std::vector<Fault> out;
  const Duration phase = std::chrono::milliseconds(cfg.fault_phase_ms);
  for (Duration t = 2s;;) {
    t += rng.exponential(Duration(static_cast<std::int64_t>(1e9 / rate)));
    if (t >= phase) break;
    Fault f{t, Fault::reset, static_cast<NodeId>(rng.uniform(1, k_brokers))};
    const auto r = rng.uniform(0, 9);
    if (r < 5) f.kind = Fault::reset;
    else if (r < 6) f.kind = Fault::crash;
    else if (r < 7) f.kind = Fault::restart;
    else if (r < 8) f.kind = Fault::cut;
    else f.kind = Fault::heal;
    out.push_back(f);
  }
  return out;
}

void apply(World& w, NodeId client, const Fault& f, History& h) {
  NodeId down = -1;
  for (NodeId b = 1; b <= k_brokers; ++b)
    if (!w.is_up(b)) down = b;
  const std::string node = "b" + std::to_string(f.broker);
  switch (f.kind) {
    case Fault::reset:
      w.network().reset_connections(client, f.broker);
      h.nemesis(w.now(), "reset", {{"node", node}});
      break;
    case Fault::crash:
      if (down < 0) {  // at most one broker down: the cluster stays available
        w.crash(f.broker, CrashMode::keep_all);
        h.nemesis(w.now(), "crash", {{"node", node}});
      }
      break;
    case Fault::restart:
      if (down >= 0) {
        w.start(down);
        h.nemesis(w.now(), "restart", {{"node", "b" + std::to_string(down)}});
      }
      break;
    case Fault::cut:
      w.network().partition(client, f.broker);
      h.nemesis(w.now(), "partition", {{"nodes", {"client", node}}});
      break;
    case Fault::heal:
      w.network().heal_all();
      h.nemesis(w.now(), "heal", json::object());
      break;
  }
}

void workload(Runtime& rt, World& world, const DeliveryConfig& cfg, Run& run) {
  std::map<std::string, std::string> props = {{"bootstrap.servers", "b1:9092,b2:9092,b3:9092"},
                                              {"client.id", "p1"},
                                              {"request.timeout.ms", "3000"},
                                              {"delivery.timeout.ms", "20000"}};
  for (const auto& [k, v] : cfg.producer) props[k] = v;
  auto made = client::Producer::create(rt, props);
  if (!made) {
    run.config_error = made.error().message;
    return;
  }
  auto& producer = *made.value();
  Random rng = rt.random("workload");
  const bool acks0 = producer.config().acks == 0;
  for (std::uint64_t i = 0; !run.stop; ++i) {
    const std::string value = fmt::format("p1-{}", i);
    const std::string key = fmt::format("k{}", i % 7);
    json v = {{"topic", k_topic}, {"key", key}, {"value", value}};
    run.history.add(world.now(), 1, "invoke", "send", v);
    producer.send({k_topic, std::nullopt, key, value, std::nullopt},
                  [&run, &world, v, acks0](const client::SendOutcome& o) mutable {
                    if (o.partition >= 0) v["partition"] = o.partition;
                    if (o.kind == client::OutcomeKind::ok) {
                      v["offset"] = o.offset;
                      if (run.healed) ++run.ok_after_heal;
                    } else {
                      v["error"] = o.message;
                    }
                    if (acks0 && o.kind == client::OutcomeKind::info && run.healed) ++run.ok_after_heal;
                    run.history.add(world.now(), 1, std::string(to_string(o.kind)).c_str(), "send", v);
                  });
    rt.sleep(std::chrono::microseconds(rng.uniform(500, 4000)));
  }
  producer.close();
  run.stats = producer.stats();
}

std::optional<Address> leader_address(RawClient& c, int partition) {
  for (int b = 1; b <= k_brokers; ++b) {
    std::map<protocol::BrokerId, Address> brokers;
    auto leader = broker::find_leader(c, Address{"b" + std::to_string(b), 9092}, k_topic, partition, &brokers);
    if (leader && brokers.count(*leader)) return brokers.at(*leader);
  }
  return std::nullopt;
}

bool read_partition(Runtime& rt, int partition, std::map<std::int64_t, std::string>& out) {
  RawClient c(rt, "reader");
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto leader = leader_address(c, partition);
    if (!leader) {
      rt.sleep(500ms);
      continue;
    }
    std::map<std::int64_t, std::string> got;
    protocol::Offset next(0);
    for (int i = 0; i < 5000; ++i) {
      auto f = broker::fetch(c, *leader, k_topic, partition, next, 0);
      if (!f || f->error != protocol::ErrorCode::none) break;
      got.insert(f->values.begin(), f->values.end());
      if (f->next_offset >= f->high_watermark || f->next_offset == next) {
        if (f->next_offset >= f->high_watermark) {
          out = std::move(got);
          return true;
        }
        break;
      }
      next = f->next_offset;
    }
    rt.sleep(500ms);
  }
  return false;
}

std::int64_t index_of(const std::string& value) { return std::stoll(value.substr(value.find('-') + 1)); }

// The checkers, over the history and the partitions read back.
std::vector<std::string> check(const Run& run, bool acks0, json& counts) {
  std::vector<std::string> out;
  auto violation = [&out](std::string v) {
    if (out.size() < 50) out.push_back(std::move(v));
  };
  if (!run.config_error.empty()) return {"internal: " + run.config_error};
  if (!run.read_done) return {"liveness: the partitions could not be read back after the heal"};
  std::map<std::string, std::pair<int, std::int64_t>> where;  // value -> (partition, offset)
  std::uint64_t duplicates = 0, reorders = 0;
  for (const auto& [partition, log] : run.logs) {
    std::int64_t last = -1;
    std::string last_value;
    for (const auto& [offset, value] : log) {
      auto [it, fresh] = where.emplace(value, std::make_pair(partition, offset));
      if (!fresh) {
        ++duplicates;
        violation(fmt::format("duplicate: {} at {}-{} and {}-{}", value, it->second.first, it->second.second, partition, offset));
      }
      const std::int64_t i = index_of(value);
      if (i < last) {
        ++reorders;
        violation(fmt::format("nonmonotonic-send: {} (sent after {}) is before it in partition {} at offset {}",
                              last_value, value, partition, offset));
      }
      if (i > last) {
        last = i;
        last_value = value;
      }
    }
  }
  std::uint64_t ok = 0, fail = 0, info = 0, lost = 0, missing_unacked = 0;
  for (const auto& op : run.history.ops) {
    if (op["process"] == "nemesis" || op["type"] == "invoke") continue;
    const std::string value = op["value"]["value"];
    const std::string type = op["type"];
    auto seen = where.find(value);
    if (type == "ok") {
      ++ok;
      if (acks0) violation(fmt::format("acks=0 send of {} is ok", value));
      const int partition = op["value"]["partition"];
      const std::int64_t offset = op["value"]["offset"];
      if (seen == where.end()) {
        ++lost;
        violation(fmt::format("lost-write: {} acknowledged at {}-{} is not in the log", value, partition, offset));
      } else if (seen->second != std::make_pair(partition, offset)) {
        violation(fmt::format("inconsistent-offsets: {} acknowledged at {}-{} is at {}-{}", value, partition, offset,
                              seen->second.first, seen->second.second));
      }
    } else if (type == "fail") {
      ++fail;
      if (seen != where.end()) violation(fmt::format("fail-visible: {} failed definitely but is at {}-{}", value,
                                                     seen->second.first, seen->second.second));
    } else {
      ++info;
      if (seen == where.end()) ++missing_unacked;
    }
  }
  if (run.ok_after_heal == 0) violation("liveness: no send completed after the heal");
  counts = {{"ok", ok},         {"fail", fail},         {"info", info},
            {"lost", lost},     {"duplicates", duplicates}, {"reorders", reorders},
            {"unacked_missing", missing_unacked}};
  return out;
}

}  // namespace

RunReport run_delivery(const DeliveryConfig& cfg) {
  Random swarm = Random(cfg.seed).derive("producer-delivery.swarm");
  const double rate = cfg.fault_rate_per_s > 0 ? cfg.fault_rate_per_s : 0.5 + swarm.unit() * 1.5;
  WorldConfig wc;
  wc.seed = cfg.seed;
  wc.log_level = cfg.log_level;
  Random fault_rng = Random(cfg.seed).derive("producer-delivery.faults");
  const std::vector<Fault> schedule = make_schedule(fault_rng, cfg, rate);
  Run run;  // before the world: its fibers refer to it
  World world(wc);
  Cluster cluster(world, broker::ClusterConfig{k_brokers, {{"min.insync.replicas", "2"}, {"replica.lag.time.max.ms", "10000"}}});
  const Duration fault_phase = std::chrono::milliseconds(cfg.fault_phase_ms);
  const Duration end = fault_phase + std::chrono::milliseconds(cfg.heal_phase_ms);
  NodeId client = -1;
  client = world.add_node("client", [&](Runtime& rt) {
    if (!cluster.create_topic(rt, k_topic, cfg.partitions, 3)) return;
    rt.spawn("workload", [&rt, &world, &cfg, &run] { workload(rt, world, cfg, run); });
    rt.sleep_until(MonoTime{end - 9s});
    run.stop = true;
    rt.sleep(6s);
    bool all = true;
    for (int p = 0; p < cfg.partitions; ++p) all = read_partition(rt, p, run.logs[p]) && all;
    run.read_done = all;
  });
  for (NodeId n : world.node_ids()) world.start(n);
  world.spawn("nemesis", [&] {
    Runtime& ctl = world.control();
    for (const Fault& f : schedule) {
      ctl.sleep_until(MonoTime{f.at});
      apply(world, client, f, run.history);
    }
    ctl.sleep_until(MonoTime{fault_phase});
    world.network().heal_all();
    for (NodeId n : world.node_ids())
      if (!world.is_up(n)) world.start(n);
    run.history.nemesis(world.now(), "heal", json::object());
    run.healed = true;
  });
  const RunResult rr = world.run(end);
  const auto acks = cfg.producer.find("acks");
  const bool acks0 = acks != cfg.producer.end() && acks->second == "0";
  json counts;
  auto violations = check(run, acks0, counts);
  RunReport report = make_report(cfg.name, cfg.seed, world, rr, violations, "");
  report.details = counts;
  report.details["faults"] = schedule.size();
  report.details["history_ops"] = run.history.ops.size();
  report.details["produce_requests"] = run.stats.produce_requests;
  report.details["batches_retried"] = run.stats.batches_retried;
  report.details["epoch_bumps"] = run.stats.epoch_bumps;
  if (cfg.history_in_details) report.details["history"] = run.history.ops;
  return report;
}

namespace {
DeliveryConfig base(const RunOptions& o, std::string name) {
  DeliveryConfig c;
  c.seed = o.seed;
  c.log_level = o.log_level;
  c.name = std::move(name);
  return c;
}
}  // namespace

RunReport run_idempotent_lost_acks(const RunOptions& o) {
  DeliveryConfig c = base(o, "producer/idempotent-lost-acks");
  c.producer = {{"enable.idempotence", "true"}, {"acks", "all"}, {"max.in.flight.requests.per.connection", "5"}};
  return run_delivery(c);
}

RunReport run_retries_no_idempotence(const RunOptions& o) {
  DeliveryConfig c = base(o, "producer/retries-no-idempotence");
  c.producer = {{"enable.idempotence", "false"}, {"acks", "all"}, {"max.in.flight.requests.per.connection", "5"}};
  return run_delivery(c);
}

RunReport run_acks_0(const RunOptions& o) {
  DeliveryConfig c = base(o, "producer/acks-0");
  c.producer = {{"acks", "0"}};
  return run_delivery(c);
}

}  // namespace samsa::scenarios::producer
