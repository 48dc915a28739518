#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "system/log/names.h"
#include "tests/system/log/log_rig.h"

using namespace samsa::testing;
using namespace samsa::log;
using samsa::protocol::BatchReader;

namespace {

// Headers of the batches in a read result.
std::vector<samsa::protocol::BatchHeader> headers_of(ByteView records) {
  std::vector<samsa::protocol::BatchHeader> out;
  BatchReader reader(records);
  while (auto b = reader.next()) out.push_back(b->header);
  REQUIRE(reader.at_clean_end());
  return out;
}

std::vector<std::string> files(Runtime& rt, const std::string& dir = "data/t-0") {
  return rt.disk().list(dir).value();
}

}  // namespace

TEST_CASE("segments roll on segment.bytes and segment.ms at the seed's offsets 0, 170410, 239430",
          "[log]") {
  LogRig rig(1);
  rig.run([&](Runtime& rt) {
    const Bytes first = make_batch(170410, 1000, 0);
    LogConfig c;
    c.max_message_bytes = 8 << 20;
    c.segment_bytes = static_cast<std::int64_t>(first.size()) + 1;  // the next batch will not fit
    c.segment_ms = 60'000;
    auto log = open_log(rt, c);
    REQUIRE(log->append_as_leader(first, 0)->last_offset == 170409);
    REQUIRE(log->segment_base_offsets() == std::vector<std::int64_t>{0});
    REQUIRE(log->append_as_leader(make_batch(69020, 2000, 0), 0)->first_offset == 170410);
    REQUIRE(log->segment_base_offsets() == std::vector<std::int64_t>{0, 170410});
    // 61 s of record time later: segment.ms rolls although the segment is small.
    const Bytes late = make_batch(1, 2000 + 61'000, 0);
    REQUIRE(late.size() < first.size());
    REQUIRE(log->append_as_leader(late, 0)->first_offset == 239430);
    REQUIRE(log->segment_base_offsets() == std::vector<std::int64_t>{0, 170410, 239430});
    CHECK(files(rt) == std::vector<std::string>{
                           "00000000000000000000.index", "00000000000000000000.log",
                           "00000000000000000000.timeindex", "00000000000000170410.index",
                           "00000000000000170410.log", "00000000000000170410.timeindex",
                           "00000000000000239430.log", "leader-epoch-checkpoint",
                           "recovery-point-offset-checkpoint"});
    // The recovery point moved to the roll: sealed segments are durable.
    CHECK(log->recovery_point() == 239430);
    CHECK(samsa::as_chars(samsa::sim::read_all(rt.disk(), "data/t-0/recovery-point-offset-checkpoint")
                              .value()) == "0\n1\nt 0 239430\n");
  }, CrashMode::keep_none);
  // Reopen: the roll survives a crash that drops every unsynced write.
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, {});
    CHECK(log->segment_base_offsets() == std::vector<std::int64_t>{0, 170410, 239430});
    CHECK(log->log_end_offset() == 239430);  // the last batch was never flushed
  });
}

TEST_CASE("a read starting at any offset returns the batch containing it", "[log]") {
  rc::prop("index lookup + forward scan finds the containing batch, before and after reopen",
           [](std::uint64_t seed) {
    LogConfig c;
    c.index_interval_bytes = *rc::gen::inRange<std::int64_t>(0, 600);
    c.segment_bytes = *rc::gen::inRange<std::int64_t>(1600, 6000);
    c.segment_index_bytes = *rc::gen::inRange<std::int64_t>(8, 200);
    const auto batches = *rc::gen::container<std::vector<std::pair<int, int>>>(
        rc::gen::pair(rc::gen::inRange(1, 12), rc::gen::inRange(0, 100)));
    LogRig rig(seed);
    auto check_all = [&](Log& log) {
      for (std::int64_t o = log.log_start_offset(); o < log.log_end_offset(); ++o) {
        auto r = log.read(o, 1);
        RC_ASSERT(r.ok());
        const auto hs = headers_of(r->records);
        RC_ASSERT(hs.size() == 1u);
        RC_ASSERT(hs[0].base_offset <= o);
        RC_ASSERT(o <= hs[0].last_offset());
      }
    };
    rig.run([&](Runtime& rt) {
      auto log = open_log(rt, c);
      std::int64_t ts = 1000;
      for (const auto& [records, value_bytes] : batches)
        RC_ASSERT(log->append_as_leader(make_batch(records, ts++, value_bytes), 1).ok());
      check_all(*log);
      RC_ASSERT(log->flush().ok());
    });
    rig.run([&](Runtime& rt) { check_all(*open_log(rt, c)); }, CrashMode::torn);
  });
}

