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
#include <thread>

#include "scenarios/scenario.h"
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

std::string failure_name(const RunReport& r) {
  std::string name = r.scenario;
  for (char& c : name)
    if (c == '/') c = '_';
  return fmt::format("{}-seed{}.json", name, r.seed);
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
};

int run_sweep(const SweepArgs& args) {
  const auto* scenario = scenarios::find_scenario(args.scenario);
  if (!scenario) {
    fmt::print(stderr, "samsa sweep: no scenario named '{}'\n", args.scenario);
    return 2;
  }
  const auto range = parse_range(args.seeds);
  const auto shard = parse_shard(args.shard);
  if (!range || !shard) {
    fmt::print(stderr, "samsa sweep: --seeds wants A..B and --shard K/N (1 <= K <= N)\n");
    return 2;
  }
  // Shard K of N takes every N-th seed: shards of one range never overlap.
  std::vector<std::uint64_t> seeds;
  for (std::uint64_t s = range->first; s <= range->last; ++s)
    if ((s - range->first) % shard->second == shard->first - 1) seeds.push_back(s);

  const unsigned jobs = args.jobs ? args.jobs : std::max(1u, std::thread::hardware_concurrency());
  std::vector<RunReport> reports(seeds.size());
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  std::mutex progress_mutex;
  const bool tty = isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  auto worker = [&] {
    for (;;) {
      const std::size_t i = next.fetch_add(1);
      if (i >= seeds.size()) return;
      RunOptions o;
      o.seed = seeds[i];
      try {
        reports[i] = scenario->run(o);
      } catch (const InternalError& e) {
        reports[i].scenario = scenario->name;
        reports[i].seed = seeds[i];
        reports[i].verdict = Verdict::internal_error;
        reports[i].violations.push_back(e.message);
      }
      const std::size_t n = ++done;
      if (tty) {
        std::lock_guard lock(progress_mutex);
        fmt::print(stderr, "\r{}: {}/{} seeds", scenario->name, n, seeds.size());
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < jobs; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (tty) fmt::print(stderr, "\n");
  const auto wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();

  std::map<std::string, std::uint64_t> counts;
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& r : reports) {
    ++counts[std::string(to_string(r.verdict))];
    if (r.verdict != Verdict::ok) failures.push_back(to_json(r));
  }
  nlohmann::json summary = {{"scenario", scenario->name},
                            {"seeds", args.seeds},
                            {"shard", args.shard},
                            {"runs", reports.size()},
                            {"verdicts", counts_json(counts)},
                            {"failed_seeds", nlohmann::json::array()},
                            {"wall_ms", wall_ms},
                            {"jobs", jobs}};
  for (const auto& f : failures) summary["failed_seeds"].push_back(f["seed"]);

  if (!args.out.empty()) {
    std::error_code ec;
    fs::create_directories(fs::path(args.out) / "failures", ec);
    if (ec) {
      fmt::print(stderr, "samsa sweep: cannot create {}: {}\n", args.out, ec.message());
      return 2;
    }
    std::size_t saved_disks = 0;
    for (const auto& r : reports) {
      if (r.verdict == Verdict::ok) continue;
      const fs::path file = fs::path(args.out) / "failures" / failure_name(r);
      nlohmann::json j = to_json(r);
      j["replay"] = fmt::format("samsa replay {}", file.string());
      // The run is deterministic: running the seed again reproduces the
      // failure, this time keeping the nodes' disks (bounded: the first 20).
      if (saved_disks++ < 20) {
        fs::path disks = file;
        disks.replace_extension("disks");
        RunOptions o;
        o.seed = r.seed;
        o.save_disks_dir = disks.string();
        (void)scenario->run(o);
        if (fs::exists(disks)) j["disks"] = disks.string();
      }
      std::ofstream(file) << j.dump(2) << "\n";
    }
    std::ofstream(fs::path(args.out) / "summary.json") << summary.dump(2) << "\n";
  }

  if (args.json) {
    std::cout << summary.dump() << "\n";
  } else {
    fmt::print("scenario  {}\nseeds     {} (shard {}, {} runs, {} jobs)\n", scenario->name,
               args.seeds, args.shard, reports.size(), jobs);
    fmt::print("verdicts  ok {}  safety {}  liveness {}  internal_error {}\n",
               summary["verdicts"]["ok"].get<std::uint64_t>(),
               summary["verdicts"]["safety"].get<std::uint64_t>(),
               summary["verdicts"]["liveness"].get<std::uint64_t>(),
               summary["verdicts"]["internal_error"].get<std::uint64_t>());
    fmt::print("wall      {} ms\n", wall_ms);
    for (const auto& f : failures)
      fmt::print("failed    seed {} {}: samsa replay {} --seed {}\n", f["seed"].get<std::uint64_t>(),
                 f["verdict"].get<std::string>(), scenario->name, f["seed"].get<std::uint64_t>());
  }
  return worst_exit_code(counts);
}

int run_merge(const std::vector<std::string>& dirs, bool json) {
  nlohmann::json merged;
  std::map<std::string, std::uint64_t> counts;
  std::vector<std::uint64_t> failed;
  std::uint64_t runs = 0;
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
  }
  std::sort(failed.begin(), failed.end());
  merged["runs"] = runs;
  merged["verdicts"] = counts_json(counts);
  merged["failed_seeds"] = failed;
  if (json)
    std::cout << merged.dump() << "\n";
  else
    fmt::print("scenario  {}\nruns      {}\nverdicts  {}\nfailed    {}\n",
               merged["scenario"].get<std::string>(), runs, merged["verdicts"].dump(),
               nlohmann::json(failed).dump());
  return worst_exit_code(counts);
}

}  // namespace

Command add_sweep_command(CLI::App& app) {
  auto args = std::make_shared<SweepArgs>();
  Command c;
  c.app = app.add_subcommand("sweep", "run many seeds of one scenario across cores");
  c.app->add_option("scenario", args->scenario, "scenario name")->required();
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
