#include "system/protocol/typed_api.h"

namespace samsa::protocol {

Result<RequestFrame, DecodeError> decode_request_frame(SharedFrame frame) {
  SAMSA_ASSERT(frame != nullptr, "decoding a null frame");
  SAMSA_TRY(payload, frame_payload(*frame));
  Reader r(payload, 4);
  SAMSA_TRY(header, decode_request_header(r));
  RequestFrame out;
  out.header = std::move(header);
  out.body_offset = r.offset();
  out.frame = std::move(frame);
  return out;
}

Reader RequestFrame::body_reader() const {
  const ByteView all(*frame);
  return Reader(all.subspan(body_offset), body_offset, frame);
}

Result<AnyRequest, DecodeError> RequestFrame::any_body() const {
  Reader r = body_reader();
  auto m = decode_any_request(header.api_key, header.api_version, r);
  if (!m) return Err{in_body(m.error())};
  if (auto st = expect_end(r); !st) return Err{st.error()};
  return m;
}

Result<AnyRequestFrame, DecodeError> decode_any_request_frame(SharedFrame frame) {
  SAMSA_TRY(rf, decode_request_frame(std::move(frame)));
  SAMSA_TRY(body, rf.any_body());
  return AnyRequestFrame{std::move(rf.header), std::move(body)};
}

namespace typed {

Result<TypedResponse<ApiVersionsResponse>, DecodeError> api_versions_fallback(const SharedFrame& frame,
                                                                               DecodeError first) {
  auto v0 = decode_response_frame<ApiVersionsResponse>(frame, 0);
  if (v0.ok() && v0->body.error_code == ErrorCode::unsupported_version) return v0;
  return Err{std::move(first)};
}

}  // namespace typed
}  // namespace samsa::protocol
