#include "system/broker/fetcher.h"

#include <algorithm>

#include "system/broker/replica_manager.h"
#include "system/protocol/typed_api.h"

namespace samsa::broker {

using namespace protocol;

namespace {
constexpr std::int16_t k_fetch_version = 12;             // current leader epoch (KIP-320)
constexpr std::int16_t k_fetch_version_no_epoch = 8;     // before KIP-320
constexpr std::int16_t k_epoch_request_version = 3;      // replica id, current leader epoch
constexpr std::int16_t k_epoch_request_version_v0 = 0;   // before KIP-279: no epoch in answers
constexpr std::int16_t k_list_offsets_version = 4;       // current leader epoch (KIP-320)
constexpr std::int64_t k_latest_timestamp = -1;          // ListOffsetsRequest.LATEST_TIMESTAMP

bool retriable_leader_error(ErrorCode e) {
  return e == ErrorCode::fenced_leader_epoch || e == ErrorCode::unknown_leader_epoch ||
         e == ErrorCode::not_leader_or_follower || e == ErrorCode::unknown_topic_or_partition;
}
}  // namespace

namespace {
// Orders followed partitions as TopicPartition's operator<=> does, without
// building a TopicPartition to compare with.
template <class F>
bool before(const F& f, std::string_view topic, PartitionId partition) {
  const int c = std::string_view(f->tp.topic).compare(topic);
  return c < 0 || (c == 0 && f->tp.partition < partition);
}
}  // namespace

ReplicaFetcher::ReplicaFetcher(sim::Runtime& rt, ReplicaManager& rm, BrokerId source)
    : rt_(rt), rm_(rm), source_(source), work_(rt.parker()) {
  header_.client_id = fmt::format("broker-{}-fetcher-{}", rm_.self(), source_);
}

void ReplicaFetcher::add(const TopicPartition& tp, LeaderEpoch epoch) {
  const FetchPartitionState fresh{epoch, true, false, {}};
  auto it = std::lower_bound(partitions_.begin(), partitions_.end(), tp,
                             [](const auto& f, const TopicPartition& want) { return f->tp < want; });
  if (it != partitions_.end() && (*it)->tp == tp) (*it)->st = fresh;
  else partitions_.insert(it, std::make_unique<Followed>(Followed{tp, fresh}));
  ++changes_;
  work_.set();
}

void ReplicaFetcher::remove(const TopicPartition& tp) {
  std::erase_if(partitions_, [&](const auto& f) { return f->tp == tp; });
  ++changes_;
}

FetchPartitionState* ReplicaFetcher::find(std::string_view topic, PartitionId partition) {
  auto it = std::lower_bound(partitions_.begin(), partitions_.end(), partition,
                             [&](const auto& f, PartitionId p) { return before(f, topic, p); });
  if (it == partitions_.end() || (*it)->tp.partition != partition || (*it)->tp.topic != topic) return nullptr;
  return &(*it)->st;
}

void ReplicaFetcher::run() {
  const auto backoff = std::chrono::milliseconds(rm_.config().replica_fetch_backoff_ms);
  for (;;) {
    if (partitions_.empty()) {
      drop_connection();
      work_.reset();
      idle_ = true;
      work_.wait({}, "fetcher.idle");
      idle_ = false;
      continue;
    }
    if (!ensure_connected()) {
      rt_.sleep(backoff);
      continue;
    }
    // One pass for both: truncate_round never sets out_of_range.
    bool truncating = false, out_of_range = false;
    for (const auto& f : partitions_) {
      truncating |= f->st.truncating;
      out_of_range |= f->st.out_of_range;
    }
    if (truncating) truncate_round();
    if (out_of_range) out_of_range_round();
    fetch_round();
    // Every partition backed off: wait for the first to be due (or new work).
    std::optional<sim::MonoTime> due;
    bool ready = false;
    for (const auto& f : partitions_) {
      if (f->st.retry_at <= rt_.now()) ready = true;
      else due = due ? std::min(*due, f->st.retry_at) : f->st.retry_at;
    }
    if (!ready && due) {
      work_.reset();
      work_.wait(*due, "fetcher.backoff");
    }
  }
}

bool ReplicaFetcher::ensure_connected() {
  if (conn_) return true;
  const auto ep = rm_.metadata().endpoint(source_);
  if (!ep) return false;
  auto c = rt_.net().connect(sim::Address{ep->host, ep->port},
                             rt_.deadline_after(std::chrono::milliseconds(rm_.config().replica_socket_timeout_ms)));
  if (!c) return false;
  conn_ = std::move(*c);
  return true;
}

void ReplicaFetcher::drop_connection() {
  if (conn_) conn_->close();
  conn_.reset();
}

template <class Resp, class Req>
std::optional<Resp> ReplicaFetcher::call(const Req& req, std::int16_t version, sim::Duration timeout) {
  RequestHeader& h = header_;
  h.api_key = Req::k_api_key;
  h.api_version = version;
  h.correlation_id = ++correlation_;
  if (!conn_ || !conn_->send(encode_request_frame(h, req))) {
    drop_connection();
    return std::nullopt;
  }
  auto frame = conn_->recv(rt_.deadline_after(timeout));
  if (!frame) {
    drop_connection();
    return std::nullopt;
  }
  auto resp = decode_response_frame<Resp>(share_frame(std::move(*frame)), version);
  if (!resp || resp->correlation_id != h.correlation_id) {
    rt_.log().warn("fetcher from {}: bad response, reconnecting", source_);
    drop_connection();
    return std::nullopt;
  }
  return std::move(resp->body);
}

FetchPartitionState* ReplicaFetcher::unchanged(const TopicPartition& tp,
                                               const std::map<TopicPartition, LeaderEpoch>& asked) {
  FetchPartitionState* st = find(tp.topic, tp.partition);
  auto a = asked.find(tp);
  if (st == nullptr || a == asked.end() || st->leader_epoch != a->second) return nullptr;
  return st;
}

void ReplicaFetcher::truncate_round() {
  const bool v0 = rm_.config().legacy.offsets_for_leader_epoch_v0;
  OffsetForLeaderEpochRequest req;
  req.replica_id = rm_.self();
  std::map<TopicPartition, LeaderEpoch> asked;  // partition -> the epoch it follows in
  for (auto& f : partitions_) {
    const auto& tp = f->tp;
    auto& st = f->st;
    if (!st.truncating || st.retry_at > rt_.now()) continue;
    auto p = rm_.partition(tp);
    if (!p) continue;
    const auto latest = p->log().leader_epochs().latest();
    if (!latest) {  // nothing written under any epoch: nothing to cut
      st.truncating = false;
      p->truncation_done();
      continue;
    }
    if (req.topics.empty() || req.topics.back().topic != tp.topic) req.topics.emplace_back().topic = tp.topic;
    auto& e = req.topics.back().partitions.emplace_back();
    e.partition = tp.partition;
    e.current_leader_epoch = st.leader_epoch;
    e.leader_epoch = LeaderEpoch(latest->epoch);
    asked[tp] = st.leader_epoch;
  }
  if (asked.empty()) return;
  const auto resp = call<OffsetForLeaderEpochResponse>(
      req, v0 ? k_epoch_request_version_v0 : k_epoch_request_version,
      std::chrono::milliseconds(rm_.config().replica_socket_timeout_ms));
  if (!resp) return;
  const auto backoff = std::chrono::milliseconds(rm_.config().replica_fetch_backoff_ms);
  for (const auto& t : resp->topics) {
    for (const auto& r : t.partitions) {
      const TopicPartition tp{t.topic, r.partition};
      FetchPartitionState* st = unchanged(tp, asked);
      if (st == nullptr || !st->truncating) continue;  // the partition moved on while we asked
      if (r.error_code != ErrorCode::none) {
        st->retry_at = rt_.now() + backoff;
        continue;
      }
      auto p = rm_.partition(tp);
      if (!p || p->is_leader()) continue;
      PartitionLock lock(*p);
      const EpochEndOffset leader{r.error_code, r.leader_epoch, r.end_offset};
      const TruncationDecision d = follower_truncation(p->log().leader_epochs(), p->log_end_offset(),
                                                       p->high_watermark(), leader, v0);
      if (d.offset < p->log_end_offset()) {
        rt_.log().info("{}: truncating from {} to {} (leader {} epoch {} ends at {})", to_string(tp),
                       p->log_end_offset(), d.offset, source_, r.leader_epoch, r.end_offset);
        if (!p->truncate_to(d.offset)) {
          st->retry_at = rt_.now() + backoff;
          continue;
        }
      }
      if (d.done) {
        st->truncating = false;
        p->truncation_done();
      }
    }
  }
}

// AbstractFetcherThread.fetchOffsetAndTruncate (Kafka 2.8, before truncation
// on fetch): the fetch offset is past the leader's log end. Kafka asks the
// leader's latest offset (ListOffsets as a replica: the log end) and, when it
// is below the follower's end, cuts there even below the high watermark:
// "There is a potential for a mismatch between the logs of the two replicas
// here" (an unclean leader, or a zombie's: samsa.legacy.no.controller.epoch.
// check). A leader that has grown past the follower since is fetched again.
void ReplicaFetcher::out_of_range_round() {
  ListOffsetsRequest req;
  req.replica_id = rm_.self();
  std::map<TopicPartition, LeaderEpoch> asked;
  for (auto& f : partitions_) {
    const auto& tp = f->tp;
    auto& st = f->st;
    if (!st.out_of_range || st.truncating || st.retry_at > rt_.now()) continue;
    if (req.topics.empty() || req.topics.back().name != tp.topic) req.topics.emplace_back().name = tp.topic;
    auto& e = req.topics.back().partitions.emplace_back();
    e.partition_index = tp.partition;
    e.current_leader_epoch = st.leader_epoch;
    e.timestamp = k_latest_timestamp;
    asked[tp] = st.leader_epoch;
  }
  if (asked.empty()) return;
  const auto resp = call<ListOffsetsResponse>(
      req, k_list_offsets_version, std::chrono::milliseconds(rm_.config().replica_socket_timeout_ms));
  if (!resp) return;
  const auto backoff = std::chrono::milliseconds(rm_.config().replica_fetch_backoff_ms);
  for (const auto& t : resp->topics) {
    for (const auto& r : t.partitions) {
      const TopicPartition tp{t.name, r.partition_index};
      FetchPartitionState* st = unchanged(tp, asked);
      if (st == nullptr || !st->out_of_range || st->truncating) continue;  // moved on while we asked
      if (r.error_code != ErrorCode::none || r.offset.is_none()) {
        st->retry_at = rt_.now() + backoff;
        continue;
      }
      auto p = rm_.partition(tp);
      if (!p || p->is_leader()) continue;
      PartitionLock lock(*p);
      if (r.offset < p->log_end_offset()) {
        rt_.log().warn("{}: reset fetch offset from {} to the leader's latest offset {} (leader {})",
                       to_string(tp), p->log_end_offset(), r.offset, source_);
        if (!p->truncate_to(r.offset)) {
          st->retry_at = rt_.now() + backoff;
          continue;
        }
      }
      st->out_of_range = false;
    }
  }
}

// Rewrites fetch_ over the last round's request: a topic or partition
// entry already in place keeps its storage and only its fields change.
bool ReplicaFetcher::build_fetch() {
  const BrokerConfig& cfg = rm_.config();
  const bool with_epoch = !cfg.legacy.no_fetch_leader_epoch;
  FetchRequest& req = fetch_;
  req.replica_id = rm_.self();
  req.max_wait_ms = cfg.replica_fetch_wait_max_ms;
  req.min_bytes = cfg.replica_fetch_min_bytes;
  req.max_bytes = cfg.replica_fetch_response_max_bytes;
  fetch_epochs_.clear();
  fetch_followed_.clear();
  fetch_changes_ = changes_;
  const sim::MonoTime now = rt_.now();  // nothing parks in here
  std::size_t topics = 0, parts = 0;  // entries written: topics, partitions of the last topic
  // The topic of the entries walked (partitions_ holds each topic's
  // together) and whether the request names it yet.
  const std::string* topic = nullptr;
  std::optional<ReplicaManager::TopicPartitions> hosted;
  bool named = false;
  for (const auto& f : partitions_) {
    const auto& [tp, st] = *f;
    if (st.truncating || st.out_of_range || st.retry_at > now) continue;
    if (topic == nullptr || *topic != tp.topic) {
      topic = &tp.topic;
      hosted.emplace(rm_, tp.topic);
      named = false;
    }
    const Partition* p = hosted->find(tp.partition);
    if (p == nullptr || p->is_leader()) continue;
    if (!named) {
      if (topics > 0) req.topics[topics - 1].partitions.resize(parts);
      if (topics == req.topics.size()) req.topics.emplace_back();
      auto& t = req.topics[topics++];
      if (t.topic != tp.topic) t.topic = tp.topic;
      parts = 0;
      named = true;
    }
    auto& ps = req.topics[topics - 1].partitions;
    if (parts == ps.size()) ps.emplace_back();
    auto& fp = ps[parts++];
    fp.partition = tp.partition;
    fp.current_leader_epoch = with_epoch ? st.leader_epoch : LeaderEpoch::none();
    fp.fetch_offset = p->log_end_offset();
    fp.log_start_offset = p->log_start_offset();
    fp.partition_max_bytes = cfg.replica_fetch_max_bytes;
    fetch_epochs_.push_back(st.leader_epoch);
    fetch_followed_.push_back(f.get());
  }
  if (topics > 0) req.topics[topics - 1].partitions.resize(parts);
  req.topics.resize(topics);
  return topics > 0;
}

void ReplicaFetcher::fetch_round() {
  const BrokerConfig& cfg = rm_.config();
  const bool with_epoch = !cfg.legacy.no_fetch_leader_epoch;
  if (!build_fetch()) return;
  const FetchRequest& req = fetch_;  // this round's partitions
  // The session (KIP-227) puts on the wire only what changed since the
  // last round.
  wire_.replica_id = req.replica_id;
  wire_.max_wait_ms = req.max_wait_ms;
  wire_.min_bytes = req.min_bytes;
  wire_.max_bytes = req.max_bytes;
  session_.build(wire_, req.topics);
  // What the request asked of (topic, partition), if it did: its entry in
  // fetch_epochs_ and its fetch offset. partitions_ is ordered, so each
  // topic appears once with its partitions ascending.
  auto asked = [&](std::string_view topic, PartitionId partition) -> std::optional<std::pair<std::size_t, Offset>> {
    std::size_t first = 0;  // the topic's first entry in fetch_epochs_
    for (const auto& t : req.topics) {
      const auto& ps = t.partitions;
      if (t.topic != topic) {
        first += ps.size();
        continue;
      }
      const auto it = std::lower_bound(ps.begin(), ps.end(), partition,
                                       [](const auto& fp, PartitionId want) { return fp.partition < want; });
      if (it == ps.end() || it->partition != partition) return std::nullopt;
      return std::pair{first + static_cast<std::size_t>(it - ps.begin()), it->fetch_offset};
    }
    return std::nullopt;
  };
  const auto resp = call<FetchResponse>(
      wire_, with_epoch ? k_fetch_version : k_fetch_version_no_epoch,
      std::chrono::milliseconds(cfg.replica_fetch_wait_max_ms + cfg.replica_socket_timeout_ms));
  if (!resp) {
    session_.handle_error();
    return;
  }
  if (!session_.handle_response(*resp)) {
    rt_.log().info("fetcher from {}: fetch session error {}, next fetch in full", source_, resp->error_code);
    return;
  }
  const auto backoff = std::chrono::milliseconds(cfg.replica_fetch_backoff_ms);
  for (const auto& t : resp->responses) {
    ReplicaManager::TopicPartitions hosted(rm_, t.topic);
    for (const auto& pd : t.partitions) {
      // Named in logs only (a TopicPartition per partition copied "__consumer_offsets" each time).
      auto tp = [&] { return TopicPartition{t.topic, pd.partition_index}; };
      const auto a = asked(t.topic, pd.partition_index);
      if (!a) continue;
      FetchPartitionState* st = fetch_changes_ == changes_ ? &fetch_followed_[a->first]->st
                                                           : find(t.topic, pd.partition_index);
      if (st == nullptr || st->leader_epoch != fetch_epochs_[a->first] || st->truncating) continue;
      auto p = hosted.get(pd.partition_index);
      if (!p || p->is_leader()) continue;
      PartitionLock lock(*p);
      if (p->log_end_offset() != a->second) continue;  // changed while we fetched
      if (pd.error_code == ErrorCode::offset_out_of_range) {
        // AbstractFetcherThread.handleOutOfRangeError: behind the leader's
        // log start -> start over there; else past its end (out_of_range_round).
        if (!pd.log_start_offset.is_none() && p->log_end_offset() < pd.log_start_offset)
          (void)p->truncate_fully_and_start_at(pd.log_start_offset);
        else
          st->out_of_range = true;
        continue;
      }
      if (pd.error_code != ErrorCode::none) {
        if (!retriable_leader_error(pd.error_code))
          rt_.log().warn("{}: fetch from {}: {}", to_string(tp()), source_, pd.error_code);
        st->retry_at = rt_.now() + backoff;
        continue;
      }
      if (pd.records && !pd.records->empty()) {
        // A response may end in a partial batch (KIP-74): keep whole ones.
        BatchReader reader(pd.records->view(), /*check_crc=*/false);
        while (reader.next()) {
        }
        const ByteView whole = pd.records->view().subspan(0, reader.position());
        if (!whole.empty()) {
          auto r = p->append_as_follower(whole);
          if (!r) {
            rt_.log().warn("{}: follower append at {} failed: {}", to_string(tp()), p->log_end_offset(),
                           log::to_string(r.error()));
            if (r.error() == log::LogErrc::invalid_offset) st->truncating = true;
            else st->retry_at = rt_.now() + backoff;
            continue;
          }
          rm_.notify_partition(*p);
        }
      }
      p->update_follower_high_watermark(pd.high_watermark);
    }
  }
}

// --- FetcherManager ----------------------------------------------------------------------------

void FetcherManager::add(const TopicPartition& tp, BrokerId leader, LeaderEpoch epoch) {
  for (auto& [b, e] : fetchers_) e.fetcher->remove(tp);
  auto it = fetchers_.find(leader);
  if (it == fetchers_.end()) {
    Entry e;
    e.fetcher = std::make_unique<ReplicaFetcher>(rt_, rm_, leader);
    e.scope = rt_.make_scope(fmt::format("fetcher-{}", leader));
    ReplicaFetcher* raw = e.fetcher.get();
    // The scope outlives nothing it refers to: destroying the manager stops
    // the scope (cancels and joins the fiber) before the fetcher goes.
    e.scope->spawn(fmt::format("fetcher-{}", leader), [raw] { raw->run(); });
    it = fetchers_.emplace(leader, std::move(e)).first;
  }
  it->second.fetcher->add(tp, epoch);
  reap();
}

void FetcherManager::remove(const TopicPartition& tp) {
  for (auto& [b, e] : fetchers_) e.fetcher->remove(tp);
  reap();
}

void FetcherManager::reap() {
  for (auto it = fetchers_.begin(); it != fetchers_.end();) {
    if (it->second.fetcher->empty() && it->second.fetcher->idle()) {
      it->second.scope->stop();
      it = fetchers_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace samsa::broker
