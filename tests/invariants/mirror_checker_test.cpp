// The mirror checker (invariants/mirror_checker.h) on hand-written histories
// with and without each anomaly, and a property over modelled MirrorMaker
// runs: an at-least-once mirror (send a batch, then commit; a crash replays
// from the last commit) never loses or reorders, and its replays are exactly
// the duplicates reported; a mirror that commits before it sends and
// crashes in between loses records.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <map>

#include "invariants/checker.h"
#include "invariants/expectations.h"
#include "invariants/mirror_checker.h"

using namespace samsa::invariants;
using json = nlohmann::json;

namespace {

const json k_options = {{"source_topic", "orders"}, {"target_topic", "dc1.orders"}, {"within_ms", 1000}};

json rec(const std::string& topic, int partition, std::int64_t offset, const std::string& value) {
  return {{"topic", topic}, {"partition", partition}, {"offset", offset}, {"value", value}};
}

// A history whose clock the test sets (ms).
struct Recorder {
  Recorder() = default;
  Recorder(const Recorder&) = delete;  // the clock refers to this one
  std::int64_t now_ms = 0;
  History h{[this] { return now_ms * 1'000'000; }};

  std::int64_t send_ok(std::int64_t p, int partition, std::int64_t offset, const std::string& value) {
    h.invoke(p, "send", {{"topic", "orders"}, {"value", value}});
    return h.ok(p, "send", rec("orders", partition, offset, value));
  }
  std::int64_t poll(std::int64_t p, std::vector<json> records) {
    h.invoke(p, "poll", json::object());
    return h.ok(p, "poll", {{"records", std::move(records)}});
  }
  std::int64_t mirrored(std::int64_t p, std::vector<json> sends) {
    h.invoke(p, "mirror", json::object());
    return h.ok(p, "mirror", {{"polls", json::array()}, {"sends", std::move(sends)}});
  }
};

std::vector<std::string> names(const std::vector<Violation>& v) {
  std::vector<std::string> out;
  for (const auto& x : v) out.push_back(x.name);
  return out;
}

bool has(const std::vector<Violation>& v, const std::string& name) {
  for (const auto& x : v)
    if (x.name == name) return true;
  return false;
}

}  // namespace

TEST_CASE("mirror: a complete, ordered copy has no violation", "[invariants][mirror]") {
  Recorder r;
  r.send_ok(1, 0, 0, "a");
  r.send_ok(1, 0, 1, "b");
  r.send_ok(1, 1, 0, "c");
  r.mirrored(5, {rec("dc1.orders", 0, 0, "a"), rec("dc1.orders", 0, 1, "b"), rec("dc1.orders", 1, 0, "c")});
  r.h.nemesis("heal-all", json::object());
  r.poll(8, {rec("orders", 0, 0, "a"), rec("orders", 0, 1, "b"), rec("orders", 1, 0, "c")});
  r.poll(9, {rec("dc1.orders", 0, 0, "a"), rec("dc1.orders", 0, 1, "b"), rec("dc1.orders", 1, 0, "c")});
  CHECK(check_mirror(r.h, k_options).empty());
  REQUIRE(find_checker("mirror") != nullptr);
  CHECK(run_checkers(r.h, {"mirror"}, {{"mirror", k_options}}).empty());
}

TEST_CASE("mirror-lost: acknowledged, still in the source, never in the target", "[invariants][mirror]") {
  Recorder r;
  r.send_ok(1, 0, 0, "a");
  const auto b = r.send_ok(1, 0, 1, "b");
  r.poll(8, {rec("orders", 0, 0, "a"), rec("orders", 0, 1, "b")});
  r.poll(9, {rec("dc1.orders", 0, 0, "a")});
  const auto v = check_mirror(r.h, k_options);
  REQUIRE(names(v) == std::vector<std::string>{"mirror-lost"});
  CHECK(v[0].ops == std::vector<std::int64_t>{b});
  CHECK(v[0].explanation.find("the source still has it at 0/1") != std::string::npos);
}

TEST_CASE("lost-write: the source read passed the offset without the value (the source lost it)", "[invariants][mirror]") {
  Recorder r;
  r.send_ok(1, 0, 0, "a");
  r.send_ok(1, 0, 1, "b");
  r.send_ok(2, 0, 2, "c");
  // The source log has "c" at offset 1 (truncated and rewritten), then "d" at 2: "b" is gone.
  r.poll(8, {rec("orders", 0, 0, "a"), rec("orders", 0, 1, "c"), rec("orders", 0, 2, "d")});
  r.poll(9, {rec("dc1.orders", 0, 0, "a"), rec("dc1.orders", 0, 1, "c")});
  CHECK(names(check_mirror(r.h, k_options)) == std::vector<std::string>{"lost-write"});
}

