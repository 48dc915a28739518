// Task scopes (sim/runtime/runtime.h TaskScope, sim/world SimTaskScope):
// stop() cancels and joins, from every parking primitive; nested scopes;
// crashes during and around stop.
#include <catch2/catch.hpp>

#include "tests/sim/world_helpers.h"

using namespace samsa::testing;

namespace {

struct ParkedResult {
  int alive_after_stop = -1;  // guards of scope fibers alive once stop returned
  std::size_t size_after_stop = 99;
  bool child_passed_park = false;  // a scope fiber got past its park
  bool main_went_on = false;       // the owner kept running after stop
  Bytes file_after;                // what the disk holds after a cancelled write
  StopReason reason = StopReason::idle;
};

// Parks one scope fiber of node "n" in the primitive `kind`; the node's main
// actor stops the scope 100 ms later.
ParkedResult stop_while_parked(const std::string& kind) {
  WorldConfig config = quiet_config(21);
  config.disk.fsync_latency_min = 1s;
  config.disk.fsync_latency_max = 2s;
  config.disk.write_latency_max = 1s;
  World w(config);
  ParkedResult out;
  int alive = 0;
  Channel<int> full(w, 1);
  (void)full.try_send(0);
  Event never(w);
  const NodeId server = w.add_node("server", [](Runtime& rt) {
    auto l = rt.net().listen(1);
    REQUIRE(l.ok());
    std::vector<std::unique_ptr<Connection>> keep;
    while (auto c = (*l)->accept()) keep.push_back(std::move(*c));
  });
  const NodeId n = w.add_node("n", [&](Runtime& rt) {
    auto scope = rt.make_scope("helpers");
    scope->spawn(kind, [&] {
      Alive guard(alive);
      if (kind == "sleep") rt.sleep(1h);
      if (kind == "event") never.wait();
      if (kind == "channel.recv") {
        Channel<int> empty(rt.parker(), 1);
        empty.recv();
      }
      if (kind == "channel.send") (void)full.send(2);
      if (kind == "net.accept") {
        auto l = rt.net().listen(7);
        (void)(*l)->accept();
      }
      if (kind == "net.recv") {
        auto c = rt.net().connect({"server", 1});
        REQUIRE(c.ok());
        (void)(*c)->recv();
      }
      if (kind == "net.connect") (void)rt.net().connect({"server", 1});
      if (kind == "disk.fsync" || kind == "disk.write") {
        auto f = rt.disk().open("f", {.create = true});
        REQUIRE(f.ok());
        if (kind == "disk.fsync") (void)(*f)->fsync();
        if (kind == "disk.write") (void)(*f)->append(samsa::as_bytes("x"));
      }
      if (kind == "child") {
        // Runtime::spawn from a scope fiber spawns into the same scope.
        rt.spawn("grandchild", [&] {
          Alive g2(alive);
          rt.sleep(1h);
        });
        rt.sleep(1h);
      }
      out.child_passed_park = true;
    });
    rt.sleep(100ms);
    REQUIRE(alive > 0);
    scope->stop();
    out.alive_after_stop = alive;
    out.size_after_stop = scope->size();
    scope->stop();  // idempotent
    if (auto data = samsa::sim::read_all(rt.disk(), "f")) out.file_after = *data;
    out.main_went_on = true;
  });
  if (kind == "net.connect") w.network().partition(n, server);
  w.start(server);
  w.start(n);
  out.reason = w.run(10h).reason;
  REQUIRE(w.is_up(n));
  return out;
}

}  // namespace

TEST_CASE("stopping a scope unwinds a fiber parked in each kind of primitive and joins it",
          "[sim][scope]") {
  for (const char* kind : {"sleep", "event", "channel.recv", "channel.send",
                           "net.accept", "net.recv", "net.connect", "disk.fsync",
                           "disk.write", "child"}) {
    INFO(kind);
    const ParkedResult r = stop_while_parked(kind);
    REQUIRE(r.reason != StopReason::internal_error);
    REQUIRE(r.alive_after_stop == 0);
    REQUIRE(r.size_after_stop == 0);
    REQUIRE_FALSE(r.child_passed_park);
    REQUIRE(r.main_went_on);
  }
}