TEST_CASE("a reader that goes on from where its last read ended gets the batch containing its offset",
          "[log]") {
  rc::prop("the scan starts at a noted boundary; truncations and appends in between", [](std::uint64_t seed) {
    LogConfig c;
    c.index_interval_bytes = *rc::gen::inRange<std::int64_t>(0, 600);
    c.segment_bytes = *rc::gen::inRange<std::int64_t>(1600, 6000);
    // 0-2: a reader reads on (or from a random offset), 3: an append, 4: a truncation.
    const auto steps = *rc::gen::container<std::vector<std::tuple<int, int, int>>>(
        rc::gen::tuple(rc::gen::inRange(0, 5), rc::gen::inRange(1, 12), rc::gen::inRange(0, 1000)));
    LogRig rig(seed);
    rig.run([&](Runtime& rt) {
      auto log = open_log(rt, c);
      std::int64_t ts = 1000;
      for (int i = 0; i < 20; ++i) RC_ASSERT(log->append_as_leader(make_batch(1 + i % 5, ts++, 40), 1).ok());
      std::array<std::int64_t, 3> readers{0, 0, 0};
      for (const auto& [kind, n, pick] : steps) {
        const std::int64_t start = log->log_start_offset(), end = log->log_end_offset();
        if (kind == 3) {
          RC_ASSERT(log->append_as_leader(make_batch(n, ts++, static_cast<std::size_t>(pick % 90)), 1).ok());
          continue;
        }
        if (kind == 4) {
          RC_ASSERT(log->truncate_to(start + pick % (end - start + 1)).ok());
          continue;
        }
        std::int64_t& at = readers[static_cast<std::size_t>(kind)];
        if (pick % 7 == 0 || at > end) at = start + pick % (end - start + 1);
        auto r = log->read(at, static_cast<std::uint64_t>(n) * 60);
        RC_ASSERT(r.ok());
        const auto hs = headers_of(r->records);
        if (at == end) {
          RC_ASSERT(hs.empty());
          continue;
        }
        RC_ASSERT(!hs.empty());
        RC_ASSERT(hs.front().base_offset <= at);
        RC_ASSERT(at <= hs.front().last_offset());
        at = hs.back().next_offset();
      }
    });
  });
}

TEST_CASE("reads return whole batches bounded by max bytes and the high watermark", "[log]") {
  LogRig rig(2);
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, {});
    std::vector<std::size_t> sizes;
    for (int i = 0; i < 5; ++i) {
      const Bytes b = make_batch(2, 1000 + i, 100);
      sizes.push_back(b.size());
      REQUIRE(log->append_as_leader(b, 0).ok());
    }
    REQUIRE(log->log_end_offset() == 10);
    // Two whole batches fit; a third does not.
    auto r = log->read(0, sizes[0] + sizes[1] + 10);
    CHECK(headers_of(r->records).size() == 2);
    // Too small for one batch: one anyway (KIP-74), unless min_one is off.
    CHECK(headers_of(log->read(3, 5)->records).front().base_offset == 2);
    CHECK(log->read(3, 5, 1000, false)->records.empty());
    // High watermark 6: batches up to offset 5 only.
    auto bounded = headers_of(log->read(0, 1 << 20, 6)->records);
    REQUIRE(bounded.size() == 3);
    CHECK(bounded.back().last_offset() == 5);
    CHECK(log->read(6, 1 << 20, 6)->records.empty());
    CHECK(log->read(10, 100)->records.empty());
    CHECK(log->read(11, 100).error() == LogErrc::offset_out_of_range);
    CHECK(log->read(-1, 100).error() == LogErrc::offset_out_of_range);
  });
}