TEST_CASE("mirror-phantom: a target record no source send carried", "[invariants][mirror]") {
  Recorder r;
  r.send_ok(1, 0, 0, "a");
  r.poll(8, {rec("orders", 0, 0, "a")});
  const auto p = r.poll(9, {rec("dc1.orders", 0, 0, "a"), rec("dc1.orders", 0, 1, "zz")});
  const auto v = check_mirror(r.h, k_options);
  REQUIRE(names(v) == std::vector<std::string>{"mirror-phantom"});
  CHECK(v[0].ops == std::vector<std::int64_t>{p});
}

TEST_CASE("duplicate: one summary with the extra copies; allowed with samsa.mirror=at-least-once", "[invariants][mirror]") {
  Recorder r;
  r.send_ok(1, 0, 0, "a");
  r.send_ok(1, 0, 1, "b");
  r.poll(8, {rec("orders", 0, 0, "a"), rec("orders", 0, 1, "b")});
  // Replayed from the commit before "a": a, b, a, b.
  r.poll(9, {rec("dc1.orders", 0, 0, "a"), rec("dc1.orders", 0, 1, "b"), rec("dc1.orders", 0, 2, "a"),
             rec("dc1.orders", 0, 3, "b")});
  const auto v = check_mirror(r.h, k_options);
  REQUIRE(names(v) == std::vector<std::string>{"duplicate"});
  CHECK(v[0].explanation.find("2 source records are in the target more than once (2 extra copies)") != std::string::npos);
  const auto e = expectations_for({{"samsa.mirror", "at-least-once"}, {"nemeses", {"crash"}}});
  CHECK(e.allows("duplicate"));
  CHECK(!e.allows("mirror-lost"));
  // Not for an idempotent producer whose brokers keep their page cache.
  CHECK(!expectations_for({{"nemeses", {json{{"name", "crash"}, {"disk", "keep_all"}}}}}).allows("duplicate"));
  const auto j = judge(v, e);
  CHECK(j.failing.empty());
  CHECK(j.demonstrated.size() == 1);
}

TEST_CASE("mirror-order: first copies out of source order, or in another partition", "[invariants][mirror]") {
  Recorder r;
  r.send_ok(1, 0, 0, "a");
  r.send_ok(1, 0, 1, "b");
  r.send_ok(1, 1, 0, "c");
  r.poll(8, {rec("orders", 0, 0, "a"), rec("orders", 0, 1, "b"), rec("orders", 1, 0, "c")});
  r.poll(9, {rec("dc1.orders", 0, 0, "b"), rec("dc1.orders", 0, 1, "a"), rec("dc1.orders", 0, 2, "c")});
  const auto v = check_mirror(r.h, k_options);
  CHECK(names(v) == std::vector<std::string>{"mirror-order", "mirror-order"});
  // A replay of a suffix is no reordering: a, b, a, b.
  Recorder ok;
  ok.send_ok(1, 0, 0, "a");
  ok.send_ok(1, 0, 1, "b");
  ok.poll(9, {rec("dc1.orders", 0, 0, "a"), rec("dc1.orders", 0, 1, "b"), rec("dc1.orders", 0, 2, "a"),
              rec("dc1.orders", 0, 3, "b")});
  CHECK(!has(check_mirror(ok.h, k_options), "mirror-order"));
}

TEST_CASE("mirror-lag: first acknowledged in the target later than within_ms after the heal", "[invariants][mirror]") {
  Recorder r;
  r.now_ms = 100;
  r.send_ok(1, 0, 0, "a");
  r.send_ok(1, 0, 1, "b");
  r.now_ms = 5000;
  r.h.nemesis("heal-all", json::object());
  r.now_ms = 5500;
  r.mirrored(5, {rec("dc1.orders", 0, 0, "a")});  // 500 ms after the heal: in time
  r.now_ms = 7000;
  r.mirrored(5, {rec("dc1.orders", 0, 1, "b")});  // 2000 ms: late
  r.poll(9, {rec("dc1.orders", 0, 0, "a"), rec("dc1.orders", 0, 1, "b")});
  const auto v = check_mirror(r.h, k_options);
  REQUIRE(names(v) == std::vector<std::string>{"mirror-lag"});
  CHECK(v[0].kind == Kind::liveness);
  CHECK(v[0].explanation.find("'b', 1000 ms past the bound") != std::string::npos);
  CHECK(check_mirror(r.h, {{"source_topic", "orders"}, {"target_topic", "dc1.orders"}, {"within_ms", 3000}}).empty());
}

