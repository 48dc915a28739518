// server.properties for `samsa live broker` (tools/live_config.cpp): Kafka's
// keys through the broker's own validators, FILE:LINE on every error,
// warnings for unknown keys, listeners / advertised.listeners as Kafka
// derives them, zookeeper.connect.
#include <catch2/catch.hpp>

#include "tools/live_config.h"

using namespace samsa;
using namespace samsa::tools;

namespace {

ConfigFile file_of(std::vector<std::pair<std::string, std::string>> kv) {
  ConfigFile f{"server.properties", {}};
  int line = 1;
  for (auto& [k, v] : kv) f.entries.push_back({k, v, line++});
  return f;
}

std::vector<std::pair<std::string, std::string>> base() {
  return {{"broker.id", "2"}, {"log.dirs", "/var/lib/samsa/b2"}, {"zookeeper.connect", "zk1:2181,zk2"}};
}

}  // namespace

TEST_CASE("a minimal server.properties: identity, log dir, coordinators, Kafka's defaults", "[tools]") {
  auto p = parse_broker(file_of(base()), "myhost");
  REQUIRE(p);
  const auto& s = p->settings;
  CHECK(s.config.broker_id == 2);
  CHECK(s.log_dir == "/var/lib/samsa/b2");
  CHECK(s.config.log_dir.empty());  // partition dirs sit right in the node's disk root
  REQUIRE(s.coordinators.size() == 2);
  CHECK(s.coordinators[0] == sim::Address{"zk1", 2181});
  CHECK(s.coordinators[1] == sim::Address{"zk2", 2181});
  // No listeners: Kafka's PLAINTEXT://:9092, every interface, the host name advertised.
  CHECK(s.bind_host == "0.0.0.0");
  CHECK(s.port == 9092);
  CHECK(s.advertised_host == "myhost");
  CHECK(s.advertised_port == std::optional<std::uint16_t>(9092));
  CHECK(s.config.num_partitions == 1);
  CHECK(p->warnings.empty());
}

TEST_CASE("advertised.listeners defaults to listeners; port 0 advertises the bound port", "[tools]") {
  auto kv = base();
  kv.push_back({"listeners", "PLAINTEXT://127.0.0.1:0"});
  auto p = parse_broker(file_of(kv), "myhost");
  REQUIRE(p);
  CHECK(p->settings.bind_host == "127.0.0.1");
  CHECK(p->settings.port == 0);
  CHECK(p->settings.advertised_host == "127.0.0.1");
  CHECK_FALSE(p->settings.advertised_port);
  kv.back() = {"listeners", "PLAINTEXT://0.0.0.0:9093"};
  kv.push_back({"advertised.listeners", "PLAINTEXT://broker2.example:19093"});
  p = parse_broker(file_of(kv), "myhost");
  REQUIRE(p);
  CHECK(p->settings.bind_host == "0.0.0.0");
  CHECK(p->settings.port == 9093);
  CHECK(p->settings.advertised_host == "broker2.example");
  CHECK(p->settings.advertised_port == std::optional<std::uint16_t>(19093));
}

TEST_CASE("Kafka's keys are validated by the broker's rules, errors name FILE:LINE", "[tools]") {
  auto kv = base();
  kv.push_back({"min.insync.replicas", "2"});
  kv.push_back({"log.flush.interval.messages", "1"});
  auto p = parse_broker(file_of(kv), "h");
  REQUIRE(p);
  CHECK(p->settings.config.min_insync_replicas == 2);
  CHECK(p->settings.config.log_flush_interval_messages == 1);

  kv.push_back({"num.partitions", "many"});  // line 6
  p = parse_broker(file_of(kv), "h");
  REQUIRE_FALSE(p);
  CHECK(p.error().starts_with("server.properties:6: Invalid value many for configuration num.partitions"));

  kv.back() = {"min.insync.replicas", "0"};
  p = parse_broker(file_of(kv), "h");
  REQUIRE_FALSE(p);
  CHECK(p.error().starts_with("server.properties:6: "));
  CHECK(p.error().find("at least 1") != std::string::npos);
}

TEST_CASE("unknown keys warn with FILE:LINE and are ignored", "[tools]") {
  auto kv = base();
  kv.push_back({"confluent.support.metrics.enable", "false"});
  auto p = parse_broker(file_of(kv), "h");
  REQUIRE(p);
  REQUIRE(p->warnings.size() == 1);
  CHECK(p->warnings[0] == "server.properties:4: unknown key 'confluent.support.metrics.enable'; ignored");
}

