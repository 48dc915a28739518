#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <sstream>

#include "invariants/checker.h"
#include "invariants/history.h"

using namespace samsa::invariants;

TEST_CASE("history: written as JSON lines in DESIGN.md's format", "[invariants][history]") {
  std::int64_t now = 1234567;
  History h([&now] { return now; });
  const auto p = h.new_process();
  h.invoke(p, "send", {{"topic", "orders"}, {"key", "k7"}, {"value", "3-41"}});
  now = 1240000;
  h.ok(p, "send", {{"topic", "orders"}, {"key", "k7"}, {"value", "3-41"}, {"partition", 2}, {"offset", 105}});
  h.nemesis("crash", {{"node", "broker-2"}});
  std::stringstream out;
  h.write_jsonl(out);
  std::string line;
  std::getline(out, line);
  CHECK(line ==
        R"({"f":"send","index":0,"process":0,"time_ns":1234567,"type":"invoke","value":{"key":"k7","topic":"orders","value":"3-41"}})");
  std::getline(out, line);
  std::getline(out, line);
  CHECK(line == R"({"f":"crash","index":2,"process":"nemesis","time_ns":1240000,"type":"info","value":{"node":"broker-2"}})");
}

TEST_CASE("history: what is written reads back the same", "[invariants][history]") {
  rc::prop("write_jsonl then read_jsonl is the identity", [](std::vector<std::tuple<std::uint8_t, std::uint8_t, std::int32_t>> ops) {
    std::int64_t now = 0;
    History h([&now] { return now; });
    for (auto [process, type, v] : ops) {
      now += v & 0xff;
      const std::int64_t p = process % 5 == 4 ? k_nemesis : process % 5;
      const char* f = type % 2 ? "send" : "poll";
      switch (type % 4) {
        case 0: h.invoke(p, f, v); break;
        case 1: h.ok(p, f, {{"v", v}}); break;
        case 2: h.fail(p, f); break;
        default: h.info(p, f, "x"); break;
      }
    }
    std::stringstream text;
    h.write_jsonl(text);
    auto back = History::read_jsonl(text, "h.jsonl");
    RC_ASSERT(back.ok());
    RC_ASSERT(back->size() == h.size());
    for (std::size_t i = 0; i < h.size(); ++i) RC_ASSERT(to_jsonl(back->ops()[i]) == to_jsonl(h.ops()[i]));
  });
}

TEST_CASE("history: a bad line names file:line:col", "[invariants][history]") {
  std::stringstream text(
      "{\"process\":0,\"type\":\"invoke\",\"f\":\"send\"}\n\n{\"process\":0,\"type\":\"ok\",\"f\":\n");
  auto r = History::read_jsonl(text, "h.jsonl");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().to_string().starts_with("h.jsonl:3:"));
  std::stringstream bad_type("{\"process\":0,\"type\":\"maybe\",\"f\":\"send\"}\n");
  auto t = History::read_jsonl(bad_type, "h.jsonl");
  REQUIRE_FALSE(t.ok());
  CHECK(t.error().to_string() == "h.jsonl:1:1: \"type\" must be one of invoke, ok, fail, info");
}

TEST_CASE("history: the header is the first line, streamed and written, and reads back", "[invariants][history]") {
  const nlohmann::json header = {{"scenario", "groups/at-least-once"}, {"seed", 7}, {"sets", {"workload.records=120"}}};
  auto streamed = std::make_shared<std::stringstream>();
  History h;
  h.stream_to(streamed);
  h.set_header(header);
  const auto p = h.new_process();
  h.invoke(p, "send", {{"value", "p1-0"}});
  std::stringstream written;
  h.write_jsonl(written);
  CHECK(written.str() == streamed->str());
  std::string first;
  std::getline(*streamed, first);
  CHECK(first == R"({"header":{"scenario":"groups/at-least-once","seed":7,"sets":["workload.records=120"]}})");
  auto back = History::read_jsonl(written, "h.jsonl");
  REQUIRE(back.ok());
  CHECK(back->header() == header);
  REQUIRE(back->size() == 1);
  CHECK(back->ops()[0].index == 0);
  // A header after an op is not a header: the file was put together wrongly.
  std::stringstream late("{\"process\":0,\"type\":\"invoke\",\"f\":\"send\"}\n{\"header\":{}}\n");
  auto r = History::read_jsonl(late, "h.jsonl");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().to_string() == "h.jsonl:2:1: a header is the history's first line");
}

TEST_CASE("history: a Process ends a pending operation as info when it goes away", "[invariants][history]") {
  History h;
  {
    Process p(h);
    p.invoke("send", 1);
    p.ok("send", 1);
    p.invoke("send", 2);
  }  // a crash unwinds the client here
  REQUIRE(h.size() == 4);
  CHECK(h.ops()[3].type == OpType::info);
  CHECK(h.ops()[3].f == "send");
  CHECK(check_well_formed(h, {}).empty());
}

TEST_CASE("history: each op keeps the f it was recorded with, before and after a move",
          "[invariants][history]") {
  // Names of one length that differ late, and a prefix, exercise the
  // recorder's check of the name it interned last.
  rc::prop("ops()[i].f is the i-th name recorded", [](std::vector<std::uint8_t> picks) {
    static const std::vector<std::string> names = {"send", "sene", "poll", "sen", "", "send-end"};
    History h;
    std::vector<std::string> want;
    for (std::uint8_t k : picks) {
      std::string f = names[k % names.size()];  // a fresh buffer every time
      want.push_back(f);
      h.ok(k % 3, f, k);
    }
    History moved = std::move(h);
    moved.info(0, "send-end");
    want.push_back("send-end");
    RC_ASSERT(moved.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) RC_ASSERT(moved.ops()[i].f == want[i]);
  });
}
