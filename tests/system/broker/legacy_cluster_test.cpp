// The samsa.legacy.* switches on whole simulated clusters (a coordinator and
// three brokers over the simulated network): for each, one fixed fault
// sequence on a fixed seed where the switch on breaks its invariant and the
// same run with the switch off holds. (partition_test.cpp has the same for
// the pure replication model; acks_scenario_test.cpp finds KAFKA-1211 with
// the acks-all scenario.)
#include <catch2/catch.hpp>

#include "scenarios/broker/cluster.h"
#include "scenarios/broker/driver.h"
#include "system/broker/controller.h"
#include "system/coord/client.h"
#include "system/coord/kafka_layout.h"
#include "tests/sim/world_helpers.h"

using namespace samsa;
using namespace samsa::scenarios::broker;
using protocol::BrokerId;
using protocol::ErrorCode;
using protocol::Offset;
using namespace std::chrono_literals;

namespace {

using Settings = std::vector<std::pair<std::string, std::string>>;

struct Rig {
  Rig(Settings settings, std::uint64_t seed) : world(config(seed)), cluster(world, {3, std::move(settings)}) {}
  static sim::WorldConfig config(std::uint64_t seed) {
    auto wc = samsa::testing::quiet_config(seed);
    if (const char* l = std::getenv("SAMSA_TEST_LOG")) wc.log_level = l;
    return wc;
  }
  sim::World world;
  Cluster cluster;
  sim::NodeId client = 0;

  void create(sim::Runtime& rt, const std::string& topic, std::vector<BrokerId> replicas) {
    auto c = coord::Client::start(rt, coord::ClientConfig{{{"zk", 2181}}, 6000});
    REQUIRE(c->wait_connected(rt.deadline_after(10s)));
    bool ok = false;
    for (int i = 0; i < 20 && !ok; ++i) {
      ok = broker::write_topic(*c, topic, {{protocol::PartitionId(0), replicas}}, {}).ok();
      if (!ok) rt.sleep(500ms);
    }
    c->close();
    REQUIRE(ok);
  }
  // The leader of topic-0 as some live broker's metadata names it.
  std::optional<BrokerId> leader(sim::Runtime& rt, RawClient& c, const std::string& topic, int tries = 100) {
    for (int i = 0; i < tries; ++i) {
      for (int b = 1; b <= 3; ++b) {
        if (!world.is_up(b)) continue;
        std::map<BrokerId, sim::Address> brokers;
        auto l = find_leader(c, cluster.address(b), topic, 0, &brokers);
        if (l && brokers.count(*l)) return *l;
      }
      rt.sleep(200ms);
    }
    return std::nullopt;
  }
  BrokerId controller(sim::Runtime& rt, RawClient& c) {
    for (int i = 0; i < 100; ++i) {
      protocol::MetadataRequest req;
      req.topics = std::vector<protocol::MetadataRequest::MetadataRequestTopic>{};
      auto m = c.call<protocol::MetadataResponse>(cluster.address(1), req, 9, 5s);
      if (m && !m->controller_id.is_none()) return m->controller_id;
      rt.sleep(200ms);
    }
    FAIL("no controller");
    return BrokerId::none();
  }
  void run(std::function<void(sim::Runtime&)> body, int seconds) {
    bool done = false;
    client = world.add_node("client", [&done, body](sim::Runtime& rt) {
      body(rt);
      done = true;
    });
    for (sim::NodeId id : world.node_ids()) world.start(id);
    const auto r = world.run(world.now() + std::chrono::seconds(seconds));
    INFO(r.report);
    REQUIRE(r.reason != sim::StopReason::internal_error);
    REQUIRE(done);
  }
};

// Offsets below both replicas' high watermarks where two replicas hold
// different records (the divergence the acks-all checker reports).
int diverging_offsets(const std::vector<Cluster::ReplicaImage>& images) {
  int n = 0;
  for (std::size_t i = 0; i < images.size(); ++i)
    for (std::size_t j = i + 1; j < images.size(); ++j) {
      const std::int64_t hw = std::min(images[i].high_watermark, images[j].high_watermark);
      for (std::int64_t o = 0; o < hw; ++o) {
        auto a = images[i].values.find(o), b = images[j].values.find(o);
        const bool same = a != images[i].values.end() && b != images[j].values.end() && a->second == b->second;
        n += !same;
      }
    }
  return n;
}

// How often each value appears in the log.
std::map<std::string, int> copies(const std::map<std::int64_t, std::string>& values) {
  std::map<std::string, int> out;
  for (const auto& [o, v] : values) ++out[v];
  return out;
}

}  // namespace

