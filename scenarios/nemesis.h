#pragma once
// Nemeses (fault generators), registered by name. A scenario lists the ones
// it wants with weights, targets and durations; a seed turns them into a
// schedule (scenarios/schedule.h): explicit timed fault events. A nemesis
// applies one event to the world and, when the event has a duration,
// reverts it when the duration is over.
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "sim/world/world.h"

namespace samsa::scenarios {

struct FaultEvent;

struct Nemesis {
  std::string name;
  std::string description;
  bool link = false;      // acts on a link: the event names a peer
  bool lasting = true;    // has a duration (false: an instant, e.g. a reset)
  bool needs_up = false;  // only on a node that is up (and not already taken down)
  bool takes_down = false;  // the node is down for the duration
  nlohmann::json params = nlohmann::json::object();  // extra options with defaults
  // Draws the event's extra parameters from the scenario's options.
  std::function<nlohmann::json(sim::Random&, const nlohmann::json& options)> draw;
  std::function<void(sim::World&, const FaultEvent&, sim::NodeId node, sim::NodeId peer)> apply;
  std::function<void(sim::World&, const FaultEvent&, sim::NodeId node, sim::NodeId peer)> revert;
  // Acts on a set of nodes besides `node`: the generator lists the names of
  // every node of the nemesis's `peers` groups in the event's "peers"
  // parameter (a leader cut off from all brokers, every broker losing power).
  bool all_peers = false;
};

std::vector<std::string> nemesis_names();
// The Kafka nemeses (kafka/nemeses.cpp), part of the built-in ones.
std::vector<Nemesis> kafka_nemeses();
// The mirror scenarios' (mirror/nemeses.cpp): wan-partition.
std::vector<Nemesis> mirror_nemeses();
// The nodes an event's "peers" parameter names (all_peers nemeses), without `node`.
std::vector<sim::NodeId> peer_nodes(sim::World& w, const FaultEvent& e, sim::NodeId node);
const Nemesis* find_nemesis(const std::string& name);  // stable pointer
void register_nemesis(Nemesis n);

}  // namespace samsa::scenarios
