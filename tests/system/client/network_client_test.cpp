// NetworkClient (system/client/network_client.h) against a scripted server
// on the simulated network: answers pair with their requests in order, the
// in-flight limit holds, request.timeout.ms closes the connection and asks
// for metadata, reconnect backoff grows exponentially to its maximum.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include "system/client/network_client.h"
#include "tests/sim/world_helpers.h"

using namespace samsa::testing;
using namespace samsa::client;
namespace p = samsa::protocol;

namespace {

// Answers each ApiVersions request with throttle_time_ms = its correlation
// id, after `delay`; silent servers never answer.
struct ScriptedServer {
  Duration delay{0};
  bool silent = false;
  int requests = 0;
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
          auto req = p::decode_request_frame(p::share_frame(std::move(*f)));
          REQUIRE(req.ok());
          ++requests;
          if (silent) continue;
          if (delay > Duration(0)) rt.sleep(delay);
          p::ApiVersionsResponse resp;
          resp.throttle_time_ms = req->header.correlation_id;
          (void)conn->send(p::encode_response_frame(req->header, resp));
        }
      });
    }
  }
};

samsa::client::NetworkConfig config(std::int32_t max_in_flight) {
  samsa::client::NetworkConfig c;
  c.client_id = "test";
  c.request_timeout_ms = 1000;
  c.max_in_flight = max_in_flight;
  return c;
}

p::ApiVersionsRequest api_versions() {
  p::ApiVersionsRequest r;
  r.client_software_name = "samsa";
  r.client_software_version = "0";
  return r;
}

}  // namespace

TEST_CASE("network client: answers pair with their requests in order; never more than max.in.flight",
          "[client][network]") {
  rc::prop("callbacks in send order, each with its own answer", [](std::uint64_t seed) {
    const int limit = *rc::gen::inRange(1, 6);
    const int count = *rc::gen::inRange(1, 30);
    World w(quiet_config(seed));
    ScriptedServer server;
    server.delay = std::chrono::milliseconds(*rc::gen::inRange(0, 5));
    const NodeId s = w.add_node("s", [&](Runtime& rt) { server.serve(rt); });
    std::vector<std::int32_t> sent, answered;
    bool over_limit = false;
    const NodeId c = w.add_node("c", [&](Runtime& rt) {
      auto scope = rt.make_scope("client");
      NetworkClient net(rt, config(limit), *scope, nullptr, "conn.");
      const Node node{{"s", 9092}};
      while (static_cast<int>(sent.size()) < count) {
        if (!net.can_send(node, rt.now())) {
          net.wait_change(rt.now() + 10ms, "test");
          continue;
        }
        const std::int32_t id = net.send(node, api_versions(), 3, true, [&](const p::SharedFrame* f, const std::string&) {
          RC_ASSERT(f != nullptr);
          auto r = p::decode_response_frame<p::ApiVersionsResponse>(*f, 3);
          RC_ASSERT(r.ok());
          RC_ASSERT(r->correlation_id == r->body.throttle_time_ms);
          answered.push_back(r->correlation_id);
        });
        sent.push_back(id);
        if (static_cast<int>(net.in_flight(node)) > limit) over_limit = true;
      }
      while (answered.size() < sent.size()) net.wait_change(rt.now() + 10ms, "test");
      scope->stop();
    });
    w.start(s);
    w.start(c);
    w.run(60s);
    RC_ASSERT(!over_limit);
    RC_ASSERT(answered == sent);
  });
}

TEST_CASE("network client: a request unanswered for request.timeout.ms closes the connection and asks for metadata",
          "[client][network]") {
  World w(quiet_config(7));
  ScriptedServer server;
  server.silent = true;
  const NodeId s = w.add_node("s", [&](Runtime& rt) { server.serve(rt); });
  std::optional<Duration> waited;
  bool result_empty = false, update_requested = false, ready_in_backoff = true;
  std::uint64_t disconnects = 0;
  const NodeId c = w.add_node("c", [&](Runtime& rt) {
    auto scope = rt.make_scope("client");
    Metadata md({{"s", 9092}}, 300000, 100);
    md.update(p::MetadataResponse{}, rt.now());
    NetworkClient net(rt, config(5), *scope, &md, "conn.");
    const Node node{{"s", 9092}};
    const auto start = rt.now();
    auto r = net.call<p::ApiVersionsResponse>(node, api_versions(), 3, 1000ms);
    waited = rt.now() - start;
    result_empty = !r.has_value();
    update_requested = md.update_requested();
    disconnects = net.disconnects();
    ready_in_backoff = net.ready(node, rt.now()) || net.connecting_or_ready(node);
    scope->stop();
  });
  w.start(s);
  w.start(c);
  w.run(60s);
  REQUIRE(waited);
  CHECK(result_empty);
  CHECK(*waited >= 1000ms);
  CHECK(*waited < 1100ms);
  CHECK(update_requested);
  CHECK(disconnects == 1);
  CHECK_FALSE(ready_in_backoff);  // reconnect.backoff.ms holds the node back
  CHECK(server.requests == 1);
}

TEST_CASE("network client: reconnect backoff doubles from reconnect.backoff.ms up to reconnect.backoff.max.ms",
          "[client][network]") {
  World w(quiet_config(3));
  // No server listens on s: every connect fails.
  const NodeId s = w.add_node("s", [&](Runtime& rt) { rt.sleep(1h); });
  std::vector<std::int64_t> attempts_ms;
  const NodeId c = w.add_node("c", [&](Runtime& rt) {
    auto scope = rt.make_scope("client");
    NetworkClient net(rt, config(5), *scope, nullptr, "conn.");
    const Node node{{"s", 9092}};
    while (attempts_ms.size() < 8) {
      net.ready(node, rt.now());
      if (net.connecting_or_ready(node)) {
        attempts_ms.push_back(to_ms(rt.now().since_epoch));
        while (net.connecting_or_ready(node)) net.wait_change(rt.now() + 10s, "test");
      } else {
        rt.sleep(1ms);
      }
    }
    scope->stop();
  });
  w.start(s);
  w.start(c);
  w.run(60s);
  REQUIRE(attempts_ms.size() == 8);
  const std::int64_t expected[] = {50, 100, 200, 400, 800, 1000, 1000};
  for (std::size_t i = 0; i + 1 < attempts_ms.size(); ++i) {
    INFO("attempt " << i);
    const std::int64_t gap = attempts_ms[i + 1] - attempts_ms[i];
    CHECK(gap >= expected[i]);
    CHECK(gap <= expected[i] + 50);  // plus the failed connect's round trip
  }
}
