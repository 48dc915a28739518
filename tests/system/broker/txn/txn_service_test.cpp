// The transaction coordinator on whole brokers of the simulated world
// (system/broker/txn_service): a raw client finds the coordinator with key
// type 1 (which creates __transaction_state), initialises, adds a
// partition, writes transactionally, commits and aborts; read_committed
// fetches see data only below the last stable offset, with the aborted
// transaction listed; a second producer instance fences the first.
#include "system/broker/txn_service.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "scenarios/broker/cluster.h"
#include "scenarios/broker/driver.h"
#include "system/protocol/record_batch.h"
#include "tests/sim/world_helpers.h"

using namespace samsa;
using namespace samsa::scenarios::broker;
using namespace samsa::protocol;

namespace {

constexpr auto k_call = std::chrono::seconds(30);

std::optional<sim::Address> find_txn_coordinator(sim::Runtime& rt, RawClient& c, Cluster& cluster,
                                                 const std::string& id) {
  for (int attempt = 0; attempt < 80; ++attempt) {
    FindCoordinatorRequest req;
    req.key = id;
    req.key_type = 1;
    auto resp = c.call<FindCoordinatorResponse>(cluster.address(1 + attempt % cluster.brokers()), req, 3,
                                                std::chrono::seconds(5));
    if (resp && resp->error_code == ErrorCode::none)
      return sim::Address{resp->host, static_cast<std::uint16_t>(resp->port)};
    rt.sleep(std::chrono::milliseconds(250));
  }
  return std::nullopt;
}

// InitProducerId, retried while the coordinator loads or aborts.
InitProducerIdResponse init(sim::Runtime& rt, RawClient& c, const sim::Address& coord, const std::string& id) {
  InitProducerIdResponse last;
  for (int attempt = 0; attempt < 40; ++attempt) {
    InitProducerIdRequest req;
    req.transactional_id = id;
    req.transaction_timeout_ms = 60000;
    auto r = c.call<InitProducerIdResponse>(coord, req, 2, k_call);
    if (r) last = *r;
    if (r && r->error_code != ErrorCode::coordinator_load_in_progress &&
        r->error_code != ErrorCode::concurrent_transactions && r->error_code != ErrorCode::not_coordinator)
      return *r;
    rt.sleep(std::chrono::milliseconds(200));
  }
  return last;
}

ErrorCode add_partition(RawClient& c, const sim::Address& coord, const std::string& id, ProducerId pid,
                        ProducerEpoch epoch, const std::string& topic, int partition) {
  AddPartitionsToTxnRequest req;
  req.v3_and_below_transactional_id = id;
  req.v3_and_below_producer_id = pid;
  req.v3_and_below_producer_epoch = epoch;
  req.v3_and_below_topics.push_back({topic, {PartitionId(partition)}, {}});
  auto r = c.call<AddPartitionsToTxnResponse>(coord, req, 1, k_call);
  if (!r || r->results_by_topic_v3_and_below.empty()) return ErrorCode::network_exception;
  return r->results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code;
}

ErrorCode end_txn(RawClient& c, const sim::Address& coord, const std::string& id, ProducerId pid,
                  ProducerEpoch epoch, bool commit) {
  EndTxnRequest req;
  req.transactional_id = id;
  req.producer_id = pid;
  req.producer_epoch = epoch;
  req.committed = commit;
  auto r = c.call<EndTxnResponse>(coord, req, 1, k_call);
  return r ? r->error_code : ErrorCode::network_exception;
}

Bytes txn_batch(const std::vector<std::string>& values, ProducerId pid, ProducerEpoch epoch, std::int32_t seq) {
  BatchOptions o;
  o.transactional = true;
  o.producer_id = pid.value();
  o.producer_epoch = epoch.value();
  o.base_sequence = seq;
  BatchBuilder b(o);
  for (const auto& v : values) b.append(1000, std::nullopt, as_bytes(v));
  return b.finish();
}

struct ReadCommitted {
  ErrorCode error = ErrorCode::none;
  Offset high_watermark = Offset::none();
  Offset last_stable_offset = Offset::none();
  std::map<std::int64_t, std::string> values;
  std::vector<std::pair<std::int64_t, std::int64_t>> aborted;  // producer id, first offset
  int control_batches = 0;
  // What a read_committed consumer hands to the application (Kafka's
  // Fetcher: a producer's batches from the first offset of one of its
  // aborted transactions up to its abort marker are skipped).
  std::map<std::int64_t, std::string> visible;
  std::vector<std::pair<std::int64_t, std::int64_t>> unmatched;  // aborted entries not reached yet
  std::set<std::int64_t> aborting;                               // producers inside an aborted range
};

void consume_batch(ReadCommitted& out, const BatchView& b) {
  const std::int64_t pid = b.header.producer_id;
  std::sort(out.unmatched.begin(), out.unmatched.end(),
            [](const auto& x, const auto& y) { return x.second < y.second; });
  for (auto it = out.unmatched.begin(); it != out.unmatched.end();) {
    if (it->second <= b.header.base_offset) {
      out.aborting.insert(it->first);
      it = out.unmatched.erase(it);
    } else {
      ++it;
    }
  }
  if (b.header.is_control()) {
    out.aborting.erase(pid);
    return;
  }
  if (b.header.is_transactional() && out.aborting.count(pid)) return;
  for (auto& [o, v] : record_values(b.bytes)) out.visible[o] = v;
}

// Reads the partition from offset 0 as a consumer does, fetch after fetch
// (a fetch may return fewer batches than fit), until the end of what it may
// read: the LSO (read_committed) or the high watermark.
std::optional<ReadCommitted> fetch_committed(RawClient& c, const sim::Address& leader, const std::string& topic,
                                             bool read_committed = true) {
  ReadCommitted out;
  Offset offset(0);
  for (int round = 0; round < 50; ++round) {
    FetchRequest req;
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = 10;
    req.min_bytes = 1;
    req.max_bytes = 1 << 20;
    req.isolation_level = read_committed ? 1 : 0;
    auto& t = req.topics.emplace_back();
    t.topic = topic;
    auto& p = t.partitions.emplace_back();
    p.partition = PartitionId(0);
    p.fetch_offset = offset;
    p.partition_max_bytes = 1 << 20;
    auto resp = c.call<FetchResponse>(leader, req, 11, k_call);
    if (!resp || resp->responses.empty() || resp->responses[0].partitions.empty()) return std::nullopt;
    const auto& pd = resp->responses[0].partitions[0];
    out.error = pd.error_code;
    out.high_watermark = pd.high_watermark;
    out.last_stable_offset = pd.last_stable_offset;
    if (pd.aborted_transactions)
      for (const auto& a : *pd.aborted_transactions) {
        const std::pair<std::int64_t, std::int64_t> e{a.producer_id.value(), a.first_offset.value()};
        if (std::find(out.aborted.begin(), out.aborted.end(), e) == out.aborted.end()) {
          out.aborted.push_back(e);
          out.unmatched.push_back(e);
        }
      }
    if (pd.records) {
      BatchReader reader(pd.records->view());
      while (auto b = reader.next()) {
        if (b->header.is_control()) {
          ++out.control_batches;
        } else {
          for (auto& [o, v] : record_values(b->bytes)) out.values[o] = v;
        }
        consume_batch(out, *b);
        offset = Offset(b->header.next_offset());
      }
    }
    const Offset end = read_committed ? pd.last_stable_offset : pd.high_watermark;
    if (out.error != ErrorCode::none || offset >= end) break;
  }
  return out;
}

std::optional<sim::Address> find_group_coordinator(sim::Runtime& rt, RawClient& c, Cluster& cluster,
                                                   const std::string& group) {
  for (int attempt = 0; attempt < 80; ++attempt) {
    FindCoordinatorRequest req;
    req.key = group;
    auto resp = c.call<FindCoordinatorResponse>(cluster.address(1 + attempt % cluster.brokers()), req, 3,
                                                std::chrono::seconds(5));
    if (resp && resp->error_code == ErrorCode::none)
      return sim::Address{resp->host, static_cast<std::uint16_t>(resp->port)};
    rt.sleep(std::chrono::milliseconds(250));
  }
  return std::nullopt;
}

// sendOffsetsToTransaction: AddOffsetsToTxn at the transaction
// coordinator, then TxnOffsetCommit at the group coordinator.
ErrorCode send_offsets(RawClient& c, const sim::Address& coord, const sim::Address& group_coord,
                       const std::string& id, ProducerId pid, ProducerEpoch epoch, std::int64_t offset) {
  AddOffsetsToTxnRequest add;
  add.transactional_id = id;
  add.producer_id = pid;
  add.producer_epoch = epoch;
  add.group_id = "g1";
  auto a = c.call<AddOffsetsToTxnResponse>(coord, add, 1, k_call);
  if (!a) return ErrorCode::network_exception;
  if (a->error_code != ErrorCode::none) return a->error_code;
  TxnOffsetCommitRequest commit;
  commit.transactional_id = id;
  commit.group_id = "g1";
  commit.producer_id = pid;
  commit.producer_epoch = epoch;
  auto& t = commit.topics.emplace_back();
  t.name = "in";
  t.partitions.push_back({PartitionId(0), Offset(offset), LeaderEpoch::none(), "", {}});
  auto r = c.call<TxnOffsetCommitResponse>(group_coord, commit, 2, k_call);
  if (!r || r->topics.empty()) return ErrorCode::network_exception;
  return r->topics[0].partitions[0].error_code;
}

Offset committed_offset(RawClient& c, const sim::Address& group_coord) {
  OffsetFetchRequest req;
  req.group_id = "g1";
  req.topics.emplace();
  auto& t = req.topics->emplace_back();
  t.name = "in";
  t.partition_indexes = {PartitionId(0)};
  auto r = c.call<OffsetFetchResponse>(group_coord, req, 5, k_call);
  if (!r || r->topics.empty()) return Offset(-9);
  return r->topics[0].partitions[0].committed_offset;
}

}  // namespace

