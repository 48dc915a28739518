// The group coordinator on whole brokers of the simulated world: a raw
// client finds the coordinator (which creates __consumer_offsets), joins
// (KIP-394's MEMBER_ID_REQUIRED first), syncs, commits and reads back its
// offsets; then the coordinator's broker crashes and the new leader of the
// group's offsets partition serves the same offsets and the same group.
#include "system/broker/group/group_service.h"

#include <catch2/catch.hpp>

#include "scenarios/broker/cluster.h"
#include "system/broker/group/offsets_records.h"
#include "scenarios/broker/driver.h"
#include "tests/sim/world_helpers.h"

using namespace samsa;
using namespace samsa::scenarios::broker;
using namespace samsa::protocol;

namespace {

constexpr auto k_call = std::chrono::seconds(30);

Bytes bytes_of(std::string_view s) {
  const ByteView v = as_bytes(s);
  return Bytes(v.begin(), v.end());
}

// FindCoordinator (v3) at every broker in turn until one answers a coordinator.
std::optional<sim::Address> find_coordinator(sim::Runtime& rt, RawClient& c, Cluster& cluster,
                                             const std::string& group, BrokerId* id = nullptr) {
  for (int attempt = 0; attempt < 80; ++attempt) {
    const int b = 1 + attempt % cluster.brokers();
    FindCoordinatorRequest req;
    req.key = group;
    auto resp = c.call<FindCoordinatorResponse>(cluster.address(b), req, 3, std::chrono::seconds(5));
    if (resp && resp->error_code == ErrorCode::none) {
      if (id) *id = resp->node_id;
      return sim::Address{resp->host, static_cast<std::uint16_t>(resp->port)};
    }
    rt.sleep(std::chrono::milliseconds(250));
  }
  return std::nullopt;
}

std::optional<OffsetFetchResponse> fetch_offsets(RawClient& c, const sim::Address& coord, const std::string& group) {
  OffsetFetchRequest req;
  req.group_id = group;
  req.topics.emplace();
  auto& t = req.topics->emplace_back();
  t.name = "t";
  t.partition_indexes = {PartitionId(0), PartitionId(1)};
  return c.call<OffsetFetchResponse>(coord, req, 7, k_call);
}

}  // namespace

