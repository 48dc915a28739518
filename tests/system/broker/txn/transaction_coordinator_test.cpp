// The transaction coordinator's state machine (Kafka 2.8's
// TransactionCoordinator / TransactionMetadata, with Kafka 4.0's KIP-890
// part 2): step-by-step cases, and a model-based test of one transactional
// id through InitProducerId, AddPartitionsToTxn, EndTxn (v4 and v5),
// KIP-890 part 1's verification of a produce, appends that succeed or fail,
// markers, timeouts and coordinator reloads from the log, for a coordinator
// with and without the epoch bump per transaction.
#include "system/broker/txn/transaction_coordinator.h"

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>
#include <rapidcheck/state.h>

#include <set>

using namespace samsa;
using namespace samsa::broker::txn;
using protocol::PartitionId;

namespace {

constexpr std::int64_t k_pid = 4000;
constexpr std::int32_t k_timeout_ms = 1000;
const std::string k_id = "tx";

TxnPartitions parts(std::initializer_list<int> ps) {
  TxnPartitions out;
  for (int p : ps) out.insert({"out", PartitionId(p)});
  return out;
}

// Without an argument the coordinator of Kafka before KIP-890 part 2 (no
// epoch bump per transaction, samsa.legacy.no.epoch.bump.per.transaction);
// the cases of transaction version 2 pass true.
struct Rig {
  TransactionCoordinator c;
  std::int64_t now = 1000;
  std::int64_t next_pid = k_pid;
  explicit Rig(bool epoch_bump = false) : c(TxnCoordinatorConfig{900000, 4, epoch_bump}) {
    for (int p = 0; p < 4; ++p) {
      c.begin_load(p, 1);
      c.complete_load(p, 1, {}, now);
    }
  }
  TransactionCoordinator::NewProducerId ids() {
    return [this] { return ProducerId(next_pid++); };
  }
  // Runs a step whose append succeeds; the answer.
  TxnAnswer ok(TxnStep s, std::optional<TxnMarkers>* markers = nullptr) {
    if (s.answer) return *s.answer;
    REQUIRE(s.append);
    AppendOutcome o = c.append_done(*s.append, ErrorCode::none, now);
    if (markers) *markers = o.markers;
    return o.answer.value_or(TxnAnswer{});
  }
  void complete(const TxnMarkers& m) {
    auto a = c.markers_done(m);
    REQUIRE(a);
    CHECK_FALSE(c.append_done(*a, ErrorCode::none, now).answer);
  }
};

}  // namespace

TEST_CASE("a transaction: init, add, commit, markers, complete", "[broker][txn]") {
  Rig r;
  const TxnAnswer init = r.ok(r.c.init_producer_id(k_id, k_timeout_ms, std::nullopt, r.ids(), r.now));
  CHECK(init.error == ErrorCode::none);
  CHECK(init.producer_id == ProducerId(k_pid));
  CHECK(init.producer_epoch == ProducerEpoch(0));
  CHECK(r.ok(r.c.add_partitions(k_id, init.producer_id, init.producer_epoch, parts({0, 1}), r.now)).error ==
        ErrorCode::none);
  CHECK(r.c.metadata(k_id)->state() == TxnState::ongoing);
  std::optional<TxnMarkers> markers;
  CHECK(r.ok(r.c.end_txn(k_id, init.producer_id, init.producer_epoch, TxnResult::commit, r.now), &markers).error ==
        ErrorCode::none);
  REQUIRE(markers);
  CHECK(markers->partitions == parts({0, 1}));
  CHECK(markers->result == TxnResult::commit);
  CHECK(r.c.metadata(k_id)->state() == TxnState::prepare_commit);
  // Until the completion is written, the next transaction waits.
  CHECK(r.c.add_partitions(k_id, init.producer_id, init.producer_epoch, parts({2}), r.now).answer->error ==
        ErrorCode::concurrent_transactions);
  r.complete(*markers);
  CHECK(r.c.metadata(k_id)->state() == TxnState::complete_commit);
  CHECK(r.c.metadata(k_id)->partitions().empty());
  // A retried EndTxn(commit) is fine; an abort of it is not.
  CHECK(r.c.end_txn(k_id, init.producer_id, init.producer_epoch, TxnResult::commit, r.now).answer->error ==
        ErrorCode::none);
  CHECK(r.c.end_txn(k_id, init.producer_id, init.producer_epoch, TxnResult::abort, r.now).answer->error ==
        ErrorCode::invalid_txn_state);
}

TEST_CASE("a second producer instance fences the first (zombie fencing)", "[broker][txn]") {
  Rig r;
  const TxnAnswer first = r.ok(r.c.init_producer_id(k_id, k_timeout_ms, std::nullopt, r.ids(), r.now));
  REQUIRE(r.ok(r.c.add_partitions(k_id, first.producer_id, first.producer_epoch, parts({0}), r.now)).error ==
          ErrorCode::none);
  // The new instance finds an open transaction: it is aborted at a fenced
  // epoch and the new instance is told to retry.
  std::optional<TxnMarkers> markers;
  CHECK(r.ok(r.c.init_producer_id(k_id, k_timeout_ms, std::nullopt, r.ids(), r.now), &markers).error ==
        ErrorCode::concurrent_transactions);
  REQUIRE(markers);
  CHECK(markers->result == TxnResult::abort);
  CHECK(markers->producer_epoch == ProducerEpoch(1));
  // The zombie can neither add nor commit.
  CHECK(r.c.end_txn(k_id, first.producer_id, first.producer_epoch, TxnResult::commit, r.now).answer->error ==
        ErrorCode::producer_fenced);
  r.complete(*markers);
  const TxnAnswer second = r.ok(r.c.init_producer_id(k_id, k_timeout_ms, std::nullopt, r.ids(), r.now));
  CHECK(second.error == ErrorCode::none);
  CHECK(second.producer_id == first.producer_id);
  CHECK(second.producer_epoch == ProducerEpoch(2));
  CHECK(r.c.add_partitions(k_id, first.producer_id, first.producer_epoch, parts({0}), r.now).answer->error ==
        ErrorCode::producer_fenced);
}

TEST_CASE("transaction.timeout.ms aborts an open transaction with an epoch bump", "[broker][txn]") {
  Rig r;
  const TxnAnswer p = r.ok(r.c.init_producer_id(k_id, k_timeout_ms, std::nullopt, r.ids(), r.now));
  REQUIRE(r.ok(r.c.add_partitions(k_id, p.producer_id, p.producer_epoch, parts({3}), r.now)).error ==
          ErrorCode::none);
  CHECK(r.c.abort_timed_out(r.now + k_timeout_ms).empty());  // not past it yet
  auto aborts = r.c.abort_timed_out(r.now + k_timeout_ms + 1);
  REQUIRE(aborts.size() == 1);
  CHECK(aborts[0].transit.state == TxnState::prepare_abort);
  CHECK(aborts[0].transit.producer_epoch == ProducerEpoch(1));
  AppendOutcome o = r.c.append_done(aborts[0], ErrorCode::none, r.now);
  CHECK_FALSE(o.answer);
  REQUIRE(o.markers);
  CHECK(o.markers->partitions == parts({3}));
  r.complete(*o.markers);
  CHECK(r.c.end_txn(k_id, p.producer_id, p.producer_epoch, TxnResult::commit, r.now).answer->error ==
        ErrorCode::producer_fenced);
}

