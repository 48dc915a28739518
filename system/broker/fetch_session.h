#pragma once
// Incremental fetch sessions (KIP-227), both ends.
//
// A fetcher that keeps asking a leader for the same partitions need not send
// them all each time, nor hear about all of them: after one full fetch the
// leader remembers the partitions in a session, and each later (incremental)
// request names only the partitions whose fetch position changed, and each
// answer carries only the partitions with records, a new high watermark or
// log start offset, or an error. With the offsets topic's 50 partitions in
// every follower's fetch, a session cuts a request to the one or two
// partitions that moved.
//
// Server side, FetchSessionCache: Kafka's FetchManager.newContext with its
// Sessionless / Full / Incremental / SessionError contexts and
// FetchSessionCache (kafka.server.FetchSession.scala): FINAL_EPOCH asks for
// no session; a full request (epoch 0) closes the session it names and opens
// a new one if the cache has room or can evict (stale, unprivileged, or
// smaller and not new); an incremental request must name a live session and
// its next epoch (FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH).
// Sessions key partitions by topic name, so only requests up to Fetch v12
// (before topic ids) open one; a v13+ full request is served without a
// session (session id 0), which KIP-227 lets a broker do at any time. The
// session's partitions are read in (topic, partition) order, not Kafka's
// move-to-end order (its fairness under fetch.max.bytes).
//
// Client side, FetchSessionHandler (org.apache.kafka.clients.FetchSessionHandler):
// the fetcher says which partitions it wants this round; the handler turns
// that into a full or incremental request and checks each answer, starting
// over with a full request on any session error or surprise.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/runtime/random.h"
#include "sim/runtime/time.h"
#include "system/protocol/typed_messages.h"

namespace samsa::broker {

// org.apache.kafka.common.requests.FetchMetadata.
constexpr std::int32_t k_invalid_session_id = 0;
constexpr std::int32_t k_initial_epoch = 0;  // a full request that opens a session
constexpr std::int32_t k_final_epoch = -1;   // a full request with no session
std::int32_t next_session_epoch(std::int32_t epoch);

using SessionKey = std::pair<std::string, protocol::PartitionId>;

class FetchSessionCache {
 public:
  // Kafka's FetchSessionCache eviction time (fixed at 120 s in KafkaServer).
  static constexpr sim::Duration k_eviction = std::chrono::seconds(120);

  FetchSessionCache(std::int32_t max_sessions, sim::Random rng) : max_sessions_(max_sessions), rng_(std::move(rng)) {}

  enum class Kind { sessionless, full, incremental, error };
  // What one request is served as.
  struct Context {
    Kind kind = Kind::sessionless;
    protocol::ErrorCode error = protocol::ErrorCode::none;  // Kind::error
    std::int32_t session_id = k_invalid_session_id;         // Kind::incremental
    bool privileged = false;                                // from a follower
    bool may_open = false;                                  // Kind::full: a session may be created
    // Kind::incremental: the session's partitions as a request, shared with
    // the session (which copies it before changing it while shared).
    std::shared_ptr<const protocol::FetchRequest> expanded;
  };

  // FetchManager.newContext.
  Context open(const protocol::FetchRequest& req, std::int16_t version, bool follower, sim::MonoTime now);
  // The request to read for `ctx` (`req` unless the session's).
  static const protocol::FetchRequest& to_read(const Context& ctx, const protocol::FetchRequest& req) {
    return ctx.kind == Kind::incremental ? *ctx.expanded : req;
  }
  // FetchContext.updateAndGenerateResponseData: `read` is the answer for
  // to_read(ctx, req); returns what goes on the wire.
  protocol::FetchResponse answer(const Context& ctx, const protocol::FetchRequest& req, protocol::FetchResponse read,
                                 sim::MonoTime now);

  std::size_t size() const { return sessions_.size(); }
  std::size_t partitions(std::int32_t session_id) const;

 private:
  // What a CachedPartition remembers of its last answer.
  struct Told {
    protocol::Offset high_watermark{-1};
    protocol::Offset local_log_start{-1};
  };
  struct Session {
    bool privileged = false;
    sim::MonoTime created{};
    sim::MonoTime last_used{};
    std::int32_t epoch = 1;
    // The session's partitions as a request, ordered by topic then
    // partition; told[t][p] beside request->topics[t].partitions[p]. Kept as
    // a request so an incremental fetch reads it without a copy.
    std::shared_ptr<protocol::FetchRequest> request;
    std::vector<std::vector<Told>> told;
    std::size_t size() const;
  };

  Context open_incremental(const protocol::FetchRequest& req, sim::MonoTime now);
  static protocol::FetchRequest& writable(Session& s);
  static void update(Session& s, const protocol::FetchRequest& req);
  std::int32_t create(const protocol::FetchRequest& req, const protocol::FetchResponse& resp, bool privileged,
                      sim::MonoTime now);
  bool try_evict(bool privileged, std::size_t size, sim::MonoTime now);
  std::int32_t new_session_id();

  std::int32_t max_sessions_;
  sim::Random rng_;
  std::map<std::int32_t, Session> sessions_;
};

class FetchSessionHandler {
 public:
  // The request's session fields, topics and forgotten topics for `wanted`,
  // this round's partitions (ordered by topic, then partition) with what to
  // ask of each.
  void build(protocol::FetchRequest& req, const std::vector<protocol::FetchRequest::FetchTopic>& wanted);
  // Whether the answer may be used; on false the next request is full.
  bool handle_response(const protocol::FetchResponse& resp);
  // The request failed (no answer): the next is full, closing the session.
  void handle_error();

  std::int32_t session_id() const { return session_id_; }
  std::int32_t epoch() const { return epoch_; }

 private:
  bool full() const { return epoch_ == k_initial_epoch || epoch_ == k_final_epoch; }
  bool answer_fits(const protocol::FetchResponse& resp) const;

  std::int32_t session_id_ = k_invalid_session_id;
  std::int32_t epoch_ = k_initial_epoch;
  using Entry = std::pair<SessionKey, protocol::FetchRequest::FetchPartition>;
  // The session's partitions as last asked, ordered by key. A vector, as
  // the round's partitions come ordered and mostly the same as the last
  // round's: then nothing is allocated.
  const Entry* find(std::string_view topic, protocol::PartitionId p) const;

  std::vector<Entry> session_;
};

}  // namespace samsa::broker
