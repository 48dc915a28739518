#pragma once
// The group coordinator's state machine: Kafka 2.8's GroupCoordinator.scala
// and GroupMetadata.scala / MemberMetadata.scala, as a pure deterministic
// class. No fibers, no clock: every call takes the current time in ms, and
// advance(now) fires what Kafka's purgatories would (heartbeat expiry,
// DelayedJoin, InitialDelayedJoin). A JoinGroup or SyncGroup may be answered
// later (when the rebalance completes): every call appends the answers it
// produces, to its own request or to requests parked earlier, to `out`,
// each tagged with the RequestId the caller gave.
//
// Kept from Kafka: states Empty, PreparingRebalance, CompletingRebalance,
// Stable, Dead and their transitions; KIP-394 (a first JoinGroup without a
// member id, from a client that sets require_known_member_id (JoinGroup v4+),
// gets MEMBER_ID_REQUIRED and a generated id, pending until it rejoins or
// its session timeout passes); session.timeout.ms bounds
// (group.min/max.session.timeout.ms), rebalance timeout = the largest of the
// members', group.initial.rebalance.delay.ms for a group leaving Empty,
// group.max.size, the 5-minute join timeout of new members; protocol
// selection by votes over the protocols every member supports; fencing with
// ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS; committed
// offsets (offset commits outside group management with generation -1).
//
// Storing the group (GroupMetadataManager.storeGroup): with
// `GroupConfig::store_groups` the leader's SyncGroup that completes a
// rebalance, and a rebalance that leaves the group Empty, hand a
// `GroupStore` to the caller (`take_stores`), who appends the record and
// reports back with `group_stored`; until then the group stays
// CompletingRebalance and every SyncGroup waits, so no member learns an
// assignment whose generation is not in the log (a new coordinator loads
// that generation and bumps from it). Without it storeGroup succeeds at once.
//
// Likewise with store_groups a valid OffsetCommit changes nothing until the
// caller reports its append (`offsets_appended`, GroupMetadata's
// pendingOffsetCommits and onOffsetCommitAppend): OffsetFetch answers only
// offsets in the log, and of two appends for a partition the later one in
// the log wins whatever order they complete in.
//
// Not modelled (yet): static membership (group.instance.id, KIP-345: the id
// is accepted and kept, but members are treated as dynamic),
// transactional offset commits (group_service.h keeps them).
// Offset retention (expire_offsets) is Kafka 2.8's with KIP-211. Where Kafka iterates
// a hash map (leader choice after the leader leaves, ties in protocol
// votes) this class picks the smallest member id / protocol name.
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sim/runtime/bytes.h"
#include "sim/runtime/random.h"
#include "system/broker/group/offsets_records.h"
#include "system/protocol/errors.h"
#include "system/protocol/ids.h"

namespace samsa::broker::group {

using protocol::ErrorCode;
using protocol::GenerationId;
using TimeMs = std::int64_t;
// The caller's handle for one request, given back with its answer.
using RequestId = std::uint64_t;

// Kafka's broker keys (KafkaConfig) with their defaults.
struct GroupConfig {
  std::int32_t group_min_session_timeout_ms = 6000;
  std::int32_t group_max_session_timeout_ms = 1800000;
  std::int32_t group_initial_rebalance_delay_ms = 3000;
  std::int32_t group_max_size = std::numeric_limits<std::int32_t>::max();
  std::int32_t offsets_topic_num_partitions = 50;
  std::int32_t offset_metadata_max_bytes = 4096;
  // GroupCoordinator.NewMemberJoinTimeoutMs (not configurable in Kafka).
  std::int32_t new_member_join_timeout_ms = 5 * 60 * 1000;
  // samsa's: the caller stores group records (take_stores / group_stored)
  // and committed offsets (offsets_appended).
  bool store_groups = false;
};

// A group record to append (GroupMetadataManager.storeGroup), for the
// generation it describes.
struct GroupStore {
  std::string group_id;
  GenerationId generation{0};
  std::uint64_t id = 0;  // names this store in group_stored
  GroupMetadataValue value;
  bool operator==(const GroupStore&) const = default;
};

enum class GroupState { empty, preparing_rebalance, completing_rebalance, stable, dead };
// Kafka's names: "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead".
std::string_view to_string(GroupState s);

struct Protocol {
  std::string name;
  Bytes metadata;
  bool operator==(const Protocol&) const = default;
};

struct JoinRequest {
  std::string group_id;
  std::string member_id;  // "" for a first join
  std::optional<std::string> group_instance_id;
  // KafkaApis: JoinGroup v4+ without a group.instance.id (KIP-394).
  bool require_known_member_id = true;
  std::string client_id;
  std::string client_host;
  std::int32_t rebalance_timeout_ms = 0;
  std::int32_t session_timeout_ms = 0;
  std::string protocol_type;
  std::vector<Protocol> protocols;  // in the member's order of preference
};

struct JoinMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  Bytes metadata;
  bool operator==(const JoinMember&) const = default;
};

