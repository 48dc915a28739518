#include "scenarios/selftest/pingpong.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "scenarios/report.h"
#include "sim/world/world.h"

namespace samsa::scenarios::selftest {

namespace {

using namespace samsa::sim;

constexpr std::uint16_t k_port = 9000;
constexpr std::uint32_t k_ping = 0x50494e47;  // "PING"

struct Message {
  std::uint32_t magic = k_ping;
  std::int32_t from = 0;
  std::int64_t seq = 0;
};

Bytes encode(const Message& m, std::size_t padding) {
  Bytes b(4 + 16 + padding, 0);
  auto put = [&b](std::size_t at, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * (n - 1 - i)));
  };
  put(4, m.magic, 4);
  put(8, static_cast<std::uint32_t>(m.from), 4);
  put(12, static_cast<std::uint64_t>(m.seq), 8);
  put_frame_size(b, 0);
  return b;
}

std::optional<Message> decode(ByteView b) {
  if (b.size() < 20) return std::nullopt;
  auto get = [&b](std::size_t at, int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | b[at + i];
    return v;
  };
  Message m;
  m.magic = static_cast<std::uint32_t>(get(4, 4));
  m.from = static_cast<std::int32_t>(get(8, 4));
  m.seq = static_cast<std::int64_t>(get(12, 8));
  if (m.magic != k_ping) return std::nullopt;
  return m;
}

// What the scenario observes; lives outside the system under test.
struct Observations {
  std::vector<std::string> violations;
  std::set<std::pair<NodeId, NodeId>> round_trip_since_heal;  // directed pairs
  std::uint64_t round_trips = 0;
  std::uint64_t connections = 0;
  void violation(std::string v) {
    if (violations.size() < 100) violations.push_back(std::move(v));
  }
};

struct Fault {
  Duration at;
  enum Kind { crash, restart, partition, partition_one_way, heal, reset, clog } kind;
  NodeId a = 0;
  NodeId b = 0;
};

void serve_connection(Runtime& rt, Connection& conn, Observations& obs, bool dup_bug) {
  Random rng = rt.random("server");
  std::int64_t expected = 1;
  for (;;) {
    auto frame = conn.recv();
    if (!frame) return;
    auto m = decode(*frame);
    if (!m) {
      obs.violation(fmt::format("{} got a malformed frame on connection {}", rt.node_name(),
                                conn.id()));
      return;
    }
    if (m->seq != expected)
      obs.violation(fmt::format("server {} connection {}: got seq {} expected {}",
                                rt.node_name(), conn.id(), m->seq, expected));
    expected = m->seq + 1;
    if (!conn.send(*frame)) return;
    if (dup_bug && rng.chance(0.01) && !conn.send(*frame)) return;
  }
}

void server(Runtime& rt, Observations& obs, bool dup_bug) {
  auto listener = rt.net().listen(k_port);
  SAMSA_ASSERT(listener.ok(), "pingpong port taken");
  for (;;) {
    auto conn = (*listener)->accept();
    if (!conn) return;
    auto shared = std::shared_ptr<Connection>(std::move(*conn));
    rt.spawn("serve", [&rt, &obs, shared, dup_bug] { serve_connection(rt, *shared, obs, dup_bug); });
  }
}

void client(Runtime& rt, const std::string& peer, NodeId peer_id, Observations& obs) {
  Random rng = rt.random("client:" + peer);
  for (;;) {
    auto conn = rt.net().connect({peer, k_port}, rt.deadline_after(1s));
    if (!conn) {
      rt.log().debug("connect to {} failed: {}", peer, to_string(conn.error()));
      rt.sleep(rng.uniform(Duration(50ms), Duration(200ms)));
      continue;
    }
    ++obs.connections;
    rt.log().debug("connected to {} (connection {})", peer, (*conn)->id());
    for (std::int64_t seq = 1;; ++seq) {
      Message m{k_ping, rt.node_id(), seq};
      if (!(*conn)->send(encode(m, rng.uniform(0, 200)))) break;
      auto reply = (*conn)->recv(rt.deadline_after(1s));
      if (!reply) break;
      auto r = decode(*reply);
      if (!r || r->seq != seq) {
        obs.violation(fmt::format("client {} -> {} connection {}: echo seq {} expected {}",
                                  rt.node_name(), peer, (*conn)->id(), r ? r->seq : -1, seq));
        break;
      }
      ++obs.round_trips;
      obs.round_trip_since_heal.insert({rt.node_id(), peer_id});
      rt.sleep(rng.uniform(Duration(0), Duration(20ms)));
    }
    (*conn)->close();
    rt.sleep(rng.uniform(Duration(10ms), Duration(100ms)));
  }
}

