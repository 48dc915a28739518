// The idempotent producer's side of KIP-360 (Kafka 2.8+ TransactionManager)
// against a scripted one-broker cluster: a gap at the broker
// (UNKNOWN_PRODUCER_ID for the next sequence) is closed by bumping the epoch
// locally, keeping the producer id, and sending the batch again from
// sequence 0; an exhausted epoch asks InitProducerId for a new id.
#include <catch2/catch.hpp>

#include <limits>

#include "system/client/producer.h"
#include "system/protocol/record_batch.h"
#include "system/protocol/typed_api.h"
#include "tests/sim/world_helpers.h"

using namespace samsa::testing;
using namespace samsa::client;
namespace p = samsa::protocol;

namespace {

struct Attempt {
  std::int64_t producer_id;
  std::int16_t epoch;
  std::int32_t base_sequence;
  bool operator==(const Attempt&) const = default;
};

// One broker "b0", topic "t" with one partition it leads. InitProducerId
// answers the next (id, epoch) of `ids`; Produce answers `errors[i]` to the
// i-th batch (none when the list ends) and appends what it accepts.
struct ScriptedBroker {
  std::vector<std::pair<std::int64_t, std::int16_t>> ids;
  std::vector<p::ErrorCode> errors;
  p::ErrorCode after = p::ErrorCode::none;  // the answer once `errors` ends
  std::vector<Attempt> attempts;
  std::vector<std::pair<std::int64_t, std::int16_t>> init_requests;  // (producer id, epoch) asked with
  std::int64_t log_end = 0;