TEST_CASE("samsa.legacy.dedupe.last.batch.only: a retried in-flight batch is stored twice after the "
          "producer's epoch bump (KAFKA-5494 class); five batches remembered: stored once",
          "[broker][legacy][cluster]") {
  for (bool legacy : {false, true}) {
    INFO("legacy " << legacy);
    Settings s;
    if (legacy) s.push_back({"samsa.legacy.dedupe.last.batch.only", "true"});
    Rig rig(s, 31);
    std::map<std::int64_t, std::string> log;
    ErrorCode retry_error = ErrorCode::unknown_server_error;
    rig.run([&](sim::Runtime& rt) {
      rig.create(rt, "t", {BrokerId(1), BrokerId(2), BrokerId(3)});
      RawClient c(rt, "producer");
      const auto leader_id = rig.leader(rt, c, "t");
      REQUIRE(leader_id);
      const sim::Address leader = rig.cluster.address(leader_id->value());
      std::optional<protocol::InitProducerIdResponse> ip;
      for (int i = 0; i < 20 && !(ip && ip->error_code == ErrorCode::none); ++i) {
        protocol::InitProducerIdRequest req;
        req.transactional_id = std::nullopt;
        ip = c.call<protocol::InitProducerIdResponse>(leader, req, 1, 5s);
        if (!ip || ip->error_code != ErrorCode::none) rt.sleep(300ms);
      }
      REQUIRE(ip);
      const std::int64_t pid = ip->producer_id.value();
      auto batch = [&](std::int16_t epoch, int seq, const std::string& v) {
        return make_batch({v}, rt.wall_ms(), pid, epoch, seq);
      };
      REQUIRE(produce(c, leader, "t", 0, batch(0, 0, "a"), -1, 3000).kind == ProduceResult::Kind::ok);
      // Batch "b" (sequence 1) is written but its response is lost ...
      rig.world.network().clog(leader_id->value(), rig.client, 2s);
      {
        protocol::ProduceRequest req;
        req.acks = -1;
        req.timeout_ms = 3000;
        auto& pd = req.topic_data.emplace_back();
        pd.name = "t";
        pd.partition_data.emplace_back().records = protocol::Records(batch(0, 1, "b"));
        CHECK_FALSE(c.call<protocol::ProduceResponse>(leader, req, 7, 500ms));  // gives up
      }
      rig.world.network().unclog_all();
      rt.sleep(3s);
      // ... while "c" (sequence 2, in flight behind it) is acknowledged.
      REQUIRE(produce(c, leader, "t", 0, batch(0, 2, "c"), -1, 3000).kind == ProduceResult::Kind::ok);
      // The retry of "b": a duplicate (its original offset), or, remembering
      // only "c", a sequence error.
      const auto retry = produce(c, leader, "t", 0, batch(0, 1, "b"), -1, 3000);
      retry_error = retry.error;
      if (retry.error == ErrorCode::out_of_order_sequence_number) {
        // The producer's recovery (KIP-360, TransactionManager): bump the
        // epoch and resend what is not acknowledged from sequence 0.
        CHECK(produce(c, leader, "t", 0, batch(1, 0, "b"), -1, 3000).kind == ProduceResult::Kind::ok);
      } else {
        CHECK(retry.base_offset == Offset(1));
      }
      rt.sleep(2s);
      for (const auto& img : rig.cluster.replicas_of(rt, "t", 0))
        if (img.broker == leader_id->value()) log = img.values;
    }, 120);
    CHECK(retry_error == (legacy ? ErrorCode::out_of_order_sequence_number : ErrorCode::none));
    const auto n = copies(log);
    CHECK(n.at("a") == 1);
    CHECK(n.at("c") == 1);
    CHECK(n.at("b") == (legacy ? 2 : 1));  // the duplicate
  }
}

