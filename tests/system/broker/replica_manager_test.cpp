// The replica manager's answers on a simulated three-broker cluster, request
// by request: the produce errors (MESSAGE_TOO_LARGE, CORRUPT_MESSAGE,
// INVALID_RECORD, NOT_LEADER_OR_FOLLOWER, INVALID_REQUIRED_ACKS,
// REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS), fetch errors (OFFSET_OUT_OF_RANGE,
// FENCED_LEADER_EPOCH), ListOffsets, idempotence across a lost response and a
// sequence gap; and the control-request fences on their own.
#include "system/broker/replica_manager.h"

#include <catch2/catch.hpp>

#include "scenarios/broker/cluster.h"
#include "scenarios/broker/driver.h"
#include "tests/sim/world_helpers.h"

using namespace samsa;
using namespace samsa::scenarios::broker;
using protocol::ErrorCode;
using protocol::Offset;

namespace {

struct Rig {
  explicit Rig(std::vector<std::pair<std::string, std::string>> settings = {})
      : world(samsa::testing::quiet_config(11)), cluster(world, {3, std::move(settings)}) {}
  sim::World world;
  Cluster cluster;
  std::map<protocol::BrokerId, sim::Address> brokers;

  // The leader of t-0 (created with RF 3 by the first call).
  sim::Address leader(sim::Runtime& rt, RawClient& c, protocol::BrokerId* id = nullptr) {
    for (int i = 0; i < 100; ++i) {
      for (int b = 1; b <= 3; ++b) {
        if (!world.is_up(b)) continue;
        auto l = find_leader(c, cluster.address(b), "t", 0, &brokers);
        if (l && brokers.count(*l)) {
          if (id) *id = *l;
          return brokers.at(*l);
        }
      }
      rt.sleep(std::chrono::milliseconds(200));
    }
    FAIL("no leader");
    return {};
  }
  void run(std::function<void(sim::Runtime&)> body, int seconds = 300) {
    const auto n = world.add_node("client", [this, body](sim::Runtime& rt) {
      REQUIRE(cluster.create_topic(rt, "t", 1, 3));
      body(rt);
    });
    for (sim::NodeId id : world.node_ids()) world.start(id);
    (void)n;
    const auto r = world.run(world.now() + std::chrono::seconds(seconds));
    INFO(r.report);
    REQUIRE(r.reason != sim::StopReason::internal_error);
  }
};

protocol::ProduceResponse::PartitionProduceResponse produce_raw(RawClient& c, const sim::Address& to,
                                                                Bytes records, std::int16_t acks,
                                                                std::int32_t timeout_ms = 3000) {
  protocol::ProduceRequest req;
  req.acks = acks;
  req.timeout_ms = timeout_ms;
  auto& t = req.topic_data.emplace_back();
  t.name = "t";
  auto& p = t.partition_data.emplace_back();
  p.records = protocol::Records(std::move(records));
  auto resp = c.call<protocol::ProduceResponse>(to, req, 7, std::chrono::milliseconds(timeout_ms + 5000));
  REQUIRE(resp);
  return resp->responses.at(0).partition_responses.at(0);
}

// A control request from controller 1 (controller epoch 1) to broker epoch 100.
template <class Body>
broker::ControlRequest from_controller_1(Body body) {
  broker::ControlRequest r;
  r.controller_id = protocol::BrokerId(1);
  r.controller_epoch = protocol::ControllerEpoch(1);
  r.broker_epoch = protocol::BrokerEpoch(100);
  r.body = std::move(body);
  return r;
}

}  // namespace

