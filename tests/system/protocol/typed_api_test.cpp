// Whole frames through the typed path (typed_api.h): random frames from the
// generic engine, every golden frame of tests/data/frames, and every strict
// prefix of a frame.
#include <catch2/catch.hpp>
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>

#include "system/protocol/typed_api.h"
#include "tests/system/protocol/message_gen.h"

using namespace samsa;
using namespace samsa::protocol;
using namespace samsa::protocol::test_gen;

namespace {

Bytes encode_any_request(const RequestHeader& h, const AnyRequest& body) {
  return std::visit([&](const auto& m) { return encode_request_frame(h, m); }, body);
}

// Decodes a response frame of `key` as its typed struct and re-encodes it.
Result<Bytes, DecodeError> typed_response_round_trip(const SharedFrame& frame, ApiKey key, std::int16_t v) {
  // The response type of `key`, found through the request variant's order
  // (both variants list the apis in the same order).
  Result<Bytes, DecodeError> out = Err{DecodeError{0, "no such api"}};
  auto try_one = [&]<class M>(const M*) {
    if (M::k_api_key != key) return;
    auto resp = decode_response_frame<M>(frame, v);
    if (!resp) {
      out = Err{resp.error()};
      return;
    }
    out = encode_response_frame(resp->version, resp->correlation_id, resp->body, resp->tags);
  };
  [&]<class... Ms>(const std::variant<Ms...>*) { (try_one(static_cast<const Ms*>(nullptr)), ...); }(
      static_cast<const AnyResponse*>(nullptr));
  return out;
}

Bytes load(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in.good());
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("typed frames: random requests and responses re-encode byte for byte", "[protocol][typed]") {
  rc::prop("a request frame decodes to its header and typed body and encodes back to the same bytes", [] {
    for (auto [api, v] : all_versions()) {
      const RequestHeader h = gen_header(*api, v);
      const Bytes frame = encode_request(h, gen_body(*api->request, v));
      auto back = decode_any_request_frame(share_frame(frame));
      if (!back) RC_FAIL(std::string(api->name) + " v" + std::to_string(v) + ": " + describe(back.error()));
      require(back->header == h, *api, v, "header differs");
      require(encode_any_request(back->header, back->body) == frame, *api, v, "request bytes differ");
    }
  });
  rc::prop("a response frame decodes typed and encodes back to the same bytes", [] {
    for (auto [api, v] : all_versions()) {
      const auto correlation_id = *rc::gen::arbitrary<std::int32_t>();
      std::vector<UnknownTag> tags;
      if (response_header_version(api->key, v) >= 1 && *rc::gen::inRange(0, 4) == 0) {
        tags.push_back(UnknownTag{3, Bytes{1}});
      }
      const Bytes frame = encode_response(api->key, v, correlation_id, gen_body(*api->response, v), tags);
      auto back = typed_response_round_trip(share_frame(frame), api->key, v);
      if (!back) RC_FAIL(std::string(api->name) + " v" + std::to_string(v) + ": " + describe(back.error()));
      require(*back == frame, *api, v, "response bytes differ");
    }
  });
}

TEST_CASE("typed frames: every strict prefix fails with an offset inside the frame", "[protocol][typed]") {
  rc::prop("cut requests and responses are errors at an in-frame offset", [] {
    for (auto [api, v] : all_versions()) {
      const Bytes req = encode_request(gen_header(*api, v), gen_body(*api->request, v));
      const Bytes resp = encode_response(api->key, v, 7, gen_body(*api->response, v));
      for (std::size_t len = 4; len < req.size(); ++len) {
        const Bytes cut = with_size_prefix(ByteView(req).subspan(4, len - 4));
        auto r = decode_any_request_frame(share_frame(cut));
        require(!r.ok(), *api, v, "a cut request decodes");
        require(r.error().offset <= cut.size(), *api, v, "error offset past the end");
        const Bytes prefix(req.begin(), req.begin() + static_cast<std::ptrdiff_t>(len));
        require(!decode_any_request_frame(share_frame(prefix)).ok(), *api, v, "a request prefix decodes");
      }
      for (std::size_t len = 4; len < resp.size(); ++len) {
        const Bytes cut = with_size_prefix(ByteView(resp).subspan(4, len - 4));
        auto r = typed_response_round_trip(share_frame(cut), api->key, v);
        if (r.ok()) {
          // Kafka's ApiVersions fallback: a v0 prefix with UNSUPPORTED_VERSION.
          require(api->key == ApiKey::api_versions && v > 0, *api, v, "a cut response decodes");
          continue;
        }
        require(r.error().offset <= cut.size(), *api, v, "error offset past the end");
      }
    }
  });
}

TEST_CASE("typed frames: errors name the same offset and path as the generic engine", "[protocol][typed]") {
  rc::prop("a cut request fails at the generic engine's offset and path", [] {
    for (auto [api, v] : all_versions()) {
      const Bytes req = encode_request(gen_header(*api, v), gen_body(*api->request, v));
      const auto len = *rc::gen::inRange<std::size_t>(4, req.size());
      const Bytes cut = with_size_prefix(ByteView(req).subspan(4, len - 4));
      auto typed = decode_any_request_frame(share_frame(cut));
      auto generic = decode_request(cut);
      require(!typed.ok() && !generic.ok(), *api, v, "a cut request decodes");
      require(typed.error().offset == generic.error().offset, *api, v, "offsets differ");
      require(typed.error().path == generic.error().path, *api, v, "paths differ");
      require(typed.error().message == generic.error().message, *api, v, "messages differ");
    }
  });
}

TEST_CASE("typed frames: every golden frame decodes and re-encodes byte for byte", "[protocol][typed]") {
  const std::regex name_re(R"(-([A-Za-z]+)-v(\d+)-(request|response)(-\d+)?\.bin$)");
  int requests = 0;
  int responses = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(SAMSA_TEST_DATA_DIR) / "frames")) {
    const std::string name = entry.path().filename().string();
    std::smatch m;
    if (!std::regex_search(name, m, name_re)) continue;
    INFO(name);
    const ApiSpec* api = find_api(std::string_view(m[1].str()));
    REQUIRE(api != nullptr);
    const auto v = static_cast<std::int16_t>(std::stoi(m[2].str()));
    const Bytes frame = load(entry.path());
    if (m[3] == "request") {
      auto req = decode_any_request_frame(share_frame(frame));
      if (!req) FAIL(describe(req.error()));
      CHECK(req->header.api_key == api->key);
      CHECK(encode_any_request(req->header, req->body) == frame);
      ++requests;
    } else if (name.starts_with("mock") && name.find("ApiVersions-v3-response") != std::string::npos) {
      // librdkafka's mock writes a malformed v3 answer (golden_test.cpp):
      // the typed path must say what the generic one says.
      auto back = typed_response_round_trip(share_frame(frame), api->key, v);
      REQUIRE_FALSE(back.ok());
      CHECK(describe(back.error()) == "byte 16: 5 bytes after the end of the message");
    } else {
      auto back = typed_response_round_trip(share_frame(frame), api->key, v);
      if (!back) FAIL(describe(back.error()));
      CHECK(*back == frame);
      ++responses;
    }
  }
  CHECK(requests >= 40);
  CHECK(responses >= 20);
}

