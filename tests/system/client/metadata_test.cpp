// Metadata (system/client/metadata.h): a model-based test over random
// sequences of answers, failures, update requests and time.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "system/client/metadata.h"

using namespace samsa;
using namespace samsa::client;
namespace p = samsa::protocol;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t k_max_age_ms = 1000;
constexpr std::int64_t k_backoff_ms = 100;

struct ModelPartition {
  std::int32_t leader = -1;
  std::int32_t epoch = -1;
};
// What the last answer said, topic by topic (answers replace a topic they name).
struct Model {
  std::map<std::int32_t, std::string> brokers;
  std::map<std::string, std::pair<p::ErrorCode, std::vector<ModelPartition>>> topics;
  bool answered = false;
  bool needed = true;
  sim::MonoTime last_ok{}, retry_at{};
};

p::MetadataResponse random_answer() {
  p::MetadataResponse r;
  const int brokers = *rc::gen::inRange(0, 4);
  for (int b = 0; b < brokers; ++b) {
    auto& x = r.brokers.emplace_back();
    x.node_id = p::BrokerId(b);
    x.host = "b" + std::to_string(b);
    x.port = 9092;
  }
  for (const char* name : {"t0", "t1", "t2"}) {
    if (!*rc::gen::arbitrary<bool>()) continue;
    auto& t = r.topics.emplace_back();
    t.name = name;
    t.error_code = *rc::gen::element(p::ErrorCode::none, p::ErrorCode::none, p::ErrorCode::unknown_topic_or_partition);
    const int n = *rc::gen::inRange(0, 4);
    for (int i = 0; i < n; ++i) {
      auto& pt = t.partitions.emplace_back();
      pt.partition_index = p::PartitionId(i);
      pt.error_code = *rc::gen::element(p::ErrorCode::none, p::ErrorCode::none, p::ErrorCode::leader_not_available,
                                         p::ErrorCode::replica_not_available);
      pt.leader_id = p::BrokerId(*rc::gen::inRange(0, 4));
      pt.leader_epoch = p::LeaderEpoch(*rc::gen::inRange(0, 10));
    }
  }
  return r;
}

void apply(Model& m, const p::MetadataResponse& r, sim::MonoTime now) {
  m.brokers.clear();
  for (const auto& b : r.brokers) m.brokers[b.node_id.value()] = b.host;
  bool missing = false;
  for (const auto& t : r.topics) {
    std::vector<ModelPartition> parts(t.partitions.size());
    for (const auto& pt : t.partitions) {
      const bool led = pt.error_code == p::ErrorCode::none || pt.error_code == p::ErrorCode::replica_not_available;
      parts[static_cast<std::size_t>(pt.partition_index.value())] = {led ? pt.leader_id.value() : -1, pt.leader_epoch.value()};
      missing = missing || !led;
    }
    missing = missing || t.error_code != p::ErrorCode::none;
    m.topics[*t.name] = {t.error_code, parts};
  }
  m.answered = true;
  m.needed = missing;
  m.last_ok = now;
  m.retry_at = now + std::chrono::milliseconds(k_backoff_ms);
}

void check_against(const Metadata& md, const Model& m) {
  const sim::MonoTime due = m.needed ? m.retry_at : std::max(m.retry_at, m.last_ok + std::chrono::milliseconds(k_max_age_ms));
  RC_ASSERT(md.update_due() == due);
  RC_ASSERT(md.update_requested() == m.needed);
  if (m.brokers.empty()) {
    RC_ASSERT((md.nodes() == std::vector<sim::Address>{{"boot", 9092}}));
  } else {
    RC_ASSERT(md.nodes().size() == m.brokers.size());
  }
  for (const char* name : {"t0", "t1", "t2"}) {
    auto it = m.topics.find(name);
    if (it == m.topics.end()) {
      RC_ASSERT(md.topic(name) == nullptr);
      RC_ASSERT(!md.partition_count(name));
      continue;
    }
    const auto& [error, parts] = it->second;
    RC_ASSERT(md.partition_count(name).has_value() == (error == p::ErrorCode::none));
    for (std::int32_t i = 0; i < 5; ++i) {
      const bool known = i < static_cast<std::int32_t>(parts.size()) && parts[static_cast<std::size_t>(i)].leader >= 0;
      auto l = md.leader(name, i);
      RC_ASSERT(l.has_value() == known);
      if (!known) continue;
      RC_ASSERT(l->leader == parts[static_cast<std::size_t>(i)].leader);
      RC_ASSERT(l->leader_epoch.value() == parts[static_cast<std::size_t>(i)].epoch);
      auto a = md.leader_address(name, i);
      auto b = m.brokers.find(l->leader);
      RC_ASSERT(a.has_value() == (b != m.brokers.end()));
      if (a) RC_ASSERT(a->host == b->second);
    }
  }
}

}  // namespace

TEST_CASE("metadata: leaders, brokers and the next update follow the answers (model-based)", "[client][metadata]") {
  rc::prop("Metadata agrees with a model of Kafka's Metadata", [] {
    Metadata md({{"boot", 9092}}, k_max_age_ms, k_backoff_ms);
    Model m;
    sim::MonoTime now{};
    const int steps = *rc::gen::inRange(1, 40);
    for (int i = 0; i < steps; ++i) {
      switch (*rc::gen::inRange(0, 4)) {
        case 0: {
          auto r = random_answer();
          (void)md.request();
          md.update(r, now);
          apply(m, r, now);
          break;
        }
        case 1:
          (void)md.request();
          md.failed_update(now);
          m.retry_at = now + std::chrono::milliseconds(k_backoff_ms);
          break;
        case 2:
          md.request_update();
          m.needed = true;
          break;
        default: now = now + std::chrono::milliseconds(*rc::gen::inRange(0, 2000)); break;
      }
      RC_ASSERT(!md.in_flight());
      check_against(md, m);
    }
  });
}

TEST_CASE("metadata: the request names the wanted topics and marks one in flight", "[client][metadata]") {
  Metadata md({{"boot", 9092}}, 1000, 100);
  md.add_topic("b");
  md.add_topic("a");
  md.add_topic("a");
  const auto req = md.request();
  CHECK(md.in_flight());
  REQUIRE(req.topics);
  REQUIRE(req.topics->size() == 2);
  CHECK((*req.topics)[0].name == "a");
  CHECK((*req.topics)[1].name == "b");
  CHECK_FALSE(req.allow_auto_topic_creation);
  md.failed_update(sim::MonoTime{5ms});
  CHECK_FALSE(md.in_flight());
  CHECK(md.update_due() == sim::MonoTime{105ms});
}
