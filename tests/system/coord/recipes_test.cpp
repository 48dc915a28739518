// Kafka's znode values and the recipes on top of the client.
#include <catch2/catch.hpp>

#include "sim/world/world.h"
#include "system/coord/recipes.h"
#include "system/coord/server.h"

using namespace samsa;
using namespace samsa::coord;
using namespace samsa::sim;

TEST_CASE("Kafka's znode values are written as Kafka writes them", "[coord][kafka]") {
  REQUIRE(kafka::controller_json(3, 1700000000000) ==
          R"({"version":1,"brokerid":3,"timestamp":"1700000000000"})");
  REQUIRE(kafka::broker_json("b1", 9092, 5) ==
          R"({"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://b1:9092"],"jmx_port":-1,"host":"b1","timestamp":"5","port":9092,"version":4})");
  REQUIRE(kafka::topic_assignment_json({{0, {1, 2}}, {1, {2, 3}}}) ==
          R"({"version":1,"partitions":{"0":[1,2],"1":[2,3]}})");
  const kafka::PartitionState s{4, 2, 7, {2, 3}};
  REQUIRE(kafka::partition_state_json(s) ==
          R"({"controller_epoch":4,"leader":2,"version":1,"leader_epoch":7,"isr":[2,3]})");
  REQUIRE(*kafka::parse_partition_state(kafka::partition_state_json(s)) == s);
  REQUIRE(!kafka::parse_partition_state(R"({"leader":1})"));
  REQUIRE(kafka::producer_id_block_json(1, 0, 999) ==
          R"({"version":1,"broker":1,"block_start":"0","block_end":"999"})");
  REQUIRE(kafka::json_int_field(kafka::producer_id_block_json(1, 0, 999), "block_end") == 999);
  REQUIRE(kafka::partition_state_path("t", 3) == "/brokers/topics/t/partitions/3/state");
  REQUIRE(kafka::consumer_offset_path("g", "t", 0) == "/consumers/g/offsets/t/0");
}

TEST_CASE("recipes: layout, registration, election with epoch, CAS, sequential ids",
          "[coord][kafka][server]") {
  WorldConfig wc;
  wc.seed = 11;
  World w(wc);
  std::shared_ptr<Server> server;
  w.add_node("zk", [&](Runtime& rt) { server = Server::start(rt, ServerConfig{}).value(); });
  w.start(0);
  bool done = false;
  w.add_node("b1", [&](Runtime& rt) {
    auto a = Client::start(rt, ClientConfig{{{"zk", 2181}}, 2000});
    auto b = Client::start(rt, ClientConfig{{{"zk", 2181}}, 2000});
    REQUIRE(a->wait_connected(rt.deadline_after(5s)));
    REQUIRE(b->wait_connected(rt.deadline_after(5s)));
    REQUIRE(create_kafka_layout(*a).ok());
    REQUIRE(create_kafka_layout(*b).ok());  // idempotent
    REQUIRE(register_broker(*a, 1, "b1", 9092, 0).ok());
    REQUIRE(register_broker(*a, 1, "b1", 9092, 0).ok());  // our own node: fine
    REQUIRE(register_broker(*b, 1, "b1", 9092, 0).error() == Code::node_exists);

    auto first = try_elect_controller(*a, 1, 0);
    REQUIRE(first.ok());
    REQUIRE(first->elected);
    REQUIRE(first->epoch == 1);
    auto second = try_elect_controller(*b, 2, 0);
    REQUIRE(second.ok());
    REQUIRE(!second->elected);
    REQUIRE(second->controller_id == 1);
    a->close();  // the controller's session ends: /controller goes
    auto third = try_elect_controller(*b, 2, 0);
    REQUIRE(third->elected);
    REQUIRE(third->epoch == 2);

    const std::string p = "/brokers/topics/t";
    REQUIRE(b->create(p, Bytes{'v'}).ok());
    REQUIRE(conditional_update(*b, p, Bytes{'w'}, 0).value() == 1);
    REQUIRE(conditional_update(*b, p, Bytes{'x'}, 0).error() == Code::bad_version);

    REQUIRE(next_sequential_id(*b, "/brokers/seqid/id-").value() == 0);
    REQUIRE(next_sequential_id(*b, "/brokers/seqid/id-").value() == 1);
    done = true;
  });
  w.start(1);
  w.run(20s);
  REQUIRE(done);
}

TEST_CASE("a session survives a coordinator restart; its watches are set again",
          "[coord][server][session][watch]") {
  WorldConfig wc;
  wc.seed = 5;
  World w(wc);
  std::shared_ptr<Server> server;
  w.add_node("zk", [&](Runtime& rt) { server = Server::start(rt, ServerConfig{}).value(); });
  w.start(0);
  SessionId before = 0, after = 0;
  int events = 0;
  w.add_node("c1", [&](Runtime& rt) {
    auto c = Client::start(rt, ClientConfig{{{"zk", 2181}}, 3000});
    REQUIRE(c->wait_connected(rt.deadline_after(5s)));
    before = c->session_id();
    REQUIRE(c->create("/x", {}, CreateMode::ephemeral).ok());
    REQUIRE(c->get_data("/x", [&](const WatchedEvent& e) {
                 if (e.type == EventType::node_data_changed) ++events;
               }).ok());
    rt.sleep(3s);  // the coordinator restarts meanwhile; a writer changes /x
    after = c->session_id();
    REQUIRE(c->exists("/x").ok());  // the ephemeral survived: same session
  });
  w.start(1);
  w.add_node("c2", [&](Runtime& rt) {
    rt.sleep(1500ms);
    auto c = Client::start(rt, ClientConfig{{{"zk", 2181}}, 3000});
    REQUIRE(c->wait_connected(rt.deadline_after(5s)));
    REQUIRE(c->set_data("/x", Bytes{'n'}).ok());
  });
  w.start(2);
  w.spawn("restart", [&] {
    w.control().sleep(1s);
    w.restart(0);
  });
  w.run(10s);
  REQUIRE(before != 0);
  REQUIRE(after == before);
  REQUIRE(events == 1);
}

TEST_CASE("session timeouts are negotiated within [2, 20] ticks", "[coord][server][session]") {
  WorldConfig wc;
  World w(wc);
  std::vector<std::int32_t> got;
  w.add_node("zk", [&](Runtime& rt) { (void)Server::start(rt, ServerConfig{}).value(); });
  w.start(0);
  w.add_node("c", [&](Runtime& rt) {
    for (std::int32_t asked : {1, 1000, 100000}) {
      auto c = Client::start(rt, ClientConfig{{{"zk", 2181}}, asked});
      REQUIRE(c->wait_connected(rt.deadline_after(5s)));
      got.push_back(c->negotiated_timeout_ms());
      c->close();
    }
  });
  w.start(1);
  w.run(10s);
  REQUIRE(got == std::vector<std::int32_t>{400, 1000, 4000});
}
