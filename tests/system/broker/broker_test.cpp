// Whole brokers on the simulated world: a coordinator and three brokers
// (controller election, topic creation, LeaderAndIsr over the wire), a raw
// client producing with acks=all and reading back, replicas compared.
#include "system/broker/broker.h"

#include <catch2/catch.hpp>

#include "scenarios/broker/cluster.h"
#include "scenarios/broker/driver.h"
#include "tests/sim/world_helpers.h"

using namespace samsa;
using namespace samsa::scenarios::broker;

namespace {

// Asks every broker until one names a leader; nullopt after `tries`.
std::optional<sim::Address> wait_leader(sim::Runtime& rt, RawClient& c, Cluster& cluster,
                                        const std::string& topic, int tries = 60) {
  for (int i = 0; i < tries; ++i) {
    for (int b = 1; b <= cluster.brokers(); ++b) {
      std::map<protocol::BrokerId, sim::Address> brokers;
      auto leader = find_leader(c, cluster.address(b), topic, 0, &brokers);
      if (leader && brokers.count(*leader)) return brokers.at(*leader);
    }
    rt.sleep(std::chrono::milliseconds(500));
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("three brokers replicate acks=all writes; every replica holds them in order",
          "[broker][cluster]") {
  auto wc = samsa::testing::quiet_config(7);
  if (const char* l = std::getenv("SAMSA_TEST_LOG")) wc.log_level = l;
  sim::World world(wc);
  Cluster cluster(world, {3, {{"min.insync.replicas", "2"}}});
  bool done = false;
  std::vector<Cluster::ReplicaImage> images;
  std::vector<ProduceResult> results;
  std::map<std::int64_t, std::string> read_back;
  const auto client = world.add_node("client", [&](sim::Runtime& rt) {
    REQUIRE(cluster.create_topic(rt, "t", 1, 3));
    RawClient c(rt, "driver");
    auto leader = wait_leader(rt, c, cluster, "t");
    REQUIRE(leader);
    for (int i = 0; i < 20; ++i)
      results.push_back(produce(c, *leader, "t", 0, make_batch({"v" + std::to_string(i)}, rt.wall_ms()), -1, 5000));
    Offset next(0);
    for (int i = 0; i < 10 && read_back.size() < 20; ++i) {
      auto f = fetch(c, *leader, "t", 0, next, 100);
      if (!f) break;
      read_back.insert(f->values.begin(), f->values.end());
      next = f->next_offset;
    }
    rt.sleep(std::chrono::seconds(2));
    images = cluster.replicas_of(rt, "t", 0);
    done = true;
  });
  for (sim::NodeId n : world.node_ids()) world.start(n);
  (void)client;
  const auto r = world.run(world.now() + std::chrono::seconds(120));
  INFO(r.report);
  REQUIRE(done);
  for (std::size_t i = 0; i < results.size(); ++i) {
    CHECK(results[i].kind == ProduceResult::Kind::ok);
    CHECK(results[i].base_offset == Offset(static_cast<std::int64_t>(i)));
  }
  REQUIRE(read_back.size() == 20);
  for (int i = 0; i < 20; ++i) CHECK(read_back.at(i) == "v" + std::to_string(i));
  REQUIRE(images.size() == 3);
  for (const auto& img : images) {
    CHECK(img.log_end_offset == 20);
    CHECK(img.high_watermark == 20);
    CHECK(img.values == read_back);
  }
}