std::vector<Fault> make_schedule(Random& rng, int nodes, double rate_per_s, Duration phase) {
  std::vector<Fault> out;
  std::vector<bool> up(static_cast<std::size_t>(nodes), true);
  Duration t{0};
  for (;;) {
    t += rng.exponential(Duration(static_cast<std::int64_t>(1e9 / rate_per_s)));
    if (t >= phase) break;
    Fault f{t, Fault::crash};
    f.a = static_cast<NodeId>(rng.index(static_cast<std::size_t>(nodes)));
    f.b = static_cast<NodeId>((f.a + 1 + static_cast<NodeId>(rng.index(nodes - 1))) % nodes);
    switch (rng.uniform(0, 5)) {
      case 0: f.kind = up[f.a] ? Fault::crash : Fault::restart; break;
      case 1: f.kind = Fault::partition; break;
      case 2: f.kind = Fault::partition_one_way; break;
      case 3: f.kind = Fault::heal; break;
      case 4: f.kind = Fault::reset; break;
      default: f.kind = Fault::clog; break;
    }
    if (f.kind == Fault::crash) up[f.a] = false;
    if (f.kind == Fault::restart) up[f.a] = true;
    out.push_back(f);
  }
  return out;
}

void apply(World& w, const Fault& f) {
  auto& net = w.network();
  switch (f.kind) {
    case Fault::crash: w.crash(f.a); break;
    case Fault::restart: w.start(f.a); break;
    case Fault::partition: net.partition(f.a, f.b); break;
    case Fault::partition_one_way: net.partition_one_way(f.a, f.b); break;
    case Fault::heal: net.heal(f.a, f.b); break;
    case Fault::reset: net.reset_connections(f.a, f.b); break;
    case Fault::clog: net.clog(f.a, f.b, 50ms); break;
  }
}

const char* fault_name(Fault::Kind k) {
  switch (k) {
    case Fault::crash: return "crash";
    case Fault::restart: return "restart";
    case Fault::partition: return "partition";
    case Fault::partition_one_way: return "partition_one_way";
    case Fault::heal: return "heal";
    case Fault::reset: return "reset";
    case Fault::clog: return "clog";
  }
  return "?";
}

}  // namespace

RunReport run_pingpong(const RunOptions& options) {
  PingpongConfig c;
  c.seed = options.seed;
  c.log_level = options.log_level;
  c.save_disks_dir = options.save_disks_dir;
  return run_pingpong_with(c);
}

RunReport run_pingpong_with(const PingpongConfig& config) {
  Random swarm = Random(config.seed).derive("pingpong.swarm");
  const int nodes = config.nodes > 0 ? config.nodes : static_cast<int>(swarm.uniform(3, 5));
  const double rate = config.fault_rate_per_s > 0 ? config.fault_rate_per_s
                                                  : 0.5 + swarm.unit() * 2.5;
  WorldConfig wc;
  wc.seed = config.seed;
  wc.log_level = config.log_level;
  wc.buggify = swarm.chance(0.5);
  const Duration fault_phase = std::chrono::milliseconds(config.fault_phase_ms);
  Random fault_rng = Random(config.seed).derive("pingpong.faults");
  const std::vector<Fault> schedule = make_schedule(fault_rng, nodes, rate, fault_phase);
  // Declared before the world: its fibers refer to them until it is gone.
  Observations obs;
  std::vector<std::string> names;
  for (int i = 0; i < nodes; ++i) names.push_back(fmt::format("n{}", i + 1));
  World world(wc);
  for (int i = 0; i < nodes; ++i) {
    world.add_node(names[i], [&obs, &names, &config, i](Runtime& rt) {
      rt.spawn("server", [&rt, &obs, &config] { server(rt, obs, config.inject_duplicate_bug); });
      for (int j = 0; j < static_cast<int>(names.size()); ++j) {
        if (j == i) continue;
        rt.spawn("client:" + names[j], [&rt, &names, &obs, j] { client(rt, names[j], j, obs); });
      }
    });
    world.start(i);
  }

  const Duration heal_at = fault_phase;
  const Duration end = heal_at + std::chrono::milliseconds(config.heal_phase_ms);

  world.spawn("faults", [&] {
    Runtime& ctl = world.control();
    for (const Fault& f : schedule) {
      ctl.sleep_until(MonoTime{f.at});
      world.log().info("fault {} {} {}", fault_name(f.kind), world.node(f.a).name,
                       world.node(f.b).name);
      apply(world, f);
    }
    ctl.sleep_until(MonoTime{heal_at});
    world.log().info("heal everything");
    world.network().heal_all();
    world.network().unclog_all();
    for (NodeId n : world.node_ids())
      if (!world.is_up(n)) world.start(n);
    obs.round_trip_since_heal.clear();
    ctl.sleep(std::chrono::milliseconds(config.liveness_bound_ms));
    for (int a = 0; a < nodes; ++a)
      for (int b = 0; b < nodes; ++b)
        if (a != b && !obs.round_trip_since_heal.count({a, b}))
          obs.violations.push_back(fmt::format(
              "liveness: no round trip {} -> {} within {} ms after the heal", names[a],
              names[b], config.liveness_bound_ms));
  });

  const RunResult rr = world.run(end);
  RunReport report = make_report("selftest/pingpong", config.seed, world, rr, obs.violations,
                                 config.save_disks_dir);
  report.details = {{"nodes", nodes},
                    {"faults", schedule.size()},
                    {"round_trips", obs.round_trips},
                    {"connections", obs.connections},
                    {"frames_delivered", world.network().frames_delivered()},
                    {"buggify", wc.buggify}};
  return report;
}

}  // namespace samsa::scenarios::selftest
