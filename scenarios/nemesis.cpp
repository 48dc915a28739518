// The built-in nemeses: each wraps one fault of sim/world (sim/world/README.md
// names and documents the faults themselves).
#include "scenarios/nemesis.h"

#include <algorithm>
#include <deque>
#include <mutex>

#include "scenarios/schedule.h"

namespace samsa::scenarios {

namespace {

using sim::NodeId;
using sim::World;

// A parameter is a number or [lo, hi], drawn per event.
std::int64_t draw_param(sim::Random& rng, const nlohmann::json& v) {
  if (v.is_array() && v.size() == 2) {
    const auto lo = static_cast<std::int64_t>(v[0].get<double>());
    const auto hi = static_cast<std::int64_t>(v[1].get<double>());
    return lo == hi ? lo : rng.uniform_signed(lo, hi);
  }
  return v.is_number() ? static_cast<std::int64_t>(v.get<double>()) : 0;
}

std::function<nlohmann::json(sim::Random&, const nlohmann::json&)> draw_numbers(
    std::vector<std::string> keys) {
  return [keys](sim::Random& rng, const nlohmann::json& options) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& k : keys) out[k] = draw_param(rng, options.at(k));
    return out;
  };
}

std::optional<sim::CrashMode> disk_mode(const FaultEvent& e) {
  const std::string m = e.params.value("disk", "random");
  if (m == "keep_none") return sim::CrashMode::keep_none;
  if (m == "keep_all") return sim::CrashMode::keep_all;
  if (m == "torn") return sim::CrashMode::torn;
  return std::nullopt;  // drawn from the disk config's weights
}

