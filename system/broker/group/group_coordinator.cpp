#include "system/broker/group/group_coordinator.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "sim/runtime/assert.h"
#include "system/broker/group/offsets_records.h"
#include "system/protocol/wire.h"

namespace samsa::broker::group {

namespace {

void reply_join(Replies& out, RequestId id, JoinResult r) {
  Reply& reply = out.emplace_back();
  reply.request = id;
  reply.result.emplace<JoinResult>(std::move(r));
}
void reply_sync(Replies& out, RequestId id, SyncResult r) {
  Reply& reply = out.emplace_back();
  reply.request = id;
  reply.result.emplace<SyncResult>(std::move(r));
}

JoinResult join_error(std::string member_id, ErrorCode e) {
  JoinResult r;
  r.error = e;
  r.member_id = std::move(member_id);
  return r;
}

SyncResult sync_error(ErrorCode e) {
  SyncResult r;
  r.error = e;
  return r;
}

// GroupState.validPreviousStates (GroupMetadata.scala).
bool valid_transition(GroupState from, GroupState to) {
  switch (to) {
    case GroupState::preparing_rebalance:
      return from == GroupState::stable || from == GroupState::completing_rebalance ||
             from == GroupState::empty;
    case GroupState::completing_rebalance: return from == GroupState::preparing_rebalance;
    case GroupState::stable: return from == GroupState::completing_rebalance;
    case GroupState::empty: return from == GroupState::preparing_rebalance;
    case GroupState::dead: return true;
  }
  return false;
}

}  // namespace

std::string_view to_string(GroupState s) {
  switch (s) {
    case GroupState::empty: return "Empty";
    case GroupState::preparing_rebalance: return "PreparingRebalance";
    case GroupState::completing_rebalance: return "CompletingRebalance";
    case GroupState::stable: return "Stable";
    case GroupState::dead: return "Dead";
  }
  return "Unknown";
}

GroupCoordinator::GroupCoordinator(GroupConfig config, sim::Random& random)
    : config_(config), random_(random) {
  SAMSA_ASSERT(config_.offsets_topic_num_partitions > 0);
}

std::int32_t GroupCoordinator::partition_for(std::string_view group_id) const {
  return offsets_partition_for(group_id, config_.offsets_topic_num_partitions);
}

// ---- lookups and validation --------------------------------------------------

// GroupCoordinator.validateGroupStatus. `allow_empty_id`: OffsetCommit,
// OffsetFetch, DescribeGroups accept "" as a group id; the others do not.
std::optional<ErrorCode> GroupCoordinator::validate(std::string_view group_id,
                                                    bool allow_empty_id) const {
  if (group_id.empty() && !allow_empty_id) return ErrorCode::invalid_group_id;
  auto it = partitions_.find(partition_for(group_id));
  const PartitionStatus status = it == partitions_.end() ? PartitionStatus::not_owned : it->second;
  if (status == PartitionStatus::loading) return ErrorCode::coordinator_load_in_progress;
  if (status == PartitionStatus::not_owned) return ErrorCode::not_coordinator;
  return std::nullopt;
}

GroupCoordinator::Group* GroupCoordinator::find(std::string_view group_id) {
  auto it = groups_.find(group_id);
  return it == groups_.end() ? nullptr : &it->second;
}

const GroupCoordinator::Group* GroupCoordinator::find(std::string_view group_id) const {
  auto it = groups_.find(group_id);
  return it == groups_.end() ? nullptr : &it->second;
}

GroupCoordinator::Group& GroupCoordinator::get_or_create(std::string_view group_id, TimeMs now_ms) {
  auto it = groups_.find(group_id);
  if (it != groups_.end()) return it->second;
  Group g;
  g.group_id = std::string(group_id);
  g.state_timestamp_ms = now_ms;
  return groups_.emplace(std::string(group_id), std::move(g)).first->second;
}

// GroupMetadata.generateMemberId: "<client.id>-<random UUID>".
std::string GroupCoordinator::generate_member_id(const JoinRequest& r) {
  std::uint64_t hi = random_.next(), lo = random_.next();
  hi = (hi & ~0xf000ull) | 0x4000ull;                 // version 4
  lo = (lo & ~(0xc0ull << 56)) | (0x80ull << 56);     // IETF variant
  const std::string& prefix = r.group_instance_id ? *r.group_instance_id : r.client_id;
  return fmt::format("{}-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", prefix, hi >> 32, (hi >> 16) & 0xffff,
                     hi & 0xffff, lo >> 48, lo & 0xffffffffffffull);
}

void GroupCoordinator::transition(Group& g, GroupState to, TimeMs now_ms) {
  SAMSA_ASSERT(valid_transition(g.state, to), "invalid group state transition");
  g.state = to;
  g.state_timestamp_ms = now_ms;
}

bool GroupCoordinator::supports_protocols(const Group& g, const std::string& type,
                                          const std::vector<Protocol>& protocols) const {
  if (g.state == GroupState::empty) return !type.empty() && !protocols.empty();
  if (g.protocol_type != type) return false;
  const int members = static_cast<int>(g.members.size());
  return std::any_of(protocols.begin(), protocols.end(), [&](const Protocol& p) {
    auto it = g.supported_protocols.find(p.name);
    return it != g.supported_protocols.end() && it->second == members;
  });
}

// GroupMetadata.selectProtocol: of the protocols every member supports, the
// one most members list first among those (MemberMetadata.vote).
std::string GroupCoordinator::select_protocol(const Group& g) const {
  SAMSA_ASSERT(!g.members.empty(), "cannot select a protocol for an empty group");
  std::set<std::string> candidates;
  for (const auto& [name, count] : g.supported_protocols)
    if (count == static_cast<int>(g.members.size())) candidates.insert(name);
  std::map<std::string, int> votes;
  for (const auto& [_, m] : g.members) {
    auto it = std::find_if(m.protocols.begin(), m.protocols.end(),
                           [&](const Protocol& p) { return candidates.count(p.name) > 0; });
    SAMSA_ASSERT(it != m.protocols.end(), "a member supports none of the candidate protocols");
    ++votes[it->name];
  }
  auto best = votes.begin();  // ties: the smallest name (Kafka: hash map order)
  for (auto it = votes.begin(); it != votes.end(); ++it)
    if (it->second > best->second) best = it;
  return best->first;
}

JoinResult GroupCoordinator::join_result_for(const Group& g, const Member& m) const {
  JoinResult r;
  r.member_id = m.member_id;
  r.generation_id = g.generation;
  r.protocol_type = g.protocol_type;
  r.protocol_name = g.protocol_name;
  r.leader_id = g.leader_id.value_or("");
  if (g.leader_id == m.member_id && g.protocol_name) {
    // GroupMetadata.currentMemberMetadata: every member's metadata for the
    // selected protocol.
    for (const auto& [id, other] : g.members) {
      auto p = std::find_if(other.protocols.begin(), other.protocols.end(),
                            [&](const Protocol& x) { return x.name == *g.protocol_name; });
      SAMSA_ASSERT(p != other.protocols.end());
      r.members.push_back({id, other.group_instance_id, p->metadata});
    }
  }
  return r;
}

// ---- timers --------------------------------------------------------------------

void GroupCoordinator::schedule_heartbeat(Member& m, TimeMs now_ms, std::int64_t timeout_ms) {
  m.heartbeat_deadline_ms = now_ms + timeout_ms;
  m.heartbeat_sequence = ++timer_sequence_;
}

std::optional<TimeMs> GroupCoordinator::next_deadline_ms() const {
  std::optional<TimeMs> next;
  auto consider = [&](TimeMs t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& [_, g] : groups_) {
    if (g.join_timer) consider(g.join_timer->deadline_ms);
    for (const auto& [__, m] : g.members)
      if (m.heartbeat_deadline_ms) consider(*m.heartbeat_deadline_ms);
    for (const auto& [__, p] : g.pending) consider(p.first);
  }
  return next;
}

void GroupCoordinator::advance(TimeMs now_ms, Replies& out) {
  enum class Kind { join, heartbeat, pending };
  while (true) {
    // The earliest due deadline; equal times in scheduling order.
    std::optional<std::tuple<TimeMs, std::uint64_t, Kind, std::string, std::string>> due;
    auto consider = [&](TimeMs t, std::uint64_t seq, Kind k, const std::string& g, const std::string& m) {
      if (t > now_ms) return;
      if (!due || std::tie(t, seq) < std::tie(std::get<0>(*due), std::get<1>(*due))) due.emplace(t, seq, k, g, m);
    };
    for (const auto& [id, g] : groups_) {
      if (g.join_timer) consider(g.join_timer->deadline_ms, g.join_timer->sequence, Kind::join, id, "");
      for (const auto& [mid, m] : g.members)
        if (m.heartbeat_deadline_ms) consider(*m.heartbeat_deadline_ms, m.heartbeat_sequence, Kind::heartbeat, id, mid);
      for (const auto& [mid, p] : g.pending) consider(p.first, p.second, Kind::pending, id, mid);
    }
    if (!due) return;
    const auto& [at_ms, seq, kind, group_id, member_id] = *due;
    Group& g = *find(group_id);
    switch (kind) {
      case Kind::join: fire_join_timer(g, at_ms, out); break;
      case Kind::heartbeat: expire_heartbeat(g, member_id, at_ms, out); break;
      case Kind::pending:
        // A KIP-394 member that never came back with its id.
        g.pending.erase(member_id);
        if (g.state == GroupState::preparing_rebalance) try_complete_join(g, at_ms, out);
        break;
    }
  }
}

// DelayedHeartbeat.onExpiration: a member that has not shown it is alive
// leaves. Members parked in a JoinGroup or SyncGroup count as alive (except
// new ones, which get NewMemberJoinTimeoutMs), and then no next deadline is
// set until the rebalance hands them their answer.
void GroupCoordinator::expire_heartbeat(Group& g, const std::string& member_id, TimeMs now_ms,
                                        Replies& out) {
  Member& m = g.members.at(member_id);
  m.heartbeat_deadline_ms.reset();
  const bool satisfied = !m.is_new && (m.awaiting_join || m.awaiting_sync);
  if (!satisfied) remove_member_and_update_group(g, member_id, now_ms, out);
}

// DelayedJoin / InitialDelayedJoin expired.
void GroupCoordinator::fire_join_timer(Group& g, TimeMs now_ms, Replies& out) {
  const JoinTimer t = *g.join_timer;
  g.join_timer.reset();
  if (t.initial && g.new_member_added && t.remaining_ms != 0) {
    // More members came during the initial delay: wait again, up to the
    // rebalance timeout.
    g.new_member_added = false;
    JoinTimer next;
    next.initial = true;
    next.delay_ms = std::min(config_.group_initial_rebalance_delay_ms, t.remaining_ms);
    next.remaining_ms = std::max(t.remaining_ms - t.delay_ms, 0);
    next.deadline_ms = now_ms + next.delay_ms;
    next.sequence = ++timer_sequence_;
    g.join_timer = next;
    return;
  }
  complete_join(g, now_ms, out);
}

// ---- rebalancing ----------------------------------------------------------------

void GroupCoordinator::maybe_prepare_rebalance(Group& g, TimeMs now_ms, Replies& out) {
  if (valid_transition(g.state, GroupState::preparing_rebalance)) prepare_rebalance(g, now_ms, out);
}

void GroupCoordinator::prepare_rebalance(Group& g, TimeMs now_ms, Replies& out) {
  if (g.state == GroupState::completing_rebalance)
    reset_and_propagate_assignment_error(g, ErrorCode::rebalance_in_progress, now_ms, out);
  std::int32_t rebalance_timeout_ms = 0;
  for (const auto& [_, m] : g.members) rebalance_timeout_ms = std::max(rebalance_timeout_ms, m.rebalance_timeout_ms);
  JoinTimer t;
  t.sequence = ++timer_sequence_;
  if (g.state == GroupState::empty) {
    t.initial = true;
    t.delay_ms = config_.group_initial_rebalance_delay_ms;
    t.remaining_ms = std::max(rebalance_timeout_ms - config_.group_initial_rebalance_delay_ms, 0);
    t.deadline_ms = now_ms + t.delay_ms;
  } else {
    t.deadline_ms = now_ms + rebalance_timeout_ms;
  }
  g.join_timer = t;
  transition(g, GroupState::preparing_rebalance, now_ms);
  if (!t.initial) try_complete_join(g, now_ms, out);
}

// DelayedJoin.tryComplete: every member has rejoined and no KIP-394 member is
// still on its way. InitialDelayedJoin never completes early.
void GroupCoordinator::try_complete_join(Group& g, TimeMs now_ms, Replies& out) {
  if (g.state != GroupState::preparing_rebalance || !g.join_timer || g.join_timer->initial) return;
  const bool all_joined =
      g.pending.empty() && std::all_of(g.members.begin(), g.members.end(),
                                       [](const auto& e) { return e.second.awaiting_join.has_value(); });
  if (!all_joined) return;
  g.join_timer.reset();
  complete_join(g, now_ms, out);
}

// GroupCoordinator.onCompleteJoin.
void GroupCoordinator::complete_join(Group& g, TimeMs now_ms, Replies& out) {
  std::vector<std::string> gone;
  for (const auto& [id, m] : g.members)
    if (!m.awaiting_join) gone.push_back(id);
  for (const auto& id : gone) remove_member(g, id);
  if (g.state == GroupState::dead) return;

  // maybeElectNewJoinedLeader (every remaining member has rejoined).
  if (!g.members.empty() && (!g.leader_id || !g.members.count(*g.leader_id)))
    g.leader_id = g.members.begin()->first;

  // initNextGeneration.
  g.generation = g.generation.next();
  g.storing.reset();
  if (g.members.empty()) {
    g.protocol_name.reset();
    transition(g, GroupState::empty, now_ms);
    // onCompleteJoin stores the Empty group (its generation) too.
    if (config_.store_groups) stores_.push_back({g.group_id, g.generation, next_store_id_++, record_of(g, nullptr)});
    return;
  }
  g.protocol_name = select_protocol(g);
  transition(g, GroupState::completing_rebalance, now_ms);
  for (auto& [id, m] : g.members) {
    reply_join(out, *m.awaiting_join, join_result_for(g, m));
    m.awaiting_join.reset();
    schedule_heartbeat(m, now_ms, m.session_timeout_ms);
    m.is_new = false;
  }
}

void GroupCoordinator::remove_member(Group& g, const std::string& member_id) {
  auto it = g.members.find(member_id);
  if (it == g.members.end()) return;
  for (const auto& p : it->second.protocols) --g.supported_protocols[p.name];
  std::erase_if(g.supported_protocols, [](const auto& e) { return e.second <= 0; });
  g.members.erase(it);
  if (g.leader_id == member_id)
    g.leader_id = g.members.empty() ? std::nullopt : std::optional<std::string>(g.members.begin()->first);
}

void GroupCoordinator::remove_member_and_update_group(Group& g, const std::string& member_id,
                                                      TimeMs now_ms, Replies& out) {
  Member& m = g.members.at(member_id);
  // A member parked in JoinGroup hears UNKNOWN_MEMBER_ID so that it rejoins.
  if (m.awaiting_join) reply_join(out, *m.awaiting_join, join_error("", ErrorCode::unknown_member_id));
  remove_member(g, member_id);
  switch (g.state) {
    case GroupState::dead:
    case GroupState::empty: break;
    case GroupState::stable:
    case GroupState::completing_rebalance: maybe_prepare_rebalance(g, now_ms, out); break;
    case GroupState::preparing_rebalance: try_complete_join(g, now_ms, out); break;
  }
}

void GroupCoordinator::propagate_assignment(Group& g, ErrorCode error, TimeMs now_ms, Replies& out) {
  for (auto& [_, m] : g.members) {
    if (!m.awaiting_sync) continue;
    SyncResult r;
    r.error = error;
    if (error == ErrorCode::none) {
      r.protocol_type = g.protocol_type;
      r.protocol_name = g.protocol_name;
    }
    r.assignment = m.assignment;
    reply_sync(out, *m.awaiting_sync, std::move(r));
    m.awaiting_sync.reset();
    schedule_heartbeat(m, now_ms, m.session_timeout_ms);
  }
}

void GroupCoordinator::reset_and_propagate_assignment_error(Group& g, ErrorCode error, TimeMs now_ms,
                                                            Replies& out) {
  SAMSA_ASSERT(g.state == GroupState::completing_rebalance);
  g.storing.reset();
  for (auto& [_, m] : g.members) m.assignment.clear();
  propagate_assignment(g, error, now_ms, out);
}

// ---- JoinGroup ------------------------------------------------------------------

void GroupCoordinator::join_group(RequestId id, const JoinRequest& r, TimeMs now_ms, Replies& out) {
  advance(now_ms, out);
  if (auto e = validate(r.group_id, false)) return reply_join(out, id, join_error(r.member_id, *e));
  if (r.session_timeout_ms < config_.group_min_session_timeout_ms ||
      r.session_timeout_ms > config_.group_max_session_timeout_ms)
    return reply_join(out, id, join_error(r.member_id, ErrorCode::invalid_session_timeout));
  const bool unknown = r.member_id.empty();
  Group* found = find(r.group_id);
  if (!found && !unknown) return reply_join(out, id, join_error(r.member_id, ErrorCode::unknown_member_id));
  Group& g = found ? *found : get_or_create(r.group_id, now_ms);

  // acceptJoiningMember: group.max.size.
  const bool known = g.members.count(r.member_id) > 0;
  bool accept = true;
  if (g.state == GroupState::preparing_rebalance) {
    const auto awaiting = std::count_if(g.members.begin(), g.members.end(),
                                        [](const auto& e) { return e.second.awaiting_join.has_value(); });
    accept = (known && g.members.at(r.member_id).awaiting_join) || awaiting < config_.group_max_size;
  } else if (g.state == GroupState::completing_rebalance || g.state == GroupState::stable) {
    accept = known || static_cast<std::int64_t>(g.members.size()) < config_.group_max_size;
  }
  if (!accept) {
    remove_member(g, r.member_id);
    return reply_join(out, id, join_error("", ErrorCode::group_max_size_reached));
  }
  if (unknown)
    unknown_join(g, id, r, now_ms, out);
  else
    known_join(g, id, r, now_ms, out);
  if (g.state == GroupState::preparing_rebalance) try_complete_join(g, now_ms, out);
}

void GroupCoordinator::unknown_join(Group& g, RequestId id, const JoinRequest& r, TimeMs now_ms,
                                    Replies& out) {
  if (g.state == GroupState::dead) return reply_join(out, id, join_error("", ErrorCode::coordinator_not_available));
  if (!supports_protocols(g, r.protocol_type, r.protocols))
    return reply_join(out, id, join_error("", ErrorCode::inconsistent_group_protocol));
  const std::string member_id = generate_member_id(r);
  if (r.require_known_member_id) {
    // KIP-394: remember the id, and ask the client to come back with it.
    g.pending[member_id] = {now_ms + r.session_timeout_ms, ++timer_sequence_};
    return reply_join(out, id, join_error(member_id, ErrorCode::member_id_required));
  }
  add_member_and_rebalance(g, id, r, member_id, now_ms, out);
}

void GroupCoordinator::known_join(Group& g, RequestId id, const JoinRequest& r, TimeMs now_ms,
                                  Replies& out) {
  if (g.state == GroupState::dead)
    return reply_join(out, id, join_error(r.member_id, ErrorCode::coordinator_not_available));
  if (!supports_protocols(g, r.protocol_type, r.protocols))
    return reply_join(out, id, join_error(r.member_id, ErrorCode::inconsistent_group_protocol));
  if (g.pending.count(r.member_id) && !g.members.count(r.member_id))
    return add_member_and_rebalance(g, id, r, r.member_id, now_ms, out);
  auto it = g.members.find(r.member_id);
  if (it == g.members.end()) return reply_join(out, id, join_error(r.member_id, ErrorCode::unknown_member_id));
  Member& m = it->second;
  const bool same = m.protocols == r.protocols;
  switch (g.state) {
    case GroupState::preparing_rebalance:
      return update_member_and_rebalance(g, m, id, r, now_ms, out);
    case GroupState::completing_rebalance:
      // The same metadata again (a lost JoinGroup answer): the same answer.
      if (same) return reply_join(out, id, join_result_for(g, m));
      return update_member_and_rebalance(g, m, id, r, now_ms, out);
    case GroupState::stable:
      // The leader rejoining forces a rebalance (new topic metadata, say).
      if (g.leader_id == m.member_id || !same) return update_member_and_rebalance(g, m, id, r, now_ms, out);
      {
        JoinResult result = join_result_for(g, m);
        result.members.clear();
        return reply_join(out, id, std::move(result));
      }
    case GroupState::empty:
    case GroupState::dead:
      return reply_join(out, id, join_error(r.member_id, ErrorCode::unknown_member_id));
  }
}

void GroupCoordinator::add_member_and_rebalance(Group& g, RequestId id, const JoinRequest& r,
                                                const std::string& member_id, TimeMs now_ms,
                                                Replies& out) {
  Member m;
  m.member_id = member_id;
  m.group_instance_id = r.group_instance_id;
  m.client_id = r.client_id;
  m.client_host = r.client_host;
  m.rebalance_timeout_ms = r.rebalance_timeout_ms;
  m.session_timeout_ms = r.session_timeout_ms;
  m.protocols = r.protocols;
  m.is_new = true;
  m.awaiting_join = id;
  // Later members during InitialDelayedJoin extend the delay.
  if (g.state == GroupState::preparing_rebalance && g.generation == GenerationId(0)) g.new_member_added = true;
  if (g.members.empty()) g.protocol_type = r.protocol_type;
  if (!g.leader_id) g.leader_id = member_id;
  for (const auto& p : m.protocols) ++g.supported_protocols[p.name];
  // A new member cannot heartbeat yet: its JoinGroup is bounded instead.
  schedule_heartbeat(m, now_ms, config_.new_member_join_timeout_ms);
  g.members.emplace(member_id, std::move(m));
  g.pending.erase(member_id);
  maybe_prepare_rebalance(g, now_ms, out);
}

void GroupCoordinator::update_member_and_rebalance(Group& g, Member& m, RequestId id,
                                                   const JoinRequest& r, TimeMs now_ms, Replies& out) {
  for (const auto& p : m.protocols) --g.supported_protocols[p.name];
  for (const auto& p : r.protocols) ++g.supported_protocols[p.name];
  std::erase_if(g.supported_protocols, [](const auto& e) { return e.second <= 0; });
  m.protocols = r.protocols;
  // Kafka keeps only the newest parked JoinGroup of a member.
  m.awaiting_join = id;
  maybe_prepare_rebalance(g, now_ms, out);
}

// ---- SyncGroup, Heartbeat, LeaveGroup ------------------------------------------

void GroupCoordinator::sync_group(RequestId id, const SyncRequest& r, TimeMs now_ms, Replies& out) {
  advance(now_ms, out);
  if (auto e = validate(r.group_id, false)) {
    // The rebalance state was lost with the old coordinator: rejoin.
    const ErrorCode code = *e == ErrorCode::coordinator_load_in_progress ? ErrorCode::rebalance_in_progress : *e;
    return reply_sync(out, id, sync_error(code));
  }
  Group* found = find(r.group_id);
  if (!found) return reply_sync(out, id, sync_error(ErrorCode::unknown_member_id));
  Group& g = *found;
  if (g.state == GroupState::dead) return reply_sync(out, id, sync_error(ErrorCode::coordinator_not_available));
  auto it = g.members.find(r.member_id);
  if (it == g.members.end()) return reply_sync(out, id, sync_error(ErrorCode::unknown_member_id));
  if (r.generation_id != g.generation) return reply_sync(out, id, sync_error(ErrorCode::illegal_generation));
  if ((r.protocol_type && g.protocol_type != r.protocol_type) ||
      (r.protocol_name && g.protocol_name != r.protocol_name))
    return reply_sync(out, id, sync_error(ErrorCode::inconsistent_group_protocol));
  Member& m = it->second;
  switch (g.state) {
    case GroupState::empty: return reply_sync(out, id, sync_error(ErrorCode::unknown_member_id));
    case GroupState::preparing_rebalance: return reply_sync(out, id, sync_error(ErrorCode::rebalance_in_progress));
    case GroupState::completing_rebalance:
      m.awaiting_sync = id;
      if (g.leader_id == r.member_id && !g.storing) {
        // Members the leader left out get an empty assignment.
        std::map<std::string, Bytes> assignments;
        for (const auto& [mid, member] : g.members) {
          auto a = r.assignments.find(mid);
          assignments[mid] = a == r.assignments.end() ? Bytes{} : a->second;
        }
        if (!config_.store_groups) return set_and_propagate_assignment(g, assignments, now_ms, out);
        // storeGroup: everyone waits for the record.
        g.storing_id = next_store_id_++;
        stores_.push_back({g.group_id, g.generation, g.storing_id, record_of(g, &assignments)});
        g.storing = std::move(assignments);
      }
      return;
    case GroupState::stable: {
      SyncResult result;
      result.protocol_type = g.protocol_type;
      result.protocol_name = g.protocol_name;
      result.assignment = m.assignment;
      reply_sync(out, id, std::move(result));
      schedule_heartbeat(m, now_ms, m.session_timeout_ms);
      return;
    }
    case GroupState::dead: break;
  }
  SAMSA_ASSERT(false, "SyncGroup reached a Dead group");
}

void GroupCoordinator::set_and_propagate_assignment(Group& g, const std::map<std::string, Bytes>& assignments,
                                                   TimeMs now_ms, Replies& out) {
  for (auto& [mid, member] : g.members) {
    auto a = assignments.find(mid);
    member.assignment = a == assignments.end() ? Bytes{} : a->second;
  }
  g.storing.reset();
  propagate_assignment(g, ErrorCode::none, now_ms, out);
  transition(g, GroupState::stable, now_ms);
}

std::vector<GroupStore> GroupCoordinator::take_stores() { return std::exchange(stores_, {}); }

void GroupCoordinator::group_stored(const GroupStore& store, ErrorCode error, TimeMs now_ms, Replies& out) {
  advance(now_ms, out);
  Group* g = find(store.group_id);
  if (!g || g->generation != store.generation || g->state != GroupState::completing_rebalance || !g->storing ||
      g->storing_id != store.id)
    return;
  if (error == ErrorCode::none) {
    const auto assignments = *g->storing;
    return set_and_propagate_assignment(*g, assignments, now_ms, out);
  }
  reset_and_propagate_assignment_error(*g, error, now_ms, out);
  maybe_prepare_rebalance(*g, now_ms, out);
}

ErrorCode GroupCoordinator::heartbeat(std::string_view group_id, std::string_view member_id,
                                      GenerationId generation_id, TimeMs now_ms, Replies& out) {
  advance(now_ms, out);
  if (auto e = validate(group_id, false))
    return *e == ErrorCode::coordinator_load_in_progress ? ErrorCode::none : *e;  // Kafka answers blindly
  Group* g = find(group_id);
  if (!g) return ErrorCode::unknown_member_id;
  if (g->state == GroupState::dead) return ErrorCode::coordinator_not_available;
  auto it = g->members.find(std::string(member_id));
  if (it == g->members.end()) return ErrorCode::unknown_member_id;
  if (generation_id != g->generation) return ErrorCode::illegal_generation;
  switch (g->state) {
    case GroupState::empty: return ErrorCode::unknown_member_id;
    case GroupState::completing_rebalance:
    case GroupState::stable: schedule_heartbeat(it->second, now_ms, it->second.session_timeout_ms); return ErrorCode::none;
    case GroupState::preparing_rebalance:
      schedule_heartbeat(it->second, now_ms, it->second.session_timeout_ms);
      return ErrorCode::rebalance_in_progress;
    case GroupState::dead: break;
  }
  return ErrorCode::coordinator_not_available;
}

LeaveResult GroupCoordinator::leave_group(std::string_view group_id,
                                          const std::vector<std::string>& member_ids, TimeMs now_ms,
                                          Replies& out) {
  advance(now_ms, out);
  LeaveResult result;
  if (auto e = validate(group_id, false)) {
    result.error = *e;
    return result;
  }
  Group* g = find(group_id);
  if (!g) {
    result.members.assign(member_ids.size(), ErrorCode::unknown_member_id);
    return result;
  }
  if (g->state == GroupState::dead) {
    result.error = ErrorCode::coordinator_not_available;
    return result;
  }
  for (const auto& id : member_ids) {
    if (g->pending.count(id) && !g->members.count(id)) {
      g->pending.erase(id);
      if (g->state == GroupState::preparing_rebalance) try_complete_join(*g, now_ms, out);
      result.members.push_back(ErrorCode::none);
    } else if (!g->members.count(id)) {
      result.members.push_back(ErrorCode::unknown_member_id);
    } else {
      g->members.at(id).heartbeat_deadline_ms.reset();  // removeHeartbeatForLeavingMember
      remove_member_and_update_group(*g, id, now_ms, out);
      result.members.push_back(ErrorCode::none);
    }
  }
  return result;
}

// ---- offsets ------------------------------------------------------------------

std::vector<ErrorCode> GroupCoordinator::commit_offsets(const OffsetCommitRequest& r, TimeMs now_ms,
                                                        Replies& out) {
  advance(now_ms, out);
  const auto all = [&](ErrorCode e) { return std::vector<ErrorCode>(r.offsets.size(), e); };
  if (auto e = validate(r.group_id, true)) return all(*e);
  Group* found = find(r.group_id);
  if (!found) {
    // Offsets of a group that does not use group management (generation -1).
    if (r.generation_id.value() >= 0) return all(ErrorCode::illegal_generation);
    found = &get_or_create(r.group_id, now_ms);
  }
  Group& g = *found;
  if (g.state == GroupState::dead) return all(ErrorCode::coordinator_not_available);
  const bool outside_group_management = r.generation_id.value() < 0 && g.state == GroupState::empty;
  if (!outside_group_management) {
    auto it = g.members.find(r.member_id);
    if (it == g.members.end()) return all(ErrorCode::unknown_member_id);
    if (r.generation_id != g.generation) return all(ErrorCode::illegal_generation);
    if (g.state == GroupState::completing_rebalance) return all(ErrorCode::rebalance_in_progress);
    // Stable or PreparingRebalance: a commit also shows the member is alive.
    schedule_heartbeat(it->second, now_ms, it->second.session_timeout_ms);
  }
  // GroupMetadataManager.storeOffsets.
  std::vector<ErrorCode> errors;
  for (const auto& [tp, offset] : r.offsets) {
    if (static_cast<std::int64_t>(offset.metadata.size()) > config_.offset_metadata_max_bytes) {
      errors.push_back(ErrorCode::offset_metadata_too_large);
      continue;
    }
    CommittedOffset stored = offset;
    stored.commit_timestamp_ms = now_ms;
    if (!config_.store_groups) g.offsets[tp] = stored;
    errors.push_back(ErrorCode::none);
  }
  return errors;
}

std::pair<ErrorCode, std::map<TopicPartitionKey, CommittedOffset>> GroupCoordinator::fetch_offsets(
    std::string_view group_id, const std::optional<std::vector<TopicPartitionKey>>& partitions) const {
  if (auto e = validate(group_id, true)) return {*e, {}};
  const Group* g = find(group_id);
  if (!g) return {ErrorCode::none, {}};
  if (!partitions) return {ErrorCode::none, g->offsets};
  std::map<TopicPartitionKey, CommittedOffset> out;
  for (const auto& tp : *partitions) {
    auto it = g->offsets.find(tp);
    if (it != g->offsets.end()) out.emplace(*it);
  }
  return {ErrorCode::none, out};
}

void GroupCoordinator::offsets_appended(std::string_view group_id,
                                        const std::vector<std::pair<TopicPartitionKey, CommittedOffset>>& offsets,
                                        std::int64_t record_offset) {
  if (validate(group_id, true)) return;  // unloaded meanwhile: a new load reads the log
  Group* g = find(group_id);
  if (!g || g->state == GroupState::dead) return;
  for (const auto& [tp, o] : offsets) {
    auto [it, fresh] = g->offset_records.emplace(tp, record_offset);
    if (!fresh && it->second > record_offset) continue;
    it->second = record_offset;
    g->offsets[tp] = o;
  }
}

void GroupCoordinator::load_offsets(std::string_view group_id,
                                    const std::map<TopicPartitionKey, CommittedOffset>& offsets,
                                    TimeMs now_ms) {
  Group& g = get_or_create(group_id, now_ms);
  for (const auto& [tp, o] : offsets) {
    g.offsets[tp] = o;
    g.offset_records[tp] = -1;
  }
}

std::optional<GroupMetadataValue> GroupCoordinator::group_record(std::string_view group_id) const {
  const Group* g = find(group_id);
  if (!g || (g->state != GroupState::stable && g->state != GroupState::empty)) return std::nullopt;
  return record_of(*g, nullptr);
}

// GroupMetadataManager.groupMetadataValue: the members' assignments are
// `assignments` when given (the one being stored), else the members' own.
GroupMetadataValue GroupCoordinator::record_of(const Group& gr, const std::map<std::string, Bytes>* assignments) const {
  const Group* g = &gr;
  GroupMetadataValue v;
  v.protocol_type = g->protocol_type.value_or("");
  v.generation = g->generation;
  v.protocol = g->protocol_name;
  v.leader = g->leader_id;
  v.current_state_timestamp_ms = g->state_timestamp_ms;
  for (const auto& [id, m] : g->members) {
    GroupMemberRecord r;
    r.member_id = id;
    r.group_instance_id = m.group_instance_id;
    r.client_id = m.client_id;
    r.client_host = m.client_host;
    r.rebalance_timeout_ms = m.rebalance_timeout_ms;
    r.session_timeout_ms = m.session_timeout_ms;
    for (const auto& p : m.protocols)
      if (p.name == g->protocol_name) r.subscription = p.metadata;
    r.assignment = m.assignment;
    if (assignments) {
      auto a = assignments->find(id);
      r.assignment = a == assignments->end() ? Bytes{} : a->second;
    }
    v.members.push_back(std::move(r));
  }
  return v;
}

void GroupCoordinator::load_group(std::string_view group_id, const GroupMetadataValue& value,
                                  TimeMs now_ms, Replies& out) {
  Group& g = get_or_create(group_id, now_ms);
  SAMSA_ASSERT(g.members.empty(), "loading over a group with members");
  g.generation = value.generation;
  g.protocol_type = value.protocol_type.empty() ? std::nullopt : std::optional<std::string>(value.protocol_type);
  g.protocol_name = value.protocol;
  g.leader_id = value.leader;
  g.state_timestamp_ms = value.current_state_timestamp_ms;
  g.state = value.members.empty() ? GroupState::empty : GroupState::stable;
  for (const auto& r : value.members) {
    Member m;
    m.member_id = r.member_id;
    m.group_instance_id = r.group_instance_id;
    m.client_id = r.client_id;
    m.client_host = r.client_host;
    m.rebalance_timeout_ms = r.rebalance_timeout_ms;
    m.session_timeout_ms = r.session_timeout_ms;
    m.protocols = {Protocol{value.protocol.value_or(""), r.subscription}};
    m.assignment = r.assignment;
    for (const auto& p : m.protocols) ++g.supported_protocols[p.name];
    schedule_heartbeat(m, now_ms, m.session_timeout_ms);
    g.members.emplace(r.member_id, std::move(m));
  }
  if (!g.leader_id && !g.members.empty()) g.leader_id = g.members.begin()->first;
  if (static_cast<std::int64_t>(g.members.size()) > config_.group_max_size) prepare_rebalance(g, now_ms, out);
}

// ---- describe, list, ownership --------------------------------------------------

std::pair<ErrorCode, GroupSummary> GroupCoordinator::describe_group(std::string_view group_id) const {
  if (auto e = validate(group_id, true)) return {*e, GroupSummary{}};
  const Group* g = find(group_id);
  GroupSummary s;
  if (!g) return {ErrorCode::none, s};  // GroupCoordinator.DeadGroup
  s.state = g->state;
  s.protocol_type = g->protocol_type.value_or("");
  s.generation_id = g->generation;
  s.leader_id = g->leader_id.value_or("");
  const bool stable = g->state == GroupState::stable;
  if (stable) s.protocol_name = g->protocol_name.value_or("");
  for (const auto& [id, m] : g->members) {
    MemberSummary ms{id, m.group_instance_id, m.client_id, m.client_host, {}, {}};
    if (stable) {
      for (const auto& p : m.protocols)
        if (p.name == s.protocol_name) ms.metadata = p.metadata;
      ms.assignment = m.assignment;
    }
    s.members.push_back(std::move(ms));
  }
  return {ErrorCode::none, s};
}

std::pair<ErrorCode, std::vector<std::tuple<std::string, std::string, GroupState>>>
GroupCoordinator::list_groups() const {
  std::vector<std::tuple<std::string, std::string, GroupState>> out;
  bool loading = false;
  for (const auto& [p, status] : partitions_) loading = loading || status == PartitionStatus::loading;
  for (const auto& [id, g] : groups_)
    if (!validate(id, true)) out.emplace_back(id, g.protocol_type.value_or(""), g.state);
  return {loading ? ErrorCode::coordinator_load_in_progress : ErrorCode::none, out};
}

void GroupCoordinator::set_partition_status(std::int32_t partition, PartitionStatus status, Replies& out) {
  SAMSA_ASSERT(partition >= 0 && partition < config_.offsets_topic_num_partitions);
  const auto it = partitions_.find(partition);
  const bool was_owned = it != partitions_.end() && it->second == PartitionStatus::owned;
  partitions_[partition] = status;
  if (!was_owned || status == PartitionStatus::owned) return;
  std::vector<std::string> gone;
  for (auto& [id, g] : groups_)
    if (partition_for(id) == partition) {
      unload(g, out);
      gone.push_back(id);
    }
  for (const auto& id : gone) groups_.erase(id);
  std::erase_if(deleting_, [&](const auto& d) { return partition_for(d.first) == partition; });
}

// GroupCoordinator.onGroupUnloaded.
void GroupCoordinator::unload(Group& g, Replies& out) {
  const GroupState previous = g.state;
  g.state = GroupState::dead;
  g.join_timer.reset();
  for (auto& [id, m] : g.members) {
    if (previous == GroupState::preparing_rebalance && m.awaiting_join)
      reply_join(out, *m.awaiting_join, join_error(id, ErrorCode::not_coordinator));
    if ((previous == GroupState::stable || previous == GroupState::completing_rebalance) && m.awaiting_sync)
      reply_sync(out, *m.awaiting_sync, sync_error(ErrorCode::not_coordinator));
    m.awaiting_join.reset();
    m.awaiting_sync.reset();
  }
}

// ---- offset retention ---------------------------------------------------------------

namespace {
// ConsumerProtocolSubscription's topics (every version begins with them).
std::optional<std::vector<std::string>> subscription_topics(const Bytes& metadata) {
  protocol::Reader r{ByteView(metadata)};
  if (!r.int16()) return std::nullopt;
  auto n = r.array_length(false);
  if (!n || !*n) return std::nullopt;
  std::vector<std::string> topics;
  for (std::size_t i = 0; i < **n; ++i) {
    auto len = r.string_length(false);
    if (!len || !*len) return std::nullopt;
    auto bytes = r.raw(**len);
    if (!bytes) return std::nullopt;
    topics.emplace_back(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  }
  return topics;
}
}  // namespace

// GroupMetadata.computeSubscribedTopics: known only for the "consumer"
// protocol type when every member's metadata for the chosen protocol parses.
std::optional<std::set<std::string>> GroupCoordinator::subscribed_topics(const Group& g) const {
  if (g.protocol_type != "consumer" || !g.protocol_name || g.members.empty()) return std::nullopt;
  std::set<std::string> out;
  for (const auto& [id, m] : g.members) {
    const Protocol* chosen = nullptr;
    for (const auto& p : m.protocols)
      if (p.name == *g.protocol_name) chosen = &p;
    if (chosen == nullptr) return std::nullopt;
    auto topics = subscription_topics(chosen->metadata);
    if (!topics) return std::nullopt;
    out.insert(topics->begin(), topics->end());
  }
  return out;
}

std::vector<GroupCoordinator::ExpiredGroup> GroupCoordinator::expire_offsets(TimeMs now_ms, std::int64_t retention_ms) {
  std::vector<ExpiredGroup> out;
  std::vector<std::string> dead;
  for (auto& [id, g] : groups_) {
    if (validate(id, true)) continue;  // a partition not (yet) owned
    ExpiredGroup e;
    e.group_id = id;
    const bool empty = g.state == GroupState::empty;
    std::optional<std::set<std::string>> subscribed;
    bool eligible = true;
    if (g.protocol_type && !empty) {
      subscribed = subscribed_topics(g);
      eligible = subscribed.has_value();
    }
    if (eligible) {
      for (auto it = g.offsets.begin(); it != g.offsets.end();) {
        // Empty with a protocol type: since the group became Empty; else since the commit.
        // Empty with a protocol type: since the group became Empty; else since
        // the commit; an explicit expire timestamp over both (getExpiredOffsets).
        const TimeMs base = empty && g.protocol_type ? g.state_timestamp_ms : it->second.commit_timestamp_ms;
        const bool due = it->second.expire_timestamp_ms ? now_ms >= *it->second.expire_timestamp_ms
                                                        : now_ms - base >= retention_ms;
        const bool expired = (!subscribed || !subscribed->count(it->first.topic)) && due;
        if (!expired) {
          ++it;
          continue;
        }
        e.offsets.push_back(it->first);
        it = g.offsets.erase(it);
      }
    }
    if (empty && g.offsets.empty()) {
      e.group_tombstone = g.generation.value() > 0;  // generation 0: offsets storage only
      dead.push_back(id);
    }
    if (!e.offsets.empty() || e.group_tombstone) out.push_back(std::move(e));
  }
  for (const auto& id : dead) groups_.erase(id);
  return out;
}

// ---- DeleteGroups ------------------------------------------------------------------

std::vector<GroupCoordinator::DeletedGroup> GroupCoordinator::delete_groups(const std::vector<std::string>& group_ids) {
  std::vector<DeletedGroup> out;
  for (const auto& id : group_ids) {
    DeletedGroup d;
    d.group_id = id;
    Group* g = find(id);
    if (auto e = validate(id, true)) {
      d.error = *e;  // DeleteGroups accepts "" (isValidGroupId)
    } else if (!g || g->state == GroupState::dead) {
      d.error = ErrorCode::group_id_not_found;  // the partition is ours: groupNotExists
    } else if (g->state != GroupState::empty) {
      d.error = ErrorCode::non_empty_group;
    } else {
      for (const auto& [tp, o] : g->offsets) d.offsets.push_back(tp);
      d.group_tombstone = g->generation.value() > 0;  // generation 0: offsets storage only
      auto node = groups_.extract(groups_.find(id));
      deleting_.insert_or_assign(id, std::move(node.mapped()));
    }
    out.push_back(std::move(d));
  }
  return out;
}

void GroupCoordinator::group_deleted(std::string_view group_id, ErrorCode error) {
  auto it = deleting_.find(group_id);
  if (it == deleting_.end()) return;  // unloaded meanwhile
  auto node = deleting_.extract(it);
  if (error == ErrorCode::none || validate(group_id, true) || find(group_id)) return;
  groups_.insert(std::move(node));
}

std::optional<GroupState> GroupCoordinator::state(std::string_view group_id) const {
  const Group* g = find(group_id);
  if (!g) return std::nullopt;
  return g->state;
}

std::optional<GenerationId> GroupCoordinator::generation(std::string_view group_id) const {
  const Group* g = find(group_id);
  if (!g) return std::nullopt;
  return g->generation;
}

}  // namespace samsa::broker::group
