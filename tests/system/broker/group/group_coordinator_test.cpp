// The group coordinator's state machine against Kafka 2.8's
// GroupCoordinator: the join / sync / heartbeat protocol step by step, and a
// RapidCheck state-machine test in which consumers join, sync, heartbeat,
// leave, crash and resend while time passes.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>
#include <rapidcheck/state.h>

#include <algorithm>
#include <map>
#include <set>

#include "system/broker/group/group_coordinator.h"

using namespace samsa;
using namespace samsa::broker::group;
using protocol::ErrorCode;
using protocol::GenerationId;
using protocol::PartitionId;

namespace {

constexpr const char* k_group = "g";

JoinRequest join_request(std::string member_id, std::vector<std::string> protocols = {"range"}) {
  JoinRequest r;
  r.group_id = k_group;
  r.member_id = std::move(member_id);
  r.client_id = "consumer";
  r.client_host = "/10.0.0.1";
  r.rebalance_timeout_ms = 10000;
  r.session_timeout_ms = 6000;
  r.protocol_type = "consumer";
  for (auto& p : protocols) r.protocols.push_back({p, Bytes{0x01}});
  return r;
}

// A coordinator that owns every __consumer_offsets partition.
struct Fixture {
  sim::Random random{42};
  GroupCoordinator gc;
  Replies out;
  RequestId next_id = 1;
  explicit Fixture(GroupConfig config = GroupConfig{}) : gc(config, random) {
    for (std::int32_t p = 0; p < gc.config().offsets_topic_num_partitions; ++p)
      gc.set_partition_status(p, PartitionStatus::owned, out);
  }
  // Sends a JoinGroup; returns its request id.
  RequestId join(const JoinRequest& r, TimeMs now) {
    const RequestId id = next_id++;
    gc.join_group(id, r, now, out);
    return id;
  }
  RequestId sync(const std::string& member, GenerationId gen, TimeMs now,
                 std::map<std::string, Bytes> assignments = {}) {
    SyncRequest r;
    r.group_id = k_group;
    r.member_id = member;
    r.generation_id = gen;
    r.assignments = std::move(assignments);
    const RequestId id = next_id++;
    gc.sync_group(id, r, now, out);
    return id;
  }
  // The answer to `id`, if it came (and forgets it).
  template <class T>
  std::optional<T> answer(RequestId id) {
    for (auto it = out.begin(); it != out.end(); ++it)
      if (it->request == id) {
        T r = std::get<T>(it->result);
        out.erase(it);
        return r;
      }
    return std::nullopt;
  }
  // A first member that has joined and synced: generation 1, Stable.
  std::string stable_single_member(TimeMs& now) {
    const auto required = answer<JoinResult>(join(join_request(""), now));
    const std::string id = required->member_id;
    const RequestId j = join(join_request(id), now);
    now += gc.config().group_initial_rebalance_delay_ms;
    gc.advance(now, out);
    const auto joined = answer<JoinResult>(j);
    REQUIRE(joined);
    REQUIRE(joined->error == ErrorCode::none);
    const auto synced = answer<SyncResult>(sync(id, joined->generation_id, now, {{id, Bytes{7}}}));
    REQUIRE(synced);
    REQUIRE(synced->error == ErrorCode::none);
    return id;
  }
};

}  // namespace

TEST_CASE("KIP-394: a first join gets MEMBER_ID_REQUIRED, then the initial delay, then generation 1",
          "[broker][group]") {
  Fixture f;
  const auto required = f.answer<JoinResult>(f.join(join_request(""), 0));
  REQUIRE(required);
  CHECK(required->error == ErrorCode::member_id_required);
  CHECK(required->member_id.rfind("consumer-", 0) == 0);
  CHECK(required->member_id.size() == std::string("consumer-").size() + 36);  // a UUID
  CHECK(f.gc.state(k_group) == GroupState::empty);

  const RequestId j = f.join(join_request(required->member_id), 100);
  CHECK(f.gc.state(k_group) == GroupState::preparing_rebalance);
  CHECK_FALSE(f.answer<JoinResult>(j));  // parked for group.initial.rebalance.delay.ms
  CHECK(f.gc.next_deadline_ms() == 3100);
  f.gc.advance(3099, f.out);
  CHECK_FALSE(f.answer<JoinResult>(j));
  f.gc.advance(3100, f.out);
  const auto joined = f.answer<JoinResult>(j);
  REQUIRE(joined);
  CHECK(joined->error == ErrorCode::none);
  CHECK(joined->generation_id == GenerationId(1));
  CHECK(joined->protocol_name == "range");
  CHECK(joined->leader_id == required->member_id);
  REQUIRE(joined->members.size() == 1);  // the leader gets everyone's metadata
  CHECK(joined->members[0].metadata == Bytes{0x01});
  CHECK(f.gc.state(k_group) == GroupState::completing_rebalance);

  const auto synced = f.answer<SyncResult>(f.sync(required->member_id, GenerationId(1), 3200,
                                                  {{required->member_id, Bytes{9, 9}}}));
  REQUIRE(synced);
  CHECK(synced->error == ErrorCode::none);
  CHECK(synced->assignment == Bytes{9, 9});
  CHECK(f.gc.state(k_group) == GroupState::stable);
}

TEST_CASE("members joining during the initial delay extend it; all get one generation", "[broker][group]") {
  Fixture f;
  JoinRequest old_client = join_request("");
  old_client.require_known_member_id = false;  // JoinGroup v0-v3: no KIP-394
  const RequestId a = f.join(old_client, 0);
  f.gc.advance(2000, f.out);
  const RequestId b = f.join(old_client, 2000);  // a new member during the delay
  f.gc.advance(3000, f.out);
  CHECK_FALSE(f.answer<JoinResult>(a));  // delayed once more (InitialDelayedJoin)
  f.gc.advance(6000, f.out);
  const auto ja = f.answer<JoinResult>(a), jb = f.answer<JoinResult>(b);
  REQUIRE(ja);
  REQUIRE(jb);
  CHECK(ja->generation_id == GenerationId(1));
  CHECK(jb->generation_id == GenerationId(1));
  CHECK(ja->leader_id == jb->leader_id);
  CHECK(ja->members.size() + jb->members.size() == 2);  // only the leader's answer lists them
}

TEST_CASE("a new member rebalances a stable group; the old generation is fenced", "[broker][group]") {
  Fixture f;
  TimeMs now = 0;
  const std::string first = f.stable_single_member(now);
  const auto required = f.answer<JoinResult>(f.join(join_request(""), now));
  const std::string second = required->member_id;
  const RequestId j2 = f.join(join_request(second), now);
  CHECK(f.gc.state(k_group) == GroupState::preparing_rebalance);
  // The first member learns of the rebalance from its heartbeat.
  CHECK(f.gc.heartbeat(k_group, first, GenerationId(1), now, f.out) == ErrorCode::rebalance_in_progress);
  CHECK(f.answer<SyncResult>(f.sync(first, GenerationId(1), now))->error == ErrorCode::rebalance_in_progress);
  const RequestId j1 = f.join(join_request(first), now);  // everyone in: completes at once
  const auto a = f.answer<JoinResult>(j1), b = f.answer<JoinResult>(j2);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->generation_id == GenerationId(2));
  CHECK(b->generation_id == GenerationId(2));
  CHECK(f.gc.heartbeat(k_group, first, GenerationId(1), now, f.out) == ErrorCode::illegal_generation);
  CHECK(f.answer<SyncResult>(f.sync(second, GenerationId(1), now))->error == ErrorCode::illegal_generation);
  // A follower's sync waits for the leader's.
  const std::string leader = a->leader_id, follower = leader == first ? second : first;
  const RequestId fs = f.sync(follower, GenerationId(2), now);
  CHECK_FALSE(f.answer<SyncResult>(fs));
  const RequestId ls = f.sync(leader, GenerationId(2), now, {{leader, Bytes{1}}, {follower, Bytes{2}}});
  CHECK(f.answer<SyncResult>(fs)->assignment == Bytes{2});
  CHECK(f.answer<SyncResult>(ls)->assignment == Bytes{1});
}

