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

TEST_CASE("after a keep_none or keep_all crash a file is its durable image plus none or all unsynced writes",
          "[sim][disk]") {
  rc::prop("crash state is a prefix state", [](std::uint64_t seed) {
    const auto ops = *rc::gen::container<std::vector<std::tuple<std::uint8_t, std::string, bool>>>(
        rc::gen::tuple(rc::gen::inRange<std::uint8_t>(0, 64), rc::gen::nonEmpty<std::string>(),
                       rc::gen::arbitrary<bool>()));
    const auto mode = *rc::gen::element(CrashMode::keep_none, CrashMode::keep_all);
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

// --- the crash model: subsets, torn sectors ---------------------------------------

namespace {

// Writes `slots` 8-byte records at distinct slot offsets (in a seeded order)
// after an fsynced prefix, crashes with `mode`, returns the file and the
// records' order.
struct SlotRun {
  Bytes synced;
  Bytes after;
  std::vector<std::size_t> order;
};

Bytes slot_record(std::size_t slot) {
  Bytes r(8, static_cast<std::uint8_t>('A' + slot % 26));
  r[0] = static_cast<std::uint8_t>(slot);
  return r;
}

SlotRun run_slots(std::uint64_t seed, std::size_t slots, CrashMode mode) {
  DiskRig rig(seed);
  SlotRun out;
  out.synced = Bytes(16, '#');
  for (std::size_t i = 0; i < slots; ++i) out.order.push_back(i);
  Random r(seed);
  for (std::size_t i = slots; i > 1; --i) std::swap(out.order[i - 1], out.order[r.index(i)]);
  rig.run(
      [&](Runtime& rt) {
        auto f = rt.disk().open("slots", {.create = true});
        RC_ASSERT((*f)->append(out.synced).ok());
        RC_ASSERT((*f)->fsync().ok());
        for (std::size_t slot : out.order)
          RC_ASSERT((*f)->write(16 + 8 * slot, slot_record(slot)).ok());
      },
      mode);
  out.after = rig.current("slots");
  return out;
}

}  // namespace

TEST_CASE("keep_subset: the crash image is the durable image plus a subset of the unsynced writes",
          "[sim][disk][faults]") {
  rc::prop("each write whole or absent", [] {
    const auto seed = *rc::gen::inRange<std::uint64_t>(1, 1'000'000);
    const auto slots = *rc::gen::inRange<std::size_t>(1, 40);
    const SlotRun r = run_slots(seed, slots, CrashMode::keep_subset);
    RC_ASSERT(r.after.size() >= 16);
    RC_ASSERT(Bytes(r.after.begin(), r.after.begin() + 16) == r.synced);
    RC_ASSERT((r.after.size() - 16) % 8 == 0);
    for (std::size_t slot = 0; slot < slots; ++slot) {
      const std::size_t at = 16 + 8 * slot;
      if (at >= r.after.size()) continue;  // lost, and nothing kept beyond it
      const Bytes got(r.after.begin() + at, r.after.begin() + at + 8);
      // Kept whole, or lost: then zeros (a hole below a kept later record).
      RC_ASSERT(got == slot_record(slot) || got == Bytes(8, 0));
    }
  });
}

TEST_CASE("keep_subset keeps and loses writes independently, not as a prefix",
          "[sim][disk][faults]") {
  int non_prefix = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    const SlotRun r = run_slots(seed, 12, CrashMode::keep_subset);
    // Kept set in issue order: a lost write followed by a kept one.
    bool lost_seen = false;
    bool gap = false;
    for (std::size_t slot : r.order) {
      const std::size_t at = 16 + 8 * slot;
      const bool kept = at < r.after.size() &&
                        Bytes(r.after.begin() + at, r.after.begin() + at + 8) == slot_record(slot);
      if (!kept) lost_seen = true;
      if (kept && lost_seen) gap = true;
    }
    non_prefix += gap;
  }
  REQUIRE(non_prefix > 0);
}

TEST_CASE("torn: garbage only inside the torn sector, whole sectors before it, nothing after",
          "[sim][disk][faults]") {
  rc::prop("torn appends", [] {
    const auto seed = *rc::gen::inRange<std::uint64_t>(1, 1'000'000);
    const std::uint32_t sector = *rc::gen::element<std::uint32_t>(512, 4096);
    const auto sizes = *rc::gen::container<std::vector<std::size_t>>(
        *rc::gen::inRange<std::size_t>(1, 8), rc::gen::inRange<std::size_t>(1, 10'000));
    WorldConfig c = quiet_config(seed);
    c.disk.sector_bytes = sector;
    World w(c);
    Bytes synced(777, '#');
    Bytes full = synced;
    std::vector<std::pair<std::size_t, std::size_t>> writes;  // [from, to)
    const NodeId n = w.add_node("n", [&](Runtime& rt) {
      auto f = rt.disk().open("log", {.create = true});
      RC_ASSERT((*f)->append(synced).ok());
      RC_ASSERT((*f)->fsync().ok());
      for (std::size_t i = 0; i < sizes.size(); ++i) {
        Bytes data(sizes[i], static_cast<std::uint8_t>('a' + i));
        writes.push_back({full.size(), full.size() + data.size()});
        full.insert(full.end(), data.begin(), data.end());
        RC_ASSERT((*f)->append(data).ok());
      }
      rt.sleep(24h);
    });
    w.start(n);
    w.spawn("crash", [&] {
      w.control().sleep(1h);
      w.crash(n, CrashMode::torn);
    });
    w.run(2h);
    const Bytes after = w.disk(n).durable_files().at("log");
    RC_ASSERT(after.size() >= synced.size());
    RC_ASSERT(after.size() <= full.size());
    std::size_t m = 0;  // first byte that differs from "all writes kept"
    while (m < after.size() && after[m] == full[m]) ++m;
    RC_ASSERT(m >= synced.size());
    if (m < after.size()) {
      // The garbage lies in one sector, inside one write's range.
      RC_ASSERT(m / sector == (after.size() - 1) / sector);
      bool inside_one = false;
      for (auto [from, to] : writes) inside_one |= m >= from && after.size() <= to;
      RC_ASSERT(inside_one);
    }
    // A tear ends the file: every write kept whole lies before it.
    bool ends_on_boundary = after.size() == synced.size();
    for (auto [from, to] : writes)
      ends_on_boundary |= after.size() == to || (after.size() > from && after.size() < to);
    RC_ASSERT(ends_on_boundary);
  });
}

// --- ext4 without journaled metadata: names need a directory fsync ------------------

TEST_CASE("with dir_ops_need_fsync a created, renamed or removed name survives a crash only after fsync_dir",
          "[sim][disk][faults]") {
  for (bool sync_dir : {false, true}) {
    INFO("sync_dir " << sync_dir);
    WorldConfig c = quiet_config(51);
    c.disk.dir_ops_need_fsync = true;
    World w(c);
    const NodeId n = w.add_node("n", [&](Runtime& rt) {
      Disk& d = rt.disk();
      REQUIRE(d.mkdirs("p").ok());
      {
        auto f = d.open("p/old", {.create = true});
        REQUIRE((*f)->append(samsa::as_bytes("old")).ok());
        REQUIRE((*f)->fsync().ok());
      }
      REQUIRE(d.fsync_dir("p").ok());  // "old" is durable by name now
      {
        auto f = d.open("p/new", {.create = true});
        REQUIRE((*f)->append(samsa::as_bytes("new")).ok());
        REQUIRE((*f)->fsync().ok());  // data durable, name not yet
      }
      REQUIRE(d.rename("p/old", "p/moved").ok());
      if (sync_dir) REQUIRE(d.fsync_dir("p").ok());
      rt.sleep(24h);
    });
    w.start(n);
    w.spawn("crash", [&] {
      w.control().sleep(1h);
      w.crash(n, CrashMode::keep_none);
    });
    w.run(2h);
    const auto files = w.disk(n).durable_files();
    std::vector<std::string> names;
    for (const auto& [p, b] : files) names.push_back(p);
    if (sync_dir) {
      REQUIRE(names == std::vector<std::string>{"p/moved", "p/new"});
      REQUIRE(files.at("p/moved") == Bytes{'o', 'l', 'd'});
    } else {
      REQUIRE(names == std::vector<std::string>{"p/old"});
    }
  }
}

TEST_CASE("write_atomic survives a crash under dir_ops_need_fsync", "[sim][disk][faults]") {
  WorldConfig c = quiet_config(52);
  c.disk.dir_ops_need_fsync = true;
  World w(c);
  const NodeId n = w.add_node("n", [&](Runtime& rt) {
    REQUIRE(rt.disk().mkdirs("d").ok());
    REQUIRE(rt.disk().fsync_dir("").ok());
    REQUIRE(samsa::sim::write_atomic(rt.disk(), "d/cp", samsa::as_bytes("42")).ok());
    rt.sleep(24h);
  });
  w.start(n);
  w.spawn("crash", [&] {
    w.control().sleep(1h);
    w.crash(n);
  });
  w.run(2h);
  REQUIRE(w.disk(n).durable_files().at("d/cp") == Bytes{'4', '2'});
  REQUIRE(w.disk(n).durable_files().count("d/cp.tmp") == 0);
}

// --- stalls ----------------------------------------------------------------------------

TEST_CASE("a stalled disk parks every operation until the stall ends", "[sim][disk][faults]") {
  World w(quiet_config(53));
  std::vector<std::pair<std::string, Duration>> done;
  const NodeId n = w.add_node("n", [&](Runtime& rt) {
    auto f = rt.disk().open("f", {.create = true});
    rt.sleep(100ms);  // the stall begins at 50 ms, for 400 ms
    auto note = [&](const char* what) { done.push_back({what, w.now()}); };
    rt.spawn("w", [&, f = std::shared_ptr<File>(std::move(*f))] {
      (void)f->append(samsa::as_bytes("x"));
      note("write");
      (void)f->fsync();
      note("fsync");
    });
    rt.spawn("m", [&] {
      (void)rt.disk().list("");
      note("list");
      (void)rt.disk().rename("f", "g");
      note("rename");
    });
    rt.sleep(1s);
    (void)rt.disk().open("g");
    note("open after");
  });
  w.start(n);
  w.spawn("nemesis", [&] {
    w.control().sleep(50ms);
    w.disk(n).stall(400ms);
  });
  REQUIRE(w.run(1h).reason == StopReason::idle);
  REQUIRE(done.size() == 5);
  for (const auto& [what, at] : done) {
    INFO(what);
    REQUIRE(at >= 450ms);
  }
  // After the stall an operation does not wait (1 s on the node's drifting clock).
  REQUIRE(done.back().second > 1099ms);
  REQUIRE(done.back().second < 1101ms);
}

// --- memory: unsynced data is ranges over the cache -------------------------------------

TEST_CASE("unsynced appends keep no copy of their data; writeback makes old writes durable",
          "[sim][disk][memory]") {
  for (bool writeback : {false, true}) {
    WorldConfig c = quiet_config(54);
    if (writeback) c.disk.writeback_after = 30s;
    World w(c);
    std::uint64_t overhead = 0;
    const NodeId n = w.add_node("n", [&](Runtime& rt) {
      auto f = rt.disk().open("log", {.create = true});
      const Bytes batch(1024, 'r');
      for (int i = 0; i < 2000; ++i) {
        REQUIRE((*f)->append(batch).ok());
        rt.sleep(100ms);  // 200 s of appends, never an fsync (Kafka's default)
      }
      overhead = w.disk(rt.node_id()).unsynced_overhead_bytes();
      rt.sleep(24h);
    });
    w.start(n);
    w.spawn("crash", [&] {
      w.control().sleep(1h);
      w.crash(n, CrashMode::keep_none);
    });
    w.run(2h);
    INFO("writeback " << writeback << " overhead " << overhead);
    // No data copies: records only (2000 appends of 1 KiB = 2 MB of data).
    REQUIRE(overhead < 2000 * 128);
    const std::size_t kept = w.disk(n).durable_files().at("log").size();
    if (writeback) {
      // All but the last 30 s (about 300 appends) had been written back.
      REQUIRE(kept >= 1024 * (2000 - 301));
      REQUIRE(kept < 1024 * 2000);
    } else {
      REQUIRE(kept == 0);
    }
  }
}

TEST_CASE("discard_contents frees every file's bytes and undo records, open or removed", "[sim][disk][memory]") {
  World w(quiet_config(55));
  std::unique_ptr<samsa::sim::File> held;  // still open when the run ends
  const NodeId n = w.add_node("n", [&](Runtime& rt) {
    const Bytes batch(4096, 'r');
    for (const char* path : {"kept", "removed", "synced"}) {
      auto f = rt.disk().open(path, {.create = true});
      REQUIRE(f.ok());
      for (int i = 0; i < 16; ++i) REQUIRE((*f)->append(batch).ok());
      if (std::string_view(path) == "synced") REQUIRE((*f)->fsync().ok());
      if (std::string_view(path) == "removed") held = std::move(*f);
    }
    REQUIRE((*rt.disk().open("kept", {})).get()->write(0, Bytes(100, 'o')).ok());  // an overwrite: undo bytes
    REQUIRE(rt.disk().remove("removed").ok());
    rt.sleep(24h);
  });
  w.start(n);
  w.run(1h);
  SimDisk& d = w.disk(n);
  REQUIRE(d.used_bytes() == 2 * 16 * 4096 + 16 * 4096);  // the removed file is still open
  REQUIRE(d.unsynced_overhead_bytes() > 0);
  w.discard_disk_contents();
  CHECK(d.used_bytes() == 0);
  CHECK(d.unsynced_overhead_bytes() == 0);
  CHECK(d.files().at("kept")->cache.capacity() == 0);
  CHECK(d.files().at("kept")->unsynced.capacity() == 0);
  CHECK(held->size() == 0);
  CHECK(d.durable_files().at("synced").empty());
}