std::deque<Nemesis> builtin() {
  std::deque<Nemesis> v;
  v.push_back({"crash", "the node crashes (unsynced disk writes per `disk`) and restarts after the duration",
               false, true, true, true, {{"disk", "random"}},
               [](sim::Random&, const nlohmann::json& o) {
                 return nlohmann::json{{"disk", o.value("disk", "random")}};
               },
               [](World& w, const FaultEvent& e, NodeId n, NodeId) {
                 if (w.is_up(n)) w.crash(n, disk_mode(e));
               },
               [](World& w, const FaultEvent&, NodeId n, NodeId) {
                 if (!w.is_up(n)) w.start(n);
               }});
  // A restart is a crash and an immediate start: what the disk keeps of
  // unsynced writes is `disk` as for crash. The default "random" draws it
  // (a power cycle: what the existing scenarios meant); "keep_all" is a
  // process restart whose page cache survives (kill -9 and start). Only a
  // set mode is written into the event, so schedules of scenarios that do
  // not set it are unchanged.
  v.push_back({"restart", "the node crashes (unsynced disk writes per `disk`) and starts again at once",
               false, false, false, false, {{"disk", "random"}},
               [](sim::Random&, const nlohmann::json& o) {
                 const std::string m = o.value("disk", "random");
                 return m == "random" ? nlohmann::json::object() : nlohmann::json{{"disk", m}};
               },
               [](World& w, const FaultEvent& e, NodeId n, NodeId) {
                 w.crash(n, disk_mode(e));  // waits for a crash in progress; nothing when down
                 if (!w.is_up(n)) w.start(n);
               },
               nullptr});
  v.push_back({"partition",
               "the link between node and peer is cut both ways (a frame that meets it resets its "
               "connection; connects time out) until the duration ends",
               true, true, false, false, {}, nullptr,
               [](World& w, const FaultEvent&, NodeId a, NodeId b) { w.network().partition(a, b); },
               // Only this fault's cut: another fault on the pair outlasts it.
               [](World& w, const FaultEvent&, NodeId a, NodeId b) { w.network().end_partition(a, b); }});
  v.push_back({"partition-one-way", "frames from node to peer are cut until the duration ends",
               true, true, false, false, {}, nullptr,
               [](World& w, const FaultEvent&, NodeId a, NodeId b) {
                 w.network().partition_one_way(a, b);
               },
               [](World& w, const FaultEvent&, NodeId a, NodeId b) { w.network().end_partition_one_way(a, b); }});
  v.push_back({"clog", "frames from node to peer take `extra_ms` longer until the duration ends",
               true, true, false, false, {{"extra_ms", 50}}, draw_numbers({"extra_ms"}),
               [](World& w, const FaultEvent& e, NodeId a, NodeId b) {
                 w.network().clog(a, b, std::chrono::milliseconds(e.params.value("extra_ms", 50)));
               },
               // Still the link's clog set outright, not add/remove_clog's
               // counted causes: zoo/no-epoch-bump-per-transaction's seed 55
               // depends on an overlapping clog's end clearing the link.
               [](World& w, const FaultEvent&, NodeId a, NodeId b) {
                 w.network().clog(a, b, sim::Duration(0));
               }});
  v.push_back({"reset", "connections between node and peer reset now; frames in flight are lost",
               true, false, false, false, {}, nullptr,
               [](World& w, const FaultEvent&, NodeId a, NodeId b) {
                 w.network().reset_connections(a, b);
               },
               nullptr});
  v.push_back({"refuse-connects", "connects to the node are refused until the duration ends",
               false, true, false, false, {}, nullptr,
               [](World& w, const FaultEvent&, NodeId n, NodeId) { w.network().refuse_connects(n, true); },
               [](World& w, const FaultEvent&, NodeId n, NodeId) {
                 w.network().refuse_connects(n, false);
               }});
  v.push_back({"clock-jump", "the node's wall clock jumps by `delta_ms` (monotonic time is untouched)",
               false, false, false, false, {{"delta_ms", nlohmann::json::array({-60000, 60000})}},
               draw_numbers({"delta_ms"}),
               [](World& w, const FaultEvent& e, NodeId n, NodeId) {
                 w.jump_wall_clock(n, std::chrono::milliseconds(e.params.value("delta_ms", 0)));
               },
               nullptr});
  v.push_back({"clock-skew", "the node's wall clock runs `ppm` fast or slow until the duration ends",
               false, true, false, false, {{"ppm", nlohmann::json::array({-100000, 100000})}},
               draw_numbers({"ppm"}),
               [](World& w, const FaultEvent& e, NodeId n, NodeId) {
                 w.skew_wall_clock(n, e.params.value("ppm", 0));
               },
               [](World& w, const FaultEvent&, NodeId n, NodeId) { w.skew_wall_clock(n, 0); }});
  v.push_back({"pause", "the node's fibers stop running (a GC pause, SIGSTOP) until the duration ends",
               false, true, true, false, {}, nullptr,
               [](World& w, const FaultEvent&, NodeId n, NodeId) { w.pause(n); },
               [](World& w, const FaultEvent&, NodeId n, NodeId) { w.resume(n); }});
  // SimDisk::stall: every disk operation of the node waits until the
  // duration ends (a stalled device, a multipath failover); fsyncs on the
  // ack path (log.flush.interval.messages=1) hold their acks that long.
  v.push_back({"disk-stall", "the node's disk answers nothing (reads, writes, fsyncs wait) until the duration ends",
               false, true, true, false, {}, nullptr,
               [](World& w, const FaultEvent& e, NodeId n, NodeId) {
                 w.disk(n).stall(std::chrono::milliseconds(e.duration_ms));
               },
               [](World&, const FaultEvent&, NodeId, NodeId) {}});
  for (auto& n : kafka_nemeses()) v.push_back(std::move(n));
  for (auto& n : mirror_nemeses()) v.push_back(std::move(n));
  return v;
}

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

std::deque<Nemesis>& registry() {
  static std::deque<Nemesis> all = builtin();
  return all;
}

}  // namespace

std::vector<NodeId> peer_nodes(World& w, const FaultEvent& e, NodeId node) {
  std::vector<NodeId> out;
  const auto it = e.params.find("peers");
  if (it == e.params.end() || !it->is_array()) return out;
  for (const auto& name : *it) {
    if (!name.is_string()) continue;
    const auto id = w.find_node(name.get<std::string>());
    if (id && *id != node) out.push_back(*id);
  }
  return out;
}

std::vector<std::string> nemesis_names() {
  std::lock_guard lock(registry_mutex());
  std::vector<std::string> v;
  for (const auto& n : registry()) v.push_back(n.name);
  std::sort(v.begin(), v.end());
  return v;
}

const Nemesis* find_nemesis(const std::string& name) {
  std::lock_guard lock(registry_mutex());
  for (const auto& n : registry())
    if (n.name == name) return &n;
  return nullptr;
}

void register_nemesis(Nemesis n) {
  std::lock_guard lock(registry_mutex());
  for (auto& e : registry())
    if (e.name == n.name) {
      e = std::move(n);
      return;
    }
  registry().push_back(std::move(n));
}

}  // namespace samsa::scenarios
