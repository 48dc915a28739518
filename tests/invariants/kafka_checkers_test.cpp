#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "invariants/checker.h"
#include "invariants/kafka_checkers.h"
#include "invariants/snapshot.h"

using namespace samsa::invariants;
using json = nlohmann::json;

namespace {

// Histories written by hand: one op per call, invoke and completion.
struct Builder {
  History h;
  std::int64_t next_offset[4] = {0, 0, 0, 0};

  json rec(int partition, std::int64_t offset, const std::string& value, const std::string& key = "") {
    json r = {{"topic", "t"}, {"partition", partition}, {"offset", offset}, {"value", value}};
    if (!key.empty()) r["key"] = key;
    return r;
  }
  std::int64_t send(std::int64_t p, OpType t, int partition, std::int64_t offset, const std::string& value,
                    const std::string& key = "") {
    json v = {{"topic", "t"}, {"value", value}};
    if (!key.empty()) v["key"] = key;
    h.invoke(p, "send", v);
    if (t == OpType::ok) {
      v["partition"] = partition;
      v["offset"] = offset;
      return h.ok(p, "send", v);
    }
    return t == OpType::info ? h.info(p, "send", v) : h.fail(p, "send", v);
  }
  // An acked send at the partition's next offset.
  std::int64_t append(std::int64_t p, int partition, const std::string& value, const std::string& key = "") {
    return send(p, OpType::ok, partition, next_offset[partition]++, value, key);
  }
  std::int64_t poll(std::int64_t p, std::vector<json> records) {
    h.invoke(p, "poll", json::object());
    return h.ok(p, "poll", {{"records", records}});
  }
  std::int64_t assign(std::int64_t p, const std::string& group, int generation, std::vector<int> partitions) {
    json parts = json::array();
    for (int x : partitions) parts.push_back({{"topic", "t"}, {"partition", x}});
    h.invoke(p, "assign", json::object());
    return h.ok(p, "assign", {{"group", group}, {"generation", generation}, {"partitions", parts}});
  }
  std::int64_t commit(std::int64_t p, const std::string& group, int partition, std::int64_t offset) {
    json v = {{"group", group}, {"offsets", {{{"topic", "t"}, {"partition", partition}, {"offset", offset}}}}};
    h.invoke(p, "commit", v);
    return h.ok(p, "commit", v);
  }
};

// Three records in partition 0, read in order by process 10 in two polls.
Builder clean() {
  Builder b;
  b.append(1, 0, "a", "k");
  b.append(1, 0, "b", "k");
  b.append(1, 0, "c", "k");
  b.assign(10, "g", 1, {0});
  b.poll(10, {b.rec(0, 0, "a", "k"), b.rec(0, 1, "b", "k")});
  b.commit(10, "g", 0, 2);
  b.poll(10, {b.rec(0, 2, "c", "k")});
  b.commit(10, "g", 0, 3);
  return b;
}

std::vector<Violation> named(const History& h, const std::string& name) {
  std::vector<Violation> out;
  for (auto& v : run_checkers(h, {name}))
    if (v.name == name || (name == "kafka-liveness" && v.name == "liveness")) out.push_back(v);
  return out;
}

// Every Kafka checker and well-formed (other tests register checkers of their own).
std::vector<Violation> all_checks(const History& h) {
  std::vector<std::string> names = kafka_checker_names();
  names.push_back("well-formed");
  return run_checkers(h, names);
}

}  // namespace

TEST_CASE("kafka checkers: a clean history has no violation of any checker", "[invariants][kafka]") {
  Builder b = clean();
  b.h.nemesis("heal-all");
  const auto v = all_checks(b.h);
  for (const auto& x : v) INFO(x.to_string());
  CHECK(v.empty());
  CHECK(delivery_summary(b.h).exactly_once());
}

TEST_CASE("kafka checkers: every Jepsen name and samsa's own are registered", "[invariants][kafka]") {
  for (const char* n : {"lost-write", "unseen", "duplicate", "inconsistent-offsets", "poll-skip", "nonmonotonic-poll",
                        "nonmonotonic-send", "int-poll-skip", "int-nonmonotonic-poll", "int-nonmonotonic-send",
                        "int-send-skip", "precommitted-read", "G1a", "per-key-order", "redelivery",
                        "committed-offset-regression", "assignment-overlap", "kafka-liveness", "replica-divergence"})
    CHECK(find_checker(n) != nullptr);
}

