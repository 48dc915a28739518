// `samsa live`: the system on real sockets, real files and real time.
//
//   samsa live [--brokers N] [--base-port P] [--coordinator-port P] [--host H] [--data-dir D]
//       the embedded default: a coordinator (ZooKeeper's protocol) and N
//       brokers in this one process; prints `ready ...` when clients can
//       connect.
//   samsa live coordinator --config zoo.cfg
//       one coordinator process, configured by ZooKeeper's zoo.cfg keys.
//
// SIGTERM (or SIGINT) shuts down in order (brokers drain, then the
// coordinator) and exits 0; a second SIGINT exits at once. Bad config values
// name FILE:LINE and exit 2.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "sim/live/live_world.h"
#include "system/coord/server.h"
#include "tools/commands.h"
#include "tools/live_config.h"

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
  std::string config;    // coordinator --config
};

// How a server failed to start (set by its node's main, read after run()).
struct StartFailure {
  bool failed = false;
  int exit_code = 1;
  std::string message;
};

// Tracks what must be up before `ready` is printed, and prints it once.
class Readiness {
 public:
  explicit Readiness(int pending) : pending_(pending) {}
  void coordinator_up(std::string address) {
    zookeeper_ = std::move(address);
    arrive();
  }
  void broker_up(std::string address) {
    bootstrap_ += (bootstrap_.empty() ? "" : ",") + address;
    arrive();
  }

 private:
  void arrive() {
    if (--pending_ != 0) return;
    std::string line = "ready";
    if (!bootstrap_.empty()) line += " bootstrap=" + bootstrap_;
    line += " zookeeper=" + zookeeper_;
    std::cout << line << std::endl;  // one line, flushed: scripts wait for it
  }
  int pending_;
  std::string bootstrap_;
  std::string zookeeper_;
};

// Adds the coordinator node: system/coord's server on the node's runtime.
Result<NodeId, std::string> add_coordinator(LiveWorld& world, const CoordinatorSettings& s,
                                            Readiness& ready, StartFailure& failure) {
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
  return world.add_node(nc, [&world, sc, host, &ready, &failure](sim::Runtime& rt) {
    auto server = coord::Server::start(rt, sc);
    if (!server) {
      failure = {true, server.error().starts_with("listen") ? 2 : 1,
                 fmt::format("coordinator on {}:{}: {}", host, sc.port, server.error())};
      world.request_stop();
      return;
    }
    ready.coordinator_up(fmt::format("{}:{}", host, (*server)->port()));
    // The server's actors own it; the coordinator needs no drain: every
    // write was fsynced before it was acknowledged.
  });
}

// --- brokers plug in here ------------------------------------------------------
// A broker of the embedded cluster: what its server.properties would say.
struct BrokerPlan {
  int broker_id = 0;              // broker.id
  std::string host;               // listeners=PLAINTEXT://host:port
  std::uint16_t port = 0;
  std::string data_dir;           // log.dirs (the node's disk root)
  std::string zookeeper_connect;  // zookeeper.connect
};

// Adds one broker node to the world (not started): system/broker's server
// on the node's runtime, a drain hook for Kafka's controlled shutdown
// (world.set_drain: move leadership away, flush logs), and
// ready.broker_up("host:port") once it is registered in /brokers/ids.
// nullptr until system/broker exists; `samsa live broker --config
// server.properties` will read its plan with read_properties().
using StartBroker = Result<NodeId, std::string> (*)(LiveWorld&, const BrokerPlan&, Readiness&,
                                                    StartFailure&);
constexpr StartBroker k_start_broker = nullptr;

std::string fresh_data_dir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/samsa-live-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return {};
  return tmpl;
}