TEST_CASE("transactions on brokers: commit, abort, offsets in the transaction, read_committed below the LSO, zombie fencing",
          "[broker][txn]") {
  auto wc = samsa::testing::quiet_config(5);
  if (const char* l = std::getenv("SAMSA_TEST_LOG")) wc.log_level = l;
  sim::World world(wc);
  Cluster cluster(world, {3,
                          {{"transaction.state.log.num.partitions", "3"},
                           {"transaction.state.log.replication.factor", "3"},
                           {"transaction.state.log.min.isr", "2"},
                           {"min.insync.replicas", "2"}}});
  bool done = false;
  InitProducerIdResponse first, second;
  ErrorCode added = ErrorCode::unknown_server_error, committed = ErrorCode::unknown_server_error;
  ErrorCode aborted = ErrorCode::unknown_server_error, zombie_end = ErrorCode::unknown_server_error;
  ProduceResult p1, p2, p3, zombie_produce;
  std::optional<ReadCommitted> open_committed, open_uncommitted, after_commit, after_abort;
  ErrorCode offsets_sent = ErrorCode::unknown_server_error;
  Offset offset_before_commit, offset_after_commit, offset_after_abort;
  world.add_node("client", [&](sim::Runtime& rt) {
    RawClient c(rt, "txn-producer");
    REQUIRE(cluster.create_topic(rt, "out", 1, 3));
    REQUIRE(cluster.create_topic(rt, "in", 1, 3));
    std::optional<BrokerId> leader_id;
    std::map<BrokerId, sim::Address> brokers;
    for (int i = 0; i < 40 && !leader_id; ++i) {
      leader_id = find_leader(c, cluster.address(1), "out", 0, &brokers);
      if (!leader_id) rt.sleep(std::chrono::milliseconds(250));
    }
    REQUIRE(leader_id);
    const sim::Address leader = brokers.at(*leader_id);
    auto coord = find_txn_coordinator(rt, c, cluster, "tx1");
    REQUIRE(coord);
    first = init(rt, c, *coord, "tx1");
    REQUIRE(first.error_code == ErrorCode::none);
    const ProducerId pid = first.producer_id;
    ProducerEpoch epoch = first.producer_epoch;
    added = add_partition(c, *coord, "tx1", pid, epoch, "out", 0);
    p1 = produce(c, leader, "out", 0, txn_batch({"a", "b"}, pid, epoch, 0), -1, 10000);
    auto group_coord = find_group_coordinator(rt, c, cluster, "g1");
    REQUIRE(group_coord);
    offsets_sent = send_offsets(c, *coord, *group_coord, "tx1", pid, epoch, 42);
    offset_before_commit = committed_offset(c, *group_coord);
    open_committed = fetch_committed(c, leader, "out");
    open_uncommitted = fetch_committed(c, leader, "out", false);
    committed = end_txn(c, *coord, "tx1", pid, epoch, true);
    for (int i = 0; i < 40; ++i) {  // the markers are written after EndTxn answers
      after_commit = fetch_committed(c, leader, "out");
      if (after_commit && after_commit->last_stable_offset >= Offset(3)) break;
      rt.sleep(std::chrono::milliseconds(100));
    }
    // The next transaction is aborted.
    for (int i = 0; i < 40 && add_partition(c, *coord, "tx1", pid, epoch, "out", 0) != ErrorCode::none; ++i)
      rt.sleep(std::chrono::milliseconds(100));
    for (int i = 0; i < 40 && committed_offset(c, *group_coord) != Offset(42); ++i)
      rt.sleep(std::chrono::milliseconds(100));
    offset_after_commit = committed_offset(c, *group_coord);
    p2 = produce(c, leader, "out", 0, txn_batch({"c"}, pid, epoch, 2), -1, 10000);
    (void)send_offsets(c, *coord, *group_coord, "tx1", pid, epoch, 99);
    aborted = end_txn(c, *coord, "tx1", pid, epoch, false);
    // A third one stays open when a new instance of the producer starts
    // (the add waits, as the Java client retries, while the abort completes).
    for (int i = 0; i < 40 && add_partition(c, *coord, "tx1", pid, epoch, "out", 0) != ErrorCode::none; ++i)
      rt.sleep(std::chrono::milliseconds(100));
    p3 = produce(c, leader, "out", 0, txn_batch({"d"}, pid, epoch, 3), -1, 10000);
    second = init(rt, c, *coord, "tx1");  // CONCURRENT_TRANSACTIONS while the zombie's is aborted, then OK
    zombie_end = end_txn(c, *coord, "tx1", pid, epoch, true);
    zombie_produce = produce(c, leader, "out", 0, txn_batch({"z"}, pid, epoch, 4), -1, 10000);
    for (int i = 0; i < 40; ++i) {
      after_abort = fetch_committed(c, leader, "out");
      if (after_abort && after_abort->aborted.size() >= 2 && after_abort->last_stable_offset == after_abort->high_watermark)
        break;
      rt.sleep(std::chrono::milliseconds(100));
    }
    offset_after_abort = committed_offset(c, *group_coord);
    done = true;
  });
  for (sim::NodeId n : world.node_ids()) world.start(n);
  const auto r = world.run(world.now() + std::chrono::seconds(120));
  INFO(r.report);
  REQUIRE(done);
  CHECK(first.producer_epoch == ProducerEpoch(0));
  CHECK(added == ErrorCode::none);
  CHECK(p1.error == ErrorCode::none);
  CHECK(p1.base_offset == Offset(0));
  // Open: read_uncommitted sees it, read_committed does not (LSO = 0).
  REQUIRE(open_committed);
  CHECK(open_committed->last_stable_offset == Offset(0));
  CHECK(open_committed->values.empty());
  REQUIRE(open_uncommitted);
  CHECK(open_uncommitted->values.size() == 2);
  CHECK(committed == ErrorCode::none);
  // The consumed offset commits with the transaction, not before (KIP-98).
  CHECK(offsets_sent == ErrorCode::none);
  CHECK(offset_before_commit == Offset::none());
  CHECK(offset_after_commit == Offset(42));
  CHECK(offset_after_abort == Offset(42));
  REQUIRE(after_commit);
  CHECK(after_commit->last_stable_offset == Offset(3));  // a, b, the commit marker
  CHECK(after_commit->values == std::map<std::int64_t, std::string>{{0, "a"}, {1, "b"}});
  CHECK(after_commit->control_batches == 1);
  CHECK(after_commit->aborted.empty());
  CHECK(p2.base_offset == Offset(3));
  CHECK(aborted == ErrorCode::none);
  // The new instance: same producer id, the epoch bumped twice (fence, then its own).
  CHECK(second.error_code == ErrorCode::none);
  CHECK(second.producer_id == first.producer_id);
  CHECK(second.producer_epoch == ProducerEpoch(2));
  CHECK(zombie_end == ErrorCode::producer_fenced);
  CHECK(zombie_produce.error == ErrorCode::invalid_producer_epoch);
  REQUIRE(after_abort);
  // Both aborted transactions are listed for the consumer to skip; "c" and
  // "d" are below the LSO but aborted.
  CHECK(after_abort->aborted.size() == 2);
  CHECK(after_abort->values.count(3) == 1);
  CHECK(after_abort->last_stable_offset == after_abort->high_watermark);
  CHECK(after_abort->visible == std::map<std::int64_t, std::string>{{0, "a"}, {1, "b"}});
  CHECK(open_uncommitted->visible.size() == 2);
}

