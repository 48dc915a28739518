#include "scenarios/schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "scenarios/nemesis.h"
#include "scenarios/spec.h"

namespace samsa::scenarios {

nlohmann::json to_json(const FaultEvent& e) {
  nlohmann::json j = {{"at_ms", e.at_ms}, {"fault", e.fault}, {"node", e.node}};
  if (!e.peer.empty()) j["peer"] = e.peer;
  if (e.duration_ms > 0) j["duration_ms"] = e.duration_ms;
  for (auto& [k, v] : e.params.items()) j[k] = v;
  return j;
}

nlohmann::json to_json(const Schedule& s) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& e : s) j.push_back(to_json(e));
  return j;
}

Result<Schedule, std::string> schedule_from_json(const nlohmann::json& j) {
  if (!j.is_array()) return Err(std::string("a schedule is a JSON array of fault events"));
  Schedule out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const auto& e = j[i];
    const std::string where = fmt::format("schedule[{}]", i);
    if (!e.is_object()) return Err(where + ": not an object");
    FaultEvent ev;
    for (auto& [k, v] : e.items()) {
      if (k == "at_ms" || k == "duration_ms") {
        if (!v.is_number_integer() || v.get<std::int64_t>() < 0)
          return Err(fmt::format("{}: '{}' must be a non-negative integer", where, k));
        (k == "at_ms" ? ev.at_ms : ev.duration_ms) = v.get<std::int64_t>();
      } else if (k == "fault" || k == "node" || k == "peer") {
        if (!v.is_string()) return Err(fmt::format("{}: '{}' must be a string", where, k));
        (k == "fault" ? ev.fault : k == "node" ? ev.node : ev.peer) = v.get<std::string>();
      } else {
        ev.params[k] = v;
      }
    }
    const Nemesis* n = find_nemesis(ev.fault);
    if (!n)
      return Err(fmt::format("{}: no nemesis named '{}' (known: {})", where, ev.fault,
                             fmt::join(nemesis_names(), ", ")));
    if (ev.node.empty()) return Err(where + ": a fault event needs a 'node'");
    if (n->link && ev.peer.empty()) return Err(where + ": a link fault needs a 'peer'");
    out.push_back(std::move(ev));
  }
  return out;
}

std::string to_string(const FaultEvent& e) {
  std::string s = fmt::format("{:>7} ms  {:<18} {}", e.at_ms, e.fault, e.node);
  if (!e.peer.empty()) s += " -- " + e.peer;
  if (e.duration_ms > 0) s += fmt::format(" for {} ms", e.duration_ms);
  for (auto& [k, v] : e.params.items()) s += fmt::format(" {}={}", k, v.dump());
  return s;
}

namespace {

std::int64_t draw(sim::Random& rng, const Range& r) {
  if (r.fixed()) return static_cast<std::int64_t>(r.lo);
  return rng.uniform_signed(static_cast<std::int64_t>(r.lo), static_cast<std::int64_t>(r.hi));
}

std::vector<std::string> resolve(const std::vector<std::string>& names, const NodeGroups& groups) {
  std::set<std::string> seen;
  std::vector<std::string> out;
  for (const auto& g : names) {
    auto it = groups.find(g);
    if (it == groups.end()) continue;
    for (const auto& n : it->second)
      if (seen.insert(n).second) out.push_back(n);
  }
  return out;
}

struct Active {
  std::int64_t until_ms;
  std::string node;
  bool down;
};

}  // namespace

Schedule generate_schedule(const ScenarioSpec& spec, const NodeGroups& groups, double rate_per_s,
                           sim::Random& rng) {
  Schedule out;
  if (spec.nemeses.empty() || rate_per_s <= 0) return out;
  double total_weight = 0;
  for (const auto& n : spec.nemeses) total_weight += n.weight;
  if (total_weight <= 0) return out;
  std::vector<Active> active;
  const sim::Duration mean(static_cast<std::int64_t>(1e9 / rate_per_s));
  sim::Duration t{0};
  for (;;) {
    t += rng.exponential(mean);
    const std::int64_t at_ms = sim::to_ms(t);
    if (at_ms >= spec.fault_phase_ms) break;
    std::erase_if(active, [at_ms](const Active& a) { return a.until_ms <= at_ms; });
    // Pick a nemesis by weight.
    double x = rng.unit() * total_weight;
    const NemesisSpec* ns = &spec.nemeses.back();
    for (const auto& n : spec.nemeses) {
      if (x < n.weight) {
        ns = &n;
        break;
      }
      x -= n.weight;
    }
    const Nemesis& nemesis = *find_nemesis(ns->name);
    const std::int64_t duration = nemesis.lasting ? draw(rng, ns->duration_ms) : 0;
    // Nodes this event may fault without breaking the budget or the rules.
    std::set<std::string> faulted;
    for (const auto& a : active) faulted.insert(a.node);
    std::vector<std::string> candidates;
    for (const auto& node : resolve(ns->targets, groups)) {
      const bool down = std::any_of(active.begin(), active.end(),
                                    [&](const Active& a) { return a.down && a.node == node; });
      if (nemesis.needs_up && down) continue;
      if (spec.max_faulted_nodes >= 0 && duration > 0 && !faulted.count(node) &&
          static_cast<std::int64_t>(faulted.size()) >= spec.max_faulted_nodes)
        continue;
      candidates.push_back(node);
    }
    if (candidates.empty()) continue;
    FaultEvent e;
    e.at_ms = at_ms;
    e.fault = ns->name;
    e.node = candidates[rng.index(candidates.size())];
    std::vector<std::string> peers;
    for (const auto& p : resolve(ns->peers, groups))
      if (p != e.node) peers.push_back(p);
    if (nemesis.link) {
      if (peers.empty()) continue;
      e.peer = peers[rng.index(peers.size())];
    }
    e.duration_ms = duration;
    if (nemesis.draw) e.params = nemesis.draw(rng, ns->params);
    if (nemesis.all_peers) e.params["peers"] = peers;
    if (duration > 0) active.push_back({at_ms + duration, e.node, nemesis.takes_down});
    out.push_back(std::move(e));
  }
  return out;
}

std::int64_t max_faulted_at_once(const Schedule& s) {
  std::int64_t most = 0;
  for (const auto& e : s) {
    if (e.duration_ms <= 0) continue;
    std::set<std::string> nodes;
    for (const auto& o : s)
      if (o.duration_ms > 0 && o.at_ms <= e.at_ms && e.at_ms < o.at_ms + o.duration_ms)
        nodes.insert(o.node);
    most = std::max<std::int64_t>(most, static_cast<std::int64_t>(nodes.size()));
  }
  return most;
}

}  // namespace samsa::scenarios
