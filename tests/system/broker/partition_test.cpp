// Partition replication bookkeeping (Kafka 2.x's Partition / Replica):
// high watermark, ISR shrink and expansion, follower truncation, KIP-320; and
// a replication model (three replicas, a controller, crashes) that runs these
// pieces together: committed prefixes never diverge, acknowledged records
// are never lost, and each legacy switch breaks that in a fixed run.
#include "system/broker/partition.h"

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

using namespace samsa;
using namespace samsa::broker;

namespace {

std::vector<BrokerId> ids(std::initializer_list<int> v) {
  std::vector<BrokerId> out;
  for (int x : v) out.emplace_back(x);
  return out;
}

LeaderState leader_at(Offset leo, Offset hw, std::int64_t now_ms = 0) {
  return LeaderState(LeaderInit{BrokerId(1), ids({1, 2, 3}), ids({1, 2, 3}), LeaderEpoch(4), leo, hw,
                                now_ms});
}

}  // namespace

TEST_CASE("high watermark is the minimum log end offset over the ISR", "[broker][partition]") {
  LeaderState s = leader_at(Offset(10), Offset(10));
  s.on_append(Offset(15));
  CHECK_FALSE(s.maybe_increment_high_watermark());  // followers' offsets unknown: it holds
  s.on_follower_fetch(BrokerId(2), Offset(15), 1);
  CHECK_FALSE(s.maybe_increment_high_watermark());
  s.on_follower_fetch(BrokerId(3), Offset(12), 1);
  CHECK(s.maybe_increment_high_watermark());
  CHECK(s.high_watermark() == Offset(12));
  s.on_follower_fetch(BrokerId(3), Offset(11), 2);  // a lower offset never moves it back
  CHECK_FALSE(s.maybe_increment_high_watermark());
  CHECK(s.high_watermark() == Offset(12));
  s.set_isr(ids({1, 2}));  // 3 left the ISR: only 1 and 2 count
  CHECK(s.maybe_increment_high_watermark());
  CHECK(s.high_watermark() == Offset(15));
}

TEST_CASE("a follower leaves the ISR after replica.lag.time.max.ms without catching up",
          "[broker][partition]") {
  LeaderState s = leader_at(Offset(0), Offset(0), 1000);
  s.on_append(Offset(5));
  s.on_follower_fetch(BrokerId(2), Offset(5), 1500);
  s.on_follower_fetch(BrokerId(3), Offset(2), 1500);  // behind, but it reached the epoch start
  CHECK(s.out_of_sync(31000, 30000).empty());  // 3 caught up to the old end at 1000
  CHECK(s.out_of_sync(31001, 30000) == ids({3}));
  s.on_follower_fetch(BrokerId(3), Offset(5), 31001);  // at the log end again: in sync
  CHECK(s.out_of_sync(31001, 30000).empty());
  // At the leader's log end a follower is never out of sync, however long ago.
  CHECK(s.out_of_sync(999999, 30000).empty());
}

TEST_CASE("ISR expansion waits for the high watermark and the epoch start (KAFKA-7128)",
          "[broker][partition]") {
  // A new leader whose own high watermark lags: 20 is where its epoch starts.
  LeaderState s(LeaderInit{BrokerId(1), ids({1, 2, 3}), ids({1, 2}), LeaderEpoch(7), Offset(20),
                           Offset(12), 0});
  CHECK(s.epoch_start_offset() == Offset(20));
  s.on_follower_fetch(BrokerId(3), Offset(15), 10);
  CHECK_FALSE(s.can_join_isr(BrokerId(3)));
  CHECK(s.can_join_isr(BrokerId(3), /*below_epoch_start_allowed=*/true));
  s.on_follower_fetch(BrokerId(3), Offset(20), 20);
  CHECK(s.can_join_isr(BrokerId(3)));
  CHECK_FALSE(s.can_join_isr(BrokerId(2)));  // already in it
  CHECK_FALSE(s.can_join_isr(BrokerId(9)));  // not a replica
}