TEST_CASE("requests for partitions not led or still loading", "[broker][txn]") {
  TransactionCoordinator c{TxnCoordinatorConfig{900000, 4}};
  auto ids = [] { return ProducerId(1); };
  const int p = c.partition_for(k_id);
  CHECK(c.init_producer_id(k_id, k_timeout_ms, std::nullopt, ids, 0).answer->error == ErrorCode::not_coordinator);
  c.begin_load(p, 3);
  CHECK(c.init_producer_id(k_id, k_timeout_ms, std::nullopt, ids, 0).answer->error ==
        ErrorCode::coordinator_load_in_progress);
  c.complete_load(p, 3, {}, 0);
  CHECK(c.init_producer_id(k_id, 900001, std::nullopt, ids, 0).answer->error ==
        ErrorCode::invalid_transaction_timeout);
  CHECK(c.init_producer_id("", k_timeout_ms, std::nullopt, ids, 0).answer->error == ErrorCode::invalid_request);
  CHECK(c.add_partitions(k_id, ProducerId(1), ProducerEpoch(0), parts({0}), 0).answer->error ==
        ErrorCode::invalid_producer_id_mapping);
}

TEST_CASE("a transaction id's partition is Utils.abs(hashCode) % partitions", "[broker][txn]") {
  // Java: "tx".hashCode() = 't' * 31 + 'x' = 116 * 31 + 120 = 3716.
  CHECK(transaction_partition_for("tx", 50) == 3716 % 50);
  // "polygenelubricants".hashCode() == Integer.MIN_VALUE; Utils.abs gives 0.
  CHECK(transaction_partition_for("polygenelubricants", 50) == 0);
}

// --- the model ---------------------------------------------------------------------------------------------

