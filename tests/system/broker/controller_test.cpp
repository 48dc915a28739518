// The controller against the real simulated coordinator: registration with
// broker epochs, election fenced by /controller_epoch, topic creation,
// leader election on broker loss with the leader epoch bumped and written by
// compare-and-set, controlled shutdown, preferred leaders, topic deletion,
// and a fault sweep that checks Kafka's controller invariants.
#include "system/broker/controller.h"

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "sim/world/world.h"
#include "system/broker/replica_assignment.h"
#include "system/coord/kafka_layout.h"
#include "system/coord/recipes.h"
#include "system/coord/server.h"

using namespace samsa;
using namespace samsa::broker;
using namespace samsa::sim;
using samsa::protocol::ErrorCode;

namespace {

constexpr NodeId k_zk = 0;

// One control request as a broker would receive it.
struct Sent {
  BrokerId from;
  BrokerId to;
  ControlRequest request;
  Duration at;
};

// What the test sees of the cluster; lives outside the system under test.
struct Cluster {
  World* world = nullptr;
  std::shared_ptr<coord::Server> zk;
  std::map<std::int32_t, Controller*> controllers;  // current incarnations
  std::map<std::int32_t, BrokerEpoch> epochs;       // latest registration
  std::vector<Sent> sent;
  std::map<std::int32_t, std::uint64_t> registrations;
  std::set<std::int32_t> refuse_deletes;  // brokers whose StopReplica(delete) fails
};

// Records what the controller sends instead of putting it on the wire.
class RecordingChannel final : public ControllerChannel {
 public:
  RecordingChannel(Cluster& c, BrokerId self) : cluster_(c), self_(self) {}
  void add_broker(const BrokerInfo& b) override { brokers_.insert(b.id); }
  void remove_broker(BrokerId id) override { brokers_.erase(id); }
  void send(BrokerId to, ControlRequest r) override {
    CHECK(brokers_.count(to) == 1);  // only to brokers the channel knows
    // Every deletion succeeds at once, unless the test makes a broker refuse them.
    if (r.on_deleted) {
      StopReplicaOutcome o{to, {}};
      const auto error = cluster_.refuse_deletes.count(to.value()) ? protocol::ErrorCode::kafka_storage_error
                                                                  : protocol::ErrorCode::none;
      for (const auto& p : std::get<StopReplicaCommand>(r.body).partitions)
        if (p.delete_partition) o.partitions.emplace_back(p.tp, error);
      r.on_deleted(o);
    }
    cluster_.sent.push_back({self_, to, std::move(r), cluster_.world->now()});
  }
  void clear() override { brokers_.clear(); }

 private:
  Cluster& cluster_;
  BrokerId self_;
  std::set<BrokerId> brokers_;
};

BrokerConfig broker_config(std::int32_t id, std::vector<std::pair<std::string, std::string>> extra) {
  std::vector<std::pair<std::string, std::string>> kv = {
      {"broker.id", std::to_string(id)},
      {"zookeeper.session.timeout.ms", "2000"},
      {"leader.imbalance.check.interval.seconds", "2"}};
  kv.insert(kv.end(), extra.begin(), extra.end());
  return make_broker_config(kv).value();
}

void broker_main(Runtime& rt, Cluster& cl, std::int32_t id, const BrokerConfig& cfg) {
  RecordingChannel channel(cl, BrokerId(id));
  Controller controller(rt, cfg, channel);
  cl.controllers[id] = &controller;
  struct Gone {
    Cluster& cl;
    std::int32_t id;
    ~Gone() { cl.controllers.erase(id); }
  } gone{cl, id};
  SessionConfig sc;
  sc.coordinators = {{"zk", 2181}};
  sc.session_timeout_ms = cfg.zookeeper_session_timeout_ms;
  sc.broker_id = BrokerId(id);
  sc.endpoint = {rt.node_name(), 9092};
  run_registered_sessions(rt, sc, [&](coord::Client& c, BrokerEpoch epoch) {
    cl.epochs[id] = epoch;
    ++cl.registrations[id];
    controller.run_session(c, epoch);
  });
}

struct Rig {
  explicit Rig(std::uint64_t seed, int brokers = 3,
               std::vector<std::pair<std::string, std::string>> extra = {}) {
    WorldConfig wc;
    wc.seed = seed;
    world = std::make_unique<World>(wc);
    cl.world = world.get();
    world->add_node("zk", [this](Runtime& rt) { cl.zk = coord::Server::start(rt, {}).value(); });
    world->start(k_zk);
    for (int i = 1; i <= brokers; ++i) {
      const BrokerConfig cfg = broker_config(i, extra);
      const NodeId n = world->add_node(fmt::format("b{}", i),
                                       [this, i, cfg](Runtime& rt) { broker_main(rt, cl, i, cfg); });
      world->start(n);
    }
  }

