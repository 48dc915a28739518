// `samsa live`: the system on real sockets, real files and real time.
//
//   samsa live [--brokers N] [--base-port P] [--coordinator-port P] [--host H]
//              [--data-dir D] [--set KEY=VALUE ...] [--nemesis FILE.toml --seed N]
//              [--metrics-port P]
//       the embedded default: a coordinator (ZooKeeper's protocol) and N
//       brokers in this one process; prints `ready bootstrap=... zookeeper=...`
//       when clients can connect.
//   samsa live coordinator --config zoo.cfg
//       one coordinator process, configured by ZooKeeper's zoo.cfg keys.
//   samsa live broker --config server.properties
//       one broker process, configured by Kafka's server.properties keys;
//       zookeeper.connect may name samsa's coordinator or a real ZooKeeper.
//   samsa live workload --bootstrap HOST:PORT --scenario FILE --history OUT
//       a kafka scenario's clients against a running cluster (tools/live_workload.cpp).
//   samsa live nemesis --broker-config FILE ... --seed N --rounds R
//       broker processes under kill -9 and SIGSTOP (tools/live_process_nemesis.cpp).
//
// SIGTERM (or SIGINT) shuts down in order: brokers make a controlled
// shutdown (leadership moved away, logs flushed, session closed), then the
// coordinator; exit 0. A second SIGINT exits at once. Bad config values
// name FILE:LINE and exit 2; unknown keys warn.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "sim/live/live_world.h"
#include "system/broker/broker.h"
#include "system/broker/controlled_shutdown.h"
#include "system/coord/server.h"
#include "tools/commands.h"
#include "tools/live_config.h"
#include "tools/live_metrics.h"
#include "tools/live_nemesis.h"
#include "tools/live_workload.h"
#include "sim/live/http_endpoint.h"

namespace samsa::tools {

namespace {

using sim::LiveWorld;
using sim::NodeId;

// What one server of the process needs to start.
struct LiveOptions {
  std::string host = "127.0.0.1";
  std::uint16_t coordinator_port = 2181;
  std::uint16_t base_port = 9092;
  int brokers = 3;
  std::string data_dir;  // empty: a fresh temp dir
  std::string log_level = "info";
  std::string config;    // coordinator / broker --config
  std::vector<std::string> sets;  // --set KEY=VALUE for the embedded brokers
  std::string nemesis;            // --nemesis FILE.toml (embedded cluster)
  std::optional<std::uint64_t> seed;  // --seed: the nemesis schedule's (and the world's)
  std::optional<std::uint16_t> metrics_port;  // --metrics-port (embedded cluster)
  double lost_acks_fraction = 0.5;            // --lost-acks-fraction (the nemesis's lost-acks)
};


// How a server failed to start (set by its node's main, read after run()).
struct StartFailure {
  bool failed = false;
  int exit_code = 1;
  std::string message;
};

// Tracks what must be up before `ready` is printed, and prints it once:
// brokers in index order, whichever registered first.
class Readiness {
 public:
  Readiness(int brokers, std::string zookeeper) : brokers_(static_cast<std::size_t>(brokers)),
                                                  zookeeper_(std::move(zookeeper)) {}
  void coordinator_up(std::string address) {
    zookeeper_ = std::move(address);
    coordinator_ = true;
    maybe_print();
  }
  void broker_up(int index, std::string address) {
    brokers_.at(static_cast<std::size_t>(index)) = std::move(address);
    maybe_print();
  }
  void no_coordinator_here() { coordinator_ = true; }
  bool printed() const { return printed_; }

