#include "scenarios/broker/acks.h"

#include <fmt/format.h>

#include <map>
#include <optional>
#include <set>

#include "scenarios/broker/cluster.h"
#include "scenarios/broker/driver.h"
#include "scenarios/report.h"
#include "sim/world/world.h"

namespace samsa::scenarios::broker {

namespace {

using namespace samsa::sim;

const std::string k_topic = "t";
constexpr int k_brokers = 3;

struct Observations {
  std::map<std::string, std::int64_t> acked;  // value -> offset
  std::set<std::string> unknown;
  std::uint64_t attempts = 0, failed = 0, acked_after_heal = 0;
  std::optional<BrokerId> leader;  // the writer's latest view
  bool healed = false, stop = false, read_done = false;
  std::map<std::int64_t, std::string> final_read;
  std::vector<Cluster::ReplicaImage> images;
  std::vector<std::string> violations;
  void violation(std::string v) {
    if (violations.size() < 50) violations.push_back(std::move(v));
  }
};

struct Fault {
  Duration at;
  enum Kind { crash, restart, restart_zk, partition, partition_one_way, heal, clog_leader, reset } kind;
  NodeId a = 1, b = 2;
  Duration extra{0};
};

std::optional<Address> discover(Runtime& rt, RawClient& c, Random& rng, Observations& obs) {
  const int first = static_cast<int>(rng.uniform(1, k_brokers));
  for (int i = 0; i < k_brokers; ++i) {
    const int b = 1 + (first - 1 + i) % k_brokers;
    std::map<BrokerId, Address> brokers;
    auto leader = find_leader(c, Address{"b" + std::to_string(b), 9092}, k_topic, 0, &brokers);
    if (leader && brokers.count(*leader)) {
      obs.leader = *leader;
      return brokers.at(*leader);
    }
  }
  (void)rt;
  return std::nullopt;
}

void writer(Runtime& rt, const AcksConfig& cfg, Observations& obs) {
  RawClient c(rt, "writer");
  Random rng = rt.random("writer");
  std::optional<Address> leader;
  for (std::uint64_t i = 0; !obs.stop; ++i) {
    if (!leader) leader = discover(rt, c, rng, obs);
    if (!leader) {
      rt.sleep(200ms);
      continue;
    }
    const std::string value = fmt::format("w{}", i);
    const auto r = produce(c, *leader, k_topic, 0, make_batch({value}, rt.wall_ms()), cfg.acks, 3000);
    ++obs.attempts;
    switch (r.kind) {
      case ProduceResult::Kind::ok:
        obs.acked[value] = r.base_offset.value();
        if (obs.healed) ++obs.acked_after_heal;
        break;
      case ProduceResult::Kind::failed: ++obs.failed; break;
      case ProduceResult::Kind::unknown: obs.unknown.insert(value); break;
    }
    if (r.kind != ProduceResult::Kind::ok) {
      c.drop(*leader);
      leader.reset();
      rt.sleep(100ms);
    } else {
      rt.sleep(rng.uniform(Duration(5ms), Duration(20ms)));
    }
  }
}

std::vector<Fault> make_schedule(Random& rng, const AcksConfig& cfg, double rate) {
  std::vector<Fault> out;
  const Duration phase = std::chrono::milliseconds(cfg.fault_phase_ms);
  for (Duration t = 3s;;) {
    t += rng.exponential(Duration(static_cast<std::int64_t>(1e9 / rate)));
    if (t >= phase) break;
    Fault f{t, Fault::heal};
    f.a = static_cast<NodeId>(rng.uniform(1, k_brokers));
    f.b = static_cast<NodeId>(1 + (f.a + rng.uniform(0, 1)) % k_brokers);
    if (rng.chance(0.3)) f.b = Cluster::k_zk;
    switch (rng.uniform(0, cfg.target_leader ? 3 : 8)) {
      case 0: f.kind = Fault::crash; break;       // f.a, or the leader
      case 1: f.kind = Fault::restart; break;     // whichever broker is down
      case 2:
      case 3:
        f.kind = Fault::clog_leader;
        f.extra = std::chrono::milliseconds(rng.uniform(200, 2000));
        break;
      case 4: f.kind = Fault::partition; break;
      case 5: f.kind = Fault::partition_one_way; break;
      case 6: f.kind = Fault::restart_zk; break;
      case 7: f.kind = Fault::reset; break;
      default: f.kind = Fault::heal; break;
    }
    out.push_back(f);
    if (cfg.target_leader && f.kind == Fault::clog_leader) {
      // While replication is slow, the leader dies.
      Fault crash{t + std::chrono::milliseconds(rng.uniform(50, 400)), Fault::crash};
      out.push_back(crash);
      t = crash.at;
    }
  }
  return out;
}

void apply(World& w, const Fault& f, const AcksConfig& cfg, const Observations& obs) {
  const NodeId leader = obs.leader ? static_cast<NodeId>(obs.leader->value()) : f.a;
  const auto mode = cfg.power_loss ? std::optional<CrashMode>() : std::optional<CrashMode>(CrashMode::keep_all);
  NodeId down = -1;
  for (NodeId b = 1; b <= k_brokers; ++b)
    if (!w.is_up(b)) down = b;
  switch (f.kind) {
    case Fault::crash: {
      const NodeId victim = cfg.target_leader ? leader : f.a;
      // At most one broker down at a time: the cluster stays available.
      if (down < 0 && victim >= 1 && victim <= k_brokers) w.crash(victim, mode);
      else if (down >= 0) w.start(down);
      break;
    }
    case Fault::restart:
      if (down >= 0) w.start(down);
      break;
    case Fault::restart_zk: w.restart(Cluster::k_zk); break;
    case Fault::partition: w.network().partition(f.a, f.b); break;
    case Fault::partition_one_way: w.network().partition_one_way(f.a, f.b); break;
    case Fault::heal: w.network().heal_all(); break;
    case Fault::clog_leader:
      for (NodeId b = 1; b <= k_brokers; ++b)
        if (b != leader) w.network().clog(leader, b, f.extra);
      break;
    case Fault::reset: w.network().reset_connections(f.a, f.b); break;
  }
}

// Reads the partition from offset 0 to the leader's high watermark.
void read_all(Runtime& rt, Observations& obs) {
  RawClient c(rt, "reader");
  Random rng = rt.random("reader");
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto leader = discover(rt, c, rng, obs);
    if (!leader) {
      rt.sleep(500ms);
      continue;
    }
    std::map<std::int64_t, std::string> got;
    Offset next(0);
    bool complete = false;
    for (int i = 0; i < 2000; ++i) {
      auto f = fetch(c, *leader, k_topic, 0, next, 0);
      if (!f || f->error != ErrorCode::none) break;
      got.insert(f->values.begin(), f->values.end());
      next = f->next_offset;
      if (next >= f->high_watermark) {
        complete = true;
        break;
      }
    }
    if (complete) {
      obs.final_read = std::move(got);
      obs.read_done = true;
      return;
    }
    rt.sleep(500ms);
  }
}

void check(Observations& obs) {
  if (!obs.read_done) {
    obs.violation("liveness: the partition could not be read back after the heal");
    return;
  }
  for (const auto& [value, offset] : obs.acked) {
    auto it = obs.final_read.find(offset);
    if (it == obs.final_read.end() || it->second != value)
      obs.violation(fmt::format("lost-write: {} acknowledged at offset {} is {}", value, offset,
                                it == obs.final_read.end() ? std::string("missing") : "now " + it->second));
  }
  std::map<std::string, std::int64_t> where;
  for (const auto& [offset, value] : obs.final_read) {
    auto [it, fresh] = where.emplace(value, offset);
    if (!fresh) obs.violation(fmt::format("duplicate: {} at offsets {} and {}", value, it->second, offset));
  }
  for (const auto& img : obs.images) {
    for (const auto& [offset, value] : img.values) {
      if (offset >= img.high_watermark) break;
      auto it = obs.final_read.find(offset);
      if (it != obs.final_read.end() && it->second != value)
        obs.violation(fmt::format("replica-divergence: broker {} has {} at offset {} below its high "
                                  "watermark {}, the leader {}",
                                  img.broker, value, offset, img.high_watermark, it->second));
    }
  }
  if (obs.acked_after_heal == 0) obs.violation("liveness: no write acknowledged after the heal");
}

}  // namespace

