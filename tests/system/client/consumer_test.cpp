// The consumer against whole brokers of the simulated world: a group of two
// reads a 4-partition topic, commits, and keeps reading when a member
// crashes; assignments of one generation never overlap, every record is
// read, committed offsets never go back, and the survivor owns every
// partition within session.timeout.ms + the rebalance.
#include "system/client/consumer.h"

#include <catch2/catch.hpp>

#include "scenarios/broker/cluster.h"
#include "scenarios/broker/driver.h"
#include "system/broker/group/offsets_records.h"
#include "tests/sim/world_helpers.h"

using namespace samsa;
using namespace samsa::scenarios::broker;
using samsa::client::Consumer;
using samsa::client::TopicPartition;

namespace {

constexpr int k_partitions = 4;
constexpr int k_per_partition = 10;

struct Observed {
  // generation -> member -> partitions
  std::map<std::int32_t, std::map<std::string, std::vector<TopicPartition>>> assignments;
  std::map<std::string, int> reads;  // value -> times read
  std::map<TopicPartition, std::vector<std::int64_t>> commits;  // in order, per partition
  std::int64_t crash_ms = -1;
  std::int64_t survivor_owns_all_ms = -1;
  bool produced = false;
};

void produce_all(sim::Runtime& rt, Cluster& cluster, Observed& obs) {
  REQUIRE(cluster.create_topic(rt, "t", k_partitions, 3));
  RawClient c(rt, "producer");
  for (int p = 0; p < k_partitions; ++p) {
    for (int attempt = 0; attempt < 60; ++attempt) {
      std::map<protocol::BrokerId, sim::Address> brokers;
      auto leader = find_leader(c, cluster.address(1 + attempt % 3), "t", p, &brokers);
      if (leader && brokers.count(*leader)) {
        std::vector<std::string> values;
        for (int i = 0; i < k_per_partition; ++i) values.push_back("p" + std::to_string(p) + "-" + std::to_string(i));
        auto r = produce(c, brokers.at(*leader), "t", p, make_batch(values, rt.wall_ms()), -1, 5000);
        if (r.kind == ProduceResult::Kind::ok) break;
      }
      rt.sleep(std::chrono::milliseconds(250));
    }
  }
  obs.produced = true;
}

std::map<std::string, std::string> consumer_props(const std::string& id) {
  return {{"bootstrap.servers", "b1:9092,b2:9092,b3:9092"},
          {"client.id", id},
          {"group.id", "g"},
          {"auto.offset.reset", "earliest"},
          {"enable.auto.commit", "false"},
          {"session.timeout.ms", "6000"},
          {"heartbeat.interval.ms", "1000"},
          {"max.poll.interval.ms", "10000"},
          {"max.poll.records", "3"},
          {"fetch.max.wait.ms", "200"}};
}

// Polls and commits after each poll (process, then commit) until `stop`.
void run_consumer(sim::Runtime& rt, const std::string& id, Observed& obs, bool survivor) {
  rt.sleep(std::chrono::seconds(2));
  auto cfg = client::make_consumer_config(consumer_props(id));
  REQUIRE(cfg.ok());
  Consumer c(rt, *cfg);
  c.on_assign = [&, id, survivor](const client::AssignOutcome& a) {
    obs.assignments[a.generation][id] = a.partitions;
    if (survivor && obs.crash_ms >= 0 && obs.survivor_owns_all_ms < 0 &&
        a.partitions.size() == static_cast<std::size_t>(k_partitions))
      obs.survivor_owns_all_ms = sim::to_ms(rt.now().since_epoch);
  };
  c.on_commit = [&](const client::CommitOutcome& o) {
    if (!o.ok) return;
    for (const auto& [tp, off] : o.offsets) obs.commits[tp].push_back(off);
  };
  c.subscribe({"t"});
  while (sim::to_ms(rt.now().since_epoch) < 60000) {
    auto records = c.poll(std::chrono::milliseconds(500));
    for (const auto& r : records) ++obs.reads[r.value.value_or("")];
    if (!records.empty()) (void)c.commit_sync();
  }
  c.close();
}

}  // namespace