TEST_CASE("stopping a scope unwinds a fiber that yields in a loop", "[sim][scope]") {
  World w(quiet_config(27));
  int alive = 0;
  int after = -1;
  const NodeId n = w.add_node("n", [&](Runtime& rt) {
    auto scope = rt.make_scope("spinner");
    scope->spawn("spin", [&] {
      Alive g(alive);
      for (;;) rt.yield();
    });
    for (int i = 0; i < 10; ++i) rt.yield();
    scope->stop();
    after = alive;
  });
  w.start(n);
  REQUIRE(w.run(1h).reason == StopReason::idle);
  REQUIRE(after == 0);
}

TEST_CASE("a disk write whose fiber was cancelled while parked never lands", "[sim][scope]") {
  const ParkedResult r = stop_while_parked("disk.write");
  REQUIRE(r.main_went_on);
  REQUIRE(r.file_after.empty());
}

TEST_CASE("stopping an outer scope ends the scopes its fibers own", "[sim][scope]") {
  World w(quiet_config(22));
  int alive = 0;
  std::size_t inner_size_seen = 0;
  std::size_t outer_after = 99;
  const NodeId n = w.add_node("n", [&](Runtime& rt) {
    auto outer = rt.make_scope("outer");
    for (int i = 0; i < 3; ++i) {
      outer->spawn("owner", [&] {
        Alive g(alive);
        auto inner = rt.make_scope("inner");
        for (int k = 0; k < 2; ++k)
          inner->spawn("leaf", [&] {
            Alive g2(alive);
            for (;;) rt.sleep(1ms);
          });
        inner_size_seen = inner->size();
        rt.sleep(1h);
      });
    }
    rt.sleep(1s);
    REQUIRE(alive == 9);
    REQUIRE(outer->size() == 3);
    outer->stop();
    outer_after = outer->size();
    rt.sleep(1s);
  });
  w.start(n);
  REQUIRE(w.run(1h).reason == StopReason::idle);
  REQUIRE(inner_size_seen == 2);
  REQUIRE(alive == 0);
  REQUIRE(outer_after == 0);
  REQUIRE(w.is_up(n) == true);
}

TEST_CASE("a destroyed scope stops its fibers", "[sim][scope]") {
  World w(quiet_config(23));
  int alive = 0;
  int after_destroy = -1;
  const NodeId n = w.add_node("n", [&](Runtime& rt) {
    {
      auto scope = rt.make_scope("s");
      scope->spawn("a", [&] {
        Alive g(alive);
        rt.sleep(1h);
      });
      rt.sleep(10ms);
    }
    after_destroy = alive;
  });
  w.start(n);
  REQUIRE(w.run(1h).reason == StopReason::idle);
  REQUIRE(after_destroy == 0);
}

TEST_CASE("stopping a scope from one of its own fibers is refused", "[sim][scope]") {
  World w(quiet_config(24));
  const NodeId n = w.add_node("n", [&](Runtime& rt) {
    auto scope = rt.make_scope("s");
    TaskScope* self = scope.get();
    scope->spawn("suicidal", [self, &rt] {
      rt.sleep(1ms);
      self->stop();
    });
    rt.sleep(1h);
  });
  w.start(n);
  const auto r = w.run(2h);
  REQUIRE(r.reason == StopReason::internal_error);
  REQUIRE_THAT(r.report, Catch::Contains("from a fiber of the scope itself"));
}

TEST_CASE("spawn into a stopped scope is refused", "[sim][scope]") {
  World w(quiet_config(25));
  const NodeId n = w.add_node("n", [&](Runtime& rt) {
    auto scope = rt.make_scope("s");
    scope->stop();
    scope->spawn("late", [] {});
  });
  w.start(n);
  const auto r = w.run(1h);
  REQUIRE(r.reason == StopReason::internal_error);
  REQUIRE_THAT(r.report, Catch::Contains("stopped task scope"));
}

