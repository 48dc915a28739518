// The simulated runtime's raw speed: fiber switches, virtual timer events,
// frames through the simulated network, and pingpong's virtual/wall ratio.
// Goals (issue 4): >= 15 M switches/s, >= 7 M timer events/s, >= 2 M frames/s.
#include <benchmark/benchmark.h>

#include <chrono>

#include "scenarios/scenario.h"
#include "sim/world/world.h"

namespace {

using namespace samsa::sim;

WorldConfig bench_config() {
  WorldConfig c;
  c.seed = 1;
  return c;
}

void BM_fiber_switches(benchmark::State& state) {
  const int fibers = static_cast<int>(state.range(0));
  const int rounds = 10'000;
  std::int64_t switches = 0;
  for (auto _ : state) {
    World w(bench_config());
    for (int i = 0; i < fibers; ++i)
      w.spawn("y", [&w, rounds] {
        Runtime& rt = w.control();
        for (int k = 0; k < rounds; ++k) rt.yield();
      });
    w.run(1h);
    switches += std::int64_t{fibers} * rounds;
  }
  state.counters["switches/s"] = benchmark::Counter(static_cast<double>(switches),
                                                    benchmark::Counter::kIsRate);
}
BENCHMARK(BM_fiber_switches)->Arg(100)->Unit(benchmark::kMillisecond);

void BM_timer_events(benchmark::State& state) {
  const int fibers = static_cast<int>(state.range(0));
  const int rounds = 10'000;
  std::int64_t events = 0;
  for (auto _ : state) {
    World w(bench_config());
    for (int i = 0; i < fibers; ++i)
      w.spawn("t", [&w, i, rounds] {
        Runtime& rt = w.control();
        for (int k = 0; k < rounds; ++k) rt.sleep(std::chrono::microseconds(1 + (i * 7 + k) % 13));
      });
    w.run(24h);
    events += std::int64_t{fibers} * rounds;
  }
  state.counters["timer_events/s"] = benchmark::Counter(static_cast<double>(events),
                                                        benchmark::Counter::kIsRate);
}
BENCHMARK(BM_timer_events)->Arg(100)->Unit(benchmark::kMillisecond);

// One connection, 1 KiB frames: send -> deliver -> recv.
void BM_network_frames(benchmark::State& state) {
  const int frames = 200'000;
  std::int64_t delivered = 0;
  for (auto _ : state) {
    WorldConfig c = bench_config();
    c.network.buffer_bytes = 256 * 1024 * 1024;
    World w(c);
    std::int64_t got = 0;
    const NodeId s = w.add_node("s", [&](Runtime& rt) {
      auto l = rt.net().listen(1);
      auto conn = (*l)->accept();
      while ((*conn)->recv()) ++got;
    });
    const NodeId cl = w.add_node("c", [&](Runtime& rt) {
      samsa::Bytes frame(1024, 7);
      put_frame_size(frame, 0);
      auto conn = rt.net().connect({"s", 1});
      for (int i = 0; i < frames; ++i) {
        (void)(*conn)->send(frame);
        // Pace the sender so frames flow (steady state), not pile up.
        if (i % 64 == 63) rt.sleep(20us);
      }
      rt.sleep(1s);
      (*conn)->close();
    });
    w.start(s);
    w.start(cl);
    w.run(1h);
    delivered += got;
  }
  state.counters["frames/s"] = benchmark::Counter(static_cast<double>(delivered),
                                                  benchmark::Counter::kIsRate);
}
BENCHMARK(BM_network_frames)->Unit(benchmark::kMillisecond);

void BM_pingpong(benchmark::State& state) {
  std::uint64_t seed = 1;
  double virtual_ms = 0;
  std::uint64_t events = 0;
  for (auto _ : state) {
    samsa::scenarios::RunOptions o;
    o.seed = seed++;
    const auto r = samsa::scenarios::find_scenario("selftest/pingpong")->run(o);
    virtual_ms += static_cast<double>(r.virtual_time_ms);
    events += r.events;
  }
  // virtual ms per wall second / 1000 = virtual-to-wall ratio.
  state.counters["virtual_to_wall"] =
      benchmark::Counter(virtual_ms / 1000.0, benchmark::Counter::kIsRate);
  state.counters["events/s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_pingpong)->Unit(benchmark::kMillisecond);

}  // namespace
