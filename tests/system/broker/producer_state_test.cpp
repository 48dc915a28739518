// Broker-side idempotence (Kafka 2.x's ProducerStateManager): the verdicts
// against a model that keeps every stored batch, and the rebuild from the
// log's snapshot plus the batches after it.
#include "system/broker/producer_state.h"

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>
#include <rapidcheck/state.h>

#include <algorithm>
#include <limits>
#include <map>
#include <vector>

using namespace samsa;
using namespace samsa::broker;

namespace {

ProducerBatch batch(std::int64_t pid, std::int16_t epoch, std::int32_t first, std::int32_t count,
                    std::int64_t last_offset = 0) {
  ProducerBatch b;
  b.producer_id = ProducerId(pid);
  b.epoch = ProducerEpoch(epoch);
  b.first_sequence = Sequence(first);
  b.last_sequence = Sequence(first).next(count - 1);
  b.last_offset = Offset(last_offset);
  b.timestamp_ms = 1000;
  return b;
}

// --- the model: every stored batch, in order; verdicts from the definition --------

struct Stored {
  std::int16_t epoch;
  std::int32_t first, last;
  std::int64_t first_offset;
};

struct Model {
  std::size_t window = ProducerStateManager::k_batches_retained;
  std::map<std::int64_t, std::vector<Stored>> batches;  // by producer id
  std::int64_t next_offset = 0;
};

ProducerCheck model_verdict(const Model& m, const ProducerBatch& b) {
  auto it = m.batches.find(b.producer_id.value());
  if (it == m.batches.end()) {
    if (b.first_sequence.value() != 0) return {ErrorCode::unknown_producer_id, std::nullopt};
    return {};
  }
  const auto& all = it->second;
  const std::int16_t epoch = all.back().epoch;
  // The last `window` batches stored in the current epoch are remembered.
  std::size_t seen = 0;
  for (auto s = all.rbegin(); s != all.rend() && s->epoch == epoch && seen < m.window; ++s, ++seen) {
    if (b.epoch.value() == epoch && s->first == b.first_sequence.value() &&
        s->last == b.last_sequence.value())
      return {ErrorCode::none, Offset(s->first_offset)};
  }
  if (b.epoch.value() < epoch) return {ErrorCode::invalid_producer_epoch, std::nullopt};
  if (b.epoch.value() > epoch) {
    if (b.first_sequence.value() != 0) return {ErrorCode::out_of_order_sequence_number, std::nullopt};
    return {};
  }
  if (b.first_sequence.value() != all.back().last + 1)
    return {ErrorCode::out_of_order_sequence_number, std::nullopt};
  return {};
}

struct Sut {
  explicit Sut(std::size_t window) : psm(window) {}
  ProducerStateManager psm;
};

using Command = rc::state::Command<Model, Sut>;

// What a producer might send next: a new batch, a retry of an older one, a
// gap, an old or a new epoch, or an id the partition never saw.
rc::Gen<ProducerBatch> gen_batch(const Model& m) {
  return rc::gen::exec([&m] {
    const std::int64_t pid = *rc::gen::inRange<std::int64_t>(1, 4);
    const std::int32_t count = *rc::gen::inRange(1, 4);
    auto it = m.batches.find(pid);
    if (it == m.batches.end()) {
      const std::int32_t first = *rc::gen::element(0, 0, 0, 3);
      return batch(pid, static_cast<std::int16_t>(*rc::gen::inRange(0, 3)), first, count);
    }
    const auto& all = it->second;
    const Stored& last = all.back();
    switch (*rc::gen::inRange(0, 7)) {
      case 0:
      case 1:
        return batch(pid, last.epoch, last.last + 1, count);  // the next one
      case 2: {  // a retry of one of the last few (maybe out of the window)
        const auto back = static_cast<std::size_t>(*rc::gen::inRange<int>(0, 8)) % all.size();
        const Stored& s = all[all.size() - 1 - back];
        return batch(pid, s.epoch, s.first, s.last - s.first + 1);
      }
      case 3:
        return batch(pid, last.epoch, last.last + 1 + *rc::gen::inRange(1, 3), count);  // gap
      case 4:
        return batch(pid, static_cast<std::int16_t>(last.epoch - 1), last.last + 1, count);  // stale
      case 5:
        return batch(pid, static_cast<std::int16_t>(last.epoch + 1), 0, count);  // new epoch
      default:
        return batch(pid, static_cast<std::int16_t>(last.epoch + 1), *rc::gen::inRange(1, 5),
                     count);  // new epoch, not from 0
    }
  });
}

struct Produce : Command {
  ProducerBatch b;
  explicit Produce(const Model& m) : b(*gen_batch(m)) {}
  std::int64_t records() const { return b.last_sequence.value() - b.first_sequence.value() + 1; }
  void apply(Model& m) const override {
    if (!model_verdict(m, b).appendable()) return;
    m.batches[b.producer_id.value()].push_back(
        {b.epoch.value(), b.first_sequence.value(), b.last_sequence.value(), m.next_offset});
    m.next_offset += records();
  }
  void run(const Model& m, Sut& sut) const override {
    const ProducerCheck want = model_verdict(m, b);
    const ProducerCheck got = sut.psm.check(b);
    RC_ASSERT(got.error == want.error);
    RC_ASSERT(got.duplicate_of == want.duplicate_of);
    if (!got.appendable()) return;
    ProducerBatch stored = b;
    stored.last_offset = Offset(m.next_offset + records() - 1);
    sut.psm.update(stored);
  }
  void show(std::ostream& os) const override {
    os << "produce pid " << b.producer_id.value() << " epoch " << b.epoch.value() << " seq "
       << b.first_sequence.value() << ".." << b.last_sequence.value();
  }
};

// A restart: the state goes through the snapshot file's text and back.
struct SnapshotReload : Command {
  void apply(Model&) const override {}
  void run(const Model&, Sut& sut) const override {
    auto text = log::encode_producer_snapshot(sut.psm.snapshot());
    auto decoded = log::decode_producer_snapshot(text);
    RC_ASSERT(decoded.ok());
    sut.psm.clear();
    sut.psm.load(std::move(decoded.value()));
  }
  void show(std::ostream& os) const override { os << "snapshot and reload"; }
};

}  // namespace

