// samsa shrink FAILURE-FILE [-o OUT]: the smallest schedule and run that still
// show the failure's violation, written as a replayable failure file.
#include <fmt/format.h>

#include <iostream>

#include "scenarios/failure_file.h"
#include "scenarios/shrink.h"
#include "tools/commands.h"
#include "tools/run_common.h"

namespace samsa::tools {

namespace {

using namespace samsa::scenarios;

struct ShrinkArgs {
  std::string file;
  std::string out;
  bool json = false;
};

void describe(const char* label, const Scenario& s, const RunReport& r) {
  fmt::print("{}: {} faults, fault phase {} ms, healed phase {} ms, {} ms virtual\n", label,
             r.schedule.size(), s.spec.fault_phase_ms, s.spec.heal_ms, r.virtual_time_ms);
  for (const auto& e : r.schedule) fmt::print("    {}\n", to_string(e));
  if (!s.overrides.empty()) {
    fmt::print("  overrides:");
    for (const auto& o : s.overrides) fmt::print(" --set {}", o.text());
    fmt::print("\n");
  }
  if (!r.violations.empty()) fmt::print("  first violation: {}\n", r.violations.front().to_string());
  else if (!r.demonstrated.empty()) fmt::print("  first demonstrated: {}\n", r.demonstrated.front().to_string());
}

int run_shrink(const ShrinkArgs& a) {
  auto f = read_failure_file(a.file);
  if (!f) {
    fmt::print(stderr, "samsa shrink: {}\n", f.error());
    return 2;
  }
  if (!f->schedule) {
    fmt::print(stderr, "samsa shrink: {} has no saved schedule (written by an older samsa)\n", a.file);
    return 2;
  }
  ShrinkOptions options;
  if (!a.json) options.log = [](const std::string& line) { fmt::print(stderr, "  shrink: {}\n", line); };
  auto r = shrink(f->scenario, f->seed, *f->schedule, options);
  if (!r) {
    fmt::print(stderr, "samsa shrink: {}: {}\n", a.file, r.error());
    return 2;
  }
  std::string out = a.out;
  if (out.empty()) {
    out = a.file;
    if (out.ends_with(".json")) out.resize(out.size() - 5);
    out += ".min.json";
  }
  const std::string error = write_failure_file(out, r->scenario, r->after);
  if (!error.empty()) {
    fmt::print(stderr, "samsa shrink: {}\n", error);
    return 2;
  }
  if (a.json) {
    std::cout << nlohmann::json{{"target", r->target},
                                {"runs", r->runs},
                                {"before", {{"faults", r->before.schedule.size()},
                                            {"virtual_time_ms", r->before.virtual_time_ms}}},
                                {"after", {{"faults", r->after.schedule.size()},
                                           {"virtual_time_ms", r->after.virtual_time_ms},
                                           {"schedule", to_json(r->after.schedule)}}},
                                {"file", out}}
                     .dump()
              << "\n";
  } else {
    fmt::print("shrinking {} seed {} while \"{}\" appears ({} runs)\n", f->scenario.name, f->seed,
               r->target, r->runs);
    describe("before", f->scenario, r->before);
    describe("after ", r->scenario, r->after);
    fmt::print("wrote {}: samsa replay {}\n", out, out);
  }
  return 0;
}

}  // namespace

Command add_shrink_command(CLI::App& app) {
  auto a = std::make_shared<ShrinkArgs>();
  Command c;
  c.app = app.add_subcommand("shrink", "minimise a failure file's schedule and run (delta debugging)");
  c.app->add_option("failure-file", a->file, "a failure file (sweep --out, run --out)")->required();
  c.app->add_option("-o,--out", a->out, "where to write the shrunk failure file (default FILE.min.json)");
  c.app->add_flag("--json", a->json, "print one JSON object");
  c.run = [a] { return run_shrink(*a); };
  return c;
}

}  // namespace samsa::tools