TEST_CASE("truncation across segment boundaries removes whole batches and is durable", "[log]") {
  LogRig rig(3);
  rig.run([&](Runtime& rt) {
    LogConfig c;
    c.segment_bytes = 400;
    auto log = open_log(rt, c);
    for (int i = 0; i < 20; ++i) REQUIRE(log->append_as_leader(make_batch(3, 1000 + i, 50), i / 5).ok());
    REQUIRE(log->segment_base_offsets().size() > 4);
    REQUIRE(log->leader_epochs().entries().size() == 4);
    // 31 is inside the batch [30, 32]: that batch goes too.
    REQUIRE(log->truncate_to(31).ok());
    CHECK(log->log_end_offset() == 30);
    CHECK(log->segment_base_offsets().back() <= 30);
    CHECK(log->leader_epochs().latest()->epoch == 1);  // epochs 2 and 3 started at 30 and 45
    REQUIRE(log->append_as_leader(make_batch(1, 5000, 10), 7).ok());
    CHECK(log->log_end_offset() == 31);
  }, CrashMode::keep_none);
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, LogConfig{});
    // The unflushed append is gone; the truncation stayed.
    CHECK(log->log_end_offset() == 30);
    CHECK(log->leader_epochs().latest()->epoch == 1);
    REQUIRE(log->truncate_to(0).ok());
    CHECK(log->log_start_offset() == 0);
    CHECK(log->log_end_offset() == 0);
    CHECK(log->segment_base_offsets() == std::vector<std::int64_t>{0});
  });
}

TEST_CASE("retention deletes whole old segments by bytes and by time, below the bound", "[log]") {
  LogRig rig(4);
  rig.run([&](Runtime& rt) {
    LogConfig c;
    c.segment_bytes = 300;
    c.retention_bytes = 1000;
    c.retention_ms = 10'000;
    auto log = open_log(rt, c);
    for (int i = 0; i < 12; ++i) REQUIRE(log->append_as_leader(make_batch(1, 1000 + i, 150), 0).ok());
    const auto bases = log->segment_base_offsets();
    REQUIRE(bases.size() == 12);  // one ~230-byte batch a segment
    // The bound (high watermark 2) protects everything from segment 2 on.
    CHECK(log->delete_old_segments(1011, 2).value() == 2);
    CHECK(log->log_start_offset() == 2);
    // By bytes: keep at most 1000 bytes (4 segments of ~230 bytes + active).
    CHECK(log->delete_old_segments(1011, 100).value() > 0);
    CHECK(log->size_bytes() - rt.disk().open("data/t-0/" + offset_file_name(log->log_start_offset(),
                                                                            k_log_suffix))
                                  .value()
                                  ->size() < 1000);
    const std::int64_t start = log->log_start_offset();
    CHECK_FALSE(rt.disk().exists("data/t-0/00000000000000000000.log"));
    CHECK_FALSE(rt.disk().exists("data/t-0/00000000000000000000.index"));
    CHECK(log->read(start - 1, 100).error() == LogErrc::offset_out_of_range);
    // By time: everything older than 10 s before now (the active segment stays).
    CHECK(log->delete_old_segments(1008 + 10'000 + 1, 100).value() > 0);  // ts <= 1008 expire
    CHECK(log->log_start_offset() == 9);
    CHECK(log->delete_old_segments(1'000'000, 100).value() == 2);
    CHECK(log->segment_base_offsets() == std::vector<std::int64_t>{11});
  });
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, {});
    CHECK(log->log_start_offset() == 11);
    CHECK(log->log_end_offset() == 12);
  }, CrashMode::keep_none);
}

