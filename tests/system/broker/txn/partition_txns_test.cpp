// A partition's transactions (ProducerStateManager's ongoing and
// unreplicated transactions, the LSO, the aborted-transaction index): cases,
// and properties over random logs of transactional and plain batches,
// markers and high-watermark moves, against a model that keeps every batch.
#include "system/broker/txn/partition_txns.h"

#include "system/log/txn_index.h"

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <map>
#include <set>
#include <vector>

using namespace samsa;
using namespace samsa::broker::txn;
using protocol::BatchHeader;
using protocol::ControlRecord;
using protocol::ControlType;

namespace {

BatchHeader data(std::int64_t offset, std::int64_t pid, bool transactional, std::int32_t count = 1) {
  BatchHeader h;
  h.base_offset = offset;
  h.last_offset_delta = count - 1;
  h.records_count = count;
  h.producer_id = pid;
  h.producer_epoch = 0;
  h.attributes = transactional ? 0x10 : 0;
  return h;
}

BatchHeader control(std::int64_t offset, std::int64_t pid) {
  BatchHeader h = data(offset, pid, true);
  h.attributes = 0x30;
  return h;
}

ControlRecord marker(ControlType t) { return ControlRecord{t, 0}; }

}  // namespace

TEST_CASE("the LSO stops at an open transaction and moves on once its marker is replicated", "[broker][txn]") {
  PartitionTxns t;
  t.on_batch(data(0, -1, false), std::nullopt);
  t.on_batch(data(1, 7, true, 3), std::nullopt);  // 1..3
  t.on_batch(data(4, -1, false), std::nullopt);
  CHECK(t.last_stable_offset(Offset(5)) == Offset(1));
  CHECK(t.open_transaction(ProducerId(7)) == Offset(1));
  auto done = t.on_batch(control(5, 7), marker(ControlType::commit));
  REQUIRE(done);
  CHECK(*done == CompletedTxn{ProducerId(7), Offset(1), Offset(5), false, Offset(6)});
  CHECK(t.last_stable_offset(Offset(5)) == Offset(1));  // the marker is not below the HW yet
  t.on_high_watermark(Offset(6));
  CHECK(t.last_stable_offset(Offset(6)) == Offset(6));
}

TEST_CASE("an abort is indexed with the LSO of the next open transaction", "[broker][txn]") {
  PartitionTxns t;
  t.on_batch(data(0, 1, true), std::nullopt);
  t.on_batch(data(1, 2, true), std::nullopt);
  auto first = t.on_batch(control(2, 1), marker(ControlType::abort));
  REQUIRE(first);
  REQUIRE(first->aborted);
  CHECK(first->aborted_txn() == AbortedTxn{ProducerId(1), Offset(0), Offset(2), Offset(1)});
  // A marker for a producer that wrote nothing here: an empty transaction at the marker.
  auto empty = t.on_batch(control(3, 9), marker(ControlType::abort));
  REQUIRE(empty);
  CHECK(empty->aborted_txn() == AbortedTxn{ProducerId(9), Offset(3), Offset(3), Offset(1)});
  // The index entries (log/txn_index.h) and TransactionIndex.collectAbortedTxns over them.
  const std::vector<samsa::log::AbortedTxn> index{{1, 0, 2, 1}, {9, 3, 3, 1}};
  auto collect = [&](std::int64_t from, std::int64_t upper) {
    std::vector<samsa::log::AbortedTxn> out;
    samsa::log::collect_aborted_txns_in(index, from, upper, out);
    return out;
  };
  CHECK(collect(3, 4).size() == 1);
  CHECK(collect(0, 1).size() == 1);
  CHECK(collect(4, 10).empty());
}

namespace {

struct ModelTxn {
  std::int64_t pid;
  std::int64_t first;
  std::optional<std::int64_t> marker;
  bool aborted = false;
};

struct ModelBatch {
  std::int64_t first, last, pid;
  int txn = -1;  // index into txns; -1 plain
  bool control = false;
};

struct Log {
  std::vector<ModelTxn> txns;
  std::vector<ModelBatch> batches;
  std::map<std::int64_t, int> open;  // pid -> txn
  std::int64_t end = 0;
  std::int64_t hw = 0;
  std::vector<samsa::log::AbortedTxn> index;  // what the owner appends to the .txnindex