TEST_CASE("produce and fetch errors are Kafka's", "[broker][replica_manager]") {
  Rig rig({{"message.max.bytes", "2000"}, {"min.insync.replicas", "2"}, {"replica.lag.time.max.ms", "3000"}});
  rig.run([&](sim::Runtime& rt) {
    RawClient c(rt, "test");
    protocol::BrokerId leader_id;
    const auto leader = rig.leader(rt, c, &leader_id);
    CHECK(produce_raw(c, leader, make_batch({"a"}, rt.wall_ms()), -1).error_code == ErrorCode::none);
    // MESSAGE_TOO_LARGE: a batch over message.max.bytes.
    CHECK(produce_raw(c, leader, make_batch({std::string(3000, 'x')}, rt.wall_ms()), 1).error_code ==
          ErrorCode::message_too_large);
    // CORRUPT_MESSAGE: a flipped byte under the CRC.
    Bytes bad = make_batch({"b"}, rt.wall_ms());
    bad.back() ^= 0x01;
    CHECK(produce_raw(c, leader, bad, 1).error_code == ErrorCode::corrupt_message);
    // INVALID_RECORD: a client may not write a control batch.
    protocol::BatchOptions o;
    o.producer_id = 5;
    o.producer_epoch = 0;
    o.transactional = true;
    CHECK(produce_raw(c, leader, protocol::build_control_batch(o, rt.wall_ms(), {}), 1).error_code ==
          ErrorCode::invalid_record);
    CHECK(produce_raw(c, leader, make_batch({"c"}, rt.wall_ms()), 2).error_code ==
          ErrorCode::invalid_required_acks);
    // A follower is not the leader.
    const int follower = leader_id.value() % 3 + 1;
    CHECK(produce_raw(c, rig.cluster.address(follower), make_batch({"d"}, rt.wall_ms()), 1).error_code ==
          ErrorCode::not_leader_or_follower);
    // OFFSET_OUT_OF_RANGE past the log end; FENCED_LEADER_EPOCH for an old epoch.
    auto f = fetch(c, leader, "t", 0, Offset(1000), 0);
    REQUIRE(f);
    CHECK(f->error == ErrorCode::offset_out_of_range);
    // ListOffsets: earliest 0, latest = the high watermark.
    protocol::ListOffsetsRequest lo;
    lo.replica_id = protocol::BrokerId(-1);
    auto& lt = lo.topics.emplace_back();
    lt.name = "t";
    lt.partitions.push_back({protocol::PartitionId(0), protocol::LeaderEpoch(-1), -2, 1, {}});
    lt.partitions.push_back({protocol::PartitionId(0), protocol::LeaderEpoch(-1), -1, 1, {}});
    lt.partitions.push_back({protocol::PartitionId(0), protocol::LeaderEpoch(-1), 0, 1, {}});
    auto lr = c.call<protocol::ListOffsetsResponse>(leader, lo, 5, std::chrono::seconds(5));
    REQUIRE(lr);
    const auto& ps = lr->topics.at(0).partitions;
    CHECK(ps.at(0).offset == Offset(0));
    CHECK(ps.at(1).offset == Offset(1));
    CHECK(ps.at(2).offset == Offset(0));  // the first batch at or after timestamp 0
    // The followers cut off: acks=all waits and times out, then (the ISR
    // shrunk below min.insync.replicas) is refused before appending.
    for (int b = 1; b <= 3; ++b)
      if (b != leader_id.value()) rig.world.network().partition(leader_id.value(), b);
    CHECK(produce_raw(c, leader, make_batch({"e"}, rt.wall_ms()), -1, 500).error_code ==
          ErrorCode::request_timed_out);
    rt.sleep(std::chrono::seconds(8));  // > replica.lag.time.max.ms: the ISR shrinks to the leader
    CHECK(produce_raw(c, leader, make_batch({"f"}, rt.wall_ms()), -1, 500).error_code ==
          ErrorCode::not_enough_replicas);
    CHECK(produce_raw(c, leader, make_batch({"g"}, rt.wall_ms()), 1).error_code == ErrorCode::none);
    rig.world.network().heal_all();
  });
}

