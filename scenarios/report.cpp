#include "scenarios/report.h"

#include "scenarios/disk_image.h"

namespace samsa::scenarios {

RunReport make_report(std::string scenario, std::uint64_t seed, sim::World& world,
                      const sim::RunResult& result, std::vector<invariants::Violation> violations,
                      const std::string& save_disks_dir) {
  RunReport report;
  report.scenario = std::move(scenario);
  report.seed = seed;
  report.trace_hash = world.trace_hash();
  report.events = world.events();
  report.virtual_time_ms = sim::to_ms(world.now());
  report.violations = std::move(violations);
  if (result.reason == sim::StopReason::stuck) {
    report.violations.push_back(invariants::Violation::liveness(
        "stuck", "every fiber waits and nothing can wake them (details.stuck says on what)"));
    report.details["stuck"] = result.report;
  }
  report.verdict = verdict_of(report.violations);
  if (result.reason == sim::StopReason::internal_error) {
    report.verdict = Verdict::internal_error;
    report.internal_error = result.report;
  }
  if (!save_disks_dir.empty()) {
    const std::string error = save_disk_images(world, save_disks_dir);
    if (!error.empty()) report.details["save_disks_error"] = error;
  }
  return report;
}

invariants::Violation violation_from_text(const std::string& text) {
  const auto colon = text.find(": ");
  std::string name = colon == std::string::npos ? text : text.substr(0, colon);
  std::string why = colon == std::string::npos ? text : text.substr(colon + 2);
  return name == "liveness" ? invariants::Violation::liveness(std::move(name), std::move(why))
                            : invariants::Violation::safety(std::move(name), std::move(why));
}

RunReport make_report(std::string scenario, std::uint64_t seed, sim::World& world,
                      const sim::RunResult& result, const std::vector<std::string>& violations,
                      const std::string& save_disks_dir) {
  std::vector<invariants::Violation> typed;
  for (const auto& v : violations) typed.push_back(violation_from_text(v));
  return make_report(std::move(scenario), seed, world, result, std::move(typed), save_disks_dir);
}

}  // namespace samsa::scenarios