TEST_CASE("mirror: without options the topics come from the mirror ops; no mirror ops, nothing to judge",
          "[invariants][mirror]") {
  History none;
  none.invoke(1, "send", {{"topic", "t"}, {"value", "a"}});
  none.ok(1, "send", rec("t", 0, 0, "a"));
  CHECK(check_mirror(none, json::object()).empty());  // `samsa check` on any history
  Recorder r;
  r.send_ok(1, 0, 0, "a");
  r.send_ok(1, 0, 1, "b");
  r.h.invoke(5, "mirror", json::object());
  r.h.ok(5, "mirror", {{"polls", {rec("orders", 0, 0, "a")}}, {"sends", {rec("dc1.orders", 0, 0, "a")}}});
  r.poll(9, {rec("dc1.orders", 0, 0, "a")});
  CHECK(names(check_mirror(r.h, json::object())) == std::vector<std::string>{"mirror-lost"});
  CHECK(names(check_mirror(r.h, {{"source_topic", "orders"}})) == std::vector<std::string>{"mirror-options"});
}

namespace {

// A modelled mirror of one partition of `n` records: batches of `batch`;
// crash[i] says the mirror crashes after sending batch i. At-least-once
// sends then commits (a crash replays from the commit); `commit_first`
// commits then sends (a crash skips the batch).
void modelled_run(Recorder& r, int n, int batch, const std::vector<bool>& crash, bool commit_first, int* copies_out) {
  for (int i = 0; i < n; ++i) r.send_ok(1, 0, i, "v" + std::to_string(i));
  std::vector<json> source, target;
  for (int i = 0; i < n; ++i) source.push_back(rec("orders", 0, i, "v" + std::to_string(i)));
  int committed = 0, step = 0, copies = 0;
  while (committed < n) {
    const int end = std::min(n, committed + batch);
    const bool crashes = step < static_cast<int>(crash.size()) && crash[static_cast<std::size_t>(step)];
    ++step;
    if (commit_first && crashes) {
      committed = end;  // committed, then died before sending
      continue;
    }
    for (int i = committed; i < end; ++i, ++copies)
      target.push_back(rec("dc1.orders", 0, static_cast<std::int64_t>(target.size()), "v" + std::to_string(i)));
    if (!crashes || commit_first) committed = end;  // at-least-once: a crash before the commit replays
  }
  r.poll(8, source);
  r.poll(9, target);
  *copies_out = copies;
}

}  // namespace

TEST_CASE("mirror: an at-least-once mirror loses nothing, keeps order, and its replays are the duplicates",
          "[invariants][mirror]") {
  rc::prop("send-then-commit under crashes", [] {
    const int n = *rc::gen::inRange(1, 40);
    const int batch = *rc::gen::inRange(1, 8);
    const auto crash = *rc::gen::container<std::vector<bool>>(30, rc::gen::weightedElement<bool>({{3, false}, {1, true}}));
    int copies = 0;
    Recorder r;
    modelled_run(r, n, batch, crash, false, &copies);
    const auto v = check_mirror(r.h, k_options);
    RC_ASSERT(!has(v, "mirror-lost"));
    RC_ASSERT(!has(v, "mirror-order"));
    RC_ASSERT(has(v, "duplicate") == (copies > n));
  });
}

TEST_CASE("mirror: committing before sending loses the batch a crash interrupts", "[invariants][mirror]") {
  rc::prop("commit-then-send under crashes", [] {
    const int n = *rc::gen::inRange(2, 40);
    const int batch = *rc::gen::inRange(1, 8);
    auto crash = *rc::gen::container<std::vector<bool>>(30, rc::gen::arbitrary<bool>());
    crash[0] = true;  // at least the first batch is lost
    int copies = 0;
    Recorder r;
    modelled_run(r, n, batch, crash, true, &copies);
    const auto v = check_mirror(r.h, k_options);
    RC_ASSERT(has(v, "mirror-lost"));
    RC_ASSERT(!has(v, "duplicate"));
  });
}
