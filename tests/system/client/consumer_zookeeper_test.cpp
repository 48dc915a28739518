// The seed's ZooKeeper consumer (Kafka 0.8's ZookeeperConsumerConnector) on
// whole brokers and the simulated coordinator: under consumer crashes and
// restarts no two consumers ever believe they own one partition, every
// partition is owned again once the churn ends, and committed offsets
// survive a consumer's restart.
#include "system/client/consumer_zookeeper.h"

#include <catch2/catch.hpp>

#include "scenarios/broker/cluster.h"
#include "scenarios/broker/driver.h"
#include "tests/sim/world_helpers.h"

using namespace samsa;
using namespace samsa::scenarios::broker;
using samsa::client::TopicPartition;
using samsa::client::ZookeeperConsumer;

namespace {

constexpr int k_partitions = 6;
constexpr int k_per_partition = 20;

struct Obs {
  bool produced = false;
  std::map<std::string, ZookeeperConsumer*> live;  // node -> its consumer while it runs
  std::map<std::string, int> reads;
  std::uint64_t overlaps = 0, checks = 0, failures = 0, rebalances = 0;
  std::int64_t all_owned_after_churn_ms = -1;
};

void produce_all(sim::Runtime& rt, Cluster& cluster, Obs& o) {
  REQUIRE(cluster.create_topic(rt, "t", k_partitions, 3));
  RawClient c(rt, "writer");
  for (int p = 0; p < k_partitions; ++p) {
    std::vector<std::string> values;
    for (int i = 0; i < k_per_partition; ++i) values.push_back(std::to_string(p) + "-" + std::to_string(i));
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::map<protocol::BrokerId, sim::Address> brokers;
      auto leader = find_leader(c, cluster.address(1 + attempt % 3), "t", p, &brokers);
      if (leader && brokers.count(*leader) &&
          produce(c, brokers.at(*leader), "t", p, make_batch(values, rt.wall_ms()), -1, 5000).kind ==
              ProduceResult::Kind::ok)
        break;
      rt.sleep(std::chrono::milliseconds(200));
    }
  }
  o.produced = true;
}

client::ZookeeperConsumerConfig zk_config(const std::string& id) {
  client::ZookeeperConsumerConfig c;
  c.zookeeper_connect = {{"zk", 2181}};
  c.bootstrap_servers = {{"b1", 9092}, {"b2", 9092}, {"b3", 9092}};
  c.group_id = "zg";
  c.consumer_id = id;
  c.topics = {"t"};
  c.auto_offset_reset = "smallest";
  c.auto_commit_interval_ms = 1000;
  c.rebalance_backoff_ms = 500;
  return c;
}

// Runs a consumer until `until_ms`, registering it with the monitor.
void run_zk_consumer(sim::Runtime& rt, Obs& o, std::int64_t until_ms) {
  while (!o.produced) rt.sleep(std::chrono::milliseconds(100));
  ZookeeperConsumer c(rt, zk_config(rt.node_name()));
  struct Live {
    Obs& o;
    std::string name;
    ~Live() { o.live.erase(name); }
  } live{o, rt.node_name()};
  o.live[rt.node_name()] = &c;
  while (sim::to_ms(rt.now().since_epoch) < until_ms) {
    for (const auto& r : c.poll(std::chrono::milliseconds(200))) ++o.reads[r.value.value_or("")];
    o.failures = std::max<std::uint64_t>(o.failures, c.stats().rebalance_failures);
    o.rebalances += 0;
  }
  c.close();
}

// The owned sets of the live consumers never overlap.
void monitor(sim::Runtime& rt, Obs& o, std::int64_t churn_end_ms) {
  for (;;) {
    rt.sleep(std::chrono::milliseconds(5));
    std::set<TopicPartition> seen;
    for (const auto& [name, c] : o.live)
      for (const auto& tp : c->owned())
        if (!seen.insert(tp).second) ++o.overlaps;
    ++o.checks;
    const std::int64_t now = sim::to_ms(rt.now().since_epoch);
    if (now > churn_end_ms && o.all_owned_after_churn_ms < 0 && seen.size() == static_cast<std::size_t>(k_partitions))
      o.all_owned_after_churn_ms = now;
  }
}

}  // namespace

