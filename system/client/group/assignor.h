#pragma once
// Partition assignors (partition.assignment.strategy): the group leader runs
// one over every member's subscription and sends the result in SyncGroup.
// The interface is Kafka's ConsumerPartitionAssignor; range and roundrobin
// compute exactly what Kafka's RangeAssignor and RoundRobinAssignor compute
// (without rack awareness, KIP-881: members here carry no rack, so Kafka
// would not use it either).
//
// Sticky ("sticky", StickyAssignor, KIP-54) and cooperative-sticky
// (CooperativeStickyAssignor, KIP-429) are further subclasses: they read
// Subscription::owned_partitions / generation_id (ConsumerProtocol v1/v2,
// already decoded) and cooperative-sticky answers
// supported_protocols() = {eager, cooperative}. make_assignor names them and
// returns nullptr until they exist.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "system/client/group/consumer_protocol.h"

namespace samsa::client::group {

inline constexpr std::string_view k_range = "range";
inline constexpr std::string_view k_roundrobin = "roundrobin";
inline constexpr std::string_view k_sticky = "sticky";
inline constexpr std::string_view k_cooperative_sticky = "cooperative-sticky";

// ConsumerPartitionAssignor.RebalanceProtocol.
enum class RebalanceProtocol { eager, cooperative };

// Member id -> its subscription. Ordered: iteration never depends on hashing.
using GroupSubscription = std::map<std::string, Subscription>;
// Member id -> its assignment; every member of the subscription is present.
using GroupAssignment = std::map<std::string, Assignment>;
// The cluster metadata an assignor sees: topic -> number of partitions
// (partitions are 0..n-1).
using PartitionCounts = std::map<std::string, std::int32_t>;

class Assignor {
 public:
  virtual ~Assignor() = default;
  // The protocol name in JoinGroup ("range", "roundrobin", ...).
  virtual std::string_view name() const = 0;
  virtual std::vector<RebalanceProtocol> supported_protocols() const {
    return {RebalanceProtocol::eager};
  }
  virtual std::int16_t version() const { return 0; }
  // The user data a member puts in its subscription (none for range and
  // roundrobin).
  virtual std::optional<Bytes> subscription_user_data(const std::set<std::string>& topics) const {
    (void)topics;
    return std::nullopt;
  }
  // Run by the leader. `metadata` may hold topics nobody subscribes to, and
  // lack topics somebody does (those are skipped, as Kafka skips topics
  // without metadata).
  virtual GroupAssignment assign(const PartitionCounts& metadata,
                                 const GroupSubscription& subscriptions) const = 0;
  // Told to every member when its SyncGroup answers.
  virtual void on_assignment(const Assignment& assignment, protocol::GenerationId generation_id) {
    (void)assignment;
    (void)generation_id;
  }
};

// Kafka's AbstractPartitionAssignor: keeps the subscribed topics that have
// partitions, runs assign_partitions, wraps the lists without user data.
class AbstractPartitionAssignor : public Assignor {
 public:
  GroupAssignment assign(const PartitionCounts& metadata,
                         const GroupSubscription& subscriptions) const final;

 protected:
  // Member id -> its partitions (every member present), from `partitions`:
  // only subscribed topics with at least one partition.
  virtual std::map<std::string, std::vector<TopicPartition>> assign_partitions(
      const PartitionCounts& partitions, const GroupSubscription& subscriptions) const = 0;
};

// RangeAssignor: for each topic, its partitions in order and its subscribers
// sorted (static members by group.instance.id first, then by member id); with
// n partitions and m subscribers the first n % m subscribers get n / m + 1
// consecutive partitions, the rest n / m. Each member's list is sorted by
// (topic, partition).
class RangeAssignor final : public AbstractPartitionAssignor {
 public:
  std::string_view name() const override { return k_range; }

 protected:
  std::map<std::string, std::vector<TopicPartition>> assign_partitions(
      const PartitionCounts& partitions, const GroupSubscription& subscriptions) const override;
};

// RoundRobinAssignor: all subscribed topic-partitions sorted by (topic,
// partition), dealt in turn to the members sorted as above, cycling on
// and skipping a member that does not subscribe to the partition's topic.
class RoundRobinAssignor final : public AbstractPartitionAssignor {
 public:
  std::string_view name() const override { return k_roundrobin; }

 protected:
  std::map<std::string, std::vector<TopicPartition>> assign_partitions(
      const PartitionCounts& partitions, const GroupSubscription& subscriptions) const override;
};

// The assignor for a protocol name; nullptr for a name not implemented (yet:
// sticky, cooperative-sticky) or unknown.
std::unique_ptr<Assignor> make_assignor(std::string_view name);

// Kafka's MemberInfo order: members with a group.instance.id first, by it;
// then by member id. Java compares strings by UTF-16 code units; for member
// ids (ASCII in Kafka's "<client.id>-<uuid>" form) that is byte order.
bool member_order_less(const std::pair<const std::string, Subscription>& a,
                       const std::pair<const std::string, Subscription>& b);

}  // namespace samsa::client::group
