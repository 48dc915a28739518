// __consumer_offsets records as Kafka 2.8's GroupMetadataManager writes
// them, and the partition a group's offsets live in.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "system/broker/group/offsets_records.h"
#include "system/protocol/schema.h"

using namespace samsa;
using namespace samsa::broker::group;
using samsa::protocol::hex;

TEST_CASE("Java String.hashCode of group ids", "[broker][group]") {
  CHECK(java_string_hash("") == 0);
  CHECK(java_string_hash("a") == 97);
  CHECK(java_string_hash("hello") == 99162322);  // the often-quoted Java value
  // The famous string whose hashCode is Integer.MIN_VALUE.
  CHECK(java_string_hash("polygenelubricants") == std::numeric_limits<std::int32_t>::min());
  // Non-ASCII: UTF-16 code units, a surrogate pair above U+FFFF (computed
  // with Python's UTF-16 encoder over Java's formula).
  CHECK(java_string_hash("g\xc3\xb6") == 3439);
  CHECK(java_string_hash("\xf0\x9f\x98\x80") == 1772899);
  CHECK(java_string_hash("samsa-group") == -1681779937);
}

TEST_CASE("a group's offsets partition is Utils.abs(hashCode) % partitions", "[broker][group]") {
  // Utils.abs, not & 0x7fffffff: for negative hashes the two differ
  // (samsa-group: 37 here, 11 with the mask; my-group: 12, not 36).
  CHECK(offsets_partition_for("samsa-group", 50) == 37);
  CHECK(offsets_partition_for("my-group", 50) == 12);
  CHECK(offsets_partition_for("test-group", 50) == 12);
  CHECK(offsets_partition_for("consumer-group-1", 50) == 20);
  CHECK(offsets_partition_for("", 50) == 0);
  CHECK(offsets_partition_for("polygenelubricants", 50) == 0);  // Utils.abs(MIN_VALUE) = 0
  rc::prop("the partition is within [0, n)", [](const std::string& g, std::uint8_t n) {
    const std::int32_t p = offsets_partition_for(g, n % 200 + 1);
    RC_ASSERT(p >= 0);
    RC_ASSERT(p < n % 200 + 1);
  });
}

TEST_CASE("offset commit key v1 and value v3 bytes", "[broker][group]") {
  // Worked out from OffsetCommitKey.json / OffsetCommitValue.json.
  CHECK(hex(encode_key(OffsetCommitKey{"g", "t", 3})) == "0001" "000167" "000174" "00000003");
  OffsetCommitValue v;
  v.offset = protocol::Offset(42);
  v.leader_epoch = protocol::LeaderEpoch(5);
  v.metadata = "m";
  v.commit_timestamp_ms = 1000;
  CHECK(hex(encode_value(v)) == "0003" "000000000000002a" "00000005" "00016d" "00000000000003e8");
  CHECK(hex(encode_value(v, 0)) == "0000" "000000000000002a" "00016d" "00000000000003e8");
  v.expire_timestamp_ms = 2000;  // only version 1 has it, and Kafka then writes v1
  CHECK(hex(encode_value(v)) == "0001" "000000000000002a" "00016d" "00000000000003e8" "00000000000007d0");
  // v1 has no leader epoch: it reads back as none.
  CHECK(decode_offset_commit_value(encode_value(v))->leader_epoch == protocol::LeaderEpoch::none());
  v.leader_epoch = protocol::LeaderEpoch::none();
  CHECK(*decode_offset_commit_value(encode_value(v)) == v);
  CHECK(std::get<OffsetCommitKey>(*decode_key(encode_key(OffsetCommitKey{"g", "t", 3}, 0))) ==
        OffsetCommitKey{"g", "t", 3});
}

TEST_CASE("group metadata key v2 and value v3 bytes", "[broker][group]") {
  CHECK(hex(encode_key(GroupMetadataKey{"g"})) == "0002" "000167");
  GroupMetadataValue v;
  v.protocol_type = "consumer";
  v.generation = protocol::GenerationId(2);
  v.protocol = "range";
  v.leader = "c-1";
  v.current_state_timestamp_ms = 7;
  GroupMemberRecord m;
  m.member_id = "c-1";
  m.client_id = "c";
  m.client_host = "/h";
  m.rebalance_timeout_ms = 300000;
  m.session_timeout_ms = 10000;
  m.subscription = {0xaa};
  m.assignment = {};
  v.members = {m};
  CHECK(hex(encode_value(v)) ==
        "0003" "0008636f6e73756d6572" "00000002" "000572616e6765" "0003632d31" "0000000000000007"
        "00000001"
        "0003632d31" "ffff" "000163" "00022f68" "000493e0" "00002710" "00000001aa" "00000000");
  CHECK(*decode_group_metadata_value(encode_value(v)) == v);
  // v0: no rebalance timeout (read back as the session timeout), no
  // timestamp, no instance id.
  auto v0 = *decode_group_metadata_value(encode_value(v, 0));
  CHECK(v0.members[0].rebalance_timeout_ms == 10000);
  CHECK(v0.current_state_timestamp_ms == -1);
  CHECK(std::get<GroupMetadataKey>(*decode_key(encode_key(GroupMetadataKey{"g"}))).group == "g");
  // An empty group: null protocol and leader.
  GroupMetadataValue empty;
  empty.protocol_type = "consumer";
  empty.generation = protocol::GenerationId(3);
  CHECK(*decode_group_metadata_value(encode_value(empty)) == empty);
}

TEST_CASE("records decode as Kafka reads them: unknown versions and cuts are errors", "[broker][group]") {
  CHECK_FALSE(decode_key(Bytes{0x00, 0x03, 0x00, 0x00}).ok());
  CHECK_FALSE(decode_offset_commit_value(Bytes{0x00, 0x04}).ok());
  CHECK_FALSE(decode_group_metadata_value(Bytes{0xff, 0xff}).ok());
  rc::prop("every strict prefix of a record is an error", [](const std::string& group, std::int64_t offset) {
    OffsetCommitValue v;
    v.offset = protocol::Offset(offset);
    v.metadata = group;
    const Bytes value = encode_value(v);
    const Bytes key = encode_key(OffsetCommitKey{group, "t", 1});
    const auto cut_value = *rc::gen::inRange<std::size_t>(0, value.size());
    const auto cut_key = *rc::gen::inRange<std::size_t>(0, key.size());
    RC_ASSERT_FALSE(decode_offset_commit_value(ByteView(value).first(cut_value)).ok());
    RC_ASSERT_FALSE(decode_key(ByteView(key).first(cut_key)).ok());
    RC_ASSERT(*decode_offset_commit_value(value) == v);
  });
}