TEST_CASE("idempotence verdicts match a model that keeps every batch", "[broker][idempotence]") {
  rc::prop("duplicates of the last 5 get their offset, gaps and stale epochs are refused", [] {
    Model model;
    Sut sut(model.window);
    rc::state::check(model, sut, rc::state::gen::execOneOfWithArgs<Produce, Produce, Produce,
                                                                   SnapshotReload>());
  });
  rc::prop("with samsa.legacy.dedupe.last.batch.only only the last batch is recognised", [] {
    Model model;
    model.window = 1;
    Sut sut(1);
    rc::state::check(model, sut, rc::state::gen::execOneOfWithArgs<Produce, Produce, Produce,
                                                                   SnapshotReload>());
  });
}

TEST_CASE("a retried batch is answered with its original offset", "[broker][idempotence]") {
  ProducerStateManager psm;
  for (int i = 0; i < 6; ++i) {
    auto b = batch(7, 0, i * 2, 2, 100 + i * 2 + 1);
    REQUIRE(psm.check(b).appendable());
    psm.update(b);
  }
  // Batches 1..5 (sequences 2..11) are remembered; batch 0 scrolled out.
  CHECK(psm.check(batch(7, 0, 2, 2)).duplicate_of == Offset(102));
  CHECK(psm.check(batch(7, 0, 10, 2)).duplicate_of == Offset(110));
  CHECK(psm.check(batch(7, 0, 0, 2)).error == ErrorCode::out_of_order_sequence_number);
  CHECK(psm.check(batch(7, 0, 12, 1)).appendable());
  CHECK(psm.check(batch(7, 0, 13, 1)).error == ErrorCode::out_of_order_sequence_number);
  CHECK(psm.check(batch(7, 0, 2, 3)).error == ErrorCode::out_of_order_sequence_number);
  CHECK(psm.check(batch(8, 0, 5, 1)).error == ErrorCode::unknown_producer_id);
  CHECK(psm.check(batch(7, -1 + 0, 12, 1)).error == ErrorCode::invalid_producer_epoch);

  ProducerStateManager last_only(1);
  for (int i = 0; i < 3; ++i) last_only.update(batch(7, 0, i, 1, i));
  CHECK(last_only.check(batch(7, 0, 2, 1)).duplicate_of == Offset(2));
  CHECK(last_only.check(batch(7, 0, 1, 1)).error == ErrorCode::out_of_order_sequence_number);
}

