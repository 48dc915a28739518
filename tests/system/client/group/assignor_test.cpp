// Range and RoundRobin compute what Kafka's RangeAssignor and
// RoundRobinAssignor compute: the seed's examples exactly, and the
// properties every assignment of theirs has.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <optional>

#include "system/client/group/assignor.h"

using namespace samsa;
using namespace samsa::client::group;
using samsa::protocol::PartitionId;

namespace {

GroupSubscription subscribe(std::initializer_list<std::pair<std::string, std::vector<std::string>>> ms) {
  GroupSubscription out;
  for (const auto& [member, topics] : ms) out[member].topics = topics;
  return out;
}

std::map<std::string, std::vector<std::string>> names(const GroupAssignment& a) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [member, assignment] : a) {
    auto& list = out[member];
    for (const auto& tp : assignment.partitions) list.push_back(to_string(tp));
  }
  return out;
}

using Names = std::map<std::string, std::vector<std::string>>;

}  // namespace

TEST_CASE("range: the seed's 10 partitions over C1-0, C2-0, C3-0", "[client][group]") {
  const auto a = RangeAssignor().assign({{"t", 10}}, subscribe({{"C2-0", {"t"}}, {"C3-0", {"t"}}, {"C1-0", {"t"}}}));
  CHECK(names(a) == Names{{"C1-0", {"t-0", "t-1", "t-2", "t-3"}},
                          {"C2-0", {"t-4", "t-5", "t-6"}},
                          {"C3-0", {"t-7", "t-8", "t-9"}}});
}

TEST_CASE("range: its weakness over many topics, the first members get every extra", "[client][group]") {
  // Two topics of 3 partitions, two members: C0 gets 4, C1 gets 2.
  const auto a = RangeAssignor().assign({{"t0", 3}, {"t1", 3}}, subscribe({{"C0", {"t0", "t1"}}, {"C1", {"t0", "t1"}}}));
  CHECK(names(a) == Names{{"C0", {"t0-0", "t0-1", "t1-0", "t1-1"}}, {"C1", {"t0-2", "t1-2"}}});
}

TEST_CASE("roundrobin: the seed's C0, C1, C2 over t0 and t1", "[client][group]") {
  const auto a = RoundRobinAssignor().assign(
      {{"t0", 3}, {"t1", 3}},
      subscribe({{"C0", {"t0", "t1"}}, {"C1", {"t0", "t1"}}, {"C2", {"t0", "t1"}}}));
  CHECK(names(a) == Names{{"C0", {"t0-0", "t1-0"}}, {"C1", {"t0-1", "t1-1"}}, {"C2", {"t0-2", "t1-2"}}});
}

TEST_CASE("roundrobin: the seed's unequal subscriptions", "[client][group]") {
  const auto a = RoundRobinAssignor().assign(
      {{"t0", 1}, {"t1", 2}, {"t2", 3}},
      subscribe({{"C0", {"t0"}}, {"C1", {"t0", "t1"}}, {"C2", {"t0", "t1", "t2"}}}));
  CHECK(names(a) == Names{{"C0", {"t0-0"}}, {"C1", {"t1-0"}}, {"C2", {"t1-1", "t2-0", "t2-1", "t2-2"}}});
}

TEST_CASE("assignors: every member present, topics without metadata skipped", "[client][group]") {
  for (auto name : {k_range, k_roundrobin}) {
    const auto assignor = make_assignor(name);
    REQUIRE(assignor != nullptr);
    CHECK(assignor->name() == name);
    const auto a = assignor->assign({{"t", 1}, {"unsubscribed", 5}, {"empty", 0}},
                                    subscribe({{"a", {"t", "missing", "empty"}}, {"b", {"t"}}, {"c", {}}}));
    CHECK(names(a) == Names{{"a", {"t-0"}}, {"b", {}}, {"c", {}}});
  }
  CHECK(make_assignor(k_sticky) == nullptr);
  CHECK(make_assignor(k_cooperative_sticky) == nullptr);
  CHECK(make_assignor("nope") == nullptr);
}

