#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "tests/sim/world_helpers.h"

using namespace samsa::testing;

namespace {

// Runs `body` on node "n" of a fresh world, then crashes the node with
// `mode`, and returns the node's disk for inspection.
struct DiskRig {
  explicit DiskRig(std::uint64_t seed) : world(quiet_config(seed)) {}
  World world;
  NodeId n = -1;
  void run(std::function<void(Runtime&)> body, std::optional<CrashMode> mode) {
    n = world.add_node("n", [body](Runtime& rt) {
      body(rt);
      rt.sleep(24h);
    });
    world.start(n);
    world.spawn("crash", [this, mode] {
      world.control().sleep(1h);
      if (mode) world.crash(n, *mode);
    });
    world.run(2h);
  }
  Bytes durable(const std::string& path) { return world.disk(n).durable_files().at(path); }
  Bytes current(const std::string& path) { return world.disk(n).files().at(path)->cache; }
};

struct Op {
  std::uint64_t offset;
  Bytes data;
  bool sync;
};

}  // namespace

TEST_CASE("writes followed by fsync survive any crash", "[sim][disk]") {
  rc::prop("fsynced bytes are durable", [](std::uint64_t seed, std::vector<std::string> chunks) {
    for (CrashMode mode : {CrashMode::keep_none, CrashMode::keep_all, CrashMode::torn}) {
      DiskRig rig(seed);
      Bytes expected;
      rig.run(
          [&](Runtime& rt) {
            auto f = rt.disk().open("log", {.create = true});
            RC_ASSERT(f.ok());
            for (const auto& c : chunks) {
              RC_ASSERT((*f)->append(samsa::as_bytes(c)).ok());
              expected.insert(expected.end(), c.begin(), c.end());
            }
            RC_ASSERT((*f)->fsync().ok());
          },
          mode);
      RC_ASSERT(rig.current("log") == expected);
    }
  });
}

TEST_CASE("after a crash a file is its durable image plus an allowed prefix of unsynced writes",
          "[sim][disk]") {
  rc::prop("crash state is a prefix state", [](std::uint64_t seed) {
    const auto ops = *rc::gen::container<std::vector<std::tuple<std::uint8_t, std::string, bool>>>(
        rc::gen::tuple(rc::gen::inRange<std::uint8_t>(0, 64), rc::gen::nonEmpty<std::string>(),
                       rc::gen::arbitrary<bool>()));
    const auto mode = *rc::gen::element(CrashMode::keep_none, CrashMode::keep_all, CrashMode::torn);
    DiskRig rig(seed);
    Bytes synced;
    std::vector<Op> unsynced;
    rig.run(
        [&](Runtime& rt) {
          auto f = rt.disk().open("file", {.create = true});
          Bytes img;
          for (const auto& [off, data, sync] : ops) {
            RC_ASSERT((*f)->write(off, samsa::as_bytes(data)).ok());
            if (img.size() < off + data.size()) img.resize(off + data.size());
            std::copy(data.begin(), data.end(), img.begin() + off);
            unsynced.push_back({off, Bytes(data.begin(), data.end()), sync});
            if (sync) {
              RC_ASSERT((*f)->fsync().ok());
              synced = img;
              unsynced.clear();
            }
          }
        },
        mode);
    const Bytes after = rig.current("file");
    // Every state the model allows: synced + first k unsynced ops, + maybe a
    // byte prefix of op k.
    bool allowed = false;
    Bytes state = synced;
    auto apply = [](Bytes& img, const Op& op, std::size_t len) {
      if (img.size() < op.offset + len) img.resize(op.offset + len);
      std::copy(op.data.begin(), op.data.begin() + len, img.begin() + op.offset);
    };
    for (std::size_t k = 0; k <= unsynced.size() && !allowed; ++k) {
      if (after == state) allowed = true;
      if (k < unsynced.size()) {
        for (std::size_t len = 0; len <= unsynced[k].data.size() && !allowed; ++len) {
          Bytes partial = state;
          apply(partial, unsynced[k], len);
          allowed = after == partial;
        }
        apply(state, unsynced[k], unsynced[k].data.size());
      }
    }
    RC_ASSERT(allowed);
    if (mode == CrashMode::keep_none) RC_ASSERT(after == synced);
    if (mode == CrashMode::keep_all) RC_ASSERT(after == state);
  });
}

