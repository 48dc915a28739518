// The controller's elections and state machines (PartitionStateMachine,
// Election, ReplicaStateMachine of Kafka 2.8) as pure functions.
#include "system/broker/leader_election.h"

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>

using namespace samsa::broker;

namespace {
using V = std::vector<BrokerId>;
bool has(const V& v, BrokerId x) { return std::find(v.begin(), v.end(), x) != v.end(); }
// Plain numbers for readable cases.
V v(std::initializer_list<std::int32_t> xs) {
  V out;
  for (auto x : xs) out.emplace_back(x);
  return out;
}
BrokerSet s(std::initializer_list<std::int32_t> xs) {
  BrokerSet out;
  for (auto x : xs) out.emplace(x);
  return out;
}
BrokerId b(std::int32_t x) { return BrokerId(x); }
LeaderEpoch e(std::int32_t x) { return LeaderEpoch(x); }
LeaderAndIsr lai(std::int32_t leader, std::int32_t epoch, std::initializer_list<std::int32_t> isr,
                 std::int32_t zk_version) {
  return LeaderAndIsr{b(leader), e(epoch), v(isr), zk_version};
}
}  // namespace

TEST_CASE("offline election: first live ISR member in assignment order", "[broker][election]") {
  const V assignment = v({3, 1, 2});
  const LeaderAndIsr now = lai(3, 5, {3, 2, 1}, 7);
  auto r = elect_for_offline(now, assignment, s({1, 2}), false);
  REQUIRE(r);
  CHECK(r->leader == b(1));  // assignment order, not ISR order
  CHECK(r->leader_epoch == e(6));
  CHECK(r->isr == v({2, 1}));  // the live members of the ISR, in ISR order
  CHECK(r->zk_version == 7);   // the version to compare-and-set against
}

TEST_CASE("offline election: unclean only when allowed, with a new ISR of one",
          "[broker][election]") {
  const V assignment = v({1, 2, 3});
  const LeaderAndIsr now = lai(1, 2, {1}, 4);
  CHECK_FALSE(elect_for_offline(now, assignment, s({2, 3}), false));
  auto r = elect_for_offline(now, assignment, s({3, 2}), true);
  REQUIRE(r);
  CHECK(r->leader == b(2));
  CHECK(r->isr == v({2}));
  CHECK(r->leader_epoch == e(3));
  CHECK_FALSE(elect_for_offline(now, assignment, {}, true));
  // A clean candidate wins over an unclean one even when unclean is allowed.
  CHECK(elect_for_offline(lai(1, 2, {1, 3}, 4), assignment, s({2, 3}), true)->leader == b(3));
}

TEST_CASE("preferred and controlled-shutdown elections", "[broker][election]") {
  const V assignment = v({1, 2, 3});
  const LeaderAndIsr now = lai(2, 9, {2, 3, 1}, 1);
  auto p = elect_preferred(now, assignment, s({1, 2, 3}));
  REQUIRE(p);
  CHECK(p->leader == b(1));
  CHECK(p->isr == now.isr);
  CHECK(p->leader_epoch == e(10));
  CHECK_FALSE(elect_preferred(now, assignment, s({2, 3})));                   // preferred is down
  CHECK_FALSE(elect_preferred(lai(2, 9, {2, 3}, 1), assignment, s({1, 2, 3})));  // not in ISR

  auto sd = elect_for_controlled_shutdown(now, assignment, s({1, 2, 3}), s({2}));
  REQUIRE(sd);
  CHECK(sd->leader == b(1));
  CHECK(sd->isr == v({3, 1}));  // the broker shutting down leaves the ISR
  CHECK_FALSE(elect_for_controlled_shutdown(lai(2, 1, {2}, 0), assignment, s({1, 2, 3}), s({2})));
}

TEST_CASE("new partitions and offline replicas", "[broker][election]") {
  auto init = initial_leader_and_isr(v({4, 2, 3}), s({2, 3}));
  REQUIRE(init);
  CHECK(*init == lai(2, 0, {2, 3}, 0));
  CHECK_FALSE(initial_leader_and_isr(v({4}), s({2, 3})));

  const LeaderAndIsr now = lai(1, 3, {1, 2}, 5);
  auto gone = remove_replica_from_isr(now, b(1));
  REQUIRE(gone);
  CHECK(*gone == lai(-1, 4, {2}, 5));
  CHECK(*remove_replica_from_isr(now, b(2)) == lai(1, 4, {1}, 5));
  // The last ISR member stays in the ISR (it may lead again when it returns).
  CHECK(*remove_replica_from_isr(lai(2, 4, {2}, 6), b(2)) == lai(-1, 5, {2}, 6));
  CHECK_FALSE(remove_replica_from_isr(now, b(3)));
}