 private:
  void maybe_print() {
    if (printed_ || !coordinator_) return;
    std::string bootstrap;
    for (const auto& b : brokers_) {
      if (b.empty()) return;
      bootstrap += (bootstrap.empty() ? "" : ",") + b;
    }
    printed_ = true;
    std::string line = "ready";
    if (!bootstrap.empty()) line += " bootstrap=" + bootstrap;
    line += " zookeeper=" + zookeeper_;
    std::cout << line << std::endl;  // one line, flushed: scripts wait for it
  }
  std::vector<std::string> brokers_;
  std::string zookeeper_;
  bool coordinator_ = false;
  bool printed_ = false;
};

// Adds the coordinator node: system/coord's server on the node's runtime.
// `on_up` runs on the coordinator's main fiber once it listens, with its
// port (the embedded cluster starts its brokers there).
Result<NodeId, std::string> add_coordinator(LiveWorld& world, const CoordinatorSettings& s,
                                            Readiness& ready, StartFailure& failure,
                                            std::function<void(std::uint16_t)> on_up = {}) {
  sim::LiveNodeConfig nc;
  nc.name = "coordinator";
  nc.data_dir = s.data_dir;
  nc.listen_host = s.client_port_address;
  nc.max_frame_bytes = s.max_buffer_bytes;
  coord::ServerConfig sc;
  sc.port = s.client_port;
  sc.tick_ms = s.tick_ms;
  sc.min_session_timeout_ms = s.min_session_timeout_ms;
  sc.max_session_timeout_ms = s.max_session_timeout_ms;
  sc.snapshot_every_txns = s.snap_count;
  const std::string host = s.client_port_address;
  return world.add_node(nc, [&world, sc, host, &ready, &failure, on_up](sim::Runtime& rt) {
    auto server = coord::Server::start(rt, sc);
    if (!server) {
      failure = {true, server.error().starts_with("listen") ? 2 : 1,
                 fmt::format("coordinator on {}:{}: {}", host, sc.port, server.error())};
      world.request_stop();
      return;
    }
    ready.coordinator_up(fmt::format("{}:{}", host, (*server)->port()));
    if (on_up) on_up((*server)->port());
    // The server's actors own it; the coordinator needs no drain: every
    // write was fsynced before it was acknowledged.
  });
}

// Adds one broker node (not started): system/broker's server on the node's
// runtime, bound to the settings' listener and advertising the address
// clients must use; a drain hook for Kafka's controlled shutdown
// (broker/controlled_shutdown.h); and ready.broker_up once the broker
// serves and its metadata cache (the controller's UpdateMetadata) knows
// `cluster_size` brokers, so a client's first Metadata sees the cluster.
Result<NodeId, std::string> add_broker(LiveWorld& world, const BrokerSettings& s, int index,
                                       std::size_t cluster_size, Readiness& ready,
                                       StartFailure& failure, BrokerNodes* nodes = nullptr,
                                       RequestMetrics* requests = nullptr) {
  sim::LiveNodeConfig nc;
  if (requests) nc.frame_observer = requests->observer_for(s.config.broker_id);
  nc.name = fmt::format("broker-{}", s.config.broker_id);
  nc.data_dir = s.log_dir;
  nc.listen_host = s.bind_host;
  nc.max_frame_bytes = static_cast<std::size_t>(s.config.socket_request_max_bytes);
  nc.connection_limits = s.connection_limits;
  // A broker started again (a nemesis crash) binds the port it had, as a
  // Kafka broker with a fixed port would, so bootstrap lists stay valid.
  auto last_port = std::make_shared<std::uint16_t>(s.port);
  return world.add_node(nc, [&world, s, index, cluster_size, &ready, &failure, nodes,
                             last_port](sim::Runtime& rt) {
    auto bound = rt.net().listen(*last_port);
    if (!bound) {
      failure = {true, 2, fmt::format("broker {}: cannot listen on {}:{}: {}", s.config.broker_id,
                                      s.bind_host, s.port, sim::to_string(bound.error()))};
      world.request_stop();
      return;
    }
    broker::BrokerOptions options;
    options.coordinators = s.coordinators;
    options.listener = std::shared_ptr<sim::Listener>(std::move(*bound));
    *last_port = options.listener->port();
    options.advertised = broker::BrokerEndpoint{s.advertised_host,
                                                s.advertised_port.value_or(options.listener->port())};
    auto node = broker::start_broker(rt, s.config, options);
    std::weak_ptr<broker::BrokerNode> weak = node;
    if (nodes) (*nodes)[rt.node_id()] = weak;
    world.set_drain(rt.node_id(), [weak] {
      if (auto n = weak.lock()) broker::controlled_shutdown(*n);
    });
    while (!node->serving || node->replicas->metadata().brokers().size() < cluster_size)
      rt.sleep(std::chrono::milliseconds(10));
    ready.broker_up(index, fmt::format("{}:{}", options.advertised->host, options.advertised->port));
  });
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == 0) return "localhost";
  return name;
}

std::string fresh_data_dir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/samsa-live-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return {};
  return tmpl;
}

sim::LiveConfig world_config(const LiveOptions& o) {
  sim::LiveConfig c;
  c.seed = o.seed;
  c.log_level = o.log_level;
  c.handle_signals = true;
  return c;
}