namespace {

struct UnaddedRun {
  ErrorCode produce_error = ErrorCode::unknown_server_error;
  std::optional<ReadCommitted> read;
};

// A producer writes to "out" inside a transaction whose AddPartitionsToTxn
// named only "other", then commits.
UnaddedRun produce_to_unadded_partition(bool legacy) {
  auto wc = samsa::testing::quiet_config(9);
  sim::World world(wc);
  std::vector<std::pair<std::string, std::string>> settings = {{"transaction.state.log.num.partitions", "3"},
                                                              {"transaction.state.log.replication.factor", "3"},
                                                              {"transaction.state.log.min.isr", "2"}};
  if (legacy) settings.push_back({"samsa.legacy.no.implicit.add.partitions", "true"});
  Cluster cluster(world, {3, settings});
  UnaddedRun out;
  bool done = false;
  world.add_node("client", [&](sim::Runtime& rt) {
    RawClient c(rt, "txn-producer");
    REQUIRE(cluster.create_topic(rt, "out", 1, 3));
    REQUIRE(cluster.create_topic(rt, "other", 1, 3));
    std::optional<BrokerId> leader_id;
    std::map<BrokerId, sim::Address> brokers;
    for (int i = 0; i < 40 && !leader_id; ++i) {
      leader_id = find_leader(c, cluster.address(1), "out", 0, &brokers);
      if (!leader_id) rt.sleep(std::chrono::milliseconds(250));
    }
    REQUIRE(leader_id);
    auto coord = find_txn_coordinator(rt, c, cluster, "tx2");
    REQUIRE(coord);
    const InitProducerIdResponse p = init(rt, c, *coord, "tx2");
    REQUIRE(p.error_code == ErrorCode::none);
    REQUIRE(add_partition(c, *coord, "tx2", p.producer_id, p.producer_epoch, "other", 0) == ErrorCode::none);
    ProduceRequest req;
    req.transactional_id = "tx2";
    req.acks = -1;
    req.timeout_ms = 10000;
    auto& t = req.topic_data.emplace_back();
    t.name = "out";
    auto& pd = t.partition_data.emplace_back();
    pd.index = PartitionId(0);
    pd.records = Records(txn_batch({"stray"}, p.producer_id, p.producer_epoch, 0));
    auto resp = c.call<ProduceResponse>(brokers.at(*leader_id), req, 7, k_call);
    if (resp) out.produce_error = resp->responses[0].partition_responses[0].error_code;
    (void)end_txn(c, *coord, "tx2", p.producer_id, p.producer_epoch, true);
    rt.sleep(std::chrono::seconds(2));  // the markers are written
    out.read = fetch_committed(c, brokers.at(*leader_id), "out");
    done = true;
  });
  for (sim::NodeId n : world.node_ids()) world.start(n);
  const auto r = world.run(world.now() + std::chrono::seconds(120));
  INFO(r.report);
  REQUIRE(done);
  return out;
}

}  // namespace