  ~Rig() {
    cl.zk.reset();  // the server's connections close while the network exists
    world.reset();
  }

  // The stored state of a partition, as the coordinator holds it.
  std::optional<coord::kafka::PartitionState> state(const std::string& topic, std::int32_t p) const {
    const auto* z = cl.zk ? cl.zk->state().find(coord::kafka::partition_state_path(topic, p)) : nullptr;
    if (!z) return std::nullopt;
    auto s = coord::kafka::parse_partition_state(as_chars(z->data));
    if (!s) return std::nullopt;
    return *s;
  }
  std::vector<std::int32_t> active() const {
    std::vector<std::int32_t> out;
    for (const auto& [id, c] : cl.controllers)
      if (c->is_active()) out.push_back(id);
    return out;
  }
  // Runs an admin client on its own node (a world actor has no network).
  void admin(std::function<void(Runtime&, coord::Client&)> fn) {
    const NodeId n = world->add_node(fmt::format("admin{}", admins++), [fn](Runtime& rt) {
      auto c = coord::Client::start(rt, coord::ClientConfig{{{"zk", 2181}}, 4000});
      REQUIRE(c->wait_connected(rt.deadline_after(5s)));
      fn(rt, *c);
      c->close();
    });
    world->start(n);
  }
  void create_topic(const std::string& topic, std::int32_t partitions, std::int32_t rf,
                    std::map<std::string, std::string> configs = {}) {
    admin([=](Runtime& rt, coord::Client& c) {
      auto brokers = read_live_brokers(c).value();
      std::vector<BrokerId> ids;
      for (const auto& [id, info] : brokers) ids.push_back(id);
      Random rng = rt.random("assign");
      auto a = assign_replicas_to_brokers(ids, partitions, rf, rng).value();
      REQUIRE(write_topic(c, topic, a, configs).ok());
    });
  }
  void run_for(Duration d) {
    const auto r = world->run(world->now() + d);
    REQUIRE(r.reason != StopReason::internal_error);
    REQUIRE(r.reason != StopReason::stuck);
  }

  Cluster cl;  // before the world: the world's fibers use it until they are joined
  std::unique_ptr<World> world;
  int admins = 0;
};

std::vector<const Sent*> leader_and_isr_for(const Cluster& cl, const std::string& topic, std::int32_t p,
                                            Duration since = Duration{0}) {
  std::vector<const Sent*> out;
  for (const auto& s : cl.sent) {
    if (s.at < since) continue;
    if (const auto* c = std::get_if<LeaderAndIsrCommand>(&s.request.body))
      for (const auto& ps : c->partitions)
        if (ps.tp.topic == topic && ps.tp.partition.value() == p) out.push_back(&s);
  }
  return out;
}

const ControlPartitionState* find_state(const Sent& s, const std::string& topic, std::int32_t p) {
  const auto* c = std::get_if<LeaderAndIsrCommand>(&s.request.body);
  if (!c) return nullptr;
  for (const auto& ps : c->partitions)
    if (ps.tp.topic == topic && ps.tp.partition.value() == p) return &ps;
  return nullptr;
}

}  // namespace

TEST_CASE("registration: /brokers/ids/<id> with Kafka's JSON; the broker epoch is its czxid",
          "[broker][controller][zk]") {
  Rig rig(3);
  rig.run_for(3s);
  REQUIRE(rig.cl.epochs.size() == 3);
  for (const auto& [id, epoch] : rig.cl.epochs) {
    const auto* z = rig.cl.zk->state().find(coord::kafka::broker_path(id));
    REQUIRE(z);
    CHECK(z->stat.czxid == epoch.value());
    CHECK(z->stat.ephemeral_owner != 0);
    const auto ep = parse_broker_json(as_chars(z->data));
    REQUIRE(ep);
    CHECK(ep->host == fmt::format("b{}", id));
    CHECK(ep->port == 9092);
  }
  CHECK(parse_broker_json(R"({"host":"h","port":1,"version":1})")->host == "h");
  CHECK_FALSE(parse_broker_json("{"));
}

