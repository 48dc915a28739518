#pragma once
#include "sim/world/world.h"

namespace samsa::testing {

using namespace samsa::sim;
using samsa::Bytes;
using samsa::ByteView;

inline WorldConfig quiet_config(std::uint64_t seed) {
  WorldConfig c;
  c.seed = seed;
  c.log_level = "off";
  return c;
}

// Counts live instances: proves destructors ran when a fiber unwound.
struct Alive {
  explicit Alive(int& count) : count_(count) { ++count_; }
  ~Alive() { --count_; }
  int& count_;
};

}  // namespace samsa::testing
