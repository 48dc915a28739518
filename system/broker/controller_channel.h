#pragma once
// What the controller tells brokers, and the batching of it (Kafka's
// ControllerBrokerRequestBatch and ControllerChannelManager). The controller
// adds partition states to a batch while it handles one event; the batch then
// becomes one LeaderAndIsr, one UpdateMetadata and one StopReplica request
// per broker, stamped with the controller's epoch and the receiving broker's
// epoch (KIP-380). A ControllerChannel queues them per broker and delivers
// them in order; the network implementation encodes Kafka's frames.
#include <functional>
#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "system/broker/leader_election.h"
#include "system/broker/zk_registration.h"
#include "system/protocol/errors.h"
#include "system/protocol/ids.h"

namespace samsa::broker {

using protocol::ControllerEpoch;
using protocol::PartitionId;

struct TopicPartition {
  std::string topic;
  PartitionId partition;
  friend auto operator<=>(const TopicPartition&, const TopicPartition&) = default;
};
std::string to_string(const TopicPartition& tp);  // "orders-3", Kafka's TopicPartition.toString

// Kafka's LeaderAndIsrPartitionState / UpdateMetadataPartitionState.
struct ControlPartitionState {
  TopicPartition tp;
  ControllerEpoch controller_epoch;  // the epoch of the controller that wrote the leadership
  BrokerId leader = k_no_leader;
  LeaderEpoch leader_epoch;
  std::vector<BrokerId> isr;
  std::int32_t zk_version = 0;
  std::vector<BrokerId> replicas;
  bool is_new = false;  // LeaderAndIsr only: the replica may be created
  friend bool operator==(const ControlPartitionState&, const ControlPartitionState&) = default;
};

// LeaderDuringDelete: UpdateMetadata's leader of a partition being deleted.
inline constexpr BrokerId k_leader_during_delete{-2};

struct LeaderAndIsrCommand {
  std::vector<ControlPartitionState> partitions;
  std::vector<BrokerInfo> live_leaders;  // endpoints of the leaders named above
};
struct UpdateMetadataCommand {
  std::vector<ControlPartitionState> partitions;
  std::vector<BrokerInfo> live_brokers;
};
struct StopReplicaPartition {
  TopicPartition tp;
  LeaderEpoch leader_epoch;  // LeaderAndIsr.EpochDuringDelete (-2) when deleting
  bool delete_partition = false;
  friend bool operator==(const StopReplicaPartition&, const StopReplicaPartition&) = default;
};
struct StopReplicaCommand {
  std::vector<StopReplicaPartition> partitions;
};

// What a broker answered for the partitions a StopReplica was deleting
// (TopicDeletionStopReplicaResponseReceived): each partition's error, or the
// request's error for all of them when the request itself was refused.
struct StopReplicaOutcome {
  BrokerId broker;
  std::vector<std::pair<TopicPartition, protocol::ErrorCode>> partitions;
};
using StopReplicaCallback = std::function<void(const StopReplicaOutcome&)>;

struct ControlRequest {
  BrokerId controller_id;
  ControllerEpoch controller_epoch;
  BrokerEpoch broker_epoch;  // the receiving broker's epoch as the controller knows it
  std::variant<LeaderAndIsrCommand, UpdateMetadataCommand, StopReplicaCommand> body;
  // A StopReplica that deletes partitions: called (never parking) with the
  // broker's answer. A request dropped with its broker's queue is never answered.
  StopReplicaCallback on_deleted;
};

// Per-broker queues of control requests (ControllerChannelManager). Calls
// never park: the controller's event loop must not wait on a slow broker.
class ControllerChannel {
 public:
  virtual ~ControllerChannel() = default;
  virtual void add_broker(const BrokerInfo& broker) = 0;
  // Drops the broker's queue (requests not yet sent are lost, as in Kafka).
  virtual void remove_broker(BrokerId id) = 0;
  virtual void send(BrokerId to, ControlRequest request) = 0;
  // The controller resigned: every queue goes.
  virtual void clear() = 0;
};

// ControllerBrokerRequestBatch: collects one event's requests, then sends.
class RequestBatch {
 public:
  // LeaderAndIsr for `brokers` (live ones only), and UpdateMetadata for the
  // partition to every live broker (addLeaderAndIsrRequestForBrokers).
  void add_leader_and_isr(const std::set<BrokerId>& brokers, const ControlPartitionState& state);
  void add_update_metadata(const std::set<BrokerId>& brokers, const ControlPartitionState& state);
  // An UpdateMetadata that carries the live brokers only.
  void add_update_metadata_brokers(const std::set<BrokerId>& brokers);
  void add_stop_replica(BrokerId broker, const StopReplicaPartition& p);
  bool empty() const;
  // Sends every collected request to the live brokers among its targets, in
  // Kafka's order (LeaderAndIsr, UpdateMetadata, StopReplica), and clears.
  // `on_deleted` goes with every StopReplica that deletes a partition.
  void send(ControllerChannel& channel, BrokerId controller_id, ControllerEpoch epoch,
            const std::map<BrokerId, BrokerInfo>& live, const StopReplicaCallback& on_deleted = {});

 private:
  std::map<BrokerId, std::map<TopicPartition, ControlPartitionState>> leader_and_isr_;
  std::map<BrokerId, std::map<TopicPartition, ControlPartitionState>> update_metadata_;
  std::map<BrokerId, std::map<TopicPartition, StopReplicaPartition>> stop_replica_;
};

}  // namespace samsa::broker
