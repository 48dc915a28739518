// The registries: built-in scenarios (TOML files compiled in), workloads, and
// verdicts and reports as JSON.
#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>

#include "scenarios/scenario.h"
#include "scenarios/workload.h"

namespace samsa::scenarios {

// Generated at build time from scenarios/**/*.toml (cmake/embed_scenarios.cmake):
// (path under scenarios/, file text).
const std::vector<std::pair<std::string, std::string>>& builtin_scenario_files();

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::ok: return "ok";
    case Verdict::safety: return "safety";
    case Verdict::liveness: return "liveness";
    case Verdict::internal_error: return "internal_error";
  }
  return "unknown";
}

std::optional<Verdict> verdict_from_string(std::string_view s) {
  for (Verdict v : {Verdict::ok, Verdict::safety, Verdict::liveness, Verdict::internal_error})
    if (to_string(v) == s) return v;
  return std::nullopt;
}

int exit_code(Verdict v) {
  switch (v) {
    case Verdict::ok: return 0;
    case Verdict::safety: return 1;
    case Verdict::liveness: return 3;
    case Verdict::internal_error: return 4;
  }
  return 4;
}

Verdict verdict_of(const std::vector<invariants::Violation>& violations) {
  bool liveness = false;
  for (const auto& v : violations) {
    if (v.kind == invariants::Kind::safety) return Verdict::safety;
    liveness = true;
  }
  return liveness ? Verdict::liveness : Verdict::ok;
}

std::vector<std::string> RunReport::shown() const {
  std::vector<std::string> out;
  for (const auto& name : demonstrates)
    for (const auto& v : demonstrated)
      if (v.name == name) {
        out.push_back(name);
        break;
      }
  return out;
}

std::string trace_hash_hex(std::uint64_t h) { return fmt::format("{:016x}", h); }

nlohmann::json to_json(const RunReport& r) {
  nlohmann::json j;
  j["scenario"] = r.scenario;
  j["seed"] = r.seed;
  j["verdict"] = std::string(to_string(r.verdict));
  j["trace_hash"] = trace_hash_hex(r.trace_hash);
  j["events"] = r.events;
  j["virtual_time_ms"] = r.virtual_time_ms;
  j["wall_ms"] = r.wall_ms;
  j["violations"] = nlohmann::json::array();
  for (const auto& v : r.violations) j["violations"].push_back(invariants::to_json(v));
  j["expected"] = r.expected;
  j["demonstrated"] = nlohmann::json::array();
  for (const auto& v : r.demonstrated) j["demonstrated"].push_back(invariants::to_json(v));
  j["demonstration"] = nullptr;
  if (!r.demonstrates.empty()) {
    const auto found = r.shown();
    j["demonstration"] = {{"anomalies", r.demonstrates}, {"shown", !found.empty()}, {"found", found}};
  }
  if (!r.internal_error.empty()) j["internal_error"] = r.internal_error;
  j["schedule"] = to_json(r.schedule);
  j["details"] = r.details;
  return j;
}

// --- workloads -------------------------------------------------------------------

namespace {

std::mutex& workload_mutex() {
  static std::mutex m;
  return m;
}

std::deque<WorkloadType>& workloads() {
  static std::deque<WorkloadType> all = {pingpong_workload(), controller_election_workload(),
                                         kafka_workload(), eos_workload(), mirror_workload()};
  return all;
}

}  // namespace

std::optional<std::pair<std::string, std::string>> component_key(const WorkloadType& w, const std::string& key) {
  if (w.config.contains(key)) return std::nullopt;  // read as written
  const auto dot = key.find('.');
  if (dot == std::string::npos) return std::nullopt;
  const auto c = w.components.find(key.substr(0, dot));
  if (c == w.components.end()) return std::nullopt;
  std::string rest = key.substr(dot + 1);
  if (std::find(c->second.begin(), c->second.end(), rest) == c->second.end()) return std::nullopt;
  return std::make_pair(c->first, std::move(rest));
}

std::vector<std::string> workload_names() {
  std::lock_guard lock(workload_mutex());
  std::vector<std::string> v;
  for (const auto& w : workloads()) v.push_back(w.name);
  std::sort(v.begin(), v.end());
  return v;
}

const WorkloadType* find_workload(const std::string& name) {
  std::lock_guard lock(workload_mutex());
  for (const auto& w : workloads())
    if (w.name == name) return &w;
  return nullptr;
}

void register_workload(WorkloadType t) {
  std::lock_guard lock(workload_mutex());
  for (auto& w : workloads())
    if (w.name == t.name) {
      w = std::move(t);
      return;
    }
  workloads().push_back(std::move(t));
}

// --- scenarios -----------------------------------------------------------------

Result<Scenario, SpecError> scenario_from_text(const std::string& text, const std::string& origin,
                                               const std::string& default_name,
                                               const std::vector<Override>& overrides) {
  auto spec = parse_scenario(text, origin, default_name, overrides);
  if (!spec) return Err(spec.error());
  Scenario s;
  s.name = spec->name;
  s.description = spec->description;
  s.text = text;
  s.origin = origin;
  s.overrides = overrides;
  s.spec = std::move(*spec);
  return s;
}

const std::vector<Scenario>& builtin_scenarios() {
  static const std::vector<Scenario> all = [] {
    std::vector<Scenario> v;
    for (const auto& [path, text] : builtin_scenario_files()) {
      const std::string name = path.substr(0, path.size() - std::string_view(".toml").size());
      auto s = scenario_from_text(text, "scenarios/" + path, name);
      if (!s) ::samsa::assert_fail("a built-in scenario parses", __FILE__, __LINE__, s.error().to_string().c_str());
      SAMSA_ASSERT(s->name == name, "a built-in scenario's name is its path");
      v.push_back(std::move(*s));
    }
    std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.name < b.name; });
    return v;
  }();
  return all;
}

const Scenario* find_scenario(std::string_view name) {
  for (const auto& s : builtin_scenarios())
    if (s.name == name) return &s;
  return nullptr;
}

Result<Scenario, SpecError> load_scenario(const std::string& target,
                                          const std::vector<Override>& overrides) {
  if (const Scenario* s = find_scenario(target)) {
    if (overrides.empty()) return *s;
    return scenario_from_text(s->text, s->origin, s->name, overrides);
  }
  std::ifstream in(target);
  if (!in)
    return Err(SpecError{target, target.ends_with(".toml")
                                     ? "cannot read this scenario file"
                                     : "no scenario named so (see `samsa list`) and no such file"});
  std::stringstream text;
  text << in.rdbuf();
  return scenario_from_text(text.str(), target, target, overrides);
}

}  // namespace samsa::scenarios