TEST_CASE("samsa.legacy.no.fetch.leader.epoch: a follower that missed two leader changes fetches "
          "from its old leader and diverges below the high watermark (KAFKA-6880, fixed by KIP-320)",
          "[broker][legacy][cluster]") {
  for (bool legacy : {false, true}) {
    INFO("legacy " << legacy);
    Settings s = {{"replica.lag.time.max.ms", "4000"}, {"leader.imbalance.check.interval.seconds", "5"}};
    if (legacy) s.push_back({"samsa.legacy.no.fetch.leader.epoch", "true"});
    Rig rig(s, 41);
    std::vector<Cluster::ReplicaImage> images;
    std::vector<std::int32_t> leaders;  // the partition's leader after each step
    int x = 0, g = 0;
    rig.run([&](sim::Runtime& rt) {
      RawClient c(rt, "driver");
      // Roles: X the first (preferred) leader, G the controller and second
      // replica, F the follower that will hear the controller late.
      g = rig.controller(rt, c).value();
      x = g == 1 ? 2 : 1;
      const int f = 6 - x - g;
      rig.create(rt, "t", {BrokerId(x), BrokerId(g), BrokerId(f)});
      auto l = rig.leader(rt, c, "t");
      REQUIRE(l);
      REQUIRE(l->value() == x);
      auto write = [&](int to, const std::string& v, std::int16_t acks) {
        return produce(c, rig.cluster.address(to), "t", 0, make_batch({v}, rt.wall_ms()), acks, 3000);
      };
      for (int i = 0; i < 5; ++i) REQUIRE(write(x, "w" + std::to_string(i), -1).kind == ProduceResult::Kind::ok);
      // G stops hearing X: records r0..r2 (acks=1) reach X and F only.
      rig.world.network().partition(x, g);
      for (int i = 0; i < 3; ++i) REQUIRE(write(x, "r" + std::to_string(i), 1).kind == ProduceResult::Kind::ok);
      rt.sleep(1s);
      // F hears the controller 60 s late from now on; X crashes: G leads epoch 1.
      rig.world.network().clog(g, f, 60s);
      rig.world.spawn("crash", [&] { rig.world.crash(x, sim::CrashMode::keep_all); });
      rt.sleep(100ms);
      rig.world.network().heal(x, g);
      rt.sleep(10s);
      l = rig.leader(rt, c, "t");
      REQUIRE(l);
      leaders.push_back(l->value());
      for (int i = 0; i < 5; ++i) CHECK(write(g, "s" + std::to_string(i), 1).kind == ProduceResult::Kind::ok);
      // X comes back, catches up from G and takes its preferred leadership
      // back (epoch 2); F still believes X leads epoch 0 and fetches from it:
      // without the epoch in its Fetch, X serves it from F's own log end.
      rig.world.spawn("restart", [&] { rig.world.start(x); });
      rt.sleep(25s);
      l = rig.leader(rt, c, "t");
      REQUIRE(l);
      leaders.push_back(l->value());
      // The clog ends; F learns the two leader changes (the frames already
      // delayed arrive, the controller resends what timed out).
      rig.world.network().unclog_all();
      rt.sleep(100s);
      images = rig.cluster.replicas_of(rt, "t", 0);
    }, 300);
    CHECK(leaders == std::vector<std::int32_t>{g, x});  // leader epoch 1 on G, 2 on X
    REQUIRE(images.size() == 3);
    for (const auto& img : images)
      UNSCOPED_INFO("broker " << img.broker << " hw " << img.high_watermark << " leo " << img.log_end_offset);
    const int diverging = diverging_offsets(images);
    if (legacy) {
      CHECK(diverging > 0);
    } else {
      CHECK(diverging == 0);
      for (const auto& img : images) CHECK(img.high_watermark == 10);  // w0-4, s0-4 everywhere
    }
  }
}

namespace {

// Produce attempts, one a second for `seconds`, to whatever leader the
// metadata names; how many were acknowledged.
int acked_writes(Rig& rig, sim::Runtime& rt, RawClient& c, const std::string& prefix, int seconds) {
  int acked = 0;
  for (int i = 0; i < seconds; ++i) {
    if (auto l = rig.leader(rt, c, "t", 3); l && rig.world.is_up(l->value())) {
      const auto r = produce(c, rig.cluster.address(l->value()), "t", 0,
                             make_batch({prefix + std::to_string(i)}, rt.wall_ms()), -1, 3000);
      acked += r.kind == ProduceResult::Kind::ok;
    }
    rt.sleep(1s);
  }
  return acked;
}

}  // namespace

