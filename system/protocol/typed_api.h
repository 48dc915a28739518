#pragma once
// Whole Kafka frames in and out of the typed messages, so that handler code
// never touches the generic Value: a request frame decodes to its header and
// typed body, a typed response encodes to a frame with the response header
// version api.h's rules give (ApiVersions responses always header v0).
//
// Frames are shared buffers (SharedFrame): record sets decoded from one keep
// the frame alive and refer to its bytes (Records in typed.h), so a Produce
// request can wait in purgatory without a copy. The same errors as the
// generic decode_request / decode_response: offsets count from the start of
// the frame, paths start with "body", bytes after the body are an error.
#include <memory>
#include <string>

#include "system/protocol/typed_messages.h"

namespace samsa::protocol {

using SharedFrame = std::shared_ptr<const Bytes>;
inline SharedFrame share_frame(Bytes frame) { return std::make_shared<const Bytes>(std::move(frame)); }

template <class M>
struct TypedRequest {
  RequestHeader header;
  M body;
};

template <class M>
struct TypedResponse {
  std::int32_t correlation_id = 0;
  // The version the body was read at (ApiVersions' v0 fallback, as decode_response).
  std::int16_t version = 0;
  std::vector<UnknownTag> tags;  // response header v1 tagged fields
  M body;
};

// A request frame with its header decoded, ready to decode the body by type.
struct RequestFrame {
  RequestHeader header;
  SharedFrame frame;            // the whole frame, size prefix included
  std::size_t body_offset = 0;  // where the body starts in *frame

  // The body as M; an error if M is not the header's api (a bug in a
  // dispatcher, but the frame came from outside) or the body does not parse.
  template <class M>
  Result<M, DecodeError> body() const;
  Result<AnyRequest, DecodeError> any_body() const;

 private:
  Reader body_reader() const;
};

// Reads the size prefix and the request header (unsupported api or version
// is an error, as decode_request_header).
Result<RequestFrame, DecodeError> decode_request_frame(SharedFrame frame);

// Header and typed body in one call.
template <class M>
Result<TypedRequest<M>, DecodeError> decode_request_as(SharedFrame frame) {
  static_assert(M::k_is_request);
  SAMSA_TRY(rf, decode_request_frame(std::move(frame)));
  SAMSA_TRY(body, rf.template body<M>());
  return TypedRequest<M>{std::move(rf.header), std::move(body)};
}

struct AnyRequestFrame {
  RequestHeader header;
  AnyRequest body;  // std::visit it to dispatch
};
Result<AnyRequestFrame, DecodeError> decode_any_request_frame(SharedFrame frame);

// Bytes reserved up front for an encoded frame: most frames fit, so the
// writer does not regrow the vector field by field (issue 14's profile).
inline constexpr std::size_t k_frame_reserve = 512;

template <class M>
Bytes encode_request_frame(const RequestHeader& header, const M& body) {
  static_assert(M::k_is_request);
  SAMSA_ASSERT(header.api_key == M::k_api_key, "request header names another api");
  Bytes out;
  out.reserve(k_frame_reserve);
  Writer w(out);
  w.int32(0);
  write_request_header(header, w);
  body.encode(w, header.api_version);
  w.patch_int32(0, static_cast<std::int32_t>(out.size() - 4));
  return out;
}

template <class M>
Bytes encode_response_frame(std::int16_t version, std::int32_t correlation_id, const M& body,
                            const std::vector<UnknownTag>& header_tags = {}) {
  static_assert(!M::k_is_request);
  Bytes out;
  out.reserve(k_frame_reserve);
  Writer w(out);
  w.int32(0);
  write_response_header(M::k_api_key, version, correlation_id, header_tags, w);
  body.encode(w, version);
  w.patch_int32(0, static_cast<std::int32_t>(out.size() - 4));
  return out;
}
// The answer to `request`: its version and correlation id.
template <class M>
Bytes encode_response_frame(const RequestHeader& request, const M& body) {
  SAMSA_ASSERT(request.api_key == M::k_api_key, "response to a request of another api");
  return encode_response_frame(request.api_version, request.correlation_id, body);
}

// The same as a frame in parts: mapped records (Records::of_mapping) are
// splices, not copies (the live network sends them with sendfile);
// flatten() gives encode_response_frame's bytes.
template <class M>
sim::FrameParts encode_response_parts(const RequestHeader& request, const M& body) {
  static_assert(!M::k_is_request);
  SAMSA_ASSERT(request.api_key == M::k_api_key, "response to a request of another api");
  sim::FrameParts out;
  out.bytes.reserve(k_frame_reserve);
  Writer w(out.bytes, out.splices);
  w.int32(0);
  write_response_header(M::k_api_key, request.api_version, request.correlation_id, {}, w);
  body.encode(w, request.api_version);
  w.patch_int32(0, static_cast<std::int32_t>(out.bytes.size() + w.spliced_bytes() - 4));
  return out;
}

namespace typed {
Result<TypedResponse<ApiVersionsResponse>, DecodeError> api_versions_fallback(const SharedFrame& frame,
                                                                               DecodeError first);
}  // namespace typed

// A response frame to a request of M's api at `version`. Like
// decode_response, an ApiVersions response that does not parse at `version`
// is read at v0 and accepted if it carries UNSUPPORTED_VERSION.
template <class M>
Result<TypedResponse<M>, DecodeError> decode_response_frame(const SharedFrame& frame, std::int16_t version) {
  static_assert(!M::k_is_request);
  SAMSA_TRY(payload, frame_payload(*frame));
  Reader r(payload, 4, frame);
  TypedResponse<M> out;
  out.version = version;
  SAMSA_TRY(header, decode_response_header(r, M::k_api_key, version));
  out.correlation_id = header.correlation_id;
  out.tags = std::move(header.tags);
  auto body = M::decode(r, version);
  Result<void, DecodeError> st = body ? expect_end(r) : Result<void, DecodeError>(Err{in_body(body.error())});
  if (!st) {
    if constexpr (M::k_api_key == ApiKey::api_versions) {
      if (version != 0) return typed::api_versions_fallback(frame, st.error());
    }
    return Err{st.error()};
  }
  out.body = std::move(body).value();
  return out;
}

// JSON of a typed message, Kafka field names (through the generic engine:
// for logs and `samsa decode`, not for hot paths).
template <class M>
std::string to_json(const M& m, std::int16_t version, const RecordsPrinter& records = {}) {
  Bytes body;
  Writer w(body);
  m.encode(w, version);
  Reader r(body);
  auto v = decode_message(M::spec(), version, r);
  SAMSA_ASSERT(v.ok(), "a typed message the generic engine cannot read back");
  return message_to_json(M::spec(), *v, records);
}

template <class M>
Result<M, DecodeError> RequestFrame::body() const {
  static_assert(M::k_is_request);
  if (header.api_key != M::k_api_key) {
    return Err{DecodeError{4, "request is " + std::string(find_api(static_cast<std::int16_t>(header.api_key))->name) +
                                  ", not " + std::string(M::k_name)}};
  }
  Reader r = body_reader();
  auto m = M::decode(r, header.api_version);
  if (!m) return Err{in_body(m.error())};
  if (auto st = expect_end(r); !st) return Err{st.error()};
  return m;
}

}  // namespace samsa::protocol