namespace {

enum class Pend { none, init, add, end, fence_init, timeout, markers, complete };

struct Logged {  // the last TransactionLogValue appended for the id
  std::int16_t epoch = -1;
  TxnState state = TxnState::empty;
  std::set<int> parts;
  std::int64_t start_ms = -1;
};

struct Model {
  bool exists = false;
  TxnState state = TxnState::empty;
  std::int16_t epoch = -1, last_epoch = -1;
  std::set<int> parts;
  std::int64_t start_ms = -1;
  bool failed_fence = false;
  Pend pend = Pend::none;
  TxnState target = TxnState::empty;
  std::int16_t target_epoch = -1, target_last_epoch = -1;
  std::set<int> target_parts;
  std::int64_t target_start_ms = -1;
  bool target_fence = false;
  std::optional<Logged> log;
  std::int64_t now = 1000;
  std::int32_t coordinator_epoch = 1;
  // KIP-890 part 2: the coordinator bumps the epoch per transaction (false:
  // samsa.legacy.no.epoch.bump.per.transaction); `bumped` is whether the
  // last transition did (TransactionMetadata.epoch_bump: PrepareX and
  // CompleteX of an EndTxn v5 or of a timeout abort with the bump).
  bool cfg_bump = false;
  bool bumped = false, target_bump = false;
};

struct Sut {
  TransactionCoordinator c;
  std::optional<TxnLogAppend> append;
  std::optional<TxnMarkers> markers;
  explicit Sut(bool epoch_bump) : c(TxnCoordinatorConfig{900000, 1, epoch_bump}) {
    c.begin_load(0, 1);
    c.complete_load(0, 1, {}, 1000);
  }
};

using Command = rc::state::Command<Model, Sut>;

bool complete_or_empty(TxnState s) {
  return s == TxnState::empty || s == TxnState::complete_commit || s == TxnState::complete_abort;
}

TxnPartitions to_parts(const std::set<int>& s) {
  TxnPartitions out;
  for (int p : s) out.insert({"out", PartitionId(p)});
  return out;
}

// The sut's metadata equals the model's.
void check_same(const Model& m, const Sut& s) {
  const TransactionMetadata* t = s.c.metadata(k_id);
  RC_ASSERT((t != nullptr) == m.exists);
  if (!t) return;
  RC_ASSERT(t->state() == m.state);
  RC_ASSERT(t->producer_epoch() == ProducerEpoch(m.epoch));
  RC_ASSERT(t->partitions() == to_parts(m.parts));
  RC_ASSERT(t->pending_transition_in_progress() == (m.pend != Pend::none));
  if (m.pend == Pend::none) RC_ASSERT(t->epoch_bump() == m.bumped);
}

// What the model expects of a step: an answer now, or an append.
struct Expect {
  std::optional<ErrorCode> answer;
};

void expect_step(const TxnStep& got, const Expect& want) {
  RC_ASSERT(got.answer.has_value() == want.answer.has_value());
  RC_ASSERT(got.append.has_value() == !want.answer.has_value());
  if (want.answer) RC_ASSERT(got.answer->error == *want.answer);
}

// The coordinator's own abort at a fenced epoch (InitProducerId on an
// Ongoing transaction, or a timeout): the epoch is bumped in memory.
void model_fence(Model& m, Pend kind) {
  m.epoch = m.failed_fence ? m.epoch : static_cast<std::int16_t>(m.epoch + 1);
  m.last_epoch = -1;
  m.pend = kind;
  m.target = TxnState::prepare_abort;
  m.target_epoch = m.epoch;
  m.target_parts = m.parts;
  m.target_start_ms = m.start_ms;
  m.target_fence = true;
  // abortTimedOutTransactions passes the coordinator's transaction version:
  // with the bump the abort takes the fenced epoch + 1 (InitProducerId's
  // abort is TV_0: the fence is its only bump).
  m.target_bump = kind == Pend::timeout && m.cfg_bump;
  m.target_last_epoch = m.target_bump ? m.epoch : m.last_epoch;
  if (m.target_bump) m.target_epoch = static_cast<std::int16_t>(m.epoch + 1);
}

// --- InitProducerId ---
enum class Expected { none, current, last, stale, other_id };

struct Init : Command {
  Expected e = *rc::gen::element(Expected::none, Expected::none, Expected::current, Expected::last,
                                 Expected::stale, Expected::other_id);
  std::optional<ProducerIdAndEpoch> expected(const Model& m) const {
    switch (e) {
      case Expected::none: return std::nullopt;
      case Expected::current: return ProducerIdAndEpoch{ProducerId(k_pid), ProducerEpoch(m.epoch)};
      case Expected::last: return ProducerIdAndEpoch{ProducerId(k_pid), ProducerEpoch(m.last_epoch)};
      case Expected::stale:
        return ProducerIdAndEpoch{ProducerId(k_pid), ProducerEpoch(static_cast<std::int16_t>(m.epoch - 3))};
      case Expected::other_id: return ProducerIdAndEpoch{ProducerId(k_pid + 77), ProducerEpoch(0)};
    }
    return std::nullopt;
  }
  Expect predict(Model& m) const {
    if (!m.exists) {
      m.exists = true;  // created before any check (putTransactionStateIfNotExists)
    }
    const auto x = expected(m);
    if (m.pend != Pend::none) return {ErrorCode::concurrent_transactions};
    if (x && !(m.epoch == -1 || x->producer_id == ProducerId(k_pid))) return {ErrorCode::producer_fenced};
    if (m.state == TxnState::prepare_commit || m.state == TxnState::prepare_abort)
      return {ErrorCode::concurrent_transactions};
    if (m.state == TxnState::ongoing) {
      model_fence(m, Pend::fence_init);
      return {};
    }
    std::int16_t next = static_cast<std::int16_t>(m.epoch + 1), last = -1;
    if (x) {
      if (m.epoch == -1 || x->epoch.value() == m.epoch) {
        last = m.epoch;
      } else if (x->epoch.value() == m.last_epoch) {
        next = m.epoch;
        last = m.last_epoch;
      } else {
        return {ErrorCode::producer_fenced};
      }
    }
    m.pend = Pend::init;
    m.target = TxnState::empty;
    m.target_epoch = next;
    m.target_last_epoch = last;
    m.target_parts.clear();
    m.target_start_ms = -1;
    m.target_fence = false;
    m.target_bump = false;
    return {};
  }
  void apply(Model& m) const override { (void)predict(m); }
  void run(const Model& m0, Sut& s) const override {
    Model m = m0;
    const Expect want = predict(m);
    std::int64_t next_pid = k_pid;
    TxnStep got = s.c.init_producer_id(k_id, k_timeout_ms, expected(m0), [&] { return ProducerId(next_pid++); },
                                       m0.now);
    expect_step(got, want);
    if (got.append) s.append = got.append;
    check_same(m, s);
  }
  void show(std::ostream& os) const override { os << "InitProducerId expected=" << static_cast<int>(e); }
};

// --- AddPartitionsToTxn ---
struct Add : Command {
  bool stale = *rc::gen::element(false, false, false, true);
  std::set<int> ps = *rc::gen::container<std::set<int>>(rc::gen::inRange(0, 3));
  Expect predict(Model& m) const {
    if (!m.exists) return {ErrorCode::invalid_producer_id_mapping};
    if (stale) return {ErrorCode::producer_fenced};
    if (m.pend != Pend::none) return {ErrorCode::concurrent_transactions};
    if (m.state == TxnState::prepare_commit || m.state == TxnState::prepare_abort)
      return {ErrorCode::concurrent_transactions};
    if (m.state == TxnState::ongoing && std::includes(m.parts.begin(), m.parts.end(), ps.begin(), ps.end()))
      return {ErrorCode::none};
    if (m.epoch < 0) return {ErrorCode::unknown_server_error};
    m.pend = Pend::add;
    m.target = TxnState::ongoing;
    m.target_epoch = m.epoch;
    m.target_parts = m.parts;
    m.target_parts.insert(ps.begin(), ps.end());
    m.target_start_ms = complete_or_empty(m.state) ? m.now : m.start_ms;
    m.target_fence = false;
    m.target_bump = false;
    return {};
  }
  std::int16_t epoch(const Model& m) const { return static_cast<std::int16_t>(stale ? m.epoch - 1 : m.epoch); }
  void apply(Model& m) const override { (void)predict(m); }
  void run(const Model& m0, Sut& s) const override {
    Model m = m0;
    const Expect want = predict(m);
    TxnStep got = s.c.add_partitions(k_id, ProducerId(k_pid), ProducerEpoch(epoch(m0)), to_parts(ps), m0.now);
    expect_step(got, want);
    if (got.append) s.append = got.append;
    check_same(m, s);
  }
  void show(std::ostream& os) const override { os << "AddPartitionsToTxn stale=" << stale << " n=" << ps.size(); }
};

// --- EndTxn ---
// `behind` epochs before the current one: 1 is the retry of an EndTxn whose
// PrepareX bumped the epoch, or the late EndTxn of the previous transaction
// (KIP-890 part 2 fences it once the next transaction runs); v5 is
// transaction version 2.
struct End : Command {
  bool commit = *rc::gen::arbitrary<bool>();
  int behind = *rc::gen::element(0, 0, 0, 1, 1, 2);
  bool v5 = *rc::gen::element(true, true, false);
  // endTransaction's isValidEpoch.
  static bool valid_epoch(const Model& m, int behind) {
    if (!m.bumped) return behind == 0;
    const bool ending = m.state == TxnState::prepare_commit || m.state == TxnState::prepare_abort ||
                        m.state == TxnState::complete_commit || m.state == TxnState::complete_abort;
    return ending ? behind == 1 && m.epoch >= 1 : behind == 0;
  }
  Expect predict(Model& m) const {
    if (!m.exists) return {ErrorCode::invalid_producer_id_mapping};
    if (!valid_epoch(m, behind)) return {ErrorCode::producer_fenced};
    if (m.pend != Pend::none) return {ErrorCode::concurrent_transactions};
    switch (m.state) {
      case TxnState::ongoing: {
        const bool bump = v5 && m.cfg_bump;
        m.pend = Pend::end;
        m.target = commit ? TxnState::prepare_commit : TxnState::prepare_abort;
        m.target_epoch = bump ? static_cast<std::int16_t>(m.epoch + 1) : m.epoch;
        m.target_last_epoch = bump ? m.epoch : m.last_epoch;
        m.target_parts = m.parts;
        m.target_start_ms = m.start_ms;
        m.target_fence = false;
        m.target_bump = bump;
        return {};
      }
      case TxnState::complete_commit: return {commit ? ErrorCode::none : ErrorCode::invalid_txn_state};
      case TxnState::complete_abort: return {commit ? ErrorCode::invalid_txn_state : ErrorCode::none};
      case TxnState::prepare_commit:
        return {commit ? ErrorCode::concurrent_transactions : ErrorCode::invalid_txn_state};
      case TxnState::prepare_abort:
        return {commit ? ErrorCode::invalid_txn_state : ErrorCode::concurrent_transactions};
      default: return {ErrorCode::invalid_txn_state};
    }
  }
  void apply(Model& m) const override { (void)predict(m); }
  void run(const Model& m0, Sut& s) const override {
    Model m = m0;
    const Expect want = predict(m);
    const auto epoch = ProducerEpoch(static_cast<std::int16_t>(m0.epoch - behind));
    TxnStep got = s.c.end_txn(k_id, ProducerId(k_pid), epoch, commit ? TxnResult::commit : TxnResult::abort, m0.now,
                              v5);
    expect_step(got, want);
    // A retry that finds its transaction complete gets the epoch it ended with.
    if (want.answer == ErrorCode::none) RC_ASSERT(got.answer->producer_epoch == ProducerEpoch(m0.epoch));
    if (got.append) s.append = got.append;
    check_same(m, s);
  }
  void show(std::ostream& os) const override {
    os << "EndTxn v" << (v5 ? 5 : 4) << " commit=" << commit << " epoch-" << behind;
  }
};

// --- a partition leader verifies a produce (KIP-890 part 1) ---
// A produce of the current transaction, or a late one of the previous
// (behind = 1): with the bump per transaction its epoch is fenced; without
// it the late write is taken into the next transaction (the hazard of
// samsa.legacy.no.epoch.bump.per.transaction).
struct Verify : Command {
  int behind = *rc::gen::element(0, 0, 1);
  std::set<int> ps = *rc::gen::nonEmpty(rc::gen::container<std::set<int>>(rc::gen::inRange(0, 3)));
  void run(const Model& m, Sut& s) const override {
    const auto got = s.c.verify_partitions(k_id, ProducerId(k_pid),
                                           ProducerEpoch(static_cast<std::int16_t>(m.epoch - behind)), to_parts(ps));
    RC_ASSERT(got.size() == ps.size());
    for (const auto& [p, e] : got) {
      ErrorCode want = ErrorCode::none;
      if (!m.exists) want = ErrorCode::invalid_producer_id_mapping;
      else if (behind != 0) want = ErrorCode::producer_fenced;
      else if (m.state == TxnState::prepare_commit || m.state == TxnState::prepare_abort)
        want = ErrorCode::concurrent_transactions;
      else want = m.parts.count(p.partition.value()) ? ErrorCode::none : ErrorCode::invalid_txn_state;
      RC_ASSERT(e == want);
    }
  }
  void show(std::ostream& os) const override { os << "verify produce epoch-" << behind << " n=" << ps.size(); }
};

// --- the outstanding append finishes ---
bool appending(Pend p) { return p != Pend::none && p != Pend::markers; }

struct AppendDone : Command {
  bool ok = *rc::gen::element(true, true, true, false);
  void checkPreconditions(const Model& m) const override { RC_PRE(appending(m.pend)); }
  // The answer the waiting request gets (none: no one waits).
  std::optional<TxnAnswer> predict(Model& m) const {
    const Pend kind = m.pend;
    if (!ok) {
      if (kind == Pend::complete) return std::nullopt;  // retried, still pending
      if (m.target_fence) m.failed_fence = true;
      m.pend = Pend::none;
      if (kind == Pend::timeout) return std::nullopt;
      return TxnAnswer{ErrorCode::coordinator_not_available};
    }
    m.state = m.target;
    m.epoch = m.target_epoch;
    if (kind == Pend::init || (m.target_bump && kind != Pend::complete)) m.last_epoch = m.target_last_epoch;
    m.bumped = m.target_bump;
    m.parts = m.target == TxnState::complete_commit || m.target == TxnState::complete_abort ? std::set<int>{}
                                                                                               : m.target_parts;
    m.start_ms = m.target_start_ms;
    m.log = Logged{m.epoch, m.state, m.parts, m.start_ms};
    m.pend = Pend::none;
    switch (kind) {
      case Pend::init: return TxnAnswer{ErrorCode::none, ProducerId(k_pid), ProducerEpoch(m.epoch)};
      case Pend::add: return TxnAnswer{ErrorCode::none};
      case Pend::end:
      case Pend::fence_init:
      case Pend::timeout: {
        // The markers go out; the completion is pending meanwhile.
        m.pend = Pend::markers;
        m.failed_fence = false;
        m.target = m.state == TxnState::prepare_commit ? TxnState::complete_commit : TxnState::complete_abort;
        m.target_parts.clear();
        m.target_fence = false;
        // EndTxn's answer: the epoch the next transaction runs under.
        if (kind == Pend::end) return TxnAnswer{ErrorCode::none, ProducerId(k_pid), ProducerEpoch(m.epoch)};
        if (kind == Pend::fence_init) return TxnAnswer{ErrorCode::concurrent_transactions};
        return std::nullopt;
      }
      default: return std::nullopt;
    }
  }
  void apply(Model& m) const override { (void)predict(m); }
  void run(const Model& m0, Sut& s) const override {
    Model m = m0;
    const auto want = predict(m);
    RC_ASSERT(s.append.has_value());
    const TxnLogAppend a = *s.append;
    s.append.reset();
    AppendOutcome o = s.c.append_done(a, ok ? ErrorCode::none : ErrorCode::not_enough_replicas, m0.now);
    RC_ASSERT(o.answer.has_value() == want.has_value());
    if (want) {
      RC_ASSERT(o.answer->error == want->error);
      if (want->producer_epoch != ProducerEpoch::none()) {
        RC_ASSERT(o.answer->producer_id == want->producer_id);
        RC_ASSERT(o.answer->producer_epoch == want->producer_epoch);
      }
    }
    RC_ASSERT(o.markers.has_value() == (m.pend == Pend::markers));
    if (o.markers) {
      RC_ASSERT(o.markers->partitions == to_parts(m.parts));
      RC_ASSERT(o.markers->producer_epoch == ProducerEpoch(m.epoch));
      s.markers = o.markers;
    }
    RC_ASSERT(o.retry.has_value() == (m.pend == Pend::complete));
    if (o.retry) s.append = o.retry;
    check_same(m, s);
  }
  void show(std::ostream& os) const override { os << "append done ok=" << ok; }
};

// The same, always successful: runs reach later transactions more often.
struct AppendOk : AppendDone {
  AppendOk() { ok = true; }
};

struct MarkersDone : Command {
  void checkPreconditions(const Model& m) const override { RC_PRE(m.pend == Pend::markers); }
  void apply(Model& m) const override { m.pend = Pend::complete; }
  void run(const Model& m0, Sut& s) const override {
    RC_ASSERT(s.markers.has_value());
    auto a = s.c.markers_done(*s.markers);
    s.markers.reset();
    RC_ASSERT(a.has_value());
    RC_ASSERT(a->transit.state == m0.target);
    s.append = a;
    Model m = m0;
    apply(m);
    check_same(m, s);
  }
  void show(std::ostream& os) const override { os << "markers written"; }
};

// Time passes beyond the timeout; the periodic abort runs.
struct Expire : Command {
  void apply(Model& m) const override {
    m.now += k_timeout_ms + 1;
    if (m.exists && m.pend == Pend::none && m.state == TxnState::ongoing && m.start_ms + k_timeout_ms < m.now)
      model_fence(m, Pend::timeout);
  }
  void run(const Model& m0, Sut& s) const override {
    Model m = m0;
    apply(m);
    auto aborts = s.c.abort_timed_out(m.now);
    RC_ASSERT(aborts.size() == (m.pend == Pend::timeout && m0.pend == Pend::none ? 1u : 0u));
    if (!aborts.empty()) {
      RC_ASSERT(aborts[0].transit.state == TxnState::prepare_abort);
      s.append = aborts[0];
    }
    check_same(m, s);
  }
  void show(std::ostream& os) const override { os << "timeout passes"; }
};

// The coordinator moves: the partition is unloaded and loaded again from the
// log (the last record appended), at a new coordinator epoch.
struct Reload : Command {
  void checkPreconditions(const Model& m) const override { RC_PRE(!appending(m.pend)); }
  void apply(Model& m) const override {
    m.coordinator_epoch += 1;
    m.pend = Pend::none;
    m.failed_fence = false;
    m.last_epoch = -1;  // not in value v0
    // Nor is the transaction version: one caught ending takes the coordinator's.
    m.bumped = m.log && m.cfg_bump && m.log->state != TxnState::empty && m.log->state != TxnState::ongoing;
    m.target_bump = m.bumped;
    if (!m.log) {
      m.exists = false;
      m.epoch = -1;
      m.state = TxnState::empty;
      m.parts.clear();
      return;
    }
    m.exists = true;
    m.epoch = m.log->epoch;
    m.state = m.log->state;
    m.parts = m.log->state == TxnState::empty ? std::set<int>{} : m.log->parts;
    m.start_ms = m.log->start_ms;
    if (m.state == TxnState::prepare_commit || m.state == TxnState::prepare_abort) {
      m.pend = Pend::markers;
      m.target = m.state == TxnState::prepare_commit ? TxnState::complete_commit : TxnState::complete_abort;
      m.target_epoch = m.epoch;
    }
  }
  void run(const Model& m0, Sut& s) const override {
    Model m = m0;
    apply(m);
    std::map<std::string, std::optional<TxnTransit>> loaded;
    if (const TransactionMetadata* t = s.c.metadata(k_id); t && m0.log) {
      TxnTransit logged;
      logged.producer_id = ProducerId(k_pid);
      logged.producer_epoch = ProducerEpoch(m0.log->epoch);
      logged.txn_timeout_ms = k_timeout_ms;
      logged.state = m0.log->state;
      logged.partitions = to_parts(m0.log->parts);
      logged.txn_start_timestamp_ms = m0.log->start_ms;
      logged.txn_last_update_timestamp_ms = m0.now;
      loaded[k_id] = logged;
    }
    s.c.unload(0);
    s.markers.reset();
    s.c.begin_load(0, m.coordinator_epoch);
    auto resend = s.c.complete_load(0, m.coordinator_epoch, loaded, m.now);
    RC_ASSERT(resend.size() == (m.pend == Pend::markers ? 1u : 0u));
    if (!resend.empty()) {
      RC_ASSERT(resend[0].partitions == to_parts(m.parts));
      s.markers = resend[0];
    }
    check_same(m, s);
  }
  void show(std::ostream& os) const override { os << "coordinator reload"; }
};

}  // namespace