TEST_CASE("sequences wrap after INT32_MAX as Kafka's", "[broker][idempotence]") {
  constexpr std::int32_t max = std::numeric_limits<std::int32_t>::max();
  log::ProducerSnapshot s;
  s[3] = log::ProducerEntry{2, 0, {{max - 3, max - 1, 500}}};
  ProducerStateManager psm;
  psm.load(s);
  auto wrapping = batch(3, 2, max, 3, 503);  // max, 0, 1
  CHECK(wrapping.last_sequence == Sequence(1));
  REQUIRE(psm.check(wrapping).appendable());
  psm.update(wrapping);
  CHECK(psm.check(batch(3, 2, 2, 1)).appendable());
  CHECK(psm.check(batch(3, 2, max, 3)).duplicate_of == Offset(501));
  CHECK(ProducerStateManager::first_offset({max - 1, 1, 510}) == Offset(507));
}

TEST_CASE("a newer epoch forgets the older epoch's batches", "[broker][idempotence]") {
  ProducerStateManager psm;
  psm.update(batch(1, 0, 0, 5, 4));
  psm.update(batch(1, 1, 0, 1, 5));
  CHECK(psm.entry(ProducerId(1))->recent.size() == 1);
  CHECK(psm.check(batch(1, 0, 0, 5)).error == ErrorCode::invalid_producer_epoch);
  CHECK(psm.check(batch(1, 2, 3, 1)).error == ErrorCode::out_of_order_sequence_number);
  CHECK(psm.check(batch(1, 2, 0, 1)).appendable());
}

// --- rebuilt from the log after a restart or a truncation ------------------------------

#include "system/broker/partition.h"
#include "system/log/names.h"
#include "tests/system/log/log_rig.h"

namespace {

Bytes idempotent_batch(std::int64_t pid, std::int16_t epoch, std::int32_t first, int records) {
  protocol::BatchOptions o;
  o.producer_id = pid;
  o.producer_epoch = epoch;
  o.base_sequence = first;
  protocol::BatchBuilder b(o);
  const Bytes value(8, 'v');
  for (int i = 0; i < records; ++i) b.append(1000 + i, std::nullopt, ByteView(value));
  return b.finish();
}

// Appends as a leader does: check, append, record.
void produce(log::Log& log, ProducerStateManager& psm, std::int64_t pid, std::int16_t epoch,
             std::int32_t first, int records) {
  const ProducerBatch b = batch(pid, epoch, first, records);
  if (!psm.check(b).appendable()) return;
  auto info = log.append_as_leader(idempotent_batch(pid, epoch, first, records), 0);
  REQUIRE(info.ok());
  ProducerBatch stored = b;
  stored.last_offset = Offset(info->last_offset);
  stored.timestamp_ms = info->max_timestamp;
  psm.update(stored);
}

}  // namespace

