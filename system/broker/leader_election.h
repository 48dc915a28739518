#pragma once
// The controller's state machines and leader elections as pure functions, as
// Kafka 2.8 has them (PartitionStateMachine.scala's
// PartitionLeaderElectionAlgorithms, Election.scala, ReplicaStateMachine.scala,
// kafka.api.LeaderAndIsr). No I/O: the controller reads partition state from
// the coordinator, calls these, and writes the result back with the zkVersion
// it read (compare-and-set).
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <vector>

#include "system/protocol/ids.h"

namespace samsa::broker {

using protocol::BrokerId;
using protocol::LeaderEpoch;

// LeaderAndIsr.NoLeader
inline constexpr BrokerId k_no_leader = BrokerId::none();

// A partition's leadership as stored in .../partitions/<p>/state, plus the
// znode's version for the next compare-and-set.
struct LeaderAndIsr {
  BrokerId leader = k_no_leader;
  LeaderEpoch leader_epoch{0};  // LeaderAndIsr.initialLeaderEpoch
  std::vector<BrokerId> isr;
  std::int32_t zk_version = 0;

  // Every change of leader or ISR by the controller bumps the leader epoch.
  LeaderAndIsr new_leader_and_isr(BrokerId new_leader, std::vector<BrokerId> new_isr) const;
  friend bool operator==(const LeaderAndIsr&, const LeaderAndIsr&) = default;
};

using BrokerSet = std::set<BrokerId>;
using Replicas = std::span<const BrokerId>;

// --- PartitionLeaderElectionAlgorithms ----------------------------------------
// The first replica in assignment order that is live and in the ISR; with
// unclean election, else the first live replica.
std::optional<BrokerId> offline_partition_leader(Replicas assignment,
                                                     Replicas isr,
                                                     const BrokerSet& live, bool allow_unclean);
// The preferred (first assigned) replica, if it is live and in the ISR.
std::optional<BrokerId> preferred_replica_leader(Replicas assignment,
                                                     Replicas isr,
                                                     const BrokerSet& live);
// The first live replica in the ISR that is not shutting down.
std::optional<BrokerId> controlled_shutdown_leader(Replicas assignment,
                                                       Replicas isr,
                                                       const BrokerSet& live,
                                                       const BrokerSet& shutting_down);

// --- Election: the new LeaderAndIsr, or nullopt when no leader can be chosen --
// Offline (broker loss, or a partition without leader): the ISR keeps its live
// members; an unclean leader starts a new ISR of itself alone.
std::optional<LeaderAndIsr> elect_for_offline(const LeaderAndIsr& current,
                                              Replicas assignment,
                                              const BrokerSet& live, bool allow_unclean);
std::optional<LeaderAndIsr> elect_preferred(const LeaderAndIsr& current,
                                            Replicas assignment,
                                            const BrokerSet& live);
// `live` includes the brokers shutting down; they leave the ISR.
std::optional<LeaderAndIsr> elect_for_controlled_shutdown(const LeaderAndIsr& current,
                                                          Replicas assignment,
                                                          const BrokerSet& live,
                                                          const BrokerSet& shutting_down);
// A new partition (NewPartition -> OnlinePartition): the first live assigned
// replica leads, every live assigned replica is in the ISR, epoch 0.
std::optional<LeaderAndIsr> initial_leader_and_isr(Replicas assignment,
                                                   const BrokerSet& live);
// ReplicaStateMachine's OfflineReplica transition: the replica leaves the ISR
// (unless it is the last member: Kafka keeps it, so that it can lead again
// when it returns), and the partition loses its leader if it led. nullopt
// when the replica is not in the ISR (nothing to write).
std::optional<LeaderAndIsr> remove_replica_from_isr(const LeaderAndIsr& current,
                                                    BrokerId replica);

// --- the state machines' states and legal transitions ---------------------------
enum class PartitionState : std::uint8_t { new_partition, online, offline, non_existent };
enum class ReplicaState : std::uint8_t {
  new_replica, online, offline, deletion_started, deletion_successful, deletion_ineligible,
  non_existent,
};
std::string_view to_string(PartitionState s);  // Kafka's names: "OnlinePartition"
std::string_view to_string(ReplicaState s);    // "OnlineReplica"
bool is_valid_transition(PartitionState from, PartitionState to);
bool is_valid_transition(ReplicaState from, ReplicaState to);

}  // namespace samsa::broker