TEST_CASE("the transaction state machine matches a model of Kafka's rules", "[broker][txn]") {
  // Kafka 4.0 (the epoch bump per transaction) and the legacy switch.
  for (const bool bump : {true, false}) {
    INFO("epoch bump per transaction: " << bump);
    rc::prop("every answer, epoch, state and partition set as the model says", [bump] {
      Model model;
      model.cfg_bump = bump;
      Sut sut(bump);
      rc::state::check(model, sut,
                       rc::state::gen::execOneOfWithArgs<Init, Add, Add, End, Verify, AppendDone, AppendDone,
                                                         AppendDone, MarkersDone, Expire, Reload>());
    });
    rc::prop("the same over many whole transactions (appends that succeed)", [bump] {
      Model model;
      model.cfg_bump = bump;
      Sut sut(bump);
      rc::state::check(model, sut,
                       rc::state::gen::execOneOfWithArgs<Init, Add, Add, End, End, Verify, AppendOk, AppendOk,
                                                         AppendOk, AppendOk, MarkersDone, MarkersDone, Expire,
                                                         Reload>());
    });
  }
}

TEST_CASE("every state the coordinator reaches came by one of Kafka's legal transitions", "[broker][txn]") {
  // validPreviousStates, spelled out once more as the table of the KIP-98 design.
  using S = TxnState;
  const std::set<std::pair<S, S>> legal = {
      {S::empty, S::empty},           {S::complete_commit, S::empty},   {S::complete_abort, S::empty},
      {S::ongoing, S::ongoing},       {S::empty, S::ongoing},           {S::complete_commit, S::ongoing},
      {S::complete_abort, S::ongoing}, {S::ongoing, S::prepare_commit}, {S::ongoing, S::prepare_abort},
      {S::prepare_epoch_fence, S::prepare_abort}, {S::prepare_commit, S::complete_commit},
      {S::prepare_abort, S::complete_abort},      {S::empty, S::dead},  {S::complete_abort, S::dead},
      {S::complete_commit, S::dead},              {S::ongoing, S::prepare_epoch_fence}};
  for (S from : k_all_txn_states)
    for (S to : k_all_txn_states) {
      INFO(to_string(from) << " -> " << to_string(to));
      CHECK(is_valid_transition(from, to) == (legal.count({from, to}) > 0));
    }
  for (std::int8_t b = -1; b <= 8; ++b)
    CHECK(txn_state_from_byte(b).has_value() == (b >= 0 && b <= 7));
  CHECK(is_epoch_exhausted(ProducerEpoch(32766)));
  CHECK_FALSE(is_epoch_exhausted(ProducerEpoch(32765)));
}

