// The consumer's Fetcher against two scripted brokers, each the leader of
// one partition: Fetches go to both leaders at once (Fetcher.sendFetches),
// so records from one arrive while the other holds its Fetch for
// fetch.max.wait.ms (one after the other, poll would wait out the empty
// leader first); and a partition whose records were all returned is fetched
// again while another partition's are still buffered.
#include <catch2/catch.hpp>

#include "system/client/consumer.h"
#include "system/protocol/record_batch.h"
#include "system/protocol/typed_api.h"
#include "tests/sim/world_helpers.h"

using namespace samsa::testing;
using namespace samsa::client;
namespace p = samsa::protocol;

namespace {

// Broker `id` of two ("b0", "b1"); topic "t" has partition i led by broker i.
// Broker 0 has no records (holds a Fetch for its max wait); broker 1 has one.
struct ScriptedBroker {
  int id = 0;
  std::vector<Duration> fetches_at;  // when each Fetch arrived
  // Records a Fetch from offset 0 gets (from every offset with
  // every_offset), after `delay`; any other Fetch is a long poll.
  int batch = 0;
  bool every_offset = false;
  Duration delay{0};

  Bytes answer(Runtime& rt, const p::RequestFrame& rf) {
    switch (rf.header.api_key) {
      case p::ApiKey::metadata: {
        p::MetadataResponse m;
        auto& t = m.topics.emplace_back();
        t.name = "t";
        for (int b = 0; b < 2; ++b) {
          auto& x = m.brokers.emplace_back();
          x.node_id = p::BrokerId(b);
          x.host = "b" + std::to_string(b);
          x.port = 9092;
          auto& pt = t.partitions.emplace_back();
          pt.partition_index = p::PartitionId(b);
          pt.leader_id = p::BrokerId(b);
          pt.leader_epoch = p::LeaderEpoch(0);
        }
        return p::encode_response_frame(rf.header, m);
      }
      case p::ApiKey::list_offsets: {
        auto req = rf.body<p::ListOffsetsRequest>();
        REQUIRE(req.ok());
        p::ListOffsetsResponse r;
        auto& t = r.topics.emplace_back();
        t.name = "t";
        auto& pr = t.partitions.emplace_back();
        pr.partition_index = req->topics.at(0).partitions.at(0).partition_index;
        pr.offset = p::Offset(0);
        return p::encode_response_frame(rf.header, r);
      }
      case p::ApiKey::fetch: {
        auto req = rf.body<p::FetchRequest>();
        REQUIRE(req.ok());
        fetches_at.push_back(rt.now().since_epoch);
        p::FetchResponse r;
        auto& t = r.responses.emplace_back();
        t.topic = "t";
        auto& pd = t.partitions.emplace_back();
        pd.partition_index = p::PartitionId(id);
        const std::int64_t from = req->topics.at(0).partitions.at(0).fetch_offset.value();
        if (batch > 0 && (from == 0 || every_offset)) {
          rt.sleep(delay);
          p::BatchOptions o;
          o.base_offset = from;
          p::BatchBuilder b(o);
          for (int i = 0; i < batch; ++i) b.append(0, std::nullopt, samsa::as_bytes(std::string_view("x")));
          pd.records = p::Records(b.finish());
          pd.high_watermark = p::Offset(from + batch);
        } else {
          rt.sleep(std::chrono::milliseconds(req->max_wait_ms));  // a long poll with nothing to give
          pd.records = p::Records(Bytes{});
          pd.high_watermark = p::Offset(id == 1 ? 1 : 0);
        }
        return p::encode_response_frame(rf.header, r);
      }
      default: FAIL("unexpected api"); return {};
    }
  }

  void serve(Runtime& rt) {
    auto l = rt.net().listen(9092);
    REQUIRE(l.ok());
    auto listener = std::shared_ptr<Listener>(std::move(*l));
    for (;;) {
      auto c = listener->accept();
      if (!c) return;
      auto conn = std::shared_ptr<Connection>(std::move(*c));
      rt.spawn("conn", [this, &rt, conn] {
        while (auto f = conn->recv()) {
          auto rf = p::decode_request_frame(p::share_frame(std::move(*f)));
          REQUIRE(rf.ok());
          (void)conn->send(answer(rt, *rf));
        }
      });
    }
  }
};

}  // namespace

TEST_CASE("consumer: Fetches go to every leader at once; one leader's records do not wait for the other's long poll",
          "[client][consumer]") {
  World w(quiet_config(9));
  ScriptedBroker b0{0, {}}, b1{1, {}, 1};
  const NodeId n0 = w.add_node("b0", [&](Runtime& rt) { b0.serve(rt); });
  const NodeId n1 = w.add_node("b1", [&](Runtime& rt) { b1.serve(rt); });
  std::vector<ConsumerRecord> got;
  Duration poll_started{0}, poll_took{0};
  const NodeId c = w.add_node("c", [&](Runtime& rt) {
    auto cfg = make_consumer_config({{"bootstrap.servers", "b0:9092"},
                                     {"auto.offset.reset", "earliest"},
                                     {"enable.auto.commit", "false"},
                                     {"fetch.max.wait.ms", "2000"}});
    REQUIRE(cfg.ok());
    Consumer consumer(rt, *cfg);
    consumer.assign({{"t", p::PartitionId(0)}, {"t", p::PartitionId(1)}});
    const auto start = rt.now();
    for (int i = 0; i < 5 && got.empty(); ++i) {
      poll_started = rt.now() - start;
      got = consumer.poll(10s);
    }
    poll_took = rt.now() - start;
    consumer.close();
  });
  w.start(n0);
  w.start(n1);
  w.start(c);
  w.run(60s);
  REQUIRE(got.size() == 1);
  CHECK(got[0].partition == 1);
  CHECK(got[0].value == std::optional<std::string>("x"));
  REQUIRE(!b0.fetches_at.empty());
  REQUIRE(!b1.fetches_at.empty());
  // Both Fetches were out before broker 0 answered its long poll...
  CHECK(b1.fetches_at.front() < b0.fetches_at.front() + 2000ms);
  // ... and the record came back well before fetch.max.wait.ms.
  CHECK(poll_took < 1000ms);
}

