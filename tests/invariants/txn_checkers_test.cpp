// The transaction checkers (invariants/txn_checkers.h) on hand-written
// histories with and without their anomaly, and a property: transactions
// that run one after another (each appending to the partitions' ends and
// polling only what earlier ones wrote) never form a G0 or G1c cycle.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <map>

#include "invariants/checker.h"
#include "invariants/txn_checkers.h"

using namespace samsa::invariants;
using json = nlohmann::json;

namespace {

json rec(int partition, std::int64_t offset, const std::string& value, const std::string& topic = "t") {
  return {{"topic", topic}, {"partition", partition}, {"offset", offset}, {"value", value}};
}

// One txn op: invoke, then its completion of type `t`.
std::int64_t txn(History& h, std::int64_t p, OpType t, std::vector<json> polls, std::vector<json> sends) {
  json v = {{"polls", polls}, {"sends", sends}};
  h.invoke(p, "txn", json::object());
  if (t == OpType::ok) return h.ok(p, "txn", v);
  if (t == OpType::info) return h.info(p, "txn", v);
  return h.fail(p, "txn", v);
}

std::int64_t poll(History& h, std::int64_t p, std::vector<json> records) {
  h.invoke(p, "poll", json::object());
  return h.ok(p, "poll", {{"records", records}});
}

}  // namespace

TEST_CASE("G0: two transactions whose writes order each other both ways", "[invariants][txn]") {
  History h;
  const auto t1 = txn(h, 1, OpType::ok, {}, {rec(0, 0, "a"), rec(1, 1, "b")});
  const auto t2 = txn(h, 2, OpType::ok, {}, {rec(0, 1, "c"), rec(1, 0, "d")});
  const auto v = check_g0(h, json::object());
  REQUIRE(v.size() == 1);
  CHECK(v[0].name == "G0");
  CHECK(v[0].ops == std::vector<std::int64_t>{t1, t2});
  CHECK(check_g1c(h, json::object()).empty());  // no read on the cycle
}

TEST_CASE("G0: the same writes in one order are no cycle; an aborted writer is no node", "[invariants][txn]") {
  History ordered;
  txn(ordered, 1, OpType::ok, {}, {rec(0, 0, "a"), rec(1, 0, "b")});
  txn(ordered, 2, OpType::ok, {}, {rec(0, 1, "c"), rec(1, 1, "d")});
  CHECK(check_g0(ordered, json::object()).empty());
  History aborted;
  txn(aborted, 1, OpType::ok, {}, {rec(0, 0, "a"), rec(1, 1, "b")});
  txn(aborted, 2, OpType::fail, {}, {rec(0, 1, "c"), rec(1, 0, "d")});
  CHECK(check_g0(aborted, json::object()).empty());
  // Unknown (info) but read: it happened, so it is a node again.
  History read_info;
  txn(read_info, 1, OpType::ok, {}, {rec(0, 0, "a"), rec(1, 1, "b")});
  txn(read_info, 2, OpType::info, {}, {rec(0, 1, "c"), rec(1, 0, "d")});
  CHECK(check_g0(read_info, json::object()).empty());
  poll(read_info, 3, {rec(1, 0, "d")});
  CHECK(check_g0(read_info, json::object()).size() == 1);
}

TEST_CASE("G0: interleaved writes of two transactions in one partition", "[invariants][txn]") {
  History h;
  txn(h, 1, OpType::ok, {}, {rec(0, 0, "a"), rec(0, 2, "b")});
  txn(h, 2, OpType::ok, {}, {rec(0, 1, "c")});
  CHECK(check_g0(h, json::object()).size() == 1);
}

TEST_CASE("G1c: each transaction reads what the other wrote", "[invariants][txn]") {
  History h;
  // T1 writes x and reads y; T2 reads x and writes y: wr both ways.
  const auto t1 = txn(h, 1, OpType::ok, {rec(1, 0, "y", "u")}, {rec(0, 0, "x")});
  const auto t2 = txn(h, 2, OpType::ok, {rec(0, 0, "x")}, {rec(1, 0, "y", "u")});
  const auto v = check_g1c(h, json::object());
  REQUIRE(v.size() == 1);
  CHECK(v[0].name == "G1c");
  CHECK(v[0].ops == std::vector<std::int64_t>{t1, t2});
  CHECK(v[0].explanation.find("wr") != std::string::npos);
  CHECK(check_g0(h, json::object()).empty());
  // One way only: information flows from T1 to T2, no cycle.
  History one_way;
  txn(one_way, 1, OpType::ok, {}, {rec(0, 0, "x")});
  txn(one_way, 2, OpType::ok, {rec(0, 0, "x")}, {rec(1, 0, "y", "u")});
  CHECK(check_g1c(one_way, json::object()).empty());
}

