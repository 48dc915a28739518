#pragma once
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
// Kafka's record batch v2. Uses the SSE4.2 crc32 instruction when the CPU has
// it (chosen at run time, no -march flag needed) and a table otherwise; both
// give the same value, so the choice never reaches a trace.
#include <cstdint>

#include "sim/runtime/bytes.h"

namespace samsa::protocol {

// `crc` is the CRC of the bytes before `data`, so
// crc32c(b, crc32c(a)) == crc32c(a ++ b). crc32c(empty) == 0.
// With SSE 4.2 it uses the crc32 instruction, inputs of 12 KiB and more as
// three interleaved chains (about three times one chain's speed).
std::uint32_t crc32c(ByteView data, std::uint32_t crc = 0);

// The table implementation alone (for tests and benchmarks).
std::uint32_t crc32c_portable(ByteView data, std::uint32_t crc = 0);

// Whether crc32c() uses the hardware instruction on this machine.
bool crc32c_uses_hardware();

}  // namespace samsa::protocol
