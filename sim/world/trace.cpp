#include "sim/world/trace.h"

#include <xxhash.h>

namespace samsa::sim {

void Trace::fold(TraceKind kind, std::uint64_t a, std::uint64_t b) {
  const std::uint64_t words[3] = {static_cast<std::uint64_t>(kind), a, b};
  hash_ = XXH3_64bits_withSeed(words, sizeof words, hash_);
  ++events_;
}

}  // namespace samsa::sim