TEST_CASE("max.connections, max.connections.per.ip and its overrides, with Kafka's rules",
          "[tools]") {
  auto p = parse_broker(file_of(base()), "h");
  REQUIRE(p);
  CHECK(p->settings.connection_limits.max_connections == sim::ConnectionLimits::k_unlimited);
  CHECK(p->settings.connection_limits.limit_for("10.0.0.1") == sim::ConnectionLimits::k_unlimited);

  auto kv = base();
  kv.push_back({"max.connections", "100"});
  kv.push_back({"max.connections.per.ip", "10"});
  kv.push_back({"max.connections.per.ip.overrides", "127.0.0.1:2, ::1:3 ,localhost:4"});
  p = parse_broker(file_of(kv), "h");
  REQUIRE(p);
  CHECK(p->warnings.empty());
  const auto& l = p->settings.connection_limits;
  CHECK(l.max_connections == 100);
  CHECK(l.limit_for("10.0.0.1") == 10);
  CHECK(l.limit_for("127.0.0.1") == 4);  // localhost, later in the list, resolves to it
  CHECK(l.per_ip_overrides.count("::1") == 1);

  kv = base();
  kv.push_back({"max.connections.per.ip", "-1"});  // line 4
  p = parse_broker(file_of(kv), "h");
  REQUIRE_FALSE(p);
  CHECK(p.error() == "server.properties:4: invalid value -1 for configuration max.connections.per.ip: "
                     "value must be at least 0");

  kv.back() = {"max.connections.per.ip", "0"};
  p = parse_broker(file_of(kv), "h");
  REQUIRE_FALSE(p);
  CHECK(p.error().find("can be set to zero only if max.connections.per.ip.overrides") !=
        std::string::npos);

  kv.push_back({"max.connections.per.ip.overrides", "127.0.0.1:5"});
  p = parse_broker(file_of(kv), "h");
  REQUIRE(p);
  CHECK(p->settings.connection_limits.limit_for("127.0.0.1") == 5);
  CHECK(p->settings.connection_limits.limit_for("10.0.0.1") == 0);

  kv.back() = {"max.connections.per.ip.overrides", "nocount"};  // line 5
  p = parse_broker(file_of(kv), "h");
  REQUIRE_FALSE(p);
  CHECK(p.error().starts_with("server.properties:5: bad value for max.connections.per.ip.overrides"));
}

TEST_CASE("listeners, zookeeper.connect, broker.id and log.dirs errors", "[tools]") {
  auto with = [](std::string k, std::string v) {
    auto kv = base();
    kv.push_back({std::move(k), std::move(v)});
    return parse_broker(file_of(kv), "h");
  };
  CHECK(with("listeners", "SSL://:9093").error().starts_with("server.properties:4: bad value for listeners"));
  CHECK(with("listeners", "PLAINTEXT://a:1,PLAINTEXT://b:2").error().find("one listener") != std::string::npos);
  CHECK(with("listeners", "PLAINTEXT://host").error().find("no port") != std::string::npos);
  CHECK(with("listeners", "PLAINTEXT://host:70000").error().find("not a port") != std::string::npos);
  CHECK(with("advertised.listeners", "PLAINTEXT://0.0.0.0:9092").error().find("nonroutable") != std::string::npos);
  CHECK(with("zookeeper.connect", "zk:2181/kafka").error().starts_with("server.properties:4: bad value for zookeeper.connect"));
  CHECK(with("zookeeper.connect", "zk:0").error().find("no port") != std::string::npos);
  CHECK(with("broker.id", "-1").error().starts_with("server.properties:4: broker.id must be set"));
  auto two_dirs = with("log.dirs", "/a,/b");
  REQUIRE(two_dirs);
  CHECK(two_dirs->settings.log_dir == "/a");
  CHECK(two_dirs->warnings.size() == 1);

  auto kv = base();
  kv.erase(kv.begin());  // no broker.id
  CHECK(parse_broker(file_of(kv), "h").error() ==
        "server.properties: broker.id must be set to 0 or more (samsa does not generate broker ids)");
  kv = base();
  kv.pop_back();  // no zookeeper.connect
  CHECK(parse_broker(file_of(kv), "h").error() == "server.properties: zookeeper.connect is not set");
}

TEST_CASE("IPv6 listener hosts are written in brackets", "[tools]") {
  auto l = parse_listener("PLAINTEXT://[::1]:9092");
  REQUIRE(l);
  CHECK(l->host == "::1");
  CHECK(l->port == 9092);
}