TEST_CASE("group coordinator on brokers: join, sync, commit; a coordinator crash keeps offsets and the group",
          "[broker][group]") {
  auto wc = samsa::testing::quiet_config(11);
  if (const char* l = std::getenv("SAMSA_TEST_LOG")) wc.log_level = l;
  sim::World world(wc);
  Cluster cluster(world, {3,
                          {{"offsets.topic.num.partitions", "3"},
                           {"offsets.topic.replication.factor", "3"},
                           {"min.insync.replicas", "2"},
                           {"group.initial.rebalance.delay.ms", "100"}}});
  bool done = false;
  JoinGroupResponse first, second;
  SyncGroupResponse synced;
  OffsetCommitResponse committed;
  std::optional<OffsetFetchResponse> before, after;
  ErrorCode heartbeat_after = ErrorCode::unknown_server_error;
  BrokerId old_coordinator = BrokerId::none(), new_coordinator = BrokerId::none();
  world.add_node("client", [&](sim::Runtime& rt) {
    RawClient c(rt, "consumer-1");
    auto coord = find_coordinator(rt, c, cluster, "g1", &old_coordinator);
    REQUIRE(coord);
    JoinGroupRequest join;
    join.group_id = "g1";
    join.session_timeout_ms = 10000;
    join.rebalance_timeout_ms = 10000;
    join.protocol_type = "consumer";
    auto& proto = join.protocols.emplace_back();
    proto.name = "range";
    proto.metadata = bytes_of("sub");
    first = *c.call<JoinGroupResponse>(*coord, join, 5, k_call);
    join.member_id = first.member_id;
    second = *c.call<JoinGroupResponse>(*coord, join, 5, k_call);
    SyncGroupRequest sync;
    sync.group_id = "g1";
    sync.generation_id = second.generation_id;
    sync.member_id = second.member_id;
    auto& a = sync.assignments.emplace_back();
    a.member_id = second.member_id;
    a.assignment = bytes_of("assignment");
    synced = *c.call<SyncGroupResponse>(*coord, sync, 3, k_call);
    protocol::OffsetCommitRequest commit;
    commit.group_id = "g1";
    commit.generation_id_or_member_epoch = second.generation_id;
    commit.member_id = second.member_id;
    auto& t = commit.topics.emplace_back();
    t.name = "t";
    t.partitions.push_back({PartitionId(0), Offset(42), LeaderEpoch(3), -1, "m", {}});
    committed = *c.call<OffsetCommitResponse>(*coord, commit, 7, k_call);
    before = fetch_offsets(c, *coord, "g1");
    world.crash(static_cast<sim::NodeId>(old_coordinator.value()));
    c.drop(*coord);
    for (int attempt = 0; attempt < 40 && !after; ++attempt) {
      rt.sleep(std::chrono::milliseconds(500));
      auto nc = find_coordinator(rt, c, cluster, "g1", &new_coordinator);
      if (!nc || new_coordinator == old_coordinator) continue;
      auto f = fetch_offsets(c, *nc, "g1");
      if (f && f->error_code == ErrorCode::none) {
        after = f;
        HeartbeatRequest hb;
        hb.group_id = "g1";
        hb.generation_id = second.generation_id;
        hb.member_id = second.member_id;
        auto r = c.call<HeartbeatResponse>(*nc, hb, 3, k_call);
        if (r) heartbeat_after = r->error_code;
      }
    }
    done = true;
  });
  for (sim::NodeId n : world.node_ids()) world.start(n);
  const auto r = world.run(world.now() + std::chrono::seconds(120));
  INFO(r.report);
  REQUIRE(done);
  CHECK(first.error_code == ErrorCode::member_id_required);
  CHECK(!first.member_id.empty());
  CHECK(second.error_code == ErrorCode::none);
  CHECK(second.generation_id == GenerationId(1));
  CHECK(second.leader == second.member_id);
  REQUIRE(second.members.size() == 1);
  CHECK(synced.error_code == ErrorCode::none);
  CHECK(synced.assignment == bytes_of("assignment"));
  REQUIRE(committed.topics.size() == 1);
  CHECK(committed.topics[0].partitions[0].error_code == ErrorCode::none);
  REQUIRE(before);
  REQUIRE(before->topics.size() == 1);
  CHECK(before->topics[0].partitions[0].committed_offset == Offset(42));
  CHECK(before->topics[0].partitions[1].committed_offset == Offset::none());
  REQUIRE(after);
  CHECK(new_coordinator != old_coordinator);
  REQUIRE(after->topics.size() == 1);
  CHECK(after->topics[0].partitions[0].committed_offset == Offset(42));
  CHECK(after->topics[0].partitions[0].committed_leader_epoch == LeaderEpoch(3));
  CHECK(after->topics[0].partitions[0].metadata == std::optional<std::string>("m"));
  // The group record was stored and loaded: the member is still known.
  CHECK(heartbeat_after == ErrorCode::none);
}

