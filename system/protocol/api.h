#pragma once
// Kafka API table, request/response headers and frames.
//
// k_apis (api.cpp) is the one table of {api key, name, min, max version} that
// samsa supports: ApiVersions answers from it, dispatch looks requests up in
// it, and the tests iterate over it.
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "system/protocol/messages.h"

namespace samsa::protocol {

enum class ApiKey : std::int16_t {
  produce = 0, fetch = 1, list_offsets = 2, metadata = 3, leader_and_isr = 4,
  stop_replica = 5, update_metadata = 6, controlled_shutdown = 7, offset_commit = 8,
  offset_fetch = 9, find_coordinator = 10, join_group = 11, heartbeat = 12,
  leave_group = 13, sync_group = 14, describe_groups = 15, list_groups = 16,
  api_versions = 18, create_topics = 19, delete_topics = 20, init_producer_id = 22,
  offset_for_leader_epoch = 23, add_partitions_to_txn = 24, add_offsets_to_txn = 25,
  end_txn = 26, write_txn_markers = 27, txn_offset_commit = 28, describe_configs = 32,
  delete_groups = 42,
};

struct ApiSpec {
  ApiKey key;
  std::string_view name;  // Kafka's name, e.g. "Metadata"
  std::int16_t min_version;
  std::int16_t max_version;
  const MessageSpec* request;
  const MessageSpec* response;
  bool supports(std::int16_t v) const { return min_version <= v && v <= max_version; }
};

std::span<const ApiSpec> supported_apis();  // sorted by key
const ApiSpec* find_api(std::int16_t key);  // nullptr if not supported
const ApiSpec* find_api(std::string_view name);

// The body of an ApiVersions response at `version`, listing every api of the
// table with its version range. With UNSUPPORTED_VERSION (35), answer at
// version 0, as Kafka does for a request version it does not know.
Value api_versions_body(std::int16_t version, std::int16_t error_code = 0);

// Kafka's header versions: request v0 (no client id; only ControlledShutdown
// v0), v1, v2 (flexible: tagged fields); response v0, v1 (flexible), except
// that ApiVersions responses always use v0 so that a client can read the
// error code of a response to a version the broker does not know.
int request_header_version(ApiKey key, std::int16_t version);
int response_header_version(ApiKey key, std::int16_t version);

struct RequestHeader {
  ApiKey api_key{};
  std::int16_t api_version = 0;
  std::int32_t correlation_id = 0;
  std::optional<std::string> client_id;  // classic nullable string, even in v2
  std::vector<UnknownTag> tags;          // v2 tagged fields
  bool operator==(const RequestHeader&) const = default;
};

struct Request {
  RequestHeader header;
  Value body;
};

struct Response {
  std::int32_t correlation_id = 0;
  // The version the body was read at: the one asked for, except for an
  // ApiVersions error answer that a broker writes at v0 (see decode_response).
  std::int16_t version = 0;
  std::vector<UnknownTag> tags;  // v1 tagged fields
  Value body;
};

// The body of an int32-length-prefixed frame; an error if the prefix does not
// match the frame's length.
Result<ByteView, DecodeError> frame_payload(ByteView frame);

// The first three header fields of a request frame, read without checking
// that the api or version is supported: a broker needs the correlation id to
// answer a request it cannot decode (e.g. ApiVersions at an unknown version,
// answered at v0 with UNSUPPORTED_VERSION).
struct RequestIds {
  std::int16_t api_key = 0;
  std::int16_t api_version = 0;
  std::int32_t correlation_id = 0;
};
Result<RequestIds, DecodeError> peek_request_ids(ByteView frame);

// Reads a request header from the start of a frame's payload (offsets count
// from the start of the frame). Fails on an unsupported api key or version.
Result<RequestHeader, DecodeError> decode_request_header(Reader& r);

// Whole frames, size prefix included. Trailing bytes after the body are an
// error: real clients never send them, and they usually mean a wrong version.
Result<Request, DecodeError> decode_request(ByteView frame);
// Like Kafka's clients, an ApiVersions response that does not parse at the
// version asked for is read again at v0 and accepted if it carries
// UNSUPPORTED_VERSION (35): that is how a broker answers a version it does
// not know.
Result<Response, DecodeError> decode_response(ByteView frame, ApiKey key, std::int16_t version);

Bytes encode_request(const RequestHeader& header, const Value& body);

// Header pieces, shared with the typed frames (typed_api.h).
struct ResponseHeader {
  std::int32_t correlation_id = 0;
  std::vector<UnknownTag> tags;  // v1 tagged fields
};
Result<ResponseHeader, DecodeError> decode_response_header(Reader& r, ApiKey key, std::int16_t version);
void write_request_header(const RequestHeader& h, Writer& w);
void write_response_header(ApiKey key, std::int16_t version, std::int32_t correlation_id,
                           const std::vector<UnknownTag>& tags, Writer& w);
// "N bytes after the end of the message" unless `r` is at its end.
Result<void, DecodeError> expect_end(const Reader& r);
// `e` with "body" put in front of its path.
DecodeError in_body(DecodeError e);
Bytes encode_response(ApiKey key, std::int16_t version, std::int32_t correlation_id,
                      const Value& body, const std::vector<UnknownTag>& header_tags = {});

// A record set (the `Records` of Produce / Fetch) as JSON: each batch's
// header fields, whether its CRC is right, and its records (offset,
// timestamp, key, value, headers; text when UTF-8, else {"hex": ...}). A
// partial or corrupt tail is reported, never a crash. Fits RecordsPrinter.
std::string records_to_json(ByteView records, int indent);

std::string request_to_json(const Request& req, const RecordsPrinter& records = {});
std::string response_to_json(const Response& resp, ApiKey key, const RecordsPrinter& records = {});

}  // namespace samsa::protocol
