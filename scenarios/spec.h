#pragma once
// A scenario file (TOML), parsed and checked: the cluster, the workload and
// its options, Kafka config keys, the nemeses with the fault phase and its
// budget, the healed phase, the checkers and the expected verdict. The format
// is documented in scenarios/README.md. Every mistake in a file is reported
// with file:line:col (or the --set override that caused it).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/runtime/result.h"

namespace samsa::scenarios {

// A number drawn per seed from [lo, hi] (lo == hi: fixed).
struct Range {
  double lo = 0;
  double hi = 0;
  bool integral = true;
  bool fixed() const { return lo == hi; }
};

// One --set KEY=VALUE. KEY is a dotted path into the scenario (faults.rate_per_s,
// workload.duplicate_bug, nemesis.crash.weight, topics.t.replication_factor,
// cluster.nodes), or any other
// key, which is a Kafka config key ([config]). VALUE is a TOML value; a bare
// word is a string.
struct Override {
  std::string key;
  std::string value;
  std::string text() const { return key + "=" + value; }
};

struct NemesisSpec {
  std::string name;     // a registered nemesis (scenarios/nemesis.h)
  double weight = 1;
  std::vector<std::string> targets = {"all"};  // node names or group names
  std::vector<std::string> peers = {"all"};    // for link faults
  Range duration_ms{100, 2000};
  nlohmann::json params = nlohmann::json::object();  // nemesis-specific, defaults filled in
};

struct TopicSpec {
  std::string name;
  std::int64_t partitions = 1;
  std::int64_t replication_factor = 1;
};

struct ScenarioSpec {
  std::string name;
  std::string description;
  // cluster
  Range nodes{0, 0};   // 0: the workload's own default
  std::int64_t brokers = 0;
  std::vector<TopicSpec> topics;
  // workload
  std::string workload;
  nlohmann::json workload_options = nlohmann::json::object();  // defaults filled in
  nlohmann::json config = nlohmann::json::object();            // Kafka keys, defaults filled in
  // faults
  std::int64_t fault_phase_ms = 10'000;
  std::int64_t heal_ms = 10'000;
  Range rate_per_s{1, 1, false};
  std::int64_t max_faulted_nodes = -1;  // -1: no budget
  std::vector<NemesisSpec> nemeses;
  // world
  double buggify_chance = 0;
  double slow_fsync_chance = 0;
  Range fsync_latency_us{200, 5000};
  // checkers: name -> options
  std::map<std::string, nlohmann::json> checkers;
  std::string expect = "ok";  // verdict a run of this scenario should give
  // Anomalies the scenario exists to show (on some seeds): the configuration
  // allows them, so a run shows them as `demonstrated`, not failing. A run
  // demonstrates the scenario when any one of them appears.
  std::vector<std::string> demonstrates;
  // [zoo]: the legacy switch (samsa.legacy.*) whose bug the scenario finds,
  // and its KIP/JIRA; `samsa zoo` also runs it with the switch off.
  std::string zoo_switch;
  std::string zoo_issue;
  // [zoo] max_seeds: this entry's seed budget when above `samsa zoo`'s
  // (an anomaly one seed in a thousand shows, in runs of a few ms). 0: none.
  std::int64_t zoo_max_seeds = 0;
  // [swarm]: KEY = [choice, ...]; per seed the runner draws one choice of
  // each key (stream "swarm-config") and runs the scenario with it as --set
  // overrides (the user's own --set win). A scalar choice sets KEY; an
  // inline-table choice sets each of its keys together (KEY is then a label:
  // `producer = [{acks = "1"}, {acks = "all", "enable.idempotence" = false}]`).
  std::map<std::string, std::vector<std::vector<Override>>> swarm;
};

struct SpecError {
  std::string where;  // "file:line:col" or "--set KEY"
  std::string message;
  std::string to_string() const { return where + ": " + message; }
};

Result<Override, std::string> parse_override(const std::string& key_equals_value);

// What a scenario file is read for. `run` checks everything the simulated
// runner needs; `fault_schedule` (`samsa live --nemesis`) reads the file for
// its faults only, so the workload's own options (its topics, say) are not
// required: the live cluster's clients are outside samsa.
enum class SpecUse { run, fault_schedule };

// Parses and checks a scenario. `origin` names the file in messages;
// `default_name` is used when the file has no `name` key.
Result<ScenarioSpec, SpecError> parse_scenario(const std::string& text, const std::string& origin,
                                               const std::string& default_name,
                                               const std::vector<Override>& overrides = {},
                                               SpecUse use = SpecUse::run);

}  // namespace samsa::scenarios