TEST_CASE("a fence whose append failed is not bumped again (hasFailedEpochFence)", "[broker][txn]") {
  Rig r;
  const TxnAnswer p = r.ok(r.c.init_producer_id(k_id, k_timeout_ms, std::nullopt, r.ids(), r.now));
  REQUIRE(r.ok(r.c.add_partitions(k_id, p.producer_id, p.producer_epoch, parts({0}), r.now)).error ==
          ErrorCode::none);
  TxnStep fence = r.c.init_producer_id(k_id, k_timeout_ms, std::nullopt, r.ids(), r.now);
  REQUIRE(fence.append);
  CHECK(fence.append->transit.producer_epoch == ProducerEpoch(1));
  CHECK(r.c.append_done(*fence.append, ErrorCode::not_enough_replicas, r.now).answer->error ==
        ErrorCode::coordinator_not_available);
  // The bumped epoch stays in memory (never returned to anyone): the old
  // producer is fenced already, and the next fence reuses epoch 1.
  CHECK(r.c.metadata(k_id)->producer_epoch() == ProducerEpoch(1));
  CHECK(r.c.metadata(k_id)->state() == TxnState::ongoing);
  TxnStep again = r.c.init_producer_id(k_id, k_timeout_ms, std::nullopt, r.ids(), r.now);
  REQUIRE(again.append);
  CHECK(again.append->transit.producer_epoch == ProducerEpoch(1));
}

