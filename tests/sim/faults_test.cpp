// The semantics of the world's faults as properties: silent partitions
// (hold and drop), process pause. (Disk faults: disk_test.cpp.)
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "tests/sim/world_helpers.h"

using namespace samsa::testing;

namespace {

Bytes numbered_frame(std::uint32_t seq) {
  Bytes f(4 + 8, 0);
  for (int i = 0; i < 4; ++i) f[4 + i] = static_cast<std::uint8_t>(seq >> (8 * i));
  put_frame_size(f, 0);
  return f;
}

std::uint32_t seq_of(const Bytes& f) {
  std::uint32_t s = 0;
  for (int i = 0; i < 4; ++i) s |= std::uint32_t{f[4 + i]} << (8 * i);
  return s;
}

struct Arrival {
  Duration at;
  std::uint32_t seq;
};

// What one direction of a connection saw in a run with a silent partition.
struct SilentRun {
  std::vector<Arrival> to_server;  // frames the server received
  std::vector<Arrival> to_client;
  std::vector<Duration> resets;    // when either side saw the connection break
  std::uint32_t sent_to_server = 0;
  std::uint32_t sent_to_client = 0;
  std::uint64_t hash = 0;
};

// A client and a server exchange numbered frames both ways for 3 s (each
// side sends every `gap_us`, paced so no buffer fills); the link is silently
// cut in [cut_ms, heal_ms) in one or both directions.
SilentRun run_silent(std::uint64_t seed, SilentMode mode, bool one_way, int cut_ms,
                     int heal_ms, int gap_us) {
  World w(quiet_config(seed));
  SilentRun out;
  // The reader holds the connection too: it may outlive the sender's frame.
  auto pump = [&](Runtime& rt, std::shared_ptr<Connection> conn, std::vector<Arrival>& got,
                  std::uint32_t& sent) {
    Connection& c = *conn;
    rt.spawn("reader", [&, conn] {
      for (;;) {
        auto f = conn->recv();
        if (!f) {
          if (f.error() == NetErrc::reset) out.resets.push_back(w.now());
          return;
        }
        got.push_back({w.now(), seq_of(*f)});
      }
    });
    while (w.now() < 3s) {
      if (!c.send(numbered_frame(sent))) {
        out.resets.push_back(w.now());
        break;
      }
      ++sent;
      rt.sleep(std::chrono::microseconds(gap_us));
    }
    rt.sleep(1h);
  };
  const NodeId s = w.add_node("s", [&](Runtime& rt) {
    auto l = rt.net().listen(9);
    auto c = (*l)->accept();
    pump(rt, std::shared_ptr<Connection>(std::move(*c)), out.to_server, out.sent_to_client);
  });
  const NodeId c = w.add_node("c", [&](Runtime& rt) {
    auto conn = rt.net().connect({"s", 9});
    REQUIRE(conn.ok());
    pump(rt, std::shared_ptr<Connection>(std::move(*conn)), out.to_client, out.sent_to_server);
  });
  w.start(s);
  w.start(c);
  w.spawn("nemesis", [&] {
    w.control().sleep(std::chrono::milliseconds(cut_ms));
    if (one_way)
      w.network().partition_silent_one_way(c, s, mode);
    else
      w.network().partition_silent(c, s, mode);
    w.control().sleep(std::chrono::milliseconds(heal_ms - cut_ms));
    w.network().heal(c, s);
  });
  w.run(20s);
  out.hash = w.trace_hash();
  return out;
}

bool strictly_inside(Duration t, int from_ms, int to_ms) {
  return t > std::chrono::milliseconds(from_ms) && t < std::chrono::milliseconds(to_ms);
}

bool is_prefix_in_order(const std::vector<Arrival>& got) {
  for (std::size_t i = 0; i < got.size(); ++i)
    if (got[i].seq != i) return false;
  return true;
}

}  // namespace

TEST_CASE("silent partition (hold): no frame crosses and no reset until heal, then all arrive in order",
          "[sim][net][faults]") {
  rc::prop("hold", [] {
    const auto seed = *rc::gen::inRange<std::uint64_t>(1, 1'000'000);
    const int cut = *rc::gen::inRange(50, 1000);
    const int heal = cut + *rc::gen::inRange(10, 1500);
    const bool one_way = *rc::gen::arbitrary<bool>();
    const SilentRun r = run_silent(seed, SilentMode::hold, one_way, cut, heal, 2000);
    RC_ASSERT(r.resets.empty());
    for (const Arrival& a : r.to_server) RC_ASSERT(!strictly_inside(a.at, cut, heal));
    if (!one_way)
      for (const Arrival& a : r.to_client) RC_ASSERT(!strictly_inside(a.at, cut, heal));
    // Held, not lost: everything sent arrives once, in order.
    RC_ASSERT(r.to_server.size() == r.sent_to_server);
    RC_ASSERT(r.to_client.size() == r.sent_to_client);
    RC_ASSERT(is_prefix_in_order(r.to_server));
    RC_ASSERT(is_prefix_in_order(r.to_client));
  });
}

