// The producer against a simulated three-broker cluster: configuration by
// Kafka's keys, sync and callback sends, batching (linger.ms, batch.size),
// every codec read back, the partitioners end to end, buffer.memory
// back-pressure with max.block.ms.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <functional>
#include <set>

#include "scenarios/broker/cluster.h"
#include "scenarios/broker/driver.h"
#include "sim/world/world.h"
#include "system/client/producer.h"
#include "system/protocol/murmur2.h"

using namespace samsa;
using namespace samsa::sim;
using namespace samsa::client;
using samsa::scenarios::broker::Cluster;

namespace {

using Props = std::map<std::string, std::string>;

Props props(Props extra = {}) {
  Props p = {{"bootstrap.servers", "b1:9092,b2:9092,b3:9092"}};
  for (auto& [k, v] : extra) p[k] = v;
  return p;
}

// A cluster with topic "t" (`partitions`, RF=3) and a client node running `body`.
void with_cluster(std::uint64_t seed, int partitions, const std::function<void(Runtime&, World&, NodeId)>& body) {
  WorldConfig wc;
  wc.seed = seed;
  World world(wc);
  Cluster cluster(world, {3, {{"min.insync.replicas", "2"}}});
  bool done = false;
  NodeId client = -1;
  client = world.add_node("client", [&](Runtime& rt) {
    REQUIRE(cluster.create_topic(rt, "t", partitions, 3));
    body(rt, world, client);
    done = true;
  });
  for (NodeId n : world.node_ids()) world.start(n);
  world.run(600s);
  REQUIRE(done);
}

std::map<std::int64_t, std::string> read_back(Runtime& rt, int partition) {
  scenarios::broker::RawClient c(rt, "reader");
  std::map<protocol::BrokerId, Address> brokers;
  auto leader = scenarios::broker::find_leader(c, {"b1", 9092}, "t", partition, &brokers);
  REQUIRE(leader);
  std::map<std::int64_t, std::string> out;
  protocol::Offset next(0);
  for (int i = 0; i < 100; ++i) {
    auto f = scenarios::broker::fetch(c, brokers.at(*leader), "t", partition, next, 0);
    REQUIRE(f);
    out.insert(f->values.begin(), f->values.end());
    if (f->next_offset >= f->high_watermark) break;
    next = f->next_offset;
  }
  return out;
}

}  // namespace

TEST_CASE("producer config: Kafka 3.x defaults; errors name the key", "[client][producer]") {
  auto c = parse_producer_config(props());
  REQUIRE(c);
  CHECK(c->acks == -1);
  CHECK(c->enable_idempotence);
  CHECK(c->linger_ms == 0);
  CHECK(c->batch_size == 16384);
  CHECK(c->max_in_flight == 5);
  CHECK(c->delivery_timeout_ms == 120000);
  CHECK(c->bootstrap_servers.size() == 3);
  auto missing = parse_producer_config({});
  REQUIRE(!missing);
  CHECK(missing.error().key == "bootstrap.servers");
  auto bad = parse_producer_config(props({{"acks", "2"}}));
  REQUIRE(!bad);
  CHECK(bad.error().key == "acks");
  CHECK(bad.error().message.find("acks") != std::string::npos);
  auto codec = parse_producer_config(props({{"compression.type", "brotli"}}));
  REQUIRE(!codec);
  CHECK(codec.error().key == "compression.type");
  auto unknown = parse_producer_config(props({{"lingerms", "5"}}));
  REQUIRE(!unknown);
  CHECK(unknown.error().key == "lingerms");
}

TEST_CASE("producer config: idempotence conflicts as ProducerConfig (KAFKA-13598)", "[client][producer]") {
  // Explicit idempotence with a conflicting key: an error naming that key.
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"acks", "1"}, {"retries", "0"}, {"max.in.flight.requests.per.connection", "6"}}) {
    auto r = parse_producer_config(props({{"enable.idempotence", "true"}, {key, value}}));
    REQUIRE(!r);
    CHECK(r.error().key == key);
    // The default yields quietly.
    auto d = parse_producer_config(props({{key, value}}));
    REQUIRE(d);
    CHECK(!d->enable_idempotence);
  }
  auto t = parse_producer_config(props({{"delivery.timeout.ms", "1000"}, {"request.timeout.ms", "2000"}}));
  REQUIRE(!t);
  CHECK(t.error().key == "delivery.timeout.ms");
}