// --- KIP-890 part 2 (transaction version 2) -------------------------------------------------------------------

namespace {

// A committed transaction with EndTxn v5; the markers it gave.
TxnMarkers commit_v2(Rig& r, const TxnAnswer& p, TxnAnswer* end) {
  REQUIRE(r.ok(r.c.add_partitions(k_id, p.producer_id, p.producer_epoch, parts({0, 1}), r.now)).error ==
          ErrorCode::none);
  std::optional<TxnMarkers> markers;
  *end = r.ok(r.c.end_txn(k_id, p.producer_id, p.producer_epoch, TxnResult::commit, r.now, true), &markers);
  REQUIRE(markers);
  return *markers;
}

}  // namespace

TEST_CASE("KIP-890 part 2: EndTxn v5 bumps the epoch; the markers and the answer carry the new one",
          "[broker][txn]") {
  Rig r(true);
  const TxnAnswer p = r.ok(r.c.init_producer_id(k_id, k_timeout_ms, std::nullopt, r.ids(), r.now));
  TxnAnswer end;
  const TxnMarkers m = commit_v2(r, p, &end);
  CHECK(end.error == ErrorCode::none);
  CHECK(end.producer_id == p.producer_id);
  CHECK(end.producer_epoch == ProducerEpoch(1));
  CHECK(m.producer_epoch == ProducerEpoch(1));
  CHECK(r.c.metadata(k_id)->producer_epoch() == ProducerEpoch(1));
  CHECK(r.c.metadata(k_id)->last_producer_epoch() == ProducerEpoch(0));
  // A retry of the EndTxn (the old epoch) while the markers are out waits.
  CHECK(r.c.end_txn(k_id, p.producer_id, p.producer_epoch, TxnResult::commit, r.now, true).answer->error ==
        ErrorCode::concurrent_transactions);
  r.complete(m);
  // ... and once complete it is answered with the epoch it ended with.
  const TxnAnswer retry = *r.c.end_txn(k_id, p.producer_id, p.producer_epoch, TxnResult::commit, r.now, true).answer;
  CHECK(retry.error == ErrorCode::none);
  CHECK(retry.producer_epoch == ProducerEpoch(1));
  // The old epoch can neither add partitions nor verify a produce.
  CHECK(r.c.add_partitions(k_id, p.producer_id, p.producer_epoch, parts({0}), r.now).answer->error ==
        ErrorCode::producer_fenced);
  CHECK(r.c.verify_partitions(k_id, p.producer_id, p.producer_epoch, parts({0})).at({"out", PartitionId(0)}) ==
        ErrorCode::producer_fenced);
  // The next transaction runs at epoch 1 and bumps to 2.
  TxnAnswer next{ErrorCode::none, end.producer_id, end.producer_epoch};
  TxnAnswer end2;
  const TxnMarkers m2 = commit_v2(r, next, &end2);
  CHECK(end2.producer_epoch == ProducerEpoch(2));
  CHECK(m2.producer_epoch == ProducerEpoch(2));
}

TEST_CASE("KIP-890 part 2: a delayed EndTxn of a finished transaction cannot end the next one", "[broker][txn]") {
  for (const bool bump : {true, false}) {
    INFO("epoch bump per transaction " << bump);
    Rig r(bump);
    const TxnAnswer p = r.ok(r.c.init_producer_id(k_id, k_timeout_ms, std::nullopt, r.ids(), r.now));
    TxnAnswer end;
    r.complete(commit_v2(r, p, &end));
    // The producer goes on with what EndTxn answered (unchanged without the bump).
    const ProducerEpoch epoch = bump ? end.producer_epoch : p.producer_epoch;
    REQUIRE(r.ok(r.c.add_partitions(k_id, p.producer_id, epoch, parts({1}), r.now)).error == ErrorCode::none);
    // The first transaction's EndTxn, delayed on an old connection, arrives now.
    TxnStep late = r.c.end_txn(k_id, p.producer_id, p.producer_epoch, TxnResult::commit, r.now, true);
    if (bump) {
      REQUIRE(late.answer);
      CHECK(late.answer->error == ErrorCode::producer_fenced);
      CHECK(r.c.metadata(k_id)->state() == TxnState::ongoing);
    } else {
      // Before KIP-890 part 2 it commits the open transaction early (torn).
      CHECK(late.append.has_value());
      CHECK(r.ok(std::move(late)).error == ErrorCode::none);
      CHECK(r.c.metadata(k_id)->state() == TxnState::prepare_commit);
    }
  }
}

TEST_CASE("KIP-890 part 2: an EndTxn below v5, or the legacy switch, keeps the epoch", "[broker][txn]") {
  for (const bool bump : {true, false}) {
    Rig r(bump);
    const TxnAnswer p = r.ok(r.c.init_producer_id(k_id, k_timeout_ms, std::nullopt, r.ids(), r.now));
    REQUIRE(r.ok(r.c.add_partitions(k_id, p.producer_id, p.producer_epoch, parts({0}), r.now)).error ==
            ErrorCode::none);
    std::optional<TxnMarkers> m;
    // v4 with the bump available; v5 to a coordinator without it.
    const TxnAnswer end = r.ok(r.c.end_txn(k_id, p.producer_id, p.producer_epoch, TxnResult::abort, r.now, !bump), &m);
    CHECK(end.error == ErrorCode::none);
    CHECK(end.producer_epoch == p.producer_epoch);
    REQUIRE(m);
    CHECK(m->producer_epoch == p.producer_epoch);
    r.complete(*m);
    CHECK(r.c.end_txn(k_id, p.producer_id, p.producer_epoch, TxnResult::abort, r.now, true).answer->error ==
          ErrorCode::none);
  }
}

TEST_CASE("KIP-890 part 2: a coordinator that loads a bumped PrepareCommit resends it and knows the retry",
          "[broker][txn]") {
  Rig r(true);
  const TxnAnswer p = r.ok(r.c.init_producer_id(k_id, k_timeout_ms, std::nullopt, r.ids(), r.now));
  TxnAnswer end;
  const TxnMarkers m = commit_v2(r, p, &end);
  // A new coordinator (epoch 2) loads the PrepareCommit from the log.
  const std::int32_t part = r.c.partition_for(k_id);
  TxnTransit logged = r.c.metadata(k_id)->current();
  logged.epoch_bump = false;  // value v0 does not store it
  logged.last_producer_epoch = ProducerEpoch::none();
  r.c.unload(part);
  r.c.begin_load(part, 2);
  const auto resend = r.c.complete_load(part, 2, {{k_id, logged}}, r.now);
  REQUIRE(resend.size() == 1);
  CHECK(resend[0].producer_epoch == ProducerEpoch(1));
  CHECK(resend[0].partitions == m.partitions);
  r.complete(resend[0]);
  const TxnAnswer retry = *r.c.end_txn(k_id, p.producer_id, p.producer_epoch, TxnResult::commit, r.now, true).answer;
  CHECK(retry.error == ErrorCode::none);
  CHECK(retry.producer_epoch == ProducerEpoch(1));
}

