#include <catch2/catch.hpp>

#include <map>

#include "scenarios/scenario.h"
#include "scenarios/workload.h"

using namespace samsa::scenarios;

namespace {

// The error of parsing `text` as file "t.toml" (with overrides).
SpecError error_of(const std::string& text, std::vector<std::string> sets = {}) {
  std::vector<Override> overrides;
  for (const auto& s : sets) overrides.push_back(*parse_override(s));
  auto r = parse_scenario(text, "t.toml", "t", overrides);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

const std::string k_ok = R"(
[cluster]
nodes = 3
[workload]
name = "pingpong"
[faults]
rate_per_s = 1.0
[[nemesis]]
name = "crash"
[checkers]
echo = {}
)";

}  // namespace

TEST_CASE("spec: a good file parses, defaults filled in", "[scenarios][spec]") {
  auto r = parse_scenario(k_ok, "t.toml", "t");
  REQUIRE(r.ok());
  CHECK(r->name == "t");
  CHECK(r->workload == "pingpong");
  CHECK(r->workload_options["duplicate_bug"] == false);
  CHECK(r->nemeses.size() == 1);
  CHECK(r->nemeses[0].params["disk"] == "random");
  CHECK(r->checkers.count("echo") == 1);
}

TEST_CASE("spec: a TOML syntax error names file:line:col", "[scenarios][spec]") {
  const auto e = error_of("[cluster]\nnodes = [1, 2\n");
  CHECK(e.where.starts_with("t.toml:"));
  CHECK(e.where.find(":2:") != std::string::npos);
}

TEST_CASE("spec: a wrong type names file:line:col and the type wanted", "[scenarios][spec]") {
  const auto e = error_of("[workload]\nname = \"pingpong\"\n[faults]\nphase_ms = \"long\"\n");
  CHECK(e.where == "t.toml:4:12");
  CHECK(e.message.find("'phase_ms' must be an integer, not a string") != std::string::npos);
  const auto w = error_of("[workload]\nname = \"pingpong\"\nduplicate_bug = 3\n");
  CHECK(w.where == "t.toml:3:17");
  CHECK(w.message.find("'duplicate_bug' must be a boolean") != std::string::npos);
}

TEST_CASE("spec: an unknown key names itself and the allowed ones", "[scenarios][spec]") {
  const auto e = error_of("[workload]\nname = \"pingpong\"\n[faults]\nphase = 3\n");
  CHECK(e.where == "t.toml:4:1");
  CHECK(e.message.find("unknown key 'phase' in [faults]") != std::string::npos);
  CHECK(e.message.find("allowed: phase_ms, heal_ms, rate_per_s, max_faulted_nodes") !=
        std::string::npos);
  const auto n = error_of("[workload]\nname = \"pingpong\"\n[[nemesis]]\nname = \"crash\"\nextra_ms = 5\n");
  CHECK(n.where == "t.toml:5:1");
  CHECK(n.message.find("unknown key 'extra_ms'") != std::string::npos);
  const auto w = error_of("[workload]\nname = \"nosuch\"\n");
  CHECK(w.where == "t.toml:2:8");
  CHECK(w.message.find("controller-election, eos, kafka, mirror, pingpong") != std::string::npos);
  const auto c = error_of("[workload]\nname = \"pingpong\"\n[checkers]\nlost-writes = {}\n");
  CHECK(c.message.find("unknown key 'lost-writes'") != std::string::npos);
  CHECK(c.message.find("well-formed") != std::string::npos);
}

TEST_CASE("spec: impossible values name file:line:col", "[scenarios][spec]") {
  const auto rf = error_of(
      "[cluster]\nbrokers = 2\n[workload]\nname = \"pingpong\"\n[[topics]]\nname = \"t\"\n"
      "replication_factor = 3\n");
  CHECK(rf.where == "t.toml:7:22");
  CHECK(rf.message == "replication_factor 3 of topic t is above the cluster's 2 brokers");
  const auto rate = error_of("[workload]\nname = \"pingpong\"\n[faults]\nrate_per_s = -1.5\n");
  CHECK(rate.where == "t.toml:4:14");
  CHECK(rate.message.find("must be at least 0") != std::string::npos);
  const auto range = error_of("[workload]\nname = \"pingpong\"\n[cluster]\nnodes = [5, 3]\n");
  CHECK(range.where == "t.toml:4:9");
  CHECK(range.message.find("lo <= hi") != std::string::npos);
  const auto chance = error_of("[workload]\nname = \"pingpong\"\n[world]\nbuggify_chance = 2\n");
  CHECK(chance.message.find("must be in [0, 1]") != std::string::npos);
  const auto group =
      error_of("[workload]\nname = \"pingpong\"\n[[nemesis]]\nname = \"crash\"\ntargets = [\"brokers\"]\n");
  CHECK(group.where == "t.toml:5:11");
  CHECK(group.message.find("not a node group of workload pingpong") != std::string::npos);
}

