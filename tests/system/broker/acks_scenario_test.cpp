// The page-cache warning at the broker level, on a simulated cluster
// (scenarios/broker/cluster.h): a power loss of every replica at once loses
// acknowledged writes under the default flush policy and none with
// log.flush.interval.messages=1. (The broker/* scenarios themselves are TOML
// files on the kafka workload, tested in tests/scenarios/kafka.)
#include <catch2/catch.hpp>

// --- the page-cache warning: flush policy and a power loss of every replica ----

#include "scenarios/broker/cluster.h"
#include "scenarios/broker/driver.h"
#include "tests/sim/world_helpers.h"

namespace {

using namespace samsa;
using namespace samsa::scenarios::broker;

// acks=all writes, then every broker loses power at once (unsynced writes
// gone), then all restart: how many acknowledged records are not read back.
std::size_t lost_after_power_loss(std::uint64_t seed, std::vector<std::pair<std::string, std::string>> settings) {
  sim::World world(samsa::testing::quiet_config(seed));
  settings.push_back({"min.insync.replicas", "2"});
  Cluster cluster(world, {3, settings});
  std::map<std::string, std::int64_t> acked;
  std::map<std::int64_t, std::string> read;
  bool done = false;
  const auto client = world.add_node("client", [&](sim::Runtime& rt) {
    REQUIRE(cluster.create_topic(rt, "t", 1, 3));
    RawClient c(rt, "writer");
    std::optional<sim::Address> leader;
    auto find = [&](RawClient& via) {
      for (int i = 0; i < 100 && !leader; ++i) {
        for (int b = 1; b <= 3 && !leader; ++b) {
          std::map<protocol::BrokerId, sim::Address> brokers;
          auto l = find_leader(via, cluster.address(b), "t", 0, &brokers);
          if (l && brokers.count(*l)) leader = brokers.at(*l);
        }
        if (!leader) rt.sleep(std::chrono::milliseconds(300));
      }
    };
    find(c);
    REQUIRE(leader);
    for (int i = 0; i < 30; ++i) {
      const std::string v = "p" + std::to_string(i);
      auto r = produce(c, *leader, "t", 0, make_batch({v}, rt.wall_ms()), -1, 3000);
      if (r.kind == ProduceResult::Kind::ok) acked[v] = r.base_offset.value();
    }
    for (int b = 1; b <= 3; ++b) world.crash(b, sim::CrashMode::keep_none);
    rt.sleep(std::chrono::seconds(1));
    for (int b = 1; b <= 3; ++b) world.start(b);
    rt.sleep(std::chrono::seconds(15));
    leader.reset();
    RawClient reader(rt, "reader");
    find(reader);
    REQUIRE(leader);
    Offset next(0);
    for (int i = 0; i < 100; ++i) {
      auto f = fetch(reader, *leader, "t", 0, next, 0);
      if (!f || f->error != protocol::ErrorCode::none) break;
      read.insert(f->values.begin(), f->values.end());
      next = f->next_offset;
      if (next >= f->high_watermark) break;
    }
    done = true;
  });
  (void)client;
  for (sim::NodeId n : world.node_ids()) world.start(n);
  (void)world.run(world.now() + std::chrono::seconds(120));
  REQUIRE(done);
  REQUIRE(acked.size() == 30);
  std::size_t lost = 0;
  for (const auto& [v, o] : acked)
    if (!read.count(o) || read.at(o) != v) ++lost;
  return lost;
}

}  // namespace

TEST_CASE("default flush: a power loss of every replica loses acknowledged data; flush.messages=1 does not",
          "[broker][scenario][flush]") {
  std::size_t lost_default = 0, lost_synced = 0;
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    lost_default += lost_after_power_loss(seed, {});
    lost_synced += lost_after_power_loss(seed, {{"log.flush.interval.messages", "1"}});
  }
  CHECK(lost_default > 0);
  CHECK(lost_synced == 0);
}