TEST_CASE("KIP-890 part 2: a timed-out transaction is fenced and its abort bumps once more", "[broker][txn]") {
  Rig r(true);
  const TxnAnswer p = r.ok(r.c.init_producer_id(k_id, k_timeout_ms, std::nullopt, r.ids(), r.now));
  REQUIRE(r.ok(r.c.add_partitions(k_id, p.producer_id, p.producer_epoch, parts({3}), r.now)).error ==
          ErrorCode::none);
  auto aborts = r.c.abort_timed_out(r.now + k_timeout_ms + 1);
  REQUIRE(aborts.size() == 1);
  // abortTimedOutTransactions passes the coordinator's transaction version.
  CHECK(aborts[0].transit.producer_epoch == ProducerEpoch(2));
  AppendOutcome o = r.c.append_done(aborts[0], ErrorCode::none, r.now);
  REQUIRE(o.markers);
  CHECK(o.markers->producer_epoch == ProducerEpoch(2));
  r.complete(*o.markers);
  CHECK(r.c.end_txn(k_id, p.producer_id, p.producer_epoch, TxnResult::abort, r.now, true).answer->error ==
        ErrorCode::producer_fenced);
}

TEST_CASE("transactional.id.expiration.ms: an idle id at rest is tombstoned and dropped; a busy one stays",
          "[broker][txn]") {
  TransactionCoordinator c{TxnCoordinatorConfig{900000, 4, true, 60000}};
  for (int p = 0; p < 4; ++p) {
    c.begin_load(p, 1);
    c.complete_load(p, 1, {}, 0);
  }
  std::int64_t next_pid = k_pid;
  auto ids = [&] { return ProducerId(next_pid++); };
  auto ok = [&](TxnStep s, std::int64_t now) {
    if (s.answer) return *s.answer;
    return c.append_done(*s.append, ErrorCode::none, now).answer.value_or(TxnAnswer{});
  };
  const TxnAnswer idle = ok(c.init_producer_id("idle", k_timeout_ms, std::nullopt, ids, 1000), 1000);
  const TxnAnswer busy = ok(c.init_producer_id("busy", k_timeout_ms, std::nullopt, ids, 1000), 1000);
  REQUIRE(ok(c.add_partitions("busy", busy.producer_id, busy.producer_epoch, parts({0}), 2000), 2000).error ==
          ErrorCode::none);
  CHECK(c.expire_transactional_ids(60999).empty());  // not idle for long enough (last update at 1000)
  auto expiring = c.expire_transactional_ids(61000);  // txnLastUpdateTimestamp <= now - expiration
  // An Ongoing transaction never expires (isExpirationAllowed).
  REQUIRE(expiring.size() == 1);
  CHECK(expiring[0].transactional_id == "idle");
  CHECK(expiring[0].kind == AppendFor::expire);
  CHECK(expiring[0].transit.state == TxnState::dead);
  CHECK(c.metadata("idle")->pending_state() == TxnState::dead);
  // While the tombstone is written the id takes no request.
  CHECK(c.init_producer_id("idle", k_timeout_ms, std::nullopt, ids, 61001).answer->error ==
        ErrorCode::concurrent_transactions);
  // A failed append keeps the id; the next round expires it.
  CHECK_FALSE(c.append_done(expiring[0], ErrorCode::not_enough_replicas, 61001).answer);
  REQUIRE(c.metadata("idle") != nullptr);
  CHECK_FALSE(c.metadata("idle")->pending_transition_in_progress());
  expiring = c.expire_transactional_ids(61002);
  REQUIRE(expiring.size() == 1);
  c.append_done(expiring[0], ErrorCode::none, 61002);
  CHECK(c.metadata("idle") == nullptr);
  CHECK(c.metadata("busy") != nullptr);
  // The id starts afresh: a new producer id at epoch 0.
  const TxnAnswer again = ok(c.init_producer_id("idle", k_timeout_ms, std::nullopt, ids, 62000), 62000);
  CHECK(again.producer_id != idle.producer_id);
  CHECK(again.producer_epoch == ProducerEpoch(0));
  // A completed transaction expires too, and a load of the tombstone forgets it.
  const std::int32_t part = c.partition_for("idle");
  c.unload(part);
  c.begin_load(part, 2);
  c.complete_load(part, 2, {{"idle", std::nullopt}}, 63000);
  CHECK(c.metadata("idle") == nullptr);
}

namespace {

// A coordinator that loads `id` at rest (CompleteCommit) at `epoch`: the
// test's way to a producer near Short.MaxValue without 32k transactions.
void load_at_epoch(Rig& r, std::int16_t epoch) {
  const std::int32_t part = r.c.partition_for(k_id);
  TxnTransit t;
  t.producer_id = ProducerId(k_pid);
  t.producer_epoch = ProducerEpoch(epoch);
  t.txn_timeout_ms = k_timeout_ms;
  t.state = TxnState::complete_commit;
  t.txn_start_timestamp_ms = r.now;
  t.txn_last_update_timestamp_ms = r.now;
  r.c.unload(part);
  r.c.begin_load(part, 2);
  REQUIRE(r.c.complete_load(part, 2, {{k_id, t}}, r.now).empty());
  r.next_pid = k_pid + 100;
}

}  // namespace

