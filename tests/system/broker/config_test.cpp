// Broker and topic configuration: Kafka's key names, defaults, validators and
// the server.properties format.
#include "system/broker/config.h"

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

using namespace samsa;
using namespace samsa::broker;

namespace {
BrokerConfig make(std::vector<std::pair<std::string, std::string>> kv) {
  auto c = make_broker_config(kv);
  if (!c) FAIL(c.error().to_string());
  return *c;
}
std::string error_of(std::vector<std::pair<std::string, std::string>> kv) {
  auto c = make_broker_config(kv);
  REQUIRE(!c.ok());
  return c.error().message;
}
}  // namespace

TEST_CASE("broker config: Kafka 2.8's defaults", "[broker][config]") {
  const BrokerConfig c = make({});
  CHECK(c.broker_id == -1);
  CHECK(c.num_partitions == 1);
  CHECK(c.default_replication_factor == 1);
  CHECK(c.min_insync_replicas == 1);
  CHECK_FALSE(c.unclean_leader_election_enable);
  CHECK(c.auto_create_topics_enable);
  CHECK(c.auto_leader_rebalance_enable);
  CHECK(c.leader_imbalance_check_interval_seconds == 300);
  CHECK(c.replica_lag_time_max_ms == 30000);
  CHECK(c.replica_fetch_wait_max_ms == 500);
  CHECK(c.replica_fetch_min_bytes == 1);
  CHECK(c.replica_fetch_max_bytes == 1048576);
  CHECK(c.message_max_bytes == 1048588);
  CHECK(c.log_flush_interval_messages == std::numeric_limits<std::int64_t>::max());
  CHECK(c.effective_log_flush_interval_ms() == std::numeric_limits<std::int64_t>::max());
  CHECK(c.log_segment_bytes == 1073741824);
  CHECK(c.effective_log_retention_ms() == 168 * 3600 * 1000LL);
  CHECK(c.log_retention_bytes == -1);
  CHECK(c.zookeeper_session_timeout_ms == 18000);
  CHECK(c.controlled_shutdown_enable);
  CHECK(c.controlled_shutdown_max_retries == 3);
  CHECK(c.controlled_shutdown_retry_backoff_ms == 5000);
  CHECK(c.transactional_id_expiration_ms == 604800000);
  CHECK(c.offsets_topic_num_partitions == 50);
  CHECK(c.offsets_topic_replication_factor == 3);
  CHECK(c.group_min_session_timeout_ms == 6000);
  CHECK(c.group_initial_rebalance_delay_ms == 3000);
  CHECK(c.socket_request_max_bytes == 104857600);
  CHECK_FALSE(c.legacy.no_controller_epoch_check);
  CHECK_FALSE(c.legacy.truncate_to_high_watermark);
}

TEST_CASE("broker config: keys set by name, values parsed as Kafka's ConfigDef does",
          "[broker][config]") {
  const BrokerConfig c = make({{"broker.id", " 3 "},
                               {"min.insync.replicas", "+2"},
                               {"unclean.leader.election.enable", "TRUE"},
                               {"log.flush.interval.messages", "1"},
                               {"log.cleanup.policy", "compact, delete"},
                               {"samsa.legacy.no.controller.epoch.check", "true"},
                               {"samsa.legacy.no.broker.epoch", "false"}});
  CHECK(c.broker_id == 3);
  CHECK(c.min_insync_replicas == 2);
  CHECK(c.unclean_leader_election_enable);
  CHECK(c.log_flush_interval_messages == 1);
  CHECK(c.log_cleanup_policy == "compact, delete");
  CHECK(c.legacy.no_controller_epoch_check);
  CHECK_FALSE(c.legacy.no_broker_epoch);
  CHECK(broker_config_value(c, "broker.id")->value == "3");
  CHECK_FALSE(broker_config_value(c, "broker.id")->is_default);
  CHECK(broker_config_value(c, "num.partitions")->is_default);
  CHECK(broker_config_value(c, "log.retention.ms")->value == std::nullopt);  // Kafka's null
}

