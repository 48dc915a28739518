// The typed messages (generated typed_messages.h) against the generic schema
// engine they share a table with: for every api, version and direction,
// random messages from the generic generators encode to the same bytes
// through both engines and decode back to equal values.
#include <catch2/catch.hpp>
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <type_traits>

#include "system/protocol/typed_messages.h"
#include "tests/system/protocol/message_gen.h"

using namespace samsa;
using namespace samsa::protocol;
using namespace samsa::protocol::test_gen;

// Kafka's ids come out as strong types, error codes as ErrorCode.
static_assert(std::is_same_v<decltype(MetadataResponse::MetadataResponsePartition::leader_id), BrokerId>);
static_assert(std::is_same_v<decltype(MetadataResponse::MetadataResponsePartition::leader_epoch), LeaderEpoch>);
static_assert(std::is_same_v<decltype(MetadataResponse::MetadataResponsePartition::partition_index), PartitionId>);
static_assert(std::is_same_v<decltype(MetadataResponse::MetadataResponsePartition::replica_nodes), std::vector<BrokerId>>);
static_assert(std::is_same_v<decltype(MetadataResponse::MetadataResponsePartition::error_code), ErrorCode>);
static_assert(std::is_same_v<decltype(ProduceRequest::PartitionProduceData::index), PartitionId>);
static_assert(std::is_same_v<decltype(ProduceRequest::PartitionProduceData::records), std::optional<Records>>);
static_assert(std::is_same_v<decltype(ProduceResponse::PartitionProduceResponse::base_offset), Offset>);
static_assert(std::is_same_v<decltype(FetchRequest::FetchPartition::current_leader_epoch), LeaderEpoch>);
static_assert(std::is_same_v<decltype(FetchRequest::FetchPartition::fetch_offset), Offset>);
static_assert(std::is_same_v<decltype(FetchRequest::replica_id), BrokerId>);
static_assert(std::is_same_v<decltype(FetchResponse::PartitionData::high_watermark), Offset>);
static_assert(std::is_same_v<decltype(FetchResponse::PartitionData::diverging_epoch),
                             std::optional<FetchResponse::EpochEndOffset>>);
static_assert(std::is_same_v<decltype(InitProducerIdResponse::producer_id), ProducerId>);
static_assert(std::is_same_v<decltype(InitProducerIdResponse::producer_epoch), ProducerEpoch>);
static_assert(std::is_same_v<decltype(LeaderAndIsrRequest::controller_epoch), ControllerEpoch>);
static_assert(std::is_same_v<decltype(LeaderAndIsrRequest::broker_epoch), BrokerEpoch>);
static_assert(std::is_same_v<decltype(JoinGroupResponse::generation_id), GenerationId>);
static_assert(std::is_same_v<decltype(FetchRequest::cluster_id), std::optional<std::optional<std::string>>>);
static_assert(FetchRequest::k_api_key == ApiKey::fetch && FetchRequest::k_is_request);
static_assert(!FetchResponse::k_is_request);

namespace {

Bytes generic_body(const MessageSpec& spec, std::int16_t v, const Value& value) {
  Bytes out;
  Writer w(out);
  encode_message(spec, v, value, w);
  return out;
}

template <class Any>
Bytes typed_body(const Any& m, std::int16_t v) {
  Bytes out;
  Writer w(out);
  std::visit([&](const auto& x) { x.encode(w, v); }, m);
  return out;
}

// One direction of one (api, version): generic bytes -> typed -> the same
// bytes; typed -> bytes -> an equal typed value; generic reads the typed
// bytes back to the value it started from.
template <class Decode>
void check_engines_agree(const ApiSpec& api, std::int16_t v, const MessageSpec& spec, Decode decode_any) {
  const Value value = gen_body(spec, v);
  const Bytes bytes = generic_body(spec, v, value);
  Reader r(bytes);
  auto typed = decode_any(api.key, v, r);
  if (!typed) RC_FAIL(std::string(spec.name) + " v" + std::to_string(v) + ": " + describe(typed.error()));
  require(r.at_end(), api, v, "typed decode left bytes");
  const Bytes again = typed_body(*typed, v);
  require(again == bytes, api, v, "typed encode differs from the generic engine's bytes");
  Reader r2(again);
  auto typed2 = decode_any(api.key, v, r2);
  require(typed2.ok() && *typed2 == *typed, api, v, "typed decode(encode(m)) differs from m");
  Reader r3(again);
  auto generic = decode_message(spec, v, r3);
  require(generic.ok() && *generic == value, api, v, "generic decode of typed bytes differs");
}

}  // namespace