TEST_CASE("controller: one broker wins /controller with epoch 1 and learns every broker",
          "[broker][controller][zk]") {
  Rig rig(5);
  rig.run_for(3s);
  const auto active = rig.active();
  REQUIRE(active.size() == 1);
  const Controller& c = *rig.cl.controllers.at(active.front());
  CHECK(c.epoch() == ControllerEpoch(1));
  CHECK(c.context().live_brokers.size() == 3);
  for (const auto& [id, info] : c.context().live_brokers) CHECK(info.epoch == rig.cl.epochs.at(id.value()));
  // Every broker hears UpdateMetadata with the live brokers; the latest
  // one each broker got names all three.
  std::map<BrokerId, std::size_t> last_live;
  for (const auto& s : rig.cl.sent)
    if (const auto* u = std::get_if<UpdateMetadataCommand>(&s.request.body)) {
      CHECK(s.request.controller_epoch == ControllerEpoch(1));
      CHECK(s.request.controller_id == BrokerId(active.front()));
      CHECK(s.request.broker_epoch == rig.cl.epochs.at(s.to.value()));
      last_live[s.to] = u->live_brokers.size();
    }
  CHECK(last_live == std::map<BrokerId, std::size_t>{{BrokerId(1), 3}, {BrokerId(2), 3}, {BrokerId(3), 3}});
}

TEST_CASE("controller: a new topic gets Kafka's placement, leaders, ISR and LeaderAndIsr",
          "[broker][controller][zk]") {
  Rig rig(7);
  rig.run_for(2s);
  rig.create_topic("orders", 6, 3);
  rig.run_for(2s);
  for (std::int32_t p = 0; p < 6; ++p) {
    INFO("partition " << p);
    const auto s = rig.state("orders", p);
    REQUIRE(s);
    CHECK(s->leader_epoch == 0);
    CHECK(s->controller_epoch == 1);
    CHECK(s->isr.size() == 3);
    CHECK(s->leader == s->isr.front());  // the preferred replica leads
    const auto sent = leader_and_isr_for(rig.cl, "orders", p);
    REQUIRE(sent.size() == 3);  // one LeaderAndIsr per replica
    for (const auto* x : sent) {
      const auto* ps = find_state(*x, "orders", p);
      CHECK(ps->is_new);
      CHECK(ps->leader == BrokerId(s->leader));
      CHECK(ps->replicas.size() == 3);
      CHECK(x->request.broker_epoch == rig.cl.epochs.at(x->to.value()));
      const auto& leaders = std::get<LeaderAndIsrCommand>(x->request.body).live_leaders;
      CHECK(std::any_of(leaders.begin(), leaders.end(), [&](const auto& b) { return b.id.value() == s->leader; }));
    }
  }
  // Leaders are spread: 6 partitions on 3 brokers, 2 each (round-robin first replicas).
  std::map<std::int32_t, int> led;
  for (std::int32_t p = 0; p < 6; ++p) ++led[rig.state("orders", p)->leader];
  CHECK(led.size() == 3);
  for (const auto& [b, n] : led) CHECK(n == 2);
}

TEST_CASE("controller: on broker loss the new leader comes from the ISR, the leader epoch is "
          "bumped and the ISR shrinks; the returning broker is told", "[broker][controller][zk]") {
  Rig rig(11);
  rig.run_for(2s);
  rig.create_topic("t", 1, 3);
  rig.run_for(2s);
  const auto before = rig.state("t", 0).value();
  const std::int32_t leader = before.leader;
  const auto active = rig.active();
  REQUIRE(active.size() == 1);
  rig.world->spawn("crash", [&] { rig.world->crash(static_cast<NodeId>(leader)); });
  rig.run_for(6s);  // the session expires (2 s), the controller reacts
  const auto after = rig.state("t", 0).value();
  CHECK(after.leader != leader);
  CHECK(std::find(before.isr.begin(), before.isr.end(), after.leader) != before.isr.end());
  CHECK(after.leader_epoch > before.leader_epoch);
  CHECK(std::find(after.isr.begin(), after.isr.end(), leader) == after.isr.end());
  CHECK(after.isr.size() == 2);
  const auto new_active = rig.active();
  REQUIRE(new_active.size() == 1);
  CHECK(rig.cl.controllers.at(new_active.front())->context().live_brokers.size() == 2);
  if (leader == active.front()) CHECK(rig.cl.controllers.at(new_active.front())->epoch() == ControllerEpoch(2));

  const Duration back_at = rig.world->now();
  rig.world->spawn("restart", [&] { rig.world->start(static_cast<NodeId>(leader)); });
  rig.run_for(4s);
  bool told = false;
  for (const auto* s : leader_and_isr_for(rig.cl, "t", 0, back_at))
    if (s->to == BrokerId(leader)) {
      told = true;
      CHECK(s->request.broker_epoch == rig.cl.epochs.at(leader));  // the new incarnation's epoch
      CHECK(find_state(*s, "t", 0)->leader == BrokerId(after.leader));
    }
  CHECK(told);
}

