#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "invariants/kafka_checkers.h"
#include "invariants/timeline.h"

using namespace samsa::invariants;
using json = nlohmann::json;

namespace {

// A lost write under a crash: v0 acked at offset 0, the crash, v1 polled at offset 1.
History lost_write_history() {
  std::int64_t now = 0;
  History h([&now] { return now += 1'000'000; });
  h.invoke(0, "send", {{"topic", "t"}, {"value", "v0"}});
  h.ok(0, "send", {{"topic", "t"}, {"value", "v0"}, {"partition", 0}, {"offset", 0}});
  h.nemesis("crash", {{"node", "b1"}});
  h.invoke(0, "send", {{"topic", "t"}, {"value", "v1"}});
  h.info(0, "send", {{"topic", "t"}, {"value", "v1"}});
  h.invoke(0, "send", {{"topic", "t"}, {"value", "v<2>"}});
  h.fail(0, "send", {{"topic", "t"}, {"value", "v<2>"}});
  h.nemesis("crash-end", {{"node", "b1"}});
  h.nemesis("heal-all", json::object());
  h.invoke(1, "poll", json::object());
  h.ok(1, "poll", {{"records", {{{"topic", "t"}, {"partition", 0}, {"offset", 1}, {"value", "v1"}}}}});
  h.invoke(1, "poll", json::object());  // pending at the end
  return h;
}

}  // namespace

TEST_CASE("timeline: lanes, faults, bars by outcome and the violations with their ops", "[invariants][timeline]") {
  const History h = lost_write_history();
  const auto v = check_lost_write(h, {});
  REQUIRE(v.size() == 1);
  const std::string page = render_timeline(h, v, {"lost write", 1000, 10});
  CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(page.find("<svg") != std::string::npos);
  CHECK(page.find("http://") == page.find("http://www.w3.org/2000/svg"));  // nothing fetched
  CHECK(page.find("nemesis b1") != std::string::npos);
  CHECK(page.find("process 0") != std::string::npos);
  CHECK(page.find("process 1") != std::string::npos);
  CHECK(page.find("class=\"fault\"") != std::string::npos);
  // The violating ops are outlined and listed with the explanation.
  for (auto op : v[0].ops) {
    CHECK(page.find(fmt::format("id=\"op-{}\" class=\"op bad\"", op)) != std::string::npos);
    CHECK(page.find(fmt::format("href=\"#op-{}\"", op)) != std::string::npos);
  }
  CHECK(page.find("lost-write") != std::string::npos);
  CHECK(page.find("was never polled") != std::string::npos);
  // ok, info, fail and pending each have their colour; history text is escaped.
  for (const char* c : {"#5cb85c", "#f0ad4e", "#e06666", "#bbbbbb"}) CHECK(page.find(c) != std::string::npos);
  CHECK(page.find("v<2>") == std::string::npos);
  CHECK(page.find("v&lt;2&gt;") != std::string::npos);
}

TEST_CASE("timeline: an empty history still renders a page", "[invariants][timeline]") {
  const std::string page = render_timeline(History{}, {});
  CHECK(page.find("</html>") != std::string::npos);
  CHECK(page.find("0 operations") != std::string::npos);
}

TEST_CASE("timeline: leader observations draw a lane per partition, a segment per leader and epoch",
          "[invariants][timeline]") {
  std::int64_t now = 0;
  History h([&now] { return now += 1'000'000; });
  h.nemesis("leader", {{"topic", "t"}, {"partition", 0}, {"node", "b1"}, {"leader_epoch", 0}});
  h.nemesis("controller", {{"node", "b2"}, {"controller_epoch", 1}});
  h.nemesis("crash", {{"node", "b1"}, {"duration_ms", 100}});
  h.nemesis("leader", {{"topic", "t"}, {"partition", 0}, {"node", "b3"}, {"leader_epoch", 1}});
  h.nemesis("heal-all", json::object());
  const std::string page = render_timeline(h, {});
  CHECK(page.find(">leader t-0</text>") != std::string::npos);
  CHECK(page.find(">controller</text>") != std::string::npos);
  CHECK(page.find(">b1 e0</text>") != std::string::npos);
  CHECK(page.find(">b3 e1</text>") != std::string::npos);
  CHECK(page.find("id=\"op-0\" class=\"epoch\"") != std::string::npos);
  CHECK(page.find("id=\"op-3\" class=\"epoch\"") != std::string::npos);
  // Observations are no faults: the only fault lane is b1's crash.
  CHECK(page.find("nemesis b3") == std::string::npos);
  CHECK(page.find("nemesis b1") != std::string::npos);
}
