#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "invariants/checker.h"

using namespace samsa::invariants;

TEST_CASE("well-formed: a completion without its invoke, or two invokes at once, are caught",
          "[invariants][checkers]") {
  History h;
  h.ok(0, "send");         // no invoke
  h.invoke(1, "send");
  h.invoke(1, "poll");     // the send is pending
  h.ok(1, "send");         // completes the poll's slot with another f
  const auto v = check_well_formed(h, {});
  REQUIRE(v.size() == 3);
  for (const auto& x : v) CHECK(x.name == "malformed-history");
  CHECK(v[0].ops == std::vector<std::int64_t>{0});
  CHECK(v[1].ops == std::vector<std::int64_t>{1, 2});
}

TEST_CASE("well-formed: any history of whole operations per process is well formed",
          "[invariants][checkers]") {
  rc::prop("interleaved invoke/complete pairs pass", [](std::vector<std::uint8_t> steps) {
    History h;
    std::vector<bool> pending(4, false);
    for (auto s : steps) {
      const int p = s % 4;
      if (!pending[p]) h.invoke(p, "send");
      else if (s & 0x10) h.ok(p, "send");
      else h.info(p, "send");
      pending[p] = !pending[p];
    }
    RC_ASSERT(check_well_formed(h, {}).empty());
  });
}

TEST_CASE("echo: duplicates and out-of-order answers are named with their operations",
          "[invariants][checkers]") {
  History h;
  const auto p = h.new_process();
  h.invoke(p, "echo", 1);
  h.ok(p, "echo", 1);
  h.invoke(p, "echo", 2);
  h.ok(p, "echo", 1);  // the echo of 1 again
  h.invoke(p, "echo", 3);
  h.ok(p, "echo", 5);  // never sent
  const auto v = check_echo(h, {});
  REQUIRE(v.size() == 2);
  CHECK(v[0].name == "duplicate");
  CHECK(v[0].kind == Kind::safety);
  CHECK(v[0].ops == std::vector<std::int64_t>{1, 3});
  CHECK(v[1].name == "per-key-order");
  CHECK(v[1].ops == std::vector<std::int64_t>{4, 5});
}

TEST_CASE("echo: every answer equal to its request passes", "[invariants][checkers]") {
  rc::prop("a correct echo history has no violations", [](std::vector<bool> broken) {
    History h;
    std::int64_t p = h.new_process();
    std::int64_t seq = 1;
    for (bool b : broken) {
      h.invoke(p, "echo", seq);
      if (b) {
        h.info(p, "echo");  // the connection broke: a new connection, a new process
        p = h.new_process();
        seq = 1;
        continue;
      }
      h.ok(p, "echo", seq++);
    }
    RC_ASSERT(check_echo(h, {}).empty());
  });
}

TEST_CASE("echo-liveness: a pair with no echo after the heal is a liveness violation",
          "[invariants][checkers]") {
  std::int64_t now = 0;
  History h([&now] { return now; });
  const auto a = h.new_process(), b = h.new_process();
  for (auto [p, from, to] : {std::tuple{a, "n1", "n2"}, std::tuple{b, "n2", "n1"}}) {
    h.invoke(p, "connect", {{"from", from}, {"to", to}});
    h.ok(p, "connect");
    h.invoke(p, "echo", 1);
    h.ok(p, "echo", 1);
  }
  now = 10;
  h.nemesis("heal-all", nlohmann::json::object());
  now = 20;
  h.invoke(a, "echo", 2);
  h.ok(a, "echo", 2);
  const auto v = check_echo_liveness(h, {});
  REQUIRE(v.size() == 1);
  CHECK(v[0].kind == Kind::liveness);
  CHECK(v[0].explanation == "no echo n2 -> n1 after the heal");
}

TEST_CASE("election-safety: two winners of one epoch and an epoch read going back are caught",
          "[invariants][checkers]") {
  History h;
  h.invoke(0, "elect", {{"broker", 1}});
  h.ok(0, "elect", {{"broker", 1}, {"epoch", 1}});
  h.invoke(1, "elect", {{"broker", 2}});
  h.ok(1, "elect", {{"broker", 2}, {"epoch", 1}});
  h.invoke(0, "read-epoch", {{"broker", 1}});
  h.ok(0, "read-epoch", {{"broker", 1}, {"epoch", 3}});
  h.invoke(0, "read-epoch", {{"broker", 1}});
  h.ok(0, "read-epoch", {{"broker", 1}, {"epoch", 2}});
  std::vector<std::string> names;
  for (const auto& v : check_election_safety(h, {})) names.push_back(v.name);
  CHECK(names == std::vector<std::string>{"split-brain", "nonmonotonic-epoch", "epoch-regression"});
}

TEST_CASE("election-liveness: after the heal exactly one holder, named by /controller",
          "[invariants][checkers]") {
  History h;
  h.invoke(0, "elect", {{"broker", 1}});
  h.ok(0, "elect", {{"broker", 1}, {"epoch", 1}});
  h.invoke(0, "resign", {{"broker", 1}});
  h.ok(0, "resign", {{"broker", 1}});
  h.invoke(1, "elect", {{"broker", 2}});
  h.ok(1, "elect", {{"broker", 2}, {"epoch", 2}});
  h.invoke(2, "read-controller", nlohmann::json::object());
  h.ok(2, "read-controller", {{"broker", 2}});
  CHECK(check_election_liveness(h, {}).empty());
  History wrong;
  wrong.invoke(1, "elect", {{"broker", 2}});
  wrong.ok(1, "elect", {{"broker", 2}, {"epoch", 2}});
  wrong.invoke(2, "read-controller", nlohmann::json::object());
  wrong.ok(2, "read-controller", {{"broker", 3}});
  const auto v = check_election_liveness(wrong, {});
  REQUIRE(v.size() == 1);
  CHECK(v[0].kind == Kind::liveness);
}

TEST_CASE("checkers: registered by name, tests may add their own", "[invariants][checkers]") {
  CHECK(find_checker("well-formed") != nullptr);
  CHECK(find_checker("nosuch") == nullptr);
  register_checker({"test-always", "", [](const History&, const nlohmann::json&) {
                      return std::vector<Violation>{Violation::liveness("test", "always")};
                    }});
  History h;
  CHECK(run_checkers(h, {"test-always"}).size() == 1);
}
