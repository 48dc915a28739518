#pragma once
// Time as the runtime hands it out. Durations are std::chrono; a node's
// monotonic clock reads as a Duration since the node's clock epoch.
#include <chrono>
#include <cstdint>

namespace samsa::sim {

using Duration = std::chrono::nanoseconds;
using namespace std::chrono_literals;

// A point on a node's monotonic clock (timeouts, deadlines, timers).
struct MonoTime {
  Duration since_epoch{0};
  friend auto operator<=>(MonoTime, MonoTime) = default;
  friend MonoTime operator+(MonoTime t, Duration d) { return {t.since_epoch + d}; }
  friend Duration operator-(MonoTime a, MonoTime b) { return a.since_epoch - b.since_epoch; }
};

inline std::int64_t to_ms(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace samsa::sim
