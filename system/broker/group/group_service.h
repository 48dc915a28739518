#pragma once
// The group coordinator as a broker actor (Kafka 2.8's GroupCoordinator
// wired by KafkaApis, with GroupMetadataManager's storage): it owns the pure
// GroupCoordinator of group_coordinator.h, serves the group APIs from the
// connection fibers, parks a JoinGroup or SyncGroup until the state machine
// answers it, drives the state machine's timers from the runtime clock, and
// keeps the groups' state in the internal __consumer_offsets topic:
//
//  - FindCoordinator answers the leader of the group's offsets partition,
//    creating the topic on first use (KafkaApis.getOrCreateInternalTopic:
//    offsets.topic.num.partitions, offsets.topic.replication.factor,
//    cleanup.policy=compact; COORDINATOR_NOT_AVAILABLE meanwhile).
//  - OffsetCommit appends the commit records to the group's partition with
//    offsets.commit.required.acks (acks=all) and answers only after the
//    append is committed (GroupMetadataManager.storeOffsets); only then are
//    they the group's committed offsets (the later record in the log wins);
//    an append that fails changes nothing and answers Kafka's mapped error.
//  - The leader's SyncGroup that completes a rebalance appends the group
//    record (storeGroup) before any member gets its assignment, and a
//    rebalance that empties the group appends the Empty record
//    (GroupCoordinator::take_stores / group_stored).
//  - When this broker becomes leader of an offsets partition (LeaderAndIsr)
//    the partition is loading (COORDINATOR_LOAD_IN_PROGRESS) while its log is
//    read from the start to the log end; the last record of each key wins
//    (tombstones delete); then it is owned.
//  - DeleteGroups deletes Empty groups: their offsets' and metadata's
//    tombstones are appended with acks=all and the answer waits for the
//    append (Kafka 3.7's GroupCoordinatorShard.deleteGroups, a coordinator
//    write; Kafka 2.8's cleanupGroupMetadata appended them with acks=0, so a
//    failover could bring a deleted group back).
//  - Every offsets.retention.check.interval.ms, offsets older than
//    offsets.retention.minutes expire as GroupCoordinator::expire_offsets
//    says; their tombstones (and an emptied group's) are appended. When it stops being leader the
//    partition's groups are unloaded (NOT_COORDINATOR).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>

#include "sim/runtime/runtime.h"
#include "system/broker/config.h"
#include "system/broker/group/group_coordinator.h"
#include "system/broker/handlers_admin.h"
#include "system/broker/replica_manager.h"
#include "system/protocol/typed_api.h"

namespace samsa::broker::group {

GroupConfig group_config(const BrokerConfig& c);

struct GroupServiceStats {
  std::uint64_t loads = 0;           // offsets partitions loaded
  std::uint64_t unloads = 0;         // offsets partitions given up
  std::uint64_t records_loaded = 0;  // __consumer_offsets records read while loading
  std::uint64_t appends = 0;         // appends to __consumer_offsets
  std::uint64_t append_failures = 0;
  std::uint64_t offsets_expired = 0;  // offsets removed by offsets.retention.minutes
  std::uint64_t groups_removed = 0;   // Dead groups whose metadata got a tombstone
  std::uint64_t groups_deleted = 0;   // by DeleteGroups (their tombstones committed)
};

class GroupService : public std::enable_shared_from_this<GroupService> {
 public:
  GroupService(sim::Runtime& rt, const BrokerConfig& config, std::shared_ptr<ReplicaManager> rm,
               std::shared_ptr<AdminContext> admin);
  GroupService(const GroupService&) = delete;
  GroupService& operator=(const GroupService&) = delete;

  // The fiber that fires the state machine's deadlines (heartbeat expiry,
  // DelayedJoin, InitialDelayedJoin) at their time on the runtime clock,
  // and every offsets.retention.check.interval.ms expires offsets
  // (offsets.retention.minutes, KIP-211) and writes their tombstones.
  void run_timers();
  // Compares this broker's leadership of the offsets partitions with what
  // the coordinator owns: loads the new ones, unloads the lost ones
  // (GroupCoordinator.onElection / onResignation). Called after every
  // LeaderAndIsr and StopReplica.
  void on_leadership_change();

