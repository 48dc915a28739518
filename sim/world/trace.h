#pragma once
// The running trace hash: every scheduling decision and delivered event folds
// into one 64-bit value, so two runs agree byte for byte or visibly differ.
#include <cstdint>

namespace samsa::sim {

enum class TraceKind : std::uint8_t {
  pick = 1,
  timer,
  deliver,
  conn_reset,
  crash,
  restart,
  disk_crash,
  fault,
  user,
  cancel,
  disk_write,
};

class Trace {
 public:
  void fold(TraceKind kind, std::uint64_t a, std::uint64_t b = 0);
  std::uint64_t hash() const { return hash_; }
  std::uint64_t events() const { return events_; }

 private:
  std::uint64_t hash_ = 0x5a5a5a5a5a5a5a5aull;
  std::uint64_t events_ = 0;
};

}  // namespace samsa::sim