TEST_CASE("group coordinator on brokers: offsets.retention.minutes expires an old offset, keeps a fresh one; the "
          "tombstone survives a coordinator failover",
          "[broker][group]") {
  auto wc = samsa::testing::quiet_config(12);
  if (const char* l = std::getenv("SAMSA_TEST_LOG")) wc.log_level = l;
  sim::World world(wc);
  Cluster cluster(world, {3,
                          {{"offsets.topic.num.partitions", "3"},
                           {"offsets.topic.replication.factor", "3"},
                           {"min.insync.replicas", "2"},
                           {"offsets.retention.minutes", "1"},
                           {"offsets.retention.check.interval.ms", "10000"}}});
  bool done = false;
  std::optional<OffsetFetchResponse> fresh, expired, after;
  BrokerId old_coordinator = BrokerId::none(), new_coordinator = BrokerId::none();
  world.add_node("client", [&](sim::Runtime& rt) {
    RawClient c(rt, "standalone");
    auto coord = find_coordinator(rt, c, cluster, "g2", &old_coordinator);
    REQUIRE(coord);
    // Offsets outside group management (generation -1): retention counts from each commit.
    auto commit = [&](PartitionId p, std::int64_t offset) {
      protocol::OffsetCommitRequest req;
      req.group_id = "g2";
      req.generation_id_or_member_epoch = GenerationId::none();
      req.member_id = "";
      auto& t = req.topics.emplace_back();
      t.name = "t";
      t.partitions.push_back({p, Offset(offset), LeaderEpoch(0), -1, "", {}});
      auto r = c.call<OffsetCommitResponse>(*coord, req, 7, k_call);
      REQUIRE(r);
      REQUIRE(r->topics[0].partitions[0].error_code == ErrorCode::none);
    };
    commit(PartitionId(0), 10);
    rt.sleep(std::chrono::seconds(50));
    commit(PartitionId(1), 20);
    fresh = fetch_offsets(c, *coord, "g2");
    rt.sleep(std::chrono::seconds(25));  // p0 is 75 s old: past a check after its 60 s
    expired = fetch_offsets(c, *coord, "g2");
    world.crash(static_cast<sim::NodeId>(old_coordinator.value()));
    c.drop(*coord);
    for (int attempt = 0; attempt < 40 && !after; ++attempt) {
      rt.sleep(std::chrono::milliseconds(200));
      auto nc = find_coordinator(rt, c, cluster, "g2", &new_coordinator);
      if (!nc || new_coordinator == old_coordinator) continue;
      auto f = fetch_offsets(c, *nc, "g2");
      if (f && f->error_code == ErrorCode::none) after = f;
    }
    done = true;
  });
  for (sim::NodeId n : world.node_ids()) world.start(n);
  const auto r = world.run(world.now() + std::chrono::seconds(200));
  INFO(r.report);
  REQUIRE(done);
  auto offset_of = [](const std::optional<OffsetFetchResponse>& f, int p) {
    REQUIRE(f);
    REQUIRE(f->topics.size() == 1);
    return f->topics[0].partitions[static_cast<std::size_t>(p)].committed_offset;
  };
  CHECK(offset_of(fresh, 0) == Offset(10));
  CHECK(offset_of(fresh, 1) == Offset(20));
  CHECK(offset_of(expired, 0) == Offset::none());
  CHECK(offset_of(expired, 1) == Offset(20));
  // The new coordinator read the tombstone: p0 stays gone (its next check is
  // later than the load), p1 is loaded.
  CHECK(new_coordinator != old_coordinator);
  CHECK(offset_of(after, 0) == Offset::none());
  CHECK(offset_of(after, 1) == Offset(20));
}

TEST_CASE("group coordinator on brokers: an OffsetCommit v2 retention_time_ms expires its offset before "
          "offsets.retention.minutes, also after a coordinator failover",
          "[broker][group]") {
  auto wc = samsa::testing::quiet_config(13);
  if (const char* l = std::getenv("SAMSA_TEST_LOG")) wc.log_level = l;
  sim::World world(wc);
  Cluster cluster(world, {3,
                          {{"offsets.topic.num.partitions", "3"},
                           {"offsets.topic.replication.factor", "3"},
                           {"min.insync.replicas", "2"},
                           {"offsets.retention.minutes", "1"},
                           {"offsets.retention.check.interval.ms", "5000"}}});
  bool done = false;
  std::optional<OffsetFetchResponse> loaded, later;
  BrokerId old_coordinator = BrokerId::none(), new_coordinator = BrokerId::none();
  world.add_node("client", [&](sim::Runtime& rt) {
    RawClient c(rt, "standalone");
    auto coord = find_coordinator(rt, c, cluster, "g3", &old_coordinator);
    REQUIRE(coord);
    auto commit = [&](PartitionId p, std::int16_t version, std::int64_t retention_ms) {
      protocol::OffsetCommitRequest req;
      req.group_id = "g3";
      req.generation_id_or_member_epoch = GenerationId::none();
      req.member_id = "";
      req.retention_time_ms = retention_ms;
      auto& t = req.topics.emplace_back();
      t.name = "t";
      t.partitions.push_back({p, Offset(10 + p.value()), LeaderEpoch(0), -1, "", {}});
      auto r = c.call<OffsetCommitResponse>(*coord, req, version, k_call);
      REQUIRE(r);
      REQUIRE(r->topics[0].partitions[0].error_code == ErrorCode::none);
    };
    commit(PartitionId(0), 2, 30000);  // expires 30 s from now (the record's value v1)
    commit(PartitionId(1), 7, -1);     // offsets.retention.minutes: 60 s
    // The expire timestamp must survive the load by the next coordinator.
    world.crash(static_cast<sim::NodeId>(old_coordinator.value()));
    c.drop(*coord);
    std::optional<sim::Address> nc;
    for (int attempt = 0; attempt < 40 && !loaded; ++attempt) {
      rt.sleep(std::chrono::milliseconds(200));
      nc = find_coordinator(rt, c, cluster, "g3", &new_coordinator);
      if (!nc || new_coordinator == old_coordinator) continue;
      auto f = fetch_offsets(c, *nc, "g3");
      if (f && f->error_code == ErrorCode::none) loaded = f;
    }
    REQUIRE(loaded);
    rt.sleep(std::chrono::seconds(40));
    later = fetch_offsets(c, *nc, "g3");
    done = true;
  });
  for (sim::NodeId n : world.node_ids()) world.start(n);
  const auto r = world.run(world.now() + std::chrono::seconds(200));
  INFO(r.report);
  REQUIRE(done);
  auto offset_of = [](const std::optional<OffsetFetchResponse>& f, int p) {
    REQUIRE(f);
    REQUIRE(f->topics.size() == 1);
    return f->topics[0].partitions[static_cast<std::size_t>(p)].committed_offset;
  };
  CHECK(new_coordinator != old_coordinator);
  CHECK(offset_of(loaded, 0) == Offset(10));
  CHECK(offset_of(loaded, 1) == Offset(11));
  CHECK(offset_of(later, 0) == Offset::none());  // past its expire timestamp
  CHECK(offset_of(later, 1) == Offset(11));      // not yet 60 s old
}