TEST_CASE("consumer group on brokers: every record read, no two owners in a generation, survivor takes over in time",
          "[client][consumer]") {
  auto wc = samsa::testing::quiet_config(5);
  if (const char* l = std::getenv("SAMSA_TEST_LOG")) wc.log_level = l;
  sim::World world(wc);
  Cluster cluster(world, {3,
                          {{"offsets.topic.num.partitions", "3"},
                           {"offsets.topic.replication.factor", "3"},
                           {"min.insync.replicas", "2"},
                           {"group.initial.rebalance.delay.ms", "100"}}});
  Observed obs;
  world.add_node("producer", [&](sim::Runtime& rt) { produce_all(rt, cluster, obs); });
  world.add_node("c1", [&](sim::Runtime& rt) { run_consumer(rt, "c1", obs, true); });
  const sim::NodeId c2 = world.add_node("c2", [&](sim::Runtime& rt) { run_consumer(rt, "c2", obs, false); });
  world.add_node("nemesis", [&](sim::Runtime& rt) {
    // Once both members hold partitions of one generation, crash one.
    for (int i = 0; i < 400; ++i) {
      rt.sleep(std::chrono::milliseconds(100));
      if (!obs.assignments.empty() && obs.assignments.rbegin()->second.size() == 2) break;
    }
    rt.sleep(std::chrono::seconds(1));
    obs.crash_ms = sim::to_ms(rt.now().since_epoch);
    world.crash(c2);
  });
  for (sim::NodeId n : world.node_ids()) world.start(n);
  const auto r = world.run(world.now() + std::chrono::seconds(70));
  INFO(r.report);
  REQUIRE(obs.produced);
  // No partition has two owners in one generation.
  for (const auto& [gen, members] : obs.assignments) {
    std::set<TopicPartition> seen;
    for (const auto& [m, parts] : members)
      for (const auto& tp : parts) {
        INFO("generation " << gen << " member " << m << " " << client::group::to_string(tp));
        CHECK(seen.insert(tp).second);
      }
  }
  // Process-then-commit: nothing lost.
  for (int p = 0; p < k_partitions; ++p)
    for (int i = 0; i < k_per_partition; ++i) {
      const std::string v = "p" + std::to_string(p) + "-" + std::to_string(i);
      INFO(v);
      CHECK(obs.reads.count(v) == 1);
    }
  // Committed offsets never go back, and end at the log end.
  for (const auto& [tp, offs] : obs.commits) {
    CHECK(std::is_sorted(offs.begin(), offs.end()));
    CHECK(offs.back() == k_per_partition);
  }
  CHECK(obs.commits.size() == static_cast<std::size_t>(k_partitions));
  REQUIRE(obs.crash_ms >= 0);
  REQUIRE(obs.survivor_owns_all_ms >= 0);
  // session.timeout.ms + the rebalance (bounded by max.poll.interval.ms).
  CHECK(obs.survivor_owns_all_ms - obs.crash_ms <= 6000 + 10000);
}

TEST_CASE("consumer group on brokers: a coordinator crash while a member's JoinGroup is parked ends the wait "
          "at once; the member finds the next coordinator (AbstractCoordinator.markCoordinatorUnknown)",
          "[client][consumer]") {
  auto wc = samsa::testing::quiet_config(6);
  if (const char* l = std::getenv("SAMSA_TEST_LOG")) wc.log_level = l;
  sim::World world(wc);
  Cluster cluster(world, {3,
                          {{"offsets.topic.num.partitions", "1"},
                           {"offsets.topic.replication.factor", "3"},
                           {"min.insync.replicas", "2"},
                           {"group.initial.rebalance.delay.ms", "100"}}});
  Observed obs;
  bool b_started = false;
  std::int64_t b_assigned_ms = -1;
  world.add_node("producer", [&](sim::Runtime& rt) { produce_all(rt, cluster, obs); });
  world.add_node("c1", [&](sim::Runtime& rt) {
    rt.sleep(std::chrono::seconds(2));
    auto cfg = client::make_consumer_config(consumer_props("c1"));
    REQUIRE(cfg.ok());
    Consumer c(rt, *cfg);
    c.on_assign = [&](const client::AssignOutcome& a) { obs.assignments[a.generation]["c1"] = a.partitions; };
    c.subscribe({"t"});
    bool slow_once = false;
    while (sim::to_ms(rt.now().since_epoch) < 60000) {
      (void)c.poll(std::chrono::milliseconds(200));
      // Slow processing while c2 joins: c2's JoinGroup stays parked at the
      // coordinator (the rebalance waits for c1, up to max.poll.interval.ms).
      if (b_started && !slow_once) {
        slow_once = true;
        rt.sleep(std::chrono::seconds(8));
      }
    }
  });
  world.add_node("c2", [&](sim::Runtime& rt) {
    while (obs.assignments.empty()) rt.sleep(std::chrono::milliseconds(100));
    rt.sleep(std::chrono::seconds(1));
    auto cfg = client::make_consumer_config(consumer_props("c2"));
    REQUIRE(cfg.ok());
    Consumer c(rt, *cfg);
    c.on_assign = [&](const client::AssignOutcome& a) {
      obs.assignments[a.generation]["c2"] = a.partitions;
      if (obs.crash_ms >= 0 && b_assigned_ms < 0) b_assigned_ms = sim::to_ms(rt.now().since_epoch);
    };
    c.subscribe({"t"});
    b_started = true;
    while (sim::to_ms(rt.now().since_epoch) < 60000) (void)c.poll(std::chrono::milliseconds(200));
  });
  world.add_node("nemesis", [&](sim::Runtime& rt) {
    while (!b_started) rt.sleep(std::chrono::milliseconds(10));
    rt.sleep(std::chrono::seconds(2));  // c2's JoinGroup is parked
    RawClient raw(rt, "nemesis");
    protocol::FindCoordinatorRequest req;
    req.key = "g";
    auto resp = raw.call<protocol::FindCoordinatorResponse>(cluster.address(1), req, 3, std::chrono::seconds(5));
    REQUIRE(resp);
    REQUIRE(resp->error_code == protocol::ErrorCode::none);
    obs.crash_ms = sim::to_ms(rt.now().since_epoch);
    world.crash(static_cast<sim::NodeId>(resp->node_id.value()));
  });
  for (sim::NodeId n : world.node_ids()) world.start(n);
  const auto r = world.run(world.now() + std::chrono::seconds(70));
  INFO(r.report);
  REQUIRE(obs.crash_ms >= 0);
  REQUIRE(b_assigned_ms >= 0);
  INFO("c2 assigned " << b_assigned_ms - obs.crash_ms << " ms after the crash");
  // The JoinGroup's own timeout is max.poll.interval.ms + 5 s (15 s); the
  // crash ends it, and the next coordinator is known once the controller
  // moves the offsets partition (zookeeper.session.timeout.ms).
  CHECK(b_assigned_ms - obs.crash_ms < 10000);
  // No two owners in one generation.
  for (const auto& [gen, members] : obs.assignments) {
    std::set<TopicPartition> seen;
    for (const auto& [m, parts] : members)
      for (const auto& tp : parts) CHECK(seen.insert(tp).second);
  }
}