TEST_CASE("typed and generic engines write the same bytes for every api, version and direction",
          "[protocol][typed]") {
  rc::prop("requests: generic bytes decode typed and re-encode identically", [] {
    for (auto [api, v] : all_versions()) check_engines_agree(*api, v, *api->request, decode_any_request);
  });
  rc::prop("responses: generic bytes decode typed and re-encode identically", [] {
    for (auto [api, v] : all_versions()) check_engines_agree(*api, v, *api->response, decode_any_response);
  });
}

TEST_CASE("a default typed message encodes as the generic engine's default struct", "[protocol][typed]") {
  for (auto [api, v] : all_versions()) {
    INFO(api->name << " v" << v);
    for (bool request : {true, false}) {
      const MessageSpec& spec = request ? *api->request : *api->response;
      const Bytes generic = generic_body(spec, v, default_struct(spec.fields, v));
      Reader r(generic);
      Bytes typed;
      if (request) {
        auto m = decode_any_request(api->key, v, r);
        REQUIRE(m.ok());
        // A value-initialised struct of the same type writes the same bytes.
        typed = typed_body(std::visit([](const auto& x) { return AnyRequest(std::decay_t<decltype(x)>{}); }, *m), v);
      } else {
        auto m = decode_any_response(api->key, v, r);
        REQUIRE(m.ok());
        typed = typed_body(std::visit([](const auto& x) { return AnyResponse(std::decay_t<decltype(x)>{}); }, *m), v);
      }
      CHECK(typed == generic);
    }
  }
}

TEST_CASE("typed decoding keeps unknown error codes and unknown tags", "[protocol][typed]") {
  HeartbeatResponse m;
  m.error_code = static_cast<ErrorCode>(4242);
  m.throttle_time_ms = 5;
  m.unknown_tags.push_back(UnknownTag{77, Bytes{1, 2, 3}});
  Bytes out;
  Writer w(out);
  m.encode(w, 4);
  Reader r(out);
  auto back = HeartbeatResponse::decode(r, 4);
  REQUIRE(back.ok());
  CHECK(to_int(back->error_code) == 4242);
  CHECK(back->unknown_tags == m.unknown_tags);
  CHECK(*back == m);
}

TEST_CASE("tagged fields are written only when set, in tag order with unknown tags", "[protocol][typed]") {
  FetchResponse::PartitionData p;
  const typed::Ctx c{12, true};
  auto encoded = [&] {
    Bytes out;
    Writer w(out);
    p.write(w, c);
    return out;
  };
  const Bytes none = encoded();
  p.snapshot_id.emplace();  // tag 2; 0 and 1 are DivergingEpoch and CurrentLeader
  p.snapshot_id->epoch = LeaderEpoch(4);
  // Out of order on purpose: the section must come out sorted (decoding
  // rejects tags out of order).
  p.unknown_tags.push_back(UnknownTag{7, Bytes{9}});
  p.unknown_tags.push_back(UnknownTag{3, Bytes{8, 8}});
  const Bytes some = encoded();
  CHECK(some.size() > none.size());
  Reader r(some);
  FetchResponse::PartitionData back;
  auto st = back.read(r, c);
  if (!st) FAIL(describe(st.error()));
  CHECK(r.at_end());
  CHECK_FALSE(back.diverging_epoch.has_value());
  CHECK_FALSE(back.current_leader.has_value());
  REQUIRE(back.snapshot_id.has_value());
  CHECK(back.snapshot_id->epoch == LeaderEpoch(4));
  CHECK(back.unknown_tags == std::vector<UnknownTag>{UnknownTag{3, Bytes{8, 8}}, UnknownTag{7, Bytes{9}}});
}

TEST_CASE("records decoded from a shared frame refer to the frame; from a bare view they are copied",
          "[protocol][typed]") {
  ProduceRequest req;
  req.acks = -1;
  req.timeout_ms = 1000;
  auto& topic = req.topic_data.emplace_back();
  topic.name = "t";
  auto& part = topic.partition_data.emplace_back();
  part.index = PartitionId(3);
  part.records = Records(Bytes(300, 0xab));
  Bytes body;
  Writer w(body);
  req.encode(w, 9);
  const auto frame = std::make_shared<const Bytes>(body);

  Reader shared(*frame, 0, frame);
  auto a = ProduceRequest::decode(shared, 9);
  REQUIRE(a.ok());
  const Records& ra = *a->topic_data[0].partition_data[0].records;
  CHECK(ra.owner() == frame);
  CHECK(ra.view().data() >= frame->data());
  CHECK(ra.view().data() + ra.size() <= frame->data() + frame->size());
  CHECK(ra.size() == 300);

  Reader bare(*frame);
  auto b = ProduceRequest::decode(bare, 9);
  REQUIRE(b.ok());
  const Records& rb = *b->topic_data[0].partition_data[0].records;
  CHECK(rb.owner() != frame);
  CHECK(rb == ra);
  CHECK(*a == *b);
}