RunReport run_acks(const AcksConfig& cfg) {
  Random swarm = Random(cfg.seed).derive("broker-acks.swarm");
  const double rate = cfg.fault_rate_per_s > 0 ? cfg.fault_rate_per_s : 0.3 + swarm.unit() * 0.9;
  WorldConfig wc;
  wc.seed = cfg.seed;
  wc.log_level = cfg.log_level;
  if (swarm.chance(0.5)) {
    wc.disk.fsync_latency_min = 200us;
    wc.disk.fsync_latency_max = std::chrono::microseconds(swarm.uniform(500, 5000));
  }
  Random fault_rng = Random(cfg.seed).derive("broker-acks.faults");
  const std::vector<Fault> schedule = make_schedule(fault_rng, cfg, rate);
  Observations obs;  // before the world: its fibers refer to it
  World world(wc);
  std::vector<std::pair<std::string, std::string>> settings = {
      {"min.insync.replicas", std::to_string(cfg.min_insync_replicas)},
      {"replica.lag.time.max.ms", "10000"},
  };
  settings.insert(settings.end(), cfg.settings.begin(), cfg.settings.end());
  Cluster cluster(world, ClusterConfig{k_brokers, settings});
  const Duration fault_phase = std::chrono::milliseconds(cfg.fault_phase_ms);
  const Duration end = fault_phase + std::chrono::milliseconds(cfg.heal_phase_ms);
  world.add_node("client", [&](Runtime& rt) {
    if (!cluster.create_topic(rt, k_topic, 1, 3)) return;
    rt.spawn("writer", [&rt, &cfg, &obs] { writer(rt, cfg, obs); });
    rt.sleep_until(MonoTime{end - 8s});
    obs.stop = true;
    rt.sleep(3s);
    read_all(rt, obs);
    obs.images = cluster.replicas_of(rt, k_topic, 0);
  });
  for (NodeId n : world.node_ids()) world.start(n);
  world.spawn("nemesis", [&] {
    Runtime& ctl = world.control();
    for (const Fault& f : schedule) {
      ctl.sleep_until(MonoTime{f.at});
      apply(world, f, cfg, obs);
    }
    ctl.sleep_until(MonoTime{fault_phase});
    world.network().heal_all();
    world.network().unclog_all();
    for (NodeId n : world.node_ids())
      if (!world.is_up(n)) world.start(n);
    obs.healed = true;
  });
  const RunResult rr = world.run(end);
  check(obs);
  RunReport report = make_report(cfg.name, cfg.seed, world, rr, obs.violations, cfg.save_disks_dir);
  report.details = {{"faults", schedule.size()},
                    {"attempts", obs.attempts},
                    {"acked", obs.acked.size()},
                    {"unknown", obs.unknown.size()},
                    {"failed", obs.failed},
                    {"acked_after_heal", obs.acked_after_heal},
                    {"records_read", obs.final_read.size()},
                    {"acks", cfg.acks}};
  return report;
}

RunReport run_acks_all(const RunOptions& o) {
  AcksConfig c;
  c.seed = o.seed;
  c.log_level = o.log_level;
  c.save_disks_dir = o.save_disks_dir;
  return run_acks(c);
}

RunReport run_acks_1_leader_crash(const RunOptions& o) {
  AcksConfig c;
  c.seed = o.seed;
  c.log_level = o.log_level;
  c.save_disks_dir = o.save_disks_dir;
  c.acks = 1;
  c.target_leader = true;
  c.name = "broker/acks-1-leader-crash";
  return run_acks(c);
}

}  // namespace samsa::scenarios::broker
