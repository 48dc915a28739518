// The Kafka nemeses: faults named after what they do to a Kafka cluster,
// built from sim/world's faults. Which broker they hit is the scenario's
// `targets`: "brokers", or a dynamic target the kafka workload resolves when
// the fault applies ("leader", "controller", "follower", "group-coordinator");
// a link fault's `peers` may name one too (controller -> follower). Crash,
// restart, pause and the link faults of nemesis.cpp apply to Kafka nodes as
// they are (a leader crash is `crash` with targets = ["leader"]).
#include "scenarios/nemesis.h"
#include "scenarios/schedule.h"

namespace samsa::scenarios {

namespace {

using sim::NodeId;
using sim::World;

sim::SilentMode silent_mode(const FaultEvent& e) {
  return e.params.value("mode", "drop") == "hold" ? sim::SilentMode::hold : sim::SilentMode::drop;
}

// What a power loss keeps of unsynced writes: nothing (the page cache is
// gone), or torn writes.
sim::CrashMode power_mode(const FaultEvent& e) {
  return e.params.value("disk", "keep_none") == "torn" ? sim::CrashMode::torn : sim::CrashMode::keep_none;
}

nlohmann::json copy_strings(sim::Random&, const nlohmann::json& o) {
  nlohmann::json out = nlohmann::json::object();
  for (auto& [k, v] : o.items())
    if (v.is_string()) out[k] = v;
  return out;
}

// The link's clog set outright (see nemesis.cpp's clog).
void unclog_peers(World& w, const FaultEvent& e, NodeId n, NodeId) {
  for (NodeId p : peer_nodes(w, e, n)) w.network().clog(n, p, sim::Duration(0));
}

// Ends this fault's cut between n and p only (another fault on the pair outlasts it).
void end_cut(World& w, const FaultEvent& e, NodeId n, NodeId p) {
  if (e.params.value("mode", "reset") == "reset") w.network().end_partition(n, p);
  else w.network().end_partition_silent(n, p, silent_mode(e));
}

}  // namespace

std::vector<Nemesis> kafka_nemeses() {
  std::vector<Nemesis> v;
  Nemesis lost_acks{"lost-acks",
                    "frames from node to peer are silently dropped until the duration ends: requests "
                    "arrive and are acted on, their responses never come back (the client times out)",
                    true, true, false, false, {}, nullptr,
                    // Counted windows: two that overlap on one link compose.
                    [](World& w, const FaultEvent&, NodeId a, NodeId b) { w.network().open_lost_acks_window(a, b); },
                    [](World& w, const FaultEvent&, NodeId a, NodeId b) { w.network().close_lost_acks_window(a, b); }};
  v.push_back(std::move(lost_acks));
  Nemesis silent{"partition-silent",
                 "a real network split between node and peer: connections stay open and frames are "
                 "dropped (`mode` drop) or held until the heal (`mode` hold); connects hang",
                 true, true, false, false, {{"mode", "drop"}}, copy_strings,
                 [](World& w, const FaultEvent& e, NodeId a, NodeId b) {
                   w.network().partition_silent(a, b, silent_mode(e));
                 },
                 [](World& w, const FaultEvent& e, NodeId a, NodeId b) {
                   w.network().end_partition_silent(a, b, silent_mode(e));
                 }};
  v.push_back(std::move(silent));
  Nemesis isolate{"isolate",
                  "node is cut from every node of `peers` (a leader from its followers and the "
                  "coordinator) until the duration ends; `mode` reset (frames reset connections), "
                  "drop or hold (silent splits)",
                  false, true, false, false, {{"mode", "reset"}}, copy_strings,
                  [](World& w, const FaultEvent& e, NodeId n, NodeId) {
                    const std::string mode = e.params.value("mode", "reset");
                    for (NodeId p : peer_nodes(w, e, n)) {
                      if (mode == "reset") w.network().partition(n, p);
                      else w.network().partition_silent(n, p, silent_mode(e));
                    }
                  },
                  [](World& w, const FaultEvent& e, NodeId n, NodeId) {
                    for (NodeId p : peer_nodes(w, e, n)) end_cut(w, e, n, p);
                  }};
  isolate.all_peers = true;
  v.push_back(std::move(isolate));
  Nemesis slow{"slow-replication",
               "frames from node to every node of `peers` take `extra_ms` longer until the duration "
               "ends (a leader whose followers fall behind)",
               false, true, false, false, {{"extra_ms", nlohmann::json::array({200, 2000})}},
               [](sim::Random& rng, const nlohmann::json& o) {
                 const auto& r = o.at("extra_ms");
                 std::int64_t lo = 0, hi = 0;
                 if (r.is_array()) {
                   lo = static_cast<std::int64_t>(r[0].get<double>());
                   hi = static_cast<std::int64_t>(r[1].get<double>());
                 } else {
                   lo = hi = static_cast<std::int64_t>(r.get<double>());
                 }
                 return nlohmann::json{{"extra_ms", lo == hi ? lo : rng.uniform_signed(lo, hi)}};
               },
               [](World& w, const FaultEvent& e, NodeId n, NodeId) {
                 for (NodeId p : peer_nodes(w, e, n))
                   w.network().clog(n, p, std::chrono::milliseconds(e.params.value("extra_ms", 500)));
               },
               unclog_peers};
  slow.all_peers = true;
  v.push_back(std::move(slow));
  Nemesis power{"power-loss",
                "the node loses power: unsynced writes are gone (`disk` keep_none: the page cache; "
                "torn), and it starts again after the duration",
                false, true, true, true, {{"disk", "keep_none"}}, copy_strings,
                [](World& w, const FaultEvent& e, NodeId n, NodeId) {
                  if (w.is_up(n)) w.crash(n, power_mode(e));
                },
                [](World& w, const FaultEvent&, NodeId n, NodeId) {
                  if (!w.is_up(n)) w.start(n);
                }};
  v.push_back(std::move(power));
  Nemesis power_all{"power-loss-all",
                    "node and every node of `peers` (all replicas) lose power at once, unsynced "
                    "writes gone, and start again after the duration",
                    false, true, true, true, {{"disk", "keep_none"}}, copy_strings,
                    [](World& w, const FaultEvent& e, NodeId n, NodeId) {
                      if (w.is_up(n)) w.crash(n, power_mode(e));
                      for (NodeId p : peer_nodes(w, e, n))
                        if (w.is_up(p)) w.crash(p, power_mode(e));
                    },
                    [](World& w, const FaultEvent& e, NodeId n, NodeId) {
                      if (!w.is_up(n)) w.start(n);
                      for (NodeId p : peer_nodes(w, e, n))
                        if (!w.is_up(p)) w.start(p);
                    }};
  power_all.all_peers = true;
  v.push_back(std::move(power_all));
  return v;
}

}  // namespace samsa::scenarios