TEST_CASE("samsa.legacy.no.broker.epoch: a leader that is back before the controller reads "
          "/brokers/ids again is never told its partitions, which stay without a serving leader "
          "(KAFKA-7235, fixed by KIP-380); with broker epochs the bounce is seen and a new leader elected",
          "[broker][legacy][cluster]") {
  for (std::uint64_t seed : {51, 52, 53}) {
    for (bool legacy : {false, true}) {
      INFO("seed " << seed << " legacy " << legacy);
      Settings s = {{"zookeeper.session.timeout.ms", "6000"}};
      if (legacy) s.push_back({"samsa.legacy.no.broker.epoch", "true"});
      Rig rig(s, seed);
      int before = 0, after = 0;
      rig.run([&](sim::Runtime& rt) {
        RawClient c(rt, "driver");
        // X leads, G is the controller, F the third replica.
        const int g = rig.controller(rt, c).value();
        const int x = g == 1 ? 2 : 1;
        const int f = 6 - x - g;
        rig.create(rt, "t", {BrokerId(x), BrokerId(g), BrokerId(f)});
        auto l = rig.leader(rt, c, "t");
        REQUIRE(l);
        REQUIRE(l->value() == x);
        before = acked_writes(rig, rt, c, "w", 3);
        // The controller hears the coordinator 0.4 s late (a busy controller
        // event queue in Kafka). X crashes and starts again at once: its new
        // session registers /brokers/ids/X as soon as the old one expires,
        // before the controller's read of the children that the expiry
        // triggered comes back. Only the registration's czxid tells.
        rig.world.network().clog(Cluster::k_zk, g, 400ms);
        rig.world.spawn("bounce", [&] {
          rig.world.crash(x, sim::CrashMode::keep_all);
          rig.world.start(x);
        });
        rt.sleep(15s);
        rig.world.network().unclog_all();
        rt.sleep(5s);
        after = acked_writes(rig, rt, c, "a", 20);
      }, 200);
      CHECK(before == 3);
      if (legacy) CHECK(after == 0);  // the partition is offline for good
      else CHECK(after == 20);
    }
  }
}