namespace {

// Joins `group` alone (KIP-394's second join) and syncs: generation 1, Stable.
JoinGroupResponse join_alone(RawClient& c, const sim::Address& coord, const std::string& group) {
  JoinGroupRequest join;
  join.group_id = group;
  join.session_timeout_ms = 10000;
  join.rebalance_timeout_ms = 10000;
  join.protocol_type = "consumer";
  auto& proto = join.protocols.emplace_back();
  proto.name = "range";
  proto.metadata = bytes_of("sub");
  join.member_id = c.call<JoinGroupResponse>(coord, join, 5, k_call)->member_id;
  const JoinGroupResponse joined = *c.call<JoinGroupResponse>(coord, join, 5, k_call);
  SyncGroupRequest sync;
  sync.group_id = group;
  sync.generation_id = joined.generation_id;
  sync.member_id = joined.member_id;
  sync.assignments.push_back({joined.member_id, bytes_of("assignment"), {}});
  (void)c.call<SyncGroupResponse>(coord, sync, 3, k_call);
  return joined;
}

bool commit_offset(RawClient& c, const sim::Address& coord, const std::string& group, GenerationId generation,
                   const std::string& member, std::int64_t offset) {
  protocol::OffsetCommitRequest commit;
  commit.group_id = group;
  commit.generation_id_or_member_epoch = generation;
  commit.member_id = member;
  auto& t = commit.topics.emplace_back();
  t.name = "t";
  t.partitions.push_back({PartitionId(0), Offset(offset), LeaderEpoch(0), -1, "", {}});
  auto r = c.call<OffsetCommitResponse>(coord, commit, 7, k_call);
  return r && r->topics[0].partitions[0].error_code == ErrorCode::none;
}

std::vector<ErrorCode> delete_groups(RawClient& c, const sim::Address& coord, std::vector<std::string> groups,
                                     std::int16_t version) {
  DeleteGroupsRequest req;
  req.groups_names = std::move(groups);
  auto r = c.call<DeleteGroupsResponse>(coord, req, version, k_call);
  std::vector<ErrorCode> out;
  if (r)
    for (const auto& g : r->results) out.push_back(g.error_code);
  return out;
}

}  // namespace

