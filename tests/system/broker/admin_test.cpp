// CreateTopics, DeleteTopics, DescribeConfigs and InitProducerId as the
// broker serves them in ZooKeeper mode, against the simulated coordinator.
#include "system/broker/admin.h"

#include <catch2/catch.hpp>

#include "system/broker/controller.h"
#include "system/broker/zk_registration.h"
#include "system/coord/kafka_layout.h"
#include "system/coord/recipes.h"
#include "tests/system/broker/coord_rig.h"

using namespace samsa;
using namespace samsa::broker;
using samsa::protocol::ErrorCode;
using samsa::protocol::ProducerId;

namespace {

BrokerConfig cfg(std::vector<std::pair<std::string, std::string>> kv) {
  return make_broker_config(kv).value();
}

// Registers brokers 1..n from one session (their ephemerals live with it).
void register_brokers(coord::Client& c, int n) {
  REQUIRE(coord::create_kafka_layout(c).ok());
  for (int i = 1; i <= n; ++i)
    REQUIRE(register_broker(c, BrokerId(i), {"b" + std::to_string(i), 9092}, 0).ok());
}

const DescribedConfig* entry(const DescribeConfigsResult& r, std::string_view name) {
  for (const auto& e : r.configs)
    if (e.name == name) return &e;
  return nullptr;
}

}  // namespace

TEST_CASE("Topic.validate: Kafka's rules and messages", "[broker][admin]") {
  CHECK_FALSE(invalid_topic_name("orders.v1_x-2"));
  CHECK(invalid_topic_name("") == "Topic name is illegal, it can't be empty");
  CHECK(invalid_topic_name("..") == "Topic name cannot be \".\" or \"..\"");
  CHECK(invalid_topic_name(std::string(250, 'a'))->find("can't be longer than 249") != std::string::npos);
  CHECK(invalid_topic_name("a b") ==
        "Topic name \"a b\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'");
}

TEST_CASE("CreateTopics writes Kafka's znodes; errors per topic with Kafka's codes",
          "[broker][admin][zk]") {
  test::CoordRig rig(3);
  std::vector<CreateTopicResult> r;
  std::vector<CreateTopicResult> again;
  rig.session([&](sim::Runtime& rt, coord::Client& c) {
    register_brokers(c, 3);
    sim::Random rng = rt.random("assign");
    const BrokerConfig b = cfg({{"broker.id", "1"}, {"num.partitions", "4"}, {"default.replication.factor", "2"}});
    std::vector<NewTopic> ts(8);
    ts[0].name = "defaults";
    ts[1] = {"explicit", 2, 3, {}, {{"retention.ms", "5000"}}};
    ts[2] = {"manual", -1, -1, {{PartitionId(0), {BrokerId(3), BrokerId(1)}}, {PartitionId(1), {BrokerId(1), BrokerId(2)}}}, {}};
    ts[3] = {"too-big", 1, 4, {}, {}};
    ts[4] = {"bad config", 1, 1, {}, {}};
    ts[5] = {"badcfg", 1, 1, {}, {{"retention.mins", "1"}}};
    ts[6] = {"both", 1, -1, {{PartitionId(0), {BrokerId(1)}}}, {}};
    ts[7] = {"dup-replica", -1, -1, {{PartitionId(0), {BrokerId(1), BrokerId(1)}}}, {}};
    r = create_topics(c, b, ts, false, rng);
    again = create_topics(c, b, {NewTopic{"defaults", 1, 1, {}, {}}, NewTopic{"a_b", 1, 1, {}, {}}, NewTopic{"a.b", 1, 1, {}, {}}}, false, rng);
  });
  rig.run();
  REQUIRE(rig.finished == 1);
  REQUIRE(r.size() == 8);
  CHECK(r[0].error == ErrorCode::none);
  CHECK(r[0].num_partitions == 4);
  CHECK(r[0].replication_factor == 2);
  CHECK(r[1].error == ErrorCode::none);
  CHECK(r[2].error == ErrorCode::none);
  CHECK(r[2].num_partitions == 2);
  CHECK(r[3].error == ErrorCode::invalid_replication_factor);
  CHECK(r[3].error_message == "Replication factor: 4 larger than available brokers: 3.");
  CHECK(r[4].error == ErrorCode::invalid_topic_exception);
  CHECK(r[5].error == ErrorCode::invalid_config);
  CHECK(r[5].error_message == "Unknown topic config name: retention.mins");
  CHECK(r[6].error == ErrorCode::invalid_request);
  CHECK(r[7].error == ErrorCode::invalid_replica_assignment);
  REQUIRE(again.size() == 3);
  CHECK(again[0].error == ErrorCode::topic_already_exists);
  CHECK(again[0].error_message == "Topic 'defaults' already exists.");
  CHECK(again[1].error == ErrorCode::none);
  CHECK(again[2].error == ErrorCode::invalid_topic_exception);  // collides with "a_b"
  CHECK(again[2].error_message == "Topic 'a.b' collides with existing topics: a_b");

  const auto* manual = rig.zk->state().find("/brokers/topics/manual");
  REQUIRE(manual);
  CHECK(as_chars(manual->data) == R"({"version":1,"partitions":{"0":[3,1],"1":[1,2]}})");
  const auto* explicit_cfg = rig.zk->state().find("/config/topics/explicit");
  REQUIRE(explicit_cfg);
  CHECK(as_chars(explicit_cfg->data) == R"({"version":1,"config":{"retention.ms":"5000"}})");
  const auto assignment = parse_topic_assignment(as_chars(rig.zk->state().find("/brokers/topics/defaults")->data));
  REQUIRE(assignment);
  CHECK(assignment->size() == 4);
  CHECK_FALSE(rig.zk->state().find("/brokers/topics/too-big"));
}

