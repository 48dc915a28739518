#include "scenarios/zoo.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "scenarios/shrink.h"
#include "scenarios/sweep.h"

namespace samsa::scenarios {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void say(const ZooOptions& o, const std::string& line) {
  if (o.progress) o.progress(line);
}

// Seeds in order, `jobs` at a time (each batch a sweep, which also reruns
// every demonstrating seed: the found seed's determinism comes for free),
// until one demonstrates the scenario.
std::optional<SeedOutcome> first_showing(const Scenario& s, const ZooOptions& o, ZooResult& r) {
  const std::uint64_t batch = std::max(1u, o.jobs);
  const std::uint64_t budget = std::max(o.max_seeds, static_cast<std::uint64_t>(s.spec.zoo_max_seeds));
  for (std::uint64_t from = o.first_seed; from < o.first_seed + budget; from += batch) {
    SweepOptions so;
    so.jobs = o.jobs;
    so.recheck = 0;
    for (std::uint64_t seed = from; seed < from + batch && seed < o.first_seed + budget; ++seed)
      so.seeds.push_back(seed);
    const SweepResult sr = sweep(s, so);
    for (const auto& out : sr.outcomes) {  // in seed order
      ++r.seeds_tried;
      if (out.report.verdict == Verdict::internal_error) {
        r.internal_error = fmt::format("seed {}: {}", out.report.seed, out.report.internal_error);
        return std::nullopt;
      }
      if (!out.report.shown().empty()) return out;
    }
    say(o, fmt::format("{}: {} seeds, not yet", s.name, r.seeds_tried));
  }
  return std::nullopt;
}

void record_found(const SeedOutcome& out, ZooResult& r) {
  const RunReport& rep = out.report;
  r.found = true;
  r.seed = rep.seed;
  r.caught_by = rep.shown().front();
  for (const auto& v : rep.demonstrated)
    if (v.name == r.caught_by) {
      r.explanation = v.explanation;
      break;
    }
  r.faults = rep.schedule.size();
  r.deterministic = !out.mismatch();
}

void shrink_found(const Scenario& s, const RunReport& rep, const ZooOptions& o, ZooResult& r) {
  ShrinkOptions so;
  so.max_runs = o.shrink_runs;
  auto shrunk = shrink(s, rep.seed, rep.schedule, so);
  if (!shrunk) return;  // a demonstration that does not shrink keeps its own count
  r.faults_shrunk = shrunk->after.schedule.size();
  r.shrink_runs = shrunk->runs;
}

int rank(Verdict v) {  // internal_error > safety > liveness > ok
  switch (v) {
    case Verdict::ok: return 0;
    case Verdict::liveness: return 1;
    case Verdict::safety: return 2;
    case Verdict::internal_error: return 3;
  }
  return 3;
}

// The switch off: the found seed and the first others must hold.
void run_control(const Scenario& s, const ZooOptions& o, ZooResult& r) {
  auto overrides = s.overrides;
  overrides.push_back({r.legacy_switch, "false"});
  auto off = scenario_from_text(s.text, s.origin, s.name, overrides);
  if (!off) {
    r.internal_error = "control: " + off.error().to_string();
    return;
  }
  SweepOptions so;
  so.jobs = o.jobs;
  so.recheck = 0;
  if (r.seed) so.seeds.push_back(*r.seed);
  for (std::uint64_t seed = o.first_seed; so.seeds.size() < o.control_seeds; ++seed)
    if (!r.seed || seed != *r.seed) so.seeds.push_back(seed);
  const SweepResult sr = sweep(*off, so);
  for (const auto& out : sr.outcomes) {
    ++r.control_runs;
    const Verdict v = out.report.verdict;
    if (v == Verdict::ok) continue;
    r.control_failed.push_back(out.report.seed);
    if (rank(v) > rank(r.control_worst)) r.control_worst = v;
  }
}

}  // namespace

bool ZooResult::ok() const {
  return found && deterministic && control_failed.empty() && internal_error.empty();
}

std::vector<const Scenario*> zoo_scenarios(const std::vector<std::string>& only) {
  std::vector<const Scenario*> out;
  for (const auto& s : builtin_scenarios())
    if (!s.spec.demonstrates.empty() &&
        (only.empty() || std::find(only.begin(), only.end(), s.name) != only.end()))
      out.push_back(&s);
  std::sort(out.begin(), out.end(), [](const Scenario* a, const Scenario* b) { return a->name < b->name; });
  return out;
}

ZooResult run_zoo_entry(const Scenario& s, const ZooOptions& o) {
  ZooResult r;
  r.scenario = s.name;
  r.legacy_switch = s.spec.zoo_switch;
  r.issue = s.spec.zoo_issue;
  r.anomalies = s.spec.demonstrates;
  const auto start = Clock::now();
  const auto found = first_showing(s, o, r);
  r.seconds = seconds_since(start);
  if (found) {
    record_found(*found, r);
    say(o, fmt::format("{}: {} on seed {} after {:.1f} s", s.name, r.caught_by, *r.seed, r.seconds));
    if (o.shrink) shrink_found(s, found->report, o, r);
  }
  if (!r.legacy_switch.empty() && r.internal_error.empty() && o.control_seeds > 0) run_control(s, o, r);
  return r;
}

nlohmann::json to_json(const ZooResult& r) {
  nlohmann::json j = {{"scenario", r.scenario},
                      {"switch", r.legacy_switch.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.legacy_switch)},
                      {"issue", r.issue.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.issue)},
                      {"anomalies", r.anomalies},
                      {"found", r.found},
                      {"seed", r.seed ? nlohmann::json(*r.seed) : nlohmann::json(nullptr)},
                      {"caught_by", r.found ? nlohmann::json(r.caught_by) : nlohmann::json(nullptr)},
                      {"explanation", r.explanation},
                      {"seeds_tried", r.seeds_tried},
                      {"seconds", r.seconds},
                      {"faults", r.faults},
                      {"faults_shrunk", r.faults_shrunk ? nlohmann::json(*r.faults_shrunk) : nlohmann::json(nullptr)},
                      {"shrink_runs", r.shrink_runs},
                      {"deterministic", r.deterministic},
                      {"control", {{"runs", r.control_runs},
                                   {"failed_seeds", r.control_failed},
                                   {"verdict", std::string(to_string(r.control_worst))}}},
                      {"ok", r.ok()}};
  if (!r.internal_error.empty()) j["internal_error"] = r.internal_error;
  if (r.seed) j["replay"] = fmt::format("samsa run {} --seed {}", r.scenario, *r.seed);
  return j;
}

}  // namespace samsa::scenarios