TEST_CASE("idempotence: a retried batch after a lost response is stored once; a gap is refused",
          "[broker][replica_manager][idempotence]") {
  Rig rig;
  rig.run([&](sim::Runtime& rt) {
    RawClient c(rt, "producer");
    protocol::BrokerId leader_id;
    const auto leader = rig.leader(rt, c, &leader_id);
    // A producer id from InitProducerId (any broker, through /latest_producer_id_block).
    std::optional<protocol::InitProducerIdResponse> ip;
    for (int i = 0; i < 20 && !(ip && ip->error_code == ErrorCode::none); ++i) {
      protocol::InitProducerIdRequest req;
      req.transactional_id = std::nullopt;
      req.transaction_timeout_ms = 60000;
      ip = c.call<protocol::InitProducerIdResponse>(leader, req, 1, std::chrono::seconds(5));
      if (!ip || ip->error_code != ErrorCode::none) rt.sleep(std::chrono::milliseconds(300));
    }
    REQUIRE(ip);
    REQUIRE(ip->error_code == ErrorCode::none);
    const std::int64_t pid = ip->producer_id.value();
    const std::int16_t epoch = ip->producer_epoch.value();
    auto batch = [&](int seq, const std::string& v) { return make_batch({v}, rt.wall_ms(), pid, epoch, seq); };
    auto r0 = produce_raw(c, leader, batch(0, "s0"), -1);
    REQUIRE(r0.error_code == ErrorCode::none);
    // Sequence 1: the request arrives but its response is lost (the
    // connection resets while the broker answers); the producer retries.
    protocol::ProduceRequest req;
    req.acks = -1;
    req.timeout_ms = 3000;
    req.topic_data.emplace_back().name = "t";
    auto& pd = req.topic_data.back().partition_data.emplace_back();
    pd.records = protocol::Records(batch(1, "s1"));
    rig.world.network().clog(leader_id.value(), rig.world.node_ids().back(), std::chrono::seconds(2));
    auto lost = c.call<protocol::ProduceResponse>(leader, req, 7, std::chrono::milliseconds(500));
    CHECK_FALSE(lost);
    rig.world.network().unclog_all();
    rt.sleep(std::chrono::seconds(3));
    auto again = produce_raw(c, leader, batch(1, "s1"), -1);
    CHECK(again.error_code == ErrorCode::none);
    CHECK(again.base_offset == Offset(1));  // the original offset
    auto third = produce_raw(c, leader, batch(1, "s1"), -1);
    CHECK(third.base_offset == Offset(1));
    // A gap (sequence 5 after 1) and a stale epoch are refused.
    CHECK(produce_raw(c, leader, batch(5, "s5"), -1).error_code == ErrorCode::out_of_order_sequence_number);
    CHECK(produce_raw(c, leader, make_batch({"old"}, rt.wall_ms(), pid, static_cast<std::int16_t>(epoch - 1), 2), -1)
              .error_code == ErrorCode::invalid_producer_epoch);
    CHECK(produce_raw(c, leader, make_batch({"u"}, rt.wall_ms(), pid + 1000, 0, 3), -1).error_code ==
          ErrorCode::unknown_producer_id);
    auto f = fetch(c, leader, "t", 0, Offset(0), 0);
    REQUIRE(f);
    CHECK(f->values == std::map<std::int64_t, std::string>{{0, "s0"}, {1, "s1"}});
  });
}

TEST_CASE("control requests from a stale controller or for an earlier incarnation are fenced",
          "[broker][replica_manager]") {
  sim::World world(samsa::testing::quiet_config(5));
  std::vector<ErrorCode> got;
  const auto n = world.add_node("n", [&](sim::Runtime& rt) {
    for (bool legacy : {false, true}) {
      std::vector<std::pair<std::string, std::string>> s = {{"broker.id", "1"}};
      if (legacy) s.push_back({"samsa.legacy.no.broker.epoch", "true"});
      auto cfg = broker::make_broker_config(s);
      REQUIRE(cfg.ok());
      auto rm = std::make_shared<broker::ReplicaManager>(rt, *cfg);
      rm->fence().set_broker_epoch(protocol::BrokerEpoch(100));
      auto req = [](int controller_epoch, std::int64_t broker_epoch) {
        broker::ControlRequest r;
        r.controller_id = protocol::BrokerId(2);
        r.controller_epoch = protocol::ControllerEpoch(controller_epoch);
        r.broker_epoch = protocol::BrokerEpoch(broker_epoch);
        r.body = broker::UpdateMetadataCommand{};
        return r;
      };
      got.push_back(rm->update_metadata(req(5, 100)).error);
      got.push_back(rm->update_metadata(req(4, 100)).error);   // a deposed controller
      got.push_back(rm->update_metadata(req(5, 90)).error);    // meant for the previous incarnation
      got.push_back(rm->update_metadata(req(6, -1)).error);    // an old request version: no epoch
    }
  });
  world.start(n);
  (void)world.run(world.now() + std::chrono::seconds(1));
  CHECK(got == std::vector<ErrorCode>{ErrorCode::none, ErrorCode::stale_controller_epoch,
                                      ErrorCode::stale_broker_epoch, ErrorCode::none,
                                      // samsa.legacy.no.broker.epoch (KAFKA-7235): obeyed
                                      ErrorCode::none, ErrorCode::stale_controller_epoch, ErrorCode::none,
                                      ErrorCode::none});
}