TEST_CASE("flush.messages=1 makes every acknowledged append survive a crash", "[log]") {
  for (const auto mode : {CrashMode::keep_none, CrashMode::torn, CrashMode::keep_all}) {
    for (const std::int64_t flush_messages : {std::int64_t{1}, std::int64_t{1} << 40}) {
      LogRig rig(5);
      LogConfig c;
      c.flush_messages = flush_messages;
      rig.run([&](Runtime& rt) {
        auto log = open_log(rt, c);
        for (int i = 0; i < 10; ++i) REQUIRE(log->append_as_leader(make_batch(2, 1000 + i), 0).ok());
        CHECK(log->recovery_point() == (flush_messages == 1 ? 20 : 0));
      }, mode);
      rig.run([&](Runtime& rt) {
        auto log = open_log(rt, c);
        if (flush_messages == 1 || mode == CrashMode::keep_all) CHECK(log->log_end_offset() == 20);
        if (flush_messages != 1 && mode == CrashMode::keep_none) CHECK(log->log_end_offset() == 0);
        CHECK(log->log_end_offset() % 2 == 0);  // whole batches only
      });
    }
  }
}

TEST_CASE("a flush covers only what was appended before its fsync began", "[log]") {
  // An fsync parks the flushing fiber (a slow disk); an append made by another
  // fiber meanwhile is not durable yet, so the recovery point must not cover it
  // (UnifiedLog.flush takes the log end offset before it syncs).
  DiskConfig disk;
  disk.fsync_latency_min = 50ms;
  disk.fsync_latency_max = 50ms;
  LogRig rig(8, disk);
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, LogConfig{});
    REQUIRE(log->append_as_leader(make_batch(2, 1), 0).ok());
    bool appended = false;
    rt.spawn("appender", [&] {
      rt.sleep(10ms);  // inside the flush's fsync
      REQUIRE(log->append_as_leader(make_batch(3, 2), 0).ok());
      appended = true;
    });
    REQUIRE(log->flush().ok());
    REQUIRE(appended);
    CHECK(log->log_end_offset() == 5);
    CHECK(log->recovery_point() == 2);
    REQUIRE(log->flush().ok());
    CHECK(log->recovery_point() == 5);
  });
}

TEST_CASE("flush.ms flushes once the interval has passed", "[log]") {
  LogRig rig(6);
  rig.run([&](Runtime& rt) {
    LogConfig c;
    c.flush_ms = 1000;
    auto log = open_log(rt, c);
    REQUIRE(log->append_as_leader(make_batch(1, 1), 0).ok());
    CHECK(log->recovery_point() == 0);
    rt.sleep(500ms);
    REQUIRE(log->maybe_flush().ok());
    CHECK(log->recovery_point() == 0);
    rt.sleep(600ms);
    REQUIRE(log->maybe_flush().ok());
    CHECK(log->recovery_point() == 1);
  });
}

TEST_CASE("recovery cuts a torn or corrupt tail and never returns a corrupt batch", "[log]") {
  LogRig rig(7);
  std::uint64_t second_batch_at = 0;
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, {});
    REQUIRE(log->append_as_leader(make_batch(2, 1000, 40), 0).ok());
    second_batch_at = log->size_bytes();
    REQUIRE(log->append_as_leader(make_batch(2, 1001, 40), 0).ok());
    REQUIRE(log->append_as_leader(make_batch(2, 1002, 40), 0).ok());
    REQUIRE(log->flush().ok());
  });
  // A latent sector error inside the second batch.
  REQUIRE(rig.world.disk(rig.n).corrupt("data/t-0/00000000000000000000.log", second_batch_at + 30, 1));
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, {});
    // The active segment is always scanned: the bad batch and all after it go.
    CHECK(log->log_end_offset() == 2);
    CHECK(log->recovery_stats().bytes_truncated > 0);
    CHECK(headers_of(log->read(0, 1 << 20)->records).size() == 1);
    // Append a torn tail by hand: half a batch.
    const Bytes b = make_batch(1, 2000);
    auto f = rt.disk().open("data/t-0/00000000000000000000.log").value();
    REQUIRE(f->append(samsa::ByteView(b).first(b.size() / 2)).ok());
    REQUIRE(f->fsync().ok());
  });
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, {});
    CHECK(log->log_end_offset() == 2);
    REQUIRE(log->append_as_leader(make_batch(1, 3000), 0)->first_offset == 2);
  });
}

