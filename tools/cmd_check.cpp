// samsa check HISTORY.jsonl: every history checker over a recorded history
// (from a simulated run's --history, or later from live mode).
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

#include "invariants/checker.h"
#include "invariants/expectations.h"
#include "invariants/kafka_checkers.h"
#include "invariants/timeline.h"
#include "scenarios/scenario.h"
#include "tools/commands.h"

namespace samsa::tools {

namespace {

struct CheckArgs {
  std::string file;
  std::vector<std::string> allow;
  std::vector<std::string> sets;  // KEY=VALUE: the run's configuration, for expectations_for
  std::string timeline;           // FILE.html
  bool json = false;
};

// The configuration given with --set, as expectations_for reads it.
nlohmann::json config_of(const std::vector<std::string>& sets) {
  nlohmann::json c = nlohmann::json::object();
  for (const auto& kv : sets) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
    if (key == "nemeses") {
      c["nemeses"] = nlohmann::json::array();
      std::size_t from = 0;
      while (from <= value.size()) {
        const auto comma = value.find(',', from);
        const std::string name = value.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
        if (!name.empty()) c["nemeses"].push_back(name);
        if (comma == std::string::npos) break;
        from = comma + 1;
      }
    } else {
      c[key] = value;
    }
  }
  return c;
}

void print_delivery(const invariants::DeliverySummary& d) {
  if (!d.kafka) return;
  auto held = [](bool b) { return b ? "held" : "violated"; };
  fmt::print("at-most-once   {} ({} duplicated in the log, {} redelivered)\n", held(d.at_most_once), d.duplicated,
             d.redelivered);
  fmt::print("at-least-once  {} ({} acked, {} consumed, {} lost, {} unseen)\n", held(d.at_least_once), d.acked,
             d.consumed, d.lost, d.unseen);
  fmt::print("exactly-once   {}\n", held(d.exactly_once()));
  for (const auto& p : d.partitions)
    fmt::print("  {}-{:<10} {} records, order {}{}\n", p.topic, p.partition, p.records,
               p.ordered() ? "held" : fmt::format("violated ({} cases)", p.order_violations),
               p.skips ? fmt::format(", {} skips", p.skips) : "");
}

int run_check(const CheckArgs& a) {
  std::ifstream in(a.file);
  if (!in) {
    fmt::print(stderr, "samsa check: {}: cannot read\n", a.file);
    return 2;
  }
  auto h = invariants::History::read_jsonl(in, a.file);
  if (!h) {
    fmt::print(stderr, "samsa check: {}\n", h.error().to_string());
    return 2;
  }
  const invariants::SharedAnalysis one_analysis(*h);  // for the checkers and the delivery summary
  const auto violations = invariants::run_checkers(*h);
  std::vector<std::string> allow = a.allow;
  std::optional<invariants::Expectations> expected;
  if (!a.sets.empty()) {
    expected = invariants::expectations_for(config_of(a.sets));
    for (const auto& [name, reason] : expected->allowed) allow.push_back(name);
  }
  std::map<std::string, std::vector<const invariants::Violation*>> anomalies;
  std::vector<invariants::Violation> counted;
  for (const auto& v : violations) {
    anomalies[v.name].push_back(&v);
    if (std::find(allow.begin(), allow.end(), v.name) == allow.end()) counted.push_back(v);
  }
  const auto delivery = invariants::delivery_summary(*h);
  if (!a.timeline.empty()) {
    std::ofstream out(a.timeline);
    out << invariants::render_timeline(*h, violations, {a.file});
    if (!out) {
      fmt::print(stderr, "samsa check: cannot write {}\n", a.timeline);
      return 2;
    }
  }
  const auto verdict = scenarios::verdict_of(counted);
  if (a.json) {
    nlohmann::json j = {{"anomalies", nlohmann::json::object()},
                        {"verdict", std::string(scenarios::to_string(verdict))},
                        {"allowed", a.allow},
                        {"ops", h->size()},
                        {"delivery", invariants::to_json(delivery)}};
    if (expected) j["expected"] = invariants::to_json(*expected);
    if (!h->header().is_null()) j["header"] = h->header();
    for (const auto& [name, cases] : anomalies)
      for (const auto* v : cases) j["anomalies"][name].push_back(invariants::to_json(*v));
    std::cout << j.dump() << "\n";
  } else {
    fmt::print("history   {} ({} ops)\n", a.file, h->size());
    if (const auto& run = h->header(); run.is_object())  // what ran: a live workload's scenario, seed and --set
      fmt::print("run       {} {} seed {}{}\n", run.value("run", ""), run.value("scenario", ""),
                 run.contains("seed") ? run["seed"].dump() : "?",
                 run.value("sets", nlohmann::json::array()).empty()
                     ? ""
                     : fmt::format(" --set {}", fmt::join(run["sets"].get<std::vector<std::string>>(), " --set ")));
    fmt::print("verdict   {}\n", scenarios::to_string(verdict));
    print_delivery(delivery);
    for (const auto& [name, cases] : anomalies) {
      const bool allowed = std::find(allow.begin(), allow.end(), name) != allow.end();
      std::string why;
      if (expected && expected->allows(name)) why = ": " + expected->allowed.at(name);
      fmt::print("{:<22}{} case{}{}{}\n", name, cases.size(), cases.size() == 1 ? "" : "s",
                 allowed ? " (allowed" : "", allowed ? why + ")" : "");
      for (std::size_t i = 0; i < cases.size() && i < 5; ++i)
        fmt::print("  {}\n", cases[i]->to_string());
    }
  }
  return scenarios::exit_code(verdict);
}

}  // namespace

Command add_check_command(CLI::App& app) {
  auto a = std::make_shared<CheckArgs>();
  Command c;
  c.app = app.add_subcommand("check", "run the history checkers over a recorded history");
  c.app->add_option("history", a->file, "a history in JSON lines (run --history FILE)")->required();
  c.app->add_option("--allow", a->allow, "an anomaly that does not fail the check (repeatable)");
  c.app->add_option("--set", a->sets,
                    "KEY=VALUE of the run's configuration (Kafka keys, samsa.delivery, nemeses=crash,partition): "
                    "anomalies it permits are allowed (repeatable)");
  c.app->add_option("--timeline", a->timeline, "write a picture of the history and its violations (HTML, inline SVG)");
  c.app->add_flag("--json", a->json, "print {anomalies: {name: [cases]}, verdict, delivery}");
  c.run = [a] { return run_check(*a); };
  return c;
}

}  // namespace samsa::tools