  std::int64_t lso() const {
    std::int64_t out = hw;
    for (const auto& t : txns)
      if (!t.marker || *t.marker >= hw) out = std::min(out, t.first);
    return out;
  }
};

// Applies one random event to the model and the partition state.
void step(Log& m, PartitionTxns& sut) {
  const std::int64_t pid = *rc::gen::inRange<std::int64_t>(1, 4);
  switch (*rc::gen::inRange(0, 6)) {
    case 0:
    case 1: {  // transactional data
      const std::int32_t n = *rc::gen::inRange(1, 4);
      auto [it, fresh] = m.open.try_emplace(pid, static_cast<int>(m.txns.size()));
      if (fresh) m.txns.push_back({pid, m.end, std::nullopt});
      m.batches.push_back({m.end, m.end + n - 1, pid, it->second});
      sut.on_batch(data(m.end, pid, true, n), std::nullopt);
      m.end += n;
      break;
    }
    case 2:  // plain data (idempotent or not)
      m.batches.push_back({m.end, m.end, pid});
      sut.on_batch(data(m.end, pid, false), std::nullopt);
      m.end += 1;
      break;
    case 3: {  // a marker
      const bool abort = *rc::gen::arbitrary<bool>();
      auto it = m.open.find(pid);
      if (it == m.open.end()) {
        m.txns.push_back({pid, m.end, std::nullopt});
        it = m.open.emplace(pid, static_cast<int>(m.txns.size()) - 1).first;
      }
      m.txns[static_cast<std::size_t>(it->second)].marker = m.end;
      m.txns[static_cast<std::size_t>(it->second)].aborted = abort;
      m.batches.push_back({m.end, m.end, pid, it->second, true});
      m.open.erase(it);
      auto done = sut.on_batch(control(m.end, pid), marker(abort ? ControlType::abort : ControlType::commit));
      RC_ASSERT(done.has_value());
      if (done->aborted) {
        const AbortedTxn a = done->aborted_txn();
        m.index.push_back({a.producer_id.value(), a.first_offset.value(), a.last_offset.value(),
                           a.last_stable_offset.value()});
      }
      m.end += 1;
      break;
    }
    default:  // the high watermark moves up, at most to the log end
      m.hw = *rc::gen::inRange<std::int64_t>(m.hw, m.end + 1);
      sut.on_high_watermark(Offset(m.hw));
      break;
  }
}

}  // namespace

TEST_CASE("the last stable offset never passes an open transaction", "[broker][txn]") {
  rc::prop("LSO <= first offset of every open or unreplicated transaction, and <= HW; equal to the model's", [] {
    Log m;
    PartitionTxns sut;
    const int steps = *rc::gen::inRange(1, 80);
    for (int i = 0; i < steps; ++i) {
      step(m, sut);
      const Offset lso = sut.last_stable_offset(Offset(m.hw));
      RC_ASSERT(lso <= Offset(m.hw));
      for (const auto& [pid, txn] : m.open) RC_ASSERT(lso <= Offset(m.txns[static_cast<std::size_t>(txn)].first));
      RC_ASSERT(lso == Offset(m.lso()));
      RC_ASSERT(sut.open_transactions() == m.open.size());
    }
  });
}

TEST_CASE("read_committed below the LSO with the aborted list sees exactly the committed records", "[broker][txn]") {
  rc::prop("filtering by the aborted transactions of [from, LSO) leaves plain and committed data only", [] {
    Log m;
    PartitionTxns sut;
    const int steps = *rc::gen::inRange(1, 80);
    for (int i = 0; i < steps; ++i) step(m, sut);
    const std::int64_t lso = sut.last_stable_offset(Offset(m.hw)).value();
    // A fetch from any offset: the aborted transactions overlapping [from, LSO).
    const std::int64_t from = *rc::gen::inRange<std::int64_t>(0, lso + 1);
    // As a fetch collects them, stopping early where an entry's last stable
    // offset reaches the upper bound (isComplete).
    std::vector<samsa::log::AbortedTxn> aborted;
    samsa::log::collect_aborted_txns_in(m.index, from, lso, aborted);
    // What a read_committed consumer keeps (Kafka's Fetcher: skip batches of
    // a producer inside one of its aborted ranges, skip control batches).
    std::set<std::int64_t> seen, want;
    for (const auto& b : m.batches) {
      if (b.first >= lso || b.first < from) continue;
      if (b.control) continue;
      bool skip = false;
      for (const auto& a : aborted)
        if (b.txn >= 0 && a.producer_id == b.pid && a.first_offset <= b.first && b.last <= a.last_offset)
          skip = true;
      if (!skip) seen.insert(b.first);
      if (b.txn < 0 || !m.txns[static_cast<std::size_t>(b.txn)].aborted) want.insert(b.first);
      // Nothing below the LSO is undecided.
      if (b.txn >= 0) RC_ASSERT(m.txns[static_cast<std::size_t>(b.txn)].marker.has_value());
    }
    RC_ASSERT(seen == want);
  });
}