TEST_CASE("ZooKeeper consumer: never two owners under churn; every partition owned again after the churn; nothing lost",
          "[client][zookeeper-consumer]") {
  auto wc = samsa::testing::quiet_config(9);
  if (const char* l = std::getenv("SAMSA_TEST_LOG")) wc.log_level = l;
  sim::World world(wc);
  Cluster cluster(world, {3, {{"min.insync.replicas", "2"}}});
  Obs o;
  constexpr std::int64_t churn_end_ms = 20000, end_ms = 50000;
  world.add_node("writer", [&](sim::Runtime& rt) { produce_all(rt, cluster, o); });
  std::vector<sim::NodeId> consumers;
  for (int i = 1; i <= 3; ++i)
    consumers.push_back(world.add_node("z" + std::to_string(i), [&](sim::Runtime& rt) { run_zk_consumer(rt, o, end_ms); }));
  world.add_node("monitor", [&](sim::Runtime& rt) { monitor(rt, o, churn_end_ms); });
  for (sim::NodeId n : world.node_ids()) world.start(n);
  world.spawn("churn", [&] {
    sim::Runtime& ctl = world.control();
    sim::Random rng = ctl.random("churn");
    while (sim::to_ms(ctl.now().since_epoch) < churn_end_ms) {
      ctl.sleep(std::chrono::milliseconds(rng.uniform(500, 2500)));
      const sim::NodeId v = consumers[static_cast<std::size_t>(rng.uniform(0, 2))];
      if (world.is_up(v)) world.crash(v);
      else world.start(v);
    }
    for (sim::NodeId n : consumers)
      if (!world.is_up(n)) world.start(n);
  });
  const auto r = world.run(world.now() + std::chrono::milliseconds(end_ms + 2000));
  INFO(r.report);
  REQUIRE(o.produced);
  CHECK(o.checks > 1000);
  CHECK(o.overlaps == 0);
  // Session timeout of the crashed ones + the rebalance after the churn.
  REQUIRE(o.all_owned_after_churn_ms > 0);
  CHECK(o.all_owned_after_churn_ms - churn_end_ms <= 6000 + 4 * 2500);
  for (int p = 0; p < k_partitions; ++p)
    for (int i = 0; i < k_per_partition; ++i) {
      const std::string v = std::to_string(p) + "-" + std::to_string(i);
      INFO(v);
      CHECK(o.reads.count(v) == 1);
    }
}

TEST_CASE("ZooKeeper consumer: offsets committed to /consumers/<group>/offsets survive a restart",
          "[client][zookeeper-consumer]") {
  sim::World world(samsa::testing::quiet_config(3));
  Cluster cluster(world, {3, {{"min.insync.replicas", "2"}}});
  Obs o;
  std::size_t first_read = 0;
  bool done = false;
  world.add_node("writer", [&](sim::Runtime& rt) { produce_all(rt, cluster, o); });
  world.add_node("z", [&](sim::Runtime& rt) {
    while (!o.produced) rt.sleep(std::chrono::milliseconds(100));
    auto cfg = zk_config("first");
    cfg.auto_commit_enable = false;
    {
      ZookeeperConsumer a(rt, cfg);
      while (first_read < 60)
        for (const auto& r : a.poll(std::chrono::milliseconds(200))) {
          ++o.reads[r.value.value_or("")];
          ++first_read;
        }
      a.commit();
      a.close();
    }
    cfg.consumer_id = "second";
    ZookeeperConsumer b(rt, cfg);
    for (int i = 0; i < 200 && o.reads.size() < static_cast<std::size_t>(k_partitions * k_per_partition); ++i)
      for (const auto& r : b.poll(std::chrono::milliseconds(200))) ++o.reads[r.value.value_or("")];
    b.close();
    done = true;
  });
  for (sim::NodeId n : world.node_ids()) world.start(n);
  const auto r = world.run(world.now() + std::chrono::seconds(120));
  INFO(r.report);
  REQUIRE(done);
  CHECK(first_read >= 60);
  CHECK(o.reads.size() == static_cast<std::size_t>(k_partitions * k_per_partition));
  for (const auto& [v, n] : o.reads) {
    INFO(v);
    CHECK(n == 1);  // the second consumer starts where the first committed
  }
}