TEST_CASE("a corrupt batch in a trusted segment is refused on read", "[log]") {
  LogRig rig(8);
  rig.run([&](Runtime& rt) {
    LogConfig c;
    c.segment_bytes = 200;
    auto log = open_log(rt, c);
    for (int i = 0; i < 4; ++i) REQUIRE(log->append_as_leader(make_batch(1, 1000 + i, 100), 0).ok());
    REQUIRE(log->segment_base_offsets().size() == 4);
  });
  REQUIRE(rig.world.disk(rig.n).corrupt("data/t-0/00000000000000000001.log", 70, 1));
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, {});
    CHECK(log->read(0, 1 << 20).ok());
    CHECK(log->read(1, 1 << 20).error() == LogErrc::corrupt_storage);
    CHECK(log->read(2, 1 << 20).ok());
  });
}

TEST_CASE("bad appends and disk faults leave the log as it was", "[log]") {
  LogRig rig(9);
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, {});
    REQUIRE(log->append_as_leader(make_batch(1, 1), 0).ok());
    Bytes bad = make_batch(1, 2);
    bad.back() ^= 1;
    CHECK(log->append_as_leader(bad, 0).error() == LogErrc::corrupt_message);
    CHECK(log->append_as_leader(samsa::ByteView(bad).first(30), 0).error() == LogErrc::corrupt_message);
    CHECK(log->append_as_leader({}, 0).error() == LogErrc::corrupt_message);
    CHECK(log->append_as_leader(make_batch(1, 3, 2 << 20), 0).error() == LogErrc::record_too_large);
    // Batches whose CRCs the caller verified are still checked for framing and size.
    constexpr auto verified = samsa::log::Log::Crc::verified;
    CHECK(log->append_as_leader(samsa::ByteView(bad).first(30), 0, verified).error() == LogErrc::corrupt_message);
    CHECK(log->append_as_leader({}, 0, verified).error() == LogErrc::corrupt_message);
    CHECK(log->append_as_leader(make_batch(1, 3, 2 << 20), 0, verified).error() == LogErrc::record_too_large);
    // A follower batch must start at the log end offset.
    Bytes follower = make_batch(1, 4);
    samsa::protocol::set_base_offset(follower, 5);
    CHECK(log->append_as_follower(follower).error() == LogErrc::invalid_offset);
    samsa::protocol::set_base_offset(follower, 1);
    CHECK(log->append_as_follower(follower)->last_offset == 1);
    rig.world.disk(rig.n).set_capacity(rig.world.disk(rig.n).used_bytes() + 10);
    CHECK(log->append_as_leader(make_batch(1, 5), 0).error() == LogErrc::no_space);
    CHECK(log->log_end_offset() == 2);
    CHECK(log->size_bytes() == rt.disk().open("data/t-0/00000000000000000000.log").value()->size());
    rig.world.disk(rig.n).set_capacity(1 << 30);
    REQUIRE(log->append_as_leader(make_batch(1, 6), 0)->first_offset == 2);
    // A failed fsync takes the log offline (the page cache state is unknown).
    rig.world.disk(rig.n).fail_fsyncs(1);
    CHECK(log->flush().error() == LogErrc::storage_error);
    CHECK(log->offline());
    CHECK(log->append_as_leader(make_batch(1, 7), 0).error() == LogErrc::offline);
    CHECK(log->read(0, 100).error() == LogErrc::offline);
  });
}

