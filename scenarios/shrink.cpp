#include "scenarios/shrink.h"

#include <fmt/format.h>

#include <algorithm>

#include "scenarios/workload.h"

namespace samsa::scenarios {

namespace {

struct Candidate {
  std::vector<Override> overrides;
  Schedule schedule;
};

class Shrinker {
 public:
  Shrinker(const Scenario& s, std::uint64_t seed, const ShrinkOptions& options)
      : base_(s), seed_(seed), options_(options) {}

  // Runs a candidate; the report when it still shows the target violation.
  std::optional<RunReport> fails(const Candidate& c) {
    if (runs_ >= options_.max_runs) return std::nullopt;
    ++runs_;
    auto s = scenario_of(c);
    if (!s) return std::nullopt;
    RunOptions o;
    o.seed = seed_;
    o.schedule = c.schedule;
    RunReport r = run_guarded(*s, o);
    if (!r.bad_input.empty()) return std::nullopt;
    if (internal_) return r.verdict == Verdict::internal_error ? std::optional(r) : std::nullopt;
    for (const auto* list : {&r.violations, &r.demonstrated})
      for (const auto& v : *list)
        if (v.name == name_ && v.kind == kind_) return r;
    return std::nullopt;
  }

  std::optional<Scenario> scenario_of(const Candidate& c) const {
    auto s = scenario_from_text(base_.text, base_.origin, base_.name, c.overrides);
    if (!s) return std::nullopt;
    return std::move(*s);
  }

  void set_target(const RunReport& r) {
    internal_ = r.verdict == Verdict::internal_error;
    if (!internal_) {
      // A failing violation first; else the anomaly the run demonstrated.
      const auto& v = r.violations.empty() ? r.demonstrated.front() : r.violations.front();
      name_ = v.name;
      kind_ = v.kind;
    }
  }
  std::string target() const {
    return internal_ ? "internal_error" : fmt::format("{} {}", to_string(kind_), name_);
  }
  bool liveness() const { return !internal_ && kind_ == invariants::Kind::liveness; }
  std::size_t runs() const { return runs_; }
  void log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }

