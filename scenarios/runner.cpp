// Running a scenario: world, workload, fault schedule, heal, checks, report.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <set>

#include "invariants/checker.h"
#include "invariants/kafka_checkers.h"
#include "scenarios/disk_image.h"
#include "scenarios/nemesis.h"
#include "scenarios/scenario.h"
#include "scenarios/workload.h"

namespace samsa::scenarios {

namespace {

using namespace samsa::sim;

std::int64_t draw_int(Random& rng, const Range& r) {
  if (r.fixed()) return static_cast<std::int64_t>(r.lo);
  return rng.uniform_signed(static_cast<std::int64_t>(r.lo), static_cast<std::int64_t>(r.hi));
}

double draw_double(Random& rng, const Range& r) {
  return r.fixed() ? r.lo : r.lo + rng.unit() * (r.hi - r.lo);
}

struct Step {
  std::int64_t at_ms;
  bool apply;  // false: revert
  std::size_t event;
};

// The timeline of the fault phase: applies and reverts in time order (a
// revert before an apply at the same millisecond), cut at the heal.
std::vector<Step> timeline(const Schedule& s, std::int64_t heal_ms) {
  std::vector<Step> steps;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i].at_ms >= heal_ms) continue;
    steps.push_back({s[i].at_ms, true, i});
    const Nemesis* n = find_nemesis(s[i].fault);
    if (n->revert && s[i].duration_ms > 0 && s[i].at_ms + s[i].duration_ms < heal_ms)
      steps.push_back({s[i].at_ms + s[i].duration_ms, false, i});
  }
  std::stable_sort(steps.begin(), steps.end(), [](const Step& a, const Step& b) {
    return a.at_ms != b.at_ms ? a.at_ms < b.at_ms : (!a.apply && b.apply);
  });
  return steps;
}

// Ends every fault; restarts the nodes a fault took down (a node the
// workload has not started yet stays down).
void heal_everything(World& w, const std::set<NodeId>& touched) {
  w.network().heal_all();
  w.network().unclog_all();
  for (NodeId n : touched) {
    w.network().refuse_connects(n, false);
    w.skew_wall_clock(n, 0);
    if (w.is_paused(n)) w.resume(n);
    if (!w.is_up(n)) w.start(n);
  }
}

// Node names by group for the schedule generator; a dynamic target is a
// group of one pseudo-node of its own name.
NodeGroups name_groups(World& w, const WorkloadContext& ctx) {
  NodeGroups out;
  for (const auto& [g, ids] : ctx.groups)
    for (NodeId id : ids) out[g].push_back(w.node(id).name);
  for (const auto& [name, resolve] : ctx.dynamic_targets) out[name] = {name};
  return out;
}

std::string check_schedule(World& w, const WorkloadContext& ctx, const Schedule& s) {
  for (const auto& e : s) {
    if (!find_nemesis(e.fault)) return fmt::format("the schedule names no nemesis '{}'", e.fault);
    for (const auto& n : {e.node, e.peer})
      if (!n.empty() && !w.find_node(n) && !ctx.dynamic_targets.count(n))
        return fmt::format("the schedule names node '{}', which this run does not have", n);
  }
  return "";
}

// Splits the violations by what the configuration promises, decides the
// verdict on the failing ones, and bounds both lists.
void judge_report(RunReport& report, const ScenarioSpec& spec) {
  const invariants::Expectations e = expectations_of(spec);
  auto judged = invariants::judge(report.violations, e);
  report.violations = std::move(judged.failing);
  report.demonstrated = std::move(judged.demonstrated);
  report.verdict = verdict_of(report.violations);
  // Bounded: a broken system can break an invariant on every operation.
  constexpr std::size_t k_max_violations = 100;
  if (report.violations.size() > k_max_violations) {
    report.details["violations_total"] = report.violations.size();
    report.violations.resize(k_max_violations);
  }
  if (report.demonstrated.size() > k_max_violations) {
    report.details["demonstrated_total"] = report.demonstrated.size();
    report.demonstrated.resize(k_max_violations);
  }
}

}  // namespace

invariants::Expectations expectations_of(const ScenarioSpec& spec) {
  const WorkloadType* type = find_workload(spec.workload);
  invariants::Expectations e;
  if (type && type->expectation_config) e = invariants::expectations_for(type->expectation_config(spec));
  // What this scenario checks and must hold: its checkers and its workload's final-state checks.
  std::set<std::string> checked;
  for (const auto& [c, o] : spec.checkers) checked.insert(c);
  if (spec.workload_options.contains("checks") && spec.workload_options["checks"].is_array())
    for (const auto& c : spec.workload_options["checks"])
      if (c.is_string()) checked.insert(c.get<std::string>());
  e.must_hold.clear();
  for (const auto& c : checked) {
    const std::string anomaly = c == "kafka-liveness" || c == "progress" ? "liveness" : c;
    if (!e.allows(anomaly)) e.must_hold.insert(c);
  }
  return e;
}