TEST_CASE("a disk write issued by a crashed incarnation is dropped", "[sim][disk]") {
  DiskRig rig(5);
  rig.run(
      [&](Runtime& rt) {
        auto f = rt.disk().open("x", {.create = true});
        REQUIRE((*f)->append(samsa::as_bytes("kept")).ok());
        REQUIRE((*f)->fsync().ok());
        REQUIRE((*f)->append(samsa::as_bytes("lost")).ok());
      },
      CrashMode::keep_none);
  REQUIRE(rig.current("x") == Bytes{'k', 'e', 'p', 't'});
}

TEST_CASE("disk faults: fsync errors, disk full, corruption", "[sim][disk]") {
  World w(quiet_config(6));
  std::vector<DiskErrc> errors;
  Bytes read_back(4);
  const NodeId n = w.add_node("n", [&](Runtime& rt) {
    auto f = rt.disk().open("a", {.create = true});
    REQUIRE((*f)->append(samsa::as_bytes("abcd")).ok());
    errors.push_back((*f)->fsync().error());
    // As on Linux, a failed fsync leaves the data unsynced for good: it must
    // be written again to become durable.
    REQUIRE((*f)->write(0, samsa::as_bytes("abcd")).ok());
    REQUIRE((*f)->fsync().ok());
    errors.push_back((*f)->append(Bytes(100, 0)).error());
    REQUIRE((*f)->read(0, read_back).ok());
  });
  w.disk(n).fail_fsyncs(1);
  w.disk(n).set_capacity(50);
  w.start(n);
  w.spawn("corrupt", [&] {
    w.control().sleep(1s);
    REQUIRE(w.disk(n).corrupt("a", 1, 1));
  });
  w.run(1h);
  REQUIRE(errors == std::vector<DiskErrc>{DiskErrc::io_error, DiskErrc::no_space});
  REQUIRE(read_back == Bytes{'a', 'b', 'c', 'd'});  // read before the corruption
  // A latent sector error: one byte differs in the durable image.
  const Bytes durable = w.disk(n).durable_files().at("a");
  int diff = 0;
  for (int i = 0; i < 4; ++i) diff += durable[i] != "abcd"[i];
  REQUIRE(diff == 1);
}

TEST_CASE("directories, rename, remove and list", "[sim][disk]") {
  World w(quiet_config(7));
  const NodeId n = w.add_node("n", [&](Runtime& rt) {
    Disk& d = rt.disk();
    REQUIRE(d.open("t-0/a.log", {.create = true}).error() == DiskErrc::not_found);
    REQUIRE(d.mkdirs("t-0").ok());
    REQUIRE(d.open("t-0/b.log", {.create = true}).ok());
    REQUIRE(d.open("t-0/a.log", {.create = true}).ok());
    REQUIRE(d.open("t-0/a.log", {.create = true, .exclusive = true}).error() == DiskErrc::exists);
    REQUIRE(d.list("t-0").value() == std::vector<std::string>{"a.log", "b.log"});
    REQUIRE(d.list("").value() == std::vector<std::string>{"t-0"});
    REQUIRE(samsa::sim::write_atomic(d, "t-0/cp", samsa::as_bytes("42")).ok());
    REQUIRE(samsa::sim::read_all(d, "t-0/cp").value() == Bytes{'4', '2'});
    REQUIRE(d.rename("t-0/b.log", "t-0/c.log").ok());
    REQUIRE(d.remove("t-0").error() == DiskErrc::not_empty);
    REQUIRE(d.remove("t-0/a.log").ok());
    REQUIRE(d.list("t-0").value() == std::vector<std::string>{"c.log", "cp"});
    REQUIRE(d.open("../x", {.create = true}).error() == DiskErrc::bad_path);
  });
  w.start(n);
  REQUIRE(w.run(1h).reason == StopReason::idle);
}