struct JoinResult {
  ErrorCode error = ErrorCode::none;
  GenerationId generation_id = GenerationId::none();
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::string leader_id;
  std::string member_id;
  std::vector<JoinMember> members;  // the leader's only, sorted by member id
};

struct SyncRequest {
  std::string group_id;
  GenerationId generation_id = GenerationId::none();
  std::string member_id;
  std::optional<std::string> protocol_type;  // v5+
  std::optional<std::string> protocol_name;  // v5+
  std::map<std::string, Bytes> assignments;  // the leader's only
};

struct SyncResult {
  ErrorCode error = ErrorCode::none;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  Bytes assignment;
};

struct Reply {
  RequestId request = 0;
  std::variant<JoinResult, SyncResult> result;
};
using Replies = std::vector<Reply>;

struct TopicPartitionKey {
  std::string topic;
  protocol::PartitionId partition{0};
  auto operator<=>(const TopicPartitionKey&) const = default;
};

struct CommittedOffset {
  protocol::Offset offset{0};
  protocol::LeaderEpoch leader_epoch = protocol::LeaderEpoch::none();
  std::string metadata;
  TimeMs commit_timestamp_ms = 0;
  // OffsetCommit v1-v4's per-commit expiry (v2-v4 retention_time_ms; the
  // record's value v1): when set it alone decides expiry.
  std::optional<TimeMs> expire_timestamp_ms;
  bool operator==(const CommittedOffset&) const = default;
};

struct OffsetCommitRequest {
  std::string group_id;
  GenerationId generation_id = GenerationId::none();  // -1: not using group management
  std::string member_id;
  std::vector<std::pair<TopicPartitionKey, CommittedOffset>> offsets;
};

struct LeaveResult {
  ErrorCode error = ErrorCode::none;
  std::vector<ErrorCode> members;  // per member id given, in order
};

struct MemberSummary {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  Bytes metadata;    // for the selected protocol, while Stable
  Bytes assignment;  // while Stable
};

struct GroupSummary {
  GroupState state = GroupState::dead;
  std::string protocol_type;
  std::string protocol_name;
  GenerationId generation_id{0};
  std::string leader_id;
  std::vector<MemberSummary> members;  // sorted by member id
};

// Which __consumer_offsets partitions this broker coordinates
// (GroupMetadataManager's owned and loading partitions).
enum class PartitionStatus { not_owned, loading, owned };

class GroupCoordinator {
 public:
  // Member ids are "<client.id>-<uuid>" with the uuid drawn from `random`.
  GroupCoordinator(GroupConfig config, sim::Random& random);

  const GroupConfig& config() const { return config_; }
  std::int32_t partition_for(std::string_view group_id) const;
  // Becoming a partition's coordinator is loading, then owned; losing it
  // unloads its groups (they go Dead; parked joins and syncs are answered
  // NOT_COORDINATOR, as GroupCoordinator.onGroupUnloaded does).
  void set_partition_status(std::int32_t partition, PartitionStatus status, Replies& out);

  void join_group(RequestId id, const JoinRequest& request, TimeMs now_ms, Replies& out);
  void sync_group(RequestId id, const SyncRequest& request, TimeMs now_ms, Replies& out);
  ErrorCode heartbeat(std::string_view group_id, std::string_view member_id,
                      GenerationId generation_id, TimeMs now_ms, Replies& out);
  LeaveResult leave_group(std::string_view group_id, const std::vector<std::string>& member_ids,
                          TimeMs now_ms, Replies& out);
  // One error per offset, in order. Applied at once unless store_groups.
  std::vector<ErrorCode> commit_offsets(const OffsetCommitRequest& request, TimeMs now_ms,
                                        Replies& out);
  // The committed offsets of the given partitions (all when nullopt); a
  // partition without one is absent (OffsetFetch answers -1 for it).
  std::pair<ErrorCode, std::map<TopicPartitionKey, CommittedOffset>> fetch_offsets(
      std::string_view group_id,
      const std::optional<std::vector<TopicPartitionKey>>& partitions) const;
  std::pair<ErrorCode, GroupSummary> describe_group(std::string_view group_id) const;
  // (group id, protocol type, state) of every group in owned partitions.
  std::pair<ErrorCode, std::vector<std::tuple<std::string, std::string, GroupState>>> list_groups() const;

  // Fires every deadline at or before `now_ms`, in deadline order.
  void advance(TimeMs now_ms, Replies& out);
  // The earliest pending deadline, if any: when to call advance next.
  std::optional<TimeMs> next_deadline_ms() const;