TEST_CASE("a member that stops heartbeating is removed after session.timeout.ms", "[broker][group]") {
  Fixture f;
  TimeMs now = 0;
  const std::string id = f.stable_single_member(now);
  CHECK(f.gc.heartbeat(k_group, id, GenerationId(1), now + 5000, f.out) == ErrorCode::none);
  f.gc.advance(now + 5000 + 5999, f.out);
  CHECK(f.gc.state(k_group) == GroupState::stable);
  f.gc.advance(now + 5000 + 6000, f.out);
  // Its session expired: the group rebalances to an empty generation 2.
  CHECK(f.gc.heartbeat(k_group, id, GenerationId(1), now + 12000, f.out) == ErrorCode::unknown_member_id);
  f.gc.advance(now + 30000, f.out);
  CHECK(f.gc.state(k_group) == GroupState::empty);
  CHECK(f.gc.generation(k_group) == GenerationId(2));
}

TEST_CASE("LeaveGroup removes the member and rebalances; unknown members are told so", "[broker][group]") {
  Fixture f;
  TimeMs now = 0;
  const std::string id = f.stable_single_member(now);
  const LeaveResult left = f.gc.leave_group(k_group, {id, "nobody"}, now, f.out);
  CHECK(left.error == ErrorCode::none);
  CHECK(left.members == std::vector<ErrorCode>{ErrorCode::none, ErrorCode::unknown_member_id});
  CHECK(f.gc.state(k_group) == GroupState::empty);  // nobody left to wait for
  CHECK(f.gc.generation(k_group) == GenerationId(2));
}

TEST_CASE("protocol selection and consistency", "[broker][group]") {
  Fixture f;
  JoinRequest a = join_request("", {"range", "roundrobin"});
  a.require_known_member_id = false;
  JoinRequest b = join_request("", {"roundrobin"});
  b.require_known_member_id = false;
  const RequestId ja = f.join(a, 0);
  const RequestId jb = f.join(b, 0);
  JoinRequest c = join_request("", {"sticky"});
  c.require_known_member_id = false;
  CHECK(f.answer<JoinResult>(f.join(c, 0))->error == ErrorCode::inconsistent_group_protocol);
  f.gc.advance(10000, f.out);
  CHECK(f.answer<JoinResult>(ja)->protocol_name == "roundrobin");  // the only common one
  CHECK(f.answer<JoinResult>(jb)->protocol_name == "roundrobin");
}

TEST_CASE("bad session timeouts, unknown members, other coordinators", "[broker][group]") {
  Fixture f;
  JoinRequest r = join_request("");
  r.session_timeout_ms = 1000;
  CHECK(f.answer<JoinResult>(f.join(r, 0))->error == ErrorCode::invalid_session_timeout);
  CHECK(f.answer<JoinResult>(f.join(join_request("ghost"), 0))->error == ErrorCode::unknown_member_id);
  JoinRequest no_group = join_request("");
  no_group.group_id = "";
  CHECK(f.answer<JoinResult>(f.join(no_group, 0))->error == ErrorCode::invalid_group_id);

  const std::int32_t p = f.gc.partition_for(k_group);
  f.gc.set_partition_status(p, PartitionStatus::loading, f.out);
  CHECK(f.answer<JoinResult>(f.join(join_request(""), 0))->error == ErrorCode::coordinator_load_in_progress);
  CHECK(f.answer<SyncResult>(f.sync("m", GenerationId(1), 0))->error == ErrorCode::rebalance_in_progress);
  CHECK(f.gc.heartbeat(k_group, "m", GenerationId(1), 0, f.out) == ErrorCode::none);  // answered blindly
  f.gc.set_partition_status(p, PartitionStatus::not_owned, f.out);
  CHECK(f.answer<JoinResult>(f.join(join_request(""), 0))->error == ErrorCode::not_coordinator);
}

TEST_CASE("losing the offsets partition answers parked joins NOT_COORDINATOR", "[broker][group]") {
  Fixture f;
  const auto required = f.answer<JoinResult>(f.join(join_request(""), 0));
  const RequestId j = f.join(join_request(required->member_id), 0);
  f.gc.set_partition_status(f.gc.partition_for(k_group), PartitionStatus::not_owned, f.out);
  CHECK(f.answer<JoinResult>(j)->error == ErrorCode::not_coordinator);
  CHECK_FALSE(f.gc.state(k_group).has_value());
}

TEST_CASE("offset commits: group members of the current generation, or outside group management",
          "[broker][group]") {
  Fixture f;
  TimeMs now = 0;
  const TopicPartitionKey tp{"t", PartitionId(0)};
  OffsetCommitRequest standalone;
  standalone.group_id = "standalone";
  standalone.offsets = {{tp, CommittedOffset{protocol::Offset(5), protocol::LeaderEpoch(1), "meta", 0}}};
  CHECK(f.gc.commit_offsets(standalone, 10, f.out) == std::vector<ErrorCode>{ErrorCode::none});
  const auto fetched = f.gc.fetch_offsets("standalone", std::nullopt);
  CHECK(fetched.first == ErrorCode::none);
  CHECK(fetched.second.at(tp).offset == protocol::Offset(5));
  CHECK(fetched.second.at(tp).commit_timestamp_ms == 10);
  CHECK(f.gc.fetch_offsets("nobody", std::nullopt).second.empty());

  const std::string id = f.stable_single_member(now);
  OffsetCommitRequest c;
  c.group_id = k_group;
  c.member_id = id;
  c.generation_id = GenerationId(1);
  c.offsets = {{tp, CommittedOffset{protocol::Offset(7), protocol::LeaderEpoch::none(), "", 0}}};
  CHECK(f.gc.commit_offsets(c, now, f.out) == std::vector<ErrorCode>{ErrorCode::none});
  c.generation_id = GenerationId(0);
  CHECK(f.gc.commit_offsets(c, now, f.out) == std::vector<ErrorCode>{ErrorCode::illegal_generation});
  c.generation_id = GenerationId(1);
  c.member_id = "stranger";
  CHECK(f.gc.commit_offsets(c, now, f.out) == std::vector<ErrorCode>{ErrorCode::unknown_member_id});
  c.member_id = id;
  c.offsets[0].second.metadata = std::string(5000, 'x');
  CHECK(f.gc.commit_offsets(c, now, f.out) == std::vector<ErrorCode>{ErrorCode::offset_metadata_too_large});
  CHECK(f.gc.fetch_offsets(k_group, std::vector<TopicPartitionKey>{tp}).second.at(tp).offset == protocol::Offset(7));
  // A generation that does not exist for a group that does not exist.
  OffsetCommitRequest stale = c;
  stale.group_id = "new-group";
  CHECK(f.gc.commit_offsets(stale, now, f.out) == std::vector<ErrorCode>{ErrorCode::illegal_generation});
}

