// Kafka's replication system test (tests/kafkatest/tests/core/replication_test.py)
// on the simulated cluster: {clean shutdown, hard shutdown, clean bounce,
// hard bounce} x {leader, controller}, acks=all, RF=3, min.insync.replicas=2,
// a writer running throughout: every acknowledged record is read back, in
// place, and the replicas agree below their high watermarks.
#include <catch2/catch.hpp>

#include "scenarios/broker/cluster.h"
#include "scenarios/broker/driver.h"
#include "tests/sim/world_helpers.h"

using namespace samsa;
using namespace samsa::scenarios::broker;
using protocol::ErrorCode;
using protocol::Offset;

namespace {

enum class Failure { clean_shutdown, hard_shutdown, clean_bounce, hard_bounce };
enum class Target { leader, controller };

std::optional<sim::Address> leader_of(RawClient& c, Cluster& cluster, sim::World& w, protocol::BrokerId* id) {
  for (int b = 1; b <= cluster.brokers(); ++b) {
    if (!w.is_up(b)) continue;
    std::map<protocol::BrokerId, sim::Address> brokers;
    auto l = find_leader(c, cluster.address(b), "t", 0, &brokers);
    if (l && brokers.count(*l)) {
      if (id) *id = *l;
      return brokers.at(*l);
    }
  }
  return std::nullopt;
}

int controller_of(const Cluster& cluster) {
  for (int b = 1; b <= cluster.brokers(); ++b)
    if (const auto* n = cluster.node(b); n && n->controller.is_active()) return b;
  return -1;
}

// ControlledShutdown for broker `b`, as the broker sends it before it stops,
// until the controller reports no partition left on it (a few tries).
void controlled_shutdown(sim::Runtime& rt, RawClient& c, const Cluster& cluster, int b) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    const int ctl = controller_of(cluster);
    const auto* n = cluster.node(b);
    if (ctl < 0 || n == nullptr) {
      rt.sleep(std::chrono::milliseconds(300));
      continue;
    }
    protocol::ControlledShutdownRequest req;
    req.broker_id = protocol::BrokerId(b);
    req.broker_epoch = n->replicas->fence().broker_epoch();
    auto r = c.call<protocol::ControlledShutdownResponse>(cluster.address(ctl), req, 3, std::chrono::seconds(10));
    if (r && r->error_code == ErrorCode::none && r->remaining_partitions.empty()) return;
    rt.sleep(std::chrono::milliseconds(500));
  }
}

struct Outcome {
  std::size_t acked = 0, lost = 0, diverged = 0;
  bool read = false;
};

Outcome run_case(Failure failure, Target target, std::uint64_t seed) {
  sim::World world(samsa::testing::quiet_config(seed));
  Cluster cluster(world, {3, {{"min.insync.replicas", "2"}, {"replica.lag.time.max.ms", "10000"}}});
  std::map<std::string, std::int64_t> acked;
  std::map<std::int64_t, std::string> read;
  std::vector<Cluster::ReplicaImage> images;
  bool stop = false, done = false;
  const auto client = world.add_node("client", [&](sim::Runtime& rt) {
    REQUIRE(cluster.create_topic(rt, "t", 1, 3));
    rt.spawn("writer", [&] {
      RawClient c(rt, "writer");
      std::optional<sim::Address> leader;
      for (int i = 0; !stop; ++i) {
        if (!leader) leader = leader_of(c, cluster, world, nullptr);
        if (!leader) {
          rt.sleep(std::chrono::milliseconds(200));
          continue;
        }
        const std::string v = "r" + std::to_string(i);
        auto r = produce(c, *leader, "t", 0, make_batch({v}, rt.wall_ms()), -1, 3000);
        if (r.kind == ProduceResult::Kind::ok) acked[v] = r.base_offset.value();
        else leader.reset();
        rt.sleep(std::chrono::milliseconds(20));
      }
    });
    rt.sleep(std::chrono::seconds(8));
    RawClient admin(rt, "admin");
    protocol::BrokerId leader_id;
    int victim = -1;
    for (int i = 0; i < 50 && victim < 0; ++i) {
      if (target == Target::leader && leader_of(admin, cluster, world, &leader_id)) victim = leader_id.value();
      if (target == Target::controller) victim = controller_of(cluster);
      if (victim < 0) rt.sleep(std::chrono::milliseconds(200));
    }
    REQUIRE(victim > 0);
    const bool clean = failure == Failure::clean_shutdown || failure == Failure::clean_bounce;
    if (clean) controlled_shutdown(rt, admin, cluster, victim);
    // A clean stop keeps what the broker wrote (Kafka flushes at shutdown);
    // a hard one is a kill -9: the page cache survives, the process does not.
    world.crash(victim, sim::CrashMode::keep_all);
    rt.sleep(std::chrono::seconds(5));
    if (failure == Failure::clean_bounce || failure == Failure::hard_bounce) world.start(victim);
    rt.sleep(std::chrono::seconds(20));
    stop = true;
    rt.sleep(std::chrono::seconds(4));
    RawClient reader(rt, "reader");
    for (int attempt = 0; attempt < 20 && !done; ++attempt) {
      auto leader = leader_of(reader, cluster, world, nullptr);
      if (!leader) {
        rt.sleep(std::chrono::milliseconds(500));
        continue;
      }
      Offset next(0);
      for (int i = 0; i < 1000; ++i) {
        auto f = fetch(reader, *leader, "t", 0, next, 0);
        if (!f || f->error != ErrorCode::none) break;
        read.insert(f->values.begin(), f->values.end());
        next = f->next_offset;
        if (next >= f->high_watermark) {
          done = true;
          break;
        }
      }
    }
    images = cluster.replicas_of(rt, "t", 0);
  });
  (void)client;
  for (sim::NodeId n : world.node_ids()) world.start(n);
  const auto r = world.run(world.now() + std::chrono::seconds(90));
  INFO(r.report);
  REQUIRE(r.reason != sim::StopReason::internal_error);
  Outcome out;
  out.read = done;
  out.acked = acked.size();
  for (const auto& [v, o] : acked)
    if (!read.count(o) || read.at(o) != v) ++out.lost;
  for (const auto& img : images)
    for (const auto& [o, v] : img.values)
      if (o < img.high_watermark && read.count(o) && read.at(o) != v) ++out.diverged;
  return out;
}

}  // namespace

TEST_CASE("replication test: every acknowledged record is read back after a leader or controller failure",
          "[broker][replication_test]") {
  const std::pair<Failure, const char*> failures[] = {{Failure::clean_shutdown, "clean shutdown"},
                                                      {Failure::hard_shutdown, "hard shutdown"},
                                                      {Failure::clean_bounce, "clean bounce"},
                                                      {Failure::hard_bounce, "hard bounce"}};
  const std::pair<Target, const char*> targets[] = {{Target::leader, "leader"},
                                                    {Target::controller, "controller"}};
  std::uint64_t seed = 1;
  for (const auto& [f, fname] : failures) {
    for (const auto& [t, tname] : targets) {
      INFO(fname << " of the " << tname);
      const Outcome o = run_case(f, t, seed++);
      CHECK(o.read);
      CHECK(o.acked > 300);
      CHECK(o.lost == 0);
      CHECK(o.diverged == 0);
    }
  }
}