TEST_CASE("broker config: retention and flush fall back as KafkaConfig computes them",
          "[broker][config]") {
  CHECK(make({{"log.retention.minutes", "5"}}).effective_log_retention_ms() == 300000);
  CHECK(make({{"log.retention.minutes", "5"}, {"log.retention.ms", "7"}})
            .effective_log_retention_ms() == 7);
  CHECK(make({{"log.retention.hours", "-1"}}).effective_log_retention_ms() == -1);
  CHECK(make({{"log.flush.scheduler.interval.ms", "9"}}).effective_log_flush_interval_ms() == 9);
  CHECK(make({{"log.flush.scheduler.interval.ms", "9"}, {"log.flush.interval.ms", "4"}})
            .effective_log_flush_interval_ms() == 4);
}

TEST_CASE("broker config: an unknown key or a bad value is an error naming the key",
          "[broker][config]") {
  CHECK(error_of({{"num.partitons", "3"}}) == "Unknown configuration 'num.partitons'");
  CHECK(error_of({{"num.partitions", "0"}}) ==
        "Invalid value 0 for configuration num.partitions: Value must be at least 1");
  CHECK(error_of({{"num.partitions", "three"}}) ==
        "Invalid value three for configuration num.partitions: Not a number of type INT");
  CHECK(error_of({{"num.partitions", "4294967296"}}) ==
        "Invalid value 4294967296 for configuration num.partitions: Not a number of type INT");
  CHECK(error_of({{"replica.lag.time.max.ms", "1e3"}}) ==
        "Invalid value 1e3 for configuration replica.lag.time.max.ms: Not a number of type LONG");
  CHECK(error_of({{"offsets.topic.replication.factor", "40000"}}) ==
        "Invalid value 40000 for configuration offsets.topic.replication.factor: Not a number of type SHORT");
  CHECK(error_of({{"auto.create.topics.enable", "yes"}}) ==
        "Invalid value yes for configuration auto.create.topics.enable: Expected value to be "
        "either true or false");
  CHECK(error_of({{"samsa.legacy.no.broker.epoch", "1"}}) ==
        "Invalid value 1 for configuration samsa.legacy.no.broker.epoch: Expected value to be "
        "either true or false");
  CHECK(error_of({{"log.cleanup.policy", "delete,compacted"}}) ==
        "Invalid value compacted for configuration log.cleanup.policy: String must be one of: "
        "compact, delete");
  CHECK(error_of({{"log.message.timestamp.type", "Now"}}) ==
        "Invalid value Now for configuration log.message.timestamp.type: String must be one of: "
        "CreateTime, LogAppendTime");
  auto e = make_broker_config({{"group.min.session.timeout.ms", "9"},
                               {"group.max.session.timeout.ms", "8"}});
  REQUIRE(!e.ok());
  CHECK(e.error().key == "group.min.session.timeout.ms");
  CHECK(make_broker_config({{"min.insync.replicas", "0"}}).error().key == "min.insync.replicas");
}

TEST_CASE("broker config: every key reads back what was set, and describes itself",
          "[broker][config][property]") {
  const auto all = describe_broker_config(BrokerConfig{});
  REQUIRE(all.size() > 80);
  CHECK(std::is_sorted(all.begin(), all.end(),
                       [](const auto& a, const auto& b) { return a.name < b.name; }));
  for (const auto& v : all) {
    INFO(v.name);
    CHECK(is_broker_config_key(v.name));
    CHECK(v.is_default);
    if (!v.value) continue;
    // Setting a key to its own default value parses and reads back the same.
    BrokerConfig c;
    REQUIRE(set_broker_config(c, v.name, *v.value).ok());
    CHECK(broker_config_value(c, v.name)->value == v.value);
    CHECK_FALSE(broker_config_value(c, v.name)->is_default);
  }
  rc::prop("an int key set to any int in range reads back", [](std::int32_t n) {
    BrokerConfig c;
    const bool ok = set_broker_config(c, "replica.fetch.min.bytes", std::to_string(n)).ok();
    RC_ASSERT(ok);
    RC_ASSERT(c.replica_fetch_min_bytes == n);
    const bool ranged = set_broker_config(c, "num.partitions", std::to_string(n)).ok();
    RC_ASSERT(ranged == (n >= 1));
  });
}

