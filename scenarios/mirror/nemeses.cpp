// The mirror scenarios' nemesis: a partition of the whole WAN between two
// datacenters. The event's `peers` (every node of the nemesis's `peers`
// groups, e.g. "dc2") are cut from every other node of the world (the
// event's node is one of them, e.g. a node of "dc1", the one the budget
// counts): each datacenter keeps talking inside itself.
#include <algorithm>

#include "scenarios/nemesis.h"
#include "scenarios/schedule.h"

namespace samsa::scenarios {

namespace {

using sim::NodeId;
using sim::World;

// (this side, the other side): the event's peers, and every other node.
std::pair<std::vector<NodeId>, std::vector<NodeId>> sides(World& w, const FaultEvent& e, NodeId node) {
  std::vector<NodeId> other = peer_nodes(w, e, node), here;
  for (NodeId n : w.node_ids())
    if (std::find(other.begin(), other.end(), n) == other.end()) here.push_back(n);
  return {here, other};
}

}  // namespace

std::vector<Nemesis> mirror_nemeses() {
  std::vector<Nemesis> v;
  Nemesis wan{"wan-partition",
              "every link between the nodes of `peers` (a datacenter) and all other nodes is cut until the "
              "duration ends; `mode` drop (default) or hold: a silent WAN split, connections stay open and "
              "notice by their own timeouts; reset: frames reset connections",
              false, true, false, false, {{"mode", "drop"}},
              [](sim::Random&, const nlohmann::json& o) { return nlohmann::json{{"mode", o.value("mode", "drop")}}; },
              [](World& w, const FaultEvent& e, NodeId n, NodeId) {
                const std::string mode = e.params.value("mode", "drop");
                const auto [here, other] = sides(w, e, n);
                for (NodeId a : here)
                  for (NodeId b : other) {
                    if (mode == "reset") w.network().partition(a, b);
                    else w.network().partition_silent(a, b, mode == "hold" ? sim::SilentMode::hold : sim::SilentMode::drop);
                  }
              },
              [](World& w, const FaultEvent& e, NodeId n, NodeId) {
                const std::string mode = e.params.value("mode", "drop");
                const auto [here, other] = sides(w, e, n);
                for (NodeId a : here)
                  for (NodeId b : other) {  // this split's cut only
                    if (mode == "reset") w.network().end_partition(a, b);
                    else w.network().end_partition_silent(a, b, mode == "hold" ? sim::SilentMode::hold : sim::SilentMode::drop);
                  }
              }};
  wan.all_peers = true;
  v.push_back(std::move(wan));
  return v;
}

}  // namespace samsa::scenarios