TEST_CASE("lost-write: an acked record below the highest polled offset, never polled", "[invariants][kafka]") {
  Builder b;
  const auto lost = b.append(1, 0, "a");
  b.append(1, 0, "b");
  const auto read = b.poll(10, {b.rec(0, 1, "b")});
  const auto v = named(b.h, "lost-write");
  REQUIRE(v.size() == 1);
  CHECK(v[0].kind == Kind::safety);
  CHECK(v[0].ops == std::vector<std::int64_t>{lost, read});
  // Above the highest polled offset it is only unseen (Jepsen's bound).
  Builder c;
  c.append(1, 0, "a");
  c.append(1, 0, "b");
  c.poll(10, {c.rec(0, 0, "a")});
  CHECK(named(c.h, "lost-write").empty());
  REQUIRE(named(c.h, "unseen").size() == 1);
  CHECK(named(c.h, "unseen")[0].kind == Kind::liveness);
  // An info send that nobody read is not lost: it may never have happened.
  Builder d;
  d.send(1, OpType::info, 0, 0, "a");
  d.append(1, 0, "b");
  d.h.invoke(10, "poll");
  d.h.ok(10, "poll", {{"records", {d.rec(0, 1, "b")}}});
  CHECK(named(d.h, "lost-write").empty());
  CHECK(named(clean().h, "lost-write").empty());
}

namespace {

// A history whose ops are stamped by `now_ns`, and a final state of t-0.
struct Timed {
  std::int64_t now_ns = 0;
  History h{[this] { return now_ns; }};
  std::int64_t ack(std::int64_t p, std::int64_t offset, const std::string& value) {
    json v = {{"topic", "t"}, {"value", value}};
    h.invoke(p, "send", v);
    v["partition"] = 0;
    if (offset >= 0) v["offset"] = offset;
    return h.ok(p, "send", v);
  }
};

// t-0 on two replicas holding `values` at offsets 0.. (broker 2 one behind).
Snapshot t0_holding(const std::vector<std::string>& values, std::int64_t time_ns = -1) {
  Snapshot s;
  s.time_ns = time_ns;
  auto& p = s.partitions.emplace_back();
  p.topic = "t";
  p.partition = 0;
  p.leader = 1;
  p.leader_epoch = 0;
  p.high_watermark = static_cast<std::int64_t>(values.size()) - 1;
  for (int broker : {1, 2}) {
    auto& r = p.replicas.emplace_back();
    r.broker = broker;
    const std::size_t n = broker == 1 ? values.size() : values.size() - 1;
    for (std::size_t i = 0; i < n; ++i)
      r.records.push_back({static_cast<std::int64_t>(i), 0, record_hash(values[i])});
  }
  return s;
}

std::vector<Violation> with_final_state(const History& h, const std::string& name, const Snapshot& s) {
  std::vector<Violation> out;
  for (auto& v : run_checkers(h, {name}, {{name, {{"snapshot", to_json(s)}}}}))
    if (v.name == name) out.push_back(v);
  return out;
}

// The same checker given the final state by a FinalState scope (how the
// runner hands it over) instead of as the option "snapshot".
std::vector<Violation> with_final_state_scope(const History& h, const std::string& name, const Snapshot& s) {
  const FinalState scope(s);
  std::vector<Violation> out;
  for (auto& v : run_checkers(h, {name}, {{name, nlohmann::json::object()}}))
    if (v.name == name) out.push_back(v);
  return out;
}

}  // namespace

TEST_CASE("lost-write, unseen: a FinalState scope judges as the option snapshot does, only while it lives",
          "[invariants][kafka]") {
  Timed t;
  t.ack(1, 0, "a");
  t.ack(1, 1, "b");
  t.ack(1, 1, "c");
  const Snapshot s = t0_holding({"a", "c"});
  for (const std::string name : {"lost-write", "unseen"}) {
    const auto by_option = with_final_state(t.h, name, s);
    const auto by_scope = with_final_state_scope(t.h, name, s);
    REQUIRE(by_scope.size() == by_option.size());
    for (std::size_t i = 0; i < by_scope.size(); ++i) {
      CHECK(by_scope[i].ops == by_option[i].ops);
      CHECK(by_scope[i].explanation == by_option[i].explanation);
    }
  }
  CHECK(with_final_state_scope(t.h, "lost-write", s).size() == 1);  // b: in no replica's log
  CHECK(named(t.h, "lost-write").empty());                           // the scope has ended
}