TEST_CASE("CreateTopics validate_only writes nothing", "[broker][admin][zk]") {
  test::CoordRig rig(4);
  std::vector<CreateTopicResult> r;
  rig.session([&](sim::Runtime& rt, coord::Client& c) {
    register_brokers(c, 1);
    sim::Random rng = rt.random("assign");
    r = create_topics(c, cfg({}), {NewTopic{"t", 3, 1, {}, {}}}, true, rng);
  });
  rig.run();
  REQUIRE(r.size() == 1);
  CHECK(r[0].error == ErrorCode::none);
  CHECK(r[0].num_partitions == 3);
  CHECK_FALSE(rig.zk->state().find("/brokers/topics/t"));
}

TEST_CASE("DeleteTopics marks existing topics; unknown ones and disabled deletion are refused",
          "[broker][admin][zk]") {
  test::CoordRig rig(5);
  std::vector<DeleteTopicResult> r, disabled;
  rig.session([&](sim::Runtime& rt, coord::Client& c) {
    register_brokers(c, 1);
    sim::Random rng = rt.random("assign");
    (void)create_topics(c, cfg({}), {NewTopic{"t", 1, 1, {}, {}}}, false, rng);
    r = delete_topics(c, cfg({}), {"t", "nope", "t"});
    disabled = delete_topics(c, cfg({{"delete.topic.enable", "false"}}), {"t"});
  });
  rig.run();
  REQUIRE(r.size() == 3);
  CHECK(r[0].error == ErrorCode::none);
  CHECK(r[1].error == ErrorCode::unknown_topic_or_partition);
  CHECK(r[2].error == ErrorCode::none);  // already marked: Kafka swallows it
  CHECK(rig.zk->state().find("/admin/delete_topics/t"));
  CHECK(disabled.at(0).error == ErrorCode::topic_deletion_disabled);
}

