#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "tests/sim/world_helpers.h"

using namespace samsa::testing;

namespace {

Bytes frame_of(std::uint32_t seq, std::size_t padding = 0) {
  Bytes b(8 + padding, 0);
  for (int i = 0; i < 4; ++i) b[4 + i] = static_cast<std::uint8_t>(seq >> (24 - 8 * i));
  put_frame_size(b, 0);
  return b;
}

std::uint32_t seq_of(const Bytes& b) {
  return (std::uint32_t{b[4]} << 24) | (std::uint32_t{b[5]} << 16) | (std::uint32_t{b[6]} << 8) |
         b[7];
}

// A server node that records every frame it receives per connection.
struct Recorder {
  std::map<std::uint64_t, std::vector<std::uint32_t>> received;
  void serve(Runtime& rt) {
    auto l = rt.net().listen(9);
    REQUIRE(l.ok());
    auto listener = std::shared_ptr<Listener>(std::move(*l));
    for (;;) {
      auto c = listener->accept();
      if (!c) return;
      auto conn = std::shared_ptr<Connection>(std::move(*c));
      rt.spawn("conn", [this, conn] {
        while (auto f = conn->recv()) received[conn->id()].push_back(seq_of(*f));
      });
    }
  }
};

}  // namespace

TEST_CASE("frames on one connection never reorder or duplicate", "[sim][net]") {
  rc::prop("received = sent, in order", [](std::uint64_t seed) {
    WorldConfig c = quiet_config(seed);
    c.network.jitter_max = 5ms;  // jitter far above spacing: order must hold anyway
    World w(c);
    Recorder rec;
    const NodeId s = w.add_node("s", [&](Runtime& rt) { rec.serve(rt); });
    const auto count = *rc::gen::inRange(1, 200);
    const NodeId cl = w.add_node("c", [&](Runtime& rt) {
      auto conn = rt.net().connect({"s", 9});
      RC_ASSERT(conn.ok());
      Random r = rt.random("pad");
      for (int i = 0; i < count; ++i) {
        RC_ASSERT((*conn)->send(frame_of(i, r.uniform(0, 3000))).ok());
        if (r.chance(0.3)) rt.sleep(r.uniform(Duration(0), Duration(100us)));
      }
      rt.sleep(1s);
    });
    w.start(s);
    w.start(cl);
    w.run(10s);
    RC_ASSERT(rec.received.size() == 1u);
    const auto& got = rec.received.begin()->second;
    RC_ASSERT(got.size() == static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) RC_ASSERT(got[i] == static_cast<std::uint32_t>(i));
  });
}

TEST_CASE("a reset loses only frames in flight: what arrives is a prefix", "[sim][net]") {
  rc::prop("received is a prefix of sent", [](std::uint64_t seed) {
    World w(quiet_config(seed));
    Recorder rec;
    const NodeId s = w.add_node("s", [&](Runtime& rt) { rec.serve(rt); });
    int sent_ok = 0;
    bool saw_reset = false;
    const NodeId cl = w.add_node("c", [&](Runtime& rt) {
      auto conn = rt.net().connect({"s", 9});
      RC_ASSERT(conn.ok());
      for (int i = 0; i < 1000; ++i) {
        auto r = (*conn)->send(frame_of(i));
        if (!r) {
          saw_reset = r.error() == NetErrc::reset;
          break;
        }
        ++sent_ok;
        rt.sleep(10us);
      }
      rt.sleep(1s);
    });
    w.start(s);
    w.start(cl);
    const auto reset_at = *rc::gen::inRange(1, 9000);
    w.spawn("reset", [&] {
      w.control().sleep(std::chrono::microseconds(reset_at));
      w.network().reset_connections(s, cl);
    });
    w.run(10s);
    const auto got = rec.received.empty() ? std::vector<std::uint32_t>{}
                                          : rec.received.begin()->second;
    RC_ASSERT(rec.received.size() <= 1u);
    RC_ASSERT(got.size() <= static_cast<std::size_t>(sent_ok));
    for (std::size_t i = 0; i < got.size(); ++i) RC_ASSERT(got[i] == i);
    RC_ASSERT(saw_reset || sent_ok == 1000);
  });
}

TEST_CASE("a partition breaks a busy connection and fails new connects", "[sim][net]") {
  World w(quiet_config(3));
  Recorder rec;
  const NodeId s = w.add_node("s", [&](Runtime& rt) { rec.serve(rt); });
  std::optional<NetErrc> send_error, connect_error;
  const NodeId cl = w.add_node("c", [&](Runtime& rt) {
    auto conn = rt.net().connect({"s", 9});
    REQUIRE(conn.ok());
    for (int i = 0;; ++i) {
      auto r = (*conn)->send(frame_of(i));
      if (!r) {
        send_error = r.error();
        break;
      }
      rt.sleep(1ms);
    }
    auto again = rt.net().connect({"s", 9}, rt.deadline_after(500ms));
    REQUIRE_FALSE(again.ok());
    connect_error = again.error();
  });
  w.start(s);
  w.start(cl);
  w.spawn("partition", [&] {
    w.control().sleep(50ms);
    w.network().partition(s, cl);
  });
  w.run(10s);
  REQUIRE(send_error == NetErrc::reset);
  REQUIRE(connect_error == NetErrc::timed_out);
  REQUIRE(rec.received.begin()->second.size() >= 40u);
}