// A [swarm] scenario: this seed's choices (stream "swarm-config", keys in
// order) as overrides before the user's own, so a --set wins over a draw.
std::vector<Override> swarm_draws(const ScenarioSpec& spec, std::uint64_t seed) {
  Random draw = Random(seed).derive("swarm-config");
  std::vector<Override> out;
  for (const auto& [key, choices] : spec.swarm)
    for (const auto& o : choices[draw.index(choices.size())]) out.push_back(o);
  return out;
}

RunReport Scenario::run(const RunOptions& options) const {
  if (!spec.swarm.empty()) {
    std::vector<Override> all = swarm_draws(spec, options.seed);
    nlohmann::json drawn = nlohmann::json::object();
    for (const auto& o : all) {  // TOML scalars read as JSON: "1" a string, 1 a number
      const auto v = nlohmann::json::parse(o.value, nullptr, false);
      drawn[o.key] = v.is_discarded() ? nlohmann::json(o.value) : v;
    }
    all.insert(all.end(), overrides.begin(), overrides.end());
    auto drawn_scenario = scenario_from_text(text, origin, name, all);
    if (!drawn_scenario) {  // each choice parses alone (parse_scenario); this combination does not
      RunReport bad;
      bad.scenario = name;
      bad.seed = options.seed;
      bad.bad_input = "[swarm] draws " + drawn.dump() + ": " + drawn_scenario.error().to_string();
      bad.verdict = Verdict::internal_error;
      bad.internal_error = bad.bad_input;
      return bad;
    }
    drawn_scenario->spec.swarm.clear();
    RunReport r = drawn_scenario->run(options);
    r.details["swarm"] = drawn;
    return r;
  }
  const WorkloadType* type = find_workload(spec.workload);
  SAMSA_ASSERT(type != nullptr, "a parsed scenario names a registered workload");
  Random swarm = Random(options.seed).derive("swarm");
  const int nodes = static_cast<int>(draw_int(swarm, spec.nodes));
  const double rate = draw_double(swarm, spec.rate_per_s);
  WorldConfig wc;
  wc.seed = options.seed;
  wc.log_level = options.log_level;
  wc.buggify = swarm.chance(spec.buggify_chance);
  if (swarm.chance(spec.slow_fsync_chance)) {  // crashes land inside slow fsyncs
    wc.disk.fsync_latency_min = std::chrono::microseconds(static_cast<std::int64_t>(spec.fsync_latency_us.lo));
    wc.disk.fsync_latency_max = std::chrono::microseconds(
        draw_int(swarm, Range{spec.fsync_latency_us.lo, spec.fsync_latency_us.hi, true}));
  }

  // Declared before the world: its fibers refer to them until it is gone.
  std::unique_ptr<Workload> workload = type->make();
  World* world_ptr = nullptr;
  invariants::History history([&world_ptr] {
    return world_ptr ? std::chrono::duration_cast<std::chrono::nanoseconds>(world_ptr->now()).count()
                     : 0;
  });
  World world(wc);
  world_ptr = &world;
  if (options.trace_log != nullptr) world.record_trace(options.trace_log);
  const Duration heal_at = std::chrono::milliseconds(spec.fault_phase_ms);
  WorkloadContext ctx{world,   history, spec, spec.workload_options, spec.config, swarm, nodes,
                      heal_at, heal_at + std::chrono::milliseconds(spec.heal_ms), {}};
  workload->setup(ctx);
  ctx.groups["all"] = world.node_ids();

  RunReport report;
  report.scenario = name;
  report.seed = options.seed;
  report.demonstrates = spec.demonstrates;
  report.expected = invariants::to_json(expectations_of(spec));
  report.expected["demonstrates"] = spec.demonstrates;
  if (options.schedule) {
    report.schedule = *options.schedule;
    report.bad_input = check_schedule(world, ctx, report.schedule);
    if (!report.bad_input.empty()) {
      workload->teardown(ctx);
      return report;
    }
  } else {
    Random fault_rng = Random(options.seed).derive("faults");
    report.schedule = generate_schedule(spec, name_groups(world, ctx), rate, fault_rng);
  }
  workload->start(ctx);

  const Schedule& schedule = report.schedule;
  std::set<NodeId> touched;
  // The nodes each applied event hit (dynamic targets resolved at its time).
  std::map<std::size_t, std::pair<NodeId, NodeId>> hit;
  auto resolve = [&](const std::string& name) -> std::optional<NodeId> {
    if (auto id = world.find_node(name)) return id;
    return ctx.dynamic_targets.at(name)();
  };
  world.spawn("nemesis", [&] {
    Runtime& ctl = world.control();
    for (const Step& s : timeline(schedule, spec.fault_phase_ms)) {
      ctl.sleep_until(MonoTime{std::chrono::milliseconds(s.at_ms)});
      const FaultEvent& e = schedule[s.event];
      const Nemesis& n = *find_nemesis(e.fault);
      nlohmann::json op = to_json(e);
      if (s.apply) {
        const auto node = resolve(e.node);
        const auto peer = e.peer.empty() ? node : resolve(e.peer);
        if (!node || !peer || (!e.peer.empty() && *node == *peer)) {
          op["skipped"] = "no node to hit now";
          history.nemesis(e.fault, op);
          continue;
        }
        hit[s.event] = {*node, *peer};
      } else if (!hit.count(s.event)) {
        continue;  // its apply was skipped
      }
      const auto [node, peer] = hit.at(s.event);
      op["node"] = world.node(node).name;  // a dynamic target as resolved
      if (!e.peer.empty()) op["peer"] = world.node(peer).name;
      world.log().info("{} {}", s.apply ? "fault" : "end of fault", to_string(e));
      touched.insert(node);
      for (NodeId p : peer_nodes(world, e, node)) touched.insert(p);
      if (s.apply) {
        history.nemesis(e.fault, op);
        n.apply(world, e, node, peer);
      } else {
        history.nemesis(e.fault + "-end", op);
        n.revert(world, e, node, peer);
      }
    }
    ctl.sleep_until(MonoTime{heal_at});
    world.log().info("heal everything");
    history.nemesis("heal-all", nlohmann::json::object());
    heal_everything(world, touched);
  });

  const RunResult rr = world.run(ctx.end);
  report.trace_hash = world.trace_hash();
  report.events = world.events();
  report.virtual_time_ms = to_ms(world.now());
  // Nothing reads the disks after the run unless they are saved: the checks
  // below reuse their memory instead of adding to the peak.
  if (options.save_disks_dir.empty()) world.discard_disk_contents();
  if (rr.reason == StopReason::internal_error) {
    report.verdict = Verdict::internal_error;
    report.internal_error = rr.report;
  } else {
    // One view of the history for the workload's delivery summary and the
    // Kafka checkers (building it twice was a tenth of a standard run).
    const invariants::SharedAnalysis one_analysis(history);
    report.violations = workload->check(ctx);
    std::vector<std::string> names;
    nlohmann::json checker_options = nlohmann::json::object();
    for (const auto& [c, o] : spec.checkers) {
      names.push_back(c);
      checker_options[c] = o;
    }
    // The workload's final state: lost-write judges acknowledged records in
    // no replica's log from it, unseen keeps the ones still in a log. Handed
    // over in a scope, not as a JSON option (a copy of every replica's records).
    const invariants::Snapshot* final_state = workload->final_state(ctx);
    std::optional<invariants::FinalState> final_state_scope;
    if (final_state) final_state_scope.emplace(*final_state);
    if (!names.empty())
      for (auto& v : invariants::run_checkers(history, names, checker_options))
        report.violations.push_back(std::move(v));
    if (rr.reason == StopReason::stuck) {
      report.violations.push_back(invariants::Violation::liveness(
          "stuck", "every fiber waits and nothing can wake them (details.stuck says on what)"));
      report.details["stuck"] = rr.report;
    }
    judge_report(report, spec);
  }
  const nlohmann::json details = workload->details(ctx);
  for (auto& [k, v] : details.items()) report.details[k] = v;
  report.details["faults"] = schedule.size();
  report.details["buggify"] = wc.buggify;
  report.details["history_ops"] = history.size();
  if (!options.save_disks_dir.empty()) {
    const std::string error = save_disk_images(world, options.save_disks_dir);
    if (!error.empty()) report.details["save_disks_error"] = error;
  }
  workload->teardown(ctx);
  if (!options.history_path.empty()) {
    std::ofstream out(options.history_path);
    history.write_jsonl(out);
    if (!out) report.details["history_error"] = "cannot write " + options.history_path;
  }
  return report;
}

RunReport run_guarded(const Scenario& s, const RunOptions& o) {
  set_assert_context(fmt::format("scenario {} seed {}: replay with `samsa replay {} --seed {}`",
                                 s.name, o.seed, s.name, o.seed));
  const auto start = std::chrono::steady_clock::now();
  RunReport r;
  auto internal = [&](std::string message) {
    r = RunReport{};
    r.scenario = s.name;
    r.seed = o.seed;
    r.verdict = Verdict::internal_error;
    r.internal_error = std::move(message);
  };
  try {
    r = s.run(o);
  } catch (const InternalError& e) {
    internal(e.message);
  } catch (const std::exception& e) {
    internal(fmt::format("uncaught exception: {}", e.what()));
  } catch (...) {
    internal("uncaught exception of an unknown type");
  }
  r.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  return r;
}

}  // namespace samsa::scenarios
