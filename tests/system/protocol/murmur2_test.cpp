#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <string>

#include "system/protocol/murmur2.h"

using samsa::as_bytes;
using samsa::Bytes;
using samsa::protocol::murmur2;
using samsa::protocol::partition_for_key;

TEST_CASE("murmur2 matches Kafka's UtilsTest.testMurmur2", "[protocol][murmur2]") {
  // apache/kafka clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java
  CHECK(murmur2(as_bytes("21")) == -973932308);
  CHECK(murmur2(as_bytes("foobar")) == -790332482);
  CHECK(murmur2(as_bytes("a-little-bit-long-string")) == -985981536);
  CHECK(murmur2(as_bytes("a-little-bit-longer-string")) == -1486304829);
  CHECK(murmur2(as_bytes("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")) == -58897971);
  CHECK(murmur2(as_bytes("abc")) == 479470107);
}

TEST_CASE("murmur2 treats bytes >= 0x80 like Java's masked signed bytes", "[protocol][murmur2]") {
  // Values from kafka-python 2.0.2 (kafka.partitioner.default.murmur2, a
  // port of the Java code), converted to signed 32-bit.
  CHECK(murmur2(Bytes{}) == 275646681);
  CHECK(murmur2(Bytes{0xff, 0x80, 0x7f, 0x00, 0xfe}) == -1958495739);
  CHECK(murmur2(Bytes{0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9}) == -166236347);
  CHECK(murmur2(Bytes{0xe9, 't', 0xe9}) == 647591054);
}

TEST_CASE("partition_for_key is the default partitioner's choice", "[protocol][murmur2]") {
  // murmur2("abc") = 479470107 (positive): % 3 = 0, % 7 = 4.
  CHECK(partition_for_key(as_bytes("abc"), 3) == 0);
  CHECK(partition_for_key(as_bytes("abc"), 7) == 4);
  // murmur2("21") = -973932308; & 0x7fffffff = 1173551340 (not abs()).
  CHECK(partition_for_key(as_bytes("21"), 7) == 1173551340 % 7);
  rc::prop("partition_for_key is within [0, partitions)", [](const Bytes& key, std::uint16_t n) {
    const std::int32_t partitions = n % 1000 + 1;
    const std::int32_t p = partition_for_key(key, partitions);
    RC_ASSERT(p >= 0);
    RC_ASSERT(p < partitions);
  });
}