TEST_CASE("controller: losing every ISR member leaves the partition offline unless unclean "
          "election is on", "[broker][controller][zk]") {
  for (bool unclean : {false, true}) {
    INFO("unclean " << unclean);
    Rig rig(13, 3, {{"unclean.leader.election.enable", unclean ? "true" : "false"}});
    rig.run_for(2s);
    rig.create_topic("t", 1, 2);
    rig.run_for(2s);
    const auto s0 = rig.state("t", 0).value();
    REQUIRE(s0.isr.size() == 2);
    // The follower goes first (ISR shrinks to the leader), then the leader.
    const std::int32_t follower = s0.isr[1], leader = s0.isr[0];
    rig.world->spawn("f", [&] { rig.world->crash(static_cast<NodeId>(follower)); });
    rig.run_for(5s);
    CHECK(rig.state("t", 0)->isr == std::vector<std::int32_t>{leader});
    rig.world->spawn("f", [&] { rig.world->start(static_cast<NodeId>(follower)); });
    rig.run_for(1s);
    rig.world->spawn("l", [&] { rig.world->crash(static_cast<NodeId>(leader)); });
    rig.run_for(5s);
    const auto s = rig.state("t", 0).value();
    if (unclean) {
      CHECK(s.leader == follower);
      CHECK(s.isr == std::vector<std::int32_t>{follower});
    } else {
      CHECK(s.leader == -1);  // NoLeader; the last ISR member stays in the ISR
      CHECK(s.isr == std::vector<std::int32_t>{leader});
    }
    CHECK(s.leader_epoch > s0.leader_epoch);
  }
}

TEST_CASE("controller: a new controller tells every live broker of partitions whose replicas are all "
          "down (ReplicaStateMachine.startup's OfflineReplica)", "[broker][controller][zk]") {
  // RF=1: a partition on a broker that dies together with the controller
  // has no replica left when the next controller starts. Its UpdateMetadata
  // must still name it (leader none), or a broker whose cache was lost lists
  // a topic with fewer partitions and clients hash keys elsewhere.
  Rig rig(31);
  rig.run_for(2s);
  rig.create_topic("t", 3, 1);
  rig.run_for(2s);
  const std::int32_t first = rig.active().at(0);
  std::int32_t other = -1;  // a broker that is neither the controller nor the survivor
  std::int32_t survivor = -1;
  for (std::int32_t b = 1; b <= 3; ++b) {
    if (b == first) continue;
    (other < 0 ? other : survivor) = b;
  }
  std::int32_t lost = -1;  // the partition on `other`
  for (std::int32_t p = 0; p < 3; ++p)
    if (rig.state("t", p)->leader == other) lost = p;
  REQUIRE(lost >= 0);
  rig.world->spawn("crash", [&] {
    rig.world->crash(static_cast<NodeId>(first));
    rig.world->crash(static_cast<NodeId>(other));
  });
  const std::size_t before = rig.cl.sent.size();
  rig.run_for(6s);
  REQUIRE(rig.active() == std::vector<std::int32_t>{survivor});
  bool told = false;
  for (std::size_t i = before; i < rig.cl.sent.size(); ++i) {
    const Sent& s = rig.cl.sent[i];
    if (s.from != BrokerId(survivor) || s.to != BrokerId(survivor)) continue;
    if (const auto* u = std::get_if<UpdateMetadataCommand>(&s.request.body))
      for (const auto& p : u->partitions)
        if (p.tp == TopicPartition{"t", PartitionId(lost)} && p.leader.is_none()) told = true;
  }
  CHECK(told);
  const auto s = rig.state("t", lost).value();
  CHECK(s.leader == -1);  // out of the ISR as OfflineReplica; the last member stays
  CHECK(s.isr == std::vector<std::int32_t>{other});
}

