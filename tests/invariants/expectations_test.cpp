#include <catch2/catch.hpp>

#include "invariants/expectations.h"
#include "invariants/kafka_checkers.h"

using namespace samsa::invariants;
using json = nlohmann::json;

namespace {

json with_faults(json c, std::vector<json> nemeses) {
  c["nemeses"] = nemeses;
  return c;
}

}  // namespace

TEST_CASE("expectations: Kafka's defaults under crashes promise no loss, no duplicates, order",
          "[invariants][expectations]") {
  // acks=all and idempotence are defaults; min.insync.replicas=2 keeps two copies of every ack.
  const auto e = expectations_for(with_faults({{"min.insync.replicas", 2}, {"samsa.consume", "assign"},
                                               {"samsa.delivery", "exactly-once"}},
                                              {json{{"name", "crash"}, {"disk", "keep_all"}}, "partition"}));
  for (const char* c : {"lost-write", "unseen", "duplicate", "inconsistent-offsets", "nonmonotonic-send",
                        "per-key-order", "poll-skip", "nonmonotonic-poll", "kafka-liveness", "replica-divergence",
                        "G1a", "redelivery"})
    CHECK(e.must_hold.count(c) == 1);
  CHECK(e.allowed.size() == 1);  // int-send-skip, always
  CHECK(e.allows("int-send-skip"));
}

TEST_CASE("expectations: acks=1 or acks=0 with leader loss allow lost writes", "[invariants][expectations]") {
  const auto one = expectations_for(with_faults({{"acks", "1"}}, {"crash"}));
  CHECK(one.allows("lost-write"));
  CHECK(one.allows("unseen"));
  CHECK(one.must_hold.count("lost-write") == 0);
  CHECK(one.allowed.at("lost-write").find("acks=1") != std::string::npos);
  CHECK_FALSE(expectations_for({{"acks", "1"}, {"min.insync.replicas", 2}}).allows("lost-write"));  // no faults
  const auto zero = expectations_for(with_faults({{"acks", 0}}, {"reset"}));
  CHECK(zero.allows("lost-write"));
  CHECK(zero.allowed.at("lost-write").find("acks=0") != std::string::npos);
}

TEST_CASE("expectations: min.insync.replicas=1 and unclean election allow loss under leader loss",
          "[invariants][expectations]") {
  CHECK(expectations_for(with_faults({{"acks", "all"}}, {"partition"})).allows("lost-write"));  // min.insync=1 default
  CHECK_FALSE(expectations_for(with_faults({{"acks", "all"}, {"min.insync.replicas", "2"}},
                                           {json{{"name", "crash"}, {"disk", "keep_all"}}}))
                  .allows("lost-write"));
  const auto u = expectations_for(with_faults({{"min.insync.replicas", 2}, {"unclean.leader.election.enable", true}},
                                              {"partition"}));
  CHECK(u.allows("lost-write"));
  CHECK(u.allowed.at("lost-write").find("unclean") != std::string::npos);
}

TEST_CASE("expectations: power loss matters only with the default flush policy", "[invariants][expectations]") {
  const json base = {{"min.insync.replicas", 2}};
  CHECK(expectations_for(with_faults(base, {json{{"name", "crash"}, {"disk", "keep_none"}}})).allows("lost-write"));
  json flushed = base;
  flushed["log.flush.interval.messages"] = 1;
  CHECK_FALSE(
      expectations_for(with_faults(flushed, {json{{"name", "crash"}, {"disk", "keep_none"}}})).allows("lost-write"));
  CHECK_FALSE(expectations_for(with_faults(base, {json{{"name", "crash"}, {"disk", "keep_all"}}})).allows("lost-write"));
}

TEST_CASE("expectations: retries without idempotence allow duplicates and, with in-flight > 1, reordering",
          "[invariants][expectations]") {
  const auto e = expectations_for(with_faults({{"enable.idempotence", false}, {"retries", 5}}, {"reset"}));
  CHECK(e.allows("duplicate"));
  CHECK(e.allows("nonmonotonic-send"));
  CHECK(e.allows("per-key-order"));
  const auto one = expectations_for(
      with_faults({{"enable.idempotence", false}, {"max.in.flight.requests.per.connection", 1}}, {"reset"}));
  CHECK(one.allows("duplicate"));
  CHECK_FALSE(one.allows("per-key-order"));
  CHECK_FALSE(expectations_for(with_faults({{"enable.idempotence", false}, {"retries", 0}}, {"reset"})).allows("duplicate"));
  // Idempotence (the default) keeps both.
  const auto idem = expectations_for(with_faults({}, {"reset"}));
  CHECK_FALSE(idem.allows("duplicate"));
  CHECK_FALSE(idem.allows("per-key-order"));
  // acks=1 turns default idempotence off (Kafka 3.x: a conflicting key disables it unless set explicitly).
  CHECK(expectations_for(with_faults({{"acks", "1"}}, {"reset"})).allows("duplicate"));
}

