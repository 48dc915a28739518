// samsa sweep / merge: many seeds of one scenario across cores, sharded across
// machines, with every failure saved as a replayable file.
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "scenarios/failure_file.h"
#include "scenarios/scenario.h"
#include "scenarios/sweep.h"
#include "tools/run_common.h"
#include "sim/runtime/assert.h"
#include "tools/commands.h"

namespace samsa::tools {

namespace {

using scenarios::RunOptions;
using scenarios::RunReport;
using scenarios::Verdict;
namespace fs = std::filesystem;

struct SeedRange {
  std::uint64_t first = 1;
  std::uint64_t last = 100;
};

std::optional<SeedRange> parse_range(const std::string& s) {
  const auto dots = s.find("..");
  if (dots == std::string::npos) return std::nullopt;
  SeedRange r;
  auto a = std::from_chars(s.data(), s.data() + dots, r.first);
  auto b = std::from_chars(s.data() + dots + 2, s.data() + s.size(), r.last);
  if (a.ec != std::errc{} || a.ptr != s.data() + dots || b.ec != std::errc{} ||
      b.ptr != s.data() + s.size() || r.first > r.last)
    return std::nullopt;
  return r;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_shard(const std::string& s) {
  const auto slash = s.find('/');
  if (slash == std::string::npos) return std::nullopt;
  std::uint64_t k = 0, n = 0;
  auto a = std::from_chars(s.data(), s.data() + slash, k);
  auto b = std::from_chars(s.data() + slash + 1, s.data() + s.size(), n);
  if (a.ec != std::errc{} || b.ec != std::errc{} || n == 0 || k < 1 || k > n)
    return std::nullopt;
  return std::make_pair(k, n);
}

nlohmann::json counts_json(const std::map<std::string, std::uint64_t>& counts) {
  nlohmann::json j = nlohmann::json::object();
  for (const char* v : {"ok", "safety", "liveness", "internal_error"})
    j[v] = counts.count(v) ? counts.at(v) : 0;
  return j;
}

// The worst verdict decides the exit code: internal > safety > liveness.
int worst_exit_code(const std::map<std::string, std::uint64_t>& counts) {
  auto any = [&counts](const char* v) { return counts.count(v) && counts.at(v) > 0; };
  if (any("internal_error")) return 4;
  if (any("safety")) return 1;
  if (any("liveness")) return 3;
  return 0;
}

struct SweepArgs {
  std::string scenario;
  std::string seeds = "1..100";
  unsigned jobs = 0;
  std::string shard = "1/1";
  std::string out;
  bool json = false;
  double recheck = 0.05;
  std::vector<std::string> sets;
};

std::string format_eta(double s) {
  const auto t = static_cast<std::int64_t>(s);
  return t >= 3600 ? fmt::format("{}h{:02}m", t / 3600, t / 60 % 60)
                   : fmt::format("{}m{:02}s", t / 60, t % 60);
}

// Seeds per violation name (and internal_error), with the first seed of
// each: of the failing violations, or of the demonstrated (allowed) ones.
nlohmann::json violation_kinds(const scenarios::SweepResult& result, bool demonstrated = false) {
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> kinds;  // name -> (seeds, first)
  for (const auto& o : result.outcomes) {
    std::set<std::string> names;
    for (const auto& v : demonstrated ? o.report.demonstrated : o.report.violations) names.insert(v.name);
    if (!demonstrated && o.report.verdict == Verdict::internal_error) names.insert("internal_error");
    for (const auto& n : names) {
      auto [it, fresh] = kinds.emplace(n, std::make_pair(0, o.report.seed));
      ++it->second.first;
    }
  }
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [n, c] : kinds) j[n] = {{"seeds", c.first}, {"first_seed", c.second}};
  return j;
}

// The scenario's declared demonstration over the sweep: how many seeds showed
// it, the first; null when it declares none.
nlohmann::json demonstration(const scenarios::Scenario& s, const scenarios::SweepResult& result) {
  if (s.spec.demonstrates.empty()) return nullptr;
  std::uint64_t seeds = 0;
  nlohmann::json first = nullptr;
  for (const auto& o : result.outcomes)
    if (!o.report.shown().empty()) {
      if (seeds++ == 0) first = o.report.seed;
    }
  return {{"anomalies", s.spec.demonstrates}, {"shown_seeds", seeds}, {"first_seed", first}};
}

// Merges {name: {seeds, first_seed}} maps of shards.
void merge_kinds(nlohmann::json& into, const nlohmann::json& from) {
  for (const auto& [name, k] : from.items()) {
    if (!into.contains(name)) {
      into[name] = k;
      continue;
    }
    into[name]["seeds"] = into[name]["seeds"].get<std::uint64_t>() + k["seeds"].get<std::uint64_t>();
    into[name]["first_seed"] =
        std::min(into[name]["first_seed"].get<std::uint64_t>(), k["first_seed"].get<std::uint64_t>());
  }
}

void print_kinds(const nlohmann::json& kinds) {
  for (auto& [name, k] : kinds.items())
    fmt::print("  {:<22}{} seeds, first seed {}\n", name, k["seeds"].get<std::uint64_t>(),
               k["first_seed"].get<std::uint64_t>());
}

void print_demonstration(const nlohmann::json& d, std::uint64_t runs) {
  if (d.is_null()) return;
  std::string names;
  for (const auto& n : d["anomalies"]) names += (names.empty() ? "" : " | ") + n.get<std::string>();
  if (d["shown_seeds"].get<std::uint64_t>() == 0)
    fmt::print("demonstrates {}: not shown on any of {} seeds\n", names, runs);
  else
    fmt::print("demonstrates {}: shown on {} of {} seeds, first seed {}\n", names,
               d["shown_seeds"].get<std::uint64_t>(), runs, d["first_seed"].get<std::uint64_t>());
}

void save_failures(const scenarios::Scenario& scenario, const scenarios::SweepResult& result,
                   const std::string& out) {
  std::size_t saved_disks = 0;
  for (const auto& o : result.outcomes) {
    const RunReport& r = o.report;
    if (r.verdict == Verdict::ok) continue;
    const fs::path file = fs::path(out) / "failures" / failure_file_name(r);
    nlohmann::json j = scenarios::failure_json(scenario, r);
    j["replay"] = fmt::format("samsa replay {}", file.string());
    // The run is deterministic: running its schedule again reproduces the
    // failure, this time keeping the nodes' disks (bounded: the first 20).
    if (saved_disks++ < 20 && r.verdict != Verdict::internal_error) {
      fs::path disks = file;
      disks.replace_extension("disks");
      RunOptions again;
      again.seed = r.seed;
      again.schedule = r.schedule;
      again.save_disks_dir = disks.string();
      (void)scenarios::run_guarded(scenario, again);
      if (fs::exists(disks)) j["disks"] = disks.string();
    }
    std::ofstream(file) << j.dump(2) << "\n";
  }
}

int run_sweep(const SweepArgs& args) {
  const auto scenario = load_or_complain(args.scenario, args.sets);
  if (!scenario) return 2;
  const auto range = parse_range(args.seeds);
  const auto shard = parse_shard(args.shard);
  if (!range || !shard) {
    fmt::print(stderr, "samsa sweep: --seeds wants A..B and --shard K/N (1 <= K <= N)\n");
    return 2;
  }
  if (args.recheck < 0 || args.recheck > 1) {
    fmt::print(stderr, "samsa sweep: --recheck wants a fraction in [0, 1]\n");
    return 2;
  }
  scenarios::SweepOptions options;
  // Shard K of N takes every N-th seed: shards of one range never overlap.
  for (std::uint64_t s = range->first; s <= range->last; ++s)
    if ((s - range->first) % shard->second == shard->first - 1) options.seeds.push_back(s);
  options.jobs = args.jobs ? args.jobs : std::max(1u, std::thread::hardware_concurrency());
  options.recheck = args.recheck;
  if (isatty(STDERR_FILENO))
    options.progress = [name = scenario->name](const scenarios::SweepProgress& p) {
      fmt::print(stderr, "\r\033[K{}: {}{}/{} seeds, {:.1f} seeds/s, {} failed, ETA {}",
                 name, p.rechecking ? "rechecking, " : "", p.done, p.total, p.seeds_per_s,
                 p.failed, format_eta(p.eta_s));
    };
  const auto result = scenarios::sweep(*scenario, options);
  if (options.progress) fmt::print(stderr, "\n");

  std::map<std::string, std::uint64_t> counts;
  nlohmann::json failed = nlohmann::json::array();
  nlohmann::json mismatched = nlohmann::json::array();
  for (const auto& o : result.outcomes) {
    ++counts[std::string(to_string(o.report.verdict))];
    if (o.report.verdict != Verdict::ok) failed.push_back(o.report.seed);
    if (o.mismatch()) mismatched.push_back(o.report.seed);
  }
  nlohmann::json summary = {{"scenario", scenario->name},
                            {"seeds", args.seeds},
                            {"shard", args.shard},
                            {"runs", result.outcomes.size()},
                            {"verdicts", counts_json(counts)},
                            {"violation_kinds", violation_kinds(result)},
                            {"demonstrated_kinds", violation_kinds(result, true)},
                            {"demonstration", demonstration(*scenario, result)},
                            {"failed_seeds", failed},
                            {"rechecked", result.rechecked},
                            {"mismatched", result.mismatched},
                            {"mismatched_seeds", mismatched},
                            {"overrides", args.sets},
                            {"wall_ms", result.wall_ms},
                            {"jobs", options.jobs}};

  if (!args.out.empty()) {
    std::error_code ec;
    fs::create_directories(fs::path(args.out) / "failures", ec);
    if (ec) {
      fmt::print(stderr, "samsa sweep: cannot create {}: {}\n", args.out, ec.message());
      return 2;
    }
    save_failures(*scenario, result, args.out);
    std::ofstream(fs::path(args.out) / "summary.json") << summary.dump(2) << "\n";
  }

  if (args.json) {
    std::cout << summary.dump() << "\n";
  } else {
    fmt::print("scenario  {}\nseeds     {} (shard {}, {} runs, {} jobs)\n", scenario->name,
               args.seeds, args.shard, result.outcomes.size(), options.jobs);
    fmt::print("verdicts  ok {}  safety {}  liveness {}  internal_error {}\n",
               summary["verdicts"]["ok"].get<std::uint64_t>(),
               summary["verdicts"]["safety"].get<std::uint64_t>(),
               summary["verdicts"]["liveness"].get<std::uint64_t>(),
               summary["verdicts"]["internal_error"].get<std::uint64_t>());
    print_kinds(summary["violation_kinds"]);
    if (!summary["demonstrated_kinds"].empty()) {
      fmt::print("demonstrated (allowed by the configuration, not failing):\n");
      print_kinds(summary["demonstrated_kinds"]);
    }
    print_demonstration(summary["demonstration"], result.outcomes.size());
    fmt::print("rechecked {} seeds, {} mismatched\n", result.rechecked, result.mismatched);
    fmt::print("wall      {} ms\n", result.wall_ms);
    std::size_t shown = 0;
    for (const auto& o : result.outcomes)
      if (o.report.verdict != Verdict::ok && shown++ < 20)
        fmt::print("failed    seed {} {}: samsa replay {} --seed {}\n", o.report.seed,
                   to_string(o.report.verdict), args.scenario, o.report.seed);
  }
  for (const auto& o : result.outcomes)
    if (o.mismatch())
      fmt::print(stderr,
                 "samsa sweep: seed {} is not deterministic: trace {} on the first run, {} on the "
                 "second (samsa run {} --seed {} twice shows it)\n",
                 o.report.seed, scenarios::trace_hash_hex(o.report.trace_hash),
                 scenarios::trace_hash_hex(*o.recheck_hash), args.scenario, o.report.seed);
  if (result.mismatched > 0) return 4;
  return worst_exit_code(counts);
}

int run_merge(const std::vector<std::string>& dirs, bool json) {
  nlohmann::json merged;
  std::map<std::string, std::uint64_t> counts;
  std::vector<std::uint64_t> failed;
  std::uint64_t runs = 0, rechecked = 0, mismatched = 0;
  nlohmann::json kinds = nlohmann::json::object(), demonstrated = nlohmann::json::object();
  nlohmann::json shown = nullptr;  // the merged demonstration
  std::vector<std::uint64_t> mismatched_seeds;
  for (const auto& d : dirs) {
    const fs::path file = fs::path(d) / "summary.json";
    std::ifstream in(file);
    if (!in) {
      fmt::print(stderr, "samsa merge: {}: cannot read\n", file.string());
      return 2;
    }
    nlohmann::json s = nlohmann::json::parse(in, nullptr, false);
    if (s.is_discarded() || !s.contains("verdicts") || !s.contains("scenario")) {
      fmt::print(stderr, "samsa merge: {}: not a sweep summary\n", file.string());
      return 2;
    }
    if (!merged.contains("scenario")) merged["scenario"] = s["scenario"];
    if (merged["scenario"] != s["scenario"]) {
      fmt::print(stderr, "samsa merge: {} is a sweep of another scenario\n", file.string());
      return 2;
    }
    runs += s.value("runs", 0ull);
    for (auto& [k, v] : s["verdicts"].items()) counts[k] += v.get<std::uint64_t>();
    for (auto& seed : s["failed_seeds"]) failed.push_back(seed.get<std::uint64_t>());
    rechecked += s.value("rechecked", 0ull);
    mismatched += s.value("mismatched", 0ull);
    const nlohmann::json seeds_there =
        s.contains("mismatched_seeds") ? s["mismatched_seeds"] : nlohmann::json::array();
    for (const auto& seed : seeds_there) mismatched_seeds.push_back(seed.get<std::uint64_t>());
    const nlohmann::json kinds_there =
        s.contains("violation_kinds") ? s["violation_kinds"] : nlohmann::json::object();
    merge_kinds(kinds, kinds_there);
    if (s.contains("demonstrated_kinds")) merge_kinds(demonstrated, s["demonstrated_kinds"]);
    if (s.contains("demonstration") && !s["demonstration"].is_null()) {
      const nlohmann::json& d = s["demonstration"];
      if (shown.is_null()) {
        shown = d;
      } else {
        shown["shown_seeds"] = shown["shown_seeds"].get<std::uint64_t>() + d["shown_seeds"].get<std::uint64_t>();
        if (shown["first_seed"].is_null() ||
            (!d["first_seed"].is_null() && d["first_seed"].get<std::uint64_t>() < shown["first_seed"].get<std::uint64_t>()))
          shown["first_seed"] = d["first_seed"];
      }
    }
  }
  std::sort(failed.begin(), failed.end());
  std::sort(mismatched_seeds.begin(), mismatched_seeds.end());
  merged["runs"] = runs;
  merged["verdicts"] = counts_json(counts);
  merged["violation_kinds"] = kinds;
  merged["demonstrated_kinds"] = demonstrated;
  merged["demonstration"] = shown;
  merged["failed_seeds"] = failed;
  merged["rechecked"] = rechecked;
  merged["mismatched"] = mismatched;
  merged["mismatched_seeds"] = mismatched_seeds;
  if (json) {
    std::cout << merged.dump() << "\n";
  } else {
    fmt::print("scenario  {}\nruns      {}\nverdicts  {}\nfailed    {}\n",
               merged["scenario"].get<std::string>(), runs, merged["verdicts"].dump(),
               nlohmann::json(failed).dump());
    if (!demonstrated.empty()) {
      fmt::print("demonstrated (allowed by the configuration, not failing):\n");
      print_kinds(demonstrated);
    }
    print_demonstration(shown, runs);
  }
  if (mismatched > 0) return 4;
  return worst_exit_code(counts);
}

}  // namespace

Command add_sweep_command(CLI::App& app) {
  auto args = std::make_shared<SweepArgs>();
  Command c;
  c.app = app.add_subcommand("sweep", "run many seeds of one scenario across cores");
  c.app->add_option("scenario", args->scenario, "a scenario name or a .toml file")->required();
  c.app->add_option("--set", args->sets, "override a scenario or Kafka config key: KEY=VALUE");
  c.app->add_option("--recheck", args->recheck,
                    "fraction of seeds run twice to check determinism (default 0.05; failing seeds always)");
  c.app->add_option("--seeds", args->seeds, "seed range A..B (inclusive)");
  c.app->add_option("--jobs", args->jobs, "worker threads (default: all cores)");
  c.app->add_option("--shard", args->shard, "run shard K of N (every N-th seed)");
  c.app->add_option("--out", args->out, "write summary.json and failures/ here");
  c.app->add_flag("--json", args->json, "print the summary as one JSON object");
  c.run = [args] { return run_sweep(*args); };
  return c;
}

Command add_merge_command(CLI::App& app) {
  auto dirs = std::make_shared<std::vector<std::string>>();
  auto json = std::make_shared<bool>(false);
  Command c;
  c.app = app.add_subcommand("merge", "merge the summaries of sharded sweeps");
  c.app->add_option("dirs", *dirs, "sweep --out directories")->required();
  c.app->add_flag("--json", *json, "print one JSON object");
  c.run = [dirs, json] { return run_merge(*dirs, *json); };
  return c;
}

}  // namespace samsa::tools
