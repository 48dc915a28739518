#include "scenarios/failure_file.h"

#include <fmt/format.h>

#include <fstream>

namespace samsa::scenarios {

#ifndef SAMSA_BUILD_ID
#define SAMSA_BUILD_ID "unknown"
#endif

std::string build_id() {
  return fmt::format("samsa 0.1.0 {} {}.{} {}", SAMSA_BUILD_ID,
#if defined(__clang__)
                     "clang", __clang_major__, __clang_minor__,
#else
                     "gcc", __GNUC__, __GNUC_MINOR__,
#endif
                     sizeof(void*) == 8 ? "64-bit" : "32-bit");
}

nlohmann::json failure_json(const Scenario& s, const RunReport& r) {
  nlohmann::json j = to_json(r);
  j["format"] = "samsa-failure-1";
  j["scenario_origin"] = s.origin;
  if (!s.text.empty()) j["scenario_text"] = s.text;
  j["overrides"] = nlohmann::json::array();
  for (const auto& o : s.overrides) j["overrides"].push_back(o.text());
  j["build_id"] = build_id();
  return j;
}

std::string write_failure_file(const std::string& path, const Scenario& s, const RunReport& r) {
  nlohmann::json j = failure_json(s, r);
  j["replay"] = fmt::format("samsa replay {}", path);
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  return out ? "" : "cannot write " + path;
}

Result<FailureFile, std::string> read_failure_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Err(fmt::format("{}: cannot read", path));
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Err(fmt::format("{}: not a failure file (not JSON)", path));
  if (!j.contains("scenario") || !j["scenario"].is_string() || !j.contains("seed") ||
      !j["seed"].is_number_unsigned())
    return Err(fmt::format("{}: not a failure file (wants \"scenario\" and \"seed\")", path));
  std::vector<Override> overrides;
  for (const auto& o : j.value("overrides", nlohmann::json::array())) {
    auto parsed = o.is_string() ? parse_override(o.get<std::string>())
                                : Result<Override, std::string>(Err(std::string("not a string")));
    if (!parsed) return Err(fmt::format("{}: overrides: {}", path, parsed.error()));
    overrides.push_back(*parsed);
  }
  FailureFile f;
  const std::string name = j["scenario"].get<std::string>();
  if (j.contains("scenario_text") && j["scenario_text"].is_string() &&
      !j["scenario_text"].get<std::string>().empty()) {
    auto s = scenario_from_text(j["scenario_text"].get<std::string>(),
                                path + " (scenario_text)", name, overrides);
    if (!s) return Err(s.error().to_string());
    f.scenario = std::move(*s);
  } else {
    // An older failure file names a built-in scenario only.
    auto s = load_scenario(name, overrides);
    if (!s) return Err(s.error().to_string());
    f.scenario = std::move(*s);
  }
  f.seed = j["seed"].get<std::uint64_t>();
  if (j.contains("schedule")) {
    auto s = schedule_from_json(j["schedule"]);
    if (!s) return Err(fmt::format("{}: {}", path, s.error()));
    f.schedule = std::move(*s);
  }
  f.build_id = j.value("build_id", "");
  f.recorded = j;
  return f;
}

}  // namespace samsa::scenarios