TEST_CASE("spec: --set overrides scenario keys, nemeses and Kafka config keys", "[scenarios][spec]") {
  std::vector<Override> sets = {*parse_override("faults.rate_per_s=2.5"),
                                *parse_override("workload.duplicate_bug=true"),
                                *parse_override("nemesis.crash.weight=3"),
                                *parse_override("cluster.nodes=4")};
  auto r = parse_scenario(k_ok, "t.toml", "t", sets);
  REQUIRE(r.ok());
  CHECK(r->rate_per_s.lo == 2.5);
  CHECK(r->workload_options["duplicate_bug"] == true);
  CHECK(r->nemeses[0].weight == 3);
  CHECK(r->nodes.lo == 4);
  const Scenario* e = find_scenario("coord/controller-election");
  REQUIRE(e != nullptr);
  auto c = parse_scenario(e->text, "e.toml", "e", {*parse_override("zookeeper.session.timeout.ms=6000")});
  REQUIRE(c.ok());
  CHECK(c->config["zookeeper.session.timeout.ms"] == 6000);
}

TEST_CASE("spec: a bad --set names the override", "[scenarios][spec]") {
  const auto e = error_of(k_ok, {"faults.rate_per_s=fast"});
  CHECK(e.where == "--set faults.rate_per_s");
  CHECK(e.message.find("must be a number") != std::string::npos);
  const auto k = error_of(k_ok, {"no.such.key=1"});
  CHECK(k.where == "--set no.such.key");
  CHECK(k.message.find("unknown config key 'no.such.key'") != std::string::npos);
  const auto n = error_of(k_ok, {"nemesis.partition.weight=1"});
  CHECK(n.message.find("no nemesis 'partition'") != std::string::npos);
  CHECK_FALSE(parse_override("novalue").ok());
}

TEST_CASE("spec: every built-in scenario parses and names its expectation", "[scenarios][spec]") {
  REQUIRE(builtin_scenarios().size() >= 4);
  for (const auto& s : builtin_scenarios()) {
    INFO(s.name);
    CHECK_FALSE(s.description.empty());
    CHECK(s.origin == "scenarios/" + s.name + ".toml");
  }
  CHECK(find_scenario("selftest/pingpong-dup-bug")->spec.expect == "safety");
}

TEST_CASE("spec: demonstrates names anomalies the checkers report; [zoo] names a legacy switch", "[scenarios][spec]") {
  auto r = parse_scenario(k_ok + "\n" + "", "t.toml", "t");
  REQUIRE(r.ok());
  CHECK(r->demonstrates.empty());
  // Top-level keys go before the first table.
  auto d = parse_scenario("demonstrates = [\"duplicate\", \"liveness\"]\n" + k_ok, "t.toml", "t");
  REQUIRE(d.ok());
  CHECK(d->demonstrates == std::vector<std::string>{"duplicate", "liveness"});
  CHECK(d->zoo_switch.empty());
  const auto e = error_of("demonstrates = [\"lost-wirte\"]\n" + k_ok);
  CHECK(e.where == "t.toml:1:16");
  CHECK(e.message.find("'lost-wirte'") != std::string::npos);
  CHECK(e.message.find("lost-write") != std::string::npos);  // the known ones are listed
  const std::string zoo = "demonstrates = [\"lost-write\"]\n" + k_ok +
                          "[zoo]\nswitch = \"samsa.legacy.truncate.to.high.watermark\"\nissue = \"KAFKA-1211\"\n";
  auto z = parse_scenario(zoo, "t.toml", "t");
  REQUIRE(z.ok());
  CHECK(z->zoo_switch == "samsa.legacy.truncate.to.high.watermark");
  CHECK(z->zoo_issue == "KAFKA-1211");
  CHECK(error_of(k_ok + "[zoo]\nswitch = \"acks\"\n").message.find("samsa.legacy") != std::string::npos);
  CHECK(error_of(k_ok + "[zoo]\nswitch = \"samsa.legacy.x\"\n").message.find("demonstrates") != std::string::npos);
}

