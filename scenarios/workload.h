#pragma once
// Workloads, FoundationDB-style: setup (add the nodes, name node groups),
// start (start nodes and actors that drive the system and record the
// history), check (final-state checks after the run). A scenario file names a
// workload and sets its options; nemeses and history checkers are composed
// beside it. Workloads are registered by name (registry.cpp; tests may add).
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "invariants/history.h"
#include "invariants/snapshot.h"
#include "invariants/violation.h"
#include "sim/runtime/result.h"
#include "sim/world/world.h"

namespace samsa::scenarios {

struct ScenarioSpec;

struct WorkloadContext {
  sim::World& world;
  invariants::History& history;
  const ScenarioSpec& spec;
  const nlohmann::json& options;  // the [workload] table, defaults filled in
  const nlohmann::json& config;   // Kafka keys, defaults filled in
  sim::Random& swarm;             // per-seed draws of the workload's own shape
  int nodes = 0;                  // cluster.nodes drawn for this seed (0: unset)
  sim::Duration heal_at{0};       // end of the fault phase: everything heals
  sim::Duration end{0};           // end of the run
  // Node groups that nemeses may target by name ("all" is added by the runner).
  std::map<std::string, std::vector<sim::NodeId>> groups;
  // Targets nemeses may name that are resolved when the fault applies, not
  // when the schedule is drawn: the partition's "leader", the "controller".
  // The schedule names them as they are ("node":"leader"); the runner asks
  // the function at the fault's time and records the node it got (nullopt:
  // nothing to hit now, the event is skipped). The budget counts such a
  // target as one node of its own name.
  std::map<std::string, std::function<std::optional<sim::NodeId>()>> dynamic_targets;
};

class Workload {
 public:
  virtual ~Workload() = default;
  virtual void setup(WorkloadContext& ctx) = 0;
  virtual void start(WorkloadContext& ctx) = 0;
  // After the run: checks of the final state (the history checkers run apart).
  virtual std::vector<invariants::Violation> check(WorkloadContext&) { return {}; }
  // The final state of the system under test (each replica's log), once
  // known: the runner gives it to the lost-write and unseen checkers. The
  // workload keeps it (until teardown): a copy of every replica's records
  // was 3.5 MiB of the check phase at 1,000 records/s.
  virtual const invariants::Snapshot* final_state(WorkloadContext&) { return nullptr; }
  // Counters for the report's details.
  virtual nlohmann::json details(WorkloadContext&) { return nlohmann::json::object(); }
  // Last call while the world still exists: let go of anything that refers
  // to it (the workload outlives the world).
  virtual void teardown(WorkloadContext&) {}
};

// A scenario's bad [workload] option or [config] value, found before a run
// starts: `key` is "workload.<option>" or the Kafka key as written in
// [config]; parse_scenario turns it into file:line:col (or --set KEY).
struct ConfigMistake {
  std::string key;
  std::string message;
  // Who refused it ("broker", "producer", "consumer"; empty: the workload):
  // the value may have come from the component's prefixed key.
  std::string component = {};
};

struct WorkloadType {
  std::string name;
  std::string description;
  nlohmann::json options = nlohmann::json::object();  // allowed keys with defaults
  nlohmann::json config = nlohmann::json::object();   // Kafka keys it reads, defaults
  // Node groups nemeses may target besides "all" (setup fills them in),
  // dynamic targets (WorkloadContext::dynamic_targets) included.
  std::vector<std::string> groups;
  // Numeric options that `samsa shrink` may lower ("fewer records").
  std::vector<std::string> shrinkable;
  std::function<std::unique_ptr<Workload>()> make;
  // What Kafka promises for a scenario of this workload: the configuration
  // as invariants::expectations_for reads it (Kafka keys, replication.factor,
  // samsa.delivery, nemeses, max_faulted_nodes). Unset: the workload's
  // scenarios promise everything their checkers check.
  std::function<nlohmann::json(const ScenarioSpec&)> expectation_config;
  // Checks the options and Kafka keys as setup would read them (values the
  // broker, producer or consumer config refuses, options out of range), so
  // a bad one is the scenario's mistake (exit 2) said before the run, not a
  // throw inside it. Unset: nothing beyond the spec's own type checks.
  std::function<Result<void, ConfigMistake>(const ScenarioSpec&)> validate;
  // The `config` keys by the component that reads them ("broker", "producer",
  // "consumer"). A key written with a component's prefix reaches only that
  // component (`producer.request.timeout.ms`: the producers', not the
  // consumers'), as Kafka Connect's worker config and MirrorMaker 2 take
  // `producer.`/`consumer.` overrides; an unprefixed key reaches every
  // component that reads it. Empty: the workload takes no prefixes.
  std::map<std::string, std::vector<std::string>> components;
};

// A prefixed [config] key the workload takes ("producer.retries" ->
// {"producer", "retries"}); nullopt for any other key, among them the keys
// the workload reads as written (the broker's producer.id.expiration.ms).
std::optional<std::pair<std::string, std::string>> component_key(const WorkloadType& w, const std::string& key);

std::vector<std::string> workload_names();
const WorkloadType* find_workload(const std::string& name);  // stable pointer
void register_workload(WorkloadType t);

// The built-in workloads (each in its own file).
WorkloadType pingpong_workload();             // selftest/pingpong.cpp
WorkloadType controller_election_workload();  // coord/controller_election.cpp
WorkloadType kafka_workload();                // kafka/workload.cpp
WorkloadType eos_workload();                  // kafka/eos_workload.cpp
WorkloadType mirror_workload();               // mirror/mirror_workload.cpp

}  // namespace samsa::scenarios