TEST_CASE("typed frames: a Produce request's records stay views of the frame", "[protocol][typed]") {
  const Bytes produce = load(std::filesystem::path(SAMSA_TEST_DATA_DIR) / "frames" / "kcat-produce-Produce-v7-request.bin");
  const SharedFrame frame = share_frame(produce);
  auto req = decode_request_as<ProduceRequest>(frame);
  REQUIRE(req.ok());
  const Records& records = *req->body.topic_data.at(0).partition_data.at(0).records;
  CHECK(records.owner() == frame);
  CHECK(records.size() > 0);
  CHECK(records.view().data() > frame->data());
  // A handler that keeps the request keeps the frame.
  CHECK(frame.use_count() >= 2);
  // Asking for the wrong type is an error, not a crash.
  auto wrong = decode_request_as<FetchRequest>(frame);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().message == "request is Produce, not FetchRequest");
}

TEST_CASE("typed frames: a response frame carries Kafka's header version", "[protocol][typed]") {
  RequestHeader h;
  h.api_key = ApiKey::metadata;
  h.api_version = 12;
  h.correlation_id = 99;
  MetadataResponse resp;
  resp.controller_id = BrokerId(1);
  auto& t = resp.topics.emplace_back();
  t.name = "orders";
  auto& p = t.partitions.emplace_back();
  p.partition_index = PartitionId(0);
  p.leader_id = BrokerId(2);
  p.leader_epoch = LeaderEpoch(7);
  p.replica_nodes = {BrokerId(2), BrokerId(1)};
  const Bytes frame = encode_response_frame(h, resp);
  auto generic = decode_response(frame, ApiKey::metadata, 12);
  REQUIRE(generic.ok());
  CHECK(generic->correlation_id == 99);
  auto typed = decode_response_frame<MetadataResponse>(share_frame(frame), 12);
  REQUIRE(typed.ok());
  CHECK(typed->body == resp);
  CHECK(to_json(resp, 12).find("\"LeaderEpoch\": 7") != std::string::npos);
  // ApiVersions answers use response header v0 even at v3.
  ApiVersionsResponse av;
  av.error_code = ErrorCode::unsupported_version;
  const Bytes v0 = encode_response_frame(std::int16_t{0}, 5, av);
  auto fallback = decode_response_frame<ApiVersionsResponse>(share_frame(v0), 3);
  REQUIRE(fallback.ok());
  CHECK(fallback->version == 0);
  CHECK(fallback->body.error_code == ErrorCode::unsupported_version);
}

// Records viewing a file mapping become splices of a frame in parts (the
// live network sends them with sendfile); the flattened frame is the frame
// encode_response_frame writes, at every Fetch version.
TEST_CASE("a fetch response in parts flattens to the same frame, mapped records spliced", "[protocol]") {
  rc::prop("encode_response_parts", [] {
    const auto version = *rc::gen::inRange<std::int16_t>(4, 14);
    const auto sizes = *rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(0, 300));
    Bytes file(1000);
    for (std::size_t i = 0; i < file.size(); ++i) file[i] = static_cast<std::uint8_t>(i * 13);
    auto map = std::make_shared<sim::ReadMapping>(file, 0);
    FetchResponse resp;
    auto& t = resp.responses.emplace_back();
    t.topic = "t";
    std::size_t spliced = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      auto& p = t.partitions.emplace_back();
      p.partition_index = PartitionId(static_cast<std::int32_t>(i));
      p.high_watermark = Offset(static_cast<std::int64_t>(i * 3));
      const ByteView v = map->bytes().subspan(i % 7, sizes[i]);
      p.records = i % 3 == 2 ? Records::copy_of(v) : Records::of_mapping(map, v);  // some plain
      if (i % 3 != 2 && !v.empty()) ++spliced;
    }
    RequestHeader h;
    h.api_key = ApiKey::fetch;
    h.api_version = version;
    h.correlation_id = 17;
    const sim::FrameParts parts = encode_response_parts(h, resp);
    RC_ASSERT(parts.splices.size() == spliced);
    RC_ASSERT(parts.flatten() == encode_response_frame(h, resp));
    RC_ASSERT(parts.size() == parts.flatten().size());
  });
}