TEST_CASE("high watermark never goes back and never passes an ISR member", "[broker][partition]") {
  rc::prop("under any fetches, appends, shrinks and expansions", [] {
    LeaderState s(LeaderInit{BrokerId(0), ids({0, 1, 2}), ids({0, 1, 2}), LeaderEpoch(1),
                             Offset(*rc::gen::inRange(0, 20)), Offset(0), 0});
    std::array<Offset, 3> follower_leo{Offset(0), Offset(0), Offset(0)};
    std::int64_t now = 0;
    const int steps = *rc::gen::inRange(1, 60);
    for (int i = 0; i < steps; ++i) {
      const Offset hw_before = s.high_watermark();
      switch (*rc::gen::inRange(0, 5)) {
        case 0: s.on_append(s.log_end_offset() + *rc::gen::inRange(0, 5)); break;
        case 1: {
          const int f = *rc::gen::inRange(1, 3);
          const auto leo = s.log_end_offset().value();
          follower_leo[f] = Offset(*rc::gen::inRange<std::int64_t>(follower_leo[f].value(), leo + 1));
          s.on_follower_fetch(BrokerId(f), follower_leo[f], now);
          if (s.can_join_isr(BrokerId(f))) {
            auto isr = s.isr();
            isr.push_back(BrokerId(f));
            s.set_isr(isr);
          }
          break;
        }
        case 2: now += *rc::gen::inRange(0, 20000); break;
        case 3: {
          const auto out = s.out_of_sync(now, 30000);
          auto isr = s.isr();
          std::erase_if(isr, [&](BrokerId b) {
            return std::find(out.begin(), out.end(), b) != out.end();
          });
          s.set_isr(isr);
          break;
        }
        default: break;
      }
      s.maybe_increment_high_watermark();
      RC_ASSERT(s.high_watermark() >= hw_before);
      RC_ASSERT(s.high_watermark() <= s.log_end_offset());
      for (BrokerId b : s.isr()) {
        if (b == s.self()) continue;
        const RemoteReplica* r = s.remote(b);
        // A member that joined by expansion was at the HW; the HW stays below
        // every member with a known offset.
        if (!r->log_end_offset.is_none()) RC_ASSERT(s.high_watermark() <= r->log_end_offset);
      }
    }
  });
}

TEST_CASE("KIP-320: requests name the leader epoch they believe current", "[broker][partition]") {
  CHECK(check_current_leader_epoch(LeaderEpoch::none(), LeaderEpoch(5)) == ErrorCode::none);
  CHECK(check_current_leader_epoch(LeaderEpoch(5), LeaderEpoch(5)) == ErrorCode::none);
  CHECK(check_current_leader_epoch(LeaderEpoch(4), LeaderEpoch(5)) == ErrorCode::fenced_leader_epoch);
  CHECK(check_current_leader_epoch(LeaderEpoch(6), LeaderEpoch(5)) == ErrorCode::unknown_leader_epoch);
}

