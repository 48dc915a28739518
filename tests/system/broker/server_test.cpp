// The broker's request server: ApiVersions answers the dispatch table; bad
// frames from a client (the decode fuzz corpus, cut and flipped) close only
// that connection, with one log line each, and the broker goes on.
#include "system/broker/server.h"

#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "scenarios/broker/cluster.h"
#include "scenarios/broker/driver.h"
#include "system/broker/handlers.h"
#include "tests/sim/world_helpers.h"

using namespace samsa;
using namespace samsa::scenarios::broker;
using protocol::ApiKey;

namespace {

std::vector<Bytes> corpus_frames() {
  std::vector<Bytes> out;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(SAMSA_SOURCE_DIR "/tools/fuzzers/corpus/decode"))
    files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (s.size() < 6) continue;
    out.emplace_back(s.begin() + 1, s.end());  // after the selector byte
  }
  return out;
}

// The same frame with its body cut to `keep` bytes and the size prefix fixed.
Bytes cut(const Bytes& frame, std::size_t keep) {
  Bytes out(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(4 + keep));
  sim::put_frame_size(out, 0);
  return out;
}

}  // namespace

TEST_CASE("ApiVersions answers exactly the apis the dispatch table serves", "[broker][server]") {
  sim::World world(samsa::testing::quiet_config(1));
  std::vector<std::int16_t> answered, served;
  const auto n = world.add_node("n", [&](sim::Runtime& rt) {
    auto cfg = broker::make_broker_config({{"broker.id", "1"}});
    REQUIRE(cfg.ok());
    auto rm = std::make_shared<broker::ReplicaManager>(rt, *cfg);
    broker::Server server(rt, 1 << 20);
    broker::add_handlers(server, rm, nullptr);
    for (const auto& v : server.api_versions().api_keys) {
      answered.push_back(v.api_key);
      const auto* spec = protocol::find_api(v.api_key);
      REQUIRE(spec != nullptr);
      CHECK(v.min_version == spec->min_version);
      CHECK(v.max_version == spec->max_version);
    }
    for (const auto& api : protocol::supported_apis())
      if (server.serves(api.key)) served.push_back(static_cast<std::int16_t>(api.key));
  });
  world.start(n);
  (void)world.run(world.now() + std::chrono::seconds(1));
  CHECK(answered == served);
  CHECK(std::find(answered.begin(), answered.end(), 18) != answered.end());
  CHECK(std::find(answered.begin(), answered.end(), 0) != answered.end());
}

TEST_CASE("a served api limited below the table's versions is advertised with that limit",
          "[broker][server]") {
  sim::World world(samsa::testing::quiet_config(2));
  const auto n = world.add_node("n", [&](sim::Runtime& rt) {
    auto cfg = broker::make_broker_config({{"broker.id", "1"}});
    REQUIRE(cfg.ok());
    auto rm = std::make_shared<broker::ReplicaManager>(rt, *cfg);
    broker::Server server(rt, 1 << 20);
    broker::add_handlers(server, rm, nullptr);
    server.limit_max_version(ApiKey::metadata, 4);
    for (const auto& v : server.api_versions().api_keys) {
      const auto* spec = protocol::find_api(v.api_key);
      CHECK(v.max_version == (v.api_key == static_cast<std::int16_t>(ApiKey::metadata) ? 4 : spec->max_version));
    }
  });
  world.start(n);
  (void)world.run(world.now() + std::chrono::seconds(1));
}

TEST_CASE("a malformed, truncated or oversized frame closes its connection with one log line",
          "[broker][server]") {
  std::ostringstream log_text;
  auto wc = samsa::testing::quiet_config(3);
  wc.log_level = "warn";
  wc.log_sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text);
  sim::World world(wc);
  Cluster cluster(world, {1, {{"socket.request.max.bytes", "4096"}}});
  const auto frames = corpus_frames();
  REQUIRE(frames.size() > 20);
  std::size_t sent = 0, closed = 0, answered = 0;
  bool still_serving = false;
  std::uint64_t bad_frames = 0;
  const auto client = world.add_node("client", [&](sim::Runtime& rt) {
    RawClient probe(rt, "probe");
    for (int i = 0; i < 50 && !probe.call<protocol::ApiVersionsResponse>(cluster.address(1),
                                   protocol::ApiVersionsRequest{}, 3, std::chrono::seconds(1));
         ++i)
      rt.sleep(std::chrono::milliseconds(200));
    sim::Random rng = rt.random("mutations");
    std::vector<Bytes> bad;
    for (const auto& f : frames) {
      bad.push_back(f);                                  // as it is (many decode fine)
      bad.push_back(cut(f, (f.size() - 4) / 2));         // truncated body
      Bytes flipped = f;
      for (int k = 0; k < 4; ++k) flipped[4 + rng.uniform(0, static_cast<std::int64_t>(f.size()) - 5)] ^= 0xff;
      bad.push_back(std::move(flipped));
    }
    Bytes big(5000, 0x42);  // over socket.request.max.bytes
    sim::put_frame_size(big, 0);
    bad.push_back(big);
    for (const auto& frame : bad) {
      auto c = rt.net().connect(cluster.address(1), rt.deadline_after(std::chrono::seconds(1)));
      REQUIRE(c.ok());
      REQUIRE((*c)->send(frame).ok());
      ++sent;
      auto r = (*c)->recv(rt.deadline_after(std::chrono::seconds(2)));
      if (r) ++answered;
      else if (r.error() == sim::NetErrc::reset || r.error() == sim::NetErrc::closed) ++closed;
      (*c)->close();
    }
    // The broker still answers a well-formed request on a new connection.
    still_serving = probe.call<protocol::ApiVersionsResponse>(cluster.address(1), protocol::ApiVersionsRequest{},
                                                              3, std::chrono::seconds(2))
                        .has_value();
    bad_frames = cluster.node(1)->server->stats().bad_frames;
  });
  for (sim::NodeId n : world.node_ids()) world.start(n);
  (void)client;
  const auto r = world.run(world.now() + std::chrono::seconds(600));
  INFO(r.report);
  CHECK(r.reason != sim::StopReason::internal_error);
  CHECK(world.is_up(1));
  CHECK(still_serving);
  CHECK(sent == frames.size() * 3 + 1);
  CHECK(closed > frames.size());
  CHECK(closed + answered >= sent - 5);  // a few (acks=0 produce) get neither
  CHECK(bad_frames > 0);
  // One log line per closed connection.
  std::size_t lines = 0;
  std::istringstream in(log_text.str());
  for (std::string line; std::getline(in, line);)
    if (line.find("closing connection") != std::string::npos) ++lines;
  CHECK(lines == bad_frames);
}