TEST_CASE("controller: controlled shutdown moves leadership away first and shrinks the ISR",
          "[broker][controller][zk]") {
  Rig rig(17, 3, {{"auto.leader.rebalance.enable", "false"}});
  rig.run_for(2s);
  rig.create_topic("t", 3, 3);
  rig.run_for(2s);
  const auto active = rig.active();
  REQUIRE(active.size() == 1);
  // Shut down a broker that is not the controller.
  const std::int32_t leaving = active.front() == 1 ? 2 : 1;
  ControlledShutdownResult result, stale;
  rig.world->spawn("ask", [&] {
    Controller* c = rig.cl.controllers.at(active.front());
    stale = c->controlled_shutdown(BrokerId(leaving), BrokerEpoch(rig.cl.epochs.at(leaving).value() - 1));
    result = c->controlled_shutdown(BrokerId(leaving), rig.cl.epochs.at(leaving));
  });
  rig.run_for(2s);
  CHECK(stale.error == ErrorCode::stale_broker_epoch);
  CHECK(result.error == ErrorCode::none);
  CHECK(result.remaining.empty());
  for (std::int32_t p = 0; p < 3; ++p) {
    const auto s = rig.state("t", p).value();
    CHECK(s.leader != leaving);
    CHECK(std::find(s.isr.begin(), s.isr.end(), leaving) == s.isr.end());
  }
  // The broker leaving was told to stop its follower replicas (not delete them).
  bool stopped = false;
  for (const auto& s : rig.cl.sent)
    if (const auto* c = std::get_if<StopReplicaCommand>(&s.request.body); c && s.to == BrokerId(leaving))
      for (const auto& p : c->partitions) stopped |= !p.delete_partition;
  CHECK(stopped);
  // A broker that is not the controller refuses.
  const std::int32_t other = 6 - active.front() - leaving;
  ControlledShutdownResult refused;
  rig.world->spawn("ask2", [&] {
    refused = rig.cl.controllers.at(other)->controlled_shutdown(BrokerId(leaving), rig.cl.epochs.at(leaving));
  });
  rig.run_for(1s);
  CHECK(refused.error == ErrorCode::not_controller);
}

TEST_CASE("controller: auto.leader.rebalance.enable gives leadership back to preferred replicas",
          "[broker][controller][zk]") {
  for (bool rebalance : {true, false}) {
    INFO("rebalance " << rebalance);
    Rig rig(19, 3, {{"auto.leader.rebalance.enable", rebalance ? "true" : "false"}});
    rig.run_for(2s);
    rig.create_topic("t", 3, 3);
    rig.run_for(2s);
    // Bounce a broker that is not the controller: its partitions move away.
    const std::int32_t ctl = rig.active().at(0);
    const std::int32_t bounced = ctl == 1 ? 2 : 1;
    rig.world->spawn("b", [&] { rig.world->crash(static_cast<NodeId>(bounced)); });
    rig.run_for(5s);
    rig.world->spawn("b", [&] { rig.world->start(static_cast<NodeId>(bounced)); });
    // The broker rejoins the ISR through its leader (the data path); here
    // the test writes it as the leader would, then notifies the controller.
    rig.run_for(2s);
    rig.admin([&](Runtime&, coord::Client& c) {
      std::vector<TopicPartition> changed;
      for (std::int32_t p = 0; p < 3; ++p) {
        const std::string path = coord::kafka::partition_state_path("t", p);
        auto d = c.get_data(path).value();
        auto s = coord::kafka::parse_partition_state(as_chars(d.data)).value();
        s.isr.push_back(bounced);
        const std::string json = coord::kafka::partition_state_json(s);
        REQUIRE(coord::conditional_update(c, path, Bytes(json.begin(), json.end()), d.stat.version).ok());
        changed.push_back({"t", PartitionId(p)});
      }
      REQUIRE(propagate_isr_changes(c, changed).ok());
    });
    rig.run_for(8s);
    std::map<std::int32_t, int> led;
    for (std::int32_t p = 0; p < 3; ++p) ++led[rig.state("t", p)->leader];
    if (rebalance) {
      CHECK(led.size() == 3);  // each broker leads its preferred partition again
    } else {
      CHECK(led.count(bounced) == 0);
    }
  }
}

TEST_CASE("controller: DeleteTopics marks the topic; the controller stops and deletes replicas",
          "[broker][controller][zk]") {
  Rig rig(23);
  rig.run_for(2s);
  rig.create_topic("gone", 2, 2, {{"retention.ms", "1000"}});
  rig.run_for(2s);
  REQUIRE(rig.cl.zk->state().find("/config/topics/gone"));
  REQUIRE(rig.state("gone", 1));
  rig.admin([](Runtime&, coord::Client& c) { REQUIRE(mark_topic_for_deletion(c, "gone").ok()); });
  rig.run_for(2s);
  CHECK_FALSE(rig.cl.zk->state().find("/brokers/topics/gone"));
  CHECK_FALSE(rig.cl.zk->state().find("/config/topics/gone"));
  CHECK_FALSE(rig.cl.zk->state().find("/admin/delete_topics/gone"));
  int deletes = 0;
  for (const auto& s : rig.cl.sent)
    if (const auto* c = std::get_if<StopReplicaCommand>(&s.request.body))
      for (const auto& p : c->partitions) deletes += p.delete_partition;
  CHECK(deletes == 4);  // 2 partitions x 2 replicas
  CHECK(rig.cl.controllers.at(rig.active().at(0))->context().partitions.empty());
}

