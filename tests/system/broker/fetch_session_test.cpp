// Incremental fetch sessions (KIP-227): the cache's contexts and errors, the
// handler's requests, eviction, and a model check that a fetcher talking
// through a session always knows what a full fetch would have told it.
#include "system/broker/fetch_session.h"

#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace samsa;
using namespace samsa::broker;
using namespace samsa::protocol;

namespace {

constexpr std::int16_t k_version = 12;
const sim::MonoTime k_t0{};

struct Leader {  // what the leader would answer of one partition
  std::int64_t hw = 0;
  std::int64_t log_start = 0;
  bool records = false;
  bool error = false;
};
using Key = std::pair<std::string, std::int32_t>;

FetchRequest::FetchPartition ask(std::int32_t p, std::int64_t offset) {
  FetchRequest::FetchPartition fp;
  fp.partition = PartitionId(p);
  fp.fetch_offset = Offset(offset);
  fp.partition_max_bytes = 1 << 20;
  return fp;
}

// The wanted partitions as the fetcher lists them (ordered).
std::vector<FetchRequest::FetchTopic> wanted_of(const std::map<Key, std::int64_t>& offsets) {
  std::vector<FetchRequest::FetchTopic> out;
  for (const auto& [k, off] : offsets) {
    if (out.empty() || out.back().topic != k.first) out.emplace_back().topic = k.first;
    out.back().partitions.push_back(ask(k.second, off));
  }
  return out;
}

// What ReplicaManager::fetch answers: every asked partition, in order.
FetchResponse read_of(const FetchRequest& req, const std::map<Key, Leader>& leader) {
  FetchResponse r;
  for (const auto& t : req.topics) {
    auto& tr = r.responses.emplace_back();
    tr.topic = t.topic;
    for (const auto& fp : t.partitions) {
      auto& pd = tr.partitions.emplace_back();
      pd.partition_index = fp.partition;
      const auto it = leader.find({t.topic, fp.partition.value()});
      const Leader l = it == leader.end() ? Leader{} : it->second;
      if (l.error) {
        pd.error_code = ErrorCode::not_leader_or_follower;
        pd.high_watermark = Offset(-1);
        pd.log_start_offset = Offset(-1);
        continue;
      }
      pd.high_watermark = Offset(l.hw);
      pd.log_start_offset = Offset(l.log_start);
      if (l.records) pd.records = Records(Bytes(61, 0));
    }
  }
  return r;
}

// One request through both ends; the answer on the wire.
FetchResponse round_trip(FetchSessionHandler& h, FetchSessionCache& cache, const std::map<Key, std::int64_t>& want,
                         const std::map<Key, Leader>& leader, FetchRequest* sent = nullptr) {
  FetchRequest req;
  req.replica_id = BrokerId(2);
  h.build(req, wanted_of(want));
  if (sent) *sent = req;
  const auto ctx = cache.open(req, k_version, true, k_t0);
  FetchResponse read;
  if (ctx.kind != FetchSessionCache::Kind::error) read = read_of(FetchSessionCache::to_read(ctx, req), leader);
  return cache.answer(ctx, req, std::move(read), k_t0);
}

std::size_t partitions_in(const FetchResponse& r) {
  std::size_t n = 0;
  for (const auto& t : r.responses) n += t.partitions.size();
  return n;
}

std::size_t partitions_in(const FetchRequest& r) {
  std::size_t n = 0;
  for (const auto& t : r.topics) n += t.partitions.size();
  return n;
}

}  // namespace

TEST_CASE("a full fetch opens a session; incremental ones carry only what changed") {
  FetchSessionCache cache(10, sim::Random(1));
  FetchSessionHandler h;
  std::map<Key, std::int64_t> want{{{"__consumer_offsets", 0}, 0}, {{"__consumer_offsets", 1}, 0}, {{"t", 0}, 5}};
  std::map<Key, Leader> leader{{{"__consumer_offsets", 0}, {}}, {{"__consumer_offsets", 1}, {}}, {{"t", 0}, {5, 0}}};

  FetchRequest sent;
  auto r = round_trip(h, cache, want, leader, &sent);
  CHECK(sent.session_epoch == k_initial_epoch);
  CHECK(partitions_in(sent) == 3);
  REQUIRE(r.session_id != k_invalid_session_id);
  CHECK(partitions_in(r) == 3);
  REQUIRE(h.handle_response(r));
  CHECK(h.epoch() == 1);
  CHECK(cache.partitions(r.session_id) == 3);

  // Nothing moved: an empty request and an empty answer.
  r = round_trip(h, cache, want, leader, &sent);
  CHECK(sent.session_epoch == 1);
  CHECK(partitions_in(sent) == 0);
  CHECK(partitions_in(r) == 0);
  REQUIRE(h.handle_response(r));
  CHECK(h.epoch() == 2);

  // New records on t-0 (and the fetcher's offset of it moves): only t-0.
  want[{"t", 0}] = 6;
  leader[{"t", 0}] = {6, 0, true};
  r = round_trip(h, cache, want, leader, &sent);
  CHECK(partitions_in(sent) == 1);
  REQUIRE(partitions_in(r) == 1);
  CHECK(r.responses[0].topic == "t");
  REQUIRE(h.handle_response(r));

  // A new high watermark alone is news too; so is a new log start offset.
  leader[{"t", 0}].records = false;
  leader[{"__consumer_offsets", 1}].hw = 3;
  leader[{"__consumer_offsets", 0}].log_start = 2;
  r = round_trip(h, cache, want, leader, &sent);
  CHECK(partitions_in(r) == 2);
  REQUIRE(h.handle_response(r));

  // A partition no longer wanted is forgotten.
  want.erase({"__consumer_offsets", 0});
  r = round_trip(h, cache, want, leader, &sent);
  REQUIRE(sent.forgotten_topics_data.size() == 1);
  CHECK(sent.forgotten_topics_data[0].partitions == std::vector<PartitionId>{PartitionId(0)});
  REQUIRE(h.handle_response(r));
  CHECK(cache.partitions(h.session_id()) == 2);
}

