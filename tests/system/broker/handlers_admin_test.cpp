// The control plane on the wire: brokers that run the controller with its
// network channel and serve the admin APIs from real Kafka frames; a client
// sends CreateTopics / InitProducerId / ControlledShutdown / DeleteTopics as
// frames, and the brokers receive LeaderAndIsr / UpdateMetadata /
// StopReplica frames, fenced by controller and broker epochs.
#include "system/broker/handlers_admin.h"

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "sim/world/world.h"
#include "system/broker/control_fence.h"
#include "system/broker/controller_network.h"
#include "system/coord/kafka_layout.h"
#include "system/coord/server.h"

using namespace samsa;
using namespace samsa::broker;
using namespace samsa::sim;
namespace p = samsa::protocol;

namespace {

struct Received {
  std::int32_t broker = 0;
  p::ApiKey api{};
  p::ControllerEpoch controller_epoch;
  p::BrokerEpoch broker_epoch;
  p::ErrorCode answered = p::ErrorCode::none;
  std::vector<std::pair<std::string, std::int32_t>> leaders;  // LeaderAndIsr: topic-partition, leader
};

struct Cluster {
  std::shared_ptr<coord::Server> zk;
  std::map<std::int32_t, Controller*> controllers;
  std::map<std::int32_t, BrokerEpoch> epochs;
  std::vector<Received> received;
};

// Serves one connection: control requests through the fence, admin requests
// through the handlers.
void serve(Runtime& rt, Connection& conn, Cluster& cl, std::int32_t id, ControlFence& fence,
           AdminContext& admin) {
  for (;;) {
    auto frame = conn.recv();
    if (!frame) return;
    auto f = p::decode_request_frame(p::share_frame(std::move(*frame)));
    REQUIRE(f.ok());
    if (auto out = handle_admin_request(admin, *f)) {
      REQUIRE(out->ok());
      (void)conn.send(**out);
      continue;
    }
    Received r;
    r.broker = id;
    r.api = f->header.api_key;
    Bytes reply;
    if (r.api == p::ApiKey::leader_and_isr) {
      auto b = f->body<p::LeaderAndIsrRequest>().value();
      r.controller_epoch = b.controller_epoch;
      r.broker_epoch = b.broker_epoch;
      for (const auto& t : b.topic_states)
        for (const auto& s : t.partition_states)
          r.leaders.emplace_back(fmt::format("{}-{}", t.topic_name, s.partition_index), s.leader.value());
      r.answered = fence.admit(b.controller_epoch, b.broker_epoch);
      p::LeaderAndIsrResponse resp;
      resp.error_code = r.answered;
      reply = p::encode_response_frame(f->header, resp);
    } else if (r.api == p::ApiKey::update_metadata) {
      auto b = f->body<p::UpdateMetadataRequest>().value();
      r.controller_epoch = b.controller_epoch;
      r.broker_epoch = b.broker_epoch;
      r.answered = fence.admit(b.controller_epoch, b.broker_epoch);
      p::UpdateMetadataResponse resp;
      resp.error_code = r.answered;
      reply = p::encode_response_frame(f->header, resp);
    } else {
      REQUIRE(r.api == p::ApiKey::stop_replica);
      auto b = f->body<p::StopReplicaRequest>().value();
      r.controller_epoch = b.controller_epoch;
      r.broker_epoch = b.broker_epoch;
      r.answered = fence.admit(b.controller_epoch, b.broker_epoch);
      p::StopReplicaResponse resp;
      resp.error_code = r.answered;
      // Like a broker, every partition is answered (the controller's topic
      // deletion waits for these).
      for (const auto& t : b.topic_states)
        for (const auto& s : t.partition_states)
          resp.partition_errors.push_back({t.topic_name, s.partition_index, r.answered, {}});
      reply = p::encode_response_frame(f->header, resp);
    }
    cl.received.push_back(std::move(r));
    (void)conn.send(reply);
    (void)rt;
  }
}

void broker_main(Runtime& rt, Cluster& cl, std::int32_t id, bool no_epoch_check) {
  const BrokerConfig cfg = make_broker_config({{"broker.id", std::to_string(id)},
                                               {"zookeeper.session.timeout.ms", "2000"},
                                               {"auto.leader.rebalance.enable", "false"},
                                               {"samsa.legacy.no.controller.epoch.check",
                                                no_epoch_check ? "true" : "false"}})
                               .value();
  NetworkControllerChannel channel(rt, BrokerId(id), {});
  Controller controller(rt, cfg, channel);
  ProducerIdManager ids{BrokerId(id)};
  Random rng = rt.random("assign");
  ControlFence fence(cfg.legacy);
  coord::Client* current = nullptr;
  AdminContext admin{rt, cfg, nullptr, controller, ids, rng};
  cl.controllers[id] = &controller;
  struct Gone {
    Cluster& cl;
    std::int32_t id;
    ~Gone() { cl.controllers.erase(id); }
  } gone{cl, id};
  auto listener = rt.net().listen(9092).value();
  rt.spawn("accept", [&] {
    for (;;) {
      auto conn = listener->accept();
      if (!conn) return;
      std::shared_ptr<Connection> c = std::move(*conn);
      rt.spawn("conn", [&, c] { serve(rt, *c, cl, id, fence, admin); });
    }
  });
  SessionConfig sc{{{"zk", 2181}}, cfg.zookeeper_session_timeout_ms, BrokerId(id), {rt.node_name(), 9092}};
  run_registered_sessions(rt, sc, [&](coord::Client& c, BrokerEpoch epoch) {
    cl.epochs[id] = epoch;
    fence.set_broker_epoch(epoch);
    current = &c;
    admin.client = current;
    controller.run_session(c, epoch);
    admin.client = nullptr;
  });
}

// A client on its own node: one request frame, one response.
template <class Req, class Resp>
Resp call(Runtime& rt, const std::string& host, const Req& req, std::int16_t version) {
  auto conn = rt.net().connect({host, 9092}, rt.deadline_after(5s)).value();
  p::RequestHeader h;
  h.api_key = Req::k_api_key;
  h.api_version = version;
  h.correlation_id = 42;
  h.client_id = "test";
  REQUIRE(conn->send(p::encode_request_frame(h, req)).ok());
  auto frame = conn->recv(rt.deadline_after(30s)).value();
  auto resp = p::decode_response_frame<Resp>(p::share_frame(std::move(frame)), version).value();
  CHECK(resp.correlation_id == 42);
  conn->close();
  return resp.body;
}

struct Rig {
  explicit Rig(std::uint64_t seed, bool no_epoch_check = false) {
    WorldConfig wc;
    wc.seed = seed;
    world = std::make_unique<World>(wc);
    world->add_node("zk", [this](Runtime& rt) { cl.zk = coord::Server::start(rt, {}).value(); });
    world->start(0);
    for (int i = 1; i <= 3; ++i) {
      const NodeId n = world->add_node(fmt::format("b{}", i), [this, i, no_epoch_check](Runtime& rt) { broker_main(rt, cl, i, no_epoch_check); });
      world->start(n);
    }
  }
  ~Rig() {
    cl.zk.reset();
    world.reset();
  }
  std::int32_t controller() const {
    for (const auto& [id, c] : cl.controllers)
      if (c->is_active()) return id;
    return -1;
  }
  void client(std::function<void(Runtime&)> fn) {
    const NodeId n = world->add_node(fmt::format("client{}", clients++), fn);
    world->start(n);
  }
  void run_for(Duration d) {
    const auto r = world->run(world->now() + d);
    REQUIRE(r.reason != StopReason::internal_error);
  }
  Cluster cl;
  std::unique_ptr<World> world;
  int clients = 0;
};

}  // namespace