TEST_CASE("producer config: idempotence is on iff no conflicting key; an explicit true with a conflict names it",
          "[client][producer]") {
  rc::prop("ProducerConfig.postProcessAndValidateIdempotenceConfigs", [] {
    const int acks = *rc::gen::element(-1, 0, 1);
    const int retries = *rc::gen::element(0, 1, 3, 2147483647);
    const int in_flight = *rc::gen::inRange(1, 8);
    const int idem = *rc::gen::element(0, 1, 2);  // unset, false, true
    Props p = props({{"acks", acks == -1 ? "all" : std::to_string(acks)},
                     {"retries", std::to_string(retries)},
                     {"max.in.flight.requests.per.connection", std::to_string(in_flight)}});
    if (idem > 0) p["enable.idempotence"] = idem == 2 ? "true" : "false";
    const bool conflict = acks != -1 || retries == 0 || in_flight > 5;
    auto c = parse_producer_config(p);
    if (idem == 2 && conflict) {
      RC_ASSERT(!c);
      RC_ASSERT(p.count(c.error().key) == 1);
      RC_ASSERT(c.error().message.find(c.error().key) != std::string::npos);
    } else {
      RC_ASSERT(c);
      RC_ASSERT(c->enable_idempotence == (idem != 1 && !conflict));
    }
  });
}

TEST_CASE("producer: send(...).get() and callbacks give partition and offset, in order", "[client][producer]") {
  with_cluster(1, 1, [](Runtime& rt, World&, NodeId) {
    auto p = Producer::create(rt, props());
    REQUIRE(p);
    std::vector<std::int64_t> offsets;
    for (int i = 0; i < 5; ++i) {
      const auto& o = p.value()->send({"t", 0, std::nullopt, "sync-" + std::to_string(i), std::nullopt}).get();
      REQUIRE(o.kind == OutcomeKind::ok);
      CHECK(o.partition == 0);
      offsets.push_back(o.offset);
    }
    CHECK(offsets == std::vector<std::int64_t>{0, 1, 2, 3, 4});
    std::vector<SendOutcome> seen;
    for (int i = 0; i < 5; ++i)
      p.value()->send({"t", 0, std::nullopt, "async-" + std::to_string(i), std::nullopt},
                      [&seen](const SendOutcome& o) { seen.push_back(o); });
    p.value()->flush();
    REQUIRE(seen.size() == 5);
    for (int i = 0; i < 5; ++i) {
      CHECK(seen[i].kind == OutcomeKind::ok);
      CHECK(seen[i].offset == 5 + i);
    }
    CHECK(p.value()->producer_id_and_epoch().first >= 0);
    p.value()->close();
    const auto log = read_back(rt, 0);
    REQUIRE(log.size() == 10);
    CHECK(log.at(0) == "sync-0");
    CHECK(log.at(9) == "async-4");
  });
}

TEST_CASE("producer: records sent within linger.ms share a batch; batch.size splits", "[client][producer]") {
  with_cluster(2, 1, [](Runtime& rt, World&, NodeId) {
    auto lingering = Producer::create(rt, props({{"linger.ms", "50"}}));
    REQUIRE(lingering);
    lingering.value()->send({"t", 0, std::nullopt, "warm", std::nullopt}).get();  // metadata, producer id
    const auto before = lingering.value()->stats().batches_sent;
    std::vector<SendFuture> fs;
    for (int i = 0; i < 5; ++i) {
      fs.push_back(lingering.value()->send({"t", 0, std::nullopt, "l" + std::to_string(i), std::nullopt}));
      rt.sleep(5ms);
    }
    for (auto& f : fs) REQUIRE(f.get().kind == OutcomeKind::ok);
    CHECK(lingering.value()->stats().batches_sent - before == 1);
    lingering.value()->close();

    auto eager = Producer::create(rt, props());  // linger.ms=0
    REQUIRE(eager);
    eager.value()->send({"t", 0, std::nullopt, "warm", std::nullopt}).get();
    const auto before2 = eager.value()->stats().batches_sent;
    for (int i = 0; i < 5; ++i) {
      REQUIRE(eager.value()->send({"t", 0, std::nullopt, "e" + std::to_string(i), std::nullopt}).get().kind ==
              OutcomeKind::ok);
      rt.sleep(5ms);
    }
    CHECK(eager.value()->stats().batches_sent - before2 == 5);
    eager.value()->close();

    auto small = Producer::create(rt, props({{"batch.size", "1000"}, {"linger.ms", "100"}}));
    REQUIRE(small);
    small.value()->send({"t", 0, std::nullopt, "warm", std::nullopt}).get();
    const auto before3 = small.value()->stats().batches_sent;
    std::vector<SendFuture> gs;
    for (int i = 0; i < 30; ++i)
      gs.push_back(small.value()->send({"t", 0, std::nullopt, std::string(100, char('a' + i % 26)), std::nullopt}));
    for (auto& g : gs) REQUIRE(g.get().kind == OutcomeKind::ok);
    const auto batches = small.value()->stats().batches_sent - before3;
    // 30 records of ~121 bytes, at most ~1000 bytes a batch.
    CHECK(batches >= 4);
    CHECK(batches <= 6);
    small.value()->close();
  });
}

