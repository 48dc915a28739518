// samsa zoo: how fast each known anomaly is found (scenarios/zoo.h): the
// legacy switches' bugs and the anomalies Kafka's configurations allow.
#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <thread>

#include "scenarios/zoo.h"
#include "tools/commands.h"

namespace samsa::tools {

namespace {

using namespace samsa::scenarios;

struct ZooArgs {
  std::vector<std::string> only;
  bool json = false;
  std::uint64_t max_seeds = 200;
  std::uint64_t control_seeds = 5;
  unsigned jobs = 0;
  bool no_shrink = false;
  std::size_t shrink_runs = 150;
};

std::string control_text(const ZooResult& r) {
  if (r.legacy_switch.empty() || r.control_runs == 0) return "-";
  if (r.control_failed.empty()) return fmt::format("{}/{} held", r.control_runs, r.control_runs);
  return fmt::format("{} {} (seed {})", r.control_failed.size(), to_string(r.control_worst), r.control_failed.front());
}

void print_row(const ZooResult& r) {
  const std::string shrunk = r.faults_shrunk ? fmt::format("{} -> {}", r.faults, *r.faults_shrunk)
                                             : r.found ? fmt::format("{}", r.faults) : "-";
  fmt::print("{:<38} {:<42} {:<16} {:<22} {:>5} {:>8.1f}  {:<9} {}\n", r.scenario,
             r.legacy_switch.empty() ? "-" : r.legacy_switch, r.issue.empty() ? "-" : r.issue,
             r.found ? r.caught_by : "NOT FOUND", r.found ? std::to_string(*r.seed) : "-", r.seconds, shrunk,
             control_text(r));
  if (!r.internal_error.empty()) fmt::print("  internal error: {}\n", r.internal_error);
  if (!r.deterministic) fmt::print("  seed {} gave two trace hashes\n", *r.seed);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int exit_code_of(const std::vector<ZooResult>& results) {
  bool safety = false, liveness = false;
  for (const auto& r : results) {
    if (!r.internal_error.empty() || r.control_worst == Verdict::internal_error || !r.deterministic) return 4;
    // A known anomaly not found is the testbed failing its own check.
    if (!r.found || r.control_worst == Verdict::safety) safety = true;
    if (r.control_worst == Verdict::liveness) liveness = true;
  }
  return safety ? 1 : liveness ? 3 : 0;
}

int run_zoo(const ZooArgs& a) {
  for (const auto& name : a.only)
    if (!find_scenario(name) || find_scenario(name)->spec.demonstrates.empty()) {
      fmt::print(stderr, "samsa zoo: '{}' is no built-in scenario that demonstrates an anomaly (see `samsa zoo`)\n",
                 name);
      return 2;
    }
  ZooOptions o;
  o.max_seeds = a.max_seeds;
  o.control_seeds = a.control_seeds;
  o.jobs = a.jobs ? a.jobs : std::max(1u, std::thread::hardware_concurrency());
  o.shrink = !a.no_shrink;
  o.shrink_runs = a.shrink_runs;
  if (!a.json && isatty(STDERR_FILENO))
    o.progress = [](const std::string& line) { fmt::print(stderr, "\r\033[K{}", line); };
  if (!a.json)
    fmt::print("{:<38} {:<42} {:<16} {:<22} {:>5} {:>8}  {:<9} {}\n", "scenario", "switch", "issue", "caught by",
               "seed", "seconds", "faults", "switch off");
  std::vector<ZooResult> results;
  std::vector<double> seconds;
  std::size_t found = 0;
  for (const Scenario* s : zoo_scenarios(a.only)) {
    results.push_back(run_zoo_entry(*s, o));
    if (o.progress) fmt::print(stderr, "\r\033[K");
    const auto& r = results.back();
    if (r.found) {
      ++found;
      seconds.push_back(r.seconds);
    }
    if (!a.json) print_row(r);
  }
  if (a.json) {
    nlohmann::json j = {{"entries", nlohmann::json::array()},
                        {"found", found},
                        {"total", results.size()},
                        {"median_seconds", median(seconds)},
                        {"jobs", o.jobs},
                        {"max_seeds", o.max_seeds}};
    for (const auto& r : results) j["entries"].push_back(to_json(r));
    std::cout << j.dump() << "\n";
  } else {
    fmt::print("found     {} of {}, median {:.1f} s to find ({} jobs, up to {} seeds each)\n", found, results.size(),
               median(seconds), o.jobs, o.max_seeds);
    for (const auto& r : results)
      if (r.seed) fmt::print("replay    samsa run {} --seed {}\n", r.scenario, *r.seed);
  }
  return exit_code_of(results);
}

}  // namespace

Command add_zoo_command(CLI::App& app) {
  auto a = std::make_shared<ZooArgs>();
  Command c;
  c.app = app.add_subcommand("zoo", "how fast each known anomaly and legacy bug is found, shrunk and checked");
  c.app->add_option("scenarios", a->only, "only these zoo scenarios (default: every scenario that demonstrates one)");
  c.app->add_flag("--json", a->json, "print one JSON object");
  c.app->add_option("--max-seeds", a->max_seeds, "seeds tried per entry before it counts as not found (200)");
  c.app->add_option("--control-seeds", a->control_seeds, "runs with the legacy switch off, which must hold (5)");
  c.app->add_option("--jobs", a->jobs, "worker threads (default: all cores)");
  c.app->add_flag("--no-shrink", a->no_shrink, "do not shrink the run that found it");
  c.app->add_option("--shrink-runs", a->shrink_runs, "bound on the shrinker's runs per entry (150)");
  c.run = [a] { return run_zoo(*a); };
  return c;
}

}  // namespace samsa::tools
