// The transaction APIs' frames of a real client (librdkafka 2.0.2 through
// confluent-kafka-python 1.7.0, against librdkafka's mock cluster; how they
// were made is in tests/data/README.md, `mockt-*`), read through the typed
// messages that the transaction coordinator's handlers use. (The byte-exact
// round trip of every frame is golden_test's "every captured frame".)
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "system/protocol/record_batch.h"
#include "system/protocol/typed_api.h"

using namespace samsa;
using namespace samsa::protocol;

namespace {

SharedFrame load(const std::string& name) {
  std::ifstream in(std::filesystem::path(SAMSA_TEST_DATA_DIR) / "frames" / name, std::ios::binary);
  REQUIRE(in.good());
  return share_frame(Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
}

template <class M>
TypedRequest<M> request(const std::string& name) {
  auto r = decode_request_as<M>(load(name));
  if (!r) FAIL(name << ": " << describe(r.error()));
  return std::move(r).value();
}

template <class M>
M response(const std::string& name, std::int16_t version) {
  auto r = decode_response_frame<M>(load(name), version);
  if (!r) FAIL(name << ": " << describe(r.error()));
  return std::move(r).value().body;
}

constexpr std::int64_t k_mock_producer_id = 510241000;

}  // namespace

TEST_CASE("librdkafka finds its transaction coordinator with key type 1", "[broker][txn]") {
  const auto r = request<FindCoordinatorRequest>("mockt-FindCoordinator-v2-request.bin");
  CHECK(r.header.api_version == 2);
  CHECK(r.body.key == "samsa-txn");
  CHECK(r.body.key_type == 1);
  const auto resp = response<FindCoordinatorResponse>("mockt-FindCoordinator-v2-response.bin", 2);
  CHECK(resp.error_code == ErrorCode::none);
}

TEST_CASE("InitProducerId v4 with a transactional.id and its timeout", "[broker][txn]") {
  const auto r = request<InitProducerIdRequest>("mockt-InitProducerId-v4-request.bin");
  CHECK(r.body.transactional_id == std::optional<std::string>("samsa-txn"));
  CHECK(r.body.transaction_timeout_ms == 60000);
  CHECK(r.body.producer_id == ProducerId::none());
  CHECK(r.body.producer_epoch == ProducerEpoch::none());
  const auto resp = response<InitProducerIdResponse>("mockt-InitProducerId-v4-response.bin", 4);
  CHECK(resp.error_code == ErrorCode::none);
  CHECK(resp.producer_id == ProducerId(k_mock_producer_id));
  CHECK(resp.producer_epoch == ProducerEpoch(0));
}

TEST_CASE("AddPartitionsToTxn v0 names the transaction's partition, per transaction", "[broker][txn]") {
  for (const char* name : {"mockt-AddPartitionsToTxn-v0-request.bin", "mockt-AddPartitionsToTxn-v0-request-1.bin"}) {
    const auto r = request<AddPartitionsToTxnRequest>(name);
    CHECK(r.body.v3_and_below_transactional_id == "samsa-txn");
    CHECK(r.body.v3_and_below_producer_id == ProducerId(k_mock_producer_id));
    CHECK(r.body.v3_and_below_producer_epoch == ProducerEpoch(0));
    REQUIRE(r.body.v3_and_below_topics.size() == 1);
    CHECK(r.body.v3_and_below_topics[0].name == "t");
    CHECK(r.body.v3_and_below_topics[0].partitions == std::vector<PartitionId>{PartitionId(0)});
    CHECK(r.body.transactions.empty());  // v4+ only
  }
  const auto resp = response<AddPartitionsToTxnResponse>("mockt-AddPartitionsToTxn-v0-response.bin", 0);
  REQUIRE(resp.results_by_topic_v3_and_below.size() == 1);
  REQUIRE(resp.results_by_topic_v3_and_below[0].results_by_partition.size() == 1);
  CHECK(resp.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code == ErrorCode::none);
}

TEST_CASE("AddOffsetsToTxn and TxnOffsetCommit carry the consumer's group (KIP-447)", "[broker][txn]") {
  const auto a = request<AddOffsetsToTxnRequest>("mockt-AddOffsetsToTxn-v0-request.bin");
  CHECK(a.body.transactional_id == "samsa-txn");
  CHECK(a.body.group_id == "samsa-group");
  CHECK(a.body.producer_id == ProducerId(k_mock_producer_id));
  CHECK(response<AddOffsetsToTxnResponse>("mockt-AddOffsetsToTxn-v0-response.bin", 0).error_code ==
        ErrorCode::none);

  const auto c = request<TxnOffsetCommitRequest>("mockt-TxnOffsetCommit-v2-request.bin");
  CHECK(c.body.transactional_id == "samsa-txn");
  CHECK(c.body.group_id == "samsa-group");
  CHECK(c.body.producer_epoch == ProducerEpoch(0));
  REQUIRE(c.body.topics.size() == 1);
  REQUIRE(c.body.topics[0].partitions.size() == 1);
  CHECK(c.body.topics[0].partitions[0].committed_offset == Offset(42));
  CHECK(c.body.topics[0].partitions[0].committed_leader_epoch == LeaderEpoch::none());
  CHECK(c.body.generation_id == GenerationId(-1));  // v3+ only (KIP-447's generation check)
  const auto cr = response<TxnOffsetCommitResponse>("mockt-TxnOffsetCommit-v2-response.bin", 2);
  REQUIRE(cr.topics.size() == 1);
  CHECK(cr.topics[0].partitions[0].error_code == ErrorCode::none);
}

TEST_CASE("EndTxn v1: first a commit, then an abort", "[broker][txn]") {
  const auto commit = request<EndTxnRequest>("mockt-EndTxn-v1-request.bin");
  const auto abort = request<EndTxnRequest>("mockt-EndTxn-v1-request-1.bin");
  CHECK(commit.body.committed);
  CHECK_FALSE(abort.body.committed);
  CHECK(commit.header.correlation_id < abort.header.correlation_id);
  CHECK(abort.body.producer_id == ProducerId(k_mock_producer_id));
  CHECK(response<EndTxnResponse>("mockt-EndTxn-v1-response.bin", 1).error_code == ErrorCode::none);
  CHECK(response<EndTxnResponse>("mockt-EndTxn-v1-response-1.bin", 1).error_code == ErrorCode::none);
}

TEST_CASE("a transactional Produce names its transactional.id and sets the batch's flag", "[broker][txn]") {
  for (const char* name : {"mockt-Produce-v7-request.bin", "mockt-Produce-v7-request-1.bin"}) {
    const auto r = request<ProduceRequest>(name);
    CHECK(r.body.transactional_id == std::optional<std::string>("samsa-txn"));
    CHECK(r.body.acks == -1);
    REQUIRE(r.body.topic_data.size() == 1);
    REQUIRE(r.body.topic_data[0].partition_data.size() == 1);
    const auto& records = r.body.topic_data[0].partition_data[0].records;
    REQUIRE(records.has_value());
    BatchReader reader(records->view());
    auto batch = reader.next();
    REQUIRE(batch.has_value());
    CHECK(batch->header.is_transactional());
    CHECK_FALSE(batch->header.is_control());
    CHECK(batch->header.producer_id == k_mock_producer_id);
    CHECK(batch->header.producer_epoch == 0);
  }
}