TEST_CASE("KIP-890 part 1: a transactional produce to a partition never added is refused (Kafka 3.6)",
          "[broker][txn]") {
  const UnaddedRun run = produce_to_unadded_partition(false);
  CHECK(run.produce_error == ErrorCode::invalid_txn_state);
  REQUIRE(run.read);
  CHECK(run.read->high_watermark == Offset(0));
  CHECK(run.read->last_stable_offset == Offset(0));
}

TEST_CASE("samsa.legacy.no.implicit.add.partitions: the stray write hangs the partition's LSO", "[broker][txn]") {
  // Before KIP-890 part 1 the leader takes the batch; no marker ever comes
  // for "out" (the coordinator never heard of it), so the transaction stays
  // open there and read_committed consumers stop at it: a hanging transaction.
  const UnaddedRun run = produce_to_unadded_partition(true);
  CHECK(run.produce_error == ErrorCode::none);
  REQUIRE(run.read);
  CHECK(run.read->high_watermark == Offset(1));
  CHECK(run.read->last_stable_offset == Offset(0));
  CHECK(run.read->visible.empty());
}

namespace {

struct LateRun {
  ProducerEpoch first_epoch = ProducerEpoch::none();
  ProducerEpoch end_epoch = ProducerEpoch::none();  // what EndTxn v5 answered
  ErrorCode late_error = ErrorCode::unknown_server_error;
  bool v5_refused = false;                          // legacy: EndTxn v5 is not served
  std::optional<ReadCommitted> read;
};

ErrorCode produce_one(RawClient& c, const sim::Address& leader, const std::string& id, const std::string& value,
                      ProducerId pid, ProducerEpoch epoch, std::int32_t seq) {
  ProduceRequest req;
  req.transactional_id = id;
  req.acks = -1;
  req.timeout_ms = 10000;
  auto& t = req.topic_data.emplace_back();
  t.name = "out";
  auto& pd = t.partition_data.emplace_back();
  pd.index = PartitionId(0);
  pd.records = Records(txn_batch({value}, pid, epoch, seq));
  auto resp = c.call<ProduceResponse>(leader, req, 7, k_call);
  return resp ? resp->responses[0].partition_responses[0].error_code : ErrorCode::network_exception;
}

// Transaction 1 writes "a" and commits with EndTxn v5; transaction 2 adds
// the same partition under the epoch EndTxn answered, and then a produce of
// transaction 1 (its old epoch, its next sequence) arrives late; transaction
// 2 writes "b" and commits.
LateRun late_produce_into_next_transaction(bool legacy) {
  auto wc = samsa::testing::quiet_config(11);
  sim::World world(wc);
  std::vector<std::pair<std::string, std::string>> settings = {{"transaction.state.log.num.partitions", "3"},
                                                              {"transaction.state.log.replication.factor", "3"},
                                                              {"transaction.state.log.min.isr", "2"}};
  if (legacy) settings.push_back({"samsa.legacy.no.epoch.bump.per.transaction", "true"});
  Cluster cluster(world, {3, settings});
  LateRun out;
  bool done = false;
  world.add_node("client", [&](sim::Runtime& rt) {
    RawClient c(rt, "txn-producer");
    REQUIRE(cluster.create_topic(rt, "out", 1, 3));
    std::optional<BrokerId> leader_id;
    std::map<BrokerId, sim::Address> brokers;
    for (int i = 0; i < 40 && !leader_id; ++i) {
      leader_id = find_leader(c, cluster.address(1), "out", 0, &brokers);
      if (!leader_id) rt.sleep(std::chrono::milliseconds(250));
    }
    REQUIRE(leader_id);
    const sim::Address leader = brokers.at(*leader_id);
    auto coord = find_txn_coordinator(rt, c, cluster, "tx3");
    REQUIRE(coord);
    const InitProducerIdResponse p = init(rt, c, *coord, "tx3");
    REQUIRE(p.error_code == ErrorCode::none);
    out.first_epoch = p.producer_epoch;
    REQUIRE(add_partition(c, *coord, "tx3", p.producer_id, p.producer_epoch, "out", 0) == ErrorCode::none);
    REQUIRE(produce_one(c, leader, "tx3", "a", p.producer_id, p.producer_epoch, 0) == ErrorCode::none);
    EndTxnRequest end;
    end.transactional_id = "tx3";
    end.producer_id = p.producer_id;
    end.producer_epoch = p.producer_epoch;
    end.committed = true;
    // The legacy switch is a broker before KIP-890 part 2: it serves EndTxn
    // up to v4 only (a v5 request closes the connection), whose answer has
    // no epoch: the client keeps its own.
    const std::int16_t end_version = legacy ? 4 : 5;
    if (legacy) out.v5_refused = !c.call<EndTxnResponse>(*coord, end, 5, k_call).has_value();
    auto e = c.call<EndTxnResponse>(*coord, end, end_version, k_call);
    REQUIRE(e);
    REQUIRE(e->error_code == ErrorCode::none);
    if (legacy) {
      out.end_epoch = p.producer_epoch;
    } else {
      REQUIRE(e->producer_id == p.producer_id);
      out.end_epoch = e->producer_epoch;
    }
    rt.sleep(std::chrono::seconds(2));  // the markers are written
    const ProducerEpoch next = out.end_epoch;
    REQUIRE(add_partition(c, *coord, "tx3", p.producer_id, next, "out", 0) == ErrorCode::none);
    out.late_error = produce_one(c, leader, "tx3", "late", p.producer_id, p.producer_epoch, 1);
    // Transaction 2's own write: its sequences restart at 0 under a new epoch.
    const std::int32_t seq = next == p.producer_epoch ? (out.late_error == ErrorCode::none ? 2 : 1) : 0;
    REQUIRE(produce_one(c, leader, "tx3", "b", p.producer_id, next, seq) == ErrorCode::none);
    end.producer_epoch = next;
    auto e2 = c.call<EndTxnResponse>(*coord, end, end_version, k_call);
    REQUIRE(e2);
    REQUIRE(e2->error_code == ErrorCode::none);
    rt.sleep(std::chrono::seconds(2));
    out.read = fetch_committed(c, leader, "out");
    done = true;
  });
  for (sim::NodeId n : world.node_ids()) world.start(n);
  const auto r = world.run(world.now() + std::chrono::seconds(120));
  INFO(r.report);
  REQUIRE(done);
  return out;
}

std::vector<std::string> visible_values(const ReadCommitted& r) {
  std::vector<std::string> out;
  for (const auto& [offset, v] : r.visible) out.push_back(v);
  return out;
}

}  // namespace