  // Offsets read back from __consumer_offsets when this broker takes over a
  // partition (GroupMetadataManager.loadGroupsAndOffsets): the group is
  // created Empty if it does not exist.
  void load_offsets(std::string_view group_id, const std::map<TopicPartitionKey, CommittedOffset>& offsets,
                    TimeMs now_ms);

  // The __consumer_offsets value GroupMetadataManager.storeGroup writes for
  // the group as it is now: Stable (after the leader's SyncGroup, with the
  // assignment) or Empty (a rebalance that ended with no members). nullopt
  // for an unknown group or one in the middle of a rebalance.
  std::optional<GroupMetadataValue> group_record(std::string_view group_id) const;
  // A group read back from __consumer_offsets (GroupMetadata.loadGroup and
  // GroupCoordinator.onGroupLoaded): Stable with its members, or Empty; every
  // member's session starts now.
  void load_group(std::string_view group_id, const GroupMetadataValue& value, TimeMs now_ms,
                  Replies& out);

  // GroupMetadataManager.cleanupGroupMetadata with
  // GroupMetadata.removeExpiredOffsets (KIP-211), over the groups of owned
  // partitions, in group id order: an offset with an expire timestamp (an
  // OffsetCommit v1-v4 with retention_time_ms) expires at that time, unless
  // its topic is subscribed; any other once `retention_ms`
  // (offsets.retention.minutes) has passed
  //  - for an Empty group, since the group became Empty (every offset);
  //  - for a group outside group management (no protocol type), since the
  //    offset's commit;
  //  - for a "consumer" group with members whose subscriptions parse, since
  //    the commit, and only for topics no member subscribes to;
  //  - never otherwise.
  // An Empty group left without offsets goes Dead and is removed. The
  // answer lists the tombstones to write: expired offsets, and the group's
  // metadata key when it went Dead after a generation > 0.
  struct ExpiredGroup {
    std::string group_id;
    std::vector<TopicPartitionKey> offsets;
    bool group_tombstone = false;
    bool operator==(const ExpiredGroup&) const = default;
  };
  std::vector<ExpiredGroup> expire_offsets(TimeMs now_ms, std::int64_t retention_ms);

  // The commit records of `offsets` were appended at log offset
  // `record_offset` (GroupMetadata.onOffsetCommitAppend): each becomes the
  // committed offset unless an append later in the log already did.
  void offsets_appended(std::string_view group_id,
                        const std::vector<std::pair<TopicPartitionKey, CommittedOffset>>& offsets,
                        std::int64_t record_offset);

  // The group records to append since the last call (store_groups only).
  std::vector<GroupStore> take_stores();
  // The append of `generation`'s record ended (GroupCoordinator.doSyncGroup's
  // storeGroup callback): on success the members parked in SyncGroup get
  // their assignments and the group is Stable; on an error they get the
  // error and the group rebalances. Ignored when the group moved on.
  // A store of a group unloaded meanwhile (even if loaded again since) is
  // ignored: it is told apart by `store.id`.
  void group_stored(const GroupStore& store, ErrorCode error, TimeMs now_ms, Replies& out);

  // GroupCoordinator.handleDeleteGroups, for each id in order: an Empty
  // group is deleted (it leaves memory at once: joins and commits that come
  // next see no group), and its answer lists the tombstones to append, its
  // offsets and (after a generation > 0) its metadata key, as
  // GroupMetadataManager.cleanupGroupMetadata writes them. A group with
  // members is NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND, one whose
  // partition this broker does not own NOT_COORDINATOR or
  // COORDINATOR_LOAD_IN_PROGRESS. Every deleted group waits for
  // `group_deleted`.
  struct DeletedGroup {
    std::string group_id;
    ErrorCode error = ErrorCode::none;
    std::vector<TopicPartitionKey> offsets;
    bool group_tombstone = false;
    bool operator==(const DeletedGroup&) const = default;
  };
  std::vector<DeletedGroup> delete_groups(const std::vector<std::string>& group_ids);
  // The append of a deleted group's tombstones ended. On an error the group
  // comes back as it was (Kafka 3.7's coordinator runtime reverts a failed
  // write), unless its partition was unloaded meanwhile (the next load reads
  // the log) or a group of that id was created since.
  void group_deleted(std::string_view group_id, ErrorCode error);

  // Any group in memory (loaded or created).
  bool has_groups() const { return !groups_.empty(); }

  // For tests and checkers.
  std::optional<GroupState> state(std::string_view group_id) const;
  std::optional<GenerationId> generation(std::string_view group_id) const;

