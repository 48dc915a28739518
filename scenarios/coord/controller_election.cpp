#include "scenarios/coord/controller_election.h"

#include <fmt/format.h>

#include "sim/world/world.h"
#include "system/coord/recipes.h"
#include "system/coord/server.h"

namespace samsa::scenarios::coord {

namespace {

using namespace samsa::sim;
using namespace samsa::coord;
using invariants::History;
using invariants::Process;

class ControllerElection final : public Workload {
 public:
  void setup(WorkloadContext& ctx) override {
    stale_epoch_bug_ = ctx.options.at("stale_epoch_bug").get<bool>();
    session_timeout_ms_ = ctx.config.at("zookeeper.session.timeout.ms").get<std::int32_t>();
    const int brokers = ctx.spec.brokers > 0 ? static_cast<int>(ctx.spec.brokers) : 3;
    World& w = ctx.world;
    const NodeId zk = w.add_node("zk", [this](Runtime& rt) {
      auto s = Server::start(rt, ServerConfig{});
      SAMSA_ASSERT(s.ok(), "the coordinator recovers from its own disk");
      server_ = *s;
    });
    ctx.groups["coordinator"] = {zk};
    for (std::int32_t b = 1; b <= brokers; ++b) {
      const NodeId id = w.add_node(fmt::format("b{}", b), [this, &ctx, b](Runtime& rt) {
        rt.spawn("election", [this, &rt, &ctx, b] { broker(rt, ctx.history, b); });
      });
      ctx.groups["brokers"].push_back(id);
    }
    // Reads /controller after the heal, as any client would.
    observer_ = w.add_node("observer", [this, &ctx](Runtime& rt) {
      rt.spawn("observe", [this, &rt, &ctx] { observe(rt, ctx); });
    });
  }

  void start(WorkloadContext& ctx) override {
    for (NodeId id : ctx.world.node_ids())
      if (id != observer_) ctx.world.start(id);
    ctx.world.spawn("observer", [this, &ctx] {
      ctx.world.control().sleep_until(MonoTime{ctx.end - 400ms});
      ctx.world.start(observer_);
    });
  }

  nlohmann::json details(WorkloadContext&) override {
    return {{"elections", elections_},
            {"max_epoch", max_epoch_},
            {"sessions", sessions_},
            {"expiries", expiries_},
            {"coordinator_txns", server_ ? server_->stats().txns : 0},
            {"stale_epoch_bug", stale_epoch_bug_}};
  }

  // The server's connections belong to the world: let go while it lives.
  void teardown(WorkloadContext&) override { server_.reset(); }

 private:
  void observe(Runtime& rt, WorkloadContext& ctx) {
    Process p(ctx.history);
    p.invoke("read-controller", nlohmann::json::object());
    auto client = Client::start(rt, ClientConfig{{{"zk", 2181}}, session_timeout_ms_});
    if (!client->wait_connected(rt.deadline_after(300ms))) {
      p.fail("read-controller", {{"error", "no session"}});
      return;
    }
    auto d = client->get_data(std::string(kafka::k_controller));
    if (!d && d.error() == Code::no_node) {
      p.ok("read-controller", {{"broker", nullptr}});
    } else if (!d) {
      p.fail("read-controller", {{"error", std::string(to_string(d.error()))}});
    } else {
      const auto named = kafka::parse_controller(as_chars(d->data));
      p.ok("read-controller",
           {{"broker", named ? nlohmann::json(named->broker_id) : nlohmann::json(nullptr)}});
    }
    client->close();
  }

  void read_epoch(Client& client, Process& p, std::int32_t id) {
    p.invoke("read-epoch", {{"broker", id}});
    auto d = client.get_data(std::string(kafka::k_controller_epoch));
    if (!d) {
      p.fail("read-epoch", {{"broker", id}, {"error", std::string(to_string(d.error()))}});
      return;
    }
    const std::int32_t epoch = std::atoi(std::string(as_chars(d->data)).c_str());
    p.ok("read-epoch", {{"broker", id}, {"epoch", epoch}});
  }

