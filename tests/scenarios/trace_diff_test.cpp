// --trace / --trace-diff: the trace file round-trips and the diff names the
// first event at which two runs of pingpong part.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "scenarios/scenario.h"
#include "scenarios/trace_diff.h"
#include "sim/world/trace.h"

namespace {

using namespace samsa;
using namespace samsa::scenarios;

sim::TraceLog traced_run(std::uint64_t seed, const std::vector<Override>& overrides = {}) {
  auto s = load_scenario("selftest/pingpong", overrides);
  REQUIRE(s);
  sim::TraceLog log;
  RunOptions o;
  o.seed = seed;
  o.trace_log = &log;
  const RunReport r = run_guarded(*s, o);
  REQUIRE(r.verdict == Verdict::ok);
  REQUIRE(log.events.size() >= r.events);
  REQUIRE(log.events.at(r.events - 1).hash == r.trace_hash);  // the log ends where the hash does
  return log;
}

std::string temp_file(const char* name) {
  return (std::filesystem::temp_directory_path() / (std::to_string(::getpid()) + name)).string();
}

}  // namespace

TEST_CASE("a trace written by --trace reads back event for event", "[scenarios][trace]") {
  const sim::TraceLog log = traced_run(7);
  const std::string path = temp_file("-trace.jsonl");
  REQUIRE(write_trace_jsonl(path, log).empty());
  std::string error;
  const auto back = read_trace_jsonl(path, error);
  std::filesystem::remove(path);
  REQUIRE(back);
  REQUIRE(back->events.size() == log.events.size());
  REQUIRE_FALSE(sim::first_divergence(log, *back).has_value());
  CHECK(back->events[100].what == log.events[100].what);
  CHECK(back->events[100].time == log.events[100].time);
  CHECK(trace_diff(log, *back)["diverged"] == false);
}

TEST_CASE("trace_diff names where two runs part, with the agreeing events before it", "[scenarios][trace]") {
  const sim::TraceLog a = traced_run(7);
  const sim::TraceLog b = traced_run(7, {*parse_override("faults.rate_per_s=1.0")});
  const auto d = trace_diff(a, b);
  REQUIRE(d["diverged"] == true);
  const auto i = d["index"].get<std::size_t>();
  CHECK(i == *sim::first_divergence(a, b));
  CHECK(i > 0);
  CHECK(d["before"].size() == std::min<std::size_t>(3, i));
  CHECK(d["before"].back()["index"] == i - 1);
  CHECK(d["this"]["index"] == i);
  CHECK(d["this"]["hash"] != d["other"]["hash"]);
  CHECK(trace_diff_text(d, "other.jsonl").find("part at event " + std::to_string(i)) != std::string::npos);
}

TEST_CASE("a file that is not a trace is refused with its line", "[scenarios][trace]") {
  const std::string path = temp_file("-bad.jsonl");
  {
    std::ofstream out(path);
    out << R"({"index":0,"time_ns":0,"kind":"pick","node":0,"what":"x","hash":"00000000000000ff"})" << "\n";
    out << R"({"index":5,"time_ns":0,"kind":"pick","node":0,"what":"x","hash":"ff"})" << "\n";
  }
  std::string error;
  CHECK_FALSE(read_trace_jsonl(path, error));
  std::filesystem::remove(path);
  CHECK(error.find("-bad.jsonl:2:") != std::string::npos);
}
