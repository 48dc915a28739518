// libFuzzer target over typed frame decoding (tools/fuzz decode-typed).
// Input: one selector byte, then a frame, as decode_fuzz.cpp. The frame is
// decoded as a request through the typed path (typed_api.h, from a shared
// frame so record sets are views) and as the response of the (api, version)
// the selector picks. The typed path is checked against the generic engine
// on every input: both accept or both reject, at the same byte offset with
// the same path; what decodes re-encodes to the bytes the generic engine
// writes for the same frame, and decodes again to an equal struct.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "system/protocol/typed_api.h"

namespace p = samsa::protocol;

namespace {

std::vector<std::pair<const p::ApiSpec*, std::int16_t>> all_versions() {
  std::vector<std::pair<const p::ApiSpec*, std::int16_t>> out;
  for (const p::ApiSpec& api : p::supported_apis()) {
    for (std::int16_t v = api.min_version; v <= api.max_version; ++v) out.emplace_back(&api, v);
  }
  return out;
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "decode_typed_fuzz: %s\n", what);
    std::abort();
  }
}

template <class T, class U>
void same_outcome(const T& typed, const U& generic, const char* what) {
  check(typed.ok() == generic.ok(), what);
  if (!typed.ok()) {
    check(typed.error().offset == generic.error().offset, "typed and generic errors at different offsets");
    check(typed.error().path == generic.error().path, "typed and generic errors name different paths");
  }
}

void fuzz_request(const p::SharedFrame& frame) {
  auto typed = p::decode_any_request_frame(frame);
  auto generic = p::decode_request(*frame);
  same_outcome(typed, generic, "typed and generic engines disagree on a request");
  if (!typed) return;
  const samsa::Bytes again =
      std::visit([&](const auto& m) { return p::encode_request_frame(typed->header, m); }, typed->body);
  check(again == p::encode_request(generic->header, generic->body), "typed request bytes differ from generic");
  auto back = p::decode_any_request_frame(p::share_frame(again));
  check(back.ok() && back->header == typed->header && back->body == typed->body, "typed request changed");
}

template <class M>
void fuzz_response_as(const p::SharedFrame& frame, std::int16_t version) {
  auto typed = p::decode_response_frame<M>(frame, version);
  auto generic = p::decode_response(*frame, M::k_api_key, version);
  same_outcome(typed, generic, "typed and generic engines disagree on a response");
  if (!typed) return;
  check(typed->version == generic->version, "typed and generic read different versions");
  const samsa::Bytes again = p::encode_response_frame(typed->version, typed->correlation_id, typed->body, typed->tags);
  check(again == p::encode_response(M::k_api_key, generic->version, generic->correlation_id, generic->body,
                                    generic->tags),
        "typed response bytes differ from generic");
  auto back = p::decode_response_frame<M>(p::share_frame(again), typed->version);
  check(back.ok() && back->body == typed->body, "typed response changed");
}

void fuzz_response(const p::SharedFrame& frame, p::ApiKey key, std::int16_t version) {
  [&]<class... Ms>(const std::variant<Ms...>*) {
    ((Ms::k_api_key == key ? fuzz_response_as<Ms>(frame, version) : void()), ...);
  }(static_cast<const p::AnyResponse*>(nullptr));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const auto versions = all_versions();
  // The frame in a buffer of its own size, so ASan sees any read past it.
  const auto frame = p::share_frame(samsa::Bytes(data + 1, data + size));
  fuzz_request(frame);
  const auto& [api, version] = versions[data[0] % versions.size()];
  fuzz_response(frame, api->key, version);
  return 0;
}
