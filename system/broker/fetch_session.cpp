#include "system/broker/fetch_session.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <string_view>
#include <tuple>

namespace samsa::broker {

using namespace protocol;

std::int32_t next_session_epoch(std::int32_t epoch) {
  if (epoch < 0) return k_final_epoch;  // FINAL_EPOCH stays final
  if (epoch == std::numeric_limits<std::int32_t>::max()) return 1;
  return epoch + 1;
}

namespace {

bool same_ask(const FetchRequest::FetchPartition& a, const FetchRequest::FetchPartition& b) {
  return a.fetch_offset == b.fetch_offset && a.log_start_offset == b.log_start_offset &&
         a.partition_max_bytes == b.partition_max_bytes && a.current_leader_epoch == b.current_leader_epoch &&
         a.last_fetched_epoch == b.last_fetched_epoch;
}

// Appends `fp` to `topics`, under `topic`'s entry if it is the last one.
void add_partition(std::vector<FetchRequest::FetchTopic>& topics, std::string_view topic,
                   const FetchRequest::FetchPartition& fp) {
  if (topics.empty() || topics.back().topic != topic) topics.emplace_back().topic = std::string(topic);
  topics.back().partitions.push_back(fp);
}

void add_forgotten(std::vector<FetchRequest::ForgottenTopic>& topics, std::string_view topic, PartitionId p) {
  if (topics.empty() || topics.back().topic != topic) topics.emplace_back().topic = std::string(topic);
  topics.back().partitions.push_back(p);
}

FetchResponse session_error(ErrorCode e, std::int32_t session_id) {
  FetchResponse r;
  r.error_code = e;
  r.session_id = session_id;
  return r;
}

// CachedPartition.maybeUpdateResponseData: whether an incremental answer
// carries the partition, noting what the fetcher now knows.
bool must_respond(Offset& high_watermark, Offset& local_log_start, const FetchResponse::PartitionData& pd) {
  bool must = pd.records && !pd.records->empty();
  if (high_watermark != pd.high_watermark) {
    must = true;
    high_watermark = pd.high_watermark;
  }
  if (local_log_start != pd.log_start_offset) {
    must = true;
    local_log_start = pd.log_start_offset;
  }
  if (pd.preferred_read_replica.value() >= 0) must = true;
  if (pd.error_code != ErrorCode::none) {
    // Sent again once the error is gone, whatever the watermark then.
    high_watermark = Offset(-1);
    must = true;
  }
  if (pd.diverging_epoch) must = true;
  return must;
}

}  // namespace

// --- FetchSessionCache ---------------------------------------------------------------------------

FetchSessionCache::Context FetchSessionCache::open(const FetchRequest& req, std::int16_t version, bool follower,
                                                   sim::MonoTime now) {
  const bool full = req.session_epoch == k_initial_epoch || req.session_epoch == k_final_epoch;
  if (!full) return open_incremental(req, now);
  // Any session a full request names is closed.
  if (req.session_id != k_invalid_session_id) sessions_.erase(req.session_id);
  Context c;
  c.privileged = follower;
  if (req.session_epoch == k_final_epoch) return c;  // sessionless
  c.kind = Kind::full;
  c.may_open = version <= 12 && max_sessions_ > 0;  // sessions key by topic name
  return c;
}

FetchSessionCache::Context FetchSessionCache::open_incremental(const FetchRequest& req, sim::MonoTime now) {
  Context c;
  auto it = sessions_.find(req.session_id);
  if (it == sessions_.end() || it->second.epoch != req.session_epoch) {
    c.kind = Kind::error;
    c.error = it == sessions_.end() ? ErrorCode::fetch_session_id_not_found : ErrorCode::invalid_fetch_session_epoch;
    return c;
  }
  Session& s = it->second;
  update(s, req);
  if (s.request->topics.empty()) {
    sessions_.erase(it);
    return c;  // sessionless: the request's own (no) partitions
  }
  s.last_used = now;
  s.epoch = next_session_epoch(s.epoch);
  c.kind = Kind::incremental;
  c.session_id = req.session_id;
  c.expanded = s.request;
  return c;
}

// The session's request to change: a copy if a fetch still reads it.
FetchRequest& FetchSessionCache::writable(Session& s) {
  if (s.request.use_count() > 1) s.request = std::make_shared<FetchRequest>(*s.request);
  return *s.request;
}

namespace {

// Where (topic, partition) is or would go in `topics` (ordered).
std::pair<std::size_t, std::size_t> place(const std::vector<FetchRequest::FetchTopic>& topics, std::string_view topic,
                                          PartitionId p) {
  const auto t = std::lower_bound(topics.begin(), topics.end(), topic,
                                  [](const auto& ft, std::string_view want) { return ft.topic < want; });
  const std::size_t ti = static_cast<std::size_t>(t - topics.begin());
  if (t == topics.end() || t->topic != topic) return {ti, 0};
  const auto q = std::lower_bound(t->partitions.begin(), t->partitions.end(), p,
                                  [](const auto& fp, PartitionId want) { return fp.partition < want; });
  return {ti, static_cast<std::size_t>(q - t->partitions.begin())};
}

bool at(const std::vector<FetchRequest::FetchTopic>& topics, std::pair<std::size_t, std::size_t> where,
        std::string_view topic, PartitionId p) {
  return where.first < topics.size() && topics[where.first].topic == topic &&
         where.second < topics[where.first].partitions.size() &&
         topics[where.first].partitions[where.second].partition == p;
}

void copy_ask(FetchRequest::FetchPartition& to, const FetchRequest::FetchPartition& from) {
  to.current_leader_epoch = from.current_leader_epoch;
  to.fetch_offset = from.fetch_offset;
  to.last_fetched_epoch = from.last_fetched_epoch;
  to.log_start_offset = from.log_start_offset;
  to.partition_max_bytes = from.partition_max_bytes;
}

bool same_header(const FetchRequest& a, const FetchRequest& b) {
  return a.replica_id == b.replica_id && a.replica_state == b.replica_state && a.max_wait_ms == b.max_wait_ms &&
         a.min_bytes == b.min_bytes && a.max_bytes == b.max_bytes && a.isolation_level == b.isolation_level &&
         a.rack_id == b.rack_id && a.cluster_id == b.cluster_id;
}

}  // namespace

// FetchSession.update: the request's partitions join or update the session,
// its forgotten ones leave; its other fields become the session's.
void FetchSessionCache::update(Session& s, const FetchRequest& req) {
  if (!same_header(*s.request, req)) {
    FetchRequest& w = writable(s);
    w.cluster_id = req.cluster_id;
    w.replica_id = req.replica_id;
    w.replica_state = req.replica_state;
    w.max_wait_ms = req.max_wait_ms;
    w.min_bytes = req.min_bytes;
    w.max_bytes = req.max_bytes;
    w.isolation_level = req.isolation_level;
    w.rack_id = req.rack_id;
  }
  for (const auto& t : req.topics)
    for (const auto& fp : t.partitions) {
      const auto where = place(s.request->topics, t.topic, fp.partition);
      if (at(s.request->topics, where, t.topic, fp.partition)) {
        if (!same_ask(s.request->topics[where.first].partitions[where.second], fp))
          copy_ask(writable(s).topics[where.first].partitions[where.second], fp);
        continue;
      }
      auto& topics = writable(s).topics;
      if (where.first == topics.size() || topics[where.first].topic != t.topic) {
        topics.emplace(topics.begin() + static_cast<std::ptrdiff_t>(where.first))->topic = t.topic;
        s.told.emplace(s.told.begin() + static_cast<std::ptrdiff_t>(where.first));
      }
      auto& ps = topics[where.first].partitions;
      copy_ask(*ps.emplace(ps.begin() + static_cast<std::ptrdiff_t>(where.second), FetchRequest::FetchPartition{fp.partition}), fp);
      auto& told = s.told[where.first];
      told.emplace(told.begin() + static_cast<std::ptrdiff_t>(where.second));  // unknown: answered next
    }
  for (const auto& t : req.forgotten_topics_data)
    for (const PartitionId p : t.partitions) {
      const auto where = place(s.request->topics, t.topic, p);
      if (!at(s.request->topics, where, t.topic, p)) continue;
      auto& ps = writable(s).topics[where.first].partitions;
      ps.erase(ps.begin() + static_cast<std::ptrdiff_t>(where.second));
      auto& told = s.told[where.first];
      told.erase(told.begin() + static_cast<std::ptrdiff_t>(where.second));
      if (!ps.empty()) continue;
      s.request->topics.erase(s.request->topics.begin() + static_cast<std::ptrdiff_t>(where.first));
      s.told.erase(s.told.begin() + static_cast<std::ptrdiff_t>(where.first));
    }
}

FetchResponse FetchSessionCache::answer(const Context& ctx, const FetchRequest& req, FetchResponse read,
                                        sim::MonoTime now) {
  switch (ctx.kind) {
    case Kind::error:
      return session_error(ctx.error, k_invalid_session_id);
    case Kind::sessionless:
      read.session_id = k_invalid_session_id;
      return read;
    case Kind::full:
      read.session_id = ctx.may_open ? create(req, read, ctx.privileged, now) : k_invalid_session_id;
      return read;
    case Kind::incremental:
      break;
  }
  auto it = sessions_.find(ctx.session_id);
  // Closed, changed or used again while this request waited (a fetcher
  // that timed out and started over): Kafka's "possible duplicate request".
  if (it == sessions_.end() || it->second.request != ctx.expanded ||
      it->second.epoch != next_session_epoch(req.session_epoch))
    return session_error(ErrorCode::invalid_fetch_session_epoch, ctx.session_id);
  // `read` answers the session's request, entry for entry.
  Session& s = it->second;
  SAMSA_ASSERT(read.responses.size() == s.told.size(), "a session's answer follows the session's partitions");
  for (std::size_t ti = 0; ti < read.responses.size(); ++ti) {
    auto& ps = read.responses[ti].partitions;
    SAMSA_ASSERT(ps.size() == s.told[ti].size(), "a session's answer follows the session's partitions");
    auto keep = ps.begin();
    for (std::size_t pi = 0; pi < ps.size(); ++pi)
      if (must_respond(s.told[ti][pi].high_watermark, s.told[ti][pi].local_log_start, ps[pi]))
        *keep++ = std::move(ps[pi]);
    ps.erase(keep, ps.end());
  }
  std::erase_if(read.responses, [](const auto& t) { return t.partitions.empty(); });
  read.session_id = ctx.session_id;
  return read;
}

// FullFetchContext.updateAndGenerateResponseData: a session from a full
// request and its answer, if the cache has or can make room.
std::int32_t FetchSessionCache::create(const FetchRequest& req, const FetchResponse& resp, bool privileged,
                                       sim::MonoTime now) {
  Session s;
  s.privileged = privileged;
  s.created = s.last_used = now;
  s.epoch = next_session_epoch(k_initial_epoch);
  s.request = std::make_shared<FetchRequest>();
  update(s, req);  // the header, and every asked partition once
  if (s.request->topics.empty()) return k_invalid_session_id;
  // What each answer told; `resp` mirrors `req`, and a partition asked twice
  // keeps its last answer.
  for (std::size_t ti = 0; ti < req.topics.size() && ti < resp.responses.size(); ++ti) {
    const auto& t = req.topics[ti];
    for (std::size_t pi = 0; pi < t.partitions.size() && pi < resp.responses[ti].partitions.size(); ++pi) {
      const auto& pd = resp.responses[ti].partitions[pi];
      const auto where = place(s.request->topics, t.topic, t.partitions[pi].partition);
      s.told[where.first][where.second] = Told{pd.high_watermark, pd.log_start_offset};
    }
  }
  if (sessions_.size() >= static_cast<std::size_t>(max_sessions_) && !try_evict(privileged, s.size(), now))
    return k_invalid_session_id;
  const std::int32_t id = new_session_id();
  s.request->session_id = id;
  sessions_.emplace(id, std::move(s));
  return id;
}

std::size_t FetchSessionCache::Session::size() const {
  std::size_t n = 0;
  for (const auto& t : told) n += t.size();
  return n;
}

// FetchSessionCache.tryEvict: a new session A may evict B if B is stale
// (unused for k_eviction), or A is privileged (a follower's) and B is not, or
// A has more partitions than B and B is not new. Kafka files sessions in its
// evictable sets at their last use; this asks the same of the time now.
bool FetchSessionCache::try_evict(bool privileged, std::size_t size, sim::MonoTime now) {
  if (sessions_.empty()) return false;
  auto lru = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
    return std::tie(a.second.last_used, a.first) < std::tie(b.second.last_used, b.first);
  });
  if (now - lru->second.last_used > k_eviction) {
    sessions_.erase(lru);
    return true;
  }
  auto key = [](const auto& e) { return std::tuple(e.second.privileged, e.second.size(), e.first); };
  std::optional<decltype(sessions_)::iterator> least;
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    const bool old = now - it->second.created > k_eviction;
    const bool evictable = privileged ? (!it->second.privileged || old) : old;
    if (evictable && (!least || key(*it) < key(**least))) least = it;
  }
  if (!least || std::tuple(privileged, size, std::int32_t{0}) < key(**least)) return false;
  sessions_.erase(*least);
  return true;
}

