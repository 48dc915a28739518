#pragma once
// Pacing a live producer by absolute deadlines: send i is due at the start
// plus the sum of the gaps before it, not a gap after whenever the last
// sleep happened to end. A real clock's sleep overshoots (about 1 ms here),
// so relative sleeps ran a 450/s producer at about 300/s; with deadlines an
// overshoot is made up by the next send (Kafka's ThroughputThrottler in
// ProducerPerformance paces the same way). The simulated workload's sleeps
// end exactly on virtual time and keep relative sleeps (and their traces).
#include <chrono>

#include "sim/runtime/time.h"

namespace samsa::scenarios::kafka {

class Pacer {
 public:
  explicit Pacer(sim::MonoTime start, sim::Duration max_behind = std::chrono::seconds(1))
      : due_(start), max_behind_(max_behind) {}

  // The next send's due time: `gap` after the previous due time. More than
  // max_behind late (a send that blocked, a paused process), it starts again
  // from `now` instead of catching up with a burst.
  sim::MonoTime next(sim::Duration gap, sim::MonoTime now) {
    due_ = due_ + gap;
    if (now - due_ > max_behind_) due_ = now;
    return due_;
  }

 private:
  sim::MonoTime due_;
  sim::Duration max_behind_;
};

}  // namespace samsa::scenarios::kafka