TEST_CASE("producer state is rebuilt from the snapshot plus the log", "[broker][idempotence]") {
  rc::prop("after a restart, and after a truncation, as if built batch by batch", [](std::uint64_t seed) {
    const auto steps = *rc::gen::container<std::vector<std::tuple<int, int, int>>>(
        rc::gen::tuple(rc::gen::inRange(1, 4), rc::gen::inRange(0, 4), rc::gen::inRange(1, 4)));
    const auto snapshot_at = *rc::gen::inRange<std::size_t>(0, steps.size() + 1);
    const auto cut_at = *rc::gen::inRange<std::size_t>(0, steps.size() + 1);
    testing::LogRig rig(seed);
    log::ProducerSnapshot live, live_at_cut;
    std::int64_t cut_offset = 0;
    rig.run([&](sim::Runtime& rt) {
      auto log = testing::open_log(rt, {});
      ProducerStateManager psm;
      std::map<std::int64_t, std::int32_t> next_seq;
      std::map<std::int64_t, std::int16_t> epoch;
      for (std::size_t i = 0; i < steps.size(); ++i) {
        if (i == snapshot_at) REQUIRE(log->save_producer_snapshot(psm.snapshot(), log->log_end_offset()).ok());
        if (i == cut_at) {
          cut_offset = log->log_end_offset();
          live_at_cut = psm.snapshot();
        }
        const auto [pid, kind, n] = steps[i];
        if (kind == 0) {  // a new epoch
          epoch[pid] += 1;
          next_seq[pid] = 0;
        }
        produce(*log, psm, pid, epoch[pid], next_seq[pid], n);
        next_seq[pid] += n;
      }
      if (cut_at == steps.size()) {
        cut_offset = log->log_end_offset();
        live_at_cut = psm.snapshot();
      }
      live = psm.snapshot();
      REQUIRE(log->flush().ok());
    });
    rig.run([&](sim::Runtime& rt) {
      auto log = testing::open_log(rt, {});
      ProducerStateManager psm;
      REQUIRE(rebuild_producer_state(*log, psm).ok());
      RC_ASSERT(psm.snapshot() == live);
      REQUIRE(log->truncate_to(cut_offset).ok());
      REQUIRE(rebuild_producer_state(*log, psm).ok());
      RC_ASSERT(psm.snapshot() == live_at_cut);
    });
  });
}

TEST_CASE("a marker from an older coordinator epoch is fenced (TRANSACTION_COORDINATOR_FENCED)",
          "[broker][idempotence][txn]") {
  // ProducerAppendInfo.appendEndTxnMarker: checkProducerEpoch, then
  // checkCoordinatorEpoch against the last marker's coordinator epoch.
  ProducerStateManager psm;
  const ProducerId pid(7);
  CHECK(psm.check_marker(pid, ProducerEpoch(0), 0) == ErrorCode::none);  // no state yet
  psm.update(batch(7, 0, 0, 2, 1));
  ProducerBatch marker = batch(7, 0, 0, 1, 2);
  marker.first_sequence = Sequence::none();
  marker.last_sequence = Sequence::none();
  marker.coordinator_epoch = 3;
  CHECK(psm.check_marker(pid, ProducerEpoch(0), 3) == ErrorCode::none);
  psm.update(marker);
  REQUIRE(psm.entry(pid) != nullptr);
  CHECK(psm.entry(pid)->coordinator_epoch == 3);
  CHECK(psm.check_marker(pid, ProducerEpoch(0), 3) == ErrorCode::none);   // the same coordinator again
  CHECK(psm.check_marker(pid, ProducerEpoch(0), 4) == ErrorCode::none);   // a newer one
  CHECK(psm.check_marker(pid, ProducerEpoch(0), 2) == ErrorCode::transaction_coordinator_fenced);
  CHECK(psm.check_marker(pid, ProducerEpoch(1), 2) == ErrorCode::transaction_coordinator_fenced);
  // The epoch is checked first, as Kafka's.
  psm.update(batch(7, 2, 0, 1, 3));
  CHECK(psm.check_marker(pid, ProducerEpoch(1), 5) == ErrorCode::invalid_producer_epoch);
  // A data batch of a new epoch keeps the coordinator epoch.
  CHECK(psm.entry(pid)->coordinator_epoch == 3);
  // The snapshot keeps it; an entry without one is written as before.
  log::ProducerSnapshot s = psm.snapshot();
  s[9] = log::ProducerEntry{1, 5, {{0, 0, 10}}};
  const std::string text = log::encode_producer_snapshot(s);
  auto back = log::decode_producer_snapshot(text);
  REQUIRE(back.ok());
  CHECK(*back == s);
  CHECK(back->at(9).coordinator_epoch == -1);
  CHECK_FALSE(log::decode_producer_snapshot("0\n1\n7 0 5 0 -2\n").ok());
}