  Bytes answer(const p::RequestFrame& rf) {
    switch (rf.header.api_key) {
      case p::ApiKey::metadata: {
        p::MetadataResponse m;
        auto& b = m.brokers.emplace_back();
        b.node_id = p::BrokerId(0);
        b.host = "b0";
        b.port = 9092;
        auto& t = m.topics.emplace_back();
        t.name = "t";
        auto& pt = t.partitions.emplace_back();
        pt.partition_index = p::PartitionId(0);
        pt.leader_id = p::BrokerId(0);
        pt.leader_epoch = p::LeaderEpoch(0);
        return p::encode_response_frame(rf.header, m);
      }
      case p::ApiKey::init_producer_id: {
        auto req = rf.body<p::InitProducerIdRequest>();
        REQUIRE(req.ok());
        init_requests.emplace_back(req->producer_id.value(), req->producer_epoch.value());
        REQUIRE(init_requests.size() <= ids.size());
        p::InitProducerIdResponse r;
        r.producer_id = p::ProducerId(ids[init_requests.size() - 1].first);
        r.producer_epoch = p::ProducerEpoch(ids[init_requests.size() - 1].second);
        return p::encode_response_frame(rf.header, r);
      }
      case p::ApiKey::produce: {
        auto req = rf.body<p::ProduceRequest>();
        REQUIRE(req.ok());
        p::ProduceResponse resp;
        for (const auto& t : req->topic_data) {
          auto& rt = resp.responses.emplace_back();
          rt.name = t.name;
          for (const auto& pd : t.partition_data) {
            auto& pr = rt.partition_responses.emplace_back();
            pr.index = pd.index;
            p::BatchReader reader(pd.records->view());
            auto b = reader.next();
            REQUIRE(b);
            const std::size_t i = attempts.size();
            attempts.push_back({b->header.producer_id, b->header.producer_epoch, b->header.base_sequence});
            pr.error_code = i < errors.size() ? errors[i] : after;
            pr.base_offset = p::Offset(-1);
            if (pr.error_code == p::ErrorCode::none) {
              pr.base_offset = p::Offset(log_end);
              log_end += b->header.records_count;
            }
          }
        }
        return p::encode_response_frame(rf.header, resp);
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
      rt.spawn("conn", [this, conn] {
        while (auto f = conn->recv()) {
          auto rf = p::decode_request_frame(p::share_frame(std::move(*f)));
          REQUIRE(rf.ok());
          (void)conn->send(answer(*rf));
        }
      });
    }
  }
};

struct Run {
  std::vector<SendOutcome> outcomes;
  ProducerStats stats;
  std::pair<std::int64_t, std::int16_t> id_and_epoch{-1, -1};
};

// Sends "a" then "b" (one batch each) and closes; `together`: both before
// waiting, so that both are in flight at once.
Run run(ScriptedBroker& broker, bool together = false, std::map<std::string, std::string> props = {}) {
  World w(quiet_config(5));
  Run out;
  props.insert({{"bootstrap.servers", "b0:9092"}, {"retry.backoff.ms", "10"}, {"batch.size", "1"}});
  const NodeId b = w.add_node("b0", [&](Runtime& rt) { broker.serve(rt); });
  const NodeId c = w.add_node("c", [&](Runtime& rt) {
    auto producer = Producer::create(rt, props);
    REQUIRE(producer.ok());
    if (together) {
      auto fa = (*producer)->send({"t", 0, std::nullopt, "a", 0});
      rt.sleep(1ms);  // "a" goes out alone
      auto fb = (*producer)->send({"t", 0, std::nullopt, "b", 0});
      out.outcomes = {fa.get(), fb.get()};
    } else {
      for (const char* v : {"a", "b"}) out.outcomes.push_back((*producer)->send({"t", 0, std::nullopt, v, 0}).get());
    }
    (*producer)->close();
    out.stats = (*producer)->stats();
    out.id_and_epoch = (*producer)->producer_id_and_epoch();
  });
  w.start(b);
  w.start(c);
  w.run(60s);
  return out;
}

}  // namespace

TEST_CASE("KIP-360: UNKNOWN_PRODUCER_ID for the next sequence bumps the epoch locally (same producer id) and resends "
          "from sequence 0",
          "[client][producer]") {
  ScriptedBroker broker;
  broker.ids = {{7, 0}};
  broker.errors = {p::ErrorCode::none, p::ErrorCode::unknown_producer_id};
  const Run r = run(broker);
  REQUIRE(r.outcomes.size() == 2);
  CHECK(r.outcomes[0].kind == OutcomeKind::ok);
  CHECK(r.outcomes[0].offset == 0);
  CHECK(r.outcomes[1].kind == OutcomeKind::ok);
  CHECK(r.outcomes[1].offset == 1);
  CHECK(broker.attempts == std::vector<Attempt>{{7, 0, 0}, {7, 0, 1}, {7, 1, 0}});
  CHECK(broker.init_requests.size() == 1);  // no InitProducerId for the bump
  CHECK(r.stats.epoch_bumps == 1);
  CHECK(r.id_and_epoch == std::pair<std::int64_t, std::int16_t>{7, 1});
}

TEST_CASE("KIP-360: a batch behind a gap (OUT_OF_ORDER_SEQUENCE_NUMBER, not the next sequence) is retried in order "
          "without a bump",
          "[client][producer]") {
  ScriptedBroker broker;
  broker.ids = {{7, 0}};
  // "a" (seq 0) is refused, "b" (seq 1, in flight with it) then sees a gap.
  broker.errors = {p::ErrorCode::not_leader_or_follower, p::ErrorCode::out_of_order_sequence_number};
  const Run r = run(broker, /*together=*/true);
  REQUIRE(r.outcomes.size() == 2);
  CHECK(r.outcomes[0].kind == OutcomeKind::ok);
  CHECK(r.outcomes[1].kind == OutcomeKind::ok);
  CHECK(r.outcomes[1].offset == r.outcomes[0].offset + 1);
  CHECK(broker.attempts == std::vector<Attempt>{{7, 0, 0}, {7, 0, 1}, {7, 0, 0}, {7, 0, 1}});
  CHECK(r.stats.epoch_bumps == 0);
}

TEST_CASE("KIP-360: an exhausted epoch (Short.MAX_VALUE) asks InitProducerId for a new producer id",
          "[client][producer]") {
  ScriptedBroker broker;
  broker.ids = {{7, std::numeric_limits<std::int16_t>::max()}, {8, 0}};
  broker.errors = {p::ErrorCode::none, p::ErrorCode::unknown_producer_id};
  const Run r = run(broker);
  REQUIRE(r.outcomes.size() == 2);
  CHECK(r.outcomes[1].kind == OutcomeKind::ok);
  CHECK(broker.attempts == std::vector<Attempt>{{7, 32767, 0}, {7, 32767, 1}, {8, 0, 0}});
  REQUIRE(broker.init_requests.size() == 2);
  CHECK(broker.init_requests[1] == std::pair<std::int64_t, std::int16_t>{-1, -1});
  CHECK(r.id_and_epoch == std::pair<std::int64_t, std::int16_t>{8, 0});
}

// Seen in producer/idempotent-lost-acks seed 270: a batch's answer was lost
// on the old leader's connection while later batches of the epoch were
// acknowledged by the new leader; its retry met OUT_OF_ORDER_SEQUENCE_NUMBER
// (older than the 5 batches the broker remembers) until delivery.timeout.ms
// and stalled the partition. Kafka's Java client does the same
// (TransactionManager.canRetry retries a sequence that is not the next one;
// KAFKA-14359's family); a later acknowledged sequence proves it written.
TEST_CASE("idempotence: a batch behind an acknowledged later sequence is written: ok without offset, not retried "
          "until delivery.timeout.ms",
          "[client][producer]") {
  ScriptedBroker broker;
  broker.ids = {{7, 0}};
  // "a" (seq 0): an ambiguous answer; "b" (seq 1, in flight with it): ok;
  // every later attempt (a's retry): OUT_OF_ORDER_SEQUENCE_NUMBER.
  broker.errors = {p::ErrorCode::request_timed_out, p::ErrorCode::none};
  broker.after = p::ErrorCode::out_of_order_sequence_number;
  const Run r = run(broker, /*together=*/true, {{"request.timeout.ms", "1000"}, {"delivery.timeout.ms", "5000"}});
  REQUIRE(r.outcomes.size() == 2);
  CHECK(r.outcomes[0].kind == OutcomeKind::ok);
  CHECK(r.outcomes[0].offset == -1);  // written; where is not known
  CHECK(r.outcomes[1].kind == OutcomeKind::ok);
  CHECK(r.outcomes[1].offset == 0);
  CHECK(broker.attempts == std::vector<Attempt>{{7, 0, 0}, {7, 0, 1}, {7, 0, 0}});
  CHECK(r.stats.epoch_bumps == 0);
}

// KAFKA-5494's class, the producer's half: Java's
// TransactionManager.bumpIdempotentProducerEpoch rewrites every unacknowledged
// batch of the partition that asked for the bump (TxnPartitionMap.
// startSequencesAtBeginning), even one an earlier attempt of which may be in
// the log. A broker that wrongly refuses such a retry (remembering too few
// batches) thus stores it twice; a broker remembering five answers it as a
// duplicate instead and never gets here.
TEST_CASE("KIP-360: OUT_OF_ORDER_SEQUENCE_NUMBER for the next sequence bumps the epoch and resends every "
          "unacknowledged batch of the partition from sequence 0, also the ones that may be written",
          "[client][producer]") {
  ScriptedBroker broker;
  broker.ids = {{7, 0}};
  // "a" (seq 0) and "b" (seq 1, in flight with it): ambiguous answers; the
  // retry of "a": a gap at the broker.
  broker.errors = {p::ErrorCode::request_timed_out, p::ErrorCode::request_timed_out,
                   p::ErrorCode::out_of_order_sequence_number};
  const Run r = run(broker, /*together=*/true, {{"request.timeout.ms", "1000"}});
  REQUIRE(r.outcomes.size() == 2);
  CHECK(r.outcomes[0].kind == OutcomeKind::ok);
  CHECK(r.outcomes[0].offset == 0);
  CHECK(r.outcomes[1].kind == OutcomeKind::ok);
  CHECK(r.outcomes[1].offset == 1);
  CHECK(broker.attempts == std::vector<Attempt>{{7, 0, 0}, {7, 0, 1}, {7, 0, 0}, {7, 1, 0}, {7, 1, 1}});
  CHECK(r.stats.epoch_bumps == 1);
}
