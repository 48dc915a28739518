// samsa list / run / replay.
#include <fmt/format.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "invariants/timeline.h"
#include "scenarios/trace_diff.h"
#include "tools/commands.h"
#include "tools/run_common.h"

namespace samsa::tools {

using namespace samsa::scenarios;

std::optional<std::vector<Override>> parse_overrides(const std::vector<std::string>& sets) {
  std::vector<Override> out;
  for (const auto& s : sets) {
    auto o = parse_override(s);
    if (!o) {
      fmt::print(stderr, "samsa: {}\n", o.error());
      return std::nullopt;
    }
    out.push_back(*o);
  }
  return out;
}

std::optional<Scenario> load_or_complain(const std::string& target,
                                         const std::vector<std::string>& sets) {
  auto overrides = parse_overrides(sets);
  if (!overrides) return std::nullopt;
  auto s = load_scenario(target, *overrides);
  if (!s) {
    if (s.error().where == target && !target.ends_with(".toml"))
      fmt::print(stderr, "samsa: no scenario named '{}' (see `samsa list`)\n", target);
    else
      fmt::print(stderr, "samsa: {}\n", s.error().to_string());
    return std::nullopt;
  }
  return std::move(*s);
}

// The allowed anomalies the run showed, by name with the configuration's
// reason, and whether the scenario's declared demonstration was among them.
void print_demonstrated(const RunReport& r) {
  std::map<std::string, std::vector<const invariants::Violation*>> by_name;
  for (const auto& v : r.demonstrated) by_name[v.name].push_back(&v);
  const nlohmann::json allowed = r.expected.value("allowed", nlohmann::json::object());
  for (const auto& [name, cases] : by_name) {
    fmt::print("demonstrated: {} ({} case{}; allowed: {})\n", name, cases.size(), cases.size() == 1 ? "" : "s",
               allowed.value(name, std::string("by the configuration")));
    fmt::print("  {}\n", cases.front()->to_string());
  }
  if (r.demonstrates.empty() || r.verdict == Verdict::internal_error) return;
  const auto shown = r.shown();
  if (shown.empty())
    fmt::print("demonstrates {}: not shown by this seed (try `samsa sweep {} --seeds 1..20`)\n",
               fmt::join(r.demonstrates, " | "), r.scenario);
  else
    fmt::print("demonstrates {}: shown ({})\n", fmt::join(r.demonstrates, " | "), fmt::join(shown, ", "));
}

void print_report(const RunReport& r) {
  fmt::print("scenario  {}\n", r.scenario);
  fmt::print("seed      {}\n", r.seed);
  fmt::print("verdict   {}{}\n", to_string(r.verdict),
             r.demonstrated.empty() ? "" : " (with anomalies the configuration allows: demonstrated below)");
  fmt::print("trace     {}\n", trace_hash_hex(r.trace_hash));
  fmt::print("events    {}\n", r.events);
  fmt::print("virtual   {} ms\n", r.virtual_time_ms);
  fmt::print("wall      {} ms\n", r.wall_ms);
  for (const auto& [k, v] : r.details.items())
    if (k != "stuck") fmt::print("  {:<18} {}\n", k, v.dump());
  for (std::size_t i = 0; i < r.violations.size() && i < 10; ++i)
    fmt::print("violation: {}\n", r.violations[i].to_string());
  if (r.violations.size() > 10)
    fmt::print("violation: ... and {} more (--json lists them)\n",
               r.details.value("violations_total", r.violations.size()) - 10);
  print_demonstrated(r);
  if (r.details.contains("stuck")) fmt::print("{}\n", r.details["stuck"].get<std::string>());
  if (!r.internal_error.empty()) fmt::print("internal error: {}\n", r.internal_error);
}

std::string failure_file_name(const RunReport& r) {
  std::string name = r.scenario;
  for (char& c : name)
    if (c == '/' || c == '.' || c == ' ') c = '_';
  return fmt::format("{}-seed{}.json", name, r.seed);
}

namespace {

namespace fs = std::filesystem;

struct RunArgs {
  std::string target;
  std::uint64_t seed = 1;
  bool seed_given = false;
  std::vector<std::string> sets;
  bool json = false;
  std::string level = "off";
  std::string save_disks;
  std::string history;
  std::string out;
  std::string trace;
  std::string trace_diff;
  std::string timeline;  // replay --timeline FILE.html
};

// The history file a run writes: --history, or a temp file for --timeline alone.
std::string history_file(const RunArgs& a) {
  if (!a.history.empty() || a.timeline.empty()) return a.history;
  return (fs::temp_directory_path() / fmt::format("samsa-timeline-{}.jsonl", ::getpid())).string();
}

// Renders the run's timeline from the history it wrote; false (and a message) when it cannot.
bool write_timeline(const RunReport& r, const std::string& history, const RunArgs& a) {
  std::ifstream in(history);
  auto h = invariants::History::read_jsonl(in, history);
  if (history != a.history) fs::remove(history);
  if (!h) {
    fmt::print(stderr, "samsa: --timeline: {}\n", h.error().to_string());
    return false;
  }
  invariants::TimelineOptions o;
  o.title = fmt::format("{} seed {} ({})", r.scenario, r.seed, to_string(r.verdict));
  std::ofstream out(a.timeline);
  out << invariants::render_timeline(*h, r.violations, o);
  if (!out) {
    fmt::print(stderr, "samsa: --timeline: cannot write {}\n", a.timeline);
    return false;
  }
  if (!a.json) fmt::print(stderr, "timeline written to {}\n", a.timeline);
  return true;
}

void add_common(CLI::App* c, RunArgs& a) {
  c->add_option("--set", a.sets, "override a scenario or Kafka config key: KEY=VALUE (repeatable)");
  c->add_flag("--json", a.json, "print one JSON object");
  c->add_option("--save-disks", a.save_disks,
                "write each node's durable disk contents under DIR/<node>/");
  c->add_option("--history", a.history, "write the run's history (JSON lines) to FILE");
  c->add_option("--out", a.out, "write the run's failure file (replayable) into DIR");
  c->add_option("--trace", a.trace, "write every traced event of the run to FILE (JSON lines)");
  c->add_option("--trace-diff", a.trace_diff,
                "name the first event at which this run and OTHER part (OTHER: a --trace file or a "
                "failure file)");
}

// The trace of OTHER: read from a --trace file, or recorded by replaying a
// failure file as saved.
std::optional<sim::TraceLog> other_trace(const std::string& other) {
  std::string error;
  if (other.ends_with(".jsonl")) {
    auto log = read_trace_jsonl(other, error);
    if (!log) fmt::print(stderr, "samsa: {}\n", error);
    return log;
  }
  auto f = read_failure_file(other);
  if (!f) {
    fmt::print(stderr, "samsa: --trace-diff {}: {}\n", other, f.error());
    return std::nullopt;
  }
  sim::TraceLog log;
  RunOptions o;
  o.seed = f->seed;
  o.schedule = f->schedule;
  o.trace_log = &log;
  run_guarded(f->scenario, o);
  return log;
}

// After a run recorded into `log`: --trace writes it, --trace-diff compares
// it. Returns the diff (null when not asked) or nullopt on bad input.
std::optional<nlohmann::json> trace_outputs(const RunArgs& a, const sim::TraceLog& log) {
  if (!a.trace.empty()) {
    const std::string error = write_trace_jsonl(a.trace, log);
    if (!error.empty()) fmt::print(stderr, "samsa: {}\n", error);
  }
  if (a.trace_diff.empty()) return nlohmann::json(nullptr);
  auto other = other_trace(a.trace_diff);
  if (!other) return std::nullopt;
  nlohmann::json diff = trace_diff(log, *other);
  if (!a.json) fmt::print("{}", trace_diff_text(diff, a.trace_diff));
  return diff;
}

// Runs with the trace recorded when --trace or --trace-diff asks for it.
struct TracedRun {
  RunReport report;
  nlohmann::json diff;  // null unless --trace-diff
  bool bad_input = false;
};

TracedRun run_traced(const Scenario& s, RunOptions o, const RunArgs& a) {
  TracedRun t;
  if (a.trace.empty() && a.trace_diff.empty()) {
    t.report = run_guarded(s, o);
    return t;
  }
  sim::TraceLog log;
  o.trace_log = &log;
  t.report = run_guarded(s, o);
  auto diff = trace_outputs(a, log);
  t.bad_input = !diff.has_value();
  if (diff) t.diff = std::move(*diff);
  return t;
}

int finish(const Scenario& s, const TracedRun& t, const RunArgs& a) {
  const RunReport& r = t.report;
  if (t.bad_input) return 2;
  if (!r.bad_input.empty()) {
    fmt::print(stderr, "samsa: {}\n", r.bad_input);
    return 2;
  }
  if (!a.out.empty()) {
    std::error_code ec;
    fs::create_directories(a.out, ec);
    const std::string file = (fs::path(a.out) / failure_file_name(r)).string();
    const std::string error = write_failure_file(file, s, r);
    if (!error.empty()) fmt::print(stderr, "samsa: {}\n", error);
  }
  if (a.json) {
    nlohmann::json j = to_json(r);
    if (!t.diff.is_null()) j["trace_diff"] = t.diff;
    std::cout << j.dump() << "\n";
  } else {
    print_report(r);
  }
  if (r.verdict == Verdict::internal_error)
    fmt::print(stderr, "samsa: internal error in scenario {} seed {}: replay with `samsa replay {} --seed {}`\n",
               r.scenario, r.seed, s.origin.ends_with(".toml") && !find_scenario(s.name) ? s.origin : s.name,
               r.seed);
  return exit_code(r.verdict);
}

int run(const RunArgs& a) {
  auto s = load_or_complain(a.target, a.sets);
  if (!s) return 2;
  RunOptions o;
  o.seed = a.seed;
  o.log_level = a.level;
  o.save_disks_dir = a.save_disks;
  o.history_path = history_file(a);
  const TracedRun t = run_traced(*s, o, a);
  if (!a.timeline.empty() && t.report.bad_input.empty() && !write_timeline(t.report, o.history_path, a)) return 2;
  return finish(*s, t, a);
}

int replay(const RunArgs& a) {
  const bool is_file = find_scenario(a.target) == nullptr && !a.target.ends_with(".toml");
  if (!is_file) return run(a);
  auto f = read_failure_file(a.target);
  if (!f) {
    fmt::print(stderr, "samsa replay: {}\n", f.error());
    return 2;
  }
  Scenario s = f->scenario;
  if (!a.sets.empty()) {  // more overrides on top of the saved ones
    auto more = parse_overrides(a.sets);
    if (!more) return 2;
    auto overrides = s.overrides;
    overrides.insert(overrides.end(), more->begin(), more->end());
    auto again = scenario_from_text(s.text, s.origin, s.name, overrides);
    if (!again) {
      fmt::print(stderr, "samsa: {}\n", again.error().to_string());
      return 2;
    }
    s = std::move(*again);
  }
  RunOptions o;
  o.seed = a.seed_given ? a.seed : f->seed;
  o.log_level = a.level;
  o.save_disks_dir = a.save_disks;
  o.history_path = history_file(a);
  o.schedule = f->schedule;
  if (!a.json) {
    fmt::print(stderr, "replaying {} seed {} with the saved schedule ({} faults)\n", s.name, o.seed,
               f->schedule ? f->schedule->size() : 0);
    if (f->schedule)
      for (const auto& e : *f->schedule) fmt::print(stderr, "  {}\n", to_string(e));
  }
  const TracedRun t = run_traced(s, o, a);
  const RunReport& r = t.report;
  if (!a.json && f->recorded.contains("trace_hash")) {
    const std::string recorded = f->recorded["trace_hash"].get<std::string>();
    if (recorded == trace_hash_hex(r.trace_hash))
      fmt::print(stderr, "trace hash {} matches the recorded run\n", recorded);
    else
      fmt::print(stderr, "trace hash {} differs from the recorded {}{}\n", trace_hash_hex(r.trace_hash),
                 recorded, f->build_id != build_id() ? " (recorded by another build: " + f->build_id + ")" : "");
  }
  if (!a.timeline.empty() && r.bad_input.empty() && !write_timeline(r, o.history_path, a)) return 2;
  return finish(s, t, a);
}

}  // namespace

Command add_list_command(CLI::App& app) {
  Command c;
  c.app = app.add_subcommand("list", "list the built-in scenarios");
  c.run = [] {
    for (const auto& s : builtin_scenarios()) fmt::print("{:<44} {}\n", s.name, s.description);
    return 0;
  };
  return c;
}

Command add_run_command(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  Command c;
  c.app = app.add_subcommand("run", "run one scenario with one seed");
  c.app->add_option("scenario", a->target, "a scenario name (see `samsa list`) or a .toml file")
      ->required();
  c.app->add_option("--seed", a->seed, "the seed");
  c.app->add_option("--log-level", a->level, "off, error, warn, info, debug or trace")
      ->check(CLI::IsMember({"off", "error", "warn", "info", "debug", "trace"}));
  add_common(c.app, *a);
  c.run = [a] { return run(*a); };
  return c;
}

Command add_replay_command(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  a->level = "debug";
  Command c;
  c.app = app.add_subcommand("replay", "rerun a failure file's saved schedule (or a seed) with full logs");
  c.app->add_option("target", a->target, "a failure file, or a scenario name with --seed")->required();
  c.app->add_option("--seed", a->seed, "the seed (with a scenario name)")
      ->each([a](const std::string&) { a->seed_given = true; });
  c.app->add_option("--log-level", a->level, "log level (default debug)")
      ->check(CLI::IsMember({"off", "error", "warn", "info", "debug", "trace"}));
  c.app->add_option("--timeline", a->timeline,
                    "write a picture of the run (one HTML page, inline SVG): ops per process, faults, violations");
  add_common(c.app, *a);
  c.run = [a] { return replay(*a); };
  return c;
}

}  // namespace samsa::tools