// FetchSessionCache.newSessionId: positive, unused here.
std::int32_t FetchSessionCache::new_session_id() {
  for (;;) {
    const auto id = static_cast<std::int32_t>(rng_.uniform(1, std::numeric_limits<std::int32_t>::max() - 1));
    if (!sessions_.count(id)) return id;
  }
}

std::size_t FetchSessionCache::partitions(std::int32_t session_id) const {
  const auto it = sessions_.find(session_id);
  return it == sessions_.end() ? 0 : it->second.size();
}

// --- FetchSessionHandler -------------------------------------------------------------------------

// FetchSessionHandler.Builder.build: a full request names every wanted
// partition; an incremental one the new and changed ones, and forgets the
// ones no longer wanted.
void FetchSessionHandler::build(FetchRequest& req, const std::vector<FetchRequest::FetchTopic>& wanted) {
  req.session_id = session_id_;
  req.session_epoch = epoch_;
  req.topics.clear();
  req.forgotten_topics_data.clear();
  std::vector<std::pair<const std::string*, const FetchRequest::FetchPartition*>> next;
  for (const auto& t : wanted)
    for (const auto& fp : t.partitions) next.emplace_back(&t.topic, &fp);
  auto same_key = [](const auto& n, const Entry& e) {
    return *n.first == e.first.first && n.second->partition == e.first.second;
  };
  const bool same_keys =
      next.size() == session_.size() && std::equal(next.begin(), next.end(), session_.begin(), same_key);
  for (std::size_t i = 0; i < next.size(); ++i) {
    const auto& [topic, fp] = next[i];
    const Entry* e = full() ? nullptr : same_keys ? &session_[i] : find(*topic, fp->partition);
    if (!e || !same_ask(e->second, *fp)) add_partition(req.topics, *topic, *fp);
  }
  if (!full() && !same_keys) {
    for (const Entry& e : session_) {
      const bool still = std::any_of(next.begin(), next.end(), [&](const auto& n) { return same_key(n, e); });
      if (!still) add_forgotten(req.forgotten_topics_data, e.first.first, e.first.second);
    }
  }
  if (same_keys) {
    for (std::size_t i = 0; i < next.size(); ++i) session_[i].second = *next[i].second;
    return;
  }
  session_.clear();
  for (const auto& [topic, fp] : next) session_.emplace_back(SessionKey{*topic, fp->partition}, *fp);
  std::sort(session_.begin(), session_.end(), [](const Entry& a, const Entry& b) { return a.first < b.first; });
}