namespace {
int delete_requests_to(const Cluster& cl, std::int32_t broker) {
  int n = 0;
  for (const auto& s : cl.sent)
    if (const auto* c = std::get_if<StopReplicaCommand>(&s.request.body); c && s.to == BrokerId(broker))
      for (const auto& p : c->partitions) n += p.delete_partition;
  return n;
}
}  // namespace

TEST_CASE("controller: a topic is deleted only once every replica answered its StopReplica(delete); "
          "a failed replica is retried when its broker is back (TopicDeletionManager)",
          "[broker][controller][zk]") {
  Rig rig(24);
  rig.run_for(2s);
  rig.create_topic("gone", 1, 3);
  rig.run_for(2s);
  REQUIRE(rig.state("gone", 0));
  const std::int32_t ctl = rig.active().at(0);
  const std::int32_t refusing = ctl == 3 ? 2 : 3;
  rig.cl.refuse_deletes.insert(refusing);
  rig.admin([](Runtime&, coord::Client& c) { REQUIRE(mark_topic_for_deletion(c, "gone").ok()); });
  rig.run_for(4s);
  // One replica failed: nothing is removed, and no retry until its broker starts.
  CHECK(rig.cl.zk->state().find("/brokers/topics/gone"));
  CHECK(rig.cl.zk->state().find("/admin/delete_topics/gone"));
  CHECK(delete_requests_to(rig.cl, refusing) == 1);
  rig.cl.refuse_deletes.clear();
  rig.world->spawn("b", [&] { rig.world->crash(static_cast<NodeId>(refusing)); });
  rig.run_for(5s);  // the session expires: the broker is dead
  CHECK(rig.cl.zk->state().find("/brokers/topics/gone"));
  rig.world->spawn("b", [&] { rig.world->start(static_cast<NodeId>(refusing)); });
  rig.run_for(4s);
  CHECK(delete_requests_to(rig.cl, refusing) == 2);  // retried on the new incarnation only
  for (std::int32_t b = 1; b <= 3; ++b)
    if (b != refusing) CHECK(delete_requests_to(rig.cl, b) == 1);  // deleted replicas are not asked again
  CHECK_FALSE(rig.cl.zk->state().find("/brokers/topics/gone"));
  CHECK_FALSE(rig.cl.zk->state().find("/config/topics/gone"));
  CHECK_FALSE(rig.cl.zk->state().find("/admin/delete_topics/gone"));
  CHECK(rig.cl.controllers.at(rig.active().at(0))->context().partitions.empty());
}

TEST_CASE("controller: a topic with a replica on a broker that is down waits for that broker before "
          "its znodes go", "[broker][controller][zk]") {
  Rig rig(25);
  rig.run_for(2s);
  rig.create_topic("gone", 1, 3);
  rig.run_for(2s);
  const std::int32_t ctl = rig.active().at(0);
  const std::int32_t down = ctl == 3 ? 2 : 3;
  rig.world->spawn("b", [&] { rig.world->crash(static_cast<NodeId>(down)); });
  rig.run_for(5s);
  rig.admin([](Runtime&, coord::Client& c) { REQUIRE(mark_topic_for_deletion(c, "gone").ok()); });
  rig.run_for(4s);
  CHECK(rig.cl.zk->state().find("/brokers/topics/gone"));
  CHECK(rig.cl.zk->state().find("/admin/delete_topics/gone"));
  CHECK(delete_requests_to(rig.cl, down) == 0);
  rig.world->spawn("b", [&] { rig.world->start(static_cast<NodeId>(down)); });
  rig.run_for(4s);
  CHECK(delete_requests_to(rig.cl, down) == 1);
  CHECK_FALSE(rig.cl.zk->state().find("/brokers/topics/gone"));
  CHECK_FALSE(rig.cl.zk->state().find("/admin/delete_topics/gone"));
}

