#include "scenarios/report.h"

#include "scenarios/disk_image.h"

namespace samsa::scenarios {

RunReport make_report(std::string scenario, std::uint64_t seed, sim::World& world,
                      const sim::RunResult& result, std::vector<std::string> violations,
                      const std::string& save_disks_dir) {
  RunReport report;
  report.scenario = std::move(scenario);
  report.seed = seed;
  report.trace_hash = world.trace_hash();
  report.events = world.events();
  report.virtual_time_ms = sim::to_ms(world.now());
  bool safety = false;
  bool liveness = false;
  for (const auto& v : violations) (v.starts_with("liveness") ? liveness : safety) = true;
  report.violations = std::move(violations);
  if (result.reason == sim::StopReason::stuck) {
    liveness = true;
    report.violations.push_back("liveness: the run is stuck:\n" + result.report);
  }
  if (result.reason == sim::StopReason::internal_error) {
    report.verdict = Verdict::internal_error;
    report.violations.push_back(result.report);
  } else {
    report.verdict = safety ? Verdict::safety : liveness ? Verdict::liveness : Verdict::ok;
  }
  if (!save_disks_dir.empty()) {
    const std::string error = save_disk_images(world, save_disks_dir);
    if (!error.empty()) report.violations.push_back("saving disks failed: " + error);
  }
  return report;
}

}  // namespace samsa::scenarios