TEST_CASE("samsa.legacy.no.controller.epoch.check: a deposed controller's late LeaderAndIsr turns "
          "the new leader back into a follower of the zombie's leader in an older leader epoch; it "
          "cuts its acknowledged records and takes the zombie's, and the replicas diverge below the "
          "high watermark (KAFKA-532, Kafka 0.8.0-beta); with the controller epoch it is refused "
          "and every acked record reaches every replica",
          "[broker][legacy][cluster]") {
  for (bool legacy : {false, true}) {
    INFO("legacy " << legacy);
    Settings s = {{"zookeeper.session.timeout.ms", "6000"},
                  {"min.insync.replicas", "2"},
                  {"auto.leader.rebalance.enable", "false"}};
    if (legacy) s.push_back({"samsa.legacy.no.controller.epoch.check", "true"});
    Rig rig(s, 61);
    std::vector<Cluster::ReplicaImage> images;
    std::vector<std::string> acked;
    int a = 0, c_id = 0;
    rig.run([&](sim::Runtime& rt) {
      RawClient c(rt, "driver");
      // A: the first controller, soon a zombie; X the first leader; C the
      // third broker, which becomes controller and leader. Assignment [X, A, C].
      a = rig.controller(rt, c).value();
      const int x = a == 1 ? 2 : 1;
      c_id = 6 - x - a;
      rig.create(rt, "t", {BrokerId(x), BrokerId(a), BrokerId(c_id)});
      auto l = rig.leader(rt, c, "t");
      REQUIRE(l);
      REQUIRE(l->value() == x);
      auto write = [&](int to, const std::string& v) {
        const auto r = produce(c, rig.cluster.address(to), "t", 0, make_batch({v}, rt.wall_ms()), -1, 3000);
        if (r.kind == ProduceResult::Kind::ok) acked.push_back(v);
      };
      for (int i = 0; i < 3; ++i) write(x, "w" + std::to_string(i));
      // A's frames to C take 25 s more. X dies: once its session expired A
      // makes itself leader (epoch 1, ISR A, C) and tells C, late.
      rig.world.network().clog(a, c_id, 25s);
      rig.world.spawn("crash", [&] { rig.world.crash(x, sim::CrashMode::keep_all); });
      rt.sleep(8s);
      // A loses the coordinator: its session expires and C becomes the
      // controller (epoch 2) and the leader (epoch 2). X is back and joins
      // C's ISR, so C acknowledges acks=all writes (min.insync.replicas=2).
      rig.world.network().partition(a, Cluster::k_zk);
      rt.sleep(2s);
      rig.world.spawn("restart", [&] { rig.world.start(x); });
      rt.sleep(8s);
      for (int i = 0; i < 8; ++i) {
        write(c_id, "a" + std::to_string(i));
        rt.sleep(1s);
      }
      // About 29 s: A's LeaderAndIsr of controller epoch 1 and leader epoch 1
      // reaches C, which follows A. A's frames sent until the unclog still
      // take 25 s. Clients whose metadata comes from A, which still names
      // itself leader, write there: acks=all waits for C, A's ISR being
      // (A, C) (A cannot write a shrink without the coordinator).
      rt.sleep(8s);
      rig.world.network().unclog_all();
      for (int i = 0; i < 40; ++i) {
        auto named = find_leader(c, rig.cluster.address(a), "t", 0);
        if (named && rig.world.is_up(named->value()))
          write(named->value(), "b" + std::to_string(i));
        rt.sleep(1s);
      }
      rig.world.network().heal_all();
      rt.sleep(30s);
      images = rig.cluster.replicas_of(rt, "t", 0);
    }, 300);
    REQUIRE(images.size() == 3);
    for (const auto& img : images)
      UNSCOPED_INFO("broker " << img.broker << " hw " << img.high_watermark << " leo " << img.log_end_offset
                              << " epoch " << img.leader_epoch << (img.leader ? " leader" : ""));
    for (const auto& v : acked) UNSCOPED_INFO("acked " << v);
    // Acknowledged records missing from a replica 30 s after the heal.
    int lost = 0;
    for (const auto& v : acked)
      for (const auto& img : images) lost += copies(img.values).count(v) == 0;
    const int diverging = diverging_offsets(images);
    int c_epoch = -1;
    bool any_leader = false;
    for (const auto& img : images) {
      if (img.broker == c_id) c_epoch = img.leader_epoch;
      any_leader |= img.leader;
    }
    CHECK(acked.size() >= 3 + 8);
    if (legacy) {
      // Measured (seed 61): C's leader epoch went back from 3 to 1. Its
      // OffsetsForLeaderEpoch(3) is undefined at A, so it keeps its log to
      // its high watermark (11); its fetch there is past A's end (8), so it
      // cuts to A's end (fetchOffsetAndTruncate), below its high watermark:
      // the acknowledged a* records are gone from C and were never on A.
      // A's b* records, acknowledged once C fetched them, sit at the same
      // offsets on A and C (high watermark 43) as a* on X (11): divergence
      // below the high watermark. No replica leads after the heal.
      CHECK(c_epoch == 1);
      CHECK_FALSE(any_leader);
      CHECK(lost > 0);
      CHECK(diverging > 0);
    } else {
      // C keeps an epoch of its own controller: 2 from its election, 3 once
      // its OfflineReplica took the cut-off A out of the ISR; never the
      // zombie's 1.
      CHECK(c_epoch >= 2);
      CHECK(diverging == 0);
      CHECK(lost == 0);
    }
  }
}

namespace {

// topic-0's state as the coordinator holds it (what the controller elects from).
std::optional<coord::kafka::PartitionState> partition_state(coord::Client& zk, const std::string& topic) {
  auto d = zk.get_data(coord::kafka::partition_state_path(topic, 0));
  if (!d) return std::nullopt;
  auto s = coord::kafka::parse_partition_state(std::string_view(
      reinterpret_cast<const char*>(d->data.data()), d->data.size()));
  if (!s) return std::nullopt;
  return *s;
}

bool has(const std::vector<std::int32_t>& isr, int b) { return std::find(isr.begin(), isr.end(), b) != isr.end(); }

}  // namespace