namespace {

GroupConfig storing_config() {
  GroupConfig c;
  c.store_groups = true;
  return c;
}

// Two members in generation 1 of a group that stores its records; the
// leader's SyncGroup has been sent (its record is being stored).
struct StoringFixture : Fixture {
  StoringFixture() : Fixture(storing_config()) {
    const std::string a = answer<JoinResult>(join(join_request(""), now))->member_id;
    const std::string b = answer<JoinResult>(join(join_request(""), now))->member_id;
    const RequestId ja = join(join_request(a), now), jb = join(join_request(b), now);
    now += 10000;  // the initial delay, extended by the second member up to the rebalance timeout
    gc.advance(now, out);
    const auto joined = answer<JoinResult>(ja);
    REQUIRE(answer<JoinResult>(jb));
    REQUIRE(joined->generation_id == GenerationId(1));
    leader = joined->leader_id;
    follower = leader == a ? b : a;
    follower_sync = sync(follower, GenerationId(1), now);
    leader_sync = sync(leader, GenerationId(1), now, {{leader, Bytes{1}}, {follower, Bytes{2}}});
  }
  TimeMs now = 0;
  std::string leader, follower;
  RequestId follower_sync = 0, leader_sync = 0;
};

}  // namespace

TEST_CASE("storeGroup: no member learns its assignment before the group record is stored", "[broker][group]") {
  StoringFixture f;
  auto stores = f.gc.take_stores();
  REQUIRE(stores.size() == 1);
  CHECK(stores[0].generation == GenerationId(1));
  REQUIRE(stores[0].value.members.size() == 2);
  CHECK(f.gc.state(k_group) == GroupState::completing_rebalance);
  CHECK_FALSE(f.answer<SyncResult>(f.follower_sync));
  CHECK_FALSE(f.answer<SyncResult>(f.leader_sync));
  // A follower that syncs again meanwhile waits too.
  const RequestId again = f.sync(f.follower, GenerationId(1), f.now);
  CHECK_FALSE(f.answer<SyncResult>(again));
  f.gc.group_stored(stores[0], ErrorCode::none, f.now, f.out);
  CHECK(f.gc.state(k_group) == GroupState::stable);
  CHECK(f.answer<SyncResult>(again)->assignment == Bytes{2});
  CHECK(f.answer<SyncResult>(f.leader_sync)->assignment == Bytes{1});
}

TEST_CASE("storeGroup: a failed store answers the error and rebalances into the next generation",
          "[broker][group]") {
  StoringFixture f;
  auto stores = f.gc.take_stores();
  REQUIRE(stores.size() == 1);
  f.gc.group_stored(stores[0], ErrorCode::not_coordinator, f.now, f.out);
  CHECK(f.answer<SyncResult>(f.follower_sync)->error == ErrorCode::not_coordinator);
  CHECK(f.answer<SyncResult>(f.leader_sync)->error == ErrorCode::not_coordinator);
  CHECK(f.gc.state(k_group) == GroupState::preparing_rebalance);
}

TEST_CASE("storeGroup: the answer to a store from before a failover changes nothing after the reload",
          "[broker][group]") {
  StoringFixture f;
  const GroupStore old = f.gc.take_stores().at(0);
  // The partition moves away and back; the log has no record of the group
  // (the old append did not make it), so generation 1 comes again.
  const std::int32_t p = f.gc.partition_for(k_group);
  f.gc.set_partition_status(p, PartitionStatus::not_owned, f.out);
  CHECK(f.answer<SyncResult>(f.follower_sync)->error == ErrorCode::not_coordinator);
  CHECK(f.answer<SyncResult>(f.leader_sync)->error == ErrorCode::not_coordinator);
  f.gc.set_partition_status(p, PartitionStatus::owned, f.out);
  const std::string c = f.answer<JoinResult>(f.join(join_request(""), f.now))->member_id;
  const RequestId jc = f.join(join_request(c), f.now);
  f.now += f.gc.config().group_initial_rebalance_delay_ms;
  f.gc.advance(f.now, f.out);
  REQUIRE(f.answer<JoinResult>(jc)->generation_id == GenerationId(1));
  const RequestId sc = f.sync(c, GenerationId(1), f.now, {{c, Bytes{9}}});
  const auto fresh = f.gc.take_stores();
  REQUIRE(fresh.size() == 1);
  // The old append's late success must not hand out the new assignment.
  f.gc.group_stored(old, ErrorCode::none, f.now, f.out);
  CHECK_FALSE(f.answer<SyncResult>(sc));
  CHECK(f.gc.state(k_group) == GroupState::completing_rebalance);
  f.gc.group_stored(fresh[0], ErrorCode::none, f.now, f.out);
  CHECK(f.answer<SyncResult>(sc)->assignment == Bytes{9});
}

TEST_CASE("storeOffsets: a commit counts once appended; of two appends the later one in the log wins",
          "[broker][group]") {
  Fixture f(storing_config());
  const TopicPartitionKey tp{"t", PartitionId(0)};
  OffsetCommitRequest c;
  c.group_id = "standalone";
  c.offsets = {{tp, CommittedOffset{protocol::Offset(5), protocol::LeaderEpoch::none(), "", 0}}};
  REQUIRE(f.gc.commit_offsets(c, 0, f.out) == std::vector<ErrorCode>{ErrorCode::none});
  CHECK(f.gc.fetch_offsets("standalone", std::nullopt).second.empty());  // pending: not in the log yet
  auto later = c.offsets;
  later[0].second.offset = protocol::Offset(9);
  // The later commit's append (log offset 8) completes before the earlier one's (log offset 7).
  f.gc.offsets_appended("standalone", later, 8);
  f.gc.offsets_appended("standalone", c.offsets, 7);
  CHECK(f.gc.fetch_offsets("standalone", std::nullopt).second.at(tp).offset == protocol::Offset(9));
}

// ---- DeleteGroups ---------------------------------------------------------------

namespace {

std::vector<ErrorCode> errors_of(const std::vector<GroupCoordinator::DeletedGroup>& d) {
  std::vector<ErrorCode> out;
  for (const auto& x : d) out.push_back(x.error);
  return out;
}

OffsetCommitRequest standalone_commit(const std::string& group, const TopicPartitionKey& tp, std::int64_t offset) {
  OffsetCommitRequest c;
  c.group_id = group;
  c.offsets = {{tp, CommittedOffset{protocol::Offset(offset), protocol::LeaderEpoch::none(), "", 0}}};
  return c;
}

}  // namespace