TEST_CASE("KIP-890 part 2: a produce of a committed transaction that arrives late is fenced (Kafka 4.0)",
          "[broker][txn]") {
  const LateRun run = late_produce_into_next_transaction(false);
  CHECK(run.end_epoch.value() == run.first_epoch.value() + 1);
  CHECK(run.late_error == ErrorCode::invalid_producer_epoch);
  REQUIRE(run.read);
  CHECK(visible_values(*run.read) == std::vector<std::string>{"a", "b"});
}

TEST_CASE("samsa.legacy.no.epoch.bump.per.transaction: the late produce is committed with the next transaction",
          "[broker][txn]") {
  // KAFKA-17754's class: the same epoch, the next sequence, a partition in
  // the open transaction: nothing tells the late write from a new one.
  const LateRun run = late_produce_into_next_transaction(true);
  CHECK(run.v5_refused);
  CHECK(run.end_epoch == run.first_epoch);
  CHECK(run.late_error == ErrorCode::none);
  REQUIRE(run.read);
  CHECK(visible_values(*run.read) == std::vector<std::string>{"a", "late", "b"});
}

namespace {

enum class TxnIndexDamage { none, lost, corrupt };

struct RestartRun {
  std::optional<ReadCommitted> before, after;
  std::uint64_t txn_indexes_loaded = 0, txn_indexes_rebuilt = 0;  // over the three replicas of out-0
  int replicas_with_txn_index = 0;                                // after the restart
};

// Three transactions (commit "a", abort "x", commit "b") on out-0 with one
// batch a segment (so the abort marker's segment is sealed and trusted on
// load), every broker crashed and its out-0 .txnindex files damaged as told
// while down, then restarted: read_committed before and after.
RestartRun restart_with_txn_index(TxnIndexDamage damage) {
  auto wc = samsa::testing::quiet_config(13);
  sim::World world(wc);
  Cluster cluster(world, {3,
                          {{"transaction.state.log.num.partitions", "3"},
                           {"transaction.state.log.replication.factor", "3"},
                           {"transaction.state.log.min.isr", "2"},
                           {"log.segment.bytes", "120"}}});
  RestartRun run;
  bool done = false;
  auto damage_disks = [&] {
    for (int b = 1; b <= 3; ++b) {
      auto& disk = world.disk(cluster.node_of(b));
      std::vector<std::string> txn_files;
      for (const auto& [path, inode] : disk.files())
        if (path.find("out-0/") != std::string::npos && path.ends_with(".txnindex")) txn_files.push_back(path);
      REQUIRE_FALSE(txn_files.empty());
      for (const auto& path : txn_files) {
        if (damage == TxnIndexDamage::lost) disk.files().erase(path);
        if (damage == TxnIndexDamage::corrupt) REQUIRE(disk.corrupt(path, 0, 2));  // the version
      }
    }
  };
  world.add_node("client", [&](sim::Runtime& rt) {
    RawClient c(rt, "txn-producer");
    REQUIRE(cluster.create_topic(rt, "out", 1, 3));
    auto leader_now = [&]() -> std::optional<sim::Address> {
      for (int i = 0; i < 60; ++i) {
        std::map<BrokerId, sim::Address> brokers;
        auto l = find_leader(c, cluster.address(1 + i % 3), "out", 0, &brokers);
        if (l && brokers.count(*l)) return brokers.at(*l);
        rt.sleep(std::chrono::milliseconds(250));
      }
      return std::nullopt;
    };
    auto leader = leader_now();
    REQUIRE(leader);
    auto coord = find_txn_coordinator(rt, c, cluster, "tx4");
    REQUIRE(coord);
    const InitProducerIdResponse p = init(rt, c, *coord, "tx4");
    REQUIRE(p.error_code == ErrorCode::none);
    const std::vector<std::pair<std::string, bool>> rounds = {{"a", true}, {"x", false}, {"b", true}};
    std::int32_t seq = 0;
    for (const auto& [value, commit] : rounds) {
      for (int i = 0; i < 40 && add_partition(c, *coord, "tx4", p.producer_id, p.producer_epoch, "out", 0) !=
                                    ErrorCode::none;
           ++i)
        rt.sleep(std::chrono::milliseconds(100));
      REQUIRE(produce_one(c, *leader, "tx4", value, p.producer_id, p.producer_epoch, seq++) == ErrorCode::none);
      REQUIRE(end_txn(c, *coord, "tx4", p.producer_id, p.producer_epoch, commit) == ErrorCode::none);
    }
    for (int i = 0; i < 40; ++i) {  // the last markers
      run.before = fetch_committed(c, *leader, "out");
      if (run.before && run.before->last_stable_offset == run.before->high_watermark &&
          run.before->high_watermark >= Offset(6))
        break;
      rt.sleep(std::chrono::milliseconds(100));
    }
    for (int b = 1; b <= 3; ++b) world.crash(cluster.node_of(b), sim::CrashMode::keep_all);
    damage_disks();
    rt.sleep(std::chrono::seconds(1));
    for (int b = 1; b <= 3; ++b) world.start(cluster.node_of(b));
    rt.sleep(std::chrono::seconds(15));
    leader = leader_now();
    REQUIRE(leader);
    for (int i = 0; i < 40; ++i) {
      run.after = fetch_committed(c, *leader, "out");
      if (run.after && run.after->error == ErrorCode::none && run.after->high_watermark >= Offset(6)) break;
      rt.sleep(std::chrono::milliseconds(250));
    }
    for (int b = 1; b <= 3; ++b) {
      const auto* node = cluster.node(b);
      REQUIRE(node != nullptr);
      auto part = node->replicas->partition({"out", PartitionId(0)});
      REQUIRE(part);
      run.txn_indexes_loaded += part->log().recovery_stats().txn_indexes_loaded;
      run.txn_indexes_rebuilt += part->log().recovery_stats().txn_indexes_rebuilt;
      for (const auto& [path, inode] : world.disk(cluster.node_of(b)).files())
        if (path.find("out-0/") != std::string::npos && path.ends_with(".txnindex")) ++run.replicas_with_txn_index;
    }
    done = true;
  });
  for (sim::NodeId n : world.node_ids()) world.start(n);
  const auto r = world.run(world.now() + std::chrono::seconds(120));
  INFO(r.report);
  REQUIRE(done);
  REQUIRE(run.before);
  REQUIRE(run.after);
  return run;
}

}  // namespace