 private:
  const Scenario& base_;
  std::uint64_t seed_;
  ShrinkOptions options_;
  std::size_t runs_ = 0;
  bool internal_ = false;
  std::string name_;
  invariants::Kind kind_ = invariants::Kind::safety;
};

Candidate with(Candidate c, const std::string& key, std::int64_t value) {
  std::erase_if(c.overrides, [&key](const Override& o) { return o.key == key; });
  c.overrides.push_back({key, std::to_string(value)});
  return c;
}

// ddmin over the fault events: try dropping each of n chunks (keeping the
// complement); on success keep the smaller schedule, else split finer.
void drop_faults(Shrinker& sh, Candidate& best, RunReport& report) {
  std::size_t n = 2;
  while (best.schedule.size() >= 1) {
    const std::size_t size = best.schedule.size();
    const std::size_t chunk = (size + n - 1) / n;
    bool reduced = false;
    for (std::size_t start = 0; start < size; start += chunk) {
      Candidate c = best;
      c.schedule.erase(c.schedule.begin() + static_cast<std::ptrdiff_t>(start),
                       c.schedule.begin() + static_cast<std::ptrdiff_t>(std::min(size, start + chunk)));
      if (auto r = sh.fails(c)) {
        sh.log(fmt::format("dropped {} fault{}: {} left", size - c.schedule.size(),
                           size - c.schedule.size() == 1 ? "" : "s", c.schedule.size()));
        best = std::move(c);
        report = std::move(*r);
        n = std::max<std::size_t>(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (reduced) continue;
    if (chunk <= 1) break;
    n = std::min(size, n * 2);
  }
}

// Two faults of one nemesis on one target as one: the pairs closest in time
// first, the first merge that still fails kept, then again.
void merge_faults(Shrinker& sh, Candidate& best, RunReport& report) {
  for (bool merged_one = true; merged_one;) {
    merged_one = false;
    std::vector<std::pair<std::size_t, std::size_t>> pairs;
    for (std::size_t i = 0; i < best.schedule.size(); ++i)
      for (std::size_t j = i + 1; j < best.schedule.size(); ++j)
        if (merged(best.schedule, i, j)) pairs.emplace_back(i, j);
    std::stable_sort(pairs.begin(), pairs.end(), [&](const auto& a, const auto& b) {
      return best.schedule[a.second].at_ms - best.schedule[a.first].at_ms <
             best.schedule[b.second].at_ms - best.schedule[b.first].at_ms;
    });
    for (const auto& [i, j] : pairs) {
      Candidate c = best;
      c.schedule = *merged(best.schedule, i, j);
      if (auto r = sh.fails(c)) {
        sh.log(fmt::format("merged faults {} and {} ({} on {}): {} left", i, j, best.schedule[i].fault,
                           best.schedule[i].node, c.schedule.size()));
        best = std::move(c);
        report = std::move(*r);
        merged_one = true;
        break;
      }
    }
  }
}

// A fault moved halfway towards a neighbour, kept only when another fault
// can then be dropped: each accepted step removes one fault, so the loop
// ends; the run budget bounds each pass.
void move_then_drop(Shrinker& sh, Candidate& best, RunReport& report) {
  auto s = sh.scenario_of(best);
  if (!s) return;
  const std::int64_t phase_ms = s->spec.fault_phase_ms;
  const auto accept = [&](Candidate& c, RunReport& r, const std::string& what) {
    sh.log(fmt::format("{}: {} left", what, c.schedule.size()));
    best = std::move(c);
    report = std::move(r);
  };
  for (bool dropped = true; dropped && best.schedule.size() > 1;) {
    dropped = false;
    // A fault dropped while its neighbours take its place in time.
    for (std::size_t j = 0; j < best.schedule.size() && !dropped; ++j)
      for (const bool tail : {true, false}) {
        auto moved = dropped_in_place(best.schedule, j, tail);
        if (!moved) continue;
        Candidate c = best;
        c.schedule = std::move(*moved);
        if (auto r = sh.fails(c)) {
          accept(c, *r, fmt::format("dropped {}, the faults {} it moved to {} ms", to_string(best.schedule[j]),
                                    tail ? "after" : "before", best.schedule[j].at_ms));
          dropped = true;
          break;
        }
      }
    for (std::size_t i = 0; i < best.schedule.size() && !dropped; ++i) {
      for (const std::int64_t at : shift_times(best.schedule, i, phase_ms)) {
        for (std::size_t j = 0; j < best.schedule.size() && !dropped; ++j) {
          if (j == i) continue;  // the moved fault itself stays
          Schedule without = best.schedule;
          without.erase(without.begin() + static_cast<std::ptrdiff_t>(j));
          Candidate c = best;
          c.schedule = shifted(without, j < i ? i - 1 : i, at);
          if (auto r = sh.fails(c)) {
            accept(c, *r, fmt::format("moved fault {} ({} on {}) to {} ms and dropped {}", i,
                                      best.schedule[i].fault, best.schedule[i].node, at, to_string(best.schedule[j])));
            dropped = true;
          }
        }
        if (dropped) break;
      }
    }
  }
}

void shorten_durations(Shrinker& sh, Candidate& best, RunReport& report) {
  for (std::size_t i = 0; i < best.schedule.size(); ++i) {
    while (best.schedule[i].duration_ms > 1) {
      Candidate c = best;
      c.schedule[i].duration_ms /= 2;
      auto r = sh.fails(c);
      if (!r) break;
      sh.log(fmt::format("fault {} ({}) lasts {} ms", i, c.schedule[i].fault, c.schedule[i].duration_ms));
      best = std::move(c);
      report = std::move(*r);
    }
  }
}

// The smallest value of an integer --set key in [lo, current] that still
// fails, by bisection (assuming that shorter rarely fails again once it stopped).
void bisect_key(Shrinker& sh, Candidate& best, RunReport& report, const std::string& key,
                std::int64_t lo, std::int64_t current, const char* what) {
  std::int64_t hi = current;  // fails
  while (lo < hi) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    Candidate c = with(best, key, mid);
    if (auto r = sh.fails(c)) {
      hi = mid;
      best = std::move(c);
      report = std::move(*r);
    } else {
      lo = mid + 1;
    }
  }
  if (hi < current) sh.log(fmt::format("{} {} ms (was {})", what, hi, current));
}

void cut_run_short(Shrinker& sh, const Scenario& base, Candidate& best, RunReport& report) {
  auto s = sh.scenario_of(best);
  if (!s) return;
  std::int64_t last_fault_ms = 0;
  for (const auto& e : best.schedule) last_fault_ms = std::max(last_fault_ms, e.at_ms + 1);
  bisect_key(sh, best, report, "faults.phase_ms", last_fault_ms, s->spec.fault_phase_ms,
             "fault phase");
  if (!sh.liveness())  // liveness is judged in the healed phase: keep it whole
    bisect_key(sh, best, report, "faults.heal_ms", 0, s->spec.heal_ms, "healed phase");
  (void)base;
}

void fewer_records(Shrinker& sh, Candidate& best, RunReport& report) {
  auto s = sh.scenario_of(best);
  if (!s) return;
  if (const WorkloadType* w = find_workload(s->spec.workload))
    for (const auto& key : w->shrinkable) {
      const auto v = s->spec.workload_options.value(key, std::int64_t{0});
      if (v > 1) bisect_key(sh, best, report, "workload." + key, 1, v, key.c_str());
    }
  // Fewer nodes: the smallest cluster the schedule's nodes still exist in.
  if (report.details.contains("nodes") && report.details["nodes"].is_number_integer()) {
    const std::int64_t nodes = report.details["nodes"].get<std::int64_t>();
    for (std::int64_t k = std::max<std::int64_t>(1, static_cast<std::int64_t>(s->spec.nodes.lo)); k < nodes; ++k) {
      Candidate c = with(best, "cluster.nodes", k);
      if (auto r = sh.fails(c)) {
        sh.log(fmt::format("{} nodes (was {})", k, nodes));
        best = std::move(c);
        report = std::move(*r);
        break;
      }
    }
  }
}

}  // namespace

std::optional<Schedule> merged(const Schedule& s, std::size_t i, std::size_t j) {
  if (i == j || i >= s.size() || j >= s.size()) return std::nullopt;
  const FaultEvent& a = s[std::min(i, j)];
  const FaultEvent& b = s[std::max(i, j)];
  if (a.fault != b.fault || a.node != b.node || a.peer != b.peer || a.params != b.params) return std::nullopt;
  if (a.duration_ms <= 0 || b.duration_ms <= 0) return std::nullopt;  // instants do not span
  FaultEvent one = a;
  one.at_ms = std::min(a.at_ms, b.at_ms);
  one.duration_ms = std::max(a.at_ms + a.duration_ms, b.at_ms + b.duration_ms) - one.at_ms;
  Schedule out;
  for (std::size_t k = 0; k < s.size(); ++k)
    if (k != i && k != j) out.push_back(s[k]);
  out.push_back(one);
  std::stable_sort(out.begin(), out.end(), [](const FaultEvent& x, const FaultEvent& y) { return x.at_ms < y.at_ms; });
  return out;
}

std::optional<Schedule> dropped_in_place(const Schedule& s, std::size_t j, bool tail) {
  if (j >= s.size() || (tail && j + 1 >= s.size()) || (!tail && j == 0)) return std::nullopt;
  const std::int64_t delta = tail ? s[j].at_ms - s[j + 1].at_ms : s[j].at_ms - s[j - 1].at_ms;
  Schedule out;
  for (std::size_t k = 0; k < s.size(); ++k) {
    if (k == j) continue;
    FaultEvent e = s[k];
    if (tail ? k > j : k < j) e.at_ms = std::max<std::int64_t>(0, e.at_ms + delta);
    out.push_back(std::move(e));
  }
  std::stable_sort(out.begin(), out.end(), [](const FaultEvent& x, const FaultEvent& y) { return x.at_ms < y.at_ms; });
  return out;
}

Schedule shifted(const Schedule& s, std::size_t i, std::int64_t at_ms) {
  SAMSA_ASSERT(i < s.size(), "shifted: an event of the schedule");
  Schedule out = s;
  out[i].at_ms = std::max<std::int64_t>(0, at_ms);
  std::stable_sort(out.begin(), out.end(), [](const FaultEvent& x, const FaultEvent& y) { return x.at_ms < y.at_ms; });
  return out;
}

std::vector<std::int64_t> shift_times(const Schedule& s, std::size_t i, std::int64_t phase_ms) {
  SAMSA_ASSERT(i < s.size(), "shift_times: an event of the schedule");
  const std::int64_t at = s[i].at_ms;
  const std::int64_t before = i == 0 ? 0 : s[i - 1].at_ms;
  // The event must end inside the fault phase.
  const std::int64_t latest = std::max<std::int64_t>(at, phase_ms - std::max<std::int64_t>(1, s[i].duration_ms));
  const std::int64_t after = i + 1 < s.size() ? std::min(s[i + 1].at_ms, latest) : latest;
  std::vector<std::int64_t> out;
  for (const std::int64_t t : {before + (at - before) / 2, at + (after - at) / 2})
    if (t != at && std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  return out;
}

Result<ShrinkResult, std::string> shrink(const Scenario& s, std::uint64_t seed,
                                         const Schedule& schedule, const ShrinkOptions& options) {
  Shrinker sh(s, seed, options);
  RunOptions o;
  o.seed = seed;
  o.schedule = schedule;
  ShrinkResult result;
  result.before = run_guarded(s, o);
  if (!result.before.bad_input.empty()) return Err(result.before.bad_input);
  if (result.before.verdict == Verdict::ok && result.before.demonstrated.empty())
    return Err(std::string("the run neither fails nor demonstrates an anomaly: nothing to shrink"));
  if (result.before.verdict != Verdict::internal_error && result.before.violations.empty() &&
      result.before.demonstrated.empty())
    return Err(std::string("the run fails without a named violation"));
  sh.set_target(result.before);
  result.target = sh.target();

  Candidate best{s.overrides, schedule};
  RunReport report = result.before;
  // Repeat while a round still shrinks something: a shorter run may let more
  // faults go, fewer faults may let durations shrink further.
  for (int round = 0; round < 3; ++round) {
    const auto size_before = best.schedule.size();
    const auto overrides_before = best.overrides.size();
    std::int64_t total_before = 0;
    for (const auto& e : best.schedule) total_before += e.duration_ms;
    drop_faults(sh, best, report);
    merge_faults(sh, best, report);
    move_then_drop(sh, best, report);
    shorten_durations(sh, best, report);
    cut_run_short(sh, s, best, report);
    fewer_records(sh, best, report);
    std::int64_t total_after = 0;
    for (const auto& e : best.schedule) total_after += e.duration_ms;
    if (best.schedule.size() == size_before && total_after == total_before &&
        best.overrides.size() == overrides_before && round > 0)
      break;
  }
  auto shrunk = sh.scenario_of(best);
  SAMSA_ASSERT(shrunk.has_value(), "a shrunk candidate that failed parses");
  result.scenario = std::move(*shrunk);
  result.after = std::move(report);
  result.runs = sh.runs();
  return result;
}

}  // namespace samsa::scenarios
