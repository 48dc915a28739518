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
