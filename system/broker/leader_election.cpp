#include "system/broker/leader_election.h"

#include <algorithm>

namespace samsa::broker {

namespace {
bool contains(Replicas v, BrokerId x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}
}  // namespace

LeaderAndIsr LeaderAndIsr::new_leader_and_isr(BrokerId new_leader,
                                              std::vector<BrokerId> new_isr) const {
  return LeaderAndIsr{new_leader, leader_epoch.next(), std::move(new_isr), zk_version};
}

std::optional<BrokerId> offline_partition_leader(Replicas assignment,
                                                     Replicas isr,
                                                     const BrokerSet& live, bool allow_unclean) {
  for (auto id : assignment)
    if (live.count(id) && contains(isr, id)) return id;
  if (!allow_unclean) return std::nullopt;
  for (auto id : assignment)
    if (live.count(id)) return id;
  return std::nullopt;
}

std::optional<BrokerId> preferred_replica_leader(Replicas assignment,
                                                     Replicas isr,
                                                     const BrokerSet& live) {
  if (assignment.empty()) return std::nullopt;
  const auto id = assignment.front();
  if (live.count(id) && contains(isr, id)) return id;
  return std::nullopt;
}

std::optional<BrokerId> controlled_shutdown_leader(Replicas assignment,
                                                       Replicas isr,
                                                       const BrokerSet& live,
                                                       const BrokerSet& shutting_down) {
  for (auto id : assignment)
    if (live.count(id) && contains(isr, id) && !shutting_down.count(id)) return id;
  return std::nullopt;
}

std::optional<LeaderAndIsr> elect_for_offline(const LeaderAndIsr& current,
                                              Replicas assignment,
                                              const BrokerSet& live, bool allow_unclean) {
  const auto leader = offline_partition_leader(assignment, current.isr, live, allow_unclean);
  if (!leader) return std::nullopt;
  std::vector<BrokerId> isr;
  if (contains(current.isr, *leader)) {
    for (auto id : current.isr)
      if (live.count(id)) isr.push_back(id);
  } else {
    isr = {*leader};  // unclean: only the new leader is known to have its own log
  }
  return current.new_leader_and_isr(*leader, std::move(isr));
}

std::optional<LeaderAndIsr> elect_preferred(const LeaderAndIsr& current,
                                            Replicas assignment,
                                            const BrokerSet& live) {
  const auto leader = preferred_replica_leader(assignment, current.isr, live);
  if (!leader) return std::nullopt;
  return current.new_leader_and_isr(*leader, current.isr);
}

std::optional<LeaderAndIsr> elect_for_controlled_shutdown(const LeaderAndIsr& current,
                                                          Replicas assignment,
                                                          const BrokerSet& live,
                                                          const BrokerSet& shutting_down) {
  const auto leader = controlled_shutdown_leader(assignment, current.isr, live, shutting_down);
  if (!leader) return std::nullopt;
  std::vector<BrokerId> isr;
  for (auto id : current.isr)
    if (!shutting_down.count(id)) isr.push_back(id);
  return current.new_leader_and_isr(*leader, std::move(isr));
}

std::optional<LeaderAndIsr> initial_leader_and_isr(Replicas assignment,
                                                   const BrokerSet& live) {
  std::vector<BrokerId> isr;
  for (auto id : assignment)
    if (live.count(id)) isr.push_back(id);
  if (isr.empty()) return std::nullopt;
  const auto leader = isr.front();
  return LeaderAndIsr{leader, LeaderEpoch(0), std::move(isr), 0};
}

std::optional<LeaderAndIsr> remove_replica_from_isr(const LeaderAndIsr& current,
                                                    BrokerId replica) {
  if (!contains(current.isr, replica)) return std::nullopt;
  const BrokerId leader = current.leader == replica ? k_no_leader : current.leader;
  std::vector<BrokerId> isr;
  if (current.isr.size() == 1) {
    isr = current.isr;
  } else {
    for (auto id : current.isr)
      if (id != replica) isr.push_back(id);
  }
  return current.new_leader_and_isr(leader, std::move(isr));
}

std::string_view to_string(PartitionState s) {
  switch (s) {
    case PartitionState::new_partition: return "NewPartition";
    case PartitionState::online: return "OnlinePartition";
    case PartitionState::offline: return "OfflinePartition";
    case PartitionState::non_existent: return "NonExistentPartition";
  }
  return "?";
}

std::string_view to_string(ReplicaState s) {
  switch (s) {
    case ReplicaState::new_replica: return "NewReplica";
    case ReplicaState::online: return "OnlineReplica";
    case ReplicaState::offline: return "OfflineReplica";
    case ReplicaState::deletion_started: return "ReplicaDeletionStarted";
    case ReplicaState::deletion_successful: return "ReplicaDeletionSuccessful";
    case ReplicaState::deletion_ineligible: return "ReplicaDeletionIneligible";
    case ReplicaState::non_existent: return "NonExistentReplica";
  }
  return "?";
}

// The validPreviousStates of each target state.
bool is_valid_transition(PartitionState from, PartitionState to) {
  using P = PartitionState;
  switch (to) {
    case P::new_partition: return from == P::non_existent;
    case P::online:
    case P::offline: return from == P::new_partition || from == P::online || from == P::offline;
    case P::non_existent: return from == P::offline;
  }
  return false;
}

bool is_valid_transition(ReplicaState from, ReplicaState to) {
  using R = ReplicaState;
  switch (to) {
    case R::new_replica: return from == R::non_existent;
    case R::online:
    case R::offline:
      return from == R::new_replica || from == R::online || from == R::offline ||
             from == R::deletion_ineligible;
    case R::deletion_started: return from == R::offline;
    case R::deletion_successful: return from == R::deletion_started;
    case R::deletion_ineligible: return from == R::offline || from == R::deletion_started;
    case R::non_existent: return from == R::deletion_successful;
  }
  return false;
}

}  // namespace samsa::broker