TEST_CASE("OffsetsForLeaderEpoch answers and the follower's truncation (KIP-101, KIP-279)",
          "[broker][partition]") {
  log::LeaderEpochCache leader;
  leader.assign(0, 0);
  leader.assign(2, 10);
  leader.assign(5, 30);
  CHECK(leader_end_offset_for(leader, LeaderEpoch(2), Offset(40)).end_offset == Offset(30));
  CHECK(leader_end_offset_for(leader, LeaderEpoch(3), Offset(40)).leader_epoch == LeaderEpoch(2));
  CHECK(leader_end_offset_for(leader, LeaderEpoch(5), Offset(40)).end_offset == Offset(40));
  CHECK(leader_end_offset_for(leader, LeaderEpoch(6), Offset(40)).end_offset.is_none());
  CHECK(leader_end_offset_for_v0(leader, LeaderEpoch(3), Offset(40)).leader_epoch.is_none());

  // The follower led epoch 3 (offsets 20..25) that the leader never saw.
  log::LeaderEpochCache follower;
  follower.assign(0, 0);
  follower.assign(2, 10);
  follower.assign(3, 20);
  const auto answer = leader_end_offset_for(leader, LeaderEpoch(3), Offset(40));  // {2, 30}
  // Round 1: the follower's end for epoch 2 is 20: cut there; epochs agree.
  CHECK(follower_truncation(follower, Offset(26), Offset(5), answer) ==
        TruncationDecision{Offset(20), true});
  // v0 (KAFKA-6361): the answer has no epoch: the follower keeps 20..25.
  CHECK(follower_truncation(follower, Offset(26), Offset(5), answer, true) ==
        TruncationDecision{Offset(26), true});
  // KIP-279, two rounds: the follower led epoch 3 (10..14), the leader never
  // heard of it and led 2 (8..19) and 4. Round 1 answers {2, 20}; the
  // follower's largest epoch <= 2 is 0, ending at 10: cut to 10, ask again.
  log::LeaderEpochCache f2, l2;
  f2.assign(0, 0);
  f2.assign(3, 10);
  l2.assign(0, 0);
  l2.assign(2, 8);
  l2.assign(4, 20);
  const auto round1 = leader_end_offset_for(l2, LeaderEpoch(3), Offset(25));
  CHECK(round1.leader_epoch == LeaderEpoch(2));
  CHECK(follower_truncation(f2, Offset(15), Offset(5), round1) == TruncationDecision{Offset(10), false});
  f2.truncate_from_end(10);
  const auto round2 = leader_end_offset_for(l2, LeaderEpoch(0), Offset(25));  // {0, 8}
  CHECK(follower_truncation(f2, Offset(10), Offset(5), round2) == TruncationDecision{Offset(8), true});
  // An epoch older than every entry: everything of that log is newer.
  CHECK(end_offset_for(l2, LeaderEpoch(-0), Offset(25)).end_offset == Offset(8));
  log::LeaderEpochCache late;
  late.assign(3, 40);
  CHECK(end_offset_for(late, LeaderEpoch(1), Offset(50)).end_offset == Offset(40));
  CHECK(end_offset_for(late, LeaderEpoch(1), Offset(50)).leader_epoch == LeaderEpoch(1));
  // The leader knows no end: Kafka's pre-KIP-101 fallback, the local HW.
  CHECK(follower_truncation(follower, Offset(26), Offset(5), EpochEndOffset{}) ==
        TruncationDecision{Offset(5), true});
}

// --- a replication model ----------------------------------------------------------------

namespace {

struct Switches {
  bool truncate_to_high_watermark = false;
  bool offsets_for_leader_epoch_v0 = false;
  bool isr_expand_below_epoch_start = false;
};

struct Rec {
  std::int32_t epoch;
  std::int64_t id;
};

enum class Role { leader, truncating, fetching };

struct Replica {
  bool alive = true;
  Role role = Role::fetching;
  std::vector<Rec> log;
  log::LeaderEpochCache epochs;
  std::int64_t hw = 0;
  std::int64_t leo() const { return static_cast<std::int64_t>(log.size()); }
  void truncate(std::int64_t to) {
    if (to >= leo()) return;
    log.resize(static_cast<std::size_t>(to));
    epochs.truncate_from_end(to);
    hw = std::min(hw, to);
  }
};

// Operations of a run (also written out by hand for the legacy cases).
struct Produce { int records; };
struct Fetch { int follower; int max_records; };
struct Tick { int ms; };
struct Crash { int node; bool quick; };  // quick: back before the controller notices
struct Restart { int node; };
struct Elect { int node; };  // preferred / controlled move of leadership
using Op = std::variant<Produce, Fetch, Tick, Crash, Restart, Elect>;

std::string show(const Op& op) {
  return std::visit(
      [](const auto& o) -> std::string {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, Produce>) return "produce " + std::to_string(o.records);
        else if constexpr (std::is_same_v<T, Fetch>)
          return "fetch " + std::to_string(o.follower) + " max " + std::to_string(o.max_records);
        else if constexpr (std::is_same_v<T, Tick>) return "tick " + std::to_string(o.ms);
        else if constexpr (std::is_same_v<T, Crash>)
          return std::string(o.quick ? "quick " : "") + "crash " + std::to_string(o.node);
        else if constexpr (std::is_same_v<T, Restart>) return "restart " + std::to_string(o.node);
        else return "elect " + std::to_string(o.node);
      },
      op);
}

class Cluster {
 public:
  static constexpr int k_nodes = 3;
  static constexpr std::int64_t k_lag_max_ms = 30000;

  explicit Cluster(Switches sw) : sw_(sw) {
    isr_ = {0, 1, 2};
    become_leader(0);
  }

  void apply(const Op& op) {
    std::visit([this](const auto& o) { step(o); }, op);
    check();
  }
  const std::string& violation() const { return violation_; }
  const std::map<std::int64_t, std::int64_t>& acked() const { return acked_; }

