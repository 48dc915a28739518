#include "scenarios/coord/controller_election.h"

#include <fmt/format.h>

#include <map>

#include "scenarios/report.h"
#include "sim/world/world.h"
#include "system/coord/recipes.h"
#include "system/coord/server.h"

namespace samsa::scenarios::coord {

namespace {

using namespace samsa::sim;
using namespace samsa::coord;

constexpr int k_brokers = 3;
constexpr NodeId k_zk = 0;

struct Claim {
  std::int32_t broker = 0;
  std::int32_t epoch = 0;
  std::int64_t at_ms = 0;  // world virtual time
};

// What the scenario observes; lives outside the system under test.
struct Observations {
  std::vector<Claim> claims;
  std::map<std::int32_t, std::int32_t> holding;  // broker -> epoch it believes it holds
  std::map<std::int32_t, std::int32_t> epoch_seen;  // broker -> highest epoch it read
  std::uint64_t sessions = 0;
  std::uint64_t expiries = 0;
  std::shared_ptr<Server> server;  // the coordinator's current incarnation
  std::vector<std::string> violations;
  void violation(std::string v) {
    if (violations.size() < 100) violations.push_back(std::move(v));
  }
};

struct Fault {
  Duration at;
  enum Kind { crash_broker, restart_broker, restart_coordinator, partition, heal, reset, clog } kind;
  NodeId node = 1;
};

// Reads /controller_epoch. With one coordinator that keeps every
// acknowledged write, a broker never reads an epoch below one it read before.
void observe_epoch(Runtime& rt, Client& client, std::int32_t id, Observations& obs) {
  auto d = client.get_data(std::string(kafka::k_controller_epoch));
  if (!d) return;
  const std::int32_t epoch = std::atoi(std::string(as_chars(d->data)).c_str());
  std::int32_t& seen = obs.epoch_seen[id];
  if (epoch < seen)
    obs.violation(fmt::format("broker {} read controller epoch {} after reading {} ({})", id,
                              epoch, seen, rt.node_name()));
  seen = std::max(seen, epoch);
}

// One session of one broker: register, then take part in elections until
// the session ends.
void run_session(World& w, Runtime& rt, Client& client, std::int32_t id, Observations& obs,
                 const ControllerElectionConfig& cfg, std::int32_t& last_own_epoch) {
  (void)create_kafka_layout(client);
  (void)register_broker(client, id, rt.node_name(), 9092, rt.wall_ms());
  ElectionOptions options;
  options.conditional_epoch = !cfg.stale_epoch_bug;
  Event wake(rt.parker());
  client.on_state([&wake](SessionState) { wake.set(); });
  while (client.state() != SessionState::expired && client.state() != SessionState::closed) {
    wake.reset();
    auto e = client.exists(std::string(kafka::k_controller),
                           [&wake](const WatchedEvent&) { wake.set(); });
    if (!e && e.error() == Code::no_node && !obs.holding.count(id)) {
      options.cached_epoch = last_own_epoch;
      auto r = try_elect_controller(client, id, rt.wall_ms(), options);
      if (r && r->elected) {
        last_own_epoch = r->epoch;
        obs.holding[id] = r->epoch;
        obs.claims.push_back({id, r->epoch, to_ms(w.now())});
        rt.log().info("broker {} is controller, epoch {}", id, r->epoch);
      }
      continue;
    }
    observe_epoch(rt, client, id, obs);
    wake.wait(rt.deadline_after(1s), "election.wake");
  }
  client.on_state({});
}

void broker(World& w, Runtime& rt, std::int32_t id, Observations& obs,
            const ControllerElectionConfig& cfg) {
  Random rng = rt.random("broker");
  // A crash unwinds this fiber: the broker then holds nothing.
  struct Resign {
    Observations& obs;
    std::int32_t id;
    ~Resign() { obs.holding.erase(id); }
  } resign{obs, id};
  std::int32_t last_own_epoch = 0;  // what the buggy election remembers
  for (;;) {
    auto client = Client::start(rt, ClientConfig{{{"zk", 2181}}, cfg.session_timeout_ms});
    ++obs.sessions;
    if (client->wait_connected(rt.deadline_after(10s))) run_session(w, rt, *client, id, obs, cfg, last_own_epoch);
    if (client->state() == SessionState::expired) ++obs.expiries;
    obs.holding.erase(id);  // the session is gone: so is any controllership
    client->close();
    rt.sleep(rng.uniform(Duration(10ms), Duration(100ms)));
  }
}

std::vector<Fault> make_schedule(Random& rng, double rate_per_s, Duration phase) {
  std::vector<Fault> out;
  std::vector<bool> up(k_brokers + 1, true);
  for (Duration t{0};;) {
    t += rng.exponential(Duration(static_cast<std::int64_t>(1e9 / rate_per_s)));
    if (t >= phase) break;
    Fault f{t, Fault::heal, static_cast<NodeId>(rng.uniform(1, k_brokers))};
    switch (rng.uniform(0, 6)) {
      case 0: f.kind = up[f.node] ? Fault::crash_broker : Fault::restart_broker; break;
      case 1: f.kind = Fault::restart_coordinator; break;
      case 2:
      case 3: f.kind = Fault::partition; break;
      case 4: f.kind = Fault::heal; break;
      case 5: f.kind = Fault::reset; break;
      default: f.kind = Fault::clog; break;
    }
    if (f.kind == Fault::crash_broker) up[f.node] = false;
    if (f.kind == Fault::restart_broker) up[f.node] = true;
    out.push_back(f);
  }
  return out;
}

void apply(World& w, const Fault& f) {
  switch (f.kind) {
    case Fault::crash_broker: w.crash(f.node); break;
    case Fault::restart_broker: w.start(f.node); break;
    case Fault::restart_coordinator: w.restart(k_zk); break;
    case Fault::partition: w.network().partition(f.node, k_zk); break;
    case Fault::heal: w.network().heal(f.node, k_zk); break;
    case Fault::reset: w.network().reset_connections(f.node, k_zk); break;
    case Fault::clog: w.network().clog(f.node, k_zk, 300ms); break;
  }
}

void check_safety(Observations& obs) {
  std::map<std::int32_t, std::int32_t> holder_of;  // epoch -> broker
  std::int32_t last = 0;
  for (const Claim& c : obs.claims) {
    auto [it, fresh] = holder_of.emplace(c.epoch, c.broker);
    if (!fresh && it->second != c.broker)
      obs.violation(fmt::format("epoch {} held by broker {} and broker {} (at {} ms)", c.epoch,
                                it->second, c.broker, c.at_ms));
    if (c.epoch <= last)
      obs.violation(fmt::format("epoch went from {} to {} (broker {} at {} ms)", last, c.epoch,
                                c.broker, c.at_ms));
    last = std::max(last, c.epoch);
  }
}

void check_liveness(Observations& obs, std::int64_t bound_ms) {
  std::int32_t max_epoch = 0;
  for (const Claim& c : obs.claims) max_epoch = std::max(max_epoch, c.epoch);
  const std::string when = fmt::format("{} ms after the heal", bound_ms);
  if (obs.holding.size() != 1) {
    obs.violation(fmt::format("liveness: {} brokers believe they are controller {}",
                              obs.holding.size(), when));
    return;
  }
  const auto [broker, epoch] = *obs.holding.begin();
  if (epoch != max_epoch)
    obs.violation(fmt::format("liveness: controller {} holds epoch {}, not the latest {}", broker,
                              epoch, max_epoch));
  const Znode* node = obs.server ? obs.server->state().find(kafka::k_controller) : nullptr;
  const auto named = node ? kafka::parse_controller(as_chars(node->data))
                          : Result<kafka::ControllerRegistration, kafka::ZnodeError>(
                                Err{kafka::ZnodeError{"no /controller"}});
  if (!named || named->broker_id != broker)
    obs.violation(fmt::format("liveness: /controller does not name broker {} {}", broker, when));
}

}  // namespace

RunReport run_controller_election(const RunOptions& options) {
  ControllerElectionConfig c;
  c.seed = options.seed;
  c.log_level = options.log_level;
  c.save_disks_dir = options.save_disks_dir;
  return run_controller_election_with(c);
}

RunReport run_controller_election_with(const ControllerElectionConfig& config) {
  Random swarm = Random(config.seed).derive("controller-election.swarm");
  const double rate =
      config.fault_rate_per_s > 0 ? config.fault_rate_per_s : 0.3 + swarm.unit() * 1.2;
  WorldConfig wc;
  wc.seed = config.seed;
  wc.log_level = config.log_level;
  if (swarm.chance(0.5)) {  // slow fsyncs: coordinator crashes land inside them
    wc.disk.fsync_latency_min = 200us;
    wc.disk.fsync_latency_max = std::chrono::microseconds(swarm.uniform(500, 5000));
  }
  Random fault_rng = Random(config.seed).derive("controller-election.faults");
  const Duration fault_phase = std::chrono::milliseconds(config.fault_phase_ms);
  const std::vector<Fault> schedule = make_schedule(fault_rng, rate, fault_phase);
  Observations obs;  // declared before the world: its fibers refer to it
  World world(wc);
  world.add_node("zk", [&obs](Runtime& rt) {
    auto s = Server::start(rt, ServerConfig{});
    SAMSA_ASSERT(s.ok(), "the coordinator recovers from its own disk");
    obs.server = *s;
  });
  world.start(k_zk);
  for (std::int32_t b = 1; b <= k_brokers; ++b) {
    world.add_node(fmt::format("b{}", b), [&world, &obs, &config, b](Runtime& rt) {
      rt.spawn("election", [&world, &rt, &obs, &config, b] { broker(world, rt, b, obs, config); });
    });
    world.start(b);
  }
  const Duration end = fault_phase + std::chrono::milliseconds(config.liveness_bound_ms);
  world.spawn("faults", [&] {
    Runtime& ctl = world.control();
    for (const Fault& f : schedule) {
      ctl.sleep_until(MonoTime{f.at});
      apply(world, f);
    }
    ctl.sleep_until(MonoTime{fault_phase});
    world.network().heal_all();
    world.network().unclog_all();
    for (NodeId n : world.node_ids())
      if (!world.is_up(n)) world.start(n);
    ctl.sleep(std::chrono::milliseconds(config.liveness_bound_ms) - 1ms);
    check_liveness(obs, config.liveness_bound_ms);
  });
  const RunResult rr = world.run(end);
  check_safety(obs);

  RunReport report = make_report("coord/controller-election", config.seed, world, rr,
                                 obs.violations, config.save_disks_dir);
  std::int32_t max_epoch = 0;
  for (const Claim& c : obs.claims) max_epoch = std::max(max_epoch, c.epoch);
  report.details = {{"faults", schedule.size()},
                    {"elections", obs.claims.size()},
                    {"max_epoch", max_epoch},
                    {"sessions", obs.sessions},
                    {"expiries", obs.expiries},
                    {"coordinator_txns", obs.server ? obs.server->stats().txns : 0},
                    {"stale_epoch_bug", config.stale_epoch_bug}};
  obs.server.reset();  // its connections belong to the world: let go while it lives
  return report;
}

}  // namespace samsa::scenarios::coord