// Over seeds, the owner sometimes unwinds first: its scope's destructor then
// waits while the owner's own Crashed is in flight, and the scope's fibers
// must still see themselves as crashed (not as unwinding) and throw.
TEST_CASE("a crash ends a scope's fibers, and the scope's owner unwinds cleanly",
          "[sim][scope][crash]") {
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
  World w(quiet_config(seed));
  int alive = 0;
  int starts = 0;
  const NodeId n = w.add_node("n", [&](Runtime& rt) {
    ++starts;
    Alive g(alive);
    auto scope = rt.make_scope("fetchers");
    for (int i = 0; i < 4; ++i)
      scope->spawn("fetcher", [&] {
        Alive g2(alive);
        for (;;) rt.sleep(3ms);
      });
    rt.sleep(1h);
  });
  w.start(n);
  w.spawn("crasher", [&] {
    w.control().sleep(100ms);
    REQUIRE(alive == 5);
    w.crash(n);
    REQUIRE(alive == 0);  // crash() joined every fiber of the node, scope fibers too
    w.control().sleep(100ms);
    w.start(n);
    w.control().sleep(100ms);
    REQUIRE(alive == 5);
    w.crash(n);
  });
  REQUIRE(w.run(1h).reason == StopReason::idle);
  REQUIRE(alive == 0);
  REQUIRE(starts == 2);
  }
}

// A crash of the node while its main fiber waits in stop(): the scope's
// fibers that have not unwound yet throw Crashed instead of Cancelled,
// stop() returns, the owner then unwinds with Crashed. The first fiber to
// unwind releases the crasher (Event::set never parks, so it works while
// unwinding); whether the crash comes before the others have unwound is the
// scheduler's seeded choice. Every order ends cleanly.
TEST_CASE("a crash during stop() ends everything cleanly", "[sim][scope][crash]") {
  int interleaved = 0;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    World w(quiet_config(seed));
    int alive = 0;
    bool stopping = false;
    Event go(w);
    struct SetOnExit {
      Event& e;
      ~SetOnExit() { e.set(); }
    };
    const NodeId n = w.add_node("n", [&](Runtime& rt) {
      auto scope = rt.make_scope("s");
      for (int i = 0; i < 5; ++i)
        scope->spawn("f", [&] {
          Alive g(alive);
          SetOnExit release{go};
          auto inner = rt.make_scope("inner");
          inner->spawn("leaf", [&] {
            Alive g2(alive);
            // Loops: a leaf that mistook itself for unwinding (its sleep
            // returning instead of throwing) would spin here forever.
            for (;;) rt.sleep(1h);
          });
          rt.sleep(1h);
        });
      rt.sleep(100ms);
      stopping = true;
      scope->stop();
      stopping = false;
      rt.sleep(1h);
    });
    w.start(n);
    w.spawn("crasher", [&] {
      go.wait();
      if (stopping && alive > 0) ++interleaved;
      w.crash(n);
      REQUIRE(alive == 0);
    });
    const auto r = w.run(10h);
    REQUIRE(r.reason != StopReason::internal_error);
    REQUIRE(alive == 0);
    REQUIRE_FALSE(w.is_up(n));
  }
  REQUIRE(interleaved > 0);
}

TEST_CASE("runs with task scopes are a pure function of the seed", "[sim][scope][determinism]") {
  auto run = [](std::uint64_t seed) {
    World w(quiet_config(seed));
    const NodeId n = w.add_node("n", [](Runtime& rt) {
      Random r = rt.random("roles");
      for (int round = 0; round < 20; ++round) {
        auto scope = rt.make_scope("round");
        const int k = static_cast<int>(r.uniform(1, 5));
        for (int i = 0; i < k; ++i)
          scope->spawn("f", [&rt, i] {
            for (;;) rt.sleep(std::chrono::microseconds(100 + 37 * i));
          });
        rt.sleep(std::chrono::milliseconds(r.uniform(1, 10)));
      }
    });
    w.start(n);
    REQUIRE(w.run(1h).reason == StopReason::idle);
    return w.trace_hash();
  };
  REQUIRE(run(5) == run(5));
  REQUIRE(run(5) != run(6));
}