TEST_CASE("ISR changes reach the controller batched: one notification for a burst of shrinks "
          "(ZkIsrManager's isr-change-propagation)", "[broker][replica_manager]") {
  Rig rig(std::vector<std::pair<std::string, std::string>>{{"replica.lag.time.max.ms", "3000"},
                                                          {"auto.leader.rebalance.enable", "false"}});
  std::uint64_t shrinks = 0, notifications = 0;
  std::map<std::string, std::vector<protocol::BrokerId>> isr_at_b2;
  rig.run([&](sim::Runtime& rt) {
    RawClient c(rt, "test");
    REQUIRE(rig.cluster.create_topic(rt, "u", 1, 3));
    REQUIRE(rig.cluster.create_topic(rt, "w", 1, 3));
    for (const std::string topic : {"t", "u", "w"}) {
      std::optional<protocol::BrokerId> l;
      for (int i = 0; i < 50 && !l; ++i) {
        l = find_leader(c, rig.cluster.address(2), topic, 0);
        if (!l) rt.sleep(std::chrono::milliseconds(200));
      }
      REQUIRE(l);
      REQUIRE(l->value() == 1);  // the preferred replica of each
    }
    rt.sleep(std::chrono::seconds(10));
    const auto& stats = rig.cluster.node(1)->replicas->stats();
    const std::uint64_t shrinks0 = stats.isr_shrinks, notifications0 = stats.isr_change_notifications;
    // Broker 3 stops fetching from broker 1 while each topic takes a write
    // (a follower at the leader's log end is never out of sync): three ISR
    // shrinks within a second or two, announced together 5-7.5 s after the
    // last one.
    rig.world.network().partition(1, 3);
    for (const std::string topic : {"t", "u", "w"})
      REQUIRE(produce(c, rig.cluster.address(1), topic, 0, make_batch({"v"}, rt.wall_ms()), 1, 3000).kind ==
              ProduceResult::Kind::ok);
    rt.sleep(std::chrono::seconds(15));
    shrinks = rig.cluster.node(1)->replicas->stats().isr_shrinks - shrinks0;
    notifications = rig.cluster.node(1)->replicas->stats().isr_change_notifications - notifications0;
    protocol::MetadataRequest m;
    m.topics = std::vector<protocol::MetadataRequest::MetadataRequestTopic>{};
    for (const std::string topic : {"t", "u", "w"}) m.topics->push_back({{}, topic, {}});
    auto md = c.call<protocol::MetadataResponse>(rig.cluster.address(2), m, 9, std::chrono::seconds(5));
    REQUIRE(md);
    for (const auto& t : md->topics)
      if (t.name && !t.partitions.empty()) isr_at_b2[*t.name] = t.partitions[0].isr_nodes;
    rig.world.network().heal_all();
  });
  CHECK(shrinks == 3);
  CHECK(notifications == 1);
  const std::vector<protocol::BrokerId> two{protocol::BrokerId(1), protocol::BrokerId(2)};
  for (const std::string topic : {"t", "u", "w"}) {
    INFO(topic);
    auto isr = isr_at_b2[topic];
    std::sort(isr.begin(), isr.end());
    CHECK(isr == two);  // the controller told broker 2
  }
}

