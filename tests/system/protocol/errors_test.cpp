#include "system/protocol/errors.h"

#include <catch2/catch.hpp>

using namespace samsa::protocol;

TEST_CASE("error codes: Kafka's numbers and names", "[protocol]") {
  CHECK(to_int(ErrorCode::unknown_server_error) == -1);
  CHECK(to_int(ErrorCode::none) == 0);
  CHECK(to_int(ErrorCode::offset_out_of_range) == 1);
  CHECK(to_int(ErrorCode::not_leader_or_follower) == 6);
  CHECK(to_int(ErrorCode::unsupported_version) == 35);
  CHECK(to_int(ErrorCode::fenced_leader_epoch) == 74);
  CHECK(to_int(ErrorCode::producer_fenced) == 90);
  CHECK(to_int(ErrorCode::invalid_regular_expression) == 128);
  CHECK(to_string(ErrorCode::none) == "NONE");
  CHECK(to_string(ErrorCode::not_leader_or_follower) == "NOT_LEADER_OR_FOLLOWER");
  CHECK(to_string(ErrorCode::unknown_server_error) == "UNKNOWN_SERVER_ERROR");
  CHECK(to_string(ErrorCode::invalid_topic_exception) == "INVALID_TOPIC_EXCEPTION");
  CHECK(fmt::format("{}", ErrorCode::coordinator_load_in_progress) == "COORDINATOR_LOAD_IN_PROGRESS");
}

TEST_CASE("error codes: retriable exactly when Kafka's exception is a RetriableException", "[protocol]") {
  // A sample checked by hand against clients/.../common/errors/*.java.
  CHECK(is_retriable(ErrorCode::not_leader_or_follower));      // InvalidMetadataException
  CHECK(is_retriable(ErrorCode::unknown_topic_or_partition));  // InvalidMetadataException
  CHECK(is_retriable(ErrorCode::leader_not_available));
  CHECK(is_retriable(ErrorCode::request_timed_out));           // TimeoutException
  CHECK(is_retriable(ErrorCode::corrupt_message));             // CorruptRecordException
  CHECK(is_retriable(ErrorCode::not_enough_replicas));
  CHECK(is_retriable(ErrorCode::not_enough_replicas_after_append));
  CHECK(is_retriable(ErrorCode::coordinator_load_in_progress));
  CHECK(is_retriable(ErrorCode::not_coordinator));
  CHECK(is_retriable(ErrorCode::fenced_leader_epoch));
  CHECK(is_retriable(ErrorCode::unknown_leader_epoch));
  CHECK(is_retriable(ErrorCode::kafka_storage_error));
  CHECK(is_retriable(ErrorCode::concurrent_transactions));
  CHECK(is_retriable(ErrorCode::network_exception));
  CHECK_FALSE(is_retriable(ErrorCode::none));
  CHECK_FALSE(is_retriable(ErrorCode::unknown_server_error));
  CHECK_FALSE(is_retriable(ErrorCode::offset_out_of_range));
  CHECK_FALSE(is_retriable(ErrorCode::broker_not_available));  // plain ApiException
  CHECK_FALSE(is_retriable(ErrorCode::message_too_large));
  CHECK_FALSE(is_retriable(ErrorCode::rebalance_in_progress));
  CHECK_FALSE(is_retriable(ErrorCode::out_of_order_sequence_number));
  CHECK_FALSE(is_retriable(ErrorCode::producer_fenced));
  CHECK_FALSE(is_retriable(ErrorCode::invalid_producer_epoch));
  CHECK_FALSE(is_retriable(ErrorCode::unknown_producer_id));
}

TEST_CASE("error codes: every code from -1 up is known, names round trip", "[protocol]") {
  int known = 0;
  for (int v = -1; v <= 128; ++v) {
    const auto e = error_code_from_int(static_cast<std::int16_t>(v));
    REQUIRE(e.has_value());
    CHECK(to_int(*e) == v);
    CHECK(is_known(*e));
    CHECK(error_code_from_name(to_string(*e)) == e);
    ++known;
  }
  CHECK(known == 130);
}

TEST_CASE("error codes: an unknown code keeps its number", "[protocol]") {
  CHECK_FALSE(error_code_from_int(-2).has_value());
  CHECK_FALSE(error_code_from_int(4000).has_value());
  const auto e = static_cast<ErrorCode>(4000);
  CHECK_FALSE(is_known(e));
  CHECK_FALSE(is_retriable(e));
  CHECK(to_int(e) == 4000);
  CHECK(to_string(e) == "UNKNOWN_ERROR_CODE");
  CHECK(fmt::format("{}", e) == "UNKNOWN_ERROR_CODE(4000)");
  CHECK_FALSE(error_code_from_name("NO_SUCH_ERROR").has_value());
}
