#pragma once
// A simulated coordinator and one client node for tests of code that talks
// to the coordinator directly (admin operations, producer ids).
#include <catch2/catch.hpp>

#include <functional>
#include <memory>

#include "sim/world/world.h"
#include "system/coord/client.h"
#include "system/coord/server.h"

namespace samsa::test {

// Runs `fn` on a node with a connected client; each call to session() adds
// one client node. run() runs the world until every fn returned.
struct CoordRig {
  explicit CoordRig(std::uint64_t seed) {
    sim::WorldConfig wc;
    wc.seed = seed;
    world = std::make_unique<sim::World>(wc);
    world->add_node("zk", [this](sim::Runtime& rt) { zk = coord::Server::start(rt, {}).value(); });
    world->start(0);
  }
  ~CoordRig() {
    zk.reset();
    world.reset();
  }
  void session(std::function<void(sim::Runtime&, coord::Client&)> fn, sim::Duration delay = {}) {
    const auto n = world->add_node("c" + std::to_string(nodes++), [fn, delay, this](sim::Runtime& rt) {
      rt.sleep(delay);
      auto c = coord::Client::start(rt, coord::ClientConfig{{{"zk", 2181}}, 4000});
      REQUIRE(c->wait_connected(rt.deadline_after(std::chrono::seconds(5))));
      fn(rt, *c);
      ++finished;
      c->close();
    });
    world->start(n);
  }
  void run(sim::Duration limit = std::chrono::seconds(30)) {
    const auto r = world->run(world->now() + limit);
    REQUIRE(r.reason != sim::StopReason::internal_error);
  }

  std::shared_ptr<coord::Server> zk;
  std::unique_ptr<sim::World> world;
  int nodes = 0;
  int finished = 0;
};

}  // namespace samsa::test