TEST_CASE("DeleteGroups: only an Empty group is deleted, with tombstones for its offsets and (after generation 0) "
          "its metadata; others are NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, NOT_COORDINATOR, LOAD_IN_PROGRESS",
          "[broker][group]") {
  Fixture f;
  TimeMs now = 0;
  const TopicPartitionKey tp{"t", PartitionId(0)};
  const std::string id = f.stable_single_member(now);
  OffsetCommitRequest c = standalone_commit(k_group, tp, 7);
  c.member_id = id;
  c.generation_id = GenerationId(1);
  REQUIRE(f.gc.commit_offsets(c, now, f.out) == std::vector<ErrorCode>{ErrorCode::none});
  REQUIRE(f.gc.commit_offsets(standalone_commit("standalone", tp, 5), now, f.out)[0] == ErrorCode::none);

  CHECK(errors_of(f.gc.delete_groups({k_group, "nobody"})) ==
        std::vector<ErrorCode>{ErrorCode::non_empty_group, ErrorCode::group_id_not_found});
  CHECK(f.gc.state(k_group) == GroupState::stable);
  // While the only member leaves, the group rebalances (still not empty), then is Empty.
  f.gc.leave_group(k_group, {id}, now, f.out);
  REQUIRE(f.gc.state(k_group) == GroupState::empty);

  const auto deleted = f.gc.delete_groups({k_group, "standalone"});
  REQUIRE(deleted.size() == 2);
  CHECK(deleted[0] == GroupCoordinator::DeletedGroup{k_group, ErrorCode::none, {tp}, true});
  CHECK(deleted[1] == GroupCoordinator::DeletedGroup{"standalone", ErrorCode::none, {tp}, false});  // offsets only
  CHECK_FALSE(f.gc.state(k_group));
  CHECK(f.gc.fetch_offsets(k_group, std::nullopt).second.empty());
  CHECK(f.gc.describe_group(k_group).second.state == GroupState::dead);
  // Deleted until the tombstones are in, and after.
  CHECK(errors_of(f.gc.delete_groups({k_group})) == std::vector<ErrorCode>{ErrorCode::group_id_not_found});
  f.gc.group_deleted(k_group, ErrorCode::none);
  f.gc.group_deleted("standalone", ErrorCode::none);
  CHECK_FALSE(f.gc.state("standalone"));
  CHECK(f.gc.fetch_offsets("standalone", std::nullopt).second.empty());

  const std::int32_t p = f.gc.partition_for("elsewhere");
  f.gc.set_partition_status(p, PartitionStatus::loading, f.out);
  CHECK(errors_of(f.gc.delete_groups({"elsewhere"})) == std::vector<ErrorCode>{ErrorCode::coordinator_load_in_progress});
  f.gc.set_partition_status(p, PartitionStatus::not_owned, f.out);
  CHECK(errors_of(f.gc.delete_groups({"elsewhere"})) == std::vector<ErrorCode>{ErrorCode::not_coordinator});
}

TEST_CASE("DeleteGroups: a failed tombstone append brings the group back as it was, unless its partition was "
          "unloaded or the id was taken meanwhile",
          "[broker][group]") {
  Fixture f;
  const TopicPartitionKey tp{"t", PartitionId(3)};
  for (const char* g : {"a", "b", "c"})
    REQUIRE(f.gc.commit_offsets(standalone_commit(g, tp, 11), 0, f.out)[0] == ErrorCode::none);
  REQUIRE(errors_of(f.gc.delete_groups({"a", "b", "c"})) ==
          std::vector<ErrorCode>(3, ErrorCode::none));
  f.gc.group_deleted("a", ErrorCode::coordinator_not_available);
  CHECK(f.gc.fetch_offsets("a", std::nullopt).second.at(tp).offset == protocol::Offset(11));
  CHECK(f.gc.state("a") == GroupState::empty);
  // "b" is committed to anew before its deletion fails: the new group stays.
  REQUIRE(f.gc.commit_offsets(standalone_commit("b", tp, 20), 0, f.out)[0] == ErrorCode::none);
  f.gc.group_deleted("b", ErrorCode::not_coordinator);
  CHECK(f.gc.fetch_offsets("b", std::nullopt).second.at(tp).offset == protocol::Offset(20));
  // "c"'s partition moves away and back: the load, not the failed delete, says what exists.
  const std::int32_t p = f.gc.partition_for("c");
  f.gc.set_partition_status(p, PartitionStatus::not_owned, f.out);
  f.gc.set_partition_status(p, PartitionStatus::owned, f.out);
  f.gc.group_deleted("c", ErrorCode::not_coordinator);
  CHECK_FALSE(f.gc.state("c"));
}

// ---- the state-machine test --------------------------------------------------

namespace {

constexpr int k_clients = 4;
constexpr std::int32_t k_partitions = 6;

// A consumer as the test drives it: what it knows of its membership.
struct Client {
  std::string member_id;
  GenerationId generation = GenerationId::none();
  bool leader = false;
  std::vector<std::string> members;        // from the leader's JoinGroup answer
  std::optional<GenerationId> owned_generation;
  std::set<std::uint8_t> owned;            // the partitions of its last assignment
};

// What a request was sent with, to judge its answer.
struct Sent {
  int client = 0;
  std::uint64_t incarnation = 0;
  std::string member_id;
  GenerationId generation = GenerationId::none();
};

GroupConfig quick_config(bool store_groups) {
  GroupConfig c;
  c.group_initial_rebalance_delay_ms = 500;
  c.store_groups = store_groups;
  return c;
}

// A group record being appended; `stale` once the coordinator lost the
// partition (whether it reached the log was decided then).
struct PendingStore {
  GroupStore store;
  bool stale = false;
};

struct Sut {
  // `store_groups`: the test plays the log of __consumer_offsets.
  explicit Sut(bool store_groups = false) : store_mode(store_groups), gc(quick_config(store_groups), random) {
    Replies out;
    for (std::int32_t p = 0; p < gc.config().offsets_topic_num_partitions; ++p)
      gc.set_partition_status(p, PartitionStatus::owned, out);
  }
  bool store_mode = false;
  sim::Random random{7};
  GroupCoordinator gc;
  TimeMs now_ms = 0;
  std::array<Client, k_clients> clients;
  std::array<std::uint64_t, k_clients> incarnation{};
  std::map<RequestId, Sent> sent;
  RequestId next_id = 1;
  GenerationId max_join_generation{0};
  std::set<std::pair<std::string, GenerationId>> fenced;
  int assignments_delivered = 0;
  // Every (generation, partition) ever handed out, and to which member.
  std::map<std::pair<GenerationId, std::uint8_t>, std::string> owners;
  std::vector<PendingStore> stores;
  std::optional<GroupMetadataValue> log;  // the group's last record in __consumer_offsets
  int failovers = 0;

  GenerationId current_generation() const { return gc.generation(k_group).value_or(GenerationId::none()); }

  RequestId send(int c) {
    const RequestId id = next_id++;
    sent[id] = {c, incarnation[c], clients[c].member_id, clients[c].generation};
    return id;
  }

  // A generation above the coordinator's is one a failover forgot (never
  // stored, never handed out): it may come again, so its fencing is not final.
  void fence(const std::string& member, GenerationId g) {
    if (g <= current_generation()) fenced.insert({member, g});
  }

