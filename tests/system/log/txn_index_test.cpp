// The aborted-transaction index (.txnindex, Kafka's TransactionIndex): the
// 34-byte entry layout by hand, the sanity rules, a round-trip property, and
// a log's .txnindex files through appends, reads, truncation, retention and
// restarts (kept, lost, corrupt).
#include "system/log/txn_index.h"

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "system/log/names.h"
#include "tests/system/log/log_rig.h"

using namespace samsa::testing;
using namespace samsa::log;

TEST_CASE("an AbortedTxn is 34 big-endian bytes: version, producer id, first, last, last stable offset",
          "[log]") {
  const Bytes b = encode_txn_index({{0x0102030405060708, 1, 5, 3}});
  const Bytes want = {0, 0,                                            // version 0
                      1, 2, 3, 4, 5, 6, 7, 8,                          // producerId
                      0, 0, 0, 0, 0, 0, 0, 1,                          // firstOffset
                      0, 0, 0, 0, 0, 0, 0, 5,                          // lastOffset
                      0, 0, 0, 0, 0, 0, 0, 3};                         // lastStableOffset
  CHECK(b == want);
  auto back = decode_txn_index(b, 0);
  REQUIRE(back.ok());
  CHECK(*back == std::vector<AbortedTxn>{{0x0102030405060708, 1, 5, 3}});
}

TEST_CASE("a .txnindex that is not sane is refused", "[log]") {
  const Bytes two = encode_txn_index({{1, 10, 12, 11}, {2, 11, 14, 13}});
  CHECK(decode_txn_index(two, 10).ok());
  CHECK_FALSE(decode_txn_index(ByteView(two).first(33), 10).ok());  // a partial entry
  CHECK_FALSE(decode_txn_index(two, 13).ok());                      // a marker below the segment
  Bytes bad_version = two;
  bad_version[1] = 1;
  CHECK(std::string(decode_txn_index(bad_version, 10).error().what) == "unexpected aborted transaction version");
  CHECK_FALSE(decode_txn_index(encode_txn_index({{2, 11, 14, 13}, {1, 10, 12, 11}}), 10).ok());  // order
  CHECK_FALSE(decode_txn_index(encode_txn_index({{1, 13, 12, 11}}), 10).ok());                   // first > last
  CHECK(decode_txn_index({}, 10)->empty());
}

TEST_CASE("a .txnindex round-trips", "[log]") {
  rc::prop("decode(encode(entries)) == entries for markers in order", [] {
    const auto n = *rc::gen::inRange<std::size_t>(0, 20);
    std::vector<AbortedTxn> entries;
    std::int64_t last = 100;
    for (std::size_t i = 0; i < n; ++i) {
      last += *rc::gen::inRange<std::int64_t>(1, 1000);
      const std::int64_t first = *rc::gen::inRange<std::int64_t>(0, last + 1);
      entries.push_back({*rc::gen::arbitrary<std::int64_t>(), first, last,
                         *rc::gen::inRange<std::int64_t>(0, last + 2)});
    }
    const Bytes b = encode_txn_index(entries);
    RC_ASSERT(b.size() == n * k_aborted_txn_bytes);
    RC_ASSERT(decode_txn_index(b, 100).value() == entries);
  });
}

TEST_CASE("collectAbortedTxns stops at an entry whose last stable offset reaches the upper bound", "[log]") {
  const std::vector<AbortedTxn> index{{1, 0, 4, 2}, {2, 2, 6, 7}, {3, 7, 9, 10}};
  std::vector<AbortedTxn> out;
  CHECK(collect_aborted_txns_in(index, 0, 7, out));  // {2, 2, 6, 7} completes the search
  CHECK(out == std::vector<AbortedTxn>{{1, 0, 4, 2}, {2, 2, 6, 7}});
  out.clear();
  CHECK_FALSE(collect_aborted_txns_in(index, 5, 20, out));
  CHECK(out == std::vector<AbortedTxn>{{2, 2, 6, 7}, {3, 7, 9, 10}});
}

namespace {

const std::string k_dir = "data/t-0";

std::string txn_path(std::int64_t base) { return k_dir + "/" + offset_file_name(base, k_txn_index_suffix); }

// Batch i (1 record) at offset i; an "abort marker" at offsets 2, 5, 8 and 11
// (the log does not look at the batch: the partition decides what aborted).
std::vector<AbortedTxn> fill(Log& log) {
  std::vector<AbortedTxn> aborted;
  for (std::int64_t i = 0; i < 12; ++i) {
    REQUIRE(log.append_as_leader(make_batch(1, 1000 + i, 150), 0).ok());
    if (i % 3 == 2) {
      const AbortedTxn t{i, i - 1, i, i + 1};
      REQUIRE(log.append_aborted_txn(t).ok());
      aborted.push_back(t);
    }
  }
  return aborted;
}

LogConfig small_segments() {
  LogConfig c;
  c.segment_bytes = 500;  // two ~230-byte batches a segment
  return c;
}

}  // namespace