TEST_CASE("a request can arrive while its response is lost", "[sim][net]") {
  // One-way partition server -> client: the request gets through, the ack
  // does not; the client sees a reset: the outcome is unknown to it.
  World w(quiet_config(4));
  int requests_seen = 0;
  std::optional<NetErrc> client_error;
  const NodeId s = w.add_node("s", [&](Runtime& rt) {
    auto l = rt.net().listen(9);
    auto c = (*l)->accept();
    while (auto f = (*c)->recv()) {
      ++requests_seen;
      (void)(*c)->send(*f);
    }
  });
  const NodeId cl = w.add_node("c", [&](Runtime& rt) {
    auto conn = rt.net().connect({"s", 9});
    REQUIRE(conn.ok());
    rt.sleep(100ms);
    REQUIRE((*conn)->send(frame_of(1)).ok());
    auto reply = (*conn)->recv(rt.deadline_after(5s));
    REQUIRE_FALSE(reply.ok());
    client_error = reply.error();
  });
  w.start(s);
  w.start(cl);
  w.spawn("one-way", [&] {
    w.control().sleep(50ms);
    w.network().partition_one_way(s, cl);
  });
  w.run(10s);
  REQUIRE(requests_seen == 1);
  REQUIRE(client_error == NetErrc::reset);
}

TEST_CASE("connect errors: refused without a listener, refused when down", "[sim][net]") {
  World w(quiet_config(5));
  std::vector<NetErrc> errors;
  const NodeId s = w.add_node("s", [&](Runtime& rt) { rt.sleep(1h); });
  const NodeId cl = w.add_node("c", [&](Runtime& rt) {
    errors.push_back(rt.net().connect({"s", 9}).error());
    errors.push_back(rt.net().connect({"nobody", 9}).error());
    rt.sleep(2s);
    errors.push_back(rt.net().connect({"s", 9}).error());
  });
  w.start(s);
  w.start(cl);
  w.spawn("crash", [&] {
    w.control().sleep(1s);
    w.crash(s);
  });
  w.run(10s);
  REQUIRE(errors == std::vector<NetErrc>{NetErrc::refused, NetErrc::refused, NetErrc::refused});
}

TEST_CASE("a graceful close delivers earlier frames, then the peer sees the end",
          "[sim][net]") {
  World w(quiet_config(6));
  Recorder rec;
  const NodeId s = w.add_node("s", [&](Runtime& rt) { rec.serve(rt); });
  const NodeId cl = w.add_node("c", [&](Runtime& rt) {
    auto conn = rt.net().connect({"s", 9});
    for (int i = 0; i < 5; ++i) REQUIRE((*conn)->send(frame_of(i)).ok());
    (*conn)->close();
    REQUIRE((*conn)->send(frame_of(9)).error() == NetErrc::closed);
  });
  w.start(s);
  w.start(cl);
  w.run(10s);
  REQUIRE(rec.received.begin()->second == std::vector<std::uint32_t>{0, 1, 2, 3, 4});
}

TEST_CASE("malformed frames are refused by send", "[sim][net]") {
  World w(quiet_config(7));
  Recorder rec;
  const NodeId s = w.add_node("s", [&](Runtime& rt) { rec.serve(rt); });
  std::optional<NetErrc> err;
  const NodeId cl = w.add_node("c", [&](Runtime& rt) {
    auto conn = rt.net().connect({"s", 9});
    Bytes bad = frame_of(1);
    bad[3] += 1;  // size prefix one too large
    err = (*conn)->send(bad).error();
  });
  w.start(s);
  w.start(cl);
  w.run(1s);
  REQUIRE(err == NetErrc::bad_frame);
}

TEST_CASE("set_link gives a link its own latency and jitter, kept through heal and unclog", "[sim][net]") {
  rc::prop("one-way delay within [latency, latency + jitter]", [](std::uint64_t seed) {
    World w(quiet_config(seed));
    std::vector<Duration> arrived;
    const NodeId s = w.add_node("s", [&](Runtime& rt) {
      auto l = rt.net().listen(9);
      RC_ASSERT(l.ok());
      auto c = (*l)->accept();
      RC_ASSERT(c.ok());
      while (auto f = (*c)->recv()) arrived.push_back(w.now());
    });
    std::vector<Duration> sent;
    const NodeId cl = w.add_node("c", [&](Runtime& rt) {
      auto conn = rt.net().connect({"s", 9});
      RC_ASSERT(conn.ok());
      for (std::uint32_t i = 0; i < 20; ++i) {
        if (i == 10) {  // heal and unclog end faults, not the link's shape
          w.network().heal_all();
          w.network().unclog_all();
        }
        sent.push_back(w.now());
        RC_ASSERT((*conn)->send(frame_of(i)).ok());
        rt.sleep(100ms);  // far apart: no frame waits behind another
      }
    });
    w.network().set_link(cl, s, 40ms, 5ms);
    w.start(s);
    w.start(cl);
    w.run(10s);
    RC_ASSERT(arrived.size() == sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i) {
      RC_ASSERT(arrived[i] - sent[i] >= Duration(40ms));
      RC_ASSERT(arrived[i] - sent[i] <= Duration(45ms));
    }
  });
}