TEST_CASE("silent partition (drop): no frame crosses and no reset until heal; frames are lost, never reordered",
          "[sim][net][faults]") {
  rc::prop("drop", [] {
    const auto seed = *rc::gen::inRange<std::uint64_t>(1, 1'000'000);
    const int cut = *rc::gen::inRange(50, 1000);
    const int heal = cut + *rc::gen::inRange(10, 1500);
    const bool one_way = *rc::gen::arbitrary<bool>();
    const SilentRun r = run_silent(seed, SilentMode::drop, one_way, cut, heal, 2000);
    for (Duration t : r.resets) RC_ASSERT(t >= std::chrono::milliseconds(heal));
    for (const Arrival& a : r.to_server) RC_ASSERT(!strictly_inside(a.at, cut, heal));
    if (!one_way)
      for (const Arrival& a : r.to_client) RC_ASSERT(!strictly_inside(a.at, cut, heal));
    RC_ASSERT(is_prefix_in_order(r.to_server));
    RC_ASSERT(is_prefix_in_order(r.to_client));
    // Frames were sent across the cut every 2 ms: some were lost, and the
    // connection that lost them broke at heal (TCP gave up), not before.
    RC_ASSERT(r.to_server.size() < r.sent_to_server);
    RC_ASSERT(!r.resets.empty());
  });
}

TEST_CASE("a connect across a silent partition hangs until its deadline", "[sim][net][faults]") {
  World w(quiet_config(31));
  std::optional<NetErrc> err;
  Duration failed_at{};
  const NodeId s = w.add_node("s", [](Runtime& rt) {
    auto l = rt.net().listen(9);
    while ((*l)->accept()) {
    }
  });
  const NodeId c = w.add_node("c", [&](Runtime& rt) {
    rt.sleep(10ms);
    auto conn = rt.net().connect({"s", 9}, rt.deadline_after(700ms));
    if (!conn) err = conn.error();
    failed_at = w.now();
  });
  w.network().partition_silent_one_way(s, c);
  w.start(s);
  w.start(c);
  w.run(5s);
  REQUIRE(err == NetErrc::timed_out);
  REQUIRE(failed_at >= 700ms);
}

TEST_CASE("the reset-style partition still resets at once", "[sim][net][faults]") {
  const SilentRun held = run_silent(5, SilentMode::hold, false, 100, 400, 2000);
  REQUIRE(held.resets.empty());
  // Same traffic, reset-style partition: the first frame across breaks it.
  World w(quiet_config(5));
  std::optional<Duration> reset_at;
  const NodeId s = w.add_node("s", [&](Runtime& rt) {
    auto l = rt.net().listen(9);
    auto conn = (*l)->accept();
    while ((*conn)->recv()) {
    }
    reset_at = w.now();
  });
  const NodeId c = w.add_node("c", [&](Runtime& rt) {
    auto conn = rt.net().connect({"s", 9});
    for (std::uint32_t i = 0; (*conn)->send(numbered_frame(i)); ++i) rt.sleep(2ms);
  });
  w.start(s);
  w.start(c);
  w.spawn("nemesis", [&] {
    w.control().sleep(100ms);
    w.network().partition(c, s);
  });
  w.run(2s);
  REQUIRE(reset_at.has_value());
  REQUIRE(*reset_at < 110ms);
}

TEST_CASE("silent partitions are deterministic", "[sim][net][faults][determinism]") {
  REQUIRE(run_silent(9, SilentMode::drop, false, 100, 300, 1500).hash ==
          run_silent(9, SilentMode::drop, false, 100, 300, 1500).hash);
  REQUIRE(run_silent(9, SilentMode::hold, true, 100, 300, 1500).hash !=
          run_silent(9, SilentMode::drop, true, 100, 300, 1500).hash);
}

// --- process pause ------------------------------------------------------------------

