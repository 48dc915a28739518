// Whole scenarios as users run them: wall time and scheduler events per
// second for one seed of every built-in Kafka scenario, and the standard
// scenario (scenarios/bench/standard.toml: 3 brokers RF=3, 2 idempotent
// producers, a group of 3, 6 partitions, crashes + partitions + lost acks,
// 60 virtual seconds) at 100 and 1,000 records/s, and swept on 2 threads.
//   counters: virtual_to_wall (virtual seconds per wall second), events_per_s,
//             wall_ms (per run), max_rss_mib (peak resident memory of the
//             process so far), seeds_per_min (the sweep)
// Goals (issue 14): standard scenario on one core >= 2,000x at 100 records/s
// and >= 200x at 1,000; >= 1,000 seeds/min on 2 cores; <= 64 MiB per cluster.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <chrono>

#include "scenarios/scenario.h"
#include "scenarios/sweep.h"

namespace {

using namespace samsa::scenarios;

double max_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // KiB on Linux
}

Scenario load(const std::string& name, std::vector<Override> overrides = {}) {
  auto s = load_scenario(name, overrides);
  if (!s) throw std::runtime_error(s.error().to_string());
  return std::move(*s);
}

void run_scenario(benchmark::State& state, const Scenario& s) {
  std::uint64_t seed = 1;
  double virtual_ms = 0, wall_ms = 0;
  std::uint64_t events = 0, runs = 0;
  for (auto _ : state) {
    RunOptions o;
    o.seed = seed++;
    const RunReport r = run_guarded(s, o);
    if (r.verdict == Verdict::internal_error) state.SkipWithError(r.internal_error.c_str());
    virtual_ms += static_cast<double>(r.virtual_time_ms);
    wall_ms += static_cast<double>(r.wall_ms);
    events += r.events;
    ++runs;
  }
  state.counters["virtual_to_wall"] = benchmark::Counter(virtual_ms / 1000.0, benchmark::Counter::kIsRate);
  state.counters["events_per_s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["wall_ms"] = runs ? wall_ms / static_cast<double>(runs) : 0;
  state.counters["max_rss_mib"] = max_rss_mib();
}

void BM_standard(benchmark::State& state) {
  // records/s in all, over the two producers
  const auto rate = static_cast<double>(state.range(0)) / 2;
  run_scenario(state, load("bench/standard", {{"workload.rate_per_s", std::to_string(rate)}}));
}
BENCHMARK(BM_standard)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_standard_sweep(benchmark::State& state) {
  const Scenario s = load("bench/standard");
  std::uint64_t from = 1, seeds = 0;
  for (auto _ : state) {
    SweepOptions o;
    o.jobs = 2;
    o.recheck = 0;
    for (std::uint64_t k = 0; k < 8; ++k) o.seeds.push_back(from++);
    seeds += sweep(s, o).outcomes.size();
  }
  state.counters["seeds_per_min"] = benchmark::Counter(static_cast<double>(seeds) * 60, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_standard_sweep)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

// One benchmark per built-in Kafka scenario: the library's table. Registered
// from main, not during static initialisation (the scenarios parse then).
void register_scenarios() {
  for (const auto& s : builtin_scenarios())
    if (s.spec.workload == "kafka" && s.name != "bench/standard")
      benchmark::RegisterBenchmark(("BM_scenario/" + s.name).c_str(),
                                   [&s](benchmark::State& st) { run_scenario(st, s); })
          ->Unit(benchmark::kMillisecond)
          ->Iterations(2);
}

}  // namespace

// Our own main (the linker then leaves benchmark_main's out).
int main(int argc, char** argv) {
  register_scenarios();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
