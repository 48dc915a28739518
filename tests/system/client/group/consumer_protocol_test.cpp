// ConsumerProtocol subscription/assignment bytes: the metadata real clients
// (kcat / librdkafka 2.0.2, kafka-python 2.0.2, librdkafka's mock cluster)
// put in JoinGroup and SyncGroup, captured under tests/data/frames (see
// tests/data/README.md), must decode to what they sent and re-encode to the
// same bytes.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "system/client/group/consumer_protocol.h"
#include "system/protocol/api.h"

using namespace samsa;
using namespace samsa::client::group;
using samsa::protocol::ApiKey;
using samsa::protocol::GenerationId;
using samsa::protocol::PartitionId;
using samsa::protocol::StructView;

namespace {

Bytes load(const std::string& name) {
  const auto dir = std::filesystem::path(SAMSA_TEST_DATA_DIR) / "frames";
  std::ifstream in(dir / name, std::ios::binary);
  REQUIRE(in.good());
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Keeps the decoded frame alive: the views below point into it.
struct Frame {
  protocol::Value body;
  const protocol::MessageSpec* spec = nullptr;
  StructView view() const { return StructView(spec->fields, body); }
};

Frame request(const std::string& name) {
  auto req = protocol::decode_request(load(name));
  if (!req) FAIL(name << ": " << protocol::describe(req.error()));
  return {std::move(req->body), protocol::find_api(static_cast<std::int16_t>(req->header.api_key))->request};
}

Frame response(const std::string& name, ApiKey key, std::int16_t version) {
  auto resp = protocol::decode_response(load(name), key, version);
  if (!resp) FAIL(name << ": " << protocol::describe(resp.error()));
  return {std::move(resp->body), protocol::find_api(static_cast<std::int16_t>(key))->response};
}

Bytes bytes_of(const protocol::Value& v) { return Bytes(v.bytes_.begin(), v.bytes_.end()); }

Subscription decoded_subscription(const Bytes& b) {
  auto s = decode_subscription(b);
  if (!s) FAIL(protocol::describe(s.error()));
  auto version = decode_version(b);
  REQUIRE(version.ok());
  // Byte-exact: our encoder writes what the client wrote, at its version.
  CHECK(encode_subscription(*s, *version) == b);
  return *s;
}

Assignment decoded_assignment(const Bytes& b) {
  auto a = decode_assignment(b);
  if (!a) FAIL(protocol::describe(a.error()));
  auto version = decode_version(b);
  REQUIRE(version.ok());
  CHECK(encode_assignment(*a, *version) == b);
  return *a;
}

std::vector<TopicPartition> partitions_of_t(std::initializer_list<std::int32_t> ps) {
  std::vector<TopicPartition> out;
  for (auto p : ps) out.push_back({"t", PartitionId(p)});
  return out;
}

}  // namespace

TEST_CASE("JoinGroup subscriptions of real clients decode", "[client][group][golden]") {
  // librdkafka: ConsumerProtocolSubscription v1, empty (not null) user data, nothing owned.
  for (const char* name : {"kcat-group-JoinGroup-v5-request.bin", "mockp-JoinGroup-v5-request.bin"}) {
    const Frame join = request(name);
    REQUIRE(join.view().size("Protocols") == 2);
    for (std::size_t i = 0; i < 2; ++i) {
      const Bytes meta = bytes_of(join.view().at("Protocols", i)["Metadata"]);
      CHECK(*decode_version(meta) == 1);
      const Subscription s = decoded_subscription(meta);
      CHECK(s.topics == std::vector<std::string>{"t"});
      CHECK(s.user_data == Bytes{});
      CHECK(s.owned_partitions.empty());
      CHECK(s.generation_id == GenerationId::none());  // v2+ only
      CHECK_FALSE(s.rack_id.has_value());
    }
  }
  // kafka-python: v0.
  for (const char* name : {"kafka-python-group-JoinGroup-v2-request.bin",
                           "mockp-kafka-python-JoinGroup-v2-request.bin"}) {
    const Frame join = request(name);
    const Bytes meta = bytes_of(join.view().at("Protocols", 0)["Metadata"]);
    CHECK(*decode_version(meta) == 0);
    const Subscription s = decoded_subscription(meta);
    CHECK(s.topics == std::vector<std::string>{"t"});
    CHECK(s.user_data == Bytes{});
  }
  // The mock broker hands the members' metadata back to the leader unchanged.
  const Frame joined = response("mockp-JoinGroup-v5-response.bin", ApiKey::join_group, 5);
  REQUIRE(joined.view().size("Members") == 1);
  CHECK(decoded_subscription(bytes_of(joined.view().at("Members", 0)["Metadata"])).topics ==
        std::vector<std::string>{"t"});
  const Frame py_joined =
      response("mockp-kafka-python-JoinGroup-v2-response.bin", ApiKey::join_group, 2);
  CHECK(decoded_subscription(bytes_of(py_joined.view().at("Members", 0)["Metadata"])).topics ==
        std::vector<std::string>{"t"});
}

TEST_CASE("SyncGroup assignments of real clients decode", "[client][group][golden]") {
  const Frame kcat = request("kcat-group2-SyncGroup-v3-request.bin");
  const Assignment one = decoded_assignment(bytes_of(kcat.view().at("Assignments", 0)["Assignment"]));
  CHECK(one.partitions == partitions_of_t({0}));
  CHECK_FALSE(one.user_data.has_value());  // librdkafka writes null user data

  // Leaders' range assignments of the four partitions of "t" to themselves.
  const Frame rd = request("mockp-SyncGroup-v3-request.bin");
  const Frame py = request("mockp-kafka-python-SyncGroup-v1-request.bin");
  for (const Frame* f : {&rd, &py}) {
    const Assignment a = decoded_assignment(bytes_of(f->view().at("Assignments", 0)["Assignment"]));
    CHECK(a.partitions == partitions_of_t({0, 1, 2, 3}));
    CHECK(a.user_data == Bytes{});
  }
  const Frame rd_synced = response("mockp-SyncGroup-v3-response.bin", ApiKey::sync_group, 3);
  const Frame py_synced =
      response("mockp-kafka-python-SyncGroup-v1-response.bin", ApiKey::sync_group, 1);
  for (const Frame* f : {&rd_synced, &py_synced})
    CHECK(decoded_assignment(bytes_of(f->view()["Assignment"])).partitions ==
          partitions_of_t({0, 1, 2, 3}));
}

TEST_CASE("subscription v3 bytes follow ConsumerProtocolSubscription.json", "[client][group]") {
  Subscription s;
  s.topics = {"b", "a"};  // written sorted
  s.user_data = Bytes{0xAB};
  s.owned_partitions = {{"b", PartitionId(1)}, {"a", PartitionId(2)}, {"b", PartitionId(0)}};  // written sorted and grouped
  s.generation_id = GenerationId(7);
  s.rack_id = "r1";
  // Worked out by hand from the schema: version, Topics, UserData,
  // OwnedPartitions, GenerationId, RackId.
  CHECK(protocol::hex(encode_subscription(s, 3)) ==
        "0003"
        "00000002" "000161" "000162"
        "00000001" "ab"
        "00000002" "000161" "00000001" "00000002"
                   "000162" "00000002" "00000000" "00000001"
        "00000007"
        "00027231");
  CHECK(protocol::hex(encode_subscription(s, 2)).size() == encode_subscription(s, 3).size() * 2 - 8);
  CHECK(protocol::hex(encode_subscription(s, 0)) == "0000" "00000002" "000161" "000162" "00000001" "ab");

  const Subscription back = *decode_subscription(encode_subscription(s, 3));
  CHECK(back.topics == std::vector<std::string>{"a", "b"});
  CHECK(back.owned_partitions == std::vector<TopicPartition>{{"a", PartitionId(2)}, {"b", PartitionId(0)}, {"b", PartitionId(1)}});
  CHECK(back.generation_id == GenerationId(7));
  CHECK(back.rack_id == "r1");
}

TEST_CASE("consumer protocol versions: newer read as the newest known, negative refused",
          "[client][group]") {
  Subscription s;
  s.topics = {"t"};
  s.rack_id = "";
  Bytes v3 = encode_subscription(s, 3);
  CHECK_FALSE(decode_subscription(v3)->rack_id.has_value());  // Kafka: empty rack = none
  Bytes v9 = v3;
  v9[1] = 9;
  v9.push_back(0x42);  // a field of a future version: ignored
  auto future = decode_subscription(v9);
  REQUIRE(future.ok());
  CHECK(future->topics == std::vector<std::string>{"t"});
  Bytes negative = v3;
  negative[0] = 0xff;
  CHECK_FALSE(decode_subscription(negative).ok());
  CHECK_FALSE(decode_assignment(negative).ok());
  CHECK_FALSE(decode_subscription(Bytes{0x00}).ok());
  // A null topic name is refused (non-nullable), not turned into "".
  CHECK_FALSE(decode_assignment(Bytes{0, 0, 0, 0, 0, 1, 0xff, 0xff}).ok());
}

namespace {

template <class T>
std::optional<T> maybe(rc::Gen<T> g) {
  if (*rc::gen::arbitrary<bool>()) return *g;
  return std::nullopt;
}

rc::Gen<std::string> gen_name() {
  return rc::gen::container<std::string>(rc::gen::inRange<char>('a', 'e'));
}

rc::Gen<std::vector<TopicPartition>> gen_partitions() {
  return rc::gen::container<std::vector<TopicPartition>>(rc::gen::construct<TopicPartition>(
      gen_name(), rc::gen::map(rc::gen::inRange<std::int32_t>(0, 100), [](std::int32_t p) { return PartitionId(p); })));
}

}  // namespace

TEST_CASE("consumer protocol round trips", "[client][group]") {
  rc::prop("decode(encode(subscription, v)) keeps every field of v, sorted as Kafka writes", [] {
    Subscription s;
    s.topics = *rc::gen::container<std::vector<std::string>>(gen_name());
    s.user_data = maybe(rc::gen::arbitrary<Bytes>());
    s.owned_partitions = *gen_partitions();
    s.generation_id = GenerationId(*rc::gen::arbitrary<std::int32_t>());
    s.rack_id = maybe(rc::gen::nonEmpty(gen_name()));
    const auto version = *rc::gen::inRange<std::int16_t>(0, 4);
    const Subscription back = *decode_subscription(encode_subscription(s, version));
    auto topics = s.topics;
    std::sort(topics.begin(), topics.end());
    RC_ASSERT(back.topics == topics);
    RC_ASSERT(back.user_data == s.user_data);
    auto owned = s.owned_partitions;
    std::sort(owned.begin(), owned.end());
    RC_ASSERT(back.owned_partitions == (version >= 1 ? owned : std::vector<TopicPartition>{}));
    RC_ASSERT(back.generation_id == (version >= 2 ? s.generation_id : GenerationId::none()));
    RC_ASSERT(back.rack_id == (version >= 3 ? s.rack_id : std::nullopt));
  });
  rc::prop("decode(encode(assignment)) keeps the partitions grouped by first-seen topic", [] {
    Assignment a;
    a.partitions = *gen_partitions();
    a.user_data = maybe(rc::gen::arbitrary<Bytes>());
    const Assignment back = *decode_assignment(encode_assignment(a, *rc::gen::inRange<std::int16_t>(0, 4)));
    std::vector<TopicPartition> grouped;
    for (const auto& tp : a.partitions) {
      if (std::any_of(grouped.begin(), grouped.end(), [&](const auto& g) { return g.topic == tp.topic; }))
        continue;
      for (const auto& same : a.partitions)
        if (same.topic == tp.topic) grouped.push_back(same);
    }
    RC_ASSERT(back.partitions == grouped);
    RC_ASSERT(back.user_data == a.user_data);
  });
  rc::prop("every strict prefix of an encoding is an error, never a crash", [] {
    Subscription s;
    s.topics = *rc::gen::container<std::vector<std::string>>(gen_name());
    s.owned_partitions = *gen_partitions();
    s.user_data = maybe(rc::gen::arbitrary<Bytes>());
    const Bytes b = encode_subscription(s, 2);
    const auto cut = *rc::gen::inRange<std::size_t>(0, b.size());
    RC_ASSERT_FALSE(decode_subscription(ByteView(b).first(cut)).ok());
  });
}