  // Delivers answers, checking the invariants on each.
  void deliver(const Replies& out) {
    for (auto& st : gc.take_stores()) stores.push_back({std::move(st), false});
    const GenerationId current = current_generation();
    for (const auto& reply : out) {
      const Sent s = sent.at(reply.request);
      // Not an answer the client stopped waiting for (crash, lost connection).
      const bool live = incarnation[s.client] == s.incarnation;
      Client& c = clients[s.client];
      if (const auto* j = std::get_if<JoinResult>(&reply.result)) {
        if (j->error == ErrorCode::none) {
          // Generations only go up (a batch of answers from one advance
          // may end in a later generation than its first answers). After a
          // failover generations that were never stored come again.
          RC_ASSERT(failovers > 0 || j->generation_id >= max_join_generation);
          RC_ASSERT(j->generation_id <= current);
          max_join_generation = j->generation_id;
        }
        if (j->error == ErrorCode::unknown_member_id || j->error == ErrorCode::illegal_generation)
          fence(s.member_id, s.generation);
        if (!live) continue;
        if (j->error == ErrorCode::none) {
          c.member_id = j->member_id;
          c.generation = j->generation_id;
          c.leader = j->leader_id == j->member_id;
          c.members.clear();
          for (const auto& m : j->members) c.members.push_back(m.member_id);
        } else if (j->error == ErrorCode::member_id_required) {
          c.member_id = j->member_id;
        } else if (j->error == ErrorCode::unknown_member_id) {
          c = Client{};
        }
      } else {
        const auto& r = std::get<SyncResult>(reply.result);
        if (r.error == ErrorCode::none) {
          // A fenced (member, generation) never gets an assignment, and an
          // assignment is always the current generation's (assignments are
          // handed out only inside sync_group, after its timers ran).
          RC_ASSERT(fenced.count({s.member_id, s.generation}) == 0u);
          RC_ASSERT(s.generation == current);
          // Two members never hold one partition in one generation, across
          // coordinator failovers too.
          for (std::uint8_t p : r.assignment) {
            const auto [it, fresh] = owners.emplace(std::pair{s.generation, p}, s.member_id);
            RC_ASSERT(fresh || it->second == s.member_id);
          }
        }
        if (r.error == ErrorCode::unknown_member_id || r.error == ErrorCode::illegal_generation)
          fence(s.member_id, s.generation);
        if (!live) continue;
        if (r.error == ErrorCode::none) {
          ++assignments_delivered;
          c.owned_generation = s.generation;
          c.owned = std::set<std::uint8_t>(r.assignment.begin(), r.assignment.end());
        } else if (r.error == ErrorCode::unknown_member_id) {
          c = Client{};
        } else if (r.error == ErrorCode::illegal_generation) {
          c.generation = GenerationId::none();
        }
      }
    }
    check_single_owner();
  }

  // Members holding the current generation's assignment own disjoint
  // partitions: at most one generation's members own the assignment.
  void check_single_owner() const {
    const GenerationId current = current_generation();
    std::set<std::uint8_t> seen;
    for (const auto& c : clients) {
      if (c.owned_generation != current) continue;
      for (auto p : c.owned) RC_ASSERT(seen.insert(p).second);
    }
  }
};

struct Model {
  TimeMs now_ms = 0;
};

struct Join : rc::state::Command<Model, Sut> {
  Join() = default;
  explicit Join(int c) : client(c) {}
  int client = *rc::gen::inRange(0, k_clients);
  void run(const Model&, Sut& sut) const override {
    Replies out;
    JoinRequest r = join_request(sut.clients[client].member_id);
    r.rebalance_timeout_ms = 3000;  // members that do not rejoin are dropped sooner
    sut.gc.join_group(sut.send(client), r, sut.now_ms, out);
    sut.deliver(out);
  }
  void show(std::ostream& os) const override { os << "Join(" << client << ")"; }
};

struct Sync : rc::state::Command<Model, Sut> {
  Sync() = default;
  explicit Sync(int c) : client(c) {}
  int client = *rc::gen::inRange(0, k_clients);
  void run(const Model&, Sut& sut) const override {
    const Client& c = sut.clients[client];
    SyncRequest r;
    r.group_id = k_group;
    r.member_id = c.member_id;
    r.generation_id = c.generation;
    if (c.leader) {
      // The leader deals the partitions round robin over the members it was told of.
      for (std::int32_t p = 0; p < k_partitions && !c.members.empty(); ++p)
        r.assignments[c.members[static_cast<std::size_t>(p) % c.members.size()]].push_back(static_cast<std::uint8_t>(p));
    }
    Replies out;
    sut.gc.sync_group(sut.send(client), r, sut.now_ms, out);
    sut.deliver(out);
  }
  void show(std::ostream& os) const override { os << "Sync(" << client << ")"; }
};

struct Heartbeat : rc::state::Command<Model, Sut> {
  int client = *rc::gen::inRange(0, k_clients);
  void run(const Model&, Sut& sut) const override {
    Client& c = sut.clients[client];
    Replies out;
    const ErrorCode e = sut.gc.heartbeat(k_group, c.member_id, c.generation, sut.now_ms, out);
    if (e == ErrorCode::unknown_member_id || e == ErrorCode::illegal_generation) sut.fence(c.member_id, c.generation);
    sut.deliver(out);
    if (e == ErrorCode::unknown_member_id) sut.clients[client] = Client{};
  }
  void show(std::ostream& os) const override { os << "Heartbeat(" << client << ")"; }
};

struct Leave : rc::state::Command<Model, Sut> {
  int client = *rc::gen::inRange(0, k_clients);
  void run(const Model&, Sut& sut) const override {
    Replies out;
    const std::string id = sut.clients[client].member_id;
    (void)sut.gc.leave_group(k_group, {id}, sut.now_ms, out);
    sut.deliver(out);
    sut.clients[client] = Client{};
    ++sut.incarnation[client];
  }
  void show(std::ostream& os) const override { os << "Leave(" << client << ")"; }
};

// The consumer process dies: it forgets its membership and its requests in flight.
struct Crash : rc::state::Command<Model, Sut> {
  int client = *rc::gen::inRange(0, k_clients);
  void run(const Model&, Sut& sut) const override {
    sut.clients[client] = Client{};
    ++sut.incarnation[client];
  }
  void show(std::ostream& os) const override { os << "Crash(" << client << ")"; }
};

// What a consumer's poll loop would do next: join until it has a
// generation, sync until it holds that generation's assignment, then
// heartbeat (and rejoin when told of a rebalance).
struct Step : rc::state::Command<Model, Sut> {
  Step() = default;
  explicit Step(int c) : client(c) {}
  int client = *rc::gen::inRange(0, k_clients);
  void run(const Model& m, Sut& sut) const override {
    const Client& c = sut.clients[client];
    if (c.member_id.empty() || c.generation == GenerationId::none()) return Join{client}.run(m, sut);
    if (c.owned_generation != c.generation) return Sync{client}.run(m, sut);
    Replies out;
    const ErrorCode e = sut.gc.heartbeat(k_group, c.member_id, c.generation, sut.now_ms, out);
    if (e == ErrorCode::unknown_member_id || e == ErrorCode::illegal_generation) sut.fence(c.member_id, c.generation);
    sut.deliver(out);
    if (e == ErrorCode::unknown_member_id) sut.clients[client] = Client{};
    if (e == ErrorCode::rebalance_in_progress || e == ErrorCode::illegal_generation)
      sut.clients[client].generation = GenerationId::none();  // rejoin next
  }
  void show(std::ostream& os) const override { os << "Step(" << client << ")"; }
};

// The answers to the client's requests in flight are lost (a dropped
// connection): it keeps what it knew, so it may act on an old generation.
struct LoseAnswers : rc::state::Command<Model, Sut> {
  int client = *rc::gen::inRange(0, k_clients);
  void run(const Model&, Sut& sut) const override { ++sut.incarnation[client]; }
  void show(std::ostream& os) const override { os << "LoseAnswers(" << client << ")"; }
};

// The oldest group record being appended is done: written and acked,
// not written (an error), or written but not acked in time. A stale one
// (from before a failover) is answered too, and must change nothing.
struct StoreDone : rc::state::Command<Model, Sut> {
  int outcome = *rc::gen::inRange(0, 3);
  void run(const Model&, Sut& sut) const override {
    if (sut.stores.empty()) return;
    const PendingStore done = sut.stores.front();
    sut.stores.erase(sut.stores.begin());
    if (!done.stale && outcome != 1) sut.log = done.store.value;
    const ErrorCode e = outcome == 0 ? ErrorCode::none
                        : outcome == 1 ? ErrorCode::not_enough_replicas
                                       : ErrorCode::rebalance_in_progress;  // storeGroup's REQUEST_TIMED_OUT
    Replies out;
    sut.gc.group_stored(done.store, e, sut.now_ms, out);
    sut.deliver(out);
  }
  void show(std::ostream& os) const override { os << "StoreDone(" << outcome << ")"; }
};

// The coordinator's __consumer_offsets partition moves away and comes back
// (or to a broker with the same log): records being appended reach the log
// or not (bit i of `written` for the i-th), then the group is loaded from
// the log's last record (GroupMetadataManager.loadGroupsForPartition).
struct Failover : rc::state::Command<Model, Sut> {
  unsigned written = *rc::gen::arbitrary<std::uint8_t>();
  void run(const Model&, Sut& sut) const override {
    if (!sut.store_mode) return;
    Replies out;
    const std::int32_t p = sut.gc.partition_for(k_group);
    sut.gc.set_partition_status(p, PartitionStatus::not_owned, out);
    for (std::size_t i = 0; i < sut.stores.size(); ++i) {
      if (sut.stores[i].stale) continue;
      if ((written >> (i % 8)) & 1u) sut.log = sut.stores[i].store.value;
      sut.stores[i].stale = true;
    }
    ++sut.failovers;
    // The new coordinator knows only the group as stored
    // (GroupMetadataManager.loadGroup): a fence that came from state never
    // stored is not final. E.g. a member fenced at generation 1 while the old
    // coordinator was at an unstored 2 is a member of 1 again once 2 is lost,
    // and its sync at 1 is answered. Single ownership across failovers is
    // still checked (owners outlives failovers).
    sut.fenced.clear();
    sut.deliver(out);
    sut.gc.set_partition_status(p, PartitionStatus::loading, out);
    if (sut.log) sut.gc.load_group(k_group, *sut.log, sut.now_ms, out);
    sut.gc.set_partition_status(p, PartitionStatus::owned, out);
    sut.deliver(out);
  }
  void show(std::ostream& os) const override { os << "Failover(" << written << ")"; }
};

struct Tick : rc::state::Command<Model, Sut> {
  Tick() = default;
  explicit Tick(TimeMs t) : ms(t) {}
  // Mostly short steps; one in ten long enough for sessions to expire.
  TimeMs ms = *rc::gen::weightedOneOf<TimeMs>({{9, rc::gen::inRange<TimeMs>(0, 1000)},
                                               {1, rc::gen::inRange<TimeMs>(0, 12000)}});
  void apply(Model& m) const override { m.now_ms += ms; }
  void run(const Model& m, Sut& sut) const override {
    sut.now_ms = m.now_ms + ms;
    Replies out;
    sut.gc.advance(sut.now_ms, out);
    sut.deliver(out);
  }
  void show(std::ostream& os) const override { os << "Tick(" << ms << ")"; }
};

}  // namespace