TEST_CASE("assignors order static members by group.instance.id first", "[client][group]") {
  auto subs = subscribe({{"a", {"t"}}, {"b", {"t"}}, {"z", {"t"}}});
  subs["z"].group_instance_id = "i1";
  const auto a = RangeAssignor().assign({{"t", 3}}, subs);
  CHECK(names(a) == Names{{"a", {"t-1"}}, {"b", {"t-2"}}, {"z", {"t-0"}}});
}

// ---- properties ------------------------------------------------------------

namespace {

struct Input {
  PartitionCounts metadata;
  GroupSubscription subscriptions;
};

// Up to 5 topics of 0..12 partitions (some left out of the metadata), up to
// 7 members each subscribing to a subset (or, with `equal`, all the same).
std::vector<std::string> gen_subset(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& n : names)
    if (*rc::gen::arbitrary<bool>()) out.push_back(n);
  return out;
}

Input gen_input(bool equal) {
  Input in;
  const auto topics = *rc::gen::inRange(1, 6);
  std::vector<std::string> names;
  for (int t = 0; t < topics; ++t) {
    names.push_back("t" + std::to_string(t));
    if (*rc::gen::inRange(0, 8) != 0) in.metadata[names.back()] = *rc::gen::inRange(0, 13);
  }
  const auto members = *rc::gen::inRange(1, 8);
  const auto common = gen_subset(names);
  for (int m = 0; m < members; ++m) {
    auto& s = in.subscriptions["member-" + std::to_string(*rc::gen::inRange(0, 100))];
    s.topics = equal ? common : gen_subset(names);
  }
  return in;
}

bool subscribes(const Subscription& s, const std::string& topic) {
  return std::find(s.topics.begin(), s.topics.end(), topic) != s.topics.end();
}

// Each check returns what is wrong, or nothing.
using Violation = std::optional<std::string>;

Violation each_partition_once_to_a_subscriber(const Input& in, const GroupAssignment& a) {
  std::map<TopicPartition, int> owners;
  for (const auto& [member, assignment] : a) {
    if (!in.subscriptions.count(member)) return "unknown member " + member;
    for (const auto& tp : assignment.partitions) ++owners[tp];
  }
  for (const auto& [topic, count] : in.metadata) {
    const bool subscribed = std::any_of(in.subscriptions.begin(), in.subscriptions.end(),
                                        [&](const auto& m) { return subscribes(m.second, topic); });
    for (std::int32_t p = 0; p < count; ++p) {
      const int n = owners.count({topic, PartitionId(p)}) ? owners[{topic, PartitionId(p)}] : 0;
      if (n != (subscribed ? 1 : 0)) return to_string({topic, PartitionId(p)}) + " has " + std::to_string(n) + " owners";
      owners.erase({topic, PartitionId(p)});
    }
  }
  if (!owners.empty()) return "assigned a partition that does not exist: " + to_string(owners.begin()->first);
  if (a.size() != in.subscriptions.size()) return std::string("a member is missing");
  return std::nullopt;
}

Violation only_subscribed_topics(const Input& in, const GroupAssignment& a) {
  for (const auto& [member, assignment] : a)
    for (const auto& tp : assignment.partitions)
      if (!in.subscriptions.count(member) || !subscribes(in.subscriptions.at(member), tp.topic))
        return member + " got " + to_string(tp) + " without subscribing";
  return std::nullopt;
}

Violation range_balanced_per_topic(const Input& in, const GroupAssignment& a) {
  for (const auto& [topic, count] : in.metadata) {
    std::vector<int> counts;
    for (const auto& [member, s] : in.subscriptions) {
      if (!subscribes(s, topic) || !a.count(member)) continue;
      const auto& ps = a.at(member).partitions;
      counts.push_back(static_cast<int>(std::count_if(ps.begin(), ps.end(), [&](const auto& tp) { return tp.topic == topic; })));
    }
    if (!counts.empty() && *std::max_element(counts.begin(), counts.end()) -
                                   *std::min_element(counts.begin(), counts.end()) > 1)
      return "topic " + topic + " is unbalanced";
  }
  return std::nullopt;
}