TEST_CASE("offset for timestamp finds the first batch at or after it", "[log]") {
  LogRig rig(10);
  rig.run([&](Runtime& rt) {
    LogConfig c;
    c.segment_bytes = 500;
    c.index_interval_bytes = 0;
    auto log = open_log(rt, c);
    const std::vector<std::int64_t> stamps{100, 200, 200, 150, 300, 400, 500, 450, 600};
    for (auto ts : stamps) REQUIRE(log->append_as_leader(make_batch(2, ts, 60), 0).ok());
    CHECK(log->offset_for_timestamp(50).value()->offset == 0);
    CHECK(log->offset_for_timestamp(200).value()->offset == 2);
    CHECK(log->offset_for_timestamp(250).value()->offset == 8);
    CHECK(log->offset_for_timestamp(460).value()->offset == 12);
    CHECK(log->offset_for_timestamp(600).value()->offset == 16);
    CHECK_FALSE(log->offset_for_timestamp(601).value());
  });
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, {});
    CHECK(log->offset_for_timestamp(460).value()->offset == 12);
    CHECK(log->offset_for_timestamp(250).value()->offset == 8);
  });
}

TEST_CASE("an append that rolls a segment says where the new one begins", "[log]") {
  LogRig rig(12);
  rig.run([&](Runtime& rt) {
    LogConfig c;
    c.segment_bytes = 200;
    auto log = open_log(rt, c);
    auto first = log->append_as_leader(make_batch(1, 1, 100), 0);
    REQUIRE(first.ok());
    CHECK_FALSE(first->rolled_to);  // the first segment was empty
    auto second = log->append_as_leader(make_batch(1, 2, 100), 0);
    REQUIRE(second.ok());
    CHECK(second->rolled_to == 1);
    CHECK(log->segment_base_offsets() == std::vector<std::int64_t>{0, 1});
  });
}

TEST_CASE("side files: leader epochs, high watermark and producer snapshots survive restarts",
          "[log]") {
  LogRig rig(11);
  ProducerSnapshot snap;
  snap[42] = {3, 1000, {{0, 4, 4}, {5, 9, 9}}};
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, {});
    REQUIRE(log->assign_leader_epoch(2).ok());
    REQUIRE(log->append_as_leader(make_batch(5, 1), 2).ok());
    REQUIRE(log->append_as_leader(make_batch(5, 2), 4).ok());
    REQUIRE(log->checkpoint_high_watermark(7).ok());
    REQUIRE(log->save_producer_snapshot(snap, log->log_end_offset()).ok());
    REQUIRE(log->flush().ok());
    REQUIRE(log->append_as_leader(make_batch(5, 3), 4).ok());
    REQUIRE(log->save_producer_snapshot({}, log->log_end_offset()).ok());  // at offset 15, beyond what survives
  }, CrashMode::keep_none);
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, {});
    CHECK(log->log_end_offset() == 10);
    CHECK(log->leader_epochs().entries() == std::vector<EpochEntry>{{2, 0}, {4, 5}});
    CHECK(log->leader_epochs().end_offset_for(3, log->log_end_offset()) == EpochEntry{2, 5});
    CHECK(log->read_high_watermark().value() == 7);
    auto loaded = log->load_producer_snapshot().value();
    REQUIRE(loaded);
    CHECK(loaded->first == 10);
    CHECK(loaded->second == snap);
    CHECK_FALSE(rt.disk().exists("data/t-0/00000000000000000015.snapshot"));
  });
  rig.run([&](Runtime& rt) {
    LogConfig c;
    c.segment_bytes = 200;
    c.retention_bytes = 0;
    auto log = open_log(rt, c);
    REQUIRE(log->roll().ok());
    for (int i = 0; i < 4; ++i) {
      REQUIRE(log->append_as_leader(make_batch(1, 10 + i, 100), 4).ok());
      if (i < 2) REQUIRE(log->save_producer_snapshot(snap, log->log_end_offset()).ok());  // at 11 and 12
    }
    REQUIRE(log->segment_base_offsets() == std::vector<std::int64_t>{0, 10, 11, 12, 13});
    CHECK(log->delete_old_segments(0, log->log_end_offset()).value() == 4);
    CHECK(log->log_start_offset() == 13);
    // Both snapshots are below the start: only the newest stays.
    CHECK_FALSE(rt.disk().exists("data/t-0/00000000000000000011.snapshot"));
    CHECK(log->load_producer_snapshot().value()->first == 12);
  });
}

