#include "scenarios/sweep.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace samsa::scenarios {

bool in_recheck_sample(std::uint64_t seed, double p) {
  if (p >= 1) return true;
  if (p <= 0) return false;
  // splitmix64: a fixed, well-spread function of the seed.
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<double>(z % 1'000'000) < p * 1'000'000;
}

namespace {

// Runs fn(i) for i in [0, n) on `jobs` threads.
template <class F>
void parallel_for(std::size_t n, unsigned jobs, F fn) {
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < n;) fn(i);
  };
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < std::max(1u, jobs); ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
}

}  // namespace

SweepResult sweep(const Scenario& s, const SweepOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  SweepResult result;
  result.outcomes.resize(options.seeds.size());
  std::mutex mutex;
  SweepProgress progress;
  auto tick = [&](bool failed) {
    std::lock_guard lock(mutex);
    ++progress.done;
    if (failed) ++progress.failed;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    progress.seeds_per_s = elapsed > 0 ? static_cast<double>(progress.done) / elapsed : 0;
    progress.eta_s = progress.seeds_per_s > 0
                         ? static_cast<double>(progress.total - progress.done) / progress.seeds_per_s
                         : 0;
    if (options.progress) options.progress(progress);
  };

  progress.total = options.seeds.size();
  parallel_for(options.seeds.size(), options.jobs, [&](std::size_t i) {
    RunOptions o;
    o.seed = options.seeds[i];
    result.outcomes[i].report = run_guarded(s, o);
    tick(result.outcomes[i].report.verdict != Verdict::ok);
  });

  // The second runs: same seed, same saved schedule, must give the same trace.
  std::vector<std::size_t> again;
  for (std::size_t i = 0; i < result.outcomes.size(); ++i)
    if (result.outcomes[i].report.verdict != Verdict::ok || !result.outcomes[i].report.demonstrated.empty() ||
        in_recheck_sample(options.seeds[i], options.recheck))
      again.push_back(i);
  {
    std::lock_guard lock(mutex);
    progress.rechecking = true;
    progress.total += again.size();
  }
  parallel_for(again.size(), options.jobs, [&](std::size_t k) {
    SeedOutcome& out = result.outcomes[again[k]];
    RunOptions o;
    o.seed = out.report.seed;
    out.recheck_hash = run_guarded(s, o).trace_hash;
    tick(false);
  });
  result.rechecked = again.size();
  for (const auto& o : result.outcomes) result.mismatched += o.mismatch() ? 1 : 0;
  result.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  return result;
}

}  // namespace samsa::scenarios
