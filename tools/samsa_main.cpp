// The samsa command line. Exit codes (DESIGN.md): 0 all invariants held,
// 1 safety violation, 2 bad usage or input, 3 liveness violation, 4 internal
// error of samsa itself.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "scenarios/scenario.h"
#include "tools/commands.h"
#include "sim/runtime/assert.h"

namespace {

using namespace samsa::scenarios;

constexpr const char* k_version = "samsa 0.1.0";

void print_text(const RunReport& r) {
  fmt::print("scenario  {}\n", r.scenario);
  fmt::print("seed      {}\n", r.seed);
  fmt::print("verdict   {}\n", to_string(r.verdict));
  fmt::print("trace     {}\n", trace_hash_hex(r.trace_hash));
  fmt::print("events    {}\n", r.events);
  fmt::print("virtual   {} ms\n", r.virtual_time_ms);
  fmt::print("wall      {} ms\n", r.wall_ms);
  for (const auto& [k, v] : r.details.items()) fmt::print("  {:<18}{}\n", k, v.dump());
  for (const auto& v : r.violations) fmt::print("violation: {}\n", v);
}

RunReport run_timed(const Scenario& s, const RunOptions& o) {
  samsa::set_assert_context(
      fmt::format("scenario {} seed {}: replay with `samsa replay {} --seed {}`", s.name, o.seed,
                  s.name, o.seed));
  const auto start = std::chrono::steady_clock::now();
  RunReport r;
  try {
    r = s.run(o);
  } catch (const samsa::InternalError& e) {
    r.scenario = s.name;
    r.seed = o.seed;
    r.verdict = Verdict::internal_error;
    r.violations.push_back(e.message);
  }
  r.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  return r;
}

// `target` names a scenario, or a failure file (JSON with scenario and seed)
// written by `samsa sweep --out`; then both are read from it.
bool load_failure_file(std::string& target, std::uint64_t& seed) {
  if (find_scenario(target) != nullptr) return true;
  std::ifstream in(target);
  if (!in) {
    fmt::print(stderr, "samsa replay: '{}' is neither a scenario nor a readable file\n", target);
    return false;
  }
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("scenario") || !j.contains("seed") ||
      !j["scenario"].is_string() || !j["seed"].is_number_unsigned()) {
    fmt::print(stderr, "samsa replay: {}: not a failure file (wants \"scenario\" and \"seed\")\n",
               target);
    return false;
  }
  target = j["scenario"].get<std::string>();
  seed = j["seed"].get<std::uint64_t>();
  return true;
}

int cmd_list() {
  for (const auto& s : builtin_scenarios()) fmt::print("{:<24} {}\n", s.name, s.description);
  return 0;
}

int cmd_run(const std::string& name, std::uint64_t seed, bool json, const std::string& level,
            const std::string& save_disks) {
  const Scenario* s = find_scenario(name);
  if (s == nullptr) {
    fmt::print(stderr, "samsa: no scenario named '{}' (see `samsa list`)\n", name);
    return 2;
  }
  RunOptions o;
  o.seed = seed;
  o.log_level = level;
  o.save_disks_dir = save_disks;
  const RunReport r = run_timed(*s, o);
  if (json)
    std::cout << to_json(r).dump() << "\n";
  else
    print_text(r);
  return exit_code(r.verdict);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"samsa: a deterministic fault-injection testbed for Kafka-style systems"};
  app.set_version_flag("--version", k_version);
  app.require_subcommand(1);

  app.add_subcommand("list", "list the built-in scenarios");

  auto* run = app.add_subcommand("run", "run one scenario with one seed");
  std::string scenario;
  std::uint64_t seed = 1;
  bool json = false;
  std::string level = "off";
  run->add_option("scenario", scenario, "scenario name (see `samsa list`)")->required();
  run->add_option("--seed", seed, "the seed");
  run->add_flag("--json", json, "print one JSON object");
  run->add_option("--log-level", level, "off, warn, info, debug or trace")
      ->check(CLI::IsMember({"off", "error", "warn", "info", "debug", "trace"}));
  std::string save_disks;
  run->add_option("--save-disks", save_disks,
                  "write each node's durable disk contents under DIR/<node>/");

  auto* replay = app.add_subcommand("replay", "rerun one seed with full logs");
  replay->add_option("target", scenario, "a failure file saved by sweep, or a scenario name")
      ->required();
  replay->add_option("--seed", seed, "the seed (with a scenario name)");
  std::string replay_level = "debug";
  replay->add_option("--log-level", replay_level, "log level (default debug)");
  replay->add_flag("--json", json, "print one JSON object");
  replay->add_option("--save-disks", save_disks,
                     "write each node's durable disk contents under DIR/<node>/");

  std::vector<samsa::tools::Command> commands = {
      samsa::tools::add_decode_command(app),
      samsa::tools::add_dump_log_command(app),
      samsa::tools::add_sweep_command(app),
      samsa::tools::add_merge_command(app),
      samsa::tools::add_assign_command(app),
      samsa::tools::add_partition_command(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    if (app.got_subcommand("list")) return cmd_list();
    if (app.got_subcommand("run")) return cmd_run(scenario, seed, json, level, save_disks);
    if (app.got_subcommand("replay")) {
      if (!load_failure_file(scenario, seed)) return 2;
      return cmd_run(scenario, seed, json, replay_level, save_disks);
    }
    for (auto& c : commands)
      if (c.app->parsed()) return c.run();
  } catch (const samsa::InternalError&) {
    return 4;
  }
  return 2;
}