TEST_CASE("group coordinator on brokers: DeleteGroups deletes an Empty group; its offsets and the group stay gone "
          "after a coordinator failover",
          "[broker][group]") {
  auto wc = samsa::testing::quiet_config(14);
  if (const char* l = std::getenv("SAMSA_TEST_LOG")) wc.log_level = l;
  sim::World world(wc);
  Cluster cluster(world, {3,
                          {{"offsets.topic.num.partitions", "3"},
                           {"offsets.topic.replication.factor", "3"},
                           {"min.insync.replicas", "2"},
                           {"group.initial.rebalance.delay.ms", "100"}}});
  // A control group in the same offsets partition, not deleted: it must come back.
  auto same_partition = [](std::string name) {
    while (broker::group::offsets_partition_for(name, 3) != broker::group::offsets_partition_for("gone", 3))
      name += "+";
    return name;
  };
  const std::string kept = same_partition("kept"), never = same_partition("never");
  bool done = false;
  bool advertised = false;
  std::vector<ErrorCode> while_member, deleted, again, after_failover;
  std::optional<OffsetFetchResponse> gone_before, gone_after, kept_after;
  std::string state_after;
  BrokerId old_coordinator = BrokerId::none(), new_coordinator = BrokerId::none();
  world.add_node("client", [&](sim::Runtime& rt) {
    RawClient c(rt, "admin");
    auto coord = find_coordinator(rt, c, cluster, "gone", &old_coordinator);
    REQUIRE(coord);
    if (auto v = c.call<ApiVersionsResponse>(*coord, ApiVersionsRequest{}, 3, k_call))
      for (const auto& k : v->api_keys) advertised = advertised || (k.api_key == 42 && k.max_version == 2);
    const JoinGroupResponse member = join_alone(c, *coord, "gone");
    REQUIRE(commit_offset(c, *coord, "gone", member.generation_id, member.member_id, 42));
    REQUIRE(commit_offset(c, *coord, kept, GenerationId::none(), "", 7));
    while_member = delete_groups(c, *coord, {"gone"}, 2);
    LeaveGroupRequest leave;
    leave.group_id = "gone";
    leave.member_id = member.member_id;
    REQUIRE(c.call<LeaveGroupResponse>(*coord, leave, 1, k_call));
    deleted = delete_groups(c, *coord, {"gone", never, "gone"}, 0);
    again = delete_groups(c, *coord, {"gone"}, 1);
    gone_before = fetch_offsets(c, *coord, "gone");
    world.crash(static_cast<sim::NodeId>(old_coordinator.value()));
    c.drop(*coord);
    for (int attempt = 0; attempt < 40 && !kept_after; ++attempt) {
      rt.sleep(std::chrono::milliseconds(500));
      auto nc = find_coordinator(rt, c, cluster, "gone", &new_coordinator);
      if (!nc || new_coordinator == old_coordinator) continue;
      auto f = fetch_offsets(c, *nc, kept);
      if (!f || f->error_code != ErrorCode::none) continue;
      kept_after = f;
      gone_after = fetch_offsets(c, *nc, "gone");
      DescribeGroupsRequest describe;
      describe.groups = {"gone"};
      if (auto d = c.call<DescribeGroupsResponse>(*nc, describe, 5, k_call)) state_after = d->groups.at(0).group_state;
      after_failover = delete_groups(c, *nc, {"gone"}, 2);
    }
    done = true;
  });
  for (sim::NodeId n : world.node_ids()) world.start(n);
  const auto r = world.run(world.now() + std::chrono::seconds(120));
  INFO(r.report);
  REQUIRE(done);
  CHECK(advertised);
  CHECK(while_member == std::vector<ErrorCode>{ErrorCode::non_empty_group});
  CHECK(deleted == std::vector<ErrorCode>{ErrorCode::none, ErrorCode::group_id_not_found});  // one answer per id
  CHECK(again == std::vector<ErrorCode>{ErrorCode::group_id_not_found});
  auto offset_of = [](const std::optional<OffsetFetchResponse>& f) {
    REQUIRE(f);
    REQUIRE(f->error_code == ErrorCode::none);
    REQUIRE(f->topics.size() == 1);
    return f->topics[0].partitions[0].committed_offset;
  };
  CHECK(offset_of(gone_before) == Offset::none());
  CHECK(new_coordinator != old_coordinator);
  CHECK(offset_of(kept_after) == Offset(7));
  CHECK(offset_of(gone_after) == Offset::none());  // the tombstones were replicated and loaded
  CHECK(state_after == "Dead");
  CHECK(after_failover == std::vector<ErrorCode>{ErrorCode::group_id_not_found});
}