TEST_CASE("a restart of every broker keeps the aborted transactions: read_committed still skips them",
          "[broker][txn]") {
  // The abort marker's segment is sealed: each replica loads its .txnindex
  // (Kafka's TransactionIndex) and trusts it; a lost or corrupt file is
  // rebuilt from the log by the partition's replay (LogSegment.recover).
  const auto damage = GENERATE(TxnIndexDamage::none, TxnIndexDamage::lost, TxnIndexDamage::corrupt);
  CAPTURE(static_cast<int>(damage));
  const RestartRun run = restart_with_txn_index(damage);
  CHECK(run.before->aborted.size() == 1);
  CHECK(run.after->aborted == run.before->aborted);
  CHECK(run.after->last_stable_offset == run.before->last_stable_offset);
  CHECK(visible_values(*run.after) == std::vector<std::string>{"a", "b"});
  CHECK(visible_values(*run.before) == std::vector<std::string>{"a", "b"});
  CHECK(run.replicas_with_txn_index == 3);  // one .txnindex (the abort's segment) on each replica
  if (damage == TxnIndexDamage::none) {
    CHECK(run.txn_indexes_loaded >= 3);
    CHECK(run.txn_indexes_rebuilt == 0);
  } else {
    CHECK(run.txn_indexes_rebuilt == 3);
  }
}