TEST_CASE("StopReplica stops a replica only for a newer leader epoch or a sentinel "
          "(ReplicaManager.stopReplicas): the same or an older epoch is FENCED_LEADER_EPOCH",
          "[broker][replica_manager]") {
  sim::World world(samsa::testing::quiet_config(6));
  std::vector<ErrorCode> got;
  bool t0_hosted = false, t1_hosted = true, t2_hosted = true;
  const auto n = world.add_node("n", [&](sim::Runtime& rt) {
    auto cfg = broker::make_broker_config({{"broker.id", "1"}, {"log.dir", "data"}});
    REQUIRE(cfg.ok());
    auto rm = std::make_shared<broker::ReplicaManager>(rt, *cfg);
    rm->fence().set_broker_epoch(protocol::BrokerEpoch(100));
    broker::LeaderAndIsrCommand lai;
    for (int i = 0; i < 3; ++i) {
      broker::ControlPartitionState s;
      s.tp = {"t", protocol::PartitionId(i)};
      s.controller_epoch = protocol::ControllerEpoch(1);
      s.leader = protocol::BrokerId(1);
      s.leader_epoch = protocol::LeaderEpoch(3);
      s.isr = {protocol::BrokerId(1)};
      s.replicas = {protocol::BrokerId(1)};
      s.is_new = true;
      lai.partitions.push_back(s);
    }
    const auto made = rm->leader_and_isr(from_controller_1(lai));
    REQUIRE(made.error == ErrorCode::none);
    for (const auto& pe : made.partitions) REQUIRE(pe.error == ErrorCode::none);
    auto stop = [&](int partition, int epoch, bool del) {
      broker::StopReplicaCommand c;
      c.partitions.push_back({{"t", protocol::PartitionId(partition)}, protocol::LeaderEpoch(epoch), del});
      auto r = rm->stop_replica(from_controller_1(c));
      REQUIRE(r.error == ErrorCode::none);
      got.push_back(r.partitions.at(0).error);
    };
    stop(0, 2, true);   // older: fenced
    stop(0, 3, true);   // the same: fenced (the replica already follows this epoch)
    stop(0, 4, true);   // newer: stopped and deleted
    stop(1, -2, true);  // EpochDuringDelete
    stop(2, -1, true);  // NoEpoch (StopReplica before v3)
    t0_hosted = rm->partition({"t", protocol::PartitionId(0)}) != nullptr;
    t1_hosted = rm->partition({"t", protocol::PartitionId(1)}) != nullptr;
    t2_hosted = rm->partition({"t", protocol::PartitionId(2)}) != nullptr;
  });
  world.start(n);
  (void)world.run(world.now() + std::chrono::seconds(1));
  CHECK(got == std::vector<ErrorCode>{ErrorCode::fenced_leader_epoch, ErrorCode::fenced_leader_epoch,
                                      ErrorCode::none, ErrorCode::none, ErrorCode::none});
  CHECK_FALSE(t0_hosted);
  CHECK_FALSE(t1_hosted);
  CHECK_FALSE(t2_hosted);
}

TEST_CASE("a LeaderAndIsr naming an unavailable leader leaves the replica's state as it was "
          "(ReplicaManager.makeFollowers), so the same epoch is taken once the leader is back",
          "[broker][replica_manager]") {
  sim::World world(samsa::testing::quiet_config(6));
  std::vector<ErrorCode> got;
  std::vector<int> epochs;
  const auto n = world.add_node("n", [&](sim::Runtime& rt) {
    auto cfg = broker::make_broker_config({{"broker.id", "2"}, {"log.dir", "data"}});
    REQUIRE(cfg.ok());
    auto rm = std::make_shared<broker::ReplicaManager>(rt, *cfg);
    rm->fence().set_broker_epoch(protocol::BrokerEpoch(100));
    const broker::TopicPartition tp{"t", protocol::PartitionId(0)};
    auto follow_3 = [&](int epoch, bool leader_live) {
      broker::ControlPartitionState s;
      s.tp = tp;
      s.controller_epoch = protocol::ControllerEpoch(1);
      s.leader = protocol::BrokerId(3);
      s.leader_epoch = protocol::LeaderEpoch(epoch);
      s.isr = {protocol::BrokerId(3)};
      s.replicas = {protocol::BrokerId(2), protocol::BrokerId(3)};
      broker::LeaderAndIsrCommand lai;
      lai.partitions.push_back(s);
      if (leader_live) lai.live_leaders.push_back({protocol::BrokerId(3), {"b3", 9092}, protocol::BrokerEpoch(7)});
      const auto made = rm->leader_and_isr(from_controller_1(std::move(lai)));
      REQUIRE(made.error == ErrorCode::none);
      got.push_back(made.partitions.at(0).error);
      REQUIRE(rm->partition(tp));
      epochs.push_back(rm->partition(tp)->leader_epoch().value());
    };
    follow_3(2, false);  // the leader is down: the log is created, the state is not adopted
    follow_3(2, true);   // the leader is back under the same epoch: followed
    follow_3(2, true);   // now the same epoch is stale
  });
  world.start(n);
  (void)world.run(world.now() + std::chrono::seconds(1));
  CHECK(got == std::vector<ErrorCode>{ErrorCode::none, ErrorCode::none, ErrorCode::stale_controller_epoch});
  CHECK(epochs.at(0) < 2);
  CHECK(epochs.at(1) == 2);
  CHECK(epochs.at(2) == 2);
}

