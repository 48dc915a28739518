#include <catch2/catch.hpp>

#include <map>

#include "system/protocol/api.h"

using namespace samsa;
using namespace samsa::protocol;

TEST_CASE("the api table is sorted, consistent and covers what real clients need", "[protocol][api]") {
  std::int16_t last = -1;
  for (const ApiSpec& api : supported_apis()) {
    INFO(api.name);
    CHECK(static_cast<std::int16_t>(api.key) > last);
    last = static_cast<std::int16_t>(api.key);
    CHECK(api.min_version <= api.max_version);
    CHECK(api.request->name == std::string(api.name) + "Request");
    CHECK(api.response->name == std::string(api.name) + "Response");
    CHECK(api.request->flexible.lo == api.response->flexible.lo);
    CHECK(find_api(static_cast<std::int16_t>(api.key)) == &api);
    CHECK(find_api(api.name) == &api);
  }
  // The ranges the brief asks for (librdkafka 2.0.2, kafka-python 2.0.2).
  const std::map<std::string, std::pair<int, int>> needed = {
      {"ApiVersions", {0, 3}}, {"Metadata", {0, 12}}, {"Produce", {3, 9}}, {"Fetch", {4, 13}},
      {"ListOffsets", {0, 7}}, {"FindCoordinator", {0, 4}}, {"JoinGroup", {0, 9}}, {"SyncGroup", {0, 5}},
      {"Heartbeat", {0, 4}}, {"LeaveGroup", {0, 5}}, {"OffsetCommit", {0, 8}}, {"OffsetFetch", {0, 8}},
      {"DescribeGroups", {0, 5}}, {"ListGroups", {0, 4}}, {"InitProducerId", {0, 4}},
      {"CreateTopics", {0, 7}}, {"DeleteTopics", {0, 6}}};
  for (const auto& [name, range] : needed) {
    const ApiSpec* api = find_api(name);
    REQUIRE(api != nullptr);
    CHECK(api->min_version <= range.first);
    CHECK(api->max_version >= range.second);
  }
  CHECK(find_api(std::int16_t{99}) == nullptr);
  CHECK(find_api("metadata") == find_api("Metadata"));
}

TEST_CASE("header versions follow Kafka, with its two special cases", "[protocol][api]") {
  CHECK(request_header_version(ApiKey::api_versions, 3) == 2);
  CHECK(response_header_version(ApiKey::api_versions, 3) == 0);  // always v0
  CHECK(request_header_version(ApiKey::metadata, 8) == 1);
  CHECK(response_header_version(ApiKey::metadata, 8) == 0);
  CHECK(request_header_version(ApiKey::metadata, 9) == 2);
  CHECK(response_header_version(ApiKey::metadata, 9) == 1);
  CHECK(request_header_version(ApiKey::controlled_shutdown, 0) == 0);  // no client id
  CHECK(request_header_version(ApiKey::controlled_shutdown, 1) == 1);
}

TEST_CASE("a Metadata v0 request is byte for byte what Kafka writes", "[protocol][api]") {
  const auto& spec = k_metadata_request;
  Value body = default_struct(spec.fields, 0);
  Value topic = default_struct(spec.fields[field_index(spec.fields, "Topics")].fields, 0);
  field(spec.fields[0].fields, topic, "Name") = Value::string("a");
  field(spec.fields, body, "Topics") = Value::array({topic});
  const Bytes frame = encode_request(RequestHeader{ApiKey::metadata, 0, 7, "cli", {}}, body);
  const Bytes expected{0, 0, 0, 20, 0, 3, 0, 0, 0, 0, 0, 7, 0, 3, 'c', 'l', 'i', 0, 0, 0, 1, 0, 1, 'a'};
  CHECK(frame == expected);
}

TEST_CASE("request header v2 keeps a classic client id, then tagged fields", "[protocol][api]") {
  const Value body = default_struct(k_api_versions_request.fields, 3);
  const Bytes frame = encode_request(RequestHeader{ApiKey::api_versions, 3, 1, "ab", {}}, body);
  // size | key 18 | version 3 | correlation 1 | int16 length 2 "ab" | no tags |
  // compact "" "" | no tags
  const Bytes expected{0, 0, 0, 16, 0, 18, 0, 3, 0, 0, 0, 1, 0, 2, 'a', 'b', 0, 1, 1, 0};
  CHECK(frame == expected);
  auto back = decode_request(frame);
  REQUIRE(back.ok());
  CHECK(back->header.client_id == "ab");
}