TEST_CASE("a log keeps a .txnindex per segment: appended, read across segments, truncated, deleted", "[log]") {
  LogRig rig(21);
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, small_segments());
    const auto aborted = fill(*log);
    REQUIRE(log->segment_base_offsets() == std::vector<std::int64_t>{0, 2, 4, 6, 8, 10});
    // Markers 2, 5, 8, 11 live in the segments at 2, 4, 8 and 10.
    CHECK(rt.disk().exists(txn_path(2)));
    CHECK(rt.disk().exists(txn_path(4)));
    CHECK_FALSE(rt.disk().exists(txn_path(0)));
    CHECK_FALSE(rt.disk().exists(txn_path(6)));
    CHECK(samsa::sim::read_all(rt.disk(), txn_path(2)).value() == encode_txn_index({aborted[0]}));
    CHECK(log->segment(8).aborted_txns() == std::vector<AbortedTxn>{aborted[2]});
    // Log.collectAbortedTransactions: from the segment holding the fetch offset on.
    CHECK(log->collect_aborted_txns(0, 12) == aborted);
    CHECK(log->collect_aborted_txns(3, 6) == std::vector<AbortedTxn>{aborted[1]});
    CHECK(log->collect_aborted_txns(9, 12) == std::vector<AbortedTxn>{aborted[3]});
    CHECK(log->collect_aborted_txns(4, 5) == std::vector<AbortedTxn>{aborted[1]});  // first 4 < 5 <= marker
    // truncateTo: the markers at or above the cut go, from memory and file.
    REQUIRE(log->truncate_to(5).ok());
    CHECK(log->collect_aborted_txns(0, 12) == std::vector<AbortedTxn>{aborted[0]});
    CHECK(samsa::sim::read_all(rt.disk(), txn_path(4)).value().empty());
    CHECK_FALSE(rt.disk().exists(txn_path(8)));
    // Retention deletes a segment's .txnindex with it.
    REQUIRE(log->append_as_leader(make_batch(1, 2000, 150), 0).ok());
    REQUIRE(log->delete_old_segments(1'000'000'000, 100).ok());
    CHECK(log->log_start_offset() > 2);
    CHECK_FALSE(rt.disk().exists(txn_path(2)));
    CHECK(log->collect_aborted_txns(log->log_start_offset(), 20).empty());
  });
}

TEST_CASE("a restart trusts a sealed segment's .txnindex and rebuilds one lost or corrupt", "[log]") {
  const auto damage = GENERATE(0, 1, 2);  // none, lost, corrupt
  LogRig rig(22);
  std::vector<AbortedTxn> aborted;
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, small_segments());
    aborted = fill(*log);
    REQUIRE(log->flush().ok());
  });
  if (damage == 1) rig.world.disk(rig.n).files().erase(txn_path(4));
  if (damage == 2) REQUIRE(rig.world.disk(rig.n).corrupt(txn_path(4), 0, 2));
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, small_segments());
    const RecoveryStats& s = log->recovery_stats();
    // Sealed segments 2, 4 (unless damaged) and 8 load their files; the
    // active segment 10 was scanned and waits for the owner's replay.
    CHECK(s.txn_indexes_loaded == (damage == 0 ? 4u : 3u));
    CHECK(log->segment(10).txn_index_needs_rebuild());
    CHECK(log->segment(4).txn_index_needs_rebuild() == (damage == 2));
    CHECK(log->segment(4).aborted_txns() == (damage == 0 ? std::vector<AbortedTxn>{aborted[1]}
                                                          : std::vector<AbortedTxn>{}));
    // The owner's replay finds the same aborts: only damaged files are written.
    REQUIRE(log->recover_txn_index(aborted).ok());
    CHECK(s.txn_indexes_rebuilt == (damage == 0 ? 0u : 1u));
    CHECK(log->collect_aborted_txns(0, 12) == aborted);
    CHECK(samsa::sim::read_all(rt.disk(), txn_path(4)).value() == encode_txn_index({aborted[1]}));
  });
}

TEST_CASE("a crash losing the unsynced .txnindex tail is repaired by the replay", "[log]") {
  LogRig rig(23);
  std::vector<AbortedTxn> aborted;
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, LogConfig{});  // one segment: everything active
    aborted = fill(*log);
  }, CrashMode::keep_none);
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, LogConfig{});
    REQUIRE(log->log_end_offset() == 0);  // nothing was fsynced
    CHECK(log->collect_aborted_txns(0, 12).empty());
    REQUIRE(log->recover_txn_index({}).ok());
    for (std::int64_t i = 0; i < 3; ++i) REQUIRE(log->append_as_leader(make_batch(1, 1000 + i, 150), 0).ok());
    REQUIRE(log->append_aborted_txn({7, 1, 2, 3}).ok());
    REQUIRE(log->flush().ok());
  });
  rig.run([&](Runtime& rt) {
    auto log = open_log(rt, LogConfig{});
    REQUIRE(log->recover_txn_index({{7, 1, 2, 3}}).ok());
    CHECK(log->recovery_stats().txn_indexes_rebuilt == 0);  // the fsynced file already says so
    CHECK(log->collect_aborted_txns(0, 3) == std::vector<AbortedTxn>{{7, 1, 2, 3}});
  });
}