TEST_CASE("samsa.legacy.isr.expand.below.epoch.start: a preferred leader whose high watermark lags "
          "re-admits a follower below its epoch start, which is elected without an acknowledged "
          "batch (KAFKA-7128); with the fix it waits and the batch survives",
          "[broker][legacy][cluster]") {
  for (bool legacy : {false, true}) {
    INFO("legacy " << legacy);
    // A follower's fetch waits 20 s at the leader when there is nothing new,
    // so the high watermark it learned stays one batch behind that long.
    Settings s = {{"zookeeper.session.timeout.ms", "6000"},
                  {"leader.imbalance.check.interval.seconds", "5"},
                  {"replica.fetch.wait.max.ms", "20000"}};
    if (legacy) s.push_back({"samsa.legacy.isr.expand.below.epoch.start", "true"});
    Rig rig(s, 71);
    std::vector<Cluster::ReplicaImage> images;
    bool y_joined = false;
    int y_leader_epoch = -1;
    rig.run([&](sim::Runtime& rt) {
      RawClient c(rt, "driver");
      auto zk = coord::Client::start(rt, coord::ClientConfig{{{"zk", 2181}}, 6000});
      REQUIRE(zk->wait_connected(rt.deadline_after(10s)));
      // Roles: A the controller (up until the end), P the preferred leader,
      // Y the replica that falls out of the ISR. Assignment [P, A, Y].
      const int a = rig.controller(rt, c).value();
      const int p = a == 1 ? 2 : 1;
      const int y = 6 - a - p;
      rig.create(rt, "t", {BrokerId(p), BrokerId(a), BrokerId(y)});
      auto l = rig.leader(rt, c, "t");
      REQUIRE(l);
      REQUIRE(l->value() == p);
      auto write = [&](int to, const std::string& v) {
        return produce(c, rig.cluster.address(to), "t", 0,
                       make_batch({v + "0", v + "1", v + "2"}, rt.wall_ms()), -1, 3000).kind;
      };
      auto wait_state = [&](auto pred, int tries) {
        for (int i = 0; i < tries; ++i) {
          if (auto st = partition_state(*zk, "t"); st && pred(*st)) return true;
          rt.sleep(50ms);
        }
        return false;
      };
      REQUIRE(write(p, "b0_") == ProduceResult::Kind::ok);  // offsets 0-2 on all three
      // P crashes: A leads epoch 1 with Y.
      rig.world.spawn("crash-p", [&] { rig.world.crash(p, sim::CrashMode::keep_all); });
      REQUIRE(wait_state([&](const auto& st) { return st.leader == a; }, 400));
      REQUIRE(write(a, "b1_") == ProduceResult::Kind::ok);  // 3-5 on A and Y
      // Y crashes with offsets 0-5; P comes back and catches up.
      rig.world.spawn("crash-y", [&] { rig.world.crash(y, sim::CrashMode::keep_all); });
      REQUIRE(wait_state([&](const auto& st) { return !has(st.isr, y); }, 400));
      rig.world.spawn("start-p", [&] { rig.world.start(p); });
      REQUIRE(wait_state([&](const auto& st) { return has(st.isr, p); }, 600));
      // b2 (6-8) is acknowledged with ISR {A, P}; P's next fetch waits at A,
      // so P's high watermark stays 6. A's frames to P are slow from now on:
      // once the preferred election makes P leader (epoch 2, starting at 9,
      // high watermark 6), A's fetch that would move it on comes late.
      REQUIRE(write(a, "b2_") == ProduceResult::Kind::ok);
      rig.world.network().clog(a, p, 10s);
      REQUIRE(wait_state([&](const auto& st) { return st.leader == p; }, 400));
      // Y comes back at 6; its answers from P are slow, so it joins (or not)
      // before it has b2.
      rig.world.network().clog(p, y, 3s);
      rt.sleep(10s);  // P has heard it leads
      rig.world.spawn("start-y", [&] { rig.world.start(y); });
      y_joined = wait_state([&](const auto& st) { return has(st.isr, y); }, 160);
      // P and A die: only Y is left.
      rig.world.spawn("crash-pa", [&] {
        rig.world.crash(p, sim::CrashMode::keep_all);
        rig.world.crash(a, sim::CrashMode::keep_all);
      });
      rig.world.network().unclog_all();
      rt.sleep(20s);
      if (auto st = partition_state(*zk, "t"); st && st->leader == y) y_leader_epoch = st->leader_epoch;
      rig.world.spawn("start-pa", [&] {
        rig.world.start(p);
        rig.world.start(a);
      });
      rt.sleep(40s);
      images = rig.cluster.replicas_of(rt, "t", 0);
      zk->close();
    }, 300);
    REQUIRE(images.size() == 3);
    for (const auto& img : images)
      UNSCOPED_INFO("broker " << img.broker << " hw " << img.high_watermark << " leo " << img.log_end_offset);
    int with_b2 = 0;
    for (const auto& img : images) with_b2 += copies(img.values).count("b2_0");
    CHECK(y_joined == legacy);
    if (legacy) {
      CHECK(y_leader_epoch > 2);  // Y elected without b2
      CHECK(with_b2 == 0);        // an acknowledged batch lost everywhere
    } else {
      CHECK(y_leader_epoch == -1);
      CHECK(with_b2 == 3);
    }
  }
}