TEST_CASE("an error is always answered, and the partition again once the error is gone") {
  FetchSessionCache cache(10, sim::Random(1));
  FetchSessionHandler h;
  std::map<Key, std::int64_t> want{{{"t", 0}, 0}, {{"t", 1}, 0}};
  std::map<Key, Leader> leader{{{"t", 0}, {4, 0}}, {{"t", 1}, {4, 0}}};
  REQUIRE(h.handle_response(round_trip(h, cache, want, leader)));
  leader[{"t", 1}].error = true;
  for (int i = 0; i < 2; ++i) {
    const auto r = round_trip(h, cache, want, leader);
    REQUIRE(partitions_in(r) == 1);
    CHECK(r.responses[0].partitions[0].error_code == ErrorCode::not_leader_or_follower);
    REQUIRE(h.handle_response(r));
  }
  leader[{"t", 1}].error = false;  // back, with the watermark it had before
  const auto r = round_trip(h, cache, want, leader);
  REQUIRE(partitions_in(r) == 1);
  CHECK(r.responses[0].partitions[0].high_watermark == Offset(4));
}

TEST_CASE("session errors: unknown id, wrong epoch, FINAL_EPOCH and a lost answer") {
  FetchSessionCache cache(10, sim::Random(1));
  std::map<Key, Leader> leader{{{"t", 0}, {1, 0}}};
  const std::map<Key, std::int64_t> want{{{"t", 0}, 0}};

  SECTION("a restarted leader knows no session: FETCH_SESSION_ID_NOT_FOUND, then a new one") {
    FetchSessionHandler h;
    REQUIRE(h.handle_response(round_trip(h, cache, want, leader)));
    FetchSessionCache restarted(10, sim::Random(2));
    const auto r = round_trip(h, restarted, want, leader);
    CHECK(r.error_code == ErrorCode::fetch_session_id_not_found);
    CHECK_FALSE(h.handle_response(r));
    CHECK(h.session_id() == k_invalid_session_id);
    FetchRequest sent;
    const auto again = round_trip(h, restarted, want, leader, &sent);
    CHECK(sent.session_epoch == k_initial_epoch);
    CHECK(partitions_in(again) == 1);
    CHECK(h.handle_response(again));
  }
  SECTION("a repeated epoch: INVALID_FETCH_SESSION_EPOCH") {
    FetchSessionHandler h;
    REQUIRE(h.handle_response(round_trip(h, cache, want, leader)));
    FetchRequest req;
    h.build(req, wanted_of(want));
    const auto first = cache.open(req, k_version, true, k_t0);
    (void)cache.answer(first, req, read_of(FetchSessionCache::to_read(first, req), leader), k_t0);
    const auto ctx = cache.open(req, k_version, true, k_t0);  // the same epoch again
    CHECK(ctx.kind == FetchSessionCache::Kind::error);
    CHECK(cache.answer(ctx, req, {}, k_t0).error_code == ErrorCode::invalid_fetch_session_epoch);
  }
  SECTION("FINAL_EPOCH (and every request before v7) is served without a session") {
    FetchRequest req;
    req.topics = wanted_of(want);
    const auto ctx = cache.open(req, k_version, false, k_t0);  // session_epoch defaults to -1
    CHECK(ctx.kind == FetchSessionCache::Kind::sessionless);
    const auto r = cache.answer(ctx, req, read_of(req, leader), k_t0);
    CHECK(r.session_id == k_invalid_session_id);
    CHECK(cache.size() == 0);
  }
  SECTION("v13+ (topic ids) full requests get no session") {
    FetchRequest req;
    req.session_epoch = k_initial_epoch;
    req.topics = wanted_of(want);
    const auto ctx = cache.open(req, 13, false, k_t0);
    CHECK(cache.answer(ctx, req, read_of(req, leader), k_t0).session_id == k_invalid_session_id);
  }
  SECTION("a lost answer: the next request is full and closes the old session") {
    FetchSessionHandler h;
    const auto first = round_trip(h, cache, want, leader);
    REQUIRE(h.handle_response(first));
    (void)round_trip(h, cache, want, leader);
    h.handle_error();
    FetchRequest sent;
    const auto r = round_trip(h, cache, want, leader, &sent);
    CHECK(sent.session_id == first.session_id);
    CHECK(sent.session_epoch == k_initial_epoch);
    CHECK(partitions_in(r) == 1);
    CHECK(h.handle_response(r));
    CHECK(cache.size() == 1);
    CHECK(cache.partitions(first.session_id) == 0);
  }
}