Violation balanced_overall(const Input&, const GroupAssignment& a) {
  std::vector<std::size_t> counts;
  for (const auto& [_, assignment] : a) counts.push_back(assignment.partitions.size());
  if (!counts.empty() && *std::max_element(counts.begin(), counts.end()) -
                                 *std::min_element(counts.begin(), counts.end()) > 1)
    return std::string("members' counts differ by more than 1");
  return std::nullopt;
}

void require(Violation v) {
  if (v) RC_FAIL(*v);
}

// Deliberately broken assignors: each check must catch its own (the
// "check the property fails" step, kept as a test).
class DuplicatingAssignor final : public AbstractPartitionAssignor {  // hands one partition out twice
 public:
  std::string_view name() const override { return "dup"; }
 protected:
  std::map<std::string, std::vector<TopicPartition>> assign_partitions(
      const PartitionCounts& p, const GroupSubscription& s) const override {
    auto out = RoundRobinAssignor().assign(p, s);
    std::map<std::string, std::vector<TopicPartition>> lists;
    for (auto& [m, a] : out) lists[m] = a.partitions;
    if (s.size() > 1 && !p.empty()) lists.rbegin()->second.push_back({p.begin()->first, PartitionId(0)});
    return lists;
  }
};
class GreedyAssignor final : public AbstractPartitionAssignor {  // all to the first member, subscribed or not
 public:
  std::string_view name() const override { return "greedy"; }
 protected:
  std::map<std::string, std::vector<TopicPartition>> assign_partitions(
      const PartitionCounts& p, const GroupSubscription& s) const override {
    std::map<std::string, std::vector<TopicPartition>> out;
    for (const auto& [m, _] : s) out[m];
    for (const auto& [topic, count] : p)
      for (std::int32_t i = 0; i < count; ++i) out.begin()->second.push_back({topic, PartitionId(i)});
    return out;
  }
};

}  // namespace

TEST_CASE("assignor properties", "[client][group]") {
  for (auto name : {k_range, k_roundrobin}) {
    rc::prop(std::string(name) + ": every subscribed partition goes to exactly one member", [name] {
      const Input in = gen_input(false);
      require(each_partition_once_to_a_subscriber(in, make_assignor(name)->assign(in.metadata, in.subscriptions)));
    });
    rc::prop(std::string(name) + ": no member gets a topic it did not subscribe to", [name] {
      const Input in = gen_input(false);
      require(only_subscribed_topics(in, make_assignor(name)->assign(in.metadata, in.subscriptions)));
    });
  }
  rc::prop("range: per topic, subscribers' counts differ by at most 1", [] {
    const Input in = gen_input(false);
    require(range_balanced_per_topic(in, RangeAssignor().assign(in.metadata, in.subscriptions)));
  });
  rc::prop("roundrobin with equal subscriptions: members' counts differ by at most 1", [] {
    const Input in = gen_input(true);
    require(balanced_overall(in, RoundRobinAssignor().assign(in.metadata, in.subscriptions)));
  });
}

TEST_CASE("the property checks catch broken assignors", "[client][group]") {
  Input in;
  in.metadata = {{"t0", 4}, {"t1", 2}};
  in.subscriptions = subscribe({{"a", {"t0"}}, {"b", {"t0", "t1"}}});
  Input equal = in;
  equal.subscriptions = subscribe({{"a", {"t0", "t1"}}, {"b", {"t0", "t1"}}});
  CHECK(each_partition_once_to_a_subscriber(in, DuplicatingAssignor().assign(in.metadata, in.subscriptions)));
  CHECK(only_subscribed_topics(in, GreedyAssignor().assign(in.metadata, in.subscriptions)));
  CHECK(range_balanced_per_topic(in, GreedyAssignor().assign(in.metadata, in.subscriptions)));
  CHECK(balanced_overall(equal, GreedyAssignor().assign(equal.metadata, equal.subscriptions)));
  // And they pass on the real ones.
  CHECK_FALSE(each_partition_once_to_a_subscriber(in, RangeAssignor().assign(in.metadata, in.subscriptions)));
  CHECK_FALSE(only_subscribed_topics(in, RoundRobinAssignor().assign(in.metadata, in.subscriptions)));
  CHECK_FALSE(balanced_overall(equal, RoundRobinAssignor().assign(equal.metadata, equal.subscriptions)));
}
