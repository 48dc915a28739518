// __transaction_state records (Kafka 2.8's TransactionLog, key and value
// version 0): bytes worked out by hand from TransactionLogKey.json /
// TransactionLogValue.json, and the round trip of random transits.
#include "system/broker/txn/transaction_log.h"

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

using namespace samsa;
using namespace samsa::broker::txn;
using protocol::PartitionId;

namespace {

std::string hex_of(const Bytes& b) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (auto c : b) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

}  // namespace

TEST_CASE("a transaction log key is version 0 and the transactional id", "[broker][txn]") {
  CHECK(hex_of(encode_txn_key("tx")) == "000000027478");
  auto k = decode_txn_key(encode_txn_key("tx"));
  REQUIRE(k.ok());
  CHECK(*k == "tx");
  const Bytes v1 = {0x00, 0x01, 0x00, 0x02, 't', 'x'};
  CHECK_FALSE(decode_txn_key(v1).ok());
}

TEST_CASE("a transaction log value as Kafka writes it", "[broker][txn]") {
  TxnTransit t;
  t.producer_id = ProducerId(4000);
  t.producer_epoch = ProducerEpoch(1);
  t.txn_timeout_ms = 60000;
  t.state = TxnState::ongoing;
  t.partitions = {{"out", PartitionId(2)}, {"out", PartitionId(0)}};
  t.txn_last_update_timestamp_ms = 5;
  t.txn_start_timestamp_ms = 3;
  const std::string want =
      "0000"              // version 0
      "0000000000000fa0"  // ProducerId 4000
      "0001"              // ProducerEpoch 1
      "0000ea60"          // TransactionTimeoutMs 60000
      "01"                // TransactionStatus Ongoing
      "00000001"          // one topic
      "00036f7574"        //   "out"
      "00000002" "00000000" "00000002"  // partitions 0 and 2
      "0000000000000005"  // TransactionLastUpdateTimestampMs
      "0000000000000003";  // TransactionStartTimestampMs
  CHECK(hex_of(encode_txn_value(t)) == want);
  auto back = decode_txn_value(encode_txn_value(t));
  REQUIRE(back.ok());
  CHECK(back->partitions == t.partitions);
  CHECK(back->state == TxnState::ongoing);

  // Empty writes null partitions.
  t.state = TxnState::empty;
  t.partitions.clear();
  t.txn_start_timestamp_ms = -1;
  CHECK(hex_of(encode_txn_value(t)).substr(2 * 17, 8) == "ffffffff");
}

TEST_CASE("transaction log values that do not parse are errors, not crashes", "[broker][txn]") {
  TxnTransit t;
  t.producer_id = ProducerId(1);
  t.producer_epoch = ProducerEpoch(0);
  t.state = TxnState::complete_commit;
  Bytes good = encode_txn_value(t);
  Bytes bad_state = good;
  bad_state[16] = 9;  // the status byte
  CHECK_FALSE(decode_txn_value(bad_state).ok());
  for (std::size_t cut = 0; cut < good.size(); ++cut)
    CHECK_FALSE(decode_txn_value(ByteView(good.data(), cut)).ok());
  Bytes longer = good;
  longer.push_back(0);
  CHECK_FALSE(decode_txn_value(longer).ok());
}

