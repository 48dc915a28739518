// The control plane with whole brokers (the data path of system/broker):
// CreateTopics at the controller, leaders propagated to every broker's
// metadata, a leader crash moving leadership within the ISR with a higher
// leader epoch and no acknowledged record lost, controlled shutdown, and
// producer ids from different brokers.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "scenarios/broker/cluster.h"
#include "scenarios/broker/driver.h"
#include "system/broker/broker.h"
#include "tests/sim/world_helpers.h"

using namespace samsa;
using namespace samsa::scenarios::broker;
namespace p = samsa::protocol;

namespace {

constexpr std::int16_t k_metadata_version = 9;
constexpr auto k_timeout = std::chrono::seconds(10);

struct PartitionView {
  p::BrokerId leader = p::BrokerId::none();
  p::LeaderEpoch epoch = p::LeaderEpoch::none();
  std::vector<p::BrokerId> isr;
};

struct View {
  p::BrokerId controller = p::BrokerId::none();
  std::map<std::int32_t, PartitionView> partitions;
};

std::optional<View> metadata(RawClient& c, const sim::Address& at, const std::string& topic) {
  p::MetadataRequest req;
  p::MetadataRequest::MetadataRequestTopic t;
  t.name = topic;
  req.topics = std::vector<p::MetadataRequest::MetadataRequestTopic>{t};
  req.allow_auto_topic_creation = false;
  auto r = c.call<p::MetadataResponse>(at, req, k_metadata_version, k_timeout);
  if (!r) return std::nullopt;
  View v;
  v.controller = r->controller_id;
  for (const auto& tt : r->topics)
    for (const auto& pp : tt.partitions)
      if (pp.error_code == p::ErrorCode::none)
        v.partitions[pp.partition_index.value()] = {pp.leader_id, pp.leader_epoch, pp.isr_nodes};
  return v;
}

// Polls `at` until `ok(view)` or `tries` half-seconds passed.
std::optional<View> wait_view(sim::Runtime& rt, RawClient& c, const sim::Address& at, const std::string& topic,
                              const std::function<bool(const View&)>& ok, int tries = 60) {
  for (int i = 0; i < tries; ++i) {
    if (auto v = metadata(c, at, topic); v && ok(*v)) return v;
    rt.sleep(std::chrono::milliseconds(500));
  }
  return std::nullopt;
}

bool all_led(const View& v, int partitions) {
  if (static_cast<int>(v.partitions.size()) != partitions) return false;
  for (const auto& [p, pv] : v.partitions)
    if (pv.leader.is_none()) return false;
  return true;
}

}  // namespace