TEST_CASE("G1c: a cycle of a ww and a wr edge", "[invariants][txn]") {
  History h;
  // T1 then T2 in partition 0 (ww T1 -> T2), and T1 read what T2 wrote (wr T2 -> T1).
  txn(h, 1, OpType::ok, {rec(1, 0, "z", "u")}, {rec(0, 0, "a")});
  txn(h, 2, OpType::ok, {}, {rec(0, 1, "b"), rec(1, 0, "z", "u")});
  CHECK(check_g1c(h, json::object()).size() == 1);
  CHECK(check_g0(h, json::object()).empty());
}

TEST_CASE("exactly-once: an input consumed by two committed transactions", "[invariants][txn]") {
  History h;
  h.invoke(0, "send", {{"topic", "in"}, {"value", "i1"}});
  h.ok(0, "send", {{"topic", "in"}, {"value", "i1"}, {"partition", 0}, {"offset", 0}});
  const auto a = txn(h, 1, OpType::ok, {rec(0, 0, "i1", "in")}, {rec(0, 0, "i1@t1.1", "out")});
  txn(h, 2, OpType::fail, {rec(0, 0, "i1", "in")}, {rec(0, 2, "i1@t2.1", "out")});
  CHECK(check_exactly_once(h, json::object()).empty());  // the aborted copy does not count
  txn(h, 2, OpType::info, {rec(0, 0, "i1", "in")}, {rec(0, 4, "i1@t2.2", "out")});
  CHECK(check_exactly_once(h, json::object()).empty());  // unknown, and nothing shows it committed
  const auto reader = poll(h, 9, {rec(0, 0, "i1@t1.1", "out"), rec(0, 4, "i1@t2.2", "out")});
  (void)reader;
  const auto v = check_exactly_once(h, json::object());
  REQUIRE(v.size() == 1);
  CHECK(v[0].name == "exactly-once");
  CHECK(v[0].ops.front() == a);
}

TEST_CASE("txn checkers are registered by name", "[invariants][txn]") {
  for (const char* name : {"G0", "G1c", "exactly-once"}) CHECK(find_checker(name) != nullptr);
}

TEST_CASE("serial transactions never form G0 or G1c cycles", "[invariants][txn]") {
  rc::prop("serial", [] {
    const int n = *rc::gen::inRange(2, 12);
    History h;
    std::map<int, std::int64_t> end;  // partition -> next offset
    std::vector<json> written;
    int value = 0;
    for (int t = 0; t < n; ++t) {
      std::vector<json> polls, sends;
      if (!written.empty()) {
        const int reads = *rc::gen::inRange(0, 3);
        for (int r = 0; r < reads; ++r)
          polls.push_back(written[static_cast<std::size_t>(*rc::gen::inRange<int>(0, static_cast<int>(written.size())))]);
      }
      const int writes = *rc::gen::inRange(1, 4);
      for (int w = 0; w < writes; ++w) {
        const int p = *rc::gen::inRange(0, 3);
        sends.push_back(rec(p, end[p]++, "v" + std::to_string(value++)));
      }
      for (const auto& s : sends) written.push_back(s);
      txn(h, t, *rc::gen::element(OpType::ok, OpType::info, OpType::ok), polls, sends);
    }
    RC_ASSERT(check_g0(h, json::object()).empty());
    RC_ASSERT(check_g1c(h, json::object()).empty());
  });
}

TEST_CASE("an info txn whose output was read consumed its input: no lost-write, no unseen", "[invariants][txn]") {
  History h;
  h.invoke(0, "send", {{"topic", "in"}, {"value", "i1"}});
  h.ok(0, "send", {{"topic", "in"}, {"value", "i1"}, {"partition", 0}, {"offset", 0}});
  h.invoke(0, "send", {{"topic", "in"}, {"value", "i2"}});
  h.ok(0, "send", {{"topic", "in"}, {"value", "i2"}, {"partition", 0}, {"offset", 1}});
  txn(h, 1, OpType::info, {rec(0, 0, "i1", "in")}, {rec(0, 0, "i1@t1.1", "out")});
  txn(h, 2, OpType::ok, {rec(0, 1, "i2", "in")}, {rec(0, 2, "i2@t1.2", "out")});
  // Nothing shows the info transaction committed: i1 is unseen, and lost (i2
  // above it was read); so is the ok transaction's unread output.
  CHECK(run_checkers(h, {"unseen"}).size() == 2);
  CHECK(run_checkers(h, {"lost-write"}).size() == 1);
  poll(h, 9, {rec(0, 0, "i1@t1.1", "out"), rec(0, 2, "i2@t1.2", "out")});
  CHECK(run_checkers(h, {"unseen", "lost-write"}).empty());
}
