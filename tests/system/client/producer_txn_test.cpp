// The transactional producer (TransactionManager) and the read_committed
// consumer against whole brokers of the simulated world: committed
// transactions are seen, aborted ones are not (with read_uncommitted they
// are), a second instance with the same transactional.id fences the first
// (fatal), sendOffsetsToTransaction commits the group's offsets with the
// transaction and not with an abort, and the state machine refuses calls
// out of order.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <functional>
#include <set>

#include "scenarios/broker/cluster.h"
#include "sim/world/world.h"
#include "system/client/consumer.h"
#include "system/client/producer.h"

using namespace samsa;
using namespace samsa::sim;
using namespace std::chrono_literals;
using namespace samsa::client;
using samsa::scenarios::broker::Cluster;

namespace {

using Props = std::map<std::string, std::string>;
const char* k_servers = "b1:9092,b2:9092,b3:9092";

std::unique_ptr<Producer> txn_producer(Runtime& rt, const std::string& id, Props extra = {}) {
  Props p = {{"bootstrap.servers", k_servers}, {"transactional.id", id}, {"client.id", id},
             {"request.timeout.ms", "3000"}, {"delivery.timeout.ms", "20000"}, {"max.block.ms", "30000"}};
  for (auto& [k, v] : extra) p[k] = v;
  auto made = Producer::create(rt, p);
  REQUIRE(made.ok());
  return std::move(made).value();
}

ConsumerConfig consumer_config(const std::string& id, bool read_committed, const std::string& group = "") {
  Props p = {{"bootstrap.servers", k_servers}, {"client.id", id}, {"auto.offset.reset", "earliest"},
             {"enable.auto.commit", "false"}, {"isolation.level", read_committed ? "read_committed" : "read_uncommitted"},
             {"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "1000"}, {"fetch.max.wait.ms", "100"}};
  if (!group.empty()) p["group.id"] = group;
  auto c = make_consumer_config(p);
  REQUIRE(c.ok());
  return *c;
}

// Everything a consumer with assign() reads from `topic` within `for_ms`.
std::multiset<std::string> read_all(Runtime& rt, const std::string& topic, int partitions, bool read_committed,
                                    std::int64_t for_ms = 4000) {
  Consumer c(rt, consumer_config("reader", read_committed));
  std::vector<TopicPartition> tps;
  for (int p = 0; p < partitions; ++p) tps.push_back({topic, protocol::PartitionId(p)});
  c.assign(tps);
  std::multiset<std::string> out;
  const MonoTime until = rt.now() + std::chrono::milliseconds(for_ms);
  while (rt.now() < until)
    for (const auto& r : c.poll(200ms)) out.insert(r.value.value_or(""));
  c.close();
  return out;
}

void with_cluster(std::uint64_t seed, const std::function<void(Runtime&, Cluster&)>& body,
                  std::vector<std::pair<std::string, std::string>> settings = {}) {
  WorldConfig wc;
  wc.seed = seed;
  World world(wc);
  settings.emplace_back("min.insync.replicas", "2");
  Cluster cluster(world, {3, settings});
  bool done = false;
  world.add_node("client", [&](Runtime& rt) {
    REQUIRE(cluster.create_topic(rt, "t", 3, 3));
    REQUIRE(cluster.create_topic(rt, "in", 2, 3));
    body(rt, cluster);
    done = true;
  });
  for (NodeId n : world.node_ids()) world.start(n);
  world.run(900s);
  REQUIRE(done);
}

void send_values(Producer& p, const std::string& topic, const std::vector<std::string>& values) {
  std::vector<SendFuture> fs;
  for (const auto& v : values) fs.push_back(p.send({topic, std::nullopt, std::nullopt, v, std::nullopt}));
  for (auto& f : fs) CHECK(f.get().kind == OutcomeKind::ok);
}

}  // namespace

TEST_CASE("producer txn config: transactional.id needs idempotence", "[client][txn]") {
  auto bad = parse_producer_config({{"bootstrap.servers", k_servers}, {"transactional.id", "x"},
                                    {"enable.idempotence", "false"}});
  REQUIRE(!bad);
  CHECK(bad.error().key == "enable.idempotence");
  auto acks = parse_producer_config({{"bootstrap.servers", k_servers}, {"transactional.id", "x"}, {"acks", "1"}});
  REQUIRE(!acks);
  CHECK(acks.error().key == "acks");
  auto ok = parse_producer_config({{"bootstrap.servers", k_servers}, {"transactional.id", "x"},
                                   {"transaction.timeout.ms", "10000"}});
  REQUIRE(ok);
  CHECK(ok->transactional());
  CHECK(ok->transaction_timeout_ms == 10000);
}

TEST_CASE("producer txn: committed records are read_committed-visible, aborted ones only read_uncommitted",
          "[client][txn]") {
  with_cluster(11, [](Runtime& rt, Cluster&) {
    auto p = txn_producer(rt, "txn-a");
    // Out of order: IllegalStateException, nothing sent.
    CHECK(p->begin_transaction().kind == TxnErrorKind::illegal_state);
    CHECK(p->send({"t", std::nullopt, std::nullopt, "early", std::nullopt}).get().kind == OutcomeKind::fail);
    REQUIRE(p->init_transactions().ok());
    CHECK(p->transaction_state() == TxnState::ready);
    CHECK(p->send({"t", std::nullopt, std::nullopt, "outside", std::nullopt}).get().kind == OutcomeKind::fail);
    CHECK(p->commit_transaction().kind == TxnErrorKind::illegal_state);

    REQUIRE(p->begin_transaction().ok());
    send_values(*p, "t", {"c1", "c2", "c3", "c4"});
    REQUIRE(p->commit_transaction().ok());
    REQUIRE(p->begin_transaction().ok());
    send_values(*p, "t", {"a1", "a2", "a3"});
    REQUIRE(p->abort_transaction().ok());
    CHECK(p->transaction_state() == TxnState::ready);
    REQUIRE(p->begin_transaction().ok());
    send_values(*p, "t", {"c5", "c6"});
    REQUIRE(p->commit_transaction().ok());
    // An empty transaction commits without asking the coordinator.
    REQUIRE(p->begin_transaction().ok());
    REQUIRE(p->commit_transaction().ok());
    CHECK(p->stats().txn_commits == 3);
    CHECK(p->stats().txn_aborts == 1);
    p->close();

    const std::multiset<std::string> committed = {"c1", "c2", "c3", "c4", "c5", "c6"};
    CHECK(read_all(rt, "t", 3, true) == committed);
    auto everything = committed;
    everything.insert({"a1", "a2", "a3"});
    CHECK(read_all(rt, "t", 3, false) == everything);
  });
}

TEST_CASE("EndTxn v5 only where the brokers advertise it: the legacy switch's v4 keeps the producer's epoch",
          "[client][txn]") {
  // KIP-890 part 2: a broker with the epoch bump per transaction advertises
  // EndTxn v5 and answers each EndTxn with the next epoch; one with
  // samsa.legacy.no.epoch.bump.per.transaction advertises v4 (as Kafka 3.x
  // did), the producer asks ApiVersions and sends v4 (a v5 request would
  // close the connection), and its epoch stays.
  for (const bool legacy : {false, true}) {
    INFO("legacy switch: " << legacy);
    std::uint64_t bad_frames = 0;
    with_cluster(
        12,
        [&](Runtime& rt, Cluster& cluster) {
          auto p = txn_producer(rt, "txn-v");
          REQUIRE(p->init_transactions().ok());
          for (int i = 0; i < 3; ++i) {
            REQUIRE(p->begin_transaction().ok());
            send_values(*p, "t", {fmt::format("v{}", i)});
            REQUIRE(p->commit_transaction().ok());
          }
          CHECK(p->stats().txn_commits == 3);
          CHECK(p->stats().txn_end_epoch_bumps == (legacy ? 0u : 3u));
          p->close();
          CHECK(read_all(rt, "t", 3, true) == std::multiset<std::string>{"v0", "v1", "v2"});
          for (int b = 1; b <= 3; ++b) {
            const auto* node = cluster.node(b);
            REQUIRE(node != nullptr);
            bad_frames += node->server->stats().bad_frames;
            for (const auto& v : node->server->api_versions().api_keys)
              if (v.api_key == static_cast<std::int16_t>(protocol::ApiKey::end_txn))
                CHECK(v.max_version == (legacy ? 4 : 5));
          }
        },
        {{"samsa.legacy.no.epoch.bump.per.transaction", legacy ? "true" : "false"}});
    CHECK(bad_frames == 0);
  }
}

TEST_CASE("producer txn: an open transaction is invisible to read_committed until it commits", "[client][txn]") {
  with_cluster(12, [](Runtime& rt, Cluster&) {
    auto p = txn_producer(rt, "txn-open");
    REQUIRE(p->init_transactions().ok());
    REQUIRE(p->begin_transaction().ok());
    send_values(*p, "t", {"o1", "o2"});
    CHECK(read_all(rt, "t", 3, true, 1500).empty());  // the LSO stays below the open transaction
    CHECK(read_all(rt, "t", 3, false, 1500).size() == 2);
    REQUIRE(p->commit_transaction().ok());
    CHECK(read_all(rt, "t", 3, true) == std::multiset<std::string>{"o1", "o2"});
    p->close();
  });
}

TEST_CASE("producer txn: a new instance with the same transactional.id fences the old one (fatal)",
          "[client][txn]") {
  with_cluster(13, [](Runtime& rt, Cluster&) {
    auto zombie = txn_producer(rt, "txn-z");
    REQUIRE(zombie->init_transactions().ok());
    REQUIRE(zombie->begin_transaction().ok());
    send_values(*zombie, "t", {"z1", "z2"});
    auto fresh = txn_producer(rt, "txn-z");
    REQUIRE(fresh->init_transactions().ok());  // aborts the zombie's open transaction
    CHECK(fresh->producer_id_and_epoch().second > zombie->producer_id_and_epoch().second);
    const TxnResult r = zombie->commit_transaction();
    CHECK(r.kind == TxnErrorKind::fatal);
    CHECK(zombie->transaction_state() == TxnState::fatal_error);
    CHECK(zombie->begin_transaction().kind == TxnErrorKind::fatal);
    REQUIRE(fresh->begin_transaction().ok());
    send_values(*fresh, "t", {"f1"});
    REQUIRE(fresh->commit_transaction().ok());
    fresh->close();
    CHECK(read_all(rt, "t", 3, true) == std::multiset<std::string>{"f1"});
  });
}

TEST_CASE("producer txn: sendOffsetsToTransaction commits the group's offsets with the transaction only",
          "[client][txn]") {
  with_cluster(14, [](Runtime& rt, Cluster&) {
    {
      auto feeder = txn_producer(rt, "feeder");
      REQUIRE(feeder->init_transactions().ok());
      REQUIRE(feeder->begin_transaction().ok());
      send_values(*feeder, "in", {"i1", "i2", "i3", "i4", "i5", "i6"});
      REQUIRE(feeder->commit_transaction().ok());
      feeder->close();
    }
    // The group's committed offsets as a new member's first positions
    // (earliest, 0, without one): a poll with no time sets them before any
    // record comes back; UNSTABLE_OFFSET_COMMIT leaves them unset a while.
    auto committed_offsets = [&]() {
      Consumer probe(rt, consumer_config("probe", true, "copy"));
      probe.assign({{"in", protocol::PartitionId(0)}, {"in", protocol::PartitionId(1)}});
      std::map<int, std::int64_t> out;
      for (int i = 0; i < 100 && out.size() < 2; ++i) {
        (void)probe.poll(0ms);
        for (int p = 0; p < 2; ++p)
          if (auto pos = probe.position({"in", protocol::PartitionId(p)}); pos && !out.count(p)) out[p] = *pos;
        rt.sleep(50ms);
      }
      probe.close();
      REQUIRE(out.size() == 2);
      return out;
    };
    Consumer c(rt, consumer_config("copier", true, "copy"));
    c.subscribe({"in"});
    auto p = txn_producer(rt, "copier");
    REQUIRE(p->init_transactions().ok());
    std::vector<ConsumerRecord> got;
    for (int i = 0; i < 60 && got.size() < 6; ++i)
      for (auto& r : c.poll(200ms)) got.push_back(r);
    REQUIRE(got.size() == 6);
    std::map<TopicPartition, std::int64_t> offsets;
    for (const auto& r : got) offsets[{r.topic, protocol::PartitionId(r.partition)}] = r.offset + 1;
    // First an aborted copy: neither output nor offsets stay.
    REQUIRE(p->begin_transaction().ok());
    for (const auto& r : got) (void)p->send({"t", std::nullopt, std::nullopt, "x-" + *r.value, std::nullopt});
    REQUIRE(p->send_offsets_to_transaction(offsets, c.group_metadata()).ok());
    REQUIRE(p->abort_transaction().ok());
    auto before = committed_offsets();
    CHECK(before[0] + before[1] == 0);
    // Then a committed one.
    REQUIRE(p->begin_transaction().ok());
    for (const auto& r : got) (void)p->send({"t", std::nullopt, std::nullopt, "y-" + *r.value, std::nullopt});
    REQUIRE(p->send_offsets_to_transaction(offsets, c.group_metadata()).ok());
    REQUIRE(p->commit_transaction().ok());
    auto after = committed_offsets();
    std::int64_t expected = 0;
    for (const auto& [tp, o] : offsets) expected += o;
    CHECK(after[0] + after[1] == expected);
    const auto out = read_all(rt, "t", 3, true);
    CHECK(out.size() == 6);
    for (const auto& v : out) CHECK(v.rfind("y-", 0) == 0);
    // A stale generation is fenced by the group coordinator (KIP-447): abortable.
    REQUIRE(p->begin_transaction().ok());
    auto stale = c.group_metadata();
    stale.generation_id += 7;
    const TxnResult r = p->send_offsets_to_transaction(offsets, stale);
    CHECK(r.kind == TxnErrorKind::abortable);
    CHECK(r.error == protocol::ErrorCode::illegal_generation);
    CHECK(p->transaction_state() == TxnState::abortable_error);
    REQUIRE(p->abort_transaction().ok());
    CHECK(p->transaction_state() == TxnState::ready);
    c.close();
    p->close();
  });
}

TEST_CASE("read_committed skips an aborted transaction interleaved with a committed one in one partition",
          "[client][txn]") {
  with_cluster(15, [](Runtime& rt, Cluster&) {
    auto a = txn_producer(rt, "txn-ia");
    auto b = txn_producer(rt, "txn-ib");
    REQUIRE(a->init_transactions().ok());
    REQUIRE(b->init_transactions().ok());
    REQUIRE(a->begin_transaction().ok());
    REQUIRE(b->begin_transaction().ok());
    for (int i = 0; i < 3; ++i) {
      CHECK(a->send({"t", 0, std::nullopt, "a" + std::to_string(i), std::nullopt}).get().kind == OutcomeKind::ok);
      CHECK(b->send({"t", 0, std::nullopt, "b" + std::to_string(i), std::nullopt}).get().kind == OutcomeKind::ok);
    }
    REQUIRE(b->abort_transaction().ok());
    CHECK(a->send({"t", 0, std::nullopt, "a3", std::nullopt}).get().kind == OutcomeKind::ok);
    REQUIRE(a->commit_transaction().ok());
    REQUIRE(b->begin_transaction().ok());
    CHECK(b->send({"t", 0, std::nullopt, "b9", std::nullopt}).get().kind == OutcomeKind::ok);
    REQUIRE(b->commit_transaction().ok());
    a->close();
    b->close();
    CHECK(read_all(rt, "t", 1, true) == std::multiset<std::string>{"a0", "a1", "a2", "a3", "b9"});
    CHECK(read_all(rt, "t", 1, false).size() == 8);
  });
}

TEST_CASE("require_stable: a group's offset held by an open transaction gives no position until it commits",
          "[client][txn]") {
  with_cluster(16, [](Runtime& rt, Cluster&) {
    auto p = txn_producer(rt, "txn-rs");
    REQUIRE(p->init_transactions().ok());
    REQUIRE(p->begin_transaction().ok());
    const TopicPartition tp{"in", protocol::PartitionId(0)};
    REQUIRE(p->send_offsets_to_transaction({{tp, 3}}, ConsumerGroupMetadata{"rs", -1, "", std::nullopt}).ok());
    auto position_now = [&](bool read_committed, int polls) {
      Consumer probe(rt, consumer_config("probe", read_committed, "rs"));
      probe.assign({tp});
      std::optional<std::int64_t> pos;
      for (int i = 0; i < polls && !pos; ++i) {
        (void)probe.poll(0ms);
        pos = probe.position(tp);
        rt.sleep(100ms);
      }
      const auto unstable = probe.stats().unstable_offsets;
      probe.close();
      return std::make_pair(pos, unstable);
    };
    auto [open, unstable] = position_now(true, 10);
    CHECK(!open);  // UNSTABLE_OFFSET_COMMIT: no position yet
    CHECK(unstable > 0);
    auto [uncommitted, none] = position_now(false, 10);
    CHECK(uncommitted == 0);  // without require_stable: the last stable commit (none: earliest)
    CHECK(none == 0);
    REQUIRE(p->commit_transaction().ok());
    auto [after, ignored] = position_now(true, 50);
    CHECK(after == 3);
    p->close();
  });
}

// Model-based: random calls (begin, send, sendOffsets, commit, abort) in
// any order against a model of TransactionManager's states (Kafka's
// isTransitionValid): each call's outcome kind and the state after it
// match the model; at the end read_committed shows exactly the records of
// the committed transactions. A second instance with the same
// transactional.id then fences the first: its next coordinator call is
// fatal and every call after it too.
TEST_CASE("producer txn model: random call sequences follow the state machine; committed records and only they "
          "are visible", "[client][txn]") {
  for (std::uint64_t seed : {21, 22, 23}) {
    with_cluster(seed, [seed](Runtime& rt, Cluster&) {
      auto p = txn_producer(rt, "txn-model");
      REQUIRE(p->init_transactions().ok());
      Random rng = rt.random("model");
      enum class M { ready, open };
      M model = M::ready;
      std::vector<std::string> open_values;
      std::multiset<std::string> committed;
      int next = 0;
      for (int step = 0; step < 60; ++step) {
        const auto op = rng.uniform(0, 4);
        INFO("seed " << seed << " step " << step << " op " << op);
        if (op == 0) {  // begin
          const TxnResult r = p->begin_transaction();
          CHECK(r.kind == (model == M::ready ? TxnErrorKind::none : TxnErrorKind::illegal_state));
          if (model == M::ready) open_values.clear();
          model = M::open;
        } else if (op == 1) {  // send
          const std::string v = fmt::format("m{}-{}", seed, next++);
          const auto o = p->send({"t", std::nullopt, std::nullopt, v, std::nullopt}).get();
          CHECK(o.kind == (model == M::open ? OutcomeKind::ok : OutcomeKind::fail));
          if (model == M::open) open_values.push_back(v);
        } else if (op == 2) {  // sendOffsetsToTransaction
          const TxnResult r = p->send_offsets_to_transaction({{{"in", protocol::PartitionId(0)}, next}},
                                                             ConsumerGroupMetadata{"model", -1, "", std::nullopt});
          CHECK(r.kind == (model == M::open ? TxnErrorKind::none : TxnErrorKind::illegal_state));
        } else if (op == 3) {  // commit
          const TxnResult r = p->commit_transaction();
          CHECK(r.kind == (model == M::open ? TxnErrorKind::none : TxnErrorKind::illegal_state));
          if (model == M::open) committed.insert(open_values.begin(), open_values.end());
          model = M::ready;
        } else {  // abort
          const TxnResult r = p->abort_transaction();
          CHECK(r.kind == (model == M::open ? TxnErrorKind::none : TxnErrorKind::illegal_state));
          model = M::ready;
        }
        CHECK(p->transaction_state() == (model == M::open ? TxnState::in_transaction : TxnState::ready));
      }
      if (model == M::open) REQUIRE(p->abort_transaction().ok());
      CHECK(read_all(rt, "t", 3, true) == committed);
      // Fencing: the first instance's next coordinator call is fatal, then every call.
      auto fresh = txn_producer(rt, "txn-model");
      REQUIRE(fresh->init_transactions().ok());
      REQUIRE(p->begin_transaction().ok());  // local: the coordinator is not asked yet
      CHECK(p->send({"t", std::nullopt, std::nullopt, "zombie", std::nullopt}).get().kind == OutcomeKind::fail);
      CHECK(p->transaction_state() == TxnState::fatal_error);
      CHECK(p->commit_transaction().kind == TxnErrorKind::fatal);
      CHECK(p->abort_transaction().kind == TxnErrorKind::fatal);
      CHECK(p->begin_transaction().kind == TxnErrorKind::fatal);
      fresh->close();
      p->close();
    });
  }
}