 private:
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    std::int32_t rebalance_timeout_ms = 0;
    std::int32_t session_timeout_ms = 0;
    std::vector<Protocol> protocols;
    Bytes assignment;
    std::optional<RequestId> awaiting_join;  // a parked JoinGroup
    std::optional<RequestId> awaiting_sync;  // a parked SyncGroup
    bool is_new = false;
    // The DelayedHeartbeat: when it expires, and its place among equal times.
    std::optional<TimeMs> heartbeat_deadline_ms;
    std::uint64_t heartbeat_sequence = 0;
  };
  // DelayedJoin, or InitialDelayedJoin (delay_ms, remaining_ms as Kafka's).
  struct JoinTimer {
    TimeMs deadline_ms = 0;
    std::uint64_t sequence = 0;
    bool initial = false;
    std::int32_t delay_ms = 0;
    std::int32_t remaining_ms = 0;
  };
  struct Group {
    std::string group_id;
    GroupState state = GroupState::empty;
    TimeMs state_timestamp_ms = 0;
    GenerationId generation{0};
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::optional<std::string> leader_id;
    std::map<std::string, Member> members;
    std::map<std::string, int> supported_protocols;  // protocol -> members supporting it
    // KIP-394 pending member ids -> (expiry, sequence).
    std::map<std::string, std::pair<TimeMs, std::uint64_t>> pending;
    bool new_member_added = false;
    std::optional<JoinTimer> join_timer;
    std::map<TopicPartitionKey, CommittedOffset> offsets;
    // The log offset of each committed offset's record (-1: loaded).
    std::map<TopicPartitionKey, std::int64_t> offset_records;
    // The leader's assignment while its record is being stored.
    std::optional<std::map<std::string, Bytes>> storing;
    std::uint64_t storing_id = 0;
  };

  std::optional<ErrorCode> validate(std::string_view group_id, bool allow_empty_id) const;
  Group* find(std::string_view group_id);
  const Group* find(std::string_view group_id) const;
  Group& get_or_create(std::string_view group_id, TimeMs now_ms);
  std::string generate_member_id(const JoinRequest& r);

  void unknown_join(Group& g, RequestId id, const JoinRequest& r, TimeMs now_ms, Replies& out);
  void known_join(Group& g, RequestId id, const JoinRequest& r, TimeMs now_ms, Replies& out);
  void add_member_and_rebalance(Group& g, RequestId id, const JoinRequest& r,
                                const std::string& member_id, TimeMs now_ms, Replies& out);
  void update_member_and_rebalance(Group& g, Member& m, RequestId id, const JoinRequest& r,
                                   TimeMs now_ms, Replies& out);
  void maybe_prepare_rebalance(Group& g, TimeMs now_ms, Replies& out);
  void prepare_rebalance(Group& g, TimeMs now_ms, Replies& out);
  void try_complete_join(Group& g, TimeMs now_ms, Replies& out);
  void complete_join(Group& g, TimeMs now_ms, Replies& out);
  void fire_join_timer(Group& g, TimeMs now_ms, Replies& out);
  void remove_member_and_update_group(Group& g, const std::string& member_id, TimeMs now_ms,
                                      Replies& out);
  void remove_member(Group& g, const std::string& member_id);
  void propagate_assignment(Group& g, ErrorCode error, TimeMs now_ms, Replies& out);
  void reset_and_propagate_assignment_error(Group& g, ErrorCode error, TimeMs now_ms, Replies& out);
  void schedule_heartbeat(Member& m, TimeMs now_ms, std::int64_t timeout_ms);
  void expire_heartbeat(Group& g, const std::string& member_id, TimeMs now_ms, Replies& out);
  void transition(Group& g, GroupState to, TimeMs now_ms);
  std::string select_protocol(const Group& g) const;
  bool supports_protocols(const Group& g, const std::string& type,
                          const std::vector<Protocol>& protocols) const;
  JoinResult join_result_for(const Group& g, const Member& m) const;
  void unload(Group& g, Replies& out);
  std::optional<std::set<std::string>> subscribed_topics(const Group& g) const;
  GroupMetadataValue record_of(const Group& g, const std::map<std::string, Bytes>* assignments) const;
  void set_and_propagate_assignment(Group& g, const std::map<std::string, Bytes>& assignments, TimeMs now_ms,
                                    Replies& out);

  GroupConfig config_;
  sim::Random& random_;
  std::map<std::int32_t, PartitionStatus> partitions_;
  std::map<std::string, Group, std::less<>> groups_;
  std::uint64_t timer_sequence_ = 0;  // orders deadlines that fall on the same ms
  std::vector<GroupStore> stores_;
  // Deleted groups whose tombstones are being appended.
  std::map<std::string, Group, std::less<>> deleting_;
  std::uint64_t next_store_id_ = 1;
};

}  // namespace samsa::broker::group