// max.poll.interval.ms is the JoinGroup's rebalance timeout (Kafka's
// ConsumerCoordinator: rebalanceTimeoutMs = max.poll.interval.ms): read back
// from what the coordinator stored of the member (the group metadata record
// in __consumer_offsets), for two values.
TEST_CASE("consumer: max.poll.interval.ms reaches the coordinator as the JoinGroup's rebalance_timeout_ms",
          "[client][consumer]") {
  for (const std::int32_t interval_ms : {10000, 23456}) {
    INFO("max.poll.interval.ms " << interval_ms);
    sim::World world(samsa::testing::quiet_config(7));
    Cluster cluster(world, {3,
                            {{"offsets.topic.num.partitions", "1"},
                             {"offsets.topic.replication.factor", "3"},
                             {"group.initial.rebalance.delay.ms", "100"}}});
    Observed obs;
    std::vector<std::int32_t> stored;  // rebalance_timeout_ms of c1 in each group metadata record
    world.add_node("producer", [&](sim::Runtime& rt) { produce_all(rt, cluster, obs); });
    world.add_node("c1", [&](sim::Runtime& rt) {
      while (!obs.produced) rt.sleep(std::chrono::milliseconds(100));
      auto props = consumer_props("c1");
      props["max.poll.interval.ms"] = std::to_string(interval_ms);
      auto cfg = client::make_consumer_config(props);
      REQUIRE(cfg.ok());
      Consumer c(rt, *cfg);
      c.on_assign = [&](const client::AssignOutcome& a) { obs.assignments[a.generation]["c1"] = a.partitions; };
      c.subscribe({"t"});
      while (obs.assignments.empty() && sim::to_ms(rt.now().since_epoch) < 30000) (void)c.poll(std::chrono::milliseconds(200));
      RawClient raw(rt, "reader");
      std::map<protocol::BrokerId, sim::Address> brokers;
      const auto leader = find_leader(raw, cluster.address(1), "__consumer_offsets", 0, &brokers);
      REQUIRE(leader);
      const auto f = fetch(raw, brokers.at(*leader), "__consumer_offsets", 0, protocol::Offset(0), 100);
      REQUIRE(f);
      for (const auto& [offset, value] : f->values) {
        const auto bytes = reinterpret_cast<const std::uint8_t*>(value.data());
        auto g = samsa::broker::group::decode_group_metadata_value(samsa::ByteView(bytes, value.size()));
        if (!g) continue;
        for (const auto& m : g->members)
          if (m.client_id == "c1") stored.push_back(m.rebalance_timeout_ms);
      }
    });
    for (sim::NodeId n : world.node_ids()) world.start(n);
    const auto r = world.run(world.now() + std::chrono::seconds(40));
    INFO(r.report);
    REQUIRE_FALSE(obs.assignments.empty());
    REQUIRE_FALSE(stored.empty());
    for (const auto t : stored) CHECK(t == interval_ms);
  }
}