  protocol::FindCoordinatorResponse find_coordinator(const protocol::RequestHeader& h,
                                                     const protocol::FindCoordinatorRequest& r);
  protocol::JoinGroupResponse join_group(const protocol::RequestHeader& h, const protocol::JoinGroupRequest& r);
  protocol::SyncGroupResponse sync_group(const protocol::RequestHeader& h, const protocol::SyncGroupRequest& r);
  protocol::HeartbeatResponse heartbeat(const protocol::RequestHeader& h, const protocol::HeartbeatRequest& r);
  protocol::LeaveGroupResponse leave_group(const protocol::RequestHeader& h, const protocol::LeaveGroupRequest& r);
  protocol::OffsetCommitResponse offset_commit(const protocol::RequestHeader& h,
                                               const protocol::OffsetCommitRequest& r);
  protocol::OffsetFetchResponse offset_fetch(const protocol::RequestHeader& h,
                                             const protocol::OffsetFetchRequest& r);
  protocol::DescribeGroupsResponse describe_groups(const protocol::RequestHeader& h,
                                                   const protocol::DescribeGroupsRequest& r);
  protocol::ListGroupsResponse list_groups(const protocol::RequestHeader& h, const protocol::ListGroupsRequest& r);
  protocol::DeleteGroupsResponse delete_groups(const protocol::RequestHeader& h,
                                               const protocol::DeleteGroupsRequest& r);

  // --- transactional offset commits (KIP-98, KIP-447; GroupCoordinator.handleTxnCommitOffsets) ---
  // Appends the offsets as a transactional batch of the producer to the
  // group's partition; they stay pending until the transaction's marker.
  protocol::TxnOffsetCommitResponse txn_offset_commit(const protocol::RequestHeader& h,
                                                      const protocol::TxnOffsetCommitRequest& r);
  // The marker of producer `id` was written to __consumer_offsets-`partition`
  // (GroupMetadataManager.handleTxnCompletion): its pending offsets there
  // become the groups' committed offsets (commit) or are dropped (abort).
  void complete_txn_offsets(std::int32_t partition, protocol::ProducerId id, bool commit);

  const GroupCoordinator& coordinator() const { return coordinator_; }
  const GroupServiceStats& stats() const { return stats_; }

 private:
  struct OffsetsPartition {
    bool leading = false;
    std::uint64_t generation = 0;  // bumped on every change: a load of an older one is dropped
  };

  TimeMs now_ms() { return sim::to_ms(rt_.now().since_epoch); }
  RequestId next_request() { return next_request_++; }
  // Hands answers to the requests parked for them; wakes the timer fiber.
  void deliver(Replies& out);
  Reply wait_reply(RequestId id);
  void load_partition(std::int32_t partition, std::uint64_t generation);
  // Appends records to the group's offsets partition and waits for acks;
  // the error as the group APIs report it (storeOffsets' mapping).
  // `base_offset`, when given, gets the batch's offset in the log.
  ErrorCode append(std::string_view group_id, Bytes batch, std::optional<std::int16_t> acks = std::nullopt,
                   std::int64_t* base_offset = nullptr);
  void expire_offsets();
  void store_group(GroupStore store);
  std::pair<ErrorCode, protocol::BrokerId> coordinator_for(std::string_view key);

  sim::Runtime& rt_;
  BrokerConfig config_;
  std::shared_ptr<ReplicaManager> rm_;
  std::shared_ptr<AdminContext> admin_;
  sim::Random random_;  // before coordinator_, which keeps a reference
  GroupCoordinator coordinator_;
  std::map<std::int32_t, OffsetsPartition> partitions_;
  // group -> producer id -> offsets of its open transaction.
  std::map<std::string, std::map<std::int64_t, std::map<TopicPartitionKey, CommittedOffset>>> pending_txn_offsets_;
  std::map<RequestId, Reply> ready_;
  sim::WaitQueue replies_;
  sim::WaitQueue timers_;
  // Group records being appended, by group: a deletion's tombstones go in
  // after them (else a reload would find the group after its tombstone).
  std::map<std::string, int, std::less<>> stores_in_flight_;
  sim::WaitQueue stores_done_;
  RequestId next_request_ = 1;
  GroupServiceStats stats_;
};

}  // namespace samsa::broker::group

namespace samsa::broker {
class Server;
namespace group {
// Adds FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// OffsetCommit, OffsetFetch, DescribeGroups, ListGroups and DeleteGroups to
// the table, and
// wraps LeaderAndIsr and StopReplica so that the offsets partitions this
// broker leads are loaded and unloaded after each.
void add_group_handlers(Server& server, std::shared_ptr<GroupService> groups);
}  // namespace group
}  // namespace samsa::broker
