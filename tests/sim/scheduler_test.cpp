#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <thread>

#include "tests/sim/world_helpers.h"

using namespace samsa::testing;

TEST_CASE("sleeping fibers wake in virtual-time order", "[sim][scheduler]") {
  World w(quiet_config(1));
  std::vector<int> order;
  for (int i : {3, 1, 2}) {
    w.spawn("s", [&w, &order, i] {
      w.control().sleep(std::chrono::milliseconds(i * 10));
      order.push_back(i);
    });
  }
  const auto r = w.run(1h);
  REQUIRE(r.reason == StopReason::idle);
  REQUIRE(order == std::vector<int>{1, 2, 3});
  REQUIRE(w.now() == 30ms);
}

TEST_CASE("run stops at the time limit and continues", "[sim][scheduler]") {
  World w(quiet_config(2));
  int ticks = 0;
  w.spawn("ticker", [&] {
    for (int i = 0; i < 10; ++i) {
      w.control().sleep(1s);
      ++ticks;
    }
  });
  auto r = w.run(5500ms);
  REQUIRE(r.reason == StopReason::time_limit);
  REQUIRE(ticks == 5);
  REQUIRE(w.now() == 5500ms);
  r = w.run(1h);
  REQUIRE(r.reason == StopReason::idle);
  REQUIRE(ticks == 10);
}

TEST_CASE("a stuck run reports what each fiber waits on", "[sim][scheduler]") {
  World w(quiet_config(3));
  Event never(w);
  w.spawn("waiter", [&] { never.wait(); });
  const auto r = w.run(1h);
  REQUIRE(r.reason == StopReason::stuck);
  REQUIRE_THAT(r.report, Catch::Contains("world/waiter waits on event"));
}

TEST_CASE("a failed assertion in a fiber stops the run as an internal error",
          "[sim][scheduler]") {
  World w(quiet_config(4));
  w.spawn("bad", [] { SAMSA_ASSERT(1 + 1 == 3, "arithmetic"); });
  const auto r = w.run(1h);
  REQUIRE(r.reason == StopReason::internal_error);
  REQUIRE_THAT(r.report, Catch::Contains("arithmetic"));
}

TEST_CASE("timed waits time out; notifications win before the deadline", "[sim][scheduler]") {
  World w(quiet_config(5));
  Event ev(w);
  bool first = true, second = false;
  w.spawn("a", [&] {
    Runtime& rt = w.control();
    first = ev.wait(rt.deadline_after(10ms));
    second = ev.wait(rt.deadline_after(1s));
  });
  w.spawn("b", [&] {
    w.control().sleep(50ms);
    ev.set();
  });
  REQUIRE(w.run(1h).reason == StopReason::idle);
  REQUIRE_FALSE(first);
  REQUIRE(second);
  REQUIRE(w.now() == 50ms);
}