 private:
  bool in_isr(int n) const { return std::find(isr_.begin(), isr_.end(), n) != isr_.end(); }
  bool has_leader() const { return leader_ >= 0; }

  void set_isr(std::vector<int> isr) {
    std::sort(isr.begin(), isr.end());
    isr_ = std::move(isr);
    if (!has_leader()) return;
    std::vector<BrokerId> b;
    for (int n : isr_) b.emplace_back(n);
    state_->set_isr(b);
    advance_hw();
  }

  void become_leader(int n) {
    leader_ = n;
    epoch_ += 1;
    Replica& r = rs_[n];
    r.role = Role::leader;
    r.epochs.assign(epoch_, r.leo());
    std::vector<BrokerId> isr;
    for (int m : isr_) isr.emplace_back(m);
    state_.emplace(LeaderInit{BrokerId(n), {BrokerId(0), BrokerId(1), BrokerId(2)}, isr,
                              LeaderEpoch(epoch_), Offset(r.leo()), Offset(r.hw), now_ms_});
    for (int m = 0; m < k_nodes; ++m)
      if (m != n && rs_[m].alive) become_follower(m);
  }

  void become_follower(int n) {
    Replica& r = rs_[n];
    if (sw_.truncate_to_high_watermark) {  // before KIP-101 (KAFKA-1211)
      r.truncate(r.hw);
      r.role = Role::fetching;
    } else {
      r.role = Role::truncating;
    }
  }

  // The controller: a new leader from the live ISR, in replica order.
  void elect_offline() {
    leader_ = -1;
    state_.reset();
    std::vector<int> live;
    for (int n : isr_)
      if (rs_[n].alive) live.push_back(n);
    if (live.empty()) return;  // offline until an ISR member returns
    isr_ = live;
    become_leader(live.front());
  }

  void step(const Produce& p) {
    if (!has_leader()) return;
    Replica& l = rs_[leader_];
    for (int i = 0; i < p.records; ++i) l.log.push_back({epoch_, next_id_++});
    state_->on_append(Offset(l.leo()));
    advance_hw();
  }

  void step(const Fetch& f) {
    Replica& r = rs_[f.follower];
    if (!has_leader() || f.follower == leader_ || !r.alive) return;
    Replica& l = rs_[leader_];
    if (r.role == Role::truncating) return truncation_round(r, l);
    if (r.leo() > l.leo()) {  // OFFSET_OUT_OF_RANGE: cut to the leader's end
      r.truncate(l.leo());
      return;
    }
    const std::int64_t from = r.leo();
    state_->on_follower_fetch(BrokerId(f.follower), Offset(from), now_ms_);
    if (state_->can_join_isr(BrokerId(f.follower), sw_.isr_expand_below_epoch_start)) {
      auto isr = isr_;
      isr.push_back(f.follower);
      set_isr(isr);
    }
    advance_hw();
    const std::int64_t to = std::min(l.leo(), from + f.max_records);
    for (std::int64_t o = from; o < to; ++o) {
      const Rec rec = l.log[static_cast<std::size_t>(o)];
      r.log.push_back(rec);
      r.epochs.assign(rec.epoch, o);
    }
    // ReplicaFetcherThread.processPartitionData: the leader's HW, clamped to
    // the follower's log (Log.updateHighWatermark); it may go back.
    r.hw = std::min(state_->high_watermark().value(), r.leo());
  }

  void truncation_round(Replica& r, const Replica& l) {
    const auto latest = r.epochs.latest();
    if (!latest) {
      r.truncate(r.hw);
      r.role = Role::fetching;
      return;
    }
    const LeaderEpoch asked(latest->epoch);
    const EpochEndOffset answer =
        sw_.offsets_for_leader_epoch_v0
            ? leader_end_offset_for_v0(l.epochs, asked, Offset(l.leo()))
            : leader_end_offset_for(l.epochs, asked, Offset(l.leo()));
    const TruncationDecision d = follower_truncation(r.epochs, Offset(r.leo()), Offset(r.hw), answer,
                                                     sw_.offsets_for_leader_epoch_v0);
    r.truncate(d.offset.value());
    if (d.done) r.role = Role::fetching;
  }

  void step(const Tick& t) {
    now_ms_ += t.ms;
    if (!has_leader()) return;
    const auto out = state_->out_of_sync(now_ms_, k_lag_max_ms);
    if (out.empty()) return;
    auto isr = isr_;
    std::erase_if(isr, [&](int n) {
      return std::find(out.begin(), out.end(), BrokerId(n)) != out.end();
    });
    set_isr(isr);
  }