TEST_CASE("bad frames are errors with the offset of the problem", "[protocol][api]") {
  const Value body = default_struct(k_metadata_request.fields, 1);
  Bytes frame = encode_request(RequestHeader{ApiKey::metadata, 1, 1, "c", {}}, body);

  Bytes wrong_size = frame;
  wrong_size[3] += 1;
  CHECK(decode_request(wrong_size).error().offset == 0);

  Bytes unknown_key = frame;
  unknown_key[5] = 99;
  CHECK(describe(decode_request(unknown_key).error()) == "byte 4: unsupported api key 99");

  Bytes bad_version = frame;
  bad_version[7] = 77;
  CHECK(describe(decode_request(bad_version).error()) == "byte 6: unsupported version 77 of Metadata");

  Bytes trailing = frame;
  trailing.push_back(0);
  trailing[3] += 1;
  CHECK(describe(decode_request(trailing).error()) == "byte " + std::to_string(frame.size()) +
                                                          ": 1 bytes after the end of the message");

  Bytes cut = frame;
  cut.pop_back();
  cut[3] -= 1;
  auto e = decode_request(cut);
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().path == "body.Topics");
}

TEST_CASE("an ApiVersions error answer written at v0 is accepted for any version asked", "[protocol][api]") {
  Value body = default_struct(k_api_versions_response.fields, 0);
  field(k_api_versions_response.fields, body, "ErrorCode") = Value::integer(35);
  Value entry = default_struct(k_api_versions_response.fields[1].fields, 0);
  field(k_api_versions_response.fields[1].fields, entry, "ApiKey") = Value::integer(18);
  field(k_api_versions_response.fields[1].fields, entry, "MaxVersion") = Value::integer(2);
  field(k_api_versions_response.fields, body, "ApiKeys") = Value::array({entry});
  const Bytes frame = encode_response(ApiKey::api_versions, 0, 5, body);
  auto resp = decode_response(frame, ApiKey::api_versions, 3);
  REQUIRE(resp.ok());
  CHECK(resp->version == 0);
  CHECK(resp->body == body);
}

TEST_CASE("ApiVersions answers from the api table at every version", "[protocol][api]") {
  for (std::int16_t v = 0; v <= 3; ++v) {
    const Bytes frame = encode_response(ApiKey::api_versions, v, 1, api_versions_body(v));
    auto resp = decode_response(frame, ApiKey::api_versions, v);
    REQUIRE(resp.ok());
    const StructView body(k_api_versions_response.fields, resp->body);
    REQUIRE(body.size("ApiKeys") == supported_apis().size());
    for (std::size_t i = 0; i < supported_apis().size(); ++i) {
      const ApiSpec& api = supported_apis()[i];
      CHECK(body.at("ApiKeys", i).int_or("ApiKey", -1) == static_cast<std::int16_t>(api.key));
      CHECK(body.at("ApiKeys", i).int_or("MinVersion", -1) == api.min_version);
      CHECK(body.at("ApiKeys", i).int_or("MaxVersion", -1) == api.max_version);
    }
  }
}

TEST_CASE("a request at an unknown version still yields its ids for the error answer", "[protocol][api]") {
  // ApiVersions v4 (unknown here): key 18, version 4, correlation 9, client "c".
  const Bytes frame{0, 0, 0, 12, 0, 18, 0, 4, 0, 0, 0, 9, 0, 1, 'c', 0};
  REQUIRE_FALSE(decode_request(frame).ok());
  auto ids = peek_request_ids(frame);
  REQUIRE(ids.ok());
  CHECK(ids->api_key == 18);
  CHECK(ids->api_version == 4);
  CHECK(ids->correlation_id == 9);
  // The answer: v0 body with UNSUPPORTED_VERSION, which a v4 client reads back.
  const Bytes answer = encode_response(ApiKey::api_versions, 0, ids->correlation_id, api_versions_body(0, 35));
  auto resp = decode_response(answer, ApiKey::api_versions, 3);
  REQUIRE(resp.ok());
  CHECK(resp->version == 0);
  CHECK(resp->correlation_id == 9);
}