TEST_CASE("channels are bounded and FIFO", "[sim][scheduler]") {
  World w(quiet_config(6));
  Channel<int> ch(w, 2);
  std::vector<int> got;
  w.spawn("producer", [&] {
    for (int i = 0; i < 10; ++i) REQUIRE_FALSE(ch.send(i));
    ch.close();
  });
  w.spawn("consumer", [&] {
    while (auto v = ch.recv()) {
      REQUIRE(ch.size() <= 2);
      got.push_back(*v);
    }
  });
  REQUIRE(w.run(1h).reason == StopReason::idle);
  REQUIRE(got == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("node clocks: monotonic with drift, wall clock jumps", "[sim][clock]") {
  WorldConfig c = quiet_config(7);
  c.drift_max_ppm = 1000;
  World w(c);
  const NodeId n = w.add_node("n1", [](Runtime&) {});
  MonoTime before{}, after{};
  std::int64_t wall_before = 0, wall_after = 0;
  w.spawn("t", [&] {
    Runtime& ctl = w.control();
    before = w.mono_now(w.node(n));
    wall_before = w.wall_ms(w.node(n));
    ctl.sleep(10s);
    after = w.mono_now(w.node(n));
    w.jump_wall_clock(n, -1h);
    wall_after = w.wall_ms(w.node(n));
  });
  REQUIRE(w.run(1h).reason == StopReason::idle);
  const auto elapsed = after - before;
  REQUIRE(elapsed >= 10s - 10ms);
  REQUIRE(elapsed <= 10s + 10ms);
  REQUIRE(wall_after - wall_before == Approx(10'000 - 3'600'000).margin(20));
}

TEST_CASE("a node's timers fire by its own drifting clock", "[sim][clock]") {
  rc::prop("sleep(d) on a node ends when its monotonic clock passed d", [](std::uint64_t seed) {
    WorldConfig c = quiet_config(seed);
    c.drift_max_ppm = 50'000;
    World w(c);
    bool ok = false;
    NodeId id = w.add_node("n", [&](Runtime& rt) {
      const MonoTime start = rt.now();
      rt.sleep(1234567us);
      ok = rt.now() - start >= Duration(1234567us);
    });
    w.start(id);
    RC_ASSERT(w.run(1h).reason == StopReason::idle);
    RC_ASSERT(ok);
  });
}

namespace {

// Parks a fiber of node `n` in one kind of primitive, crashes the node, and
// returns how many guard objects are still alive (0: the stack unwound).
int crash_while_parked(const std::string& kind) {
  WorldConfig config = quiet_config(8);
  config.disk.fsync_latency_min = 1s;
  config.disk.fsync_latency_max = 2s;
  config.disk.write_latency_max = 1s;
  World w(config);
  int alive = 0;
  bool reached_after = false;
  Channel<int> full(w, 1);
  Event never(w);
  const NodeId server = w.add_node("server", [](Runtime& rt) {
    auto l = rt.net().listen(1);
    REQUIRE(l.ok());
    rt.spawn("acceptor", [&rt, l = std::shared_ptr<Listener>(std::move(*l))] {
      std::vector<std::unique_ptr<Connection>> keep;
      while (auto c = l->accept()) keep.push_back(std::move(*c));
    });
    rt.sleep(24h);
  });
  const NodeId n = w.add_node("n", [&](Runtime& rt) {
    Alive guard(alive);
    if (kind == "sleep") rt.sleep(1h);
    if (kind == "event") never.wait();
    if (kind == "channel.recv") {
      Channel<int> empty(rt.parker(), 1);
      empty.recv();
    }
    if (kind == "channel.send") {
      (void)full.try_send(1);
      (void)full.send(2);
    }
    if (kind == "net.accept") {
      auto l = rt.net().listen(7);
      (void)(*l)->accept();
    }
    if (kind == "net.recv") {
      auto c = rt.net().connect({"server", 1});
      REQUIRE(c.ok());
      (void)(*c)->recv();
    }
    if (kind == "net.connect") {
      (void)rt.net().connect({"server", 1});
    }
    if (kind == "disk.fsync" || kind == "disk.write") {
      auto f = rt.disk().open("f", {.create = true});
      REQUIRE(f.ok());
      if (kind == "disk.fsync") (void)(*f)->fsync();
      while (kind == "disk.write") (void)(*f)->append(samsa::as_bytes("x"));
    }
    if (kind == "child") {
      rt.spawn("child", [&] {
        Alive g2(alive);
        rt.sleep(1h);
      });
      rt.sleep(1h);
    }
    reached_after = true;
  });
  if (kind == "net.connect") w.network().partition(n, server);
  w.start(server);
  w.start(n);
  w.spawn("crasher", [&] {
    w.control().sleep(100ms);
    REQUIRE(alive > 0);
    w.crash(n);
  });
  const auto r = w.run(10h);
  REQUIRE(r.reason == StopReason::time_limit);
  REQUIRE_FALSE(reached_after);
  REQUIRE_FALSE(w.is_up(n));
  return alive;
}

}  // namespace

TEST_CASE("a crash unwinds a fiber parked in each kind of primitive", "[sim][crash]") {
  for (const char* kind : {"sleep", "event", "channel.recv", "channel.send", "net.accept",
                           "net.recv", "net.connect", "disk.fsync", "disk.write", "child"}) {
    INFO(kind);
    REQUIRE(crash_while_parked(kind) == 0);
  }
}

TEST_CASE("restart runs the main actor again with a new incarnation", "[sim][crash]") {
  World w(quiet_config(9));
  std::vector<std::uint64_t> incarnations;
  const NodeId n = w.add_node("n", [&](Runtime& rt) {
    incarnations.push_back(rt.incarnation());
    rt.sleep(1h);
  });
  w.start(n);
  w.spawn("chaos", [&] {
    for (int i = 0; i < 3; ++i) {
      w.control().sleep(1s);
      w.restart(n);
    }
  });
  REQUIRE(w.run(10s).reason == StopReason::time_limit);
  REQUIRE(incarnations == std::vector<std::uint64_t>{0, 1, 2, 3});
}

TEST_CASE("buggify is off unless enabled, and per seed when enabled", "[sim][buggify]") {
  World off(quiet_config(10));
  for (int i = 0; i < 1000; ++i) REQUIRE_FALSE(off.buggify("x"));
  int fired = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    WorldConfig c = quiet_config(seed);
    c.buggify = true;
    World w(c);
    for (int i = 0; i < 200; ++i) fired += w.buggify("test.point");
  }
  REQUIRE(fired > 0);
}

TEST_CASE("two worlds on two threads at once give the same trace as one alone",
          "[sim][determinism]") {
  auto run_one = [](std::uint64_t seed) {
    World w(quiet_config(seed));
    for (int i = 0; i < 20; ++i) {
      w.spawn("f", [&w, i] {
        Random r = w.control().random("f" + std::to_string(i));
        for (int k = 0; k < 50; ++k) w.control().sleep(r.uniform(Duration(0), Duration(1ms)));
      });
    }
    const bool idle = w.run(1h).reason == StopReason::idle;
    return idle ? w.trace_hash() : 0;  // no Catch macros off the main thread
  };
  const auto alone = run_one(99);
  REQUIRE(alone != 0);
  std::uint64_t t1 = 0, t2 = 0;
  std::thread a([&] { t1 = run_one(99); });
  std::thread b([&] { t2 = run_one(99); });
  a.join();
  b.join();
  REQUIRE(t1 == alone);
  REQUIRE(t2 == alone);
  REQUIRE(run_one(100) != alone);
}