TEST_CASE("controller: a replica being deleted leaves the ISR first (OfflineReplica before "
          "ReplicaDeletionStarted), with EpochDuringDelete and no LeaderAndIsr for the topic",
          "[broker][controller][zk]") {
  Rig rig(24);
  rig.run_for(2s);
  rig.create_topic("gone", 1, 3);
  rig.run_for(2s);
  const std::int32_t ctl = rig.active().at(0);
  rig.cl.refuse_deletes.insert(ctl == 3 ? 2 : 3);  // the topic stays: its state can be read
  const auto before = rig.state("gone", 0);
  REQUIRE(before);
  REQUIRE(before->isr.size() == 3);
  const std::size_t sent_before = rig.cl.sent.size();
  rig.admin([](Runtime&, coord::Client& c) { REQUIRE(mark_topic_for_deletion(c, "gone").ok()); });
  rig.run_for(4s);
  const auto after = rig.state("gone", 0);
  REQUIRE(after);
  // Every replica left the ISR, one compare-and-set each (the last member
  // stays, as removeReplicasFromIsr keeps a one-replica ISR).
  CHECK(after->leader == -1);
  CHECK(after->isr.size() == 1);
  CHECK(after->leader_epoch == before->leader_epoch + 3);
  int lai = 0, stops = 0;
  for (std::size_t i = sent_before; i < rig.cl.sent.size(); ++i) {
    const auto& req = rig.cl.sent[i].request.body;
    if (const auto* c = std::get_if<LeaderAndIsrCommand>(&req))
      for (const auto& p : c->partitions) lai += p.tp.topic == "gone";
    if (const auto* c = std::get_if<StopReplicaCommand>(&req))
      for (const auto& p : c->partitions) {
        ++stops;
        CHECK(p.delete_partition);                               // merged with the OfflineReplica stop
        CHECK(p.leader_epoch == protocol::LeaderEpoch(-2));  // EpochDuringDelete
      }
  }
  CHECK(lai == 0);
  CHECK(stops == 3);
}

TEST_CASE("controller: a controller partitioned from the coordinator is replaced with a higher "
          "epoch and resigns when it learns its session expired", "[broker][controller][zk]") {
  Rig rig(29);
  rig.run_for(2s);
  rig.create_topic("t", 1, 3);
  rig.run_for(2s);
  const std::int32_t first = rig.active().at(0);
  rig.world->spawn("cut", [&] { rig.world->network().partition(static_cast<NodeId>(first), k_zk); });
  rig.run_for(6s);
  std::vector<std::int32_t> others;
  for (auto id : rig.active())
    if (id != first) others.push_back(id);
  REQUIRE(others.size() == 1);
  CHECK(rig.cl.controllers.at(others[0])->epoch() == ControllerEpoch(2));
  rig.world->spawn("heal", [&] { rig.world->network().heal(static_cast<NodeId>(first), k_zk); });
  rig.run_for(4s);
  CHECK(rig.active() == others);
  CHECK(rig.cl.registrations.at(first) == 2);  // registered again in a new session
  // The new controller saw the bounce of `first` (new czxid = new broker epoch).
  CHECK(rig.cl.controllers.at(others[0])->context().live_brokers.at(BrokerId(first)).epoch ==
        rig.cl.epochs.at(first));
}