TEST_CASE("the coordinator epoch of the last marker is rebuilt from the log", "[broker][idempotence][txn]") {
  testing::LogRig rig(5);
  rig.run([&](sim::Runtime& rt) {
    auto log = testing::open_log(rt, {});
    ProducerStateManager psm;
    produce(*log, psm, 7, 0, 0, 2);
    protocol::BatchOptions o;
    o.base_offset = log->log_end_offset();
    o.producer_id = 7;
    o.producer_epoch = 0;
    REQUIRE(log->append_as_leader(protocol::build_control_batch(o, 2000, {protocol::ControlType::commit, 4}), 0).ok());
    REQUIRE(log->flush().ok());
  });
  rig.run([&](sim::Runtime& rt) {
    auto log = testing::open_log(rt, {});
    ProducerStateManager psm;
    REQUIRE(rebuild_producer_state(*log, psm).ok());
    REQUIRE(psm.entry(ProducerId(7)) != nullptr);
    CHECK(psm.entry(ProducerId(7))->coordinator_epoch == 4);
    CHECK(psm.check_marker(ProducerId(7), ProducerEpoch(0), 3) == ErrorCode::transaction_coordinator_fenced);
  });
}

// UnifiedLog.roll's takeSnapshot: the state before an append that rolled is
// the state at the new segment's base; a restart without a clean close
// rebuilds from it plus that segment. No snapshot is written between rolls.
TEST_CASE("a segment roll leaves a producer snapshot at the new segment's base", "[broker][idempotence]") {
  testing::LogRig rig(6);
  std::map<std::int64_t, log::ProducerSnapshot> state_at;  // log end offset -> the state there
  log::ProducerSnapshot last;
  rig.run([&](sim::Runtime& rt) {
    log::LogConfig c;
    c.segment_bytes = 400;  // about three batches a segment
    Partition p(rt, "t", protocol::PartitionId(0), testing::open_log(rt, c), PartitionOptions{BrokerId(1)});
    REQUIRE(p.load().ok());
    Leadership l;
    l.leader = BrokerId(1);
    l.leader_epoch = LeaderEpoch(1);
    l.isr = l.replicas = {BrokerId(1)};
    REQUIRE(p.make_leader(l, 0).ok());
    for (int i = 0; i < 12; ++i) {
      state_at[p.log_end_offset().value()] = p.producers().snapshot();
      const auto out = p.append_as_leader(idempotent_batch(7 + i % 2, 0, 3 * (i / 2), 3), 1, 1, false);
      REQUIRE(out.error == ErrorCode::none);
    }
    last = p.producers().snapshot();
    const auto bases = p.log().segment_base_offsets();
    REQUIRE(bases.size() >= 3);
    auto names = rt.disk().list("data/t-0");
    REQUIRE(names.ok());
    std::vector<std::int64_t> snapshots;
    for (const auto& n : *names)
      if (auto o = log::parse_offset_file_name(n, log::k_snapshot_suffix)) snapshots.push_back(*o);
    std::sort(snapshots.begin(), snapshots.end());
    // The newest max.id.map.snapshots (2) roll points, each with the state there.
    CHECK(snapshots == std::vector<std::int64_t>(bases.end() - 2, bases.end()));
    auto newest = p.log().load_producer_snapshot().value();
    REQUIRE(newest);
    CHECK(newest->first == bases.back());
    CHECK(newest->second == state_at.at(bases.back()));
  });
  rig.run([&](sim::Runtime& rt) {
    log::LogConfig c;
    c.segment_bytes = 400;
    auto log = testing::open_log(rt, c);
    ProducerStateManager psm;
    REQUIRE(rebuild_producer_state(*log, psm).ok());
    CHECK(psm.snapshot() == last);
    // The rebuild left a snapshot at the log end (UnifiedLog.rebuildProducerState).
    CHECK(log->load_producer_snapshot().value()->first == log->log_end_offset());
  });
}