TEST_CASE("control requests round-trip through the typed messages", "[broker][controller][wire]") {
  ControlRequest r{BrokerId(1), p::ControllerEpoch(3), p::BrokerEpoch(77), LeaderAndIsrCommand{}};
  auto& c = std::get<LeaderAndIsrCommand>(r.body);
  c.partitions.push_back({{"t", p::PartitionId(2)}, p::ControllerEpoch(3), BrokerId(2), p::LeaderEpoch(5),
                          {BrokerId(2), BrokerId(3)}, 4, {BrokerId(2), BrokerId(3), BrokerId(1)}, true});
  c.live_leaders.push_back({BrokerId(2), {"b2", 9092}, p::BrokerEpoch(70)});
  const Bytes frame = encode_control_request(r, 9);
  auto back = p::decode_request_as<p::LeaderAndIsrRequest>(p::share_frame(frame)).value();
  CHECK(back.header.api_version == 4);
  CHECK(back.header.correlation_id == 9);
  CHECK(back.body.controller_epoch == p::ControllerEpoch(3));
  CHECK(back.body.broker_epoch == p::BrokerEpoch(77));
  REQUIRE(back.body.topic_states.size() == 1);
  const auto& s = back.body.topic_states[0].partition_states.at(0);
  CHECK(s.partition_index == p::PartitionId(2));
  CHECK(s.leader == BrokerId(2));
  CHECK(s.leader_epoch == p::LeaderEpoch(5));
  CHECK(s.partition_epoch == 4);
  CHECK(s.is_new);
  CHECK(back.body.live_leaders.at(0).host_name == "b2");

  ControlRequest u{BrokerId(1), p::ControllerEpoch(3), p::BrokerEpoch(77), UpdateMetadataCommand{}};
  std::get<UpdateMetadataCommand>(u.body).live_brokers.push_back({BrokerId(2), {"b2", 9092}, p::BrokerEpoch(70)});
  auto um = p::decode_request_as<p::UpdateMetadataRequest>(p::share_frame(encode_control_request(u, 1))).value();
  CHECK(um.header.api_version == 6);
  CHECK(um.body.live_brokers.at(0).endpoints.at(0).host == "b2");
  ControlRequest sr{BrokerId(1), p::ControllerEpoch(3), p::BrokerEpoch(77), StopReplicaCommand{}};
  std::get<StopReplicaCommand>(sr.body).partitions.push_back({{"t", p::PartitionId(0)}, p::LeaderEpoch(-2), true});
  auto st = p::decode_request_as<p::StopReplicaRequest>(p::share_frame(encode_control_request(sr, 1))).value();
  CHECK(st.body.topic_states.at(0).partition_states.at(0).delete_partition);
}

