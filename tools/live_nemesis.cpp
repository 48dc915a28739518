#include "tools/live_nemesis.h"

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include "scenarios/nemesis.h"
#include "scenarios/spec.h"

namespace samsa::tools {

namespace {

using scenarios::FaultEvent;

// One step of the timeline: an event applied, or reverted.
struct Step {
  std::int64_t at_ms;
  std::size_t event;
  bool apply;
};

std::vector<Step> timeline(const scenarios::Schedule& s) {
  std::vector<Step> steps;
  for (std::size_t i = 0; i < s.size(); ++i) {
    steps.push_back({s[i].at_ms, i, true});
    const scenarios::Nemesis* n = scenarios::find_nemesis(s[i].fault);
    if (n != nullptr && n->lasting) steps.push_back({s[i].at_ms + s[i].duration_ms, i, false});
  }
  std::stable_sort(steps.begin(), steps.end(),
                   [](const Step& a, const Step& b) { return a.at_ms < b.at_ms; });
  return steps;
}

// The other ends of a link fault: its peer, or the names its "peers"
// parameter lists (nemeses that act on all peers at once).
std::vector<std::string> peers_of(const FaultEvent& e) {
  if (!e.peer.empty()) return {e.peer};
  std::vector<std::string> out;
  if (auto it = e.params.find("peers"); it != e.params.end() && it->is_array())
    for (const auto& p : *it)
      if (p.is_string() && p.get<std::string>() != e.node) out.push_back(p.get<std::string>());
  return out;
}

bool is_partition(const std::string& f) {
  return f == "partition" || f == "partition-one-way" || f == "partition-silent";
}

}  // namespace

bool live_nemesis_supported(const std::string& fault) {
  return fault == "crash" || fault == "restart" || fault == "reset" || fault == "pause" ||
         fault == "lost-acks" || is_partition(fault);
}

Result<LiveNemesisPlan, std::string> plan_live_nemesis(const std::string& path, std::uint64_t seed,
                                                       const std::vector<std::string>& brokers) {
  std::ifstream in(path);
  if (!in) return Err{path + ": cannot read the nemesis file"};
  std::stringstream text;
  text << in.rdbuf();
  auto spec = scenarios::parse_scenario(text.str(), path, "live-nemesis", {}, scenarios::SpecUse::fault_schedule);
  if (!spec) return Err{spec.error().to_string()};
  scenarios::NodeGroups groups;
  groups["brokers"] = brokers;
  groups["coordinator"] = {"coordinator"};
  groups["all"] = brokers;
  groups["all"].push_back("coordinator");
  // Dynamic targets: a group of one pseudo-node of its own name, resolved
  // when the fault happens (as the simulated runner does).
  groups["leader"] = {"leader"};
  groups["controller"] = {"controller"};
  for (const char* g : {"producers", "consumers", "clients"}) groups[g] = {};
  sim::Random rng = sim::Random(seed).derive("faults");
  LiveNemesisPlan plan;
  const auto& r = spec->rate_per_s;
  plan.rate_per_s = r.fixed() ? r.lo : r.lo + (r.hi - r.lo) * sim::Random(seed).derive("rate").unit();
  plan.fault_phase_ms = spec->fault_phase_ms;
  plan.seed = seed;
  plan.schedule = scenarios::generate_schedule(*spec, groups, plan.rate_per_s, rng);
  return plan;
}

void start_live_nemesis(sim::LiveWorld& world, LiveNemesisPlan plan, LiveResolve resolve,
                        std::ostream& out) {
  world.spawn("nemesis", [&world, plan = std::move(plan), resolve = std::move(resolve), &out] {
    sim::Runtime& rt = world.control();
    const sim::MonoTime start = rt.now();
    std::map<std::size_t, std::pair<sim::NodeId, std::vector<sim::NodeId>>> hit;
    // Open lost-acks windows per node: overlapping ones compose (the node
    // loses responses until the last one ends, not the first).
    std::map<sim::NodeId, int> lost_acks_open;
    auto print = [&](std::string_view what, const FaultEvent& e, std::string_view note = {}) {
      out << fmt::format("nemesis {:>7} ms {} {}{}", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                         rt.now() - start).count(),
                         what, scenarios::to_string(e), note.empty() ? "" : fmt::format(" ({})", note))
          << std::endl;
    };
    auto revert = [&](const FaultEvent& e, sim::NodeId node, const std::vector<sim::NodeId>& peers) {
      if (e.fault == "crash" && !world.is_up(node)) world.start(node);
      if (e.fault == "pause") world.links().pause(node, false);
      if (e.fault == "lost-acks" && --lost_acks_open[node] == 0) world.links().stop_losing_responses(node);
      if (is_partition(e.fault))
        for (sim::NodeId p : peers) world.links().cut(node, p, false);
    };
    for (const Step& s : timeline(plan.schedule)) {
      rt.sleep_until(start + std::chrono::milliseconds(s.at_ms));
      if (world.stopping()) return;  // the servers are being shut down
      const FaultEvent& e = plan.schedule[s.event];
      if (!s.apply) {
        if (auto it = hit.find(s.event); it != hit.end()) {
          revert(e, it->second.first, it->second.second);
          print("end of fault", e,
                e.fault == "lost-acks"
                    ? fmt::format("{} responses lost so far", world.links().responses_lost(it->second.first))
                    : std::string());
          hit.erase(it);
        }
        continue;
      }
      if (!live_nemesis_supported(e.fault)) {
        print("skipped", e, "not applied in live mode");
        continue;
      }
      const auto node = resolve(e.node);
      std::vector<sim::NodeId> peers;
      for (const auto& p : peers_of(e))
        if (auto id = resolve(p); id && id != node) peers.push_back(*id);
      const bool on_node = e.fault == "crash" || e.fault == "restart" || e.fault == "pause" || e.fault == "lost-acks";
      if (!node || (!on_node && peers.empty())) {
        print("skipped", e, "no node to hit now");
        continue;
      }
      print("fault", e, e.node == world.node(*node).config.name ? "" : world.node(*node).config.name);
      if (e.fault == "crash" || e.fault == "restart") {
        world.kill(*node);
        if (e.fault == "restart") world.start(*node);
      } else if (e.fault == "pause") {
        world.links().pause(*node, true);
      } else if (e.fault == "lost-acks") {
        if (lost_acks_open[*node]++ == 0)
          world.links().lose_responses(*node, plan.lost_acks_fraction,
                                       plan.seed ^ (0x9e3779b97f4a7c15ULL * (s.event + 1)));
      } else if (e.fault == "reset") {
        for (sim::NodeId p : peers) world.links().reset(*node, p);
      } else {
        for (sim::NodeId p : peers) world.links().cut(*node, p, true);
      }
      if (e.fault != "restart" && e.fault != "reset") hit[s.event] = {*node, peers};
    }
    // The fault phase is over: heal what is still faulted.
    rt.sleep_until(start + std::chrono::milliseconds(plan.fault_phase_ms));
    if (world.stopping()) return;
    for (const auto& [i, h] : hit) {
      revert(plan.schedule[i], h.first, h.second);
      print("end of fault", plan.schedule[i], "healed");
    }
    out << "nemesis healed: the fault phase is over" << std::endl;
  });
}

}  // namespace samsa::tools
