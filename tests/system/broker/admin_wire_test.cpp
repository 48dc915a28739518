// The admin APIs of handlers_admin.cpp on whole brokers over the wire:
// DescribeConfigs (api key 32) from a frame librdkafka sent, and at the
// versions Kafka 2.8 serves; InitProducerId v3+ with a producer id and epoch
// (KIP-360) and what the partitions do with an idempotent producer's own
// epoch bump; a topic's min.insync.replicas from CreateTopics' configs.
#include "system/broker/handlers_admin.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

#include "scenarios/broker/cluster.h"
#include "scenarios/broker/driver.h"
#include "system/broker/controller.h"
#include "system/coord/client.h"
#include "tests/sim/world_helpers.h"

using namespace samsa;
using namespace samsa::scenarios::broker;
using protocol::ErrorCode;
using protocol::Offset;

namespace {

Bytes read_frame(const std::string& name) {
  std::ifstream in(std::string(SAMSA_SOURCE_DIR "/tests/data/frames/") + name, std::ios::binary);
  REQUIRE(in);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

using Settings = std::vector<std::pair<std::string, std::string>>;

struct Rig {
  explicit Rig(Settings settings = {}, std::uint64_t seed = 23)
      : world(samsa::testing::quiet_config(seed)), cluster(world, {3, std::move(settings)}) {}
  sim::World world;
  Cluster cluster;

  // Writes a topic with `configs` on brokers 1..3 (as kafka-topics.sh --zookeeper).
  void create(sim::Runtime& rt, const std::string& topic, std::map<std::string, std::string> configs) {
    auto c = coord::Client::start(rt, coord::ClientConfig{{{"zk", 2181}}, 6000});
    REQUIRE(c->wait_connected(rt.deadline_after(std::chrono::seconds(10))));
    std::map<protocol::PartitionId, std::vector<protocol::BrokerId>> a{
        {protocol::PartitionId(0), {protocol::BrokerId(1), protocol::BrokerId(2), protocol::BrokerId(3)}}};
    bool ok = false;
    for (int i = 0; i < 20 && !ok; ++i) {
      ok = broker::write_topic(*c, topic, a, configs).ok();
      if (!ok) rt.sleep(std::chrono::milliseconds(500));
    }
    c->close();
    REQUIRE(ok);
  }
  sim::Address leader(sim::Runtime& rt, RawClient& c, const std::string& topic) {
    for (int i = 0; i < 100; ++i) {
      for (int b = 1; b <= 3; ++b) {
        std::map<protocol::BrokerId, sim::Address> brokers;
        auto l = find_leader(c, cluster.address(b), topic, 0, &brokers);
        if (l && brokers.count(*l)) return brokers.at(*l);
      }
      rt.sleep(std::chrono::milliseconds(200));
    }
    FAIL("no leader for " << topic);
    return {};
  }
  void run(std::function<void(sim::Runtime&)> body, int seconds = 120) {
    bool done = false;
    (void)world.add_node("client", [&done, body](sim::Runtime& rt) {
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

using DescribeResult = protocol::DescribeConfigsResponse::DescribeConfigsResult;
using DescribeEntry = protocol::DescribeConfigsResponse::DescribeConfigsResourceResult;

const DescribeEntry* entry(const DescribeResult& r, std::string_view name) {
  for (const auto& e : r.configs)
    if (e.name == name) return &e;
  return nullptr;
}

// ConfigSource ids (DescribeConfigsResponse.ConfigSource).
constexpr std::int8_t k_topic_config = 1, k_static_broker_config = 4, k_default_config = 5;

}  // namespace

TEST_CASE("DescribeConfigs: librdkafka's request for a topic and a broker, answered with Kafka's "
          "names, values, sources and read-only flags", "[broker][admin][wire]") {
  Rig rig(Settings{{"min.insync.replicas", "2"}, {"log.retention.hours", "24"}});
  rig.run([&](sim::Runtime& rt) {
    rig.create(rt, "t", {{"retention.ms", "5000"}});
    RawClient c(rt, "test");
    (void)rig.leader(rt, c, "t");
    // ApiVersions names DescribeConfigs at the versions Kafka 2.8 serves.
    auto av = c.call<protocol::ApiVersionsResponse>(rig.cluster.address(1), protocol::ApiVersionsRequest{}, 3,
                                                    std::chrono::seconds(5));
    REQUIRE(av);
    bool listed = false;
    for (const auto& k : av->api_keys)
      if (k.api_key == 32) listed = k.min_version == 0 && k.max_version == 4;
    CHECK(listed);

    // confluent-kafka-python's AdminClient.describe_configs([topic t, broker 0])
    // as librdkafka 2.0.2 framed it: v1, include_synonyms.
    const Bytes frame = read_frame("confluent-python-admin-DescribeConfigs-v1-request.bin");
    auto decoded = protocol::decode_request_as<protocol::DescribeConfigsRequest>(protocol::share_frame(frame));
    REQUIRE(decoded.ok());
    REQUIRE(decoded->body.resources.size() == 2);
    CHECK(decoded->body.include_synonyms);
    auto conn = rt.net().connect(rig.cluster.address(1), rt.deadline_after(std::chrono::seconds(5))).value();
    REQUIRE(conn->send(frame).ok());
    auto answer = conn->recv(rt.deadline_after(std::chrono::seconds(10)));
    REQUIRE(answer);
    auto resp = protocol::decode_response_frame<protocol::DescribeConfigsResponse>(
        protocol::share_frame(std::move(*answer)), 1);
    REQUIRE(resp.ok());
    CHECK(resp->correlation_id == decoded->header.correlation_id);
    const auto& rs = resp->body.results;
    REQUIRE(rs.size() == 2);
    // The topic: its own override is TOPIC_CONFIG, a broker setting behind a
    // synonym STATIC_BROKER_CONFIG, the rest DEFAULT_CONFIG; never read-only.
    CHECK(rs[0].error_code == ErrorCode::none);
    CHECK(rs[0].resource_type == 2);
    CHECK(rs[0].resource_name == "t");
    const auto* retention = entry(rs[0], "retention.ms");
    REQUIRE(retention);
    CHECK(retention->value == "5000");
    CHECK(retention->config_source == k_topic_config);
    CHECK_FALSE(retention->read_only);
    // Kafka lists log.retention.ms's synonyms from its own entry on, and it
    // has none here: log.retention.hours=24 (and its default) are dropped.
    REQUIRE(retention->synonyms.size() == 1);
    CHECK(retention->synonyms[0].name == "retention.ms");
    CHECK(retention->synonyms[0].source == k_topic_config);
    const auto* cleanup = entry(rs[0], "cleanup.policy");
    REQUIRE(cleanup);
    REQUIRE(cleanup->synonyms.size() == 1);
    CHECK(cleanup->synonyms[0].name == "log.cleanup.policy");
    CHECK(cleanup->synonyms[0].source == k_default_config);
    const auto* isr = entry(rs[0], "min.insync.replicas");
    REQUIRE(isr);
    CHECK(isr->value == "2");
    CHECK(isr->config_source == k_static_broker_config);
    const auto* segment = entry(rs[0], "segment.bytes");
    REQUIRE(segment);
    CHECK(segment->value == "1073741824");
    CHECK(segment->config_source == k_default_config);
    // Broker 0 is not the broker asked (ConfigHelper's message).
    CHECK(rs[1].error_code == ErrorCode::invalid_request);
    CHECK(rs[1].error_message == "Unexpected broker id, expected 1 or empty string, but received 0");
    CHECK(rs[1].configs.empty());
    conn->close();

    // The broker itself at v0 (IsDefault, no sources) and v4 (flexible, ConfigType).
    protocol::DescribeConfigsRequest req;
    req.resources.push_back({4, "1", std::vector<std::string>{"min.insync.replicas", "num.partitions",
                                                              "log.retention.hours", "broker.id"}, {}});
    req.resources.push_back({4, "", std::nullopt, {}});
    req.resources.push_back({2, "missing", std::nullopt, {}});
    for (std::int16_t v : {0, 4}) {
      INFO("version " << v);
      auto r = c.call<protocol::DescribeConfigsResponse>(rig.cluster.address(1), req, v, std::chrono::seconds(5));
      REQUIRE(r);
      REQUIRE(r->results.size() == 3);
      const auto& b = r->results[0];
      CHECK(b.error_code == ErrorCode::none);
      REQUIRE(b.configs.size() == 4);
      const auto* mis = entry(b, "min.insync.replicas");
      REQUIRE(mis);
      CHECK(mis->value == "2");
      CHECK_FALSE(mis->read_only);  // DynamicLogConfig may change it
      const auto* hours = entry(b, "log.retention.hours");
      REQUIRE(hours);
      CHECK(hours->value == "24");
      CHECK(hours->read_only);  // not a dynamic config
      const auto* id = entry(b, "broker.id");
      REQUIRE(id);
      CHECK(id->value == "1");
      CHECK(id->read_only);
      CHECK_FALSE(id->is_default);  // Kafka 2.8 never sets IsDefault
      if (v >= 1) {
        CHECK(mis->config_source == k_static_broker_config);
        CHECK(entry(b, "num.partitions")->config_source == k_default_config);
      }
      if (v >= 3) {
        CHECK(mis->config_type == 3);    // INT
        CHECK(id->config_type == 3);
      } else {
        CHECK(mis->config_type == 0);  // not on the wire before v3
      }
      // The empty name: the cluster's dynamic defaults, none here.
      CHECK(r->results[1].error_code == ErrorCode::none);
      CHECK(r->results[1].configs.empty());
      CHECK(r->results[2].error_code == ErrorCode::unknown_topic_or_partition);
      CHECK_FALSE(r->results[2].error_message.has_value());
    }
  });
}

TEST_CASE("DescribeConfigs v3+ with include_documentation answers each key's doc string; "
          "without it the documentation is null", "[broker][admin][wire]") {
  Rig rig;
  rig.run([&](sim::Runtime& rt) {
    rig.create(rt, "t", {});
    RawClient c(rt, "test");
    (void)rig.leader(rt, c, "t");
    for (bool docs : {false, true}) {
      INFO("include_documentation " << docs);
      protocol::DescribeConfigsRequest req;
      req.resources.push_back({4, "1", std::nullopt, {}});
      req.resources.push_back({2, "t", std::nullopt, {}});
      req.include_documentation = docs;
      auto r = c.call<protocol::DescribeConfigsResponse>(rig.cluster.address(1), req, 4, std::chrono::seconds(5));
      REQUIRE(r);
      REQUIRE(r->results.size() == 2);
      for (const auto& res : r->results) {
        CHECK(res.error_code == ErrorCode::none);
        CHECK(res.configs.size() > 10);
        for (const auto& e : res.configs) {
          INFO(e.name);
          CHECK(e.documentation.has_value() == docs);
        }
      }
      if (docs) {
        const auto* mis = entry(r->results[1], "min.insync.replicas");
        REQUIRE(mis);
        CHECK(mis->documentation->find("acks=all") != std::string::npos);
        const auto* dirs = entry(r->results[0], "log.dirs");
        REQUIRE(dirs);
        CHECK(dirs->documentation->find("log data") != std::string::npos);
      }
    }
  });
}

TEST_CASE("a topic's min.insync.replicas from its configs decides acks=all, not the broker's",
          "[broker][replica_manager][wire]") {
  Rig rig(Settings{{"min.insync.replicas", "2"}});
  rig.run([&](sim::Runtime& rt) {
    // RF 3 with min.insync.replicas 4 can never take acks=all (Kafka does not
    // check it against the replication factor); the broker's 2 can.
    rig.create(rt, "strict", {{"min.insync.replicas", "4"}});
    rig.create(rt, "loose", {});
    RawClient c(rt, "test");
    const auto strict = rig.leader(rt, c, "strict");
    const auto loose = rig.leader(rt, c, "loose");
    auto one = [&](const sim::Address& to, const std::string& topic, std::int16_t acks) {
      return produce(c, to, topic, 0, make_batch({"v"}, rt.wall_ms()), acks, 3000);
    };
    const auto refused = one(strict, "strict", -1);
    CHECK(refused.kind == ProduceResult::Kind::failed);
    CHECK(refused.error == ErrorCode::not_enough_replicas);
    CHECK(one(strict, "strict", 1).kind == ProduceResult::Kind::ok);
    CHECK(one(loose, "loose", -1).kind == ProduceResult::Kind::ok);
  });
}

TEST_CASE("InitProducerId (KIP-360): an idempotent producer's id and epoch get a fresh id as Kafka "
          "2.8; the partition takes the producer's own epoch bump and fences the old epoch",
          "[broker][admin][idempotence][wire]") {
  Rig rig;
  rig.run([&](sim::Runtime& rt) {
    rig.create(rt, "t", {});
    RawClient c(rt, "producer");
    const auto leader = rig.leader(rt, c, "t");
    auto init = [&](std::int64_t pid, std::int16_t epoch, std::optional<std::string> txn = std::nullopt) {
      std::optional<protocol::InitProducerIdResponse> r;
      for (int i = 0; i < 20; ++i) {
        protocol::InitProducerIdRequest req;
        req.transactional_id = txn;
        req.transaction_timeout_ms = 60000;
        req.producer_id = protocol::ProducerId(pid);
        req.producer_epoch = protocol::ProducerEpoch(epoch);
        r = c.call<protocol::InitProducerIdResponse>(leader, req, 4, std::chrono::seconds(5));
        if (r && r->error_code != ErrorCode::coordinator_not_available) break;
        rt.sleep(std::chrono::milliseconds(300));
      }
      REQUIRE(r);
      return *r;
    };
    const auto first = init(-1, -1);
    REQUIRE(first.error_code == ErrorCode::none);
    CHECK(first.producer_epoch == protocol::ProducerEpoch(0));
    const std::int64_t pid = first.producer_id.value();
    // One of the two set: INVALID_REQUEST; an empty transactional id too.
    CHECK(init(pid, -1).error_code == ErrorCode::invalid_request);
    CHECK(init(-1, 0).error_code == ErrorCode::invalid_request);
    CHECK(init(-1, -1, std::string()).error_code == ErrorCode::invalid_request);
    // Both set, no transactional id: TransactionCoordinator hands out a new
    // id at epoch 0 (it does not bump a non-transactional producer's epoch).
    const auto again = init(pid, 0);
    CHECK(again.error_code == ErrorCode::none);
    CHECK(again.producer_id.value() != pid);
    CHECK(again.producer_epoch == protocol::ProducerEpoch(0));

    auto send = [&](std::int16_t epoch, int seq, const std::string& v) {
      return produce(c, leader, "t", 0, make_batch({v}, rt.wall_ms(), pid, epoch, seq), -1, 3000);
    };
    REQUIRE(send(0, 0, "a").kind == ProduceResult::Kind::ok);
    REQUIRE(send(0, 1, "b").kind == ProduceResult::Kind::ok);
    // The producer bumps its epoch itself (TransactionManager
    // bumpIdempotentEpochAndResetIdIfNeeded): the new epoch starts at 0 ...
    CHECK(send(1, 1, "c").error == ErrorCode::out_of_order_sequence_number);
    CHECK(send(1, 0, "c").kind == ProduceResult::Kind::ok);
    // ... and the old one is fenced.
    CHECK(send(0, 2, "d").error == ErrorCode::invalid_producer_epoch);
    CHECK(send(1, 1, "e").kind == ProduceResult::Kind::ok);
    auto f = fetch(c, leader, "t", 0, Offset(0), 0);
    REQUIRE(f);
    CHECK(f->values == std::map<std::int64_t, std::string>{{0, "a"}, {1, "b"}, {2, "c"}, {3, "e"}});
  });
}

TEST_CASE("DeleteTopics: StopReplica with delete removes every replica's directory",
          "[broker][admin][replica_manager][wire]") {
  Rig rig;
  bool had_dirs = false;
  protocol::DeleteTopicsResponse deleted;
  rig.run([&](sim::Runtime& rt) {
    rig.create(rt, "t", {});
    RawClient c(rt, "admin");
    const auto leader = rig.leader(rt, c, "t");
    REQUIRE(produce(c, leader, "t", 0, make_batch({"v"}, rt.wall_ms()), -1, 3000).kind == ProduceResult::Kind::ok);
    had_dirs = true;
    for (int b = 1; b <= 3; ++b) had_dirs = had_dirs && rig.world.disk(b).exists("data/t-0");
    protocol::MetadataRequest m;
    m.topics = std::vector<protocol::MetadataRequest::MetadataRequestTopic>{};
    auto md = c.call<protocol::MetadataResponse>(rig.cluster.address(1), m, 9, std::chrono::seconds(5));
    REQUIRE(md);
    protocol::DeleteTopicsRequest req;
    req.topic_names = {"t"};
    req.timeout_ms = 10000;
    auto r = c.call<protocol::DeleteTopicsResponse>(rig.cluster.address(md->controller_id.value()), req, 4,
                                                    std::chrono::seconds(15));
    REQUIRE(r);
    deleted = *r;
    rt.sleep(std::chrono::seconds(5));
  });
  CHECK(had_dirs);
  REQUIRE(deleted.responses.size() == 1);
  CHECK(deleted.responses[0].error_code == ErrorCode::none);
  for (int b = 1; b <= 3; ++b) {
    INFO("broker " << b);
    CHECK_FALSE(rig.world.disk(b).exists("data/t-0"));
    CHECK(rig.cluster.node(b)->replicas->partition({"t", protocol::PartitionId(0)}) == nullptr);
  }
}