TEST_CASE("an acks=all produce waiting in the purgatory survives a LeaderAndIsr that bumps the epoch "
          "with the same leader (OfflineReplica's ISR shrink), and fails once the broker stopped leading",
          "[broker][replica_manager]") {
  for (bool lose_leadership : {false, true}) {
    INFO("lose leadership " << lose_leadership);
    sim::World world(samsa::testing::quiet_config(8));
    std::optional<protocol::ProduceResponse> answer;
    const auto n = world.add_node("n", [&](sim::Runtime& rt) {
      auto cfg = broker::make_broker_config({{"broker.id", "1"}, {"log.dir", "data"}});
      REQUIRE(cfg.ok());
      auto rm = std::make_shared<broker::ReplicaManager>(rt, *cfg);
      rm->fence().set_broker_epoch(protocol::BrokerEpoch(100));
      auto lai = [&](int leader, int epoch, std::vector<protocol::BrokerId> isr) {
        broker::ControlPartitionState s;
        s.tp = {"t", protocol::PartitionId(0)};
        s.controller_epoch = protocol::ControllerEpoch(1);
        s.leader = protocol::BrokerId(leader);
        s.leader_epoch = protocol::LeaderEpoch(epoch);
        s.isr = std::move(isr);
        s.replicas = {protocol::BrokerId(1), protocol::BrokerId(2)};
        s.is_new = epoch == 3;
        broker::LeaderAndIsrCommand c;
        c.partitions.push_back(s);
        if (leader == 2) c.live_leaders.push_back({protocol::BrokerId(2), {"b2", 9092}, protocol::BrokerEpoch(7)});
        const auto made = rm->leader_and_isr(from_controller_1(std::move(c)));
        REQUIRE(made.error == ErrorCode::none);
      };
      lai(1, 3, {protocol::BrokerId(1), protocol::BrokerId(2)});
      // Broker 2 never fetches: the write waits for it.
      rt.spawn("producer", [&] {
        protocol::ProduceRequest req;
        req.acks = -1;
        req.timeout_ms = 10000;
        auto& t = req.topic_data.emplace_back();
        t.name = "t";
        t.partition_data.emplace_back().records = protocol::Records(make_batch({"x"}, rt.wall_ms()));
        answer = rm->produce(req, 7);
      });
      rt.sleep(std::chrono::milliseconds(500));
      REQUIRE_FALSE(answer);  // parked
      if (lose_leadership) {
        lai(2, 4, {protocol::BrokerId(2)});  // follows broker 2 (never heard from) ...
        lai(1, 5, {protocol::BrokerId(1)});  // ... and leads again: the record may have been cut meanwhile
      } else {
        lai(1, 4, {protocol::BrokerId(1)});  // the controller took dead broker 2 out of the ISR
      }
      rt.sleep(std::chrono::milliseconds(500));
    });
    world.start(n);
    (void)world.run(world.now() + std::chrono::seconds(20));
    REQUIRE(answer);
    const auto& pr = answer->responses.at(0).partition_responses.at(0);
    if (lose_leadership) {
      CHECK(pr.error_code == ErrorCode::not_leader_or_follower);
    } else {
      CHECK(pr.error_code == ErrorCode::none);
      CHECK(pr.base_offset == Offset(0));
    }
  }
}