TEST_CASE("expectations: delivery mode and subscription", "[invariants][expectations]") {
  const auto most = expectations_for({{"samsa.delivery", "at-most-once"}, {"samsa.consume", "assign"}});
  CHECK(most.allows("lost-write"));
  CHECK(most.allows("unseen"));
  CHECK_FALSE(most.allows("duplicate"));
  CHECK_FALSE(most.allows("redelivery"));
  const auto least = expectations_for(
      with_faults({{"samsa.delivery", "at-least-once"}, {"samsa.consume", "assign"}, {"min.insync.replicas", 2}},
                  {json{{"name", "crash"}, {"disk", "keep_all"}}}));
  CHECK(least.allows("redelivery"));
  CHECK_FALSE(least.allows("lost-write"));
  CHECK_FALSE(least.allows("duplicate"));
  const auto sub = expectations_for({});
  CHECK(sub.allows("poll-skip"));
  CHECK(sub.allows("nonmonotonic-poll"));
  CHECK_FALSE(expectations_for({{"samsa.consume", "assign"}}).allows("poll-skip"));
}

TEST_CASE("expectations: legacy switches allow their bug's anomaly, naming the JIRA", "[invariants][expectations]") {
  const auto e = expectations_for({{"samsa.legacy.truncate.to.high.watermark", "true"}, {"min.insync.replicas", 2}});
  CHECK(e.allows("lost-write"));
  CHECK(e.allowed.at("lost-write").find("KAFKA-1211") != std::string::npos);
  const auto d = expectations_for({{"samsa.legacy.dedupe.last.batch.only", true}});
  CHECK(d.allows("duplicate"));
  CHECK(d.allowed.at("duplicate").find("KAFKA-5494") != std::string::npos);
}

TEST_CASE("expectations: every checker is either must-hold or its anomaly is allowed", "[invariants][expectations]") {
  for (const json& c : {json::object(), json{{"acks", "0"}, {"nemeses", {"crash"}}},
                        json{{"samsa.delivery", "at-most-once"}}}) {
    const auto e = expectations_for(c);
    for (const auto& name : kafka_checker_names()) {
      const std::string anomaly = name == "kafka-liveness" ? "liveness" : name;
      CHECK((e.must_hold.count(name) == 1) != e.allows(anomaly));
    }
    const auto j = to_json(e);
    CHECK(j["must_hold"].size() == e.must_hold.size());
    CHECK(j["allowed"].size() == e.allowed.size());
  }
}

TEST_CASE("expectations: judge splits violations into failing and demonstrated", "[invariants][expectations]") {
  const auto e = expectations_for(with_faults({{"acks", "1"}}, {json{{"name", "crash"}, {"disk", "keep_all"}}}));
  const auto j = judge({Violation::safety("lost-write", "x", {1}), Violation::safety("replica-divergence", "y", {2}),
                        Violation::liveness("unseen", "z", {3})},
                       e);
  REQUIRE(j.failing.size() == 1);
  CHECK(j.failing[0].name == "replica-divergence");
  REQUIRE(j.demonstrated.size() == 2);
  CHECK(j.demonstrated[0].name == "lost-write");
}