TEST_CASE("consumer: a partition with nothing buffered is fetched again while another partition's records are "
          "still being handed out (AbstractFetch.fetchablePartitions)",
          "[client][consumer]") {
  World w(quiet_config(10));
  // Broker 0 gives one record from any offset after 20 ms; broker 1 gives
  // 30 from offset 0 after 40 ms.
  ScriptedBroker b0{0, {}, 1, true, 20ms}, b1{1, {}, 30, false, 40ms};
  const NodeId n0 = w.add_node("b0", [&](Runtime& rt) { b0.serve(rt); });
  const NodeId n1 = w.add_node("b1", [&](Runtime& rt) { b1.serve(rt); });
  std::vector<std::vector<ConsumerRecord>> polls;
  std::vector<std::pair<Duration, Duration>> poll_times;  // start, end
  const NodeId c = w.add_node("c", [&](Runtime& rt) {
    auto cfg = make_consumer_config({{"bootstrap.servers", "b0:9092"},
                                     {"auto.offset.reset", "earliest"},
                                     {"enable.auto.commit", "false"},
                                     {"max.poll.records", "10"},
                                     {"fetch.max.wait.ms", "500"}});
    REQUIRE(cfg.ok());
    Consumer consumer(rt, *cfg);
    consumer.assign({{"t", p::PartitionId(0)}, {"t", p::PartitionId(1)}});
    // The first poll gives up before either answer; both are in when the
    // second one looks.
    while (polls.size() < 4) {
      const Duration start = rt.now().since_epoch;
      polls.push_back(consumer.poll(polls.empty() ? 5ms : 2s));
      poll_times.emplace_back(start, rt.now().since_epoch);
      rt.sleep(300ms);  // the application handles its records
    }
    consumer.close();
  });
  w.start(n0);
  w.start(n1);
  w.start(c);
  w.run(60s);
  REQUIRE(polls.size() == 4);
  CHECK(polls[0].empty());
  // Poll 2 got broker 0's record and the first of broker 1's 30.
  REQUIRE(polls[1].size() == 10);
  CHECK(polls[1][0].partition == 0);
  CHECK(polls[1][1].partition == 1);
  // Partition 0 had nothing buffered after poll 2: it is fetched before poll
  // 3, while 21 records of partition 1 wait (not only once all are handed out).
  const auto [poll2_end, poll3_start] = std::pair{poll_times[1].second, poll_times[2].first};
  for (Duration t : b0.fetches_at) UNSCOPED_INFO("b0 fetch at " << t.count());
  for (Duration t : b1.fetches_at) UNSCOPED_INFO("b1 fetch at " << t.count());
  for (const auto& [a, b] : poll_times) UNSCOPED_INFO("poll " << a.count() << " .. " << b.count());
  CHECK(std::count_if(b0.fetches_at.begin(), b0.fetches_at.end(),
                      [&](Duration t) { return t > poll2_end && t < poll3_start; }) == 1);
  for (int i : {2, 3}) {
    REQUIRE(!polls[static_cast<std::size_t>(i)].empty());
    CHECK(polls[static_cast<std::size_t>(i)][0].partition == 1);
  }
}

TEST_CASE("consumer: seek on a partition not assigned is an error and nothing of it is fetched "
          "(SubscriptionState.seek: No current assignment for partition)",
          "[client][consumer]") {
  World w(quiet_config(11));
  ScriptedBroker b0{0, {}, 1, true, 0ms}, b1{1, {}, 1, true, 0ms};
  const NodeId n0 = w.add_node("b0", [&](Runtime& rt) { b0.serve(rt); });
  const NodeId n1 = w.add_node("b1", [&](Runtime& rt) { b1.serve(rt); });
  std::optional<std::string> refused;
  std::optional<std::int64_t> position_after;
  bool seek_assigned = false;
  std::size_t read = 0;
  const NodeId c = w.add_node("c", [&](Runtime& rt) {
    auto cfg = make_consumer_config({{"bootstrap.servers", "b0:9092"},
                                     {"auto.offset.reset", "earliest"},
                                     {"enable.auto.commit", "false"}});
    REQUIRE(cfg.ok());
    Consumer consumer(rt, *cfg);
    consumer.assign({{"t", p::PartitionId(0)}});
    auto r = consumer.seek({"t", p::PartitionId(1)}, 0);
    if (!r.ok()) refused = r.error();
    position_after = consumer.position({"t", p::PartitionId(1)});
    seek_assigned = consumer.seek({"t", p::PartitionId(0)}, 0).ok();
    for (int i = 0; i < 3; ++i) read += consumer.poll(1s).size();
    consumer.close();
  });
  w.start(n0);
  w.start(n1);
  w.start(c);
  w.run(60s);
  CHECK(refused == std::optional<std::string>("No current assignment for partition t-1"));
  CHECK_FALSE(position_after);
  CHECK(seek_assigned);
  CHECK(read > 0);
  CHECK(b1.fetches_at.empty());  // partition 1's leader never asked
}