int exit_code_of(const sim::LiveRunResult& r, const StartFailure& failure) {
  if (failure.failed) {
    std::cerr << "samsa live: " << failure.message << "\n";
    return failure.exit_code;
  }
  switch (r.reason) {
    case sim::LiveStop::requested: return 0;
    case sim::LiveStop::internal_error:
      std::cerr << "samsa live: internal error: " << r.message << "\n";
      return 4;
    case sim::LiveStop::idle:
      std::cerr << "samsa live: every server ended\n";
      return 1;
  }
  return 1;
}

// Reads a properties file; prints the error and returns nullopt.
std::optional<ConfigFile> read_config(const std::string& path) {
  auto file = read_properties(path);
  if (!file) {
    std::cerr << file.error() << "\n";
    return std::nullopt;
  }
  return std::move(*file);
}

void print_warnings(const std::vector<std::string>& warnings) {
  for (const auto& w : warnings) std::cerr << "warning: " << w << "\n";
}

int run_coordinator(const LiveOptions& o) {
  auto file = read_config(o.config);
  if (!file) return 2;
  auto parsed = parse_coordinator(*file);
  if (!parsed) {
    std::cerr << parsed.error() << "\n";
    return 2;
  }
  print_warnings(parsed->warnings);
  LiveWorld world(world_config(o));
  std::cout << "seed " << world.seed() << "\ndata-dir " << parsed->settings.data_dir << std::endl;
  Readiness ready(0, "");
  StartFailure failure;
  auto id = add_coordinator(world, parsed->settings, ready, failure);
  if (!id) {
    std::cerr << o.config << ": dataDir " << id.error() << "\n";
    return 2;
  }
  world.start(*id);
  return exit_code_of(world.run(), failure);
}

// One broker process: Kafka's server.properties.
int run_broker(const LiveOptions& o) {
  auto file = read_config(o.config);
  if (!file) return 2;
  auto parsed = parse_broker(*file, host_name());
  if (!parsed) {
    std::cerr << parsed.error() << "\n";
    return 2;
  }
  print_warnings(parsed->warnings);
  const BrokerSettings& s = parsed->settings;
  LiveWorld world(world_config(o));
  std::cout << "seed " << world.seed() << "\ndata-dir " << s.log_dir << std::endl;
  Readiness ready(1, s.config.zookeeper_connect);
  ready.no_coordinator_here();
  StartFailure failure;
  auto id = add_broker(world, s, 0, 1, ready, failure);
  if (!id) {
    std::cerr << o.config << ": log.dirs " << id.error() << "\n";
    return 2;
  }
  world.start(*id);
  return exit_code_of(world.run(), failure);
}

// The server.properties of broker `b` of the embedded cluster: its identity
// and addresses, defaults fit for a cluster of `brokers` (replication
// factors of min(3, brokers), as a production cluster's would be; no
// initial rebalance delay, as Kafka's own config/server.properties for
// development), then the user's --set KEY=VALUE lines.
Result<BrokerSettings, std::string> embedded_broker(const LiveOptions& o, const std::string& dir, int b) {
  const int rf = std::min(3, o.brokers);
  const int port = o.base_port == 0 ? 0 : o.base_port + b;
  ConfigFile file{"--set", {}};
  auto add = [&](std::string k, std::string v) { file.entries.push_back({std::move(k), std::move(v), 0}); };
  add("broker.id", std::to_string(b));
  add("listeners", fmt::format("PLAINTEXT://{}:{}", o.host, port));
  add("log.dirs", fmt::format("{}/broker-{}", dir, b));
  add("zookeeper.connect", fmt::format("{}:{}", o.host, o.coordinator_port == 0 ? 2181 : o.coordinator_port));
  add("default.replication.factor", std::to_string(rf));
  add("offsets.topic.replication.factor", std::to_string(rf));
  add("transaction.state.log.replication.factor", std::to_string(rf));
  add("transaction.state.log.min.isr", std::to_string(std::min(2, rf)));
  add("group.initial.rebalance.delay.ms", "0");
  for (std::size_t i = 0; i < o.sets.size(); ++i) {
    const auto eq = o.sets[i].find('=');
    if (eq == std::string::npos) return Err{"--set " + o.sets[i] + ": expected KEY=VALUE"};
    file.entries.push_back({o.sets[i].substr(0, eq), o.sets[i].substr(eq + 1), static_cast<int>(i + 1)});
  }
  auto parsed = parse_broker(file, host_name());
  if (!parsed) return Err{parsed.error()};
  print_warnings(parsed->warnings);
  return std::move(parsed->settings);
}