const FetchSessionHandler::Entry* FetchSessionHandler::find(std::string_view topic, PartitionId p) const {
  const auto it = std::lower_bound(session_.begin(), session_.end(), std::pair{topic, p}, [](const Entry& e, const auto& k) {
    return std::pair<std::string_view, PartitionId>{e.first.first, e.first.second} < k;
  });
  if (it == session_.end() || it->first.first != topic || it->first.second != p) return nullptr;
  return &*it;
}

// FetchSessionHandler.handleResponse.
bool FetchSessionHandler::handle_response(const FetchResponse& resp) {
  if (resp.error_code != ErrorCode::none) {
    if (resp.error_code == ErrorCode::fetch_session_id_not_found) session_id_ = k_invalid_session_id;
    epoch_ = k_initial_epoch;  // a full request next, closing the session if any
    return false;
  }
  const bool was_full = full();
  if (!answer_fits(resp)) {
    if (was_full) session_id_ = k_invalid_session_id;
    epoch_ = k_initial_epoch;
    return false;
  }
  if (resp.session_id == k_invalid_session_id) {  // none opened, or the broker closed it
    session_id_ = k_invalid_session_id;
    epoch_ = k_initial_epoch;
  } else if (was_full) {
    session_id_ = resp.session_id;
    epoch_ = next_session_epoch(k_initial_epoch);
  } else {
    epoch_ = next_session_epoch(epoch_);
  }
  return true;
}

void FetchSessionHandler::handle_error() { epoch_ = k_initial_epoch; }

// verifyFullFetchResponsePartitions / verifyIncrementalFetchResponsePartitions:
// an answer names only session partitions, and a full one all of them.
bool FetchSessionHandler::answer_fits(const FetchResponse& resp) const {
  std::size_t named = 0;
  for (const auto& t : resp.responses)
    for (const auto& pd : t.partitions) {
      if (!find(t.topic, pd.partition_index)) return false;
      ++named;
    }
  return !full() || named == session_.size();
}

}  // namespace samsa::broker
