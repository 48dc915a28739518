// samsa check HISTORY.jsonl: every history checker over a recorded history
// (from a simulated run's --history, or later from live mode).
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>

#include "invariants/checker.h"
#include "scenarios/scenario.h"
#include "tools/commands.h"

namespace samsa::tools {

namespace {

struct CheckArgs {
  std::string file;
  std::vector<std::string> allow;
  bool json = false;
};

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
  const auto violations = invariants::run_checkers(*h);
  std::map<std::string, std::vector<const invariants::Violation*>> anomalies;
  std::vector<invariants::Violation> counted;
  for (const auto& v : violations) {
    anomalies[v.name].push_back(&v);
    if (std::find(a.allow.begin(), a.allow.end(), v.name) == a.allow.end()) counted.push_back(v);
  }
  const auto verdict = scenarios::verdict_of(counted);
  if (a.json) {
    nlohmann::json j = {{"anomalies", nlohmann::json::object()},
                        {"verdict", std::string(scenarios::to_string(verdict))},
                        {"allowed", a.allow},
                        {"ops", h->size()}};
    for (const auto& [name, cases] : anomalies)
      for (const auto* v : cases) j["anomalies"][name].push_back(invariants::to_json(*v));
    std::cout << j.dump() << "\n";
  } else {
    fmt::print("history   {} ({} ops)\n", a.file, h->size());
    fmt::print("verdict   {}\n", scenarios::to_string(verdict));
    for (const auto& [name, cases] : anomalies) {
      const bool allowed = std::find(a.allow.begin(), a.allow.end(), name) != a.allow.end();
      fmt::print("{:<22}{} case{}{}\n", name, cases.size(), cases.size() == 1 ? "" : "s",
                 allowed ? " (allowed)" : "");
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
  c.app->add_flag("--json", a->json, "print {anomalies: {name: [cases]}, verdict}");
  c.run = [a] { return run_check(*a); };
  return c;
}

}  // namespace samsa::tools