namespace {

// Kafka's controller invariants over one run with random faults, then a
// healed phase in which the cluster must settle.
std::vector<std::string> controller_sweep_run(std::uint64_t seed, std::uint64_t* trace = nullptr) {
  std::vector<std::string> violations;
  const auto violation = [&](std::string v) {
    if (violations.size() < 20) violations.push_back(std::move(v));
  };
  Rig rig(seed);
  Random rng = Random(seed).derive("controller-sweep");
  rig.run_for(2s);
  rig.create_topic("t", 4, 3);
  rig.run_for(2s);
  // Observe the stored partition states every 5 ms.
  std::map<std::int32_t, coord::kafka::PartitionState> last;
  bool observing = true;
  rig.world->spawn("observer", [&] {
    while (observing) {
      for (std::int32_t p = 0; p < 4; ++p) {
        const auto s = rig.state("t", p);
        if (!s) continue;
        auto it = last.find(p);
        if (it != last.end()) {
          const auto& was = it->second;
          if (s->leader_epoch < was.leader_epoch)
            violation(fmt::format("t-{}: leader epoch went back {} -> {}", p, was.leader_epoch, s->leader_epoch));
          if (s->controller_epoch < was.controller_epoch)
            violation(fmt::format("t-{}: controller epoch went back", p));
          for (auto b : s->isr)
            if (std::find(was.isr.begin(), was.isr.end(), b) == was.isr.end())
              violation(fmt::format("t-{}: ISR grew without the data path ({} joined)", p, b));
        }
        if (s->isr.empty()) violation(fmt::format("t-{}: empty ISR", p));
        if (s->leader != -1 && std::find(s->isr.begin(), s->isr.end(), s->leader) == s->isr.end())
          violation(fmt::format("t-{}: leader {} not in ISR", p, s->leader));
        last[p] = *s;
      }
      rig.world->control().sleep(5ms);
    }
  });
  // Faults for 20 s.
  rig.world->spawn("nemesis", [&] {
    World& w = *rig.world;
    std::set<NodeId> down;
    for (Duration t{0}; t < 20s;) {
      const Duration step = rng.uniform(Duration(100ms), Duration(1200ms));
      w.control().sleep(step);
      t += step;
      const NodeId b = static_cast<NodeId>(rng.uniform(1, 3));
      switch (rng.uniform(0, 5)) {
        case 0:
          if (!down.count(b) && down.size() < 2) {
            w.crash(b);
            down.insert(b);
          } else if (down.count(b)) {
            w.start(b);
            down.erase(b);
          }
          break;
        case 1: w.network().partition(b, k_zk); break;
        case 2: w.network().heal(b, k_zk); break;
        case 3: w.restart(k_zk); break;
        case 4: w.network().reset_connections(b, k_zk); break;
        default: w.network().clog(b, k_zk, rng.uniform(Duration(100ms), Duration(1500ms))); break;
      }
    }
    w.network().heal_all();
    w.network().unclog_all();
    for (auto b : down) w.start(b);
  });
  rig.run_for(22s);
  rig.run_for(15s);  // healed: the cluster settles
  observing = false;
  rig.run_for(10ms);

  // At most one leader per partition per leader epoch, one controller per epoch.
  std::map<std::pair<std::string, std::int32_t>, BrokerId> leader_of;
  std::map<ControllerEpoch, BrokerId> controller_of;
  for (const auto& s : rig.cl.sent) {
    auto [c, fresh] = controller_of.emplace(s.request.controller_epoch, s.request.controller_id);
    if (!fresh && c->second != s.request.controller_id)
      violation(fmt::format("controller epoch {} used by {} and {}", s.request.controller_epoch, c->second,
                            s.request.controller_id));
    if (s.request.controller_id != s.from) violation("a request names another controller");
    const auto* l = std::get_if<LeaderAndIsrCommand>(&s.request.body);
    if (!l) continue;
    for (const auto& ps : l->partitions) {
      auto [it, first] = leader_of.emplace(std::pair{to_string(ps.tp), ps.leader_epoch.value()}, ps.leader);
      if (!first && it->second != ps.leader)
        violation(fmt::format("{} leader epoch {}: leaders {} and {}", to_string(ps.tp), ps.leader_epoch,
                              it->second, ps.leader));
    }
  }
  if (trace) *trace = rig.world->trace_hash();
  // Liveness after the heal.
  const auto active = rig.active();
  if (std::getenv("SAMSA_SWEEP_DEBUG")) {
    std::int32_t max_epoch = 0;
    for (const auto& [p, st] : last) max_epoch = std::max(max_epoch, st.leader_epoch);
    fmt::print("seed {}: {} requests, {} controller epochs, max leader epoch {}, t={}ms\n", seed,
               rig.cl.sent.size(), controller_of.size(), max_epoch, to_ms(rig.world->now()));
  }
  if (active.size() != 1) {
    violation(fmt::format("liveness: {} active controllers", active.size()));
    return violations;
  }
  const Controller& ctl = *rig.cl.controllers.at(active.front());
  const auto* epoch_node = rig.cl.zk->state().find(coord::kafka::k_controller_epoch);
  if (!epoch_node || std::string(as_chars(epoch_node->data)) != std::to_string(ctl.epoch().value()))
    violation("liveness: the active controller's epoch is not /controller_epoch");
  if (ctl.context().live_brokers.size() != 3) violation("liveness: the controller does not see 3 brokers");
  for (std::int32_t p = 0; p < 4; ++p) {
    const auto s = rig.state("t", p);
    if (!s || s->leader == -1) violation(fmt::format("liveness: t-{} has no leader", p));
  }
  return violations;
}

}  // namespace

TEST_CASE("controller under faults: one leader per leader epoch, one controller per epoch, "
          "epochs never go back, the leader is in the ISR; after healing every partition leads",
          "[broker][controller][zk][faults]") {
  for (std::uint64_t seed = 1; seed <= 100; ++seed) {
    INFO("seed " << seed);
    const auto v = controller_sweep_run(seed);
    for (const auto& x : v) FAIL_CHECK(x);
  }
}

TEST_CASE("controller under faults, many seeds", "[broker][controller][zk][faults][slow]") {
  for (std::uint64_t seed = 101; seed <= 1000; ++seed) {
    INFO("seed " << seed);
    const auto v = controller_sweep_run(seed);
    for (const auto& x : v) FAIL_CHECK(x);
  }
}

TEST_CASE("controller runs are deterministic: one seed, one trace", "[broker][controller][zk][determinism]") {
  std::uint64_t a = 0, b = 0, c = 0;
  CHECK(controller_sweep_run(5, &a).empty());
  CHECK(controller_sweep_run(5, &b).empty());
  CHECK(controller_sweep_run(6, &c).empty());
  CHECK(a == b);
  CHECK(a != c);
}
