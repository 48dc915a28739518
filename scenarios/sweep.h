#pragma once
// Sweeps that check themselves: many seeds of one scenario on J threads; a
// sample of the seeds (and every failing seed) runs a second time and must
// give the same trace hash, else the sweep has found nondeterminism. Any
// exception escaping a run becomes that seed's internal_error verdict.
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "scenarios/scenario.h"

namespace samsa::scenarios {

struct SweepProgress {
  std::size_t done = 0;
  std::size_t total = 0;
  std::size_t failed = 0;  // seeds with a verdict other than ok so far
  double seeds_per_s = 0;
  double eta_s = 0;
  bool rechecking = false;
};

struct SweepOptions {
  std::vector<std::uint64_t> seeds;
  unsigned jobs = 1;
  double recheck = 0.05;  // fraction of seeds run twice (failing and demonstrating seeds always are)
  // Called after each run, under a lock (e.g. to draw a progress line).
  std::function<void(const SweepProgress&)> progress;
};

struct SeedOutcome {
  RunReport report;
  std::optional<std::uint64_t> recheck_hash;  // the second run's trace hash
  bool mismatch() const { return recheck_hash && *recheck_hash != report.trace_hash; }
};

struct SweepResult {
  std::vector<SeedOutcome> outcomes;  // in seed order
  std::size_t rechecked = 0;
  std::size_t mismatched = 0;
  std::int64_t wall_ms = 0;
};

// Whether `seed` is in the recheck sample of fraction p (the same seeds on
// every machine and shard).
bool in_recheck_sample(std::uint64_t seed, double p);

SweepResult sweep(const Scenario& s, const SweepOptions& options);

}  // namespace samsa::scenarios
