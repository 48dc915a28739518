// The trace: payload bytes are hashed; the optional recorder names the first
// event at which two runs part.
#include <catch2/catch.hpp>

#include <sstream>

#include "tests/sim/world_helpers.h"

using namespace samsa::testing;

namespace {

struct Traced {
  std::uint64_t hash = 0;
  std::uint64_t events = 0;
  TraceLog log;
};

// A client sends 20 frames of 16 bytes and appends each to a file; from
// frame `odd_from` on, byte 10 of each differs (same sizes, same timing).
Traced run_echo(std::uint64_t seed, int odd_from, bool record) {
  Traced out;
  World w(quiet_config(seed));
  if (record) w.record_trace(&out.log);
  const NodeId s = w.add_node("s", [](Runtime& rt) {
    auto l = rt.net().listen(9);
    auto c = (*l)->accept();
    while ((*c)->recv()) {
    }
  });
  const NodeId c = w.add_node("c", [odd_from](Runtime& rt) {
    auto conn = rt.net().connect({"s", 9});
    auto f = rt.disk().open("log", {.create = true});
    for (int i = 0; i < 20; ++i) {
      Bytes frame(4 + 16, static_cast<std::uint8_t>(i));
      if (i >= odd_from) frame[10] ^= 0x40;
      put_frame_size(frame, 0);
      REQUIRE((*conn)->send(frame).ok());
      REQUIRE((*f)->append(ByteView(frame).subspan(4)).ok());
      rt.sleep(10ms);
    }
    rt.sleep(100ms);
  });
  w.start(s);
  w.start(c);
  w.run(10s);
  w.record_trace(nullptr);
  out.hash = w.trace_hash();
  out.events = w.events();
  return out;
}

}  // namespace

TEST_CASE("the trace hash folds frame and disk write payloads, not only sizes", "[sim][trace]") {
  REQUIRE(run_echo(3, 99, false).hash == run_echo(3, 99, false).hash);
  REQUIRE(run_echo(3, 99, false).hash != run_echo(3, 19, false).hash);
  REQUIRE(run_echo(3, 99, false).events == run_echo(3, 19, false).events);
}

TEST_CASE("recording the trace does not change it", "[sim][trace]") {
  const Traced plain = run_echo(4, 99, false);
  const Traced recorded = run_echo(4, 99, true);
  REQUIRE(plain.hash == recorded.hash);
  REQUIRE(recorded.log.events.size() == recorded.events);
  REQUIRE(recorded.log.events.back().hash == recorded.hash);
  for (std::size_t i = 0; i < recorded.log.events.size(); ++i)
    REQUIRE(recorded.log.events[i].index == i);
}

TEST_CASE("first_divergence names the first event at which two runs part", "[sim][trace]") {
  const Traced a = run_echo(5, 99, true);
  const Traced b = run_echo(5, 7, true);
  REQUIRE_FALSE(first_divergence(a.log, a.log).has_value());
  const auto at = first_divergence(a.log, b.log);
  REQUIRE(at.has_value());
  const TraceEvent& ea = a.log.events[*at];
  const TraceEvent& eb = b.log.events[*at];
  // The 8th frame's append is the first thing that differs: a disk write of
  // node c, at about 70 ms; everything before agrees.
  INFO(ea.what << " vs " << eb.what);
  REQUIRE(ea.kind == TraceKind::disk_write);
  REQUIRE(ea.node == 1);
  REQUIRE(ea.time >= 70ms);
  REQUIRE(ea.time < 80ms);
  REQUIRE(ea.what != eb.what);
  for (std::size_t i = 0; i < *at; ++i) REQUIRE(a.log.events[i].hash == b.log.events[i].hash);
  // A run cut short parts where it ends.
  TraceLog cut = a.log;
  cut.events.resize(10);
  REQUIRE(first_divergence(cut, a.log) == std::optional<std::size_t>(10));
}

TEST_CASE("a trace log dumps as JSON lines", "[sim][trace]") {
  const Traced a = run_echo(6, 99, true);
  std::ostringstream out;
  a.log.write_jsonl(out);
  const std::string text = out.str();
  REQUIRE(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) ==
          a.log.events.size());
  REQUIRE(text.rfind("{\"index\":0,\"time_ns\":0,\"kind\":\"", 0) == 0);
  REQUIRE_THAT(text, Catch::Contains("\"kind\":\"deliver\",\"node\":0,\"what\":\"deliver conn 1"));
  REQUIRE_THAT(text, Catch::Contains("\"what\":\"pick c/main (fiber"));
}