namespace {

struct PauseRun {
  std::vector<Duration> node_ran;   // each time a fiber of the paused node ran
  std::vector<Duration> peer_ran;   // the other node's fibers
  std::vector<std::pair<Duration, Duration>> late;  // (due, woke) of the node's sleeps
  std::vector<Arrival> frames;      // frames the paused node received
  std::uint32_t frames_sent = 0;
};

PauseRun run_pause(std::uint64_t seed, int pause_ms, int resume_ms, int fibers) {
  World w(quiet_config(seed));
  PauseRun out;
  const NodeId p = w.add_node("p", [&](Runtime& rt) {
    auto l = rt.net().listen(9);
    for (int i = 0; i < fibers; ++i)
      rt.spawn("sleeper", [&, i] {
        Random r = rt.random("sleeper" + std::to_string(i));
        while (w.now() < 2s) {
          const Duration d = std::chrono::microseconds(r.uniform(100, 20'000));
          // Due by the node's own (drifting) clock, in virtual time.
          const Duration due = w.to_virtual(w.node(rt.node_id()), rt.now() + d);
          rt.sleep(d);
          out.node_ran.push_back(w.now());
          out.late.push_back({due, w.now()});
        }
      });
    auto conn = (*l)->accept();
    for (;;) {
      auto f = (*conn)->recv();
      if (!f) break;
      out.node_ran.push_back(w.now());
      out.frames.push_back({w.now(), seq_of(*f)});
    }
  });
  const NodeId q = w.add_node("q", [&](Runtime& rt) {
    auto conn = rt.net().connect({"p", 9});
    REQUIRE(conn.ok());
    while (w.now() < 2s) {
      (void)(*conn)->send(numbered_frame(out.frames_sent++));
      out.peer_ran.push_back(w.now());
      rt.sleep(3ms);
    }
    rt.sleep(1s);
  });
  w.start(p);
  w.start(q);
  w.spawn("nemesis", [&] {
    w.control().sleep(std::chrono::milliseconds(pause_ms));
    w.pause(p);
    REQUIRE(w.is_paused(p));
    w.control().sleep(std::chrono::milliseconds(resume_ms - pause_ms));
    w.resume(p);
  });
  w.run(10s);
  return out;
}

}  // namespace

TEST_CASE("pause: no fiber of the node runs, its timers fire late, frames queue, time goes on",
          "[sim][faults][pause]") {
  rc::prop("pause", [] {
    const auto seed = *rc::gen::inRange<std::uint64_t>(1, 1'000'000);
    const int pause = *rc::gen::inRange(20, 1000);
    const int resume = pause + *rc::gen::inRange(30, 800);
    const int fibers = *rc::gen::inRange(1, 6);
    const PauseRun r = run_pause(seed, pause, resume, fibers);
    const auto pause_at = std::chrono::milliseconds(pause);
    const auto resume_at = std::chrono::milliseconds(resume);
    for (Duration t : r.node_ran) RC_ASSERT(!strictly_inside(t, pause, resume));
    // Time went on for the others.
    bool peer_inside = false;
    for (Duration t : r.peer_ran) peer_inside |= strictly_inside(t, pause, resume);
    RC_ASSERT(peer_inside);
    // A sleep due inside the pause woke exactly at resume (late), never early.
    bool some_late = false;
    for (auto [due, woke] : r.late) {
      RC_ASSERT(woke >= due);
      if (due > pause_at && due < resume_at) {
        RC_ASSERT(woke == resume_at);
        some_late = true;
      }
    }
    RC_ASSERT(some_late);
    // Frames sent meanwhile queued and arrived in order, none lost.
    RC_ASSERT(is_prefix_in_order(r.frames));
    RC_ASSERT(r.frames.size() == r.frames_sent);
  });
}

TEST_CASE("a paused node can crash and restart", "[sim][faults][pause][crash]") {
  World w(quiet_config(41));
  int alive = 0;
  int starts = 0;
  const NodeId n = w.add_node("n", [&](Runtime& rt) {
    ++starts;
    Alive g(alive);
    auto scope = rt.make_scope("helpers");
    scope->spawn("h", [&] {
      Alive g2(alive);
      for (;;) rt.sleep(1ms);
    });
    for (;;) rt.sleep(2ms);
  });
  w.start(n);
  w.spawn("nemesis", [&] {
    w.control().sleep(100ms);
    w.pause(n);
    w.control().sleep(100ms);
    REQUIRE(alive == 2);
    w.crash(n);
    REQUIRE(alive == 0);
    REQUIRE_FALSE(w.is_paused(n));
    w.start(n);
    w.control().sleep(100ms);
    REQUIRE(alive == 2);
    w.crash(n);
  });
  REQUIRE(w.run(1h).reason == StopReason::idle);
  REQUIRE(alive == 0);
  REQUIRE(starts == 2);
}

TEST_CASE("a node paused for good makes a stuck report that says so", "[sim][faults][pause]") {
  World w(quiet_config(42));
  const NodeId n = w.add_node("n", [&](Runtime& rt) { rt.sleep(1s); });
  w.start(n);
  w.spawn("nemesis", [&] {
    w.control().sleep(100ms);
    w.pause(n);
  });
  const auto r = w.run(1h);
  REQUIRE(r.reason == StopReason::stuck);
  REQUIRE_THAT(r.report, Catch::Contains("(paused)"));
}

namespace {

// The network's fault causes against a model: each open fault window is one
// cause on the links it cuts or clogs; a link is cut while any cause is, and
// ending one window takes back only its own causes.
enum class Kind { reset, reset_one_way, hold, drop, hold_one_way, lost_acks, clog };

struct Window {
  Kind kind;
  NodeId a, b;
  Duration extra{0};
};

// Which directed links a window's causes sit on.
std::vector<std::pair<NodeId, NodeId>> links_of(const Window& w) {
  const bool both = w.kind == Kind::reset || w.kind == Kind::hold || w.kind == Kind::drop;
  if (both) return {{w.a, w.b}, {w.b, w.a}};
  return {{w.a, w.b}};
}

void open(SimNetwork& n, const Window& w) {
  switch (w.kind) {
    case Kind::reset: n.partition(w.a, w.b); break;
    case Kind::reset_one_way: n.partition_one_way(w.a, w.b); break;
    case Kind::hold: n.partition_silent(w.a, w.b, SilentMode::hold); break;
    case Kind::drop: n.partition_silent(w.a, w.b, SilentMode::drop); break;
    case Kind::hold_one_way: n.partition_silent_one_way(w.a, w.b, SilentMode::hold); break;
    case Kind::lost_acks: n.open_lost_acks_window(w.a, w.b); break;
    case Kind::clog: n.add_clog(w.a, w.b, w.extra); break;
  }
}

void close(SimNetwork& n, const Window& w) {
  switch (w.kind) {
    case Kind::reset: n.end_partition(w.a, w.b); break;
    case Kind::reset_one_way: n.end_partition_one_way(w.a, w.b); break;
    case Kind::hold: n.end_partition_silent(w.a, w.b, SilentMode::hold); break;
    case Kind::drop: n.end_partition_silent(w.a, w.b, SilentMode::drop); break;
    case Kind::hold_one_way: n.end_partition_silent_one_way(w.a, w.b, SilentMode::hold); break;
    case Kind::lost_acks: n.close_lost_acks_window(w.a, w.b); break;
    case Kind::clog: n.remove_clog(w.a, w.b, w.extra); break;
  }
}

// What the open windows say about one directed link.
struct LinkModel {
  bool blocked = false;
  std::optional<SilentMode> silent;
  Duration clog{0};
};

LinkModel model_of(const std::vector<Window>& open_windows, NodeId from, NodeId to) {
  LinkModel m;
  for (const Window& w : open_windows)
    for (const auto& [f, t] : links_of(w)) {
      if (f != from || t != to) continue;
      switch (w.kind) {
        case Kind::reset: case Kind::reset_one_way: m.blocked = true; break;
        case Kind::hold: case Kind::hold_one_way:
          if (!m.silent) m.silent = SilentMode::hold;
          break;
        case Kind::drop: case Kind::lost_acks: m.silent = SilentMode::drop; break;
        case Kind::clog: m.clog = std::max(m.clog, w.extra); break;
      }
    }
  return m;
}

}  // namespace

TEST_CASE("overlapping fault windows on one link compose: ending one leaves the others' cuts and clogs",
          "[sim][net][faults]") {
  rc::prop("random open/close sequences agree with a model of counted causes", [] {
    World w(quiet_config(*rc::gen::inRange<std::uint64_t>(1, 1000)));
    for (const char* name : {"a", "b", "c"}) w.add_node(name, [](Runtime&) {});
    SimNetwork& net = w.network();
    std::vector<Window> opened;
    const int steps = *rc::gen::inRange(1, 60);
    for (int i = 0; i < steps; ++i) {
      const int op = *rc::gen::inRange(0, 10);
      if (op < 6 || opened.empty()) {
        Window win{static_cast<Kind>(*rc::gen::inRange(0, 7)), static_cast<NodeId>(*rc::gen::inRange(0, 3)), 0};
        win.b = static_cast<NodeId>((win.a + *rc::gen::inRange(1, 3)) % 3);
        win.extra = std::chrono::milliseconds(*rc::gen::inRange(1, 4) * 100);
        open(net, win);
        opened.push_back(win);
      } else if (op < 9) {
        const auto at = static_cast<std::size_t>(*rc::gen::inRange<std::size_t>(0, opened.size()));
        close(net, opened[at]);
        opened.erase(opened.begin() + static_cast<std::ptrdiff_t>(at));
      } else {
        net.heal_all();  // ends every cut (the runner's heal); clogs stay
        std::erase_if(opened, [](const Window& x) { return x.kind != Kind::clog; });
      }
      for (NodeId from = 0; from < 3; ++from)
        for (NodeId to = 0; to < 3; ++to) {
          if (from == to) continue;
          const LinkModel m = model_of(opened, from, to);
          RC_ASSERT(net.blocked(from, to) == m.blocked);
          RC_ASSERT(net.silently_cut(from, to) == m.silent);
          RC_ASSERT(net.clogged(from, to) == m.clog);
        }
    }
  });
}