TEST_CASE("expectations: a nemesis's targets and peers decide its fault class", "[invariants][expectations]") {
  const json acks1 = {{"acks", "1"}};
  // A crash of consumers moves no leader: acks=1 keeps its writes.
  CHECK_FALSE(expectations_for(with_faults(acks1, {json{{"name", "crash"}, {"targets", {"consumers"}}}}))
                  .allows("lost-write"));
  CHECK(expectations_for(with_faults(acks1, {json{{"name", "crash"}, {"targets", {"leader"}}}})).allows("lost-write"));
  CHECK(expectations_for(with_faults(acks1, {json{{"name", "crash"}, {"targets", {"b2"}}}})).allows("lost-write"));
  // A producer cut from the brokers is a lost ack, not a leader loss.
  const json producer_cut = {{"name", "partition"}, {"targets", {"producers"}}, {"peers", {"brokers"}}};
  CHECK_FALSE(expectations_for(with_faults(acks1, {producer_cut})).allows("lost-write"));
  CHECK(expectations_for(with_faults({{"enable.idempotence", false}}, {producer_cut})).allows("duplicate"));
  // A broker cut from the coordinator loses its leadership.
  CHECK(expectations_for(with_faults(acks1, {json{{"name", "partition"}, {"targets", {"brokers"}}, {"peers", {"coordinator"}}}}))
            .allows("lost-write"));
  CHECK(expectations_for(with_faults(acks1, {json{{"name", "isolate"}, {"targets", {"leader"}}}})).allows("lost-write"));
  CHECK(expectations_for(with_faults(acks1, {json{{"name", "pause"}, {"targets", {"leader"}}}})).allows("lost-write"));
  // The Kafka nemeses' own names count: lost-acks is a lost ack.
  CHECK(expectations_for(with_faults({{"enable.idempotence", false}}, {"lost-acks"})).allows("duplicate"));
  // Group state lives in __consumer_offsets: lost with it.
  const json group = {{"min.insync.replicas", 2}, {"max_faulted_nodes", 1}};
  CHECK_FALSE(expectations_for(with_faults(group, {json{{"name", "crash"}, {"targets", {"brokers"}}}}))
                  .allows("assignment-overlap"));
  CHECK(expectations_for(with_faults(group, {json{{"name", "power-loss-all"}, {"targets", {"brokers"}}}}))
            .allows("committed-offset-regression"));
  CHECK_FALSE(expectations_for(with_faults({{"enable.idempotence", false}}, {"slow-replication"})).allows("lost-write"));
}

TEST_CASE("expectations: page-cache loss needs as many replicas down at once as min.insync.replicas",
          "[invariants][expectations]") {
  const json crash = {{"name", "crash"}, {"targets", {"brokers"}}, {"disk", "keep_none"}};
  json base = {{"min.insync.replicas", 2}};
  CHECK(expectations_for(with_faults(base, {crash})).allows("lost-write"));  // no budget
  base["max_faulted_nodes"] = 1;
  CHECK_FALSE(expectations_for(with_faults(base, {crash})).allows("lost-write"));  // one at a time: a copy survives
  base["max_faulted_nodes"] = 2;
  CHECK(expectations_for(with_faults(base, {crash})).allows("lost-write"));
  // power-loss-all takes every replica at once, whatever the budget.
  base["max_faulted_nodes"] = 1;
  CHECK(expectations_for(with_faults(base, {json{{"name", "power-loss-all"}, {"targets", {"brokers"}}}}))
            .allows("lost-write"));
  base["log.flush.interval.messages"] = 1;
  CHECK_FALSE(expectations_for(with_faults(base, {json{{"name", "power-loss-all"}, {"targets", {"brokers"}}}}))
                  .allows("lost-write"));
}

TEST_CASE("expectations: a power loss with the default flush policy allows divergence and duplicates",
          "[invariants][expectations]") {
  // swarm/kafka seed 102: RF=3, min.insync.replicas=1, crashes with disk=random.
  // The leader b3 lost its tail to a crash, the controller crashed before b3's
  // session expired, and the next controller reinstated b3 in leader epoch 0:
  // its new records at the lost offsets differ from b1's below the HW.
  const json crash = {{"name", "crash"}, {"targets", {"brokers", "leader"}}, {"disk", "random"}};
  const json base = {{"acks", "all"}, {"min.insync.replicas", 1}, {"replication.factor", 3}};
  const auto e = expectations_for(with_faults(base, {crash}));
  CHECK(e.allows("replica-divergence"));
  CHECK(e.allowed.at("replica-divergence").find("same leader epoch") != std::string::npos);
  CHECK(e.allows("duplicate"));  // swarm/kafka seed 52: idempotent, RF=1, power-loss-all
  json flushed = base;
  flushed["log.flush.interval.messages"] = 1;
  CHECK_FALSE(expectations_for(with_faults(flushed, {crash})).allows("replica-divergence"));
  CHECK_FALSE(expectations_for(with_faults(flushed, {crash})).allows("duplicate"));
  // Crashes that keep the page cache, or one replica at a time under
  // min.insync.replicas=2, keep both promises.
  CHECK_FALSE(expectations_for(with_faults(base, {json{{"name", "crash"}, {"disk", "keep_all"}}}))
                  .allows("replica-divergence"));
  json one_at_a_time = {{"min.insync.replicas", 2}, {"max_faulted_nodes", 1}};
  CHECK_FALSE(expectations_for(with_faults(one_at_a_time, {crash})).allows("replica-divergence"));
}