// A value the workload's components refuse (the broker's, producer's or
// consumer's config, or a workload option out of range) is the scenario's
// mistake, found at parse time (exit 2), not a throw inside the run (exit 4):
// one bad key per workload that validates, on every built-in scenario of it.
TEST_CASE("spec: every workload's bad config value or option is a SpecError naming the key", "[scenarios][spec]") {
  // workload -> bad --set overrides; each must be refused on each scenario.
  const std::map<std::string, std::vector<Override>> bad = {
      {"kafka", {{"min.insync.replicas", "0"}, {"workload.rate_per_s", "0"}, {"workload.dispatch", "\"fifo\""}}},
      {"eos", {{"max.poll.records", "0"}, {"transaction.state.log.num.partitions", "0"}, {"workload.transformers", "0"}}},
      {"mirror", {{"max.poll.records", "0"}, {"acks", "2"}, {"workload.wan_latency_ms", "[5, 1]"}}},
  };
  for (const auto& name : workload_names()) {
    const WorkloadType* w = find_workload(name);
    if (!w->validate) continue;
    INFO("workload " << name);
    REQUIRE(bad.count(name) == 1);  // a new validating workload gets a row
  }
  std::map<std::string, int> tried;
  for (const auto& s : builtin_scenarios()) {
    const auto row = bad.find(s.spec.workload);
    if (row == bad.end()) continue;
    for (const auto& o : row->second) {
      INFO(s.name << " --set " << o.text());
      auto r = scenario_from_text(s.text, s.origin, s.name, {o});
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().where == "--set " + o.key);
      CHECK_THAT(r.error().message, Catch::Contains(o.key));
      ++tried[s.spec.workload];
    }
  }
  for (const auto& [name, overrides] : bad) CHECK(tried[name] > 0);
}

TEST_CASE("spec: a bad config value in a file names file:line:col", "[scenarios][spec]") {
  const std::string text = R"([cluster]
brokers = 3
[[topics]]
name = "t"
replication_factor = 3
[workload]
name = "kafka"
consumers = 1
[config]
"max.poll.records" = 0
)";
  const auto e = error_of(text);
  CHECK(e.where == "t.toml:10:22");
  CHECK_THAT(e.message, Catch::Contains("max.poll.records") && Catch::Contains("consumer config"));
  const auto option = error_of(text, {"workload.rate_per_s=0"});
  CHECK(option.where == "--set workload.rate_per_s");
  // A bad option written in the file points at it.
  auto in_file = text;
  in_file.replace(in_file.find("consumers = 1"), 13, "consumers = 1\ndispatch = \"fifo\"");
  const auto dispatch = error_of(in_file);
  CHECK(dispatch.where == "t.toml:9:12");
  CHECK_THAT(dispatch.message, Catch::Contains("workload.dispatch"));
}

TEST_CASE("spec: a fault schedule for samsa live needs no workload options", "[scenarios][spec]") {
  // `samsa live --nemesis` reads a file for its [[nemesis]] tables and the
  // workload's node groups; the live cluster's clients are outside samsa, so
  // a kafka workload without [[topics]] is a good schedule but not a good run.
  const std::string text = R"([cluster]
brokers = 3
[workload]
name = "kafka"
[[nemesis]]
name = "crash"
targets = ["brokers", "leader"]
)";
  const auto run = error_of(text);
  CHECK_THAT(run.message, Catch::Contains("[[topics]]"));
  auto schedule = parse_scenario(text, "t.toml", "t", {}, SpecUse::fault_schedule);
  REQUIRE(schedule.ok());
  CHECK(schedule->nemeses.size() == 1);
  // The schedule is still checked: a bad nemesis is an error.
  auto bad = text;
  bad.replace(bad.find("\"crash\""), 7, "\"melt\"");
  CHECK_FALSE(parse_scenario(bad, "t.toml", "t", {}, SpecUse::fault_schedule).ok());
}
