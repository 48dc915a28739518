// Kafka's znode JSON (system/coord/kafka_layout.cpp): every layout the
// coordinator writes reads back to what was written; malformed values
// (truncated, wrong types, missing fields, out of range) are errors.
#include <catch2/catch.hpp>
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <limits>

#include "system/coord/kafka_layout.h"

using namespace samsa;
using namespace samsa::coord;

namespace {

template <class T>
std::string error_of(const Result<T, kafka::ZnodeError>& r) {
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

// Every strict prefix of a value is an error (a torn or truncated znode).
template <class Parse>
void every_prefix_fails(const std::string& json, Parse parse) {
  for (std::size_t n = 0; n < json.size(); ++n) {
    INFO(json.substr(0, n));
    CHECK_FALSE(parse(std::string_view(json).substr(0, n)).ok());
  }
}

}  // namespace

TEST_CASE("znode JSON: every layout round-trips", "[coord][kafka]") {
  rc::prop("partition state", [](std::int32_t ce, std::int32_t leader, std::int32_t le, std::vector<std::int32_t> isr) {
    const kafka::PartitionState s{ce, leader, le, isr};
    auto back = kafka::parse_partition_state(kafka::partition_state_json(s));
    RC_ASSERT(back.ok());
    RC_ASSERT(*back == s);
  });
  rc::prop("controller", [](std::int32_t id, std::int64_t ts) {
    auto back = kafka::parse_controller(kafka::controller_json(id, ts));
    RC_ASSERT(back.ok());
    RC_ASSERT(back->broker_id == id);
    RC_ASSERT(back->timestamp_ms == ts);
    RC_ASSERT(kafka::json_int_field(kafka::controller_json(id, ts), "brokerid") == std::optional<std::int64_t>(id));
  });
  rc::prop("broker registration", [](std::uint16_t port, std::int64_t ts) {
    const std::string host = *rc::gen::container<std::string>(rc::gen::elementOf(std::string("abc.-0\"\\")));
    auto back = kafka::parse_broker(kafka::broker_json(host, port, ts));
    RC_ASSERT(back.ok());
    RC_ASSERT(back->host == host);
    RC_ASSERT(back->port == port);
    RC_ASSERT(back->timestamp_ms == ts);
    RC_ASSERT(back->version == 4);
    RC_ASSERT(back->endpoints == std::vector<std::string>{"PLAINTEXT://" + host + ":" + std::to_string(port)});
  });
  rc::prop("topic assignment", [](std::map<std::uint16_t, std::vector<std::int32_t>> raw) {
    kafka::TopicAssignment a;
    for (auto& [p, r] : raw) a[p] = r;
    auto back = kafka::parse_topic_assignment(kafka::topic_assignment_json(a));
    RC_ASSERT(back.ok());
    RC_ASSERT(*back == a);
  });
  rc::prop("producer id block", [](std::int32_t broker, std::int64_t start) {
    const std::int64_t end = start + *rc::gen::inRange<std::int64_t>(0, 1000000);
    RC_PRE(end >= start);
    auto back = kafka::parse_producer_id_block(kafka::producer_id_block_json(broker, start, end));
    RC_ASSERT(back.ok());
    RC_ASSERT(*back == (kafka::ProducerIdBlock{broker, start, end}));
  });
}

TEST_CASE("znode JSON: keys come in Kafka's order", "[coord][kafka]") {
  CHECK(kafka::partition_state_json({0, -1, 0, {}}) ==
        R"({"controller_epoch":0,"leader":-1,"version":1,"leader_epoch":0,"isr":[]})");
  CHECK(kafka::topic_assignment_json({}) == R"({"version":1,"partitions":{}})");
  // Kafka writes a broker's host verbatim; JSON escapes what needs escaping.
  CHECK(kafka::broker_json("a\"b", 1, 2) ==
        R"({"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://a\"b:1"],"jmx_port":-1,"host":"a\"b","timestamp":"2","port":1,"version":4})");
  // Partitions of a topic in numeric order (the map's), as Kafka writes them.
  CHECK(kafka::topic_assignment_json({{10, {1}}, {2, {2}}}) == R"({"version":1,"partitions":{"2":[2],"10":[1]}})");
}

TEST_CASE("znode JSON: truncated values are errors", "[coord][kafka]") {
  every_prefix_fails(kafka::partition_state_json({4, 2, 7, {2, 3}}), kafka::parse_partition_state);
  every_prefix_fails(kafka::controller_json(3, 1700000000000), kafka::parse_controller);
  every_prefix_fails(kafka::broker_json("b1", 9092, 5), kafka::parse_broker);
  every_prefix_fails(kafka::topic_assignment_json({{0, {1, 2}}, {1, {2, 3}}}), kafka::parse_topic_assignment);
  every_prefix_fails(kafka::producer_id_block_json(1, 0, 999), kafka::parse_producer_id_block);
}

TEST_CASE("znode JSON: wrong types, missing fields and out-of-range numbers are errors", "[coord][kafka]") {
  using kafka::parse_partition_state;
  CHECK(error_of(parse_partition_state("")) == "partition state: not valid JSON");
  CHECK(error_of(parse_partition_state("[1,2]")) == "partition state: not a JSON object");
  CHECK(error_of(parse_partition_state(R"({"leader":1})")) == "partition state: no field \"controller_epoch\"");
  CHECK(error_of(parse_partition_state(R"({"controller_epoch":1,"leader":"2","leader_epoch":0,"isr":[]})")) ==
        "partition state: \"leader\": expected an integer in range");
  CHECK(error_of(parse_partition_state(R"({"controller_epoch":1,"leader":2.5,"leader_epoch":0,"isr":[]})")) ==
        "partition state: \"leader\": expected an integer in range");
  CHECK(error_of(parse_partition_state(R"({"controller_epoch":1,"leader":4294967297,"leader_epoch":0,"isr":[]})")) ==
        "partition state: \"leader\": expected an integer in range");
  CHECK(error_of(parse_partition_state(R"({"controller_epoch":1,"leader":2,"leader_epoch":0,"isr":[1,"x"]})")) ==
        "partition state: \"isr\": expected an array of int32");
  CHECK(error_of(parse_partition_state(R"({"controller_epoch":1,"leader":2,"leader_epoch":0,"isr":{}})")) ==
        "partition state: \"isr\": expected an array of int32");
  CHECK(error_of(parse_partition_state(R"({"controller_epoch":1,"leader":2,"leader_epoch":0})")) ==
        "partition state: no field \"isr\"");
  // The old string search read a number out of a nested object or a string.
  CHECK_FALSE(parse_partition_state(R"({"x":{"leader":1},"controller_epoch":1,"leader_epoch":0,"isr":[]})").ok());
  CHECK_FALSE(kafka::json_int_field(R"({"note":"\"brokerid\":7"})", "brokerid").has_value());
  CHECK_FALSE(kafka::json_int_field(R"({"brokerid":"7x"})", "brokerid").has_value());
  CHECK_FALSE(kafka::json_int_field("{\"brokerid\":", "brokerid").has_value());

  CHECK(error_of(kafka::parse_controller(R"({"version":1,"brokerid":3,"timestamp":17})")) ==
        "controller: \"timestamp\": expected a number in a string");
  CHECK(error_of(kafka::parse_controller(R"({"version":1,"timestamp":"17"})")) == "controller: no field \"brokerid\"");
  CHECK(error_of(kafka::parse_broker(R"({"host":"h","port":70000,"timestamp":"1","version":4,"endpoints":[]})")) ==
        "broker registration: \"port\": expected an integer in range");
  CHECK(error_of(kafka::parse_broker(R"({"host":"h","port":1,"timestamp":"1","version":4,"endpoints":[3]})")) ==
        "broker registration: \"endpoints\": expected an array of strings");
  CHECK(error_of(kafka::parse_topic_assignment(R"({"version":1,"partitions":{"a":[1]}})")) ==
        "topic assignment: partition key \"a\" is not a partition number");
  CHECK(error_of(kafka::parse_topic_assignment(R"({"version":1,"partitions":{"0":1}})")) ==
        "topic assignment: \"partitions.0\": expected an array of int32");
  CHECK(error_of(kafka::parse_producer_id_block(R"({"version":1,"broker":1,"block_start":"9","block_end":"1"})")) ==
        "producer id block: block_start after block_end");
  CHECK(error_of(kafka::parse_producer_id_block(R"({"version":1,"broker":1,"block_start":"","block_end":"1"})")) ==
        "producer id block: \"block_start\": expected a number in a string");
}

TEST_CASE("znode JSON: random bytes never crash the readers", "[coord][kafka]") {
  rc::prop("arbitrary text parses to a value or an error", [](const std::string& text) {
    (void)kafka::parse_partition_state(text);
    (void)kafka::parse_controller(text);
    (void)kafka::parse_broker(text);
    (void)kafka::parse_topic_assignment(text);
    (void)kafka::parse_producer_id_block(text);
    (void)kafka::json_int_field(text, "brokerid");
  });
}
