#include "scenarios/selftest/pingpong.h"

#include <fmt/format.h>

#include "sim/world/world.h"

namespace samsa::scenarios::selftest {

namespace {

using namespace samsa::sim;
using invariants::History;

constexpr std::uint16_t k_port = 9000;
constexpr std::uint32_t k_ping = 0x50494e47;  // "PING"

struct Message {
  std::uint32_t magic = k_ping;
  std::int32_t from = 0;
  std::int64_t seq = 0;
};

Bytes encode(const Message& m, std::size_t padding) {
  Bytes b(4 + 16 + padding, 0);
  auto put = [&b](std::size_t at, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * (n - 1 - i)));
  };
  put(4, m.magic, 4);
  put(8, static_cast<std::uint32_t>(m.from), 4);
  put(12, static_cast<std::uint64_t>(m.seq), 8);
  put_frame_size(b, 0);
  return b;
}

std::optional<Message> decode(ByteView b) {
  if (b.size() < 20) return std::nullopt;
  auto get = [&b](std::size_t at, int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | b[at + i];
    return v;
  };
  Message m;
  m.magic = static_cast<std::uint32_t>(get(4, 4));
  m.from = static_cast<std::int32_t>(get(8, 4));
  m.seq = static_cast<std::int64_t>(get(12, 8));
  if (m.magic != k_ping) return std::nullopt;
  return m;
}

class Pingpong final : public Workload {
 public:
  void setup(WorkloadContext& ctx) override {
    dup_bug_ = ctx.options.at("duplicate_bug").get<bool>();
    const int n = ctx.nodes > 0 ? ctx.nodes : 3;
    for (int i = 0; i < n; ++i) names_.push_back(fmt::format("n{}", i + 1));
    for (int i = 0; i < n; ++i)
      ctx.world.add_node(names_[i], [this, &ctx, i](Runtime& rt) { node_main(rt, ctx.history, i); });
  }

  void start(WorkloadContext& ctx) override {
    for (NodeId id : ctx.world.node_ids()) ctx.world.start(id);
  }

  nlohmann::json details(WorkloadContext& ctx) override {
    return {{"nodes", names_.size()},
            {"round_trips", round_trips_},
            {"connections", connections_},
            {"frames_delivered", ctx.world.network().frames_delivered()}};
  }

 private:
  void node_main(Runtime& rt, History& h, int self) {
    rt.spawn("server", [this, &rt] { server(rt); });
    for (int j = 0; j < static_cast<int>(names_.size()); ++j)
      if (j != self) rt.spawn("client:" + names_[j], [this, &rt, &h, j] { client(rt, h, names_[j]); });
  }

  // An echo server; the duplicate bug echoes a frame twice now and then.
  void serve_connection(Runtime& rt, Connection& conn) {
    Random rng = rt.random("server");
    for (;;) {
      auto frame = conn.recv();
      if (!frame) return;
      if (!conn.send(*frame)) return;
      if (dup_bug_ && rng.chance(0.01) && !conn.send(*frame)) return;
    }
  }

  void server(Runtime& rt) {
    auto listener = rt.net().listen(k_port);
    SAMSA_ASSERT(listener.ok(), "pingpong port taken");
    for (;;) {
      auto conn = (*listener)->accept();
      if (!conn) return;
      auto shared = std::shared_ptr<Connection>(std::move(*conn));
      rt.spawn("serve", [this, &rt, shared] { serve_connection(rt, *shared); });
    }
  }

  // One history process per connection: a restarted client is a new process.
  void client(Runtime& rt, History& h, const std::string& peer) {
    Random rng = rt.random("client:" + peer);
    for (;;) {
      invariants::Process p(h);
      p.invoke("connect", {{"from", rt.node_name()}, {"to", peer}});
      auto conn = rt.net().connect({peer, k_port}, rt.deadline_after(1s));
      if (!conn) {
        p.fail("connect", {{"error", std::string(to_string(conn.error()))}});
        rt.sleep(rng.uniform(Duration(50ms), Duration(200ms)));
        continue;
      }
      p.ok("connect", nullptr);
      ++connections_;
      for (std::int64_t seq = 1;; ++seq) {
        Message m{k_ping, rt.node_id(), seq};
        p.invoke("echo", seq);
        if (!(*conn)->send(encode(m, rng.uniform(0, 200)))) break;
        auto reply = (*conn)->recv(rt.deadline_after(1s));
        if (!reply) break;
        auto r = decode(*reply);
        p.ok("echo", r ? nlohmann::json(r->seq) : nlohmann::json("malformed"));
        if (!r || r->seq != seq) break;
        ++round_trips_;
        rt.sleep(rng.uniform(Duration(0), Duration(20ms)));
      }
      p.close();  // the connection broke with an echo pending: its outcome is unknown
      (*conn)->close();
      rt.sleep(rng.uniform(Duration(10ms), Duration(100ms)));
    }
  }

  bool dup_bug_ = false;
  std::vector<std::string> names_;
  std::uint64_t round_trips_ = 0;
  std::uint64_t connections_ = 0;
};

}  // namespace


RunReport run_pingpong(const RunOptions& options) {
  return find_scenario("selftest/pingpong")->run(options);
}

RunReport run_pingpong_with(const PingpongConfig& config) {
  RunOptions o;
  o.seed = config.seed;
  o.log_level = config.log_level;
  o.save_disks_dir = config.save_disks_dir;
  return find_scenario(config.inject_duplicate_bug ? "selftest/pingpong-dup-bug"
                                                   : "selftest/pingpong")
      ->run(o);
}

}  // namespace samsa::scenarios::selftest

namespace samsa::scenarios {

WorkloadType pingpong_workload() {
  WorkloadType t;
  t.name = "pingpong";
  t.description = "nodes echo numbered frames to each other over the simulated network";
  t.options = {{"duplicate_bug", false}};
  t.make = [] { return std::make_unique<selftest::Pingpong>(); };
  return t;
}

}  // namespace samsa::scenarios
