#pragma once
// Kafka's key hash: Utils.murmur2 of the Java client (MurmurHash2, seed
// 0x9747b28c), bit-exact, so that keys land on the same partitions as with
// Java, librdkafka (murmur2_random) and kafka-python producers.
#include <cstdint>

#include "sim/runtime/bytes.h"

namespace samsa::protocol {

// The same value Java's Utils.murmur2(byte[]) returns (a signed int).
std::int32_t murmur2(ByteView key);

// The default partitioner's choice for a non-null key:
// (murmur2(key) & 0x7fffffff) % partitions. `partitions` must be > 0.
std::int32_t partition_for_key(ByteView key, std::int32_t partitions);

}  // namespace samsa::protocol