TEST_CASE("group coordinator state machine under joins, syncs, crashes and time", "[broker][group]") {
  rc::prop("one generation owns the assignment, generations rise, fenced members get nothing", [] {
    Model model;
    Sut sut;
    // The group exists from the start (a first join), so generation() is defined.
    Replies out;
    sut.gc.join_group(sut.send(0), join_request(""), 0, out);
    sut.deliver(out);
    // Sequences three times longer than rapidcheck's default: a group
    // needs a few rounds of join, sync and heartbeat to get anywhere.
    const auto commands = *rc::gen::scale(
        3.0, rc::state::gen::commands(
                 model, rc::state::gen::execOneOfWithArgs<Step, Step, Step, Step, Step, Step, Step,
                                                          Step, Step, Step, Join, Sync, Heartbeat,
                                                          Leave, Crash, LoseAnswers, Tick, Tick, Tick,
                                                          Tick>()));
    rc::state::runAll(commands, model, sut);
    bool owns = false;
    for (const auto& c : sut.clients) owns = owns || !c.owned.empty();
    RC_CLASSIFY(sut.max_join_generation > GenerationId(1), "several generations");
    RC_CLASSIFY(owns, "partitions owned at the end");
    RC_CLASSIFY(sut.assignments_delivered >= 3, "3+ assignments delivered");
    RC_CLASSIFY(!sut.fenced.empty(), "someone fenced");
  });
}

TEST_CASE("group coordinator state machine with group records stored in a log that fails over",
          "[broker][group]") {
  rc::prop("no two members hold one partition in one generation, across coordinator failovers", [] {
    Model model;
    Sut sut(true);
    Replies out;
    sut.gc.join_group(sut.send(0), join_request(""), 0, out);
    sut.deliver(out);
    // Longer still: a failover needs rounds before and after it to matter.
    const auto commands = *rc::gen::scale(
        8.0, rc::state::gen::commands(
                 model, rc::state::gen::execOneOfWithArgs<Step, Step, Step, Step, Step, Step, Step,
                                                          Step, Step, Step, Join, Sync, Heartbeat,
                                                          Leave, Crash, LoseAnswers, StoreDone, StoreDone,
                                                          StoreDone, StoreDone, Failover, Tick, Tick,
                                                          Tick>()));
    rc::state::runAll(commands, model, sut);
    RC_CLASSIFY(sut.failovers > 0, "failed over");
    RC_CLASSIFY(sut.assignments_delivered >= 3, "3+ assignments delivered");
    RC_CLASSIFY(sut.failovers > 0 && sut.assignments_delivered > 0 && sut.owners.size() > 6,
                "assignments in several generations around a failover");
  });
}

TEST_CASE("coordinator failover: the group and its offsets come back from __consumer_offsets records",
          "[broker][group]") {
  Fixture f;
  TimeMs now = 0;
  const std::string id = f.stable_single_member(now);
  const TopicPartitionKey tp{"t", PartitionId(2)};
  OffsetCommitRequest c;
  c.group_id = k_group;
  c.member_id = id;
  c.generation_id = GenerationId(1);
  c.offsets = {{tp, CommittedOffset{protocol::Offset(11), protocol::LeaderEpoch(3), "m", 0}}};
  REQUIRE(f.gc.commit_offsets(c, now, f.out) == std::vector<ErrorCode>{ErrorCode::none});

  // What the old coordinator wrote, through the record bytes.
  const auto record = f.gc.group_record(k_group);
  REQUIRE(record);
  CHECK(record->generation == GenerationId(1));
  CHECK(record->members.size() == 1);
  CHECK(record->members[0].assignment == Bytes{7});
  const GroupMetadataValue read_back = *decode_group_metadata_value(encode_value(*record));
  const auto offsets = f.gc.fetch_offsets(k_group, std::nullopt).second;

  // A new coordinator loads them.
  sim::Random random(1);
  GroupCoordinator next(GroupConfig{}, random);
  Replies out;
  next.set_partition_status(next.partition_for(k_group), PartitionStatus::loading, out);
  CHECK(next.heartbeat(k_group, id, GenerationId(1), now, out) == ErrorCode::none);  // blindly, while loading
  next.load_group(k_group, read_back, now, out);
  next.load_offsets(k_group, offsets, now);
  next.set_partition_status(next.partition_for(k_group), PartitionStatus::owned, out);
  CHECK(next.state(k_group) == GroupState::stable);
  CHECK(next.heartbeat(k_group, id, GenerationId(1), now + 1000, out) == ErrorCode::none);
  CHECK(next.heartbeat(k_group, id, GenerationId(0), now + 1000, out) == ErrorCode::illegal_generation);
  CHECK(next.fetch_offsets(k_group, std::nullopt).second.at(tp).offset == protocol::Offset(11));
  RequestId sync_id = 99;
  SyncRequest s;
  s.group_id = k_group;
  s.member_id = id;
  s.generation_id = GenerationId(1);
  next.sync_group(sync_id, s, now + 1000, out);
  REQUIRE(out.size() == 1);
  CHECK(std::get<SyncResult>(out[0].result).assignment == Bytes{7});
  // Its session runs from the load: silent for session.timeout.ms, it is gone.
  out.clear();
  next.advance(now + 1000 + 6000, out);
  CHECK(next.heartbeat(k_group, id, GenerationId(1), now + 7000, out) == ErrorCode::unknown_member_id);
}