TEST_CASE("control plane with whole brokers: CreateTopics, leader failover within the ISR, "
          "controlled shutdown, producer ids", "[broker][cluster][controller]") {
  auto wc = samsa::testing::quiet_config(41);
  if (const char* l = std::getenv("SAMSA_TEST_LOG")) wc.log_level = l;
  sim::World world(wc);
  Cluster cluster(world, {3, {{"min.insync.replicas", "2"}, {"auto.leader.rebalance.enable", "false"}}});
  bool done = false;
  View created, after_crash, after_shutdown;
  p::CreateTopicsResponse refused, accepted;
  std::vector<ProduceResult> before, later;
  std::map<std::int64_t, std::string> read_back;
  int crashed = 0, shut_down = 0;
  p::ControlledShutdownResponse shutdown;
  std::vector<p::ProducerId> pids;
  const auto client = world.add_node("client", [&](sim::Runtime& rt) {
    RawClient c(rt, "admin");
    // The controller, from any broker's metadata.
    auto first = wait_view(rt, c, cluster.address(1), "none", [](const View& v) { return !v.controller.is_none(); });
    REQUIRE(first);
    const int ctl = first->controller.value();
    const int other = ctl == 1 ? 2 : 1;
    p::CreateTopicsRequest req;
    p::CreateTopicsRequest::CreatableTopic t;
    t.name = "orders";
    t.num_partitions = 3;
    t.replication_factor = 3;
    req.topics.push_back(t);
    req.timeout_ms = 10000;
    refused = c.call<p::CreateTopicsResponse>(cluster.address(other), req, 5, k_timeout).value();
    accepted = c.call<p::CreateTopicsResponse>(cluster.address(ctl), req, 5, k_timeout).value();
    // Every broker learns the leaders through UpdateMetadata.
    for (int b = 1; b <= 3; ++b) {
      auto v = wait_view(rt, c, cluster.address(b), "orders", [](const View& v) { return all_led(v, 3); });
      REQUIRE(v);
      if (b == 1) created = *v;
    }
    // acks=all writes to partition 0, then its leader (not the controller) crashes.
    const int leader = created.partitions.at(0).leader.value();
    for (int i = 0; i < 10; ++i)
      before.push_back(produce(c, cluster.address(leader), "orders", 0,
                               make_batch({"v" + std::to_string(i)}, rt.wall_ms()), -1, 5000));
    crashed = leader;
    world.crash(leader);
    const int asked = leader == 1 ? 2 : 1;
    auto moved = wait_view(rt, c, cluster.address(asked), "orders", [&](const View& v) {
      return v.partitions.count(0) && !v.partitions.at(0).leader.is_none() &&
             v.partitions.at(0).leader.value() != leader;
    });
    REQUIRE(moved);
    after_crash = *moved;
    const auto new_leader = cluster.address(after_crash.partitions.at(0).leader.value());
    for (int i = 10; i < 15; ++i)
      later.push_back(produce(c, new_leader, "orders", 0, make_batch({"v" + std::to_string(i)}, rt.wall_ms()),
                              -1, 5000));
    p::Offset next(0);
    for (int i = 0; i < 20 && read_back.size() < 15; ++i) {
      auto f = fetch(c, new_leader, "orders", 0, next, 200);
      if (!f) break;
      read_back.insert(f->values.begin(), f->values.end());
      next = f->next_offset;
    }
    world.start(leader);
    rt.sleep(std::chrono::seconds(5));
    // Controlled shutdown of a live broker that is not the controller now.
    auto now = wait_view(rt, c, cluster.address(asked), "orders", [](const View& v) { return !v.controller.is_none(); });
    REQUIRE(now);
    const int ctl_now = now->controller.value();
    shut_down = ctl_now == 3 ? 2 : 3;
    p::ControlledShutdownRequest cs;
    cs.broker_id = p::BrokerId(shut_down);
    const auto* node = cluster.node(shut_down);
    REQUIRE(node);
    cs.broker_epoch = node->replicas->fence().broker_epoch();
    shutdown = c.call<p::ControlledShutdownResponse>(cluster.address(ctl_now), cs, 3, k_timeout).value();
    auto led_elsewhere = wait_view(rt, c, cluster.address(ctl_now), "orders", [&](const View& v) {
      if (!all_led(v, 3)) return false;
      for (const auto& [p, pv] : v.partitions)
        if (pv.leader.value() == shut_down) return false;
      return true;
    });
    REQUIRE(led_elsewhere);
    after_shutdown = *led_elsewhere;
    // Producer ids from two brokers never collide.
    for (int b : {1, 2}) {
      p::InitProducerIdRequest ip;
      ip.transactional_id = std::nullopt;
      // A connection cached from before a broker's crash breaks once.
      auto r = c.call<p::InitProducerIdResponse>(cluster.address(b), ip, 1, k_timeout);
      if (!r) r = c.call<p::InitProducerIdResponse>(cluster.address(b), ip, 1, k_timeout);
      REQUIRE(r);
      CHECK(r->error_code == p::ErrorCode::none);
      pids.push_back(r->producer_id);
    }
    done = true;
  });
  for (sim::NodeId n : world.node_ids()) world.start(n);
  (void)client;
  const auto r = world.run(world.now() + std::chrono::seconds(180));
  INFO(r.report);
  REQUIRE(done);
  REQUIRE(refused.topics.size() == 1);
  CHECK(refused.topics[0].error_code == p::ErrorCode::not_controller);
  REQUIRE(accepted.topics.size() == 1);
  CHECK(accepted.topics[0].error_code == p::ErrorCode::none);
  for (const auto& [p, pv] : created.partitions) {
    CHECK(pv.epoch == p::LeaderEpoch(0));
    CHECK(pv.isr.size() == 3);
  }
  for (const auto& x : before) CHECK(x.kind == ProduceResult::Kind::ok);
  const auto& moved = after_crash.partitions.at(0);
  CHECK(moved.epoch > created.partitions.at(0).epoch);
  CHECK(std::find(created.partitions.at(0).isr.begin(), created.partitions.at(0).isr.end(), moved.leader) !=
        created.partitions.at(0).isr.end());
  CHECK(std::find(moved.isr.begin(), moved.isr.end(), p::BrokerId(crashed)) == moved.isr.end());
  for (const auto& x : later) CHECK(x.kind == ProduceResult::Kind::ok);
  REQUIRE(read_back.size() == 15);  // nothing acknowledged was lost in the failover
  for (int i = 0; i < 15; ++i) CHECK(read_back.at(i) == "v" + std::to_string(i));
  CHECK(shutdown.error_code == p::ErrorCode::none);
  CHECK(shutdown.remaining_partitions.empty());
  for (const auto& [p, pv] : after_shutdown.partitions) CHECK(pv.leader != p::BrokerId(shut_down));
  REQUIRE(pids.size() == 2);
  CHECK(pids[0] != pids[1]);
}