TEST_CASE("DescribeConfigs: topic overrides, broker settings and defaults with their sources",
          "[broker][admin][zk]") {
  test::CoordRig rig(6);
  std::vector<DescribeConfigsResult> r;
  rig.session([&](sim::Runtime& rt, coord::Client& c) {
    register_brokers(c, 1);
    sim::Random rng = rt.random("assign");
    const BrokerConfig b = cfg({{"broker.id", "1"}, {"min.insync.replicas", "2"}});
    (void)create_topics(c, b, {NewTopic{"t", 1, 1, {}, {{"retention.ms", "5000"}}}}, false, rng);
    r = describe_configs(c, b,
                         {{ConfigResourceType::topic, "t", std::nullopt},
                          {ConfigResourceType::broker, "1", std::vector<std::string>{"min.insync.replicas", "num.partitions"}},
                          {ConfigResourceType::broker, "7", std::nullopt},
                          {ConfigResourceType::topic, "missing", std::nullopt}},
                         true);
  });
  rig.run();
  REQUIRE(r.size() == 4);
  REQUIRE(r[0].error == ErrorCode::none);
  const auto* retention = entry(r[0], "retention.ms");
  REQUIRE(retention);
  CHECK(retention->value == "5000");
  CHECK(retention->source == ConfigSource::dynamic_topic_config);
  // ConfigHelper.configSynonyms starts at the first entry for log.retention.ms
  // itself: the default of log.retention.hours before it is dropped.
  REQUIRE(retention->synonyms.size() == 1);
  CHECK(retention->synonyms[0].name == "retention.ms");
  CHECK(retention->synonyms[0].source == ConfigSource::dynamic_topic_config);
  const auto* isr = entry(r[0], "min.insync.replicas");
  CHECK(isr->value == "2");
  CHECK(isr->source == ConfigSource::static_broker_config);
  // The broker's setting, then Kafka's default.
  REQUIRE(isr->synonyms.size() == 2);
  CHECK(isr->synonyms[0].name == "min.insync.replicas");
  CHECK(isr->synonyms[0].value == "2");
  CHECK(isr->synonyms[0].source == ConfigSource::static_broker_config);
  CHECK(isr->synonyms[1].value == "1");
  CHECK(isr->synonyms[1].source == ConfigSource::default_config);
  const auto* cleanup = entry(r[0], "cleanup.policy");
  REQUIRE(cleanup->synonyms.size() == 1);
  CHECK(cleanup->synonyms[0].name == "log.cleanup.policy");
  CHECK(cleanup->synonyms[0].value == "delete");
  CHECK(cleanup->synonyms[0].source == ConfigSource::default_config);
  CHECK(entry(r[0], "segment.bytes")->source == ConfigSource::default_config);
  REQUIRE(r[1].error == ErrorCode::none);
  REQUIRE(r[1].configs.size() == 2);
  CHECK(entry(r[1], "min.insync.replicas")->source == ConfigSource::static_broker_config);
  CHECK(entry(r[1], "num.partitions")->source == ConfigSource::default_config);
  CHECK(entry(r[1], "num.partitions")->value == "1");
  CHECK(r[2].error == ErrorCode::invalid_request);
  CHECK(r[3].error == ErrorCode::unknown_topic_or_partition);
}