TEST_CASE("admin APIs on the wire: CreateTopics at the controller, LeaderAndIsr frames to the "
          "replicas, InitProducerId, ControlledShutdown, DeleteTopics", "[broker][controller][wire]") {
  Rig rig(31);
  rig.run_for(3s);
  const std::int32_t ctl = rig.controller();
  REQUIRE(ctl > 0);
  const std::int32_t other = ctl == 1 ? 2 : 1;
  p::CreateTopicsResponse refused, created;
  p::InitProducerIdResponse pid;
  rig.client([&](Runtime& rt) {
    p::CreateTopicsRequest req;
    p::CreateTopicsRequest::CreatableTopic t;
    t.name = "orders";
    t.num_partitions = 3;
    t.replication_factor = 3;
    t.configs.push_back({"min.insync.replicas", "2", {}});
    req.topics.push_back(t);
    req.timeout_ms = 5000;
    refused = call<p::CreateTopicsRequest, p::CreateTopicsResponse>(rt, fmt::format("b{}", other), req, 5);
    created = call<p::CreateTopicsRequest, p::CreateTopicsResponse>(rt, fmt::format("b{}", ctl), req, 5);
    p::InitProducerIdRequest ip;
    ip.transactional_id = std::nullopt;
    pid = call<p::InitProducerIdRequest, p::InitProducerIdResponse>(rt, fmt::format("b{}", other), ip, 1);
  });
  rig.run_for(5s);
  REQUIRE(refused.topics.size() == 1);
  CHECK(refused.topics[0].error_code == p::ErrorCode::not_controller);
  REQUIRE(created.topics.size() == 1);
  CHECK(created.topics[0].error_code == p::ErrorCode::none);
  CHECK(created.topics[0].num_partitions == 3);
  CHECK(created.topics[0].replication_factor == 3);
  REQUIRE(created.topics[0].configs);
  bool isr_config = false;
  for (const auto& c : *created.topics[0].configs)
    if (c.name == "min.insync.replicas") isr_config = c.value == "2" && c.config_source == 1;
  CHECK(isr_config);
  CHECK(pid.error_code == p::ErrorCode::none);
  CHECK(pid.producer_id == p::ProducerId(0));
  CHECK(pid.producer_epoch == p::ProducerEpoch(0));

  // Every replica got a LeaderAndIsr frame for each partition, stamped with
  // the controller epoch and its own broker epoch, and accepted it.
  std::map<std::string, std::set<std::int32_t>> told;
  for (const auto& r : rig.cl.received) {
    CHECK(r.answered == p::ErrorCode::none);
    CHECK(r.controller_epoch == p::ControllerEpoch(1));
    CHECK(r.broker_epoch == rig.cl.epochs.at(r.broker));
    for (const auto& [tp, leader] : r.leaders) told[tp].insert(r.broker);
  }
  CHECK(told.size() == 3);
  for (const auto& [tp, brokers] : told) CHECK(brokers.size() == 3);

  p::ControlledShutdownResponse shut;
  p::DeleteTopicsResponse deleted;
  rig.client([&](Runtime& rt) {
    p::ControlledShutdownRequest cs;
    cs.broker_id = BrokerId(other);
    cs.broker_epoch = rig.cl.epochs.at(other);
    shut = call<p::ControlledShutdownRequest, p::ControlledShutdownResponse>(rt, fmt::format("b{}", ctl), cs, 3);
    p::DeleteTopicsRequest del;
    del.topic_names = {"orders"};
    del.timeout_ms = 5000;
    deleted = call<p::DeleteTopicsRequest, p::DeleteTopicsResponse>(rt, fmt::format("b{}", ctl), del, 4);
  });
  rig.run_for(8s);
  CHECK(shut.error_code == p::ErrorCode::none);
  CHECK(shut.remaining_partitions.empty());
  REQUIRE(deleted.responses.size() == 1);
  CHECK(deleted.responses[0].error_code == p::ErrorCode::none);
  CHECK_FALSE(rig.cl.zk->state().find("/brokers/topics/orders"));
  int stop_replicas = 0;
  for (const auto& r : rig.cl.received) stop_replicas += r.api == p::ApiKey::stop_replica;
  CHECK(stop_replicas >= 2);  // the shutdown's followers, then the deletion
}

