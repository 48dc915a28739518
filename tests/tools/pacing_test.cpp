// scenarios/kafka/pacing.h: a live producer's sends are due at absolute deadlines, so
// sleeps that overshoot do not slow the rate (the 450/s producer that ran at
// about 300/s).
#include "scenarios/kafka/pacing.h"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using samsa::sim::Duration;
using samsa::sim::MonoTime;
using samsa::scenarios::kafka::Pacer;

TEST_CASE("pacing: each send is due at start plus the gaps before it, whatever the sleeps overshot", "[tools]") {
  const MonoTime start{10s};
  Pacer pacer(start);
  MonoTime now = start;
  const Duration gap = std::chrono::microseconds(2222);  // 450/s
  for (int i = 1; i <= 450; ++i) {
    const MonoTime due = pacer.next(gap, now);
    CHECK(due == start + gap * i);
    now = std::max(now, due) + 1ms;  // the sleep woke 1 ms late
  }
  // 450 sends took one second of deadlines, not 450 x (gap + 1 ms).
  CHECK(pacer.next(gap, now) == start + gap * 451);
}

TEST_CASE("pacing: far behind (a send that blocked), the next is due now, not a burst to catch up", "[tools]") {
  const MonoTime start{0s};
  Pacer pacer(start, 1s);
  CHECK(pacer.next(10ms, start) == start + 10ms);
  const MonoTime late = start + 5s;  // blocked for five seconds
  CHECK(pacer.next(10ms, late) == late);
  CHECK(pacer.next(10ms, late) == late + 10ms);
  // Behind by less than the bound: catch up (due in the past, sent at once).
  CHECK(pacer.next(10ms, late + 500ms) == late + 20ms);
}