TEST_CASE("the cache is bounded: followers evict consumers, stale sessions go first") {
  std::map<Key, Leader> leader;
  const std::map<Key, std::int64_t> one{{{"t", 0}, 0}}, two{{{"t", 0}, 0}, {{"t", 1}, 0}};
  auto open_full = [&](FetchSessionCache& cache, bool follower, const std::map<Key, std::int64_t>& want,
                       sim::MonoTime now) {
    FetchRequest req;
    req.session_epoch = k_initial_epoch;
    req.topics = wanted_of(want);
    const auto ctx = cache.open(req, k_version, follower, now);
    return cache.answer(ctx, req, read_of(req, leader), now).session_id;
  };
  FetchSessionCache cache(1, sim::Random(1));
  const auto consumer = open_full(cache, false, one, k_t0);
  REQUIRE(consumer != k_invalid_session_id);
  CHECK(open_full(cache, false, one, k_t0) == k_invalid_session_id);  // no room, not more valuable
  const auto follower = open_full(cache, true, one, k_t0);
  CHECK(follower != k_invalid_session_id);  // privileged
  CHECK(cache.partitions(consumer) == 0);
  CHECK(open_full(cache, false, two, k_t0 + std::chrono::seconds(60)) == k_invalid_session_id);
  const auto late = open_full(cache, false, one, k_t0 + std::chrono::seconds(121));  // the follower's is stale
  CHECK(late != k_invalid_session_id);
  CHECK(cache.partitions(follower) == 0);
  FetchSessionCache none(0, sim::Random(1));
  CHECK(open_full(none, true, one, k_t0) == k_invalid_session_id);
}

// The model: a fetcher whose wanted partitions, fetch offsets and leader
// state change at random, whose answers are sometimes lost and whose leader
// sometimes restarts, always ends a successful round knowing every wanted
// partition's high watermark (or error) as a full fetch would tell it, and
// never misses a partition with records.
TEST_CASE("property: a session tells the fetcher what a full fetch would") {
  rc::prop("incremental fetches agree with full fetches", [] {
    const std::vector<Key> all{{"__consumer_offsets", 0}, {"__consumer_offsets", 1}, {"__consumer_offsets", 7},
                               {"a", 0},                  {"a", 1},                  {"t", 3}};
    auto cache = std::make_unique<FetchSessionCache>(*rc::gen::inRange(0, 3), sim::Random(*rc::gen::arbitrary<std::uint64_t>()));
    FetchSessionHandler h;
    std::map<Key, Leader> leader;
    std::map<Key, std::int64_t> offsets;
    for (const auto& k : all) leader[k] = {0, 0};
    std::map<Key, std::pair<std::int64_t, bool>> known;  // hw, error as last heard
    const int rounds = *rc::gen::inRange(1, 40);
    for (int round = 0; round < rounds; ++round) {
      std::map<Key, std::int64_t> want;
      for (const auto& k : all)
        if (*rc::gen::inRange(0, 5) != 0) want[k] = offsets[k] += *rc::gen::inRange(0, 2);
      for (auto& [k, l] : leader) {
        const int change = *rc::gen::inRange(0, 8);
        if (change == 0) l.hw += 1;
        if (change == 1) l.log_start = std::min(l.log_start + 1, l.hw);
        l.records = change == 2;
        l.error = change == 3;
      }
      if (*rc::gen::inRange(0, 15) == 0)  // the leader restarts: its sessions are gone
        cache = std::make_unique<FetchSessionCache>(3, sim::Random(round));
      const auto wire = round_trip(h, *cache, want, leader);
      if (*rc::gen::inRange(0, 10) == 0) {  // the answer is lost
        h.handle_error();
        continue;
      }
      if (!h.handle_response(wire)) continue;
      std::set<Key> answered;
      for (const auto& t : wire.responses)
        for (const auto& pd : t.partitions) {
          const Key k{t.topic, pd.partition_index.value()};
          RC_ASSERT(want.count(k) == 1u);
          answered.insert(k);
          known[k] = {pd.high_watermark.value(), pd.error_code != ErrorCode::none};
        }
      for (const auto& [k, off] : want) {
        const Leader& l = leader[k];
        if (l.records || l.error) RC_ASSERT(answered.count(k) == 1u);
        RC_ASSERT(known.count(k) == 1u);
        RC_ASSERT(known[k].second == l.error);
        if (!l.error) RC_ASSERT(known[k].first == l.hw);
      }
    }
  });
}
