#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "system/log/names.h"

using namespace samsa::log;

TEST_CASE("segment files are named by the 20-digit base offset", "[log]") {
  CHECK(offset_file_name(0, k_log_suffix) == "00000000000000000000.log");
  CHECK(offset_file_name(170410, k_index_suffix) == "00000000000000170410.index");
  CHECK(offset_file_name(239430, k_time_index_suffix) == "00000000000000239430.timeindex");
  CHECK(parse_offset_file_name("00000000000000170410.log", k_log_suffix) == 170410);
  CHECK(parse_offset_file_name("00000000000000239430.index", k_index_suffix) == 239430);
  CHECK_FALSE(parse_offset_file_name("00000000000000170410.log", k_index_suffix));
  CHECK_FALSE(parse_offset_file_name("0000000000000017041.log", k_log_suffix));
  CHECK_FALSE(parse_offset_file_name("0000000000000017041x.log", k_log_suffix));
  CHECK_FALSE(parse_offset_file_name("99999999999999999999.log", k_log_suffix));  // > int64
  CHECK(partition_dir_name("orders", 3) == "orders-3");
  CHECK(parse_partition_dir("my-topic-12") == std::pair<std::string, std::int32_t>{"my-topic", 12});
  CHECK_FALSE(parse_partition_dir("topic"));
  CHECK_FALSE(parse_partition_dir("topic-x"));
}

TEST_CASE("offset file names round-trip and sort like their offsets", "[log]") {
  rc::prop("parse(name(o)) == o and name order == offset order", [] {
    const auto a = *rc::gen::inRange<std::int64_t>(0, std::numeric_limits<std::int64_t>::max());
    const auto b = *rc::gen::inRange<std::int64_t>(0, std::numeric_limits<std::int64_t>::max());
    RC_ASSERT(parse_offset_file_name(offset_file_name(a, k_log_suffix), k_log_suffix) == a);
    RC_ASSERT((offset_file_name(a, k_log_suffix) < offset_file_name(b, k_log_suffix)) == (a < b));
  });
}