// Who a schedule's name is now: a node by name, the active controller, or
// the leader of the first partition of the first topic that is not internal.
std::optional<NodeId> resolve_target(LiveWorld& world, const BrokerNodes& brokers,
                                     const std::string& name) {
  for (NodeId id : world.node_ids())
    if (world.node(id).config.name == name) return id;
  for (const auto& [id, weak] : brokers) {
    auto b = weak.lock();
    if (!b || !world.is_up(id)) continue;
    if (name == "controller" && b->controller.is_active()) return id;
    if (name != "leader") continue;
    for (const auto& [tp, state] : b->replicas->metadata().partitions()) {
      if (tp.topic.starts_with("__") || state.leader.is_none()) continue;
      for (const auto& [other, w] : brokers)
        if (auto o = w.lock(); o && o->config.broker_id == state.leader.value()) return other;
      break;
    }
  }
  return std::nullopt;
}

// Starts the nemesis once the cluster printed its ready line; the schedule
// is printed first, one fault a line.
void start_nemesis_when_ready(LiveWorld& world, LiveNemesisPlan plan, const Readiness& ready,
                              const BrokerNodes& brokers, NodeId) {
  std::cout << fmt::format("nemesis schedule: {} faults over {} ms (rate {:.2f}/s)",
                           plan.schedule.size(), plan.fault_phase_ms, plan.rate_per_s)
            << std::endl;
  for (const auto& e : plan.schedule) std::cout << "nemesis plan " << scenarios::to_string(e) << std::endl;
  world.spawn("nemesis-start", [&world, plan = std::move(plan), &ready, &brokers]() mutable {
    while (!ready.printed()) world.control().sleep(std::chrono::milliseconds(20));
    start_live_nemesis(world, std::move(plan),
                       [&world, &brokers](const std::string& name) {
                         return resolve_target(world, brokers, name);
                       },
                       std::cout);
  });
}

int run_embedded(const LiveOptions& o) {
  std::string dir = o.data_dir.empty() ? fresh_data_dir() : o.data_dir;
  if (dir.empty()) {
    std::cerr << "samsa live: cannot make a temp data dir\n";
    return 2;
  }
  if (o.base_port != 0 && o.base_port + o.brokers - 1 > 65535) {
    std::cerr << "samsa live: --base-port " << o.base_port << " leaves no room for " << o.brokers << " brokers\n";
    return 2;
  }
  std::vector<BrokerSettings> brokers;
  for (int b = 0; b < o.brokers; ++b) {
    auto s = embedded_broker(o, dir, b);
    if (!s) {
      std::cerr << "samsa live: " << s.error() << "\n";
      return 2;
    }
    brokers.push_back(std::move(*s));
  }
  LiveWorld world(world_config(o));
  // The nemesis schedule is the world's seed's (printed: --seed replays it).
  std::optional<LiveNemesisPlan> plan;
  if (!o.nemesis.empty()) {
    std::vector<std::string> names;
    for (const auto& b : brokers) names.push_back(fmt::format("broker-{}", b.config.broker_id));
    auto p = plan_live_nemesis(o.nemesis, world.seed(), names);
    if (!p) {
      std::cerr << "samsa live: " << p.error() << "\n";
      return 2;
    }
    plan = std::move(*p);
    plan->lost_acks_fraction = o.lost_acks_fraction;
  }
  std::cout << "seed " << world.seed() << "\ndata-dir " << dir << std::endl;
  Readiness ready(o.brokers, "");
  BrokerNodes broker_nodes;
  StartFailure failure;

  std::unique_ptr<RequestMetrics> requests;
  if (o.metrics_port) requests = std::make_unique<RequestMetrics>();
  CoordinatorSettings cs;
  cs.data_dir = dir + "/coordinator";
  cs.client_port = o.coordinator_port;
  cs.client_port_address = o.host;
  cs.tick_ms = 2000;
  // Brokers start once the coordinator they register with listens (so
  // --coordinator-port 0 works), and are shut down before it:
  // LiveWorld::run stops nodes in reverse order of adding them.
  bool started = false;
  auto start_brokers = [&](std::uint16_t port) {
    if (std::exchange(started, true)) return;
    for (std::size_t b = 0; b < brokers.size(); ++b) {
      brokers[b].coordinators = {sim::Address{o.host, port}};
      auto id = add_broker(world, brokers[b], static_cast<int>(b), brokers.size(), ready, failure,
                           &broker_nodes, requests.get());
      if (!id) {
        failure = {true, 2, fmt::format("broker {}: {}", b, id.error())};
        world.request_stop();
        return;
      }
      world.start(*id);
    }
  };
  auto coordinator = add_coordinator(world, cs, ready, failure, start_brokers);
  if (!coordinator) {
    std::cerr << "samsa live: " << coordinator.error() << "\n";
    return 2;
  }
  world.start(*coordinator);
  if (plan) start_nemesis_when_ready(world, std::move(*plan), ready, broker_nodes, *coordinator);
  // Declared after the world: closed before it goes.
  std::unique_ptr<sim::HttpEndpoint> metrics;
  if (o.metrics_port) {
    auto m = sim::HttpEndpoint::open(world.io(), o.host, *o.metrics_port,
                                     [&world, &broker_nodes, &requests] {
                                       return render_metrics(world, broker_nodes, requests.get());
                                     });
    if (!m) {
      std::cerr << "samsa live: --metrics-port: " << m.error() << "\n";
      return 2;
    }
    metrics = std::move(*m);
    std::cout << "metrics http://" << o.host << ":" << metrics->port() << "/metrics" << std::endl;
  }
  const auto result = world.run();
  metrics.reset();
  return exit_code_of(result, failure);
}

}  // namespace