TEST_CASE("a broker refuses a deposed controller's requests; with "
          "samsa.legacy.no.controller.epoch.check it obeys them", "[broker][controller][wire][legacy]") {
  for (bool legacy : {false, true}) {
    INFO("legacy " << legacy);
    LegacySwitches sw;
    sw.no_controller_epoch_check = legacy;
    ControlFence fence(sw);
    fence.set_broker_epoch(p::BrokerEpoch(10));
    // The new controller (epoch 2) spoke first; the zombie (epoch 1) follows.
    ControlRequest fresh{BrokerId(2), p::ControllerEpoch(2), p::BrokerEpoch(10), LeaderAndIsrCommand{}};
    ControlRequest zombie{BrokerId(1), p::ControllerEpoch(1), p::BrokerEpoch(10), LeaderAndIsrCommand{}};
    for (const auto* r : {&fresh, &zombie}) {
      auto m = p::decode_request_as<p::LeaderAndIsrRequest>(p::share_frame(encode_control_request(*r, 1))).value();
      const auto e = fence.admit(m.body.controller_epoch, m.body.broker_epoch);
      if (r == &fresh) CHECK(e == p::ErrorCode::none);
      else CHECK(e == (legacy ? p::ErrorCode::none : p::ErrorCode::stale_controller_epoch));
    }
  }
}

TEST_CASE("a zombie controller's late LeaderAndIsr: refused with STALE_CONTROLLER_EPOCH; "
          "obeyed with samsa.legacy.no.controller.epoch.check", "[broker][controller][wire][legacy]") {
  for (bool legacy : {false, true}) {
    INFO("legacy " << legacy);
    Rig rig(37, legacy);
    rig.run_for(2s);
    const std::int32_t a = rig.controller();
    REQUIRE(a > 0);
    const std::int32_t x = a == 1 ? 2 : 1;  // the broker that hears the zombie late
    const std::int32_t y = 6 - a - x;       // the broker that shuts down
    rig.client([&](Runtime& rt) {
      p::CreateTopicsRequest req;
      p::CreateTopicsRequest::CreatableTopic t;
      t.name = "t";
      t.num_partitions = 3;
      t.replication_factor = 3;
      req.topics.push_back(t);
      req.timeout_ms = 5000;
      REQUIRE(call<p::CreateTopicsRequest, p::CreateTopicsResponse>(rt, fmt::format("b{}", a), req, 5)
                  .topics.at(0).error_code == p::ErrorCode::none);
    });
    rig.run_for(3s);
    // A's frames to X now take 8 s more; A moves leaders away from Y (its
    // LeaderAndIsr to X is in flight), then loses the coordinator: B takes
    // over with epoch 2 and tells X first.
    rig.world->spawn("clog", [&] { rig.world->network().clog(a, x, 8s); });
    rig.client([&](Runtime& rt) {
      p::ControlledShutdownRequest cs;
      cs.broker_id = BrokerId(y);
      cs.broker_epoch = rig.cl.epochs.at(y);
      (void)call<p::ControlledShutdownRequest, p::ControlledShutdownResponse>(rt, fmt::format("b{}", a), cs, 3);
      rig.world->network().partition(a, 0);
    });
    const std::size_t before = rig.cl.received.size();
    rig.run_for(12s);
    bool newer_seen = false, zombie_obeyed = false, zombie_refused = false;
    for (std::size_t i = before; i < rig.cl.received.size(); ++i) {
      const auto& r = rig.cl.received[i];
      if (r.broker != x) continue;
      if (r.controller_epoch == p::ControllerEpoch(2) && r.answered == p::ErrorCode::none) newer_seen = true;
      if (newer_seen && r.controller_epoch == p::ControllerEpoch(1)) {
        zombie_obeyed |= r.answered == p::ErrorCode::none;
        zombie_refused |= r.answered == p::ErrorCode::stale_controller_epoch;
      }
    }
    CHECK(newer_seen);
    CHECK(zombie_obeyed == legacy);
    CHECK(zombie_refused == !legacy);
  }
}