  // One session of one broker: register, then take part in elections until
  // the session ends.
  void run_session(Runtime& rt, Client& client, Process& p, std::int32_t id, bool& holding,
                   std::int32_t& last_own_epoch) {
    (void)create_kafka_layout(client);
    (void)register_broker(client, id, rt.node_name(), 9092, rt.wall_ms());
    ElectionOptions options;
    options.conditional_epoch = !stale_epoch_bug_;
    Event wake(rt.parker());
    client.on_state([&wake](SessionState) { wake.set(); });
    while (client.state() != SessionState::expired && client.state() != SessionState::closed) {
      wake.reset();
      auto e = client.exists(std::string(kafka::k_controller),
                             [&wake](const WatchedEvent&) { wake.set(); });
      if (!e && e.error() == Code::no_node && !holding) {
        options.cached_epoch = last_own_epoch;
        p.invoke("elect", {{"broker", id}});
        auto r = try_elect_controller(client, id, rt.wall_ms(), options);
        if (r && r->elected) {
          last_own_epoch = r->epoch;
          holding = true;
          ++elections_;
          max_epoch_ = std::max(max_epoch_, r->epoch);
          p.ok("elect", {{"broker", id}, {"epoch", r->epoch}});
          rt.log().info("broker {} is controller, epoch {}", id, r->epoch);
        } else if (r) {
          p.fail("elect", {{"broker", id}});
        } else {
          p.info("elect", {{"broker", id}, {"error", std::string(to_string(r.error()))}});
        }
        continue;
      }
      read_epoch(client, p, id);
      wake.wait(rt.deadline_after(1s), "election.wake");
    }
    client.on_state({});
  }

  void broker(Runtime& rt, History& h, std::int32_t id) {
    Random rng = rt.random("broker");
    std::int32_t last_own_epoch = 0;  // what the buggy election remembers
    for (;;) {
      // A session is a process; when it ends (or a crash unwinds it) the
      // broker holds nothing, and says so.
      struct Session {
        Process p;
        std::int32_t id;
        bool holding = false;
        ~Session() {
          p.close();
          p.invoke("resign", {{"broker", id}});
          p.ok("resign", {{"broker", id}});
        }
      } session{Process(h), id};
      auto client = Client::start(rt, ClientConfig{{{"zk", 2181}}, session_timeout_ms_});
      ++sessions_;
      if (client->wait_connected(rt.deadline_after(10s)))
        run_session(rt, *client, session.p, id, session.holding, last_own_epoch);
      if (client->state() == SessionState::expired) ++expiries_;
      client->close();
      rt.sleep(rng.uniform(Duration(10ms), Duration(100ms)));
    }
  }

  bool stale_epoch_bug_ = false;
  std::int32_t session_timeout_ms_ = 2000;
  NodeId observer_ = 0;
  std::shared_ptr<Server> server_;  // the coordinator's current incarnation (for its stats)
  std::uint64_t elections_ = 0;
  std::int32_t max_epoch_ = 0;
  std::uint64_t sessions_ = 0;
  std::uint64_t expiries_ = 0;
};

}  // namespace


RunReport run_controller_election(const RunOptions& options) {
  return find_scenario("coord/controller-election")->run(options);
}

RunReport run_controller_election_with(const ControllerElectionConfig& config) {
  RunOptions o;
  o.seed = config.seed;
  o.log_level = config.log_level;
  o.save_disks_dir = config.save_disks_dir;
  return find_scenario(config.stale_epoch_bug ? "coord/controller-election-stale-epoch-bug"
                                              : "coord/controller-election")
      ->run(o);
}

}  // namespace samsa::scenarios::coord

namespace samsa::scenarios {

WorkloadType controller_election_workload() {
  WorkloadType t;
  t.name = "controller-election";
  t.description = "brokers race for /controller on one coordinator (Kafka's ZooKeeper recipe)";
  t.options = {{"stale_epoch_bug", false}};
  t.config = {{"zookeeper.session.timeout.ms", 2000}};
  t.groups = {"brokers", "coordinator"};
  t.make = [] { return std::make_unique<coord::ControllerElection>(); };
  return t;
}

}  // namespace samsa::scenarios