TEST_CASE("every transit survives the log", "[broker][txn]") {
  rc::prop("decode(encode(t)) == t (Empty keeps no partitions)", [] {
    TxnTransit t;
    t.producer_id = ProducerId(*rc::gen::inRange<std::int64_t>(0, 1 << 30));
    t.producer_epoch = ProducerEpoch(*rc::gen::inRange<std::int16_t>(0, 32767));
    t.txn_timeout_ms = *rc::gen::inRange(1, 900000);
    t.state = *rc::gen::elementOf(std::vector<TxnState>(std::begin(k_all_txn_states), std::end(k_all_txn_states)));
    if (t.state != TxnState::empty) {
      const auto n = *rc::gen::inRange(0, 5);
      for (int i = 0; i < n; ++i)
        t.partitions.insert({*rc::gen::element<std::string>("a", "b", "out"), PartitionId(*rc::gen::inRange(0, 9))});
    }
    t.txn_last_update_timestamp_ms = *rc::gen::inRange<std::int64_t>(-1, 1'000'000'000);
    t.txn_start_timestamp_ms = *rc::gen::inRange<std::int64_t>(-1, 1'000'000'000);
    auto back = decode_txn_value(encode_txn_value(t));
    RC_ASSERT(back.ok());
    // The last producer id and epoch are not stored.
    t.last_producer_id = ProducerId::none();
    t.last_producer_epoch = ProducerEpoch::none();
    RC_ASSERT(*back == t);
  });
}

TEST_CASE("a transaction log value v1 as Kafka 4.0 writes it: flexible, with the tagged fields", "[broker][txn]") {
  TxnTransit t;
  t.producer_id = ProducerId(4000);
  t.producer_epoch = ProducerEpoch(1);
  t.txn_timeout_ms = 60000;
  t.state = TxnState::ongoing;
  t.partitions = {{"out", PartitionId(2)}, {"out", PartitionId(0)}};
  t.txn_last_update_timestamp_ms = 5;
  t.txn_start_timestamp_ms = 3;
  const std::string plain =
      "0001"              // version 1
      "0000000000000fa0"  // ProducerId 4000
      "0001"              // ProducerEpoch 1
      "0000ea60"          // TransactionTimeoutMs 60000
      "01"                // TransactionStatus Ongoing
      "02"                // compact array: one topic
      "046f7574"          //   compact "out"
      "03" "00000000" "00000002"  // compact array: partitions 0 and 2
      "00"                //   no tagged fields in the entry
      "0000000000000005"  // TransactionLastUpdateTimestampMs
      "0000000000000003"  // TransactionStartTimestampMs
      "00";               // no tagged fields: every one at its default
  CHECK(hex_of(encode_txn_value(t, 1)) == plain);
  // A PrepareCommit of an EndTxn v5 that rotates the id: all three tags.
  t.state = TxnState::prepare_commit;
  t.epoch_bump = true;
  t.last_producer_id = ProducerId(3999);
  t.next_producer_id = ProducerId(4100);
  const std::string tagged = hex_of(encode_txn_value(t, 1));
  CHECK(tagged.substr(2 * 16, 2) == "02");  // the status byte
  CHECK(tagged.substr(tagged.size() - 2 * 25) ==
        "03"                                  // three tagged fields
        "0008" "0000000000000f9f"             // tag 0 PreviousProducerId 3999
        "0108" "0000000000001004"             // tag 1 NextProducerId 4100
        "0202" "0002");                       // tag 2 ClientTransactionVersion 2
  auto back = decode_txn_value(encode_txn_value(t, 1));
  REQUIRE(back.ok());
  CHECK(back->client_version_stored);
  CHECK(back->epoch_bump);
  CHECK(back->last_producer_id == ProducerId(3999));
  CHECK(back->next_producer_id == ProducerId(4100));
  CHECK(back->partitions == t.partitions);
  // An Empty v1 writes a null compact array; v0 keeps no tag (and no version flag).
  t.state = TxnState::empty;
  t.partitions.clear();
  CHECK(hex_of(encode_txn_value(t, 1)).substr(2 * 17, 2) == "00");
  CHECK_FALSE(decode_txn_value(encode_txn_value(t, 0))->client_version_stored);
  // An unknown tag is skipped; a truncated v1 is an error.
  TxnTransit plain_empty;
  plain_empty.producer_id = ProducerId(7);
  plain_empty.producer_epoch = ProducerEpoch(0);
  Bytes unknown = encode_txn_value(plain_empty, 1);
  REQUIRE(unknown.back() == 0);  // no tagged fields
  unknown.pop_back();
  for (std::uint8_t b : {0x01, 0x09, 0x01, 0x7f}) unknown.push_back(b);  // one field, tag 9, 1 byte
  auto skipped = decode_txn_value(unknown);
  REQUIRE(skipped.ok());
  CHECK(skipped->client_version_stored);
  CHECK_FALSE(skipped->epoch_bump);
  const Bytes good = encode_txn_value(t, 1);
  for (std::size_t cut = 0; cut < good.size(); ++cut) CHECK_FALSE(decode_txn_value(ByteView(good.data(), cut)).ok());
}

TEST_CASE("every transit survives the log value v1", "[broker][txn]") {
  rc::prop("decode(encode(t, 1)) == t with the ids and the version it keeps", [] {
    TxnTransit t;
    t.producer_id = ProducerId(*rc::gen::inRange<std::int64_t>(0, 1 << 30));
    t.producer_epoch = ProducerEpoch(*rc::gen::inRange<std::int16_t>(0, 32767));
    t.txn_timeout_ms = *rc::gen::inRange(1, 900000);
    t.state = *rc::gen::elementOf(std::vector<TxnState>(std::begin(k_all_txn_states), std::end(k_all_txn_states)));
    if (t.state != TxnState::empty) {
      const auto n = *rc::gen::inRange(0, 5);
      for (int i = 0; i < n; ++i)
        t.partitions.insert({*rc::gen::element<std::string>("a", "b", "out"), PartitionId(*rc::gen::inRange(0, 9))});
    }
    t.txn_last_update_timestamp_ms = *rc::gen::inRange<std::int64_t>(-1, 1'000'000'000);
    t.txn_start_timestamp_ms = *rc::gen::inRange<std::int64_t>(-1, 1'000'000'000);
    t.epoch_bump = *rc::gen::arbitrary<bool>();
    if (*rc::gen::arbitrary<bool>()) t.last_producer_id = ProducerId(*rc::gen::inRange<std::int64_t>(0, 1 << 30));
    if (*rc::gen::arbitrary<bool>()) t.next_producer_id = ProducerId(*rc::gen::inRange<std::int64_t>(0, 1 << 30));
    auto back = decode_txn_value(encode_txn_value(t, 1));
    RC_ASSERT(back.ok());
    t.client_version_stored = true;
    t.last_producer_epoch = ProducerEpoch::none();  // not stored in either version
    if (t.last_producer_id == t.producer_id) t.last_producer_id = ProducerId::none();
    RC_ASSERT(*back == t);
  });
}