TEST_CASE("DescribeConfigs synonyms as Kafka 2.8 lists them: log.retention.ms, .minutes, .hours; "
          "settings before defaults; none without include_synonyms", "[broker][admin][zk]") {
  test::CoordRig rig(8);
  std::vector<DescribeConfigsResult> with, without;
  rig.session([&](sim::Runtime& rt, coord::Client& c) {
    register_brokers(c, 1);
    sim::Random rng = rt.random("assign");
    const BrokerConfig b = cfg({{"broker.id", "1"}, {"log.retention.ms", "60000"}, {"log.retention.hours", "24"}});
    (void)create_topics(c, b, {NewTopic{"t", 1, 1, {}, {}}}, false, rng);
    const std::vector<DescribeConfigsResource> res = {
        {ConfigResourceType::topic, "t", std::vector<std::string>{"retention.ms", "flush.ms"}},
        {ConfigResourceType::broker, "1",
         std::vector<std::string>{"log.retention.ms", "log.retention.hours", "log.retention.minutes"}}};
    with = describe_configs(c, b, res, true);
    without = describe_configs(c, b, res, false);
  });
  rig.run();
  REQUIRE(with.size() == 2);
  const auto names = [](const DescribedConfig* d) {
    std::vector<std::string> out;
    for (const auto& s : d->synonyms) out.push_back(std::string(s.source == ConfigSource::default_config ? "D:" : "S:") + s.name + "=" + s.value.value_or("null"));
    return out;
  };
  const auto* topic_retention = entry(with[0], "retention.ms");
  REQUIRE(topic_retention);
  CHECK(topic_retention->value == "60000");
  CHECK(topic_retention->source == ConfigSource::static_broker_config);
  CHECK(names(topic_retention) == std::vector<std::string>{"S:log.retention.ms=60000", "S:log.retention.hours=24",
                                                          "D:log.retention.hours=168"});
  // log.flush.scheduler.interval.ms stands in for log.flush.interval.ms, whose default is null.
  const auto* flush = entry(with[0], "flush.ms");
  REQUIRE(flush);
  CHECK(flush->source == ConfigSource::default_config);
  CHECK(flush->synonyms.empty());
  CHECK(names(entry(with[1], "log.retention.ms")) ==
        std::vector<std::string>{"S:log.retention.ms=60000", "S:log.retention.hours=24", "D:log.retention.hours=168"});
  CHECK(names(entry(with[1], "log.retention.hours")) ==
        std::vector<std::string>{"S:log.retention.hours=24", "D:log.retention.hours=168"});
  // Neither set nor defaulted: no synonyms, the default source.
  CHECK(entry(with[1], "log.retention.minutes")->synonyms.empty());
  CHECK(entry(with[1], "log.retention.minutes")->source == ConfigSource::default_config);
  REQUIRE(without.size() == 2);
  for (const auto& r : without)
    for (const auto& d : r.configs) CHECK(d.synonyms.empty());
  CHECK(entry(without[0], "retention.ms")->source == ConfigSource::static_broker_config);
}

TEST_CASE("InitProducerId: blocks of 1000 ids by CAS on /latest_producer_id_block; brokers "
          "never hand out the same id", "[broker][admin][zk]") {
  test::CoordRig rig(7);
  std::vector<std::vector<std::int64_t>> got(3);
  for (int b = 0; b < 3; ++b)
    rig.session([&, b](sim::Runtime& rt, coord::Client& c) {
      ProducerIdManager ids{BrokerId(b + 1)};
      for (int i = 0; i < 1500; ++i) {
        auto r = init_producer_id(c, ids, std::nullopt);
        REQUIRE(r.error == ErrorCode::none);
        CHECK(r.producer_epoch == protocol::ProducerEpoch(0));
        got[static_cast<std::size_t>(b)].push_back(r.producer_id.value());
        if (i % 97 == 0) rt.yield();
      }
      CHECK(init_producer_id(c, ids, std::string("txn")).error == ErrorCode::coordinator_not_available);
    });
  rig.run();
  REQUIRE(rig.finished == 3);
  std::set<std::int64_t> all;
  for (const auto& ids : got) {
    REQUIRE(ids.size() == 1500);
    for (std::size_t i = 1; i < ids.size(); ++i) CHECK(ids[i] > ids[i - 1]);
    // Each broker's ids come in runs of whole blocks.
    CHECK(ids.front() % 1000 == 0);
    all.insert(ids.begin(), ids.end());
  }
  CHECK(all.size() == 4500);
  const auto* z = rig.zk->state().find("/latest_producer_id_block");
  REQUIRE(z);
  const auto block = parse_producer_id_block(as_chars(z->data));
  REQUIRE(block);
  CHECK(block->end == 5999);  // six blocks handed out
  CHECK(block->start == 5000);
}
