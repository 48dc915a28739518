#include "system/client/group/assignor.h"

#include <algorithm>

#include "sim/runtime/assert.h"

namespace samsa::client::group {

namespace {

using Member = const std::pair<const std::string, Subscription>*;

bool subscribes(const Subscription& s, const std::string& topic) {
  return std::find(s.topics.begin(), s.topics.end(), topic) != s.topics.end();
}

// The members in Kafka's MemberInfo order (Utils.sorted / Collections.sort).
std::vector<Member> sorted_members(const GroupSubscription& subscriptions) {
  std::vector<Member> members;
  for (const auto& entry : subscriptions) members.push_back(&entry);
  std::sort(members.begin(), members.end(),
            [](Member a, Member b) { return member_order_less(*a, *b); });
  return members;
}

std::map<std::string, std::vector<TopicPartition>> empty_lists(
    const GroupSubscription& subscriptions) {
  std::map<std::string, std::vector<TopicPartition>> out;
  for (const auto& [member, _] : subscriptions) out[member];
  return out;
}

}  // namespace

bool member_order_less(const std::pair<const std::string, Subscription>& a,
                       const std::pair<const std::string, Subscription>& b) {
  const auto& ia = a.second.group_instance_id;
  const auto& ib = b.second.group_instance_id;
  if (ia && ib) return *ia < *ib;
  if (ia || ib) return ia.has_value();
  return a.first < b.first;
}

GroupAssignment AbstractPartitionAssignor::assign(const PartitionCounts& metadata,
                                                  const GroupSubscription& subscriptions) const {
  PartitionCounts partitions;
  for (const auto& [_, s] : subscriptions)
    for (const auto& topic : s.topics) {
      auto it = metadata.find(topic);
      if (it != metadata.end() && it->second > 0) partitions[topic] = it->second;
    }
  GroupAssignment out;
  for (auto& [member, list] : assign_partitions(partitions, subscriptions))
    out[member].partitions = std::move(list);
  SAMSA_ASSERT(out.size() == subscriptions.size(), "an assignor left a member out");
  return out;
}

std::map<std::string, std::vector<TopicPartition>> RangeAssignor::assign_partitions(
    const PartitionCounts& partitions, const GroupSubscription& subscriptions) const {
  auto out = empty_lists(subscriptions);
  const std::vector<Member> members = sorted_members(subscriptions);
  for (const auto& [topic, count] : partitions) {
    std::vector<Member> consumers;
    for (Member m : members)
      if (subscribes(m->second, topic)) consumers.push_back(m);
    if (consumers.empty()) continue;
    const auto m = static_cast<std::int32_t>(consumers.size());
    const std::int32_t per_consumer = count / m;
    const std::int32_t with_extra = count % m;
    std::int32_t next = 0;
    for (std::int32_t i = 0; i < m; ++i) {
      const std::int32_t n = per_consumer + (i < with_extra ? 1 : 0);
      auto& list = out[consumers[static_cast<std::size_t>(i)]->first];
      for (std::int32_t p = next; p < next + n; ++p) list.push_back({topic, protocol::PartitionId(p)});
      next += n;
    }
    SAMSA_ASSERT(next == count);
  }
  // Topics are visited in name order, so every list is already sorted.
  return out;
}

std::map<std::string, std::vector<TopicPartition>> RoundRobinAssignor::assign_partitions(
    const PartitionCounts& partitions, const GroupSubscription& subscriptions) const {
  auto out = empty_lists(subscriptions);
  const std::vector<Member> members = sorted_members(subscriptions);
  if (members.empty()) return out;
  std::size_t next = 0;  // Kafka's CircularIterator over the sorted members
  for (const auto& [topic, count] : partitions) {  // sorted by topic name
    for (std::int32_t p = 0; p < count; ++p) {
      // Some member subscribes to `topic` (only subscribed topics are here),
      // so this stops within one lap.
      std::size_t skipped = 0;
      while (!subscribes(members[next]->second, topic)) {
        next = (next + 1) % members.size();
        SAMSA_ASSERT(++skipped <= members.size(), "no member subscribes to a listed topic");
      }
      out[members[next]->first].push_back({topic, protocol::PartitionId(p)});
      next = (next + 1) % members.size();
    }
  }
  return out;
}

std::unique_ptr<Assignor> make_assignor(std::string_view name) {
  if (name == k_range) return std::make_unique<RangeAssignor>();
  if (name == k_roundrobin) return std::make_unique<RoundRobinAssignor>();
  // k_sticky and k_cooperative_sticky: StickyAssignor and
  // CooperativeStickyAssignor belong here once written.
  return nullptr;
}

}  // namespace samsa::client::group