TEST_CASE("lost-write: with the final state, an acknowledged record in no replica's log is lost though nothing "
          "polled; unseen keeps the ones still in a log",
          "[invariants][kafka]") {
  Timed t;
  t.ack(1, 0, "a");
  const auto lost = t.ack(1, 1, "b");
  t.ack(1, 1, "c");  // the offset b was acknowledged at, after a truncation
  const Snapshot s = t0_holding({"a", "c"});
  // Without the final state nothing proves b lost: three unseen, no lost-write.
  CHECK(named(t.h, "lost-write").empty());
  CHECK(named(t.h, "unseen").size() == 3);
  const auto v = with_final_state(t.h, "lost-write", s);
  REQUIRE(v.size() == 1);
  CHECK(v[0].kind == Kind::safety);
  CHECK(v[0].ops == std::vector<std::int64_t>{lost});
  CHECK(v[0].explanation.find("\"b\"") != std::string::npos);
  CHECK(v[0].explanation.find("no replica") != std::string::npos);
  const auto u = with_final_state(t.h, "unseen", s);
  REQUIRE(u.size() == 2);  // a and c: in the log, never consumed
  for (const auto& x : u) CHECK(x.explanation.find("\"b\"") == std::string::npos);
  // The delivery summary counts the same way.
  const auto summary = delivery_summary(t.h, &s);
  CHECK(summary.lost == 1);
  CHECK(summary.unseen == 2);
  CHECK_FALSE(summary.at_least_once);
  // A record in any replica's log is not lost.
  CHECK(with_final_state(t.h, "lost-write", t0_holding({"a", "b", "c", "x"})).empty());
}

TEST_CASE("lost-write: a record lost from the log and also polled-past is reported once", "[invariants][kafka]") {
  Timed t;
  const auto lost = t.ack(1, 0, "a");
  t.ack(1, 1, "b");
  t.h.invoke(10, "poll", json::object());
  t.h.ok(10, "poll", {{"records", {{{"topic", "t"}, {"partition", 0}, {"offset", 1}, {"value", "b"}}}}});
  const auto v = with_final_state(t.h, "lost-write", t0_holding({"b", "x"}));
  REQUIRE(v.size() == 1);
  CHECK(v[0].ops.front() == lost);
}

