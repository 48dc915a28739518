#pragma once
// What Kafka promises for a configuration: which checkers must hold and which
// anomalies the configuration permits (reported as demonstrated, not
// failing), each with a one-line reason. The table is in invariants/README.md.
//
//   auto e = expectations_for({{"acks", "1"}, {"nemeses", {"crash"}}});
//   e.allowed.count("lost-write")   // 1: "acks=1: the leader acks before ..."
//   e.must_hold.count("duplicate")  // 1
#include <nlohmann/json.hpp>

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "invariants/violation.h"

namespace samsa::invariants {

struct Expectations {
  std::set<std::string> must_hold;             // checker names (kafka_checkers.h)
  std::map<std::string, std::string> allowed;  // anomaly (violation) name -> why the configuration permits it
  bool allows(std::string_view anomaly) const { return allowed.count(std::string(anomaly)) != 0; }
};

// `config` is one JSON object of Kafka keys by Kafka's names (producer,
// broker, topic and consumer keys together; values as strings, numbers or
// booleans) and samsa's: "replication.factor", "samsa.delivery"
// (at-most-once | at-least-once | exactly-once), "samsa.consume" (subscribe |
// assign), "samsa.legacy.*", "nemeses": the fault names present (strings,
// or objects {"name", "disk", "targets", "peers"} as in a scenario's
// [[nemesis]] tables; absent groups mean every node), and
// "max_faulted_nodes" (the scenario's budget; absent: no limit).
// Missing keys take Kafka's defaults (acks=all, idempotence on unless a key
// conflicts with it, min.insync.replicas=1, flush left to the OS).
Expectations expectations_for(const nlohmann::json& config);

nlohmann::json to_json(const Expectations& e);  // {"must_hold": [...], "allowed": {name: reason}}

// A run's violations split by what the configuration promised: `failing`
// decide the verdict; `demonstrated` are allowed ones, reported (run --json's
// `demonstrated`) but not failing.
struct Judged {
  std::vector<Violation> failing, demonstrated;
};
Judged judge(const std::vector<Violation>& violations, const Expectations& e);

}  // namespace samsa::invariants