sim::LiveConfig world_config(const LiveOptions& o) {
  sim::LiveConfig c;
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

int run_coordinator(const LiveOptions& o) {
  auto file = read_properties(o.config);
  if (!file) {
    std::cerr << file.error() << "\n";
    return 2;
  }
  auto parsed = parse_coordinator(*file);
  if (!parsed) {
    std::cerr << parsed.error() << "\n";
    return 2;
  }
  for (const auto& w : parsed->warnings) std::cerr << "warning: " << w << "\n";
  LiveWorld world(world_config(o));
  std::cout << "seed " << world.seed() << "\ndata-dir " << parsed->settings.data_dir << std::endl;
  Readiness ready(1);
  StartFailure failure;
  auto id = add_coordinator(world, parsed->settings, ready, failure);
  if (!id) {
    std::cerr << o.config << ": dataDir " << id.error() << "\n";
    return 2;
  }
  world.start(*id);
  return exit_code_of(world.run(), failure);
}

int run_embedded(const LiveOptions& o) {
  std::string dir = o.data_dir.empty() ? fresh_data_dir() : o.data_dir;
  if (dir.empty()) {
    std::cerr << "samsa live: cannot make a temp data dir\n";
    return 2;
  }
  LiveWorld world(world_config(o));
  std::cout << "seed " << world.seed() << "\ndata-dir " << dir << std::endl;
  const int brokers = k_start_broker != nullptr ? o.brokers : 0;
  if (o.brokers > 0 && k_start_broker == nullptr)
    std::cerr << "samsa live: brokers are not part of this build yet (system/broker); "
                 "running the coordinator only\n";
  Readiness ready(1 + brokers);
  StartFailure failure;
  CoordinatorSettings cs;
  cs.data_dir = dir + "/coordinator";
  cs.client_port = o.coordinator_port;
  cs.client_port_address = o.host;
  cs.tick_ms = 2000;
  auto coordinator = add_coordinator(world, cs, ready, failure);
  if (!coordinator) {
    std::cerr << "samsa live: " << coordinator.error() << "\n";
    return 2;
  }
  world.start(*coordinator);
  // Brokers start after the coordinator they register with (and are shut
  // down before it: LiveWorld::run stops nodes in reverse order). With
  // --coordinator-port 0 they will need the port the coordinator got: start
  // them from its main, once it is up.
  for (int b = 0; b < brokers; ++b) {
    const BrokerPlan plan{b, o.host, static_cast<std::uint16_t>(o.base_port + b),
                          fmt::format("{}/broker-{}", dir, b),
                          fmt::format("{}:{}", o.host, o.coordinator_port)};
    auto id = k_start_broker(world, plan, ready, failure);
    if (!id) {
      std::cerr << "samsa live: broker " << b << ": " << id.error() << "\n";
      return 2;
    }
    world.start(*id);
  }
  return exit_code_of(world.run(), failure);
}

}  // namespace

Command add_live_command(CLI::App& app) {
  auto opts = std::make_shared<LiveOptions>();
  auto* live = app.add_subcommand("live", "run on real sockets, real files and real time");
  live->add_option("--brokers", opts->brokers, "brokers to start (default 3)")
      ->check(CLI::Range(0, 64));
  live->add_option("--base-port", opts->base_port, "the first broker's port (default 9092)");
  live->add_option("--coordinator-port", opts->coordinator_port,
                   "the coordinator's port (default 2181; 0 picks a free one)");
  live->add_option("--host", opts->host, "the address to listen on (default 127.0.0.1)");
  live->add_option("--data-dir", opts->data_dir, "where servers keep their files (default: a fresh temp dir)");
  live->add_option("--log-level", opts->log_level, "off, error, warn, info, debug or trace")
      ->check(CLI::IsMember({"off", "error", "warn", "info", "debug", "trace"}));
  auto* coord = live->add_subcommand("coordinator", "one coordinator, configured by a zoo.cfg");
  coord->add_option("--config", opts->config, "ZooKeeper-style config file")->required();
  coord->add_option("--log-level", opts->log_level, "off, error, warn, info, debug or trace")
      ->check(CLI::IsMember({"off", "error", "warn", "info", "debug", "trace"}));
  return {live, [opts, coord] {
            if (coord->parsed()) return run_coordinator(*opts);
            return run_embedded(*opts);
          }};
}

}  // namespace samsa::tools