  void step(const Crash& c) {
    Replica& r = rs_[c.node];
    if (!r.alive) return;
    r.alive = false;
    if (c.node == leader_) {
      auto isr = isr_;
      std::erase(isr, c.node);
      isr_ = isr;
      elect_offline();
    } else if (!c.quick && in_isr(c.node)) {
      auto isr = isr_;
      std::erase(isr, c.node);
      set_isr(isr);
    }
  }

  void step(const Restart& s) {
    Replica& r = rs_[s.node];
    if (r.alive) return;
    r.alive = true;
    if (!has_leader()) {
      if (in_isr(s.node)) become_leader(s.node);
      else r.role = Role::fetching;  // waits for a leader
      return;
    }
    become_follower(s.node);
  }

  void step(const Elect& e) {
    if (!has_leader() || e.node == leader_ || !rs_[e.node].alive || !in_isr(e.node)) return;
    const int old = leader_;
    become_leader(e.node);
    (void)old;
  }

  // The leader's HW moved: those records are acknowledged (acks=all).
  void advance_hw() {
    if (!has_leader()) return;
    Replica& l = rs_[leader_];
    state_->maybe_increment_high_watermark();
    const std::int64_t hw = state_->high_watermark().value();
    for (std::int64_t o = l.hw; o < hw; ++o) {
      const std::int64_t id = l.log[static_cast<std::size_t>(o)].id;
      auto [it, fresh] = acked_.try_emplace(o, id);
      if (!fresh && it->second != id && violation_.empty())
        violation_ = "acknowledged offset " + std::to_string(o) + " was acknowledged again with another record";
    }
    l.hw = std::max(l.hw, hw);
  }

  void check() {
    if (!violation_.empty()) return;
    for (int n = 0; n < k_nodes; ++n) {
      const Replica& r = rs_[n];
      for (std::int64_t o = 0; o < r.hw; ++o) {
        auto it = acked_.find(o);
        if (o >= r.leo() || it == acked_.end() || r.log[static_cast<std::size_t>(o)].id != it->second) {
          violation_ = "replica " + std::to_string(n) + " diverges below its high watermark at " +
                       std::to_string(o);
          return;
        }
      }
    }
    if (!has_leader()) return;
    const Replica& l = rs_[leader_];
    for (const auto& [o, id] : acked_) {
      if (o >= l.leo() || l.log[static_cast<std::size_t>(o)].id != id) {
        violation_ = "leader " + std::to_string(leader_) + " lost acknowledged offset " + std::to_string(o);
        return;
      }
    }
  }

  Switches sw_;
  std::array<Replica, k_nodes> rs_;
  std::vector<int> isr_;
  int leader_ = -1;
  std::int32_t epoch_ = -1;
  std::optional<LeaderState> state_;
  std::int64_t now_ms_ = 0;
  std::int64_t next_id_ = 1;
  std::map<std::int64_t, std::int64_t> acked_;
  std::string violation_;
};

rc::Gen<Op> gen_op() {
  return rc::gen::oneOf(
      rc::gen::map(rc::gen::inRange(1, 4), [](int n) { return Op{Produce{n}}; }),
      rc::gen::map(rc::gen::pair(rc::gen::inRange(0, 3), rc::gen::inRange(1, 4)),
                   [](auto p) { return Op{Fetch{p.first, p.second}}; }),
      rc::gen::map(rc::gen::pair(rc::gen::inRange(0, 3), rc::gen::inRange(1, 4)),
                   [](auto p) { return Op{Fetch{p.first, p.second}}; }),
      rc::gen::map(rc::gen::element(1000, 40000), [](int ms) { return Op{Tick{ms}}; }),
      rc::gen::map(rc::gen::pair(rc::gen::inRange(0, 3), rc::gen::arbitrary<bool>()),
                   [](auto p) { return Op{Crash{p.first, p.second}}; }),
      rc::gen::map(rc::gen::inRange(0, 3), [](int n) { return Op{Restart{n}}; }),
      rc::gen::map(rc::gen::inRange(0, 3), [](int n) { return Op{Elect{n}}; }));
}