// ---- offset retention (GroupMetadataManager.cleanupGroupMetadata, KIP-211) ----------------

namespace {

// ConsumerProtocolSubscription v0 with the given topics and no user data.
Bytes subscription_of(const std::vector<std::string>& topics) {
  Bytes b{0, 0, 0, 0, 0, static_cast<std::uint8_t>(topics.size())};
  for (const auto& t : topics) {
    b.push_back(0);
    b.push_back(static_cast<std::uint8_t>(t.size()));
    b.insert(b.end(), t.begin(), t.end());
  }
  for (int i = 0; i < 4; ++i) b.push_back(0xff);
  return b;
}

TopicPartitionKey tp_of(const std::string& topic) { return {topic, PartitionId(0)}; }

void commit(Fixture& f, const std::string& group, const std::string& member, GenerationId gen,
            const std::vector<std::string>& topics, TimeMs now) {
  OffsetCommitRequest c;
  c.group_id = group;
  c.generation_id = gen;
  c.member_id = member;
  for (const auto& t : topics) c.offsets.push_back({tp_of(t), CommittedOffset{protocol::Offset(5), {}, "", 0}});
  REQUIRE(f.gc.commit_offsets(c, now, f.out) == std::vector<ErrorCode>(topics.size(), ErrorCode::none));
}

// Group "g": one member subscribed to `topics`, Stable in generation 1.
std::string stable_subscribed(Fixture& f, const std::vector<std::string>& topics, TimeMs& now) {
  JoinRequest r = join_request("");
  r.protocols[0].metadata = subscription_of(topics);
  const std::string id = f.answer<JoinResult>(f.join(r, now))->member_id;
  r.member_id = id;
  const RequestId j = f.join(r, now);
  now += f.gc.config().group_initial_rebalance_delay_ms;
  f.gc.advance(now, f.out);
  const auto joined = f.answer<JoinResult>(j);
  REQUIRE(joined);
  REQUIRE(f.answer<SyncResult>(f.sync(id, joined->generation_id, now, {{id, Bytes{7}}}))->error == ErrorCode::none);
  return id;
}

std::set<std::string> committed_topics(const Fixture& f, const std::string& group) {
  std::set<std::string> out;
  for (const auto& [tp, o] : f.gc.fetch_offsets(group, std::nullopt).second) out.insert(tp.topic);
  return out;
}

}  // namespace

TEST_CASE("offset retention: standalone offsets expire by commit time; a group left without offsets is removed "
          "without a group tombstone (generation 0)",
          "[broker][group]") {
  Fixture f;
  commit(f, "s", "", GenerationId::none(), {"a"}, 0);
  commit(f, "s", "", GenerationId::none(), {"b"}, 500);
  CHECK(f.gc.expire_offsets(999, 1000).empty());
  auto e = f.gc.expire_offsets(1000, 1000);
  REQUIRE(e.size() == 1);
  CHECK(e[0] == GroupCoordinator::ExpiredGroup{"s", {tp_of("a")}, false});
  CHECK(committed_topics(f, "s") == std::set<std::string>{"b"});
  e = f.gc.expire_offsets(1500, 1000);
  REQUIRE(e.size() == 1);
  CHECK(e[0] == GroupCoordinator::ExpiredGroup{"s", {tp_of("b")}, false});
  CHECK_FALSE(f.gc.state("s"));  // Dead and gone
}

TEST_CASE("offset retention: an OffsetCommit v2-v4 retention_time_ms (an expire timestamp) decides alone when "
          "the offset expires",
          "[broker][group]") {
  Fixture f;
  OffsetCommitRequest c;
  c.group_id = "s";
  CommittedOffset shortly{protocol::Offset(5), {}, "", 0, TimeMs{200}};
  CommittedOffset long_kept{protocol::Offset(6), {}, "", 0, TimeMs{5000}};
  c.offsets = {{tp_of("a"), shortly}, {tp_of("b"), long_kept}, {tp_of("c"), CommittedOffset{protocol::Offset(7), {}, "", 0}}};
  REQUIRE(f.gc.commit_offsets(c, 0, f.out) == std::vector<ErrorCode>(3, ErrorCode::none));
  // Before offsets.retention.minutes (1000 here): only the short expire timestamp.
  auto e = f.gc.expire_offsets(200, 1000);
  REQUIRE(e.size() == 1);
  CHECK(e[0] == GroupCoordinator::ExpiredGroup{"s", {tp_of("a")}, false});
  // After it: the default-retention offset goes; the long expire timestamp keeps "b".
  e = f.gc.expire_offsets(1000, 1000);
  REQUIRE(e.size() == 1);
  CHECK(e[0] == GroupCoordinator::ExpiredGroup{"s", {tp_of("c")}, false});
  CHECK(committed_topics(f, "s") == std::set<std::string>{"b"});
  e = f.gc.expire_offsets(5000, 1000);
  REQUIRE(e.size() == 1);
  CHECK(e[0] == GroupCoordinator::ExpiredGroup{"s", {tp_of("b")}, false});
}

TEST_CASE("offset retention (KIP-211): a Stable consumer group keeps the offsets of subscribed topics; once Empty, "
          "all go retention after it emptied, then a group tombstone",
          "[broker][group]") {
  Fixture f;
  TimeMs now = 0;
  const std::string id = stable_subscribed(f, {"a"}, now);
  commit(f, k_group, id, GenerationId(1), {"a", "b"}, now);
  const TimeMs committed = now;
  // Past retention (within the member's session): only the unsubscribed topic goes.
  auto e = f.gc.expire_offsets(committed + 2000, 1000);
  REQUIRE(e.size() == 1);
  CHECK(e[0] == GroupCoordinator::ExpiredGroup{k_group, {tp_of("b")}, false});
  CHECK(committed_topics(f, k_group) == std::set<std::string>{"a"});
  CHECK(f.gc.state(k_group) == GroupState::stable);
  // The member leaves at t: the clock for "a" starts again from the Empty transition.
  const TimeMs left = committed + 3000;
  REQUIRE(f.gc.leave_group(k_group, {id}, left, f.out).error == ErrorCode::none);
  REQUIRE(f.gc.state(k_group) == GroupState::empty);
  CHECK(f.gc.expire_offsets(left + 999, 1000).empty());
  e = f.gc.expire_offsets(left + 1000, 1000);
  REQUIRE(e.size() == 1);
  CHECK(e[0] == GroupCoordinator::ExpiredGroup{k_group, {tp_of("a")}, true});
  CHECK_FALSE(f.gc.state(k_group));
  CHECK(f.gc.fetch_offsets(k_group, std::nullopt).second.empty());
}