TEST_CASE("producer: every compression.type round-trips through the brokers", "[client][producer]") {
  with_cluster(3, 1, [](Runtime& rt, World&, NodeId) {
    std::vector<std::string> expected;
    for (const char* codec : {"none", "gzip", "snappy", "lz4", "zstd"}) {
      auto p = Producer::create(rt, props({{"compression.type", codec}, {"linger.ms", "20"}}));
      REQUIRE(p);
      std::vector<SendFuture> fs;
      for (int i = 0; i < 20; ++i) {
        expected.push_back(std::string(codec) + "-" + std::to_string(i) + std::string(50, 'x'));
        fs.push_back(p.value()->send({"t", 0, "key", expected.back(), std::nullopt}));
      }
      for (auto& f : fs) REQUIRE(f.get().kind == OutcomeKind::ok);
      p.value()->close();
    }
    const auto log = read_back(rt, 0);
    std::vector<std::string> got;
    for (const auto& [o, v] : log) got.push_back(v);
    CHECK(got == expected);
  });
}

TEST_CASE("producer: keyed records go where murmur2 says; explicit partitions as given; round robin covers all",
          "[client][producer]") {
  with_cluster(4, 5, [](Runtime& rt, World&, NodeId) {
    auto p = Producer::create(rt, props());
    REQUIRE(p);
    for (int i = 0; i < 40; ++i) {
      const std::string key = "key-" + std::to_string(i);
      const auto& o = p.value()->send({"t", std::nullopt, key, "v", std::nullopt}).get();
      REQUIRE(o.kind == OutcomeKind::ok);
      CHECK(o.partition == protocol::partition_for_key(as_bytes(key), 5));
    }
    CHECK(p.value()->send({"t", 3, "key-0", "v", std::nullopt}).get().partition == 3);
    const auto& bad = p.value()->send({"t", 7, std::nullopt, "v", std::nullopt}).get();  // max.block.ms later
    CHECK(bad.kind == OutcomeKind::fail);
    p.value()->close();
    auto rr = Producer::create(rt, props({{"partitioner.class", "org.apache.kafka.clients.producer.RoundRobinPartitioner"}}));
    REQUIRE(rr);
    std::map<int, int> counts;
    for (int i = 0; i < 50; ++i) ++counts[rr.value()->send({"t", std::nullopt, "same", "v", std::nullopt}).get().partition];
    CHECK(counts.size() == 5);
    for (const auto& [partition, n] : counts) CHECK(n == 10);
    rr.value()->close();
  });
}

TEST_CASE("producer: buffer.memory full blocks send up to max.block.ms, then the send fails",
          "[client][producer]") {
  with_cluster(5, 2, [](Runtime& rt, World& world, NodeId client) {
    auto p = Producer::create(rt, props({{"buffer.memory", "20000"}, {"max.block.ms", "300"},
                                         {"delivery.timeout.ms", "5000"}, {"request.timeout.ms", "1000"}}));
    REQUIRE(p);
    REQUIRE(p.value()->send({"t", 0, std::nullopt, "first", std::nullopt}).get().kind == OutcomeKind::ok);
    for (NodeId b = 1; b <= 3; ++b) world.network().partition(client, b);
    auto held = p.value()->send({"t", 0, std::nullopt, "held", std::nullopt});  // takes 16 KiB
    const MonoTime t0 = rt.now();
    const auto& blocked = p.value()->send({"t", 1, std::nullopt, "blocked", std::nullopt}).get();
    CHECK(blocked.kind == OutcomeKind::fail);
    CHECK(blocked.message.find("max blocking time") != std::string::npos);
    CHECK(rt.now() - t0 >= 300ms);
    // The held record was never sent: after delivery.timeout.ms it fails, definitely.
    CHECK(held.get().kind != OutcomeKind::ok);
    world.network().heal_all();
    p.value()->close();
  });
}