TEST_CASE("a log over corrupted files never crashes and never returns a bad batch", "[log]") {
  rc::prop("open, reads and appends on flipped bits: errors or CRC-valid batches", [](std::uint64_t seed) {
    LogRig rig(seed);
    LogConfig c;
    c.segment_bytes = *rc::gen::inRange<std::int64_t>(400, 3000);
    c.index_interval_bytes = *rc::gen::inRange<std::int64_t>(0, 500);
    const auto batches = *rc::gen::inRange(1, 30);
    rig.run([&](Runtime& rt) {
      auto log = open_log(rt, c);
      for (int i = 0; i < batches; ++i)
        RC_ASSERT(log->append_as_leader(make_batch(1 + i % 4, 1000 + i, 50), i / 7).ok());
      RC_ASSERT(log->checkpoint_high_watermark(log->log_end_offset()).ok());
    });
    auto& disk = rig.world.disk(rig.n);
    const auto image = disk.durable_files();
    std::vector<std::string> paths;
    for (const auto& [p, bytes] : image)
      if (!bytes.empty()) paths.push_back(p);
    const auto flips = *rc::gen::inRange(1, 6);
    for (int i = 0; i < flips; ++i) {
      const auto& p = paths[*rc::gen::inRange<std::size_t>(0, paths.size())];
      RC_TAG(p);
      disk.corrupt(p, *rc::gen::inRange<std::uint64_t>(0, image.at(p).size()), 1);
    }
    rig.run([&](Runtime& rt) {
      auto log = Log::open(rt, "data/t-0", c);
      // Corrupt side files are rebuilt or ignored.
      if (!log) RC_FAIL(std::string(to_string(log.error())));
      for (std::int64_t o = (*log)->log_start_offset(); o < (*log)->log_end_offset(); ++o) {
        auto r = (*log)->read(o, 700);
        if (!r) continue;
        BatchReader reader(r->records, /*check_crc=*/true);
        while (reader.next()) {
        }
        RC_ASSERT(reader.at_clean_end());
      }
      (void)(*log)->offset_for_timestamp(1005);
      (void)(*log)->append_as_leader(make_batch(2, 5000), 9);
      (void)(*log)->truncate_to((*log)->log_end_offset() / 2);
    });
  });
}

TEST_CASE("an unreadable leader-epoch checkpoint is rebuilt from the batches", "[log]") {
  LogRig rig(13);
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, {});
    REQUIRE(log->append_as_leader(make_batch(3, 1), 1).ok());
    REQUIRE(log->append_as_leader(make_batch(3, 2), 4).ok());
    REQUIRE(log->flush().ok());
    REQUIRE(samsa::sim::write_atomic(rt.disk(), "data/t-0/leader-epoch-checkpoint",
                                     samsa::as_bytes("0\n2\n1 0\n4 x\n"))
                .ok());
  });
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, {});
    CHECK(log->leader_epochs().entries() == std::vector<EpochEntry>{{1, 0}, {4, 3}});
  });
}

TEST_CASE("a segment rolls when its offset or time index is full", "[log]") {
  LogRig rig(14);
  rig.run([&](Runtime& rt) {
    LogConfig c;
    c.index_interval_bytes = 0;   // an index entry for every batch after the first
    c.segment_index_bytes = 24;   // 3 offset entries, 2 time entries
    auto log = open_log(rt, c);
    for (int i = 0; i < 7; ++i) REQUIRE(log->append_as_leader(make_batch(1, 100 + i), 0).ok());
    // Batches 0, 1, 2 fill the time index (entries at batches 1 and 2).
    CHECK(log->segment_base_offsets() == std::vector<std::int64_t>{0, 3, 6});
    CHECK(log->segment(0).time_index().full());
    // Equal timestamps add no time entries: then the offset index fills first.
    for (int i = 0; i < 4; ++i) REQUIRE(log->append_as_leader(make_batch(1, 500), 0).ok());
    CHECK(log->segment(6).offset_index().size() == 3);
    CHECK(log->segment_base_offsets().back() == 10);
  });
}