TEST_CASE("KIP-890 part 2: the EndTxn that exhausts the epoch rotates the producer id (Kafka 4.0)",
          "[broker][txn]") {
  Rig r(true);
  load_at_epoch(r, 32765);
  constexpr std::int16_t k_max = 32767;
  // 32765 -> 32766: an ordinary bump.
  REQUIRE(r.ok(r.c.add_partitions(k_id, ProducerId(k_pid), ProducerEpoch(32765), parts({0}), r.now)).error ==
          ErrorCode::none);
  TxnAnswer end;
  std::optional<TxnMarkers> mk;
  end = r.ok(r.c.end_txn(k_id, ProducerId(k_pid), ProducerEpoch(32765), TxnResult::commit, r.now, true, r.ids()), &mk);
  REQUIRE(end.error == ErrorCode::none);
  CHECK(end.producer_id == ProducerId(k_pid));
  CHECK(end.producer_epoch == ProducerEpoch(32766));
  REQUIRE(mk);
  r.complete(*mk);
  CHECK(r.next_pid == k_pid + 100);  // no id taken
  // 32766 is exhausted: the bump reaches Short.MaxValue and the completion
  // moves to a new producer id at epoch 0 (prepareAbortOrCommit's
  // nextProducerId, prepareComplete).
  REQUIRE(r.ok(r.c.add_partitions(k_id, ProducerId(k_pid), ProducerEpoch(32766), parts({1}), r.now)).error ==
          ErrorCode::none);
  TxnStep step = r.c.end_txn(k_id, ProducerId(k_pid), ProducerEpoch(32766), TxnResult::commit, r.now, true, r.ids());
  REQUIRE(step.append);
  CHECK(step.append->transit.producer_epoch == ProducerEpoch(k_max));
  CHECK(step.append->transit.last_producer_epoch == ProducerEpoch(32766));
  CHECK(step.append->transit.next_producer_id == ProducerId(k_pid + 100));
  AppendOutcome o = r.c.append_done(*step.append, ErrorCode::none, r.now);
  REQUIRE(o.markers);
  // The markers close the transaction under the old id at Short.MaxValue;
  // the answer is the id and epoch the next transaction runs under.
  CHECK(o.markers->producer_id == ProducerId(k_pid));
  CHECK(o.markers->producer_epoch == ProducerEpoch(k_max));
  REQUIRE(o.answer);
  CHECK(o.answer->error == ErrorCode::none);
  CHECK(o.answer->producer_id == ProducerId(k_pid + 100));
  CHECK(o.answer->producer_epoch == ProducerEpoch(0));
  // A retry before the markers are written names the old id: in progress.
  CHECK(r.c.end_txn(k_id, ProducerId(k_pid), ProducerEpoch(32766), TxnResult::commit, r.now, true).answer->error ==
        ErrorCode::concurrent_transactions);
  r.complete(*o.markers);
  const TransactionMetadata* m = r.c.metadata(k_id);
  CHECK(m->producer_id() == ProducerId(k_pid + 100));
  CHECK(m->producer_epoch() == ProducerEpoch(0));
  CHECK(m->last_producer_id() == ProducerId(k_pid));
  CHECK(m->last_producer_epoch() == ProducerEpoch(32766));
  CHECK(m->state() == TxnState::complete_commit);
  // retryOnOverflow: the retry after the rotation gets the new id.
  const TxnAnswer retry =
      *r.c.end_txn(k_id, ProducerId(k_pid), ProducerEpoch(32766), TxnResult::commit, r.now, true).answer;
  CHECK(retry.error == ErrorCode::none);
  CHECK(retry.producer_id == ProducerId(k_pid + 100));
  CHECK(retry.producer_epoch == ProducerEpoch(0));
  CHECK(r.c.end_txn(k_id, ProducerId(k_pid), ProducerEpoch(32766), TxnResult::abort, r.now, true).answer->error ==
        ErrorCode::invalid_txn_state);
  // A late produce of the old id is refused; the new id transacts.
  CHECK(r.c.verify_partitions(k_id, ProducerId(k_pid), ProducerEpoch(32766), parts({1})).at(*parts({1}).begin()) ==
        ErrorCode::invalid_producer_id_mapping);
  REQUIRE(r.ok(r.c.add_partitions(k_id, ProducerId(k_pid + 100), ProducerEpoch(0), parts({2}), r.now)).error ==
          ErrorCode::none);
  end = r.ok(r.c.end_txn(k_id, ProducerId(k_pid + 100), ProducerEpoch(0), TxnResult::abort, r.now, true, r.ids()),
             &mk);
  CHECK(end.producer_id == ProducerId(k_pid + 100));
  CHECK(end.producer_epoch == ProducerEpoch(1));
}

TEST_CASE("KIP-890 part 2: an exhausted epoch without a new id at hand, or with EndTxn v4, ends without a bump",
          "[broker][txn]") {
  for (const bool v5 : {true, false}) {
    Rig r(true);
    load_at_epoch(r, 32766);
    REQUIRE(r.ok(r.c.add_partitions(k_id, ProducerId(k_pid), ProducerEpoch(32766), parts({0}), r.now)).error ==
            ErrorCode::none);
    std::optional<TxnMarkers> mk;
    const TxnAnswer end =
        r.ok(r.c.end_txn(k_id, ProducerId(k_pid), ProducerEpoch(32766), TxnResult::commit, r.now, v5), &mk);
    CHECK(end.producer_id == ProducerId(k_pid));
    CHECK(end.producer_epoch == ProducerEpoch(32766));
    REQUIRE(mk);
    r.complete(*mk);
    // InitProducerId rotates it then (prepareProducerIdRotation).
    const TxnAnswer init = r.ok(r.c.init_producer_id(
        k_id, k_timeout_ms, ProducerIdAndEpoch{ProducerId(k_pid), ProducerEpoch(32766)}, r.ids(), r.now));
    CHECK(init.producer_id == ProducerId(k_pid + 100));
    CHECK(init.producer_epoch == ProducerEpoch(0));
  }
}

TEST_CASE("a coordinator that loads a value v1 PrepareCommit mid-rotation completes the rotation", "[broker][txn]") {
  Rig r(true);
  const std::int32_t part = r.c.partition_for(k_id);
  TxnTransit t;  // as decode_txn_value gives it from a value v1
  t.producer_id = ProducerId(k_pid);
  t.producer_epoch = ProducerEpoch(32767);
  t.txn_timeout_ms = k_timeout_ms;
  t.state = TxnState::prepare_commit;
  t.partitions = parts({0});
  t.txn_start_timestamp_ms = r.now;
  t.txn_last_update_timestamp_ms = r.now;
  t.epoch_bump = true;
  t.next_producer_id = ProducerId(k_pid + 5);
  t.client_version_stored = true;
  r.c.unload(part);
  r.c.begin_load(part, 2);
  const auto resend = r.c.complete_load(part, 2, {{k_id, t}}, r.now);
  REQUIRE(resend.size() == 1);
  CHECK(resend[0].producer_id == ProducerId(k_pid));
  CHECK(resend[0].producer_epoch == ProducerEpoch(32767));
  CHECK(resend[0].complete.producer_id == ProducerId(k_pid + 5));
  CHECK(resend[0].complete.producer_epoch == ProducerEpoch(0));
  r.complete(resend[0]);
  CHECK(r.c.metadata(k_id)->producer_id() == ProducerId(k_pid + 5));
  CHECK(r.c.metadata(k_id)->producer_epoch() == ProducerEpoch(0));
  // The client's retry of the EndTxn names the old id at Short.MaxValue - 1.
  const TxnAnswer retry =
      *r.c.end_txn(k_id, ProducerId(k_pid), ProducerEpoch(32766), TxnResult::commit, r.now, true).answer;
  CHECK(retry.error == ErrorCode::none);
  CHECK(retry.producer_id == ProducerId(k_pid + 5));
}