TEST_CASE("lost-write: the final state judges only what was acknowledged before it, outside retention, in its "
          "partitions",
          "[invariants][kafka]") {
  Timed t;
  t.now_ns = 1'000;
  t.ack(1, 0, "a");
  t.now_ns = 5'000;
  t.ack(1, 1, "late");  // acknowledged after the snapshot: it may be in the log by now
  const Snapshot s = t0_holding({"a", "x"}, /*time_ns=*/2'000);
  CHECK(with_final_state(t.h, "lost-write", s).empty());
  REQUIRE(with_final_state(t.h, "unseen", s).size() == 2);
  // The same snapshot taken after the ack: lost.
  CHECK(with_final_state(t.h, "lost-write", t0_holding({"a", "x"}, 6'000)).size() == 1);
  // Below every replica's log start retention removed it: not lost; an ok
  // without an offset cannot be placed against the log start.
  Timed r;
  r.ack(1, 0, "gone");
  r.ack(1, -1, "where");
  r.ack(1, 7, "kept");
  Snapshot retained = t0_holding({"kept"});
  for (auto& rep : retained.partitions[0].replicas) {
    rep.log_start_offset = 7;
    for (auto& rec : rep.records) rec.offset = 7;
  }
  CHECK(with_final_state(r.h, "lost-write", retained).empty());
  // A partition the final state does not show is not judged.
  Timed other;
  json v = {{"topic", "u"}, {"value", "elsewhere"}};
  other.h.invoke(1, "send", v);
  v["partition"] = 0;
  v["offset"] = 0;
  other.h.ok(1, "send", v);
  CHECK(with_final_state(other.h, "lost-write", t0_holding({"a"})).empty());
}

TEST_CASE("lost-write: an ok send without an offset (written, where unknown) is found in the log by its value",
          "[invariants][kafka]") {
  Timed t;
  t.ack(1, -1, "a");
  t.ack(1, 1, "b");
  CHECK(with_final_state(t.h, "lost-write", t0_holding({"a", "b", "x"})).empty());
  CHECK(with_final_state(t.h, "lost-write", t0_holding({"b", "x"})).size() == 1);
}

TEST_CASE("duplicate and inconsistent-offsets: one value at two offsets, two values at one", "[invariants][kafka]") {
  Builder b = clean();
  b.poll(11, {b.rec(0, 3, "a", "k")});  // "a" again at offset 3
  const auto d = named(b.h, "duplicate");
  REQUIRE(d.size() == 1);
  CHECK(d[0].explanation.find("offsets of t-0: 0, 3") != std::string::npos);
  CHECK(named(b.h, "inconsistent-offsets").empty());

  Builder c = clean();
  const auto bad = c.poll(11, {c.rec(0, 1, "x")});
  const auto i = named(c.h, "inconsistent-offsets");
  REQUIRE(i.size() == 1);
  CHECK(std::count(i[0].ops.begin(), i[0].ops.end(), bad) == 1);
  CHECK(named(c.h, "duplicate").empty());
}

TEST_CASE("duplicate: one record in several partitions names them in order, with their first witnesses",
          "[invariants][kafka]") {
  Builder b = clean();
  const auto in2 = b.poll(11, {b.rec(2, 0, "b", "k")});
  const auto in1 = b.poll(11, {b.rec(1, 5, "b", "k"), b.rec(1, 6, "z", "k")});
  const auto d = named(b.h, "duplicate");
  REQUIRE(d.size() == 1);
  CHECK(d[0].explanation.find("\"b\" is in 3 partitions: t-0, t-1, t-2") != std::string::npos);
  CHECK(std::count(d[0].ops.begin(), d[0].ops.end(), in1) == 1);
  CHECK(std::count(d[0].ops.begin(), d[0].ops.end(), in2) == 1);
  CHECK(d[0].ops.size() == 3);
}

TEST_CASE("poll-skip and nonmonotonic-poll: one process's successive polls of a partition", "[invariants][kafka]") {
  Builder b;
  for (auto v : {"a", "b", "c", "d"}) b.append(1, 0, v);
  b.poll(11, {b.rec(0, 1, "b")});  // someone else read b
  const auto first = b.poll(10, {b.rec(0, 0, "a")});
  const auto skip = b.poll(10, {b.rec(0, 2, "c")});
  const auto back = b.poll(10, {b.rec(0, 1, "b")});
  const auto ps = named(b.h, "poll-skip");
  REQUIRE(ps.size() == 1);
  CHECK(ps[0].ops == std::vector<std::int64_t>{first, skip});
  CHECK(ps[0].explanation.find("skipped 1 record (offset 1)") != std::string::npos);
  const auto nm = named(b.h, "nonmonotonic-poll");
  REQUIRE(nm.size() == 1);
  CHECK(nm[0].ops == std::vector<std::int64_t>{skip, back});
  // An assign that takes the partition away forgets the position (Jepsen).
  Builder c;
  for (auto v : {"a", "b", "c"}) c.append(1, 0, v);
  c.poll(11, {c.rec(0, 1, "b")});
  c.poll(10, {c.rec(0, 0, "a")});
  c.assign(10, "g", 2, {1});
  c.poll(10, {c.rec(0, 2, "c")});
  CHECK(named(c.h, "poll-skip").empty());
  CHECK(named(clean().h, "poll-skip").empty());
  CHECK(named(clean().h, "nonmonotonic-poll").empty());
}

TEST_CASE("int-poll-skip and int-nonmonotonic-poll: inside one poll", "[invariants][kafka]") {
  Builder b;
  for (auto v : {"a", "b", "c"}) b.append(1, 0, v);
  const auto skip = b.poll(10, {b.rec(0, 0, "a"), b.rec(0, 2, "c")});
  const auto back = b.poll(11, {b.rec(0, 1, "b"), b.rec(0, 0, "a")});
  REQUIRE(named(b.h, "int-poll-skip").size() == 1);
  CHECK(named(b.h, "int-poll-skip")[0].ops == std::vector<std::int64_t>{skip});
  REQUIRE(named(b.h, "int-nonmonotonic-poll").size() == 1);
  CHECK(named(b.h, "int-nonmonotonic-poll")[0].ops == std::vector<std::int64_t>{back});
  CHECK(named(clean().h, "int-poll-skip").empty());
  CHECK(named(clean().h, "int-nonmonotonic-poll").empty());
}

TEST_CASE("nonmonotonic-send: a producer's later send lands before its earlier one", "[invariants][kafka]") {
  Builder b;
  const auto first = b.send(1, OpType::ok, 0, 1, "a");
  const auto second = b.send(1, OpType::ok, 0, 0, "b");
  b.poll(10, {b.rec(0, 0, "b"), b.rec(0, 1, "a")});
  const auto v = named(b.h, "nonmonotonic-send");
  REQUIRE(v.size() == 1);
  CHECK(v[0].ops == std::vector<std::int64_t>{first, second});
  // Two producers interleaving is fine.
  Builder c;
  c.send(1, OpType::ok, 0, 1, "a");
  c.send(2, OpType::ok, 0, 0, "b");
  CHECK(named(c.h, "nonmonotonic-send").empty());
  CHECK(named(clean().h, "nonmonotonic-send").empty());
}

TEST_CASE("int-send-skip and int-nonmonotonic-send: the records of one send", "[invariants][kafka]") {
  Builder b;
  auto batch = [&](std::int64_t p, std::vector<json> recs) {
    b.h.invoke(p, "send", {{"records", recs}});
    return b.h.ok(p, "send", {{"records", recs}});
  };
  const auto skip = batch(1, {b.rec(0, 0, "a"), b.rec(0, 2, "c")});
  b.send(2, OpType::ok, 0, 1, "b");
  const auto back = batch(3, {b.rec(0, 4, "e"), b.rec(0, 3, "d")});
  REQUIRE(named(b.h, "int-send-skip").size() == 1);
  CHECK(named(b.h, "int-send-skip")[0].ops == std::vector<std::int64_t>{skip});
  REQUIRE(named(b.h, "int-nonmonotonic-send").size() == 1);
  CHECK(named(b.h, "int-nonmonotonic-send")[0].ops == std::vector<std::int64_t>{back});
  CHECK(named(clean().h, "int-send-skip").empty());
}

TEST_CASE("precommitted-read and G1a: own uncommitted writes, failed writes read", "[invariants][kafka]") {
  Builder b;
  json r = b.rec(0, 0, "a");
  b.h.invoke(1, "txn", json::object());
  const auto txn = b.h.ok(1, "txn", {{"sends", {r}}, {"polls", {r}}});
  REQUIRE(named(b.h, "precommitted-read").size() == 1);
  CHECK(named(b.h, "precommitted-read")[0].ops == std::vector<std::int64_t>{txn});

  Builder c;
  const auto failed = c.send(1, OpType::fail, 0, 0, "a");
  const auto read = c.poll(10, {c.rec(0, 0, "a")});
  REQUIRE(named(c.h, "G1a").size() == 1);
  CHECK(named(c.h, "G1a")[0].ops == std::vector<std::int64_t>{failed, read});
  // An info send that was read is fine: it did happen.
  Builder d;
  d.send(1, OpType::info, 0, 0, "a");
  d.poll(10, {d.rec(0, 0, "a")});
  CHECK(named(d.h, "G1a").empty());
  CHECK(named(clean().h, "precommitted-read").empty());
  CHECK(named(clean().h, "G1a").empty());
}

TEST_CASE("per-key-order: one producer's records of a key consumed the other way round", "[invariants][kafka]") {
  Builder b;
  b.append(1, 0, "a", "k");
  b.append(1, 0, "b", "k");
  b.poll(10, {b.rec(0, 1, "b", "k")});  // a worker thread got b first
  b.poll(11, {b.rec(0, 0, "a", "k")});
  const auto v = named(b.h, "per-key-order");
  REQUIRE(v.size() == 1);
  CHECK(v[0].explanation.find("key \"k\"") != std::string::npos);
  // Other keys, or other producers, may interleave.
  Builder c;
  c.append(1, 0, "a", "k");
  c.append(1, 0, "b", "j");
  c.append(2, 0, "c", "k");
  c.poll(10, {c.rec(0, 2, "c", "k")});
  c.poll(11, {c.rec(0, 0, "a", "k"), c.rec(0, 1, "b", "j")});
  CHECK(named(c.h, "per-key-order").empty());
  CHECK(named(clean().h, "per-key-order").empty());
}

TEST_CASE("redelivery: one group consumes a record twice", "[invariants][kafka]") {
  Builder b = clean();
  b.assign(11, "g", 2, {0});
  const auto again = b.poll(11, {b.rec(0, 2, "c", "k")});
  const auto v = named(b.h, "redelivery");
  REQUIRE(v.size() == 1);
  CHECK(v[0].ops.back() == again);
  // Another group reading it too is not a redelivery.
  Builder c = clean();
  c.assign(11, "other", 1, {0});
  c.poll(11, {c.rec(0, 2, "c", "k")});
  CHECK(named(c.h, "redelivery").empty());
}

TEST_CASE("committed-offset-regression: a committed offset goes back without a reset", "[invariants][kafka]") {
  Builder b = clean();
  const auto low = b.commit(10, "g", 0, 1);
  REQUIRE(named(b.h, "committed-offset-regression").size() == 1);
  CHECK(named(b.h, "committed-offset-regression")[0].ops.back() == low);
  Builder c = clean();
  c.h.invoke(20, "reset-offsets", {{"group", "g"}});
  c.h.ok(20, "reset-offsets", {{"group", "g"}});
  c.commit(10, "g", 0, 1);
  CHECK(named(c.h, "committed-offset-regression").empty());
  CHECK(named(clean().h, "committed-offset-regression").empty());
}

TEST_CASE("assignment-overlap: two members own one partition in one generation", "[invariants][kafka]") {
  Builder b;
  const auto one = b.assign(10, "g", 3, {0, 1});
  const auto two = b.assign(11, "g", 3, {1});
  b.assign(12, "g", 4, {1});  // the next generation may move it
  const auto v = named(b.h, "assignment-overlap");
  REQUIRE(v.size() == 1);
  CHECK(v[0].ops == std::vector<std::int64_t>{one, two});
}

TEST_CASE("kafka-liveness: after the heal every acknowledged record is consumed", "[invariants][kafka]") {
  Builder b = clean();
  b.h.nemesis("heal-all");
  const auto late = b.append(1, 0, "d");
  const auto v = named(b.h, "kafka-liveness");
  REQUIRE(v.size() == 1);
  CHECK(v[0].kind == Kind::liveness);
  CHECK(v[0].ops.front() == late);
  b.poll(10, {b.rec(0, 3, "d")});
  CHECK(named(b.h, "kafka-liveness").empty());
  // Without a heal there is nothing to judge.
  Builder c;
  c.append(1, 0, "a");
  CHECK(named(c.h, "kafka-liveness").empty());
}

TEST_CASE("kafka-liveness: a group that keeps rebalancing after the heal without consuming is a rebalance storm",
          "[invariants][kafka]") {
  Builder b = clean();
  b.h.nemesis("heal-all");
  std::int64_t first = -1, last = -1;
  for (int gen = 2; gen < 12; ++gen) {
    last = b.assign(10, "g", gen, {0});
    if (first < 0) first = last;
    b.poll(10, {});
  }
  auto v = named(b.h, "kafka-liveness");
  REQUIRE(v.size() == 1);
  CHECK(v[0].kind == Kind::liveness);
  CHECK(v[0].ops == std::vector<std::int64_t>{first, last});
  // Fewer generations than storm_generations, or one that consumes, is no storm.
  CHECK(check_kafka_liveness(b.h, {{"storm_generations", 11}}).empty());
  b.append(1, 0, "d");
  b.poll(10, {b.rec(0, 3, "d")});
  CHECK(named(b.h, "kafka-liveness").empty());
  // A storm that started before the heal counts only from the heal.
  Builder c = clean();
  for (int gen = 2; gen < 12; ++gen) c.assign(10, "g", gen, {0});
  c.h.nemesis("heal-all");
  c.assign(10, "g", 12, {0});
  CHECK(named(c.h, "kafka-liveness").empty());
}

TEST_CASE("kafka-liveness: within_ms bounds the time to consume", "[invariants][kafka]") {
  std::int64_t now = 0;
  History h([&] { return now; });
  h.info(k_nemesis, "heal", json::object());
  h.invoke(1, "send", {{"topic", "t"}, {"value", "a"}});
  h.ok(1, "send", {{"topic", "t"}, {"value", "a"}, {"partition", 0}, {"offset", 0}});
  now = 5'000'000'000;
  h.invoke(2, "poll");
  h.ok(2, "poll", {{"records", {{{"topic", "t"}, {"partition", 0}, {"offset", 0}, {"value", "a"}}}}});
  CHECK(check_kafka_liveness(h, {{"within_ms", 10000}}).empty());
  CHECK(check_kafka_liveness(h, {{"within_ms", 1000}}).size() == 1);
}

TEST_CASE("delivery summary: at-most-once, at-least-once and per-partition order", "[invariants][kafka]") {
  Builder b = clean();
  b.append(1, 1, "x");  // never consumed
  const auto s = delivery_summary(b.h);
  CHECK(s.kafka);
  CHECK(s.acked == 4);
  CHECK(s.consumed == 3);
  CHECK_FALSE(s.at_least_once);
  CHECK(s.at_most_once);
  CHECK_FALSE(s.exactly_once());
  REQUIRE(s.partitions.size() == 2);  // partition 1 holds the acked send
  CHECK(s.partitions[0].ordered());
  CHECK(s.partitions[1].records == 1);
  Builder c = clean();
  c.poll(10, {c.rec(0, 0, "a", "k")});  // back to the start: redelivered, out of order
  const auto t = delivery_summary(c.h);
  CHECK_FALSE(t.at_most_once);
  CHECK(t.at_least_once);
  CHECK_FALSE(t.partitions[0].ordered());
  CHECK_FALSE(delivery_summary(History{}).kafka);
}

// --- a model: a log per partition; producers append, consumers read in order ---

namespace {

struct Model {
  int partitions = 1;
  std::vector<std::vector<std::pair<std::string, std::string>>> log;  // partition -> (value, key) at offset
  Builder b;
};

// A correct history: producers 1..3 append keyed records (key -> partition
// by key % partitions), some acks are lost (info, still written), some sends
// fail (not written); consumers 10 and 11 (groups g10, g11) read every
// partition in order (10 one record per poll, 11 up to three) and commit
// what they read; at the end both drain what is left.
Model generate() {
  Model m;
  m.partitions = *rc::gen::inRange(1, 4);
  m.log.resize(static_cast<std::size_t>(m.partitions));
  Builder& b = m.b;
  for (int c : {10, 11}) {
    std::vector<int> all;
    for (int p = 0; p < m.partitions; ++p) all.push_back(p);
    b.assign(c, fmt::format("g{}", c), 1, all);
  }
  std::map<std::pair<int, int>, std::size_t> pos;  // (consumer, partition) -> next offset
  int n = 0;
  auto send = [&](int producer, int key, int kind) {
    const int p = key % m.partitions;
    const std::string value = fmt::format("v{}", n++), k = fmt::format("k{}", key);
    auto& log = m.log[static_cast<std::size_t>(p)];
    const auto t = kind == 0 ? OpType::fail : kind == 1 ? OpType::info : OpType::ok;
    b.send(producer, t, p, static_cast<std::int64_t>(log.size()), value, k);
    if (t != OpType::fail) log.push_back({value, k});
  };
  auto poll = [&](int c, int p, std::size_t count) {
    auto& at = pos[{c, p}];
    const auto& log = m.log[static_cast<std::size_t>(p)];
    std::vector<json> recs;
    for (; at < log.size() && recs.size() < count; ++at)
      recs.push_back(b.rec(p, static_cast<std::int64_t>(at), log[at].first, log[at].second));
    if (recs.empty()) return;
    b.poll(c, recs);
    b.commit(c, fmt::format("g{}", c), p, static_cast<std::int64_t>(at));
  };
  for (int p = 0; p < m.partitions; ++p)
    for (int i = 0; i < 3; ++i) send(1, p, 2);  // at least three records per partition
  const auto steps = *rc::gen::container<std::vector<std::tuple<int, int, int, int>>>(
      rc::gen::tuple(rc::gen::inRange(0, 2), rc::gen::inRange(1, 4), rc::gen::inRange(0, 6), rc::gen::inRange(0, 8)));
  for (const auto& [what, who, key, kind] : steps) {
    if (what == 0) send(who, key, kind);
    else if (who == 1) poll(10, key % m.partitions, 1);  // 10 reads one record per poll
    else poll(11, key % m.partitions, static_cast<std::size_t>(kind % 3 + 1));
  }
  for (int p = 0; p < m.partitions; ++p) send(1, p, 2);  // the last record of each partition is acked
  for (int p = 0; p < m.partitions; ++p) poll(11, p, 1'000'000);
  for (int p = 0; p < m.partitions; ++p)
    while (pos[{10, p}] < m.log[static_cast<std::size_t>(p)].size()) poll(10, p, 1);
  return m;
}

// A copy of a history with `edit` applied to each op (an op it empties is dropped).
History edited(const History& h, const std::function<void(Op&)>& edit) {
  History out;
  for (const Op& op : h.ops()) {
    Op o = op;
    edit(o);
    if (!o.f.empty()) out.append(std::move(o));
  }
  return out;
}

void drop_record(Op& op, int p, std::int64_t offset) {
  if (op.f != "poll" || !op.value.contains("records")) return;
  json kept = json::array();
  for (const auto r : op.value["records"])
    if (!(r["partition"].get<int>() == p && r["offset"].get<std::int64_t>() == offset)) kept.push_back(r.to_json());
  json v = op.value.to_json();
  v["records"] = kept;
  op.value = v;
}

}  // namespace

TEST_CASE("kafka checkers: a history of a correct log has no violations", "[invariants][kafka]") {
  rc::prop("generated correct histories pass every checker", [] {
    Model m = generate();
    m.b.h.nemesis("heal-all");
    for (const auto& v : all_checks(m.b.h)) RC_FAIL(v.to_string());
    RC_ASSERT(delivery_summary(m.b.h).exactly_once());
  });
}

TEST_CASE("kafka checkers: one injected anomaly is found by its checker", "[invariants][kafka]") {
  rc::prop("each injected anomaly is named", [] {
    Model m = generate();
    const History& h = m.b.h;
    Builder& b = m.b;
    const auto& log0 = m.log[0];
    const std::int64_t n0 = static_cast<std::int64_t>(log0.size());
    auto found = [](const History& x, const std::string& name) { return !named(x, name).empty(); };

    // lost-write: offset 0 of partition 0 read by nobody, later offsets read.
    RC_ASSERT(found(edited(h, [](Op& o) { drop_record(o, 0, 0); }), "lost-write"));
    // unseen: the last record of partition 0 read by nobody.
    {
      const History x = edited(h, [&](Op& o) { drop_record(o, 0, n0 - 1); });
      RC_ASSERT(found(x, "unseen"));
      RC_ASSERT(!found(x, "lost-write"));
    }
    // poll-skip: consumer 10 never got offset 1 of partition 0 (11 did).
    RC_ASSERT(found(edited(h, [](Op& o) {
                      if (o.process == 10) drop_record(o, 0, 1);
                    }),
                    "poll-skip"));
    // nonmonotonic-poll and redelivery: consumer 10 reads offset 0 again.
    {
      Builder y;
      y.h = edited(h, [](Op&) {});
      y.poll(10, {b.rec(0, 0, log0[0].first, log0[0].second)});
      RC_ASSERT(found(y.h, "nonmonotonic-poll"));
      RC_ASSERT(found(y.h, "redelivery"));
    }
    const std::int64_t n = n0;  // the next offset of partition 0
    auto fresh = [&](std::function<void(Builder&)> add, const std::string& name) {
      Builder y;
      y.h = edited(h, [](Op&) {});
      add(y);
      RC_ASSERT(found(y.h, name));
    };
    fresh([&](Builder& y) { y.poll(12, {y.rec(0, n, log0[0].first)}); }, "duplicate");
    fresh([&](Builder& y) { y.poll(12, {y.rec(0, 0, "bogus")}); }, "inconsistent-offsets");
    fresh([&](Builder& y) { y.poll(12, {y.rec(0, 0, log0[0].first), y.rec(0, 2, log0[2].first)}); },
          "int-poll-skip");
    fresh([&](Builder& y) { y.poll(12, {y.rec(0, 1, log0[1].first), y.rec(0, 0, log0[0].first)}); },
          "int-nonmonotonic-poll");
    fresh(
        [&](Builder& y) {
          y.send(20, OpType::ok, 0, n + 1, "late-a");
          y.send(20, OpType::ok, 0, n, "late-b");
          y.poll(12, {y.rec(0, n, "late-b"), y.rec(0, n + 1, "late-a")});
        },
        "nonmonotonic-send");
    fresh(
        [&](Builder& y) {
          const std::vector<json> recs = {y.rec(0, n + 1, "late-a"), y.rec(0, n, "late-b")};
          y.h.invoke(20, "send", {{"records", recs}});
          y.h.ok(20, "send", {{"records", recs}});
        },
        "int-nonmonotonic-send");
    fresh(
        [&](Builder& y) {
          const std::vector<json> recs = {y.rec(0, n, "late-a"), y.rec(0, n + 2, "late-c")};
          y.h.invoke(20, "send", {{"records", recs}});
          y.h.ok(20, "send", {{"records", recs}});
          y.send(21, OpType::ok, 0, n + 1, "late-b");
        },
        "int-send-skip");
    fresh(
        [&](Builder& y) {
          const json r = y.rec(0, n, "late-a");
          y.h.invoke(20, "txn", json::object());
          y.h.ok(20, "txn", {{"sends", {r}}, {"polls", {r}}});
        },
        "precommitted-read");
    fresh(
        [&](Builder& y) {
          y.send(20, OpType::fail, 0, n, "late-a");
          y.poll(12, {y.rec(0, n, "late-a")});
        },
        "G1a");
    fresh(
        [&](Builder& y) {
          y.send(20, OpType::ok, 0, n, "late-a", "kz");
          y.send(20, OpType::ok, 0, n + 1, "late-b", "kz");
          y.poll(12, {y.rec(0, n + 1, "late-b", "kz")});
          y.poll(13, {y.rec(0, n, "late-a", "kz")});
        },
        "per-key-order");
    fresh([&](Builder& y) { y.commit(10, "g10", 0, 0); }, "committed-offset-regression");
    fresh([&](Builder& y) { y.assign(12, "g10", 1, {0}); }, "assignment-overlap");
    fresh(
        [&](Builder& y) {
          y.h.nemesis("heal-all");
          y.send(20, OpType::ok, 0, n, "late-a");
        },
        "kafka-liveness");
  });
}

TEST_CASE("kafka checkers: a shared analysis is of its history as it is now", "[invariants][kafka]") {
  Builder b;
  b.append(1, 0, "a");
  Builder other = clean();
  const SharedAnalysis scope(b.h);
  CHECK(check_unseen(b.h, {}).size() == 1);
  CHECK(check_unseen(other.h, {}).empty());  // another history: its own analysis
  b.poll(10, {b.rec(0, 0, "a")});            // the history grew: analysed again
  CHECK(check_unseen(b.h, {}).empty());
  CHECK(delivery_summary(b.h).exactly_once());
}