std::string run(Switches sw, const std::vector<Op>& ops) {
  Cluster c(sw);
  for (const Op& op : ops) {
    c.apply(op);
    if (!c.violation().empty()) return c.violation();
  }
  return {};
}

}  // namespace

TEST_CASE("KIP-101: committed prefixes stay identical across leader changes and crashes",
          "[broker][partition][replication]") {
  // Each legacy switch is found by this property within about 1,000 to
  // 20,000 runs (KAFKA-7128 is the rarest); 20 x 100 runs keep it quick.
  for (int round = 0; round < 20; ++round)
  rc::prop("no acknowledged record lost, no replica diverging below its high watermark", [] {
    const auto ops = *rc::gen::container<std::vector<Op>>(gen_op());
    Cluster c(Switches{});
    for (const Op& op : ops) {
      c.apply(op);
      if (!c.violation().empty()) {
        std::ostringstream os;
        for (const Op& o : ops) os << show(o) << "; ";
        RC_FAIL(c.violation() + " after " + os.str());
      }
    }
  });
}

TEST_CASE("samsa.legacy.truncate.to.high.watermark loses a committed record (KAFKA-1211)",
          "[broker][partition][replication][zoo]") {
  // Leader 0 writes two records; 1 and 2 fetch them, the leader's HW moves
  // to 2 (acknowledged), the followers learn HW 1 only. Follower 1 restarts
  // quickly (still in the ISR) and, without KIP-101, cuts to its HW; the
  // leader dies before 1 fetches again; 2 is down: 1 becomes leader.
  const std::vector<Op> ops = {Fetch{1, 0}, Fetch{2, 0},  // followers check their (empty) logs
                               Produce{2}, Fetch{1, 1}, Fetch{2, 1}, Fetch{1, 1}, Fetch{2, 1},
                               Fetch{1, 0}, Fetch{2, 0},  // HW 2 at the leader; follower HW 1..2
                               Crash{2, true}, Crash{1, true}, Restart{1}, Crash{0, false}};
  Switches legacy;
  legacy.truncate_to_high_watermark = true;
  CHECK_FALSE(run(legacy, ops).empty());
  CHECK(run(Switches{}, ops).empty());
}

TEST_CASE("samsa.legacy.offsets.for.leader.epoch.v0 diverges after two fast leader changes (KAFKA-6361)",
          "[broker][partition][replication][zoo]") {
  // 0 writes offset 0 in epoch 0; 1 (empty) leads epoch 1 and writes its own
  // offset 0; 0 leads again (epoch 2). 1 asks for epoch 1's end: the leader's
  // largest epoch <= 1 is 0, ending at 1. Read as v0 (no epoch), 1 keeps its
  // own offset 0; with KIP-279 it sees epoch 0 and cuts to 0.
  const std::vector<Op> ops = {Produce{1}, Elect{1}, Produce{1}, Elect{0},
                               Fetch{1, 1}, Tick{40000}, Fetch{1, 1}};
  Switches legacy;
  legacy.offsets_for_leader_epoch_v0 = true;
  CHECK_FALSE(run(legacy, ops).empty());
  CHECK(run(Switches{}, ops).empty());
}

TEST_CASE("samsa.legacy.isr.expand.below.epoch.start loses a committed record (KAFKA-7128)",
          "[broker][partition][replication][zoo]") {
  // Offset 1 is committed with ISR {0, 1} after 2 fell behind (at 1). 0
  // dies; 1 leads epoch 1 from offset 2 with its lagging HW 1. 2 fetches at
  // 1 >= that HW: without KAFKA-7128's fix it rejoins the ISR below the
  // epoch start, and when 1 dies it becomes leader without offset 1.
  const std::vector<Op> ops = {Fetch{1, 0}, Fetch{2, 0}, Produce{1}, Fetch{1, 1}, Fetch{2, 1},
                               Fetch{1, 0}, Fetch{2, 0}, Produce{1}, Fetch{1, 1}, Tick{20000},
                               Fetch{1, 0}, Tick{20000}, Crash{0, false}, Fetch{2, 0}, Fetch{2, 0},
                               Crash{1, false}};
  Switches legacy;
  legacy.isr_expand_below_epoch_start = true;
  CHECK(run(legacy, ops) == "leader 2 lost acknowledged offset 1");
  CHECK(run(Switches{}, ops).empty());
}