TEST_CASE("offset retention: a consumer group whose subscriptions do not parse keeps every offset while it has members",
          "[broker][group]") {
  Fixture f;
  TimeMs now = 0;
  const std::string id = f.stable_single_member(now);  // metadata 0x01: not a subscription
  commit(f, k_group, id, GenerationId(1), {"a", "b"}, now);
  CHECK(f.gc.expire_offsets(now + 5000, 1000).empty());
  CHECK(committed_topics(f, k_group) == std::set<std::string>{"a", "b"});
}

TEST_CASE("offset retention agrees with a model of removeExpiredOffsets over random commits and times",
          "[broker][group]") {
  rc::prop("expired offsets, removed groups and tombstones as Kafka 2.8 computes them", [] {
    Fixture f;
    TimeMs now = 0;
    const std::vector<std::string> topics{"a", "b", "c"};
    const auto subscribed = *rc::gen::container<std::vector<bool>>(3, rc::gen::arbitrary<bool>());
    std::vector<std::string> sub;
    for (std::size_t i = 0; i < 3; ++i)
      if (subscribed[i]) sub.push_back(topics[i]);
    if (sub.empty()) sub.push_back("a");
    const std::string id = stable_subscribed(f, sub, now);
    // The model: per group, topic -> commit time; when group "g" went Empty.
    std::map<std::string, std::map<std::string, TimeMs>> model;
    model[k_group];  // g exists from its join, offsets or not
    std::optional<TimeMs> g_empty_since;
    const int steps = *rc::gen::inRange(1, 30);
    const TimeMs retention = *rc::gen::inRange(1, 5000);
    for (int i = 0; i < steps; ++i) {
      now += *rc::gen::inRange(0, 3000);  // below session.timeout.ms: the heartbeat keeps the member
      if (!g_empty_since) RC_ASSERT(f.gc.heartbeat(k_group, id, GenerationId(1), now, f.out) == ErrorCode::none);
      const int what = *rc::gen::inRange(0, 4);
      const std::string topic = *rc::gen::elementOf(topics);
      if (what == 0) {
        const std::string group = *rc::gen::element<std::string>("s1", "s2");
        commit(f, group, "", GenerationId::none(), {topic}, now);
        model[group][topic] = now;
      } else if (what == 1 && !g_empty_since) {
        commit(f, k_group, id, GenerationId(1), {topic}, now);
        model[k_group][topic] = now;
      } else if (what == 2 && !g_empty_since) {
        REQUIRE(f.gc.leave_group(k_group, {id}, now, f.out).error == ErrorCode::none);
        g_empty_since = now;
      } else {
        // What the model says expires now, group by group, in group id order.
        std::vector<GroupCoordinator::ExpiredGroup> expected;
        for (auto git = model.begin(); git != model.end();) {
          auto& [group, offsets] = *git;
          GroupCoordinator::ExpiredGroup e{group, {}, false};
          const bool is_g = group == k_group;
          for (auto it = offsets.begin(); it != offsets.end();) {
            const bool sub_kept = is_g && !g_empty_since && std::count(sub.begin(), sub.end(), it->first);
            const TimeMs base = is_g && g_empty_since ? *g_empty_since : it->second;
            if (!sub_kept && now - base >= retention) {
              e.offsets.push_back(tp_of(it->first));
              it = offsets.erase(it);
            } else {
              ++it;
            }
          }
          const bool empty_group = !is_g || g_empty_since;
          const bool dead = empty_group && offsets.empty();
          e.group_tombstone = dead && is_g;
          if (!e.offsets.empty() || e.group_tombstone) expected.push_back(e);
          if (dead) {
            if (is_g) g_empty_since.reset();
            git = model.erase(git);
          } else {
            ++git;
          }
        }
        const auto got = f.gc.expire_offsets(now, retention);
        RC_ASSERT(got == expected);
        for (const auto& [group, offsets] : model) {
          std::set<std::string> want;
          for (const auto& [t, _] : offsets) want.insert(t);
          RC_ASSERT(committed_topics(f, group) == want);
        }
        if (!model.count(k_group) && !f.gc.state(k_group)) return;  // g is gone: nothing more to do with it
      }
    }
  });
}

TEST_CASE("DeleteGroups agrees with a model over random commits, a leave, deletes and failed tombstone appends",
          "[broker][group]") {
  rc::prop("only Empty groups go, with one tombstone per offset; a failed append restores the group", [] {
    Fixture f;
    TimeMs now = 0;
    const std::vector<std::string> topics{"a", "b", "c"};
    const std::string id = stable_subscribed(f, {"a"}, now);
    bool has_member = true;
    // The model: each group in memory -> the topics it has offsets for;
    // deleted groups whose tombstones are being appended.
    std::map<std::string, std::set<std::string>> model{{k_group, {}}};
    std::map<std::string, std::set<std::string>> deleting;
    const int steps = *rc::gen::inRange(1, 40);
    for (int i = 0; i < steps; ++i) {
      now += *rc::gen::inRange(0, 3000);
      if (has_member) RC_ASSERT(f.gc.heartbeat(k_group, id, GenerationId(1), now, f.out) == ErrorCode::none);
      const int what = *rc::gen::inRange(0, 5);
      const std::string topic = *rc::gen::elementOf(topics);
      if (what == 0) {
        const std::string group = *rc::gen::element<std::string>("s1", "s2");
        commit(f, group, "", GenerationId::none(), {topic}, now);
        model[group].insert(topic);
      } else if (what == 1 && has_member) {
        commit(f, k_group, id, GenerationId(1), {topic}, now);
        model[k_group].insert(topic);
      } else if (what == 2 && has_member) {
        RC_ASSERT(f.gc.leave_group(k_group, {id}, now, f.out).error == ErrorCode::none);
        has_member = false;
      } else if (what == 3) {
        const std::string group = *rc::gen::element<std::string>(k_group, "s1", "s2", "nobody");
        GroupCoordinator::DeletedGroup expected{group, ErrorCode::group_id_not_found, {}, false};
        if (group == k_group && has_member) {
          expected.error = ErrorCode::non_empty_group;
        } else if (model.count(group)) {
          expected.error = ErrorCode::none;
          for (const auto& t : model[group]) expected.offsets.push_back(tp_of(t));
          expected.group_tombstone = group == k_group;  // generation 2 after the leave; the others 0
          deleting[group] = model[group];
          model.erase(group);
        }
        RC_ASSERT(f.gc.delete_groups({group}) == std::vector<GroupCoordinator::DeletedGroup>{expected});
      } else if (!deleting.empty()) {
        auto it = deleting.begin();
        std::advance(it, *rc::gen::inRange<std::size_t>(0, deleting.size()));
        const bool failed = *rc::gen::arbitrary<bool>();
        f.gc.group_deleted(it->first, failed ? ErrorCode::not_enough_replicas : ErrorCode::none);
        // A group committed to anew meanwhile stays as it is.
        if (failed && !model.count(it->first)) model[it->first] = it->second;
        deleting.erase(it);
      }
      for (const std::string g : {k_group, "s1", "s2"}) {
        RC_ASSERT(f.gc.state(g).has_value() == (model.count(g) > 0));
        RC_ASSERT(committed_topics(f, g) == (model.count(g) ? model[g] : std::set<std::string>{}));
      }
    }
  });
}