TEST_CASE("state machines: Kafka's valid previous states", "[broker][election]") {
  using P = PartitionState;
  CHECK(is_valid_transition(P::non_existent, P::new_partition));
  CHECK_FALSE(is_valid_transition(P::online, P::new_partition));
  CHECK(is_valid_transition(P::new_partition, P::online));
  CHECK(is_valid_transition(P::offline, P::online));
  CHECK(is_valid_transition(P::online, P::online));
  CHECK_FALSE(is_valid_transition(P::non_existent, P::online));
  CHECK(is_valid_transition(P::offline, P::non_existent));
  CHECK_FALSE(is_valid_transition(P::online, P::non_existent));
  using R = ReplicaState;
  CHECK(is_valid_transition(R::non_existent, R::new_replica));
  CHECK(is_valid_transition(R::deletion_ineligible, R::online));
  CHECK(is_valid_transition(R::offline, R::deletion_started));
  CHECK_FALSE(is_valid_transition(R::online, R::deletion_started));
  CHECK(is_valid_transition(R::deletion_successful, R::non_existent));
  CHECK(to_string(P::online) == "OnlinePartition");
  CHECK(to_string(R::deletion_ineligible) == "ReplicaDeletionIneligible");
}

namespace {

// A random partition: assignment of distinct brokers 0..5, an ISR drawn from
// it, a set of live brokers.
struct Case {
  V assignment;
  LeaderAndIsr state;
  BrokerSet live;
  bool unclean = false;
};

rc::Gen<Case> gen_case() {
  return rc::gen::exec([] {
    Case c;
    const auto n = *rc::gen::inRange<std::size_t>(1, 6);
    for (auto x : *rc::gen::unique<std::vector<std::int32_t>>(n, rc::gen::inRange<std::int32_t>(0, 6)))
      c.assignment.emplace_back(x);
    for (auto id : c.assignment)
      if (*rc::gen::arbitrary<bool>()) c.state.isr.push_back(id);
    if (c.state.isr.empty()) c.state.isr.push_back(c.assignment.front());
    c.state.leader = *rc::gen::elementOf(c.state.isr);
    c.state.leader_epoch = LeaderEpoch(*rc::gen::inRange<std::int32_t>(0, 1000));
    for (std::int32_t id = 0; id < 6; ++id)
      if (*rc::gen::arbitrary<bool>()) c.live.insert(BrokerId(id));
    c.unclean = *rc::gen::arbitrary<bool>();
    return c;
  });
}

}  // namespace

TEST_CASE("offline election: a new leader is live, in the ISR unless unclean election is on",
          "[broker][election][property]") {
  rc::prop("offline election", [] {
    const Case c = *gen_case();
    const auto r = elect_for_offline(c.state, c.assignment, c.live, c.unclean);
    const bool live_isr = std::any_of(c.state.isr.begin(), c.state.isr.end(),
                                      [&](auto id) { return c.live.count(id) > 0; });
    const bool live_replica = std::any_of(c.assignment.begin(), c.assignment.end(),
                                          [&](auto id) { return c.live.count(id) > 0; });
    RC_ASSERT(r.has_value() == (live_isr || (c.unclean && live_replica)));
    if (!r) return;
    RC_ASSERT(c.live.count(r->leader) == 1);
    RC_ASSERT(has(c.assignment, r->leader));
    if (live_isr) RC_ASSERT(has(c.state.isr, r->leader));  // clean whenever possible
    if (!c.unclean) RC_ASSERT(has(c.state.isr, r->leader));
    RC_ASSERT(has(r->isr, r->leader));
    for (auto id : r->isr) RC_ASSERT(c.live.count(id) == 1);
    RC_ASSERT(r->leader_epoch == c.state.leader_epoch.next());
  });
}

TEST_CASE("controller model: across crashes, returns, shutdowns and preferred elections the "
          "leader is in the ISR unless unclean election is on, and epochs strictly increase",
          "[broker][election][property]") {
  rc::prop("election sequences", [] {
    const Case c = *gen_case();
    LeaderAndIsr state = c.state;
    BrokerSet live(c.assignment.begin(), c.assignment.end());
    bool went_unclean = false;  // once unclean, the ISR may hold a replica behind the old one
    const auto steps = *rc::gen::inRange(1, 40);
    for (int i = 0; i < steps; ++i) {
      const auto broker = *rc::gen::elementOf(c.assignment);
      std::optional<LeaderAndIsr> next;
      switch (*rc::gen::inRange(0, 4)) {
        case 0:  // broker loss: OfflineReplica, then elect if leaderless
          live.erase(broker);
          next = remove_replica_from_isr(state, broker);
          if (next && next->leader == k_no_leader) {
            const bool clean = std::any_of(next->isr.begin(), next->isr.end(),
                                           [&](auto id) { return live.count(id) > 0; });
            if (auto e = elect_for_offline(*next, c.assignment, live, c.unclean)) {
              went_unclean |= !clean;
              next = e;
            }
          }
          break;
        case 1:  // the broker returns; a leaderless partition elects
          live.insert(broker);
          if (state.leader == k_no_leader)
            next = elect_for_offline(state, c.assignment, live, c.unclean);
          break;
        case 2:
          next = elect_preferred(state, c.assignment, live);
          break;
        default: {
          BrokerSet shutting{broker};
          next = elect_for_controlled_shutdown(state, c.assignment, live, shutting);
          break;
        }
      }
      if (!next) continue;
      RC_ASSERT(next->leader_epoch > state.leader_epoch);
      RC_ASSERT(!next->isr.empty());
      if (next->leader != k_no_leader) {
        RC_ASSERT(live.count(next->leader) == 1);
        RC_ASSERT(has(next->isr, next->leader));
        if (!c.unclean) RC_ASSERT(has(state.isr, next->leader));
      }
      if (!c.unclean) RC_ASSERT(!went_unclean);
      state = *next;
    }
  });
}