Command add_live_command(CLI::App& app) {
  auto opts = std::make_shared<LiveOptions>();
  const auto levels = CLI::IsMember({"off", "error", "warn", "info", "debug", "trace"});
  auto* live = app.add_subcommand("live", "run on real sockets, real files and real time");
  live->add_option("--brokers", opts->brokers, "brokers to start (default 3)")
      ->check(CLI::Range(0, 64));
  live->add_option("--base-port", opts->base_port,
                   "the first broker's port; the others follow (default 9092; 0: each picks a free one)");
  live->add_option("--coordinator-port", opts->coordinator_port,
                   "the coordinator's port (default 2181; 0 picks a free one)");
  live->add_option("--host", opts->host, "the address to listen on and advertise (default 127.0.0.1)");
  live->add_option("--data-dir", opts->data_dir, "where servers keep their files (default: a fresh temp dir)");
  live->add_option("--set", opts->sets, "KEY=VALUE: a server.properties key for every broker (repeatable)");
  live->add_option("--log-level", opts->log_level, "off, error, warn, info, debug or trace")->check(levels);
  live->add_option("--nemesis", opts->nemesis,
                   "a scenario file whose [faults] and [[nemesis]] are applied to the cluster "
                   "(crash, restart, partition, reset), printed as they happen");
  live->add_option("--lost-acks-fraction", opts->lost_acks_fraction,
                   "the fraction of its clients' responses a broker loses during a lost-acks fault (default 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  live->add_option("--metrics-port", opts->metrics_port,
                   "serve Prometheus metrics (Kafka's names) on --host:P/metrics (0: a free port, printed)");
  live->add_option("--seed", opts->seed, "the seed of the nemesis schedule and the random streams "
                                         "(default: from the OS, printed)");
  auto* coord = live->add_subcommand("coordinator", "one coordinator, configured by a zoo.cfg");
  coord->add_option("--config", opts->config, "ZooKeeper-style config file")->required();
  coord->add_option("--log-level", opts->log_level, "off, error, warn, info, debug or trace")->check(levels);
  auto* broker = live->add_subcommand("broker", "one broker, configured by Kafka's server.properties");
  broker->add_option("--config", opts->config, "server.properties")->required();
  broker->add_option("--log-level", opts->log_level, "off, error, warn, info, debug or trace")->check(levels);
  Command workload = add_live_workload_command(*live);
  Command nemesis = add_live_nemesis_command(*live);
  return {live, [opts, coord, broker, workload, nemesis] {
            if (coord->parsed()) return run_coordinator(*opts);
            if (broker->parsed()) return run_broker(*opts);
            if (workload.app->parsed()) return workload.run();
            if (nemesis.app->parsed()) return nemesis.run();
            return run_embedded(*opts);
          }};
}

}  // namespace samsa::tools
