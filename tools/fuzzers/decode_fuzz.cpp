// libFuzzer target over frame decoding (tools/fuzz decode). Input: one
// selector byte, then a frame. The frame is decoded as a request (api and
// version from its header) and as a response of the (api, version) the
// selector picks from the api table. Whatever decodes must print, and must
// re-encode to bytes that decode to the same value.
//
// SAMSA_FUZZ_SKIP_RECORDS=1 prints record sets as hex instead of parsing
// them as record batches, to keep fuzzing the codec while a finding in the
// record batch reader is open.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <utility>
#include <vector>

#include "system/protocol/api.h"

namespace p = samsa::protocol;

namespace {

p::RecordsPrinter records_printer() {
  const char* skip = std::getenv("SAMSA_FUZZ_SKIP_RECORDS");
  if (skip != nullptr && skip[0] == '1') return {};
  return p::records_to_json;
}

std::vector<std::pair<const p::ApiSpec*, std::int16_t>> all_versions() {
  std::vector<std::pair<const p::ApiSpec*, std::int16_t>> out;
  for (const p::ApiSpec& api : p::supported_apis()) {
    for (std::int16_t v = api.min_version; v <= api.max_version; ++v) out.emplace_back(&api, v);
  }
  return out;
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "decode_fuzz: %s\n", what);
    std::abort();
  }
}

void fuzz_request(samsa::ByteView frame) {
  auto req = p::decode_request(frame);
  if (!req) return;
  static const p::RecordsPrinter records = records_printer();
  (void)p::request_to_json(*req, records);
  const samsa::Bytes again = p::encode_request(req->header, req->body);
  auto back = p::decode_request(again);
  check(back.ok(), "re-encoded request does not decode");
  check(back->header == req->header && back->body == req->body, "request changed in a round trip");
}

void fuzz_response(samsa::ByteView frame, const p::ApiSpec& api, std::int16_t version) {
  auto resp = p::decode_response(frame, api.key, version);
  if (!resp) return;
  static const p::RecordsPrinter records = records_printer();
  (void)p::response_to_json(*resp, api.key, records);
  const samsa::Bytes again = p::encode_response(api.key, resp->version, resp->correlation_id, resp->body, resp->tags);
  auto back = p::decode_response(again, api.key, resp->version);
  check(back.ok(), "re-encoded response does not decode");
  check(back->body == resp->body && back->tags == resp->tags, "response changed in a round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const auto versions = all_versions();
  const samsa::ByteView frame(data + 1, size - 1);
  fuzz_request(frame);
  const auto& [api, version] = versions[data[0] % versions.size()];
  fuzz_response(frame, *api, version);
  return 0;
}