TEST_CASE("server.properties: Kafka's shipped file parses; errors carry file:line:col",
          "[broker][config]") {
  // config/server.properties of Kafka 2.8 without its comments.
  const std::string shipped = R"(# The id of the broker.
broker.id=0
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600
log.dirs=/tmp/kafka-logs
num.partitions=1
num.recovery.threads.per.data.dir=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
log.retention.hours=168
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
zookeeper.connect=localhost:2181
zookeeper.connection.timeout.ms=18000
group.initial.rebalance.delay.ms=0
)";
  auto c = parse_server_properties(shipped, "server.properties");
  REQUIRE(c.ok());
  CHECK(c->broker_id == 0);
  CHECK(c->offsets_topic_replication_factor == 1);
  CHECK(c->zookeeper_connect == "localhost:2181");
  CHECK(c->zookeeper_connection_timeout_ms == 18000);
  CHECK(c->group_initial_rebalance_delay_ms == 0);

  auto bad = parse_server_properties("broker.id=1\n\n  num.partitions = zero\n", "s.p");
  REQUIRE(!bad.ok());
  CHECK(bad.error().to_string() ==
        "s.p:3:20: Invalid value zero for configuration num.partitions: Not a number of type INT");
  auto unknown = parse_server_properties("# c\n! c\n\tlog.dirz: /x\n", "s.p");
  REQUIRE(!unknown.ok());
  CHECK(unknown.error().to_string() == "s.p:3:2: Unknown configuration 'log.dirz'");
}

TEST_CASE("properties text: java.util.Properties separators, continuations and escapes",
          "[broker][config]") {
  auto kv = parse_properties(
      "a=1\nb : 2\nc 3\nd=x\\\n    y\\\\\ne\\=f=g\\u0041\\t\n  # no\n!no\nh\n", "p");
  REQUIRE(kv.ok());
  const std::vector<std::pair<std::string, std::string>> want = {
      {"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "xy\\"}, {"e=f", "gA\t"}, {"h", ""}};
  CHECK(*kv == want);
  auto bad = parse_properties("ok=1\nk=\\u00zz\n", "p");
  REQUIRE(!bad.ok());
  CHECK(bad.error().line == 2);
}

TEST_CASE("topic config: broker defaults through Kafka's synonyms, overrides by name",
          "[broker][config]") {
  const BrokerConfig b = make({{"log.retention.hours", "1"},
                               {"min.insync.replicas", "2"},
                               {"log.flush.interval.messages", "1"}});
  auto t = make_topic_config(b, {{"retention.ms", "1000"}, {"unclean.leader.election.enable", "true"}});
  REQUIRE(t.ok());
  CHECK(t->retention_ms == 1000);
  CHECK(t->min_insync_replicas == 2);
  CHECK(t->flush_messages == 1);
  CHECK(t->unclean_leader_election_enable);
  CHECK(t->log_config().retention_ms == 1000);
  CHECK(t->log_config().flush_messages == 1);
  CHECK(topic_defaults(b).retention_ms == 3600000);
  const auto described = describe_topic_config(*t);
  const auto ret = std::find_if(described.begin(), described.end(),
                                [](const auto& v) { return v.name == "retention.ms"; });
  REQUIRE(ret != described.end());
  CHECK(ret->value == "1000");
  CHECK_FALSE(ret->is_default);
  CHECK(broker_synonym("retention.ms") == "log.retention.ms");
  CHECK(broker_synonym("max.message.bytes") == "message.max.bytes");

  auto unknown = make_topic_config(b, {{"retention.mins", "1"}});
  REQUIRE(!unknown.ok());
  CHECK(unknown.error().key == "retention.mins");
  CHECK(unknown.error().message == "Unknown topic config name: retention.mins");
  auto bad = make_topic_config(b, {{"min.insync.replicas", "0"}});
  REQUIRE(!bad.ok());
  CHECK(bad.error().message ==
        "Invalid value 0 for configuration min.insync.replicas: Value must be at least 1");
}

TEST_CASE("config documentation: every broker and topic key samsa models has its doc string",
          "[broker][config]") {
  auto c = make_broker_config({});
  REQUIRE(c.ok());
  for (const auto& v : describe_broker_config(*c)) {
    INFO(v.name);
    const auto d = config_documentation(ConfigDocKind::broker, v.name);
    REQUIRE(d);
    CHECK(d->size() > 20);
  }
  for (const auto& v : describe_topic_config(TopicConfig{})) {
    INFO(v.name);
    const auto d = config_documentation(ConfigDocKind::topic, v.name);
    REQUIRE(d);
    CHECK(d->size() > 20);
  }
  CHECK_FALSE(config_documentation(ConfigDocKind::broker, "no.such.key"));
  CHECK_FALSE(config_documentation(ConfigDocKind::topic, "log.dirs"));  // a broker key only
}
