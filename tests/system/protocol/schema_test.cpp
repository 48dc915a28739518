#include <catch2/catch.hpp>

#include "system/protocol/api.h"

using namespace samsa;
using namespace samsa::protocol;

namespace {

Bytes encode_body(const MessageSpec& spec, std::int16_t version, const Value& v) {
  Bytes out;
  Writer w(out);
  encode_message(spec, version, v, w);
  return out;
}

Result<Value, DecodeError> decode_body(const MessageSpec& spec, std::int16_t version, const Bytes& b) {
  Reader r(b);
  return decode_message(spec, version, r);
}

const auto& k_av = k_api_versions_response;

}  // namespace

TEST_CASE("tagged fields are written only when set, in tag order", "[protocol][schema]") {
  Value body = default_struct(k_av.fields, 3);
  const Bytes plain = encode_body(k_av, 3, body);
  // ErrorCode, empty compact ApiKeys, ThrottleTimeMs, no tagged fields.
  CHECK(plain == Bytes{0, 0, 1, 0, 0, 0, 0, 0});

  field(k_av.fields, body, "ZkMigrationReady") = Value::boolean(true);          // tag 3
  field(k_av.fields, body, "FinalizedFeaturesEpoch") = Value::integer(7);       // tag 1
  const Bytes tagged = encode_body(k_av, 3, body);
  CHECK(tagged == Bytes{0, 0, 1, 0, 0, 0, 0,
                        2,                             // two tagged fields
                        1, 8, 0, 0, 0, 0, 0, 0, 0, 7,  // tag 1, 8 bytes
                        3, 1, 1});                     // tag 3, 1 byte
  auto back = decode_body(k_av, 3, tagged);
  REQUIRE(back.ok());
  CHECK(*back == body);
  // Not tagged below the first flexible version: the field does not exist.
  CHECK(encode_body(k_av, 2, body) == Bytes{0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
}

TEST_CASE("unknown tags survive, misordered or oversized tags are errors", "[protocol][schema]") {
  const Bytes unknown{0, 0, 1, 0, 0, 0, 0, 1, 9, 2, 0xab, 0xcd};
  auto v = decode_body(k_av, 3, unknown);
  REQUIRE(v.ok());
  REQUIRE(v->unknown_tags_.size() == 1);
  CHECK(v->unknown_tags_[0] == UnknownTag{9, {0xab, 0xcd}});
  CHECK(encode_body(k_av, 3, *v) == unknown);

  const Bytes misordered{0, 0, 1, 0, 0, 0, 0, 2, 3, 1, 1, 1, 8, 0, 0, 0, 0, 0, 0, 0, 7};
  auto e = decode_body(k_av, 3, misordered);
  REQUIRE_FALSE(e.ok());
  CHECK(describe(e.error()) == "byte 11: tagged fields out of order: tag 1 after 3");

  // Tag 3 is a bool (1 byte) but claims 2 bytes.
  const Bytes oversized{0, 0, 1, 0, 0, 0, 0, 1, 3, 2, 1, 1};
  auto o = decode_body(k_av, 3, oversized);
  REQUIRE_FALSE(o.ok());
  CHECK(o.error().offset == 11);
}

TEST_CASE("null where the schema forbids it is an error with a field path", "[protocol][schema]") {
  // Metadata v9 response: Brokers[0].Host is a non-nullable compact string.
  const Bytes b{0, 0, 0, 0,  // ThrottleTimeMs
                2,           // one broker
                0, 0, 0, 1,  // NodeId
                0};          // Host: compact null
  auto e = decode_body(k_metadata_response, 9, b);
  REQUIRE_FALSE(e.ok());
  CHECK(describe(e.error()) == "byte 9: Brokers[0].Host: null string where not nullable");
}

TEST_CASE("fields outside their versions are neither read nor written", "[protocol][schema]") {
  // Metadata request v4 adds AllowAutoTopicCreation; v3 must not carry it.
  Value v4 = default_struct(k_metadata_request.fields, 4);
  CHECK(v4.items_[field_index(k_metadata_request.fields, "AllowAutoTopicCreation")] == Value::boolean(true));
  Value v3 = default_struct(k_metadata_request.fields, 3);
  CHECK(v3.items_[field_index(k_metadata_request.fields, "AllowAutoTopicCreation")].is_absent());
  CHECK(encode_body(k_metadata_request, 3, v4).size() + 1 == encode_body(k_metadata_request, 4, v4).size());
}

TEST_CASE("JSON uses Kafka's field names and escapes what it must", "[protocol][schema]") {
  Value body = default_struct(k_find_coordinator_response.fields, 1);
  field(k_find_coordinator_response.fields, body, "Host") = Value::string("h\"\x01\xff");
  field(k_find_coordinator_response.fields, body, "NodeId") = Value::integer(3);
  CHECK(message_to_json(k_find_coordinator_response, body) ==
        "{\n"
        "  \"ThrottleTimeMs\": 0,\n"
        "  \"ErrorCode\": 0,\n"
        "  \"ErrorMessage\": \"\",\n"
        "  \"NodeId\": 3,\n"
        "  \"Host\": \"h\\\"\\u0001\\u00ff\",\n"
        "  \"Port\": 0\n"
        "}");
  CHECK(uuid_to_string(Uuid{}) == "AAAAAAAAAAAAAAAAAAAAAA");
  Uuid u{};
  u[15] = 1;
  CHECK(uuid_to_string(u) == "AAAAAAAAAAAAAAAAAAAAAQ");
}

TEST_CASE("StructView reads fields by Kafka name", "[protocol][schema]") {
  Value body = default_struct(k_find_coordinator_response.fields, 2);
  field(k_find_coordinator_response.fields, body, "Port") = Value::integer(9092);
  const StructView view(k_find_coordinator_response.fields, body);
  CHECK(view.int_or("Port", 0) == 9092);
  CHECK(view.str_or("Host", "x").empty());
  CHECK(view.str_or("ErrorMessage", "none").empty());  // Kafka's default: "", not null
  field(k_find_coordinator_response.fields, body, "ErrorMessage") = Value::null();
  CHECK(view.str_or("ErrorMessage", "none") == "none");
}
