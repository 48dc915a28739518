#include "system/protocol/api.h"

#include <algorithm>
#include <array>

namespace samsa::protocol {

namespace {

// The versions real clients here need (librdkafka 2.0.2, kafka-python 2.0.2,
// confluent-kafka-python): see system/protocol/README.md.
constexpr std::array k_apis = {
    ApiSpec{ApiKey::produce, "Produce", 3, 9, &k_produce_request, &k_produce_response},
    ApiSpec{ApiKey::fetch, "Fetch", 4, 13, &k_fetch_request, &k_fetch_response},
    ApiSpec{ApiKey::list_offsets, "ListOffsets", 0, 7, &k_list_offsets_request, &k_list_offsets_response},
    ApiSpec{ApiKey::metadata, "Metadata", 0, 12, &k_metadata_request, &k_metadata_response},
    ApiSpec{ApiKey::leader_and_isr, "LeaderAndIsr", 0, 6, &k_leader_and_isr_request, &k_leader_and_isr_response},
    ApiSpec{ApiKey::stop_replica, "StopReplica", 0, 3, &k_stop_replica_request, &k_stop_replica_response},
    ApiSpec{ApiKey::update_metadata, "UpdateMetadata", 0, 7, &k_update_metadata_request, &k_update_metadata_response},
    ApiSpec{ApiKey::controlled_shutdown, "ControlledShutdown", 0, 3, &k_controlled_shutdown_request, &k_controlled_shutdown_response},
    ApiSpec{ApiKey::offset_commit, "OffsetCommit", 0, 8, &k_offset_commit_request, &k_offset_commit_response},
    ApiSpec{ApiKey::offset_fetch, "OffsetFetch", 0, 8, &k_offset_fetch_request, &k_offset_fetch_response},
    ApiSpec{ApiKey::find_coordinator, "FindCoordinator", 0, 4, &k_find_coordinator_request, &k_find_coordinator_response},
    ApiSpec{ApiKey::join_group, "JoinGroup", 0, 9, &k_join_group_request, &k_join_group_response},
    ApiSpec{ApiKey::heartbeat, "Heartbeat", 0, 4, &k_heartbeat_request, &k_heartbeat_response},
    ApiSpec{ApiKey::leave_group, "LeaveGroup", 0, 5, &k_leave_group_request, &k_leave_group_response},
    ApiSpec{ApiKey::sync_group, "SyncGroup", 0, 5, &k_sync_group_request, &k_sync_group_response},
    ApiSpec{ApiKey::describe_groups, "DescribeGroups", 0, 5, &k_describe_groups_request, &k_describe_groups_response},
    ApiSpec{ApiKey::list_groups, "ListGroups", 0, 4, &k_list_groups_request, &k_list_groups_response},
    ApiSpec{ApiKey::api_versions, "ApiVersions", 0, 3, &k_api_versions_request, &k_api_versions_response},
    ApiSpec{ApiKey::create_topics, "CreateTopics", 0, 7, &k_create_topics_request, &k_create_topics_response},
    ApiSpec{ApiKey::delete_topics, "DeleteTopics", 0, 6, &k_delete_topics_request, &k_delete_topics_response},
    ApiSpec{ApiKey::init_producer_id, "InitProducerId", 0, 4, &k_init_producer_id_request, &k_init_producer_id_response},
    ApiSpec{ApiKey::offset_for_leader_epoch, "OffsetForLeaderEpoch", 0, 4, &k_offset_for_leader_epoch_request, &k_offset_for_leader_epoch_response},
    ApiSpec{ApiKey::add_partitions_to_txn, "AddPartitionsToTxn", 0, 4, &k_add_partitions_to_txn_request, &k_add_partitions_to_txn_response},
    ApiSpec{ApiKey::add_offsets_to_txn, "AddOffsetsToTxn", 0, 3, &k_add_offsets_to_txn_request, &k_add_offsets_to_txn_response},
    ApiSpec{ApiKey::end_txn, "EndTxn", 0, 5, &k_end_txn_request, &k_end_txn_response},
    ApiSpec{ApiKey::write_txn_markers, "WriteTxnMarkers", 0, 1, &k_write_txn_markers_request, &k_write_txn_markers_response},
    ApiSpec{ApiKey::txn_offset_commit, "TxnOffsetCommit", 0, 3, &k_txn_offset_commit_request, &k_txn_offset_commit_response},
    ApiSpec{ApiKey::describe_configs, "DescribeConfigs", 0, 4, &k_describe_configs_request, &k_describe_configs_response},
    ApiSpec{ApiKey::delete_groups, "DeleteGroups", 0, 2, &k_delete_groups_request, &k_delete_groups_response},
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

}  // namespace

std::span<const ApiSpec> supported_apis() { return k_apis; }

const ApiSpec* find_api(std::int16_t key) {
  for (const ApiSpec& a : k_apis) {
    if (static_cast<std::int16_t>(a.key) == key) return &a;
  }
  return nullptr;
}

const ApiSpec* find_api(std::string_view name) {
  for (const ApiSpec& a : k_apis) {
    if (lower(a.name) == lower(name)) return &a;
  }
  return nullptr;
}

Value api_versions_body(std::int16_t version, std::int16_t error_code) {
  const auto fields = k_api_versions_response.fields;
  const auto entry_fields = fields[field_index(fields, "ApiKeys")].fields;
  Value body = default_struct(fields, version);
  field(fields, body, "ErrorCode") = Value::integer(error_code);
  std::vector<Value> entries;
  for (const ApiSpec& api : k_apis) {
    Value e = default_struct(entry_fields, version);
    field(entry_fields, e, "ApiKey") = Value::integer(static_cast<std::int16_t>(api.key));
    field(entry_fields, e, "MinVersion") = Value::integer(api.min_version);
    field(entry_fields, e, "MaxVersion") = Value::integer(api.max_version);
    entries.push_back(std::move(e));
  }
  field(fields, body, "ApiKeys") = Value::array(std::move(entries));
  return body;
}

int request_header_version(ApiKey key, std::int16_t version) {
  if (key == ApiKey::controlled_shutdown && version == 0) return 0;
  const ApiSpec* api = find_api(static_cast<std::int16_t>(key));
  SAMSA_ASSERT(api != nullptr, "header version of an unsupported api");
  return api->request->flexible.contains(version) ? 2 : 1;
}

int response_header_version(ApiKey key, std::int16_t version) {
  if (key == ApiKey::api_versions) return 0;
  const ApiSpec* api = find_api(static_cast<std::int16_t>(key));
  SAMSA_ASSERT(api != nullptr, "header version of an unsupported api");
  return api->response->flexible.contains(version) ? 1 : 0;
}

Result<ByteView, DecodeError> frame_payload(ByteView frame) {
  Reader r(frame);
  SAMSA_TRY(size, r.int32());
  if (size < 0 || static_cast<std::size_t>(size) != r.remaining()) {
    return Err{DecodeError{0, "frame size prefix says " + std::to_string(size) + " bytes, frame has " +
                                  std::to_string(r.remaining())}};
  }
  return frame.subspan(4);
}

Result<RequestIds, DecodeError> peek_request_ids(ByteView frame) {
  SAMSA_TRY(payload, frame_payload(frame));
  Reader r(payload, 4);
  SAMSA_TRY(key, r.int16());
  SAMSA_TRY(version, r.int16());
  SAMSA_TRY(correlation_id, r.int32());
  return RequestIds{key, version, correlation_id};
}

Result<RequestHeader, DecodeError> decode_request_header(Reader& r) {
  RequestHeader h;
  const std::size_t key_at = r.offset();
  SAMSA_TRY(key, r.int16());
  const std::size_t version_at = r.offset();
  SAMSA_TRY(version, r.int16());
  const ApiSpec* api = find_api(key);
  if (api == nullptr) return Err{DecodeError{key_at, "unsupported api key " + std::to_string(key)}};
  if (!api->supports(version)) {
    return Err{DecodeError{version_at, "unsupported version " + std::to_string(version) + " of " +
                                           std::string(api->name)}};
  }
  h.api_key = api->key;
  h.api_version = version;
  SAMSA_TRY(correlation_id, r.int32());
  h.correlation_id = correlation_id;
  const int hv = request_header_version(h.api_key, version);
  if (hv >= 1) {
    SAMSA_TRY(n, r.string_length(false));
    if (n) {
      SAMSA_TRY(b, r.raw(*n));
      h.client_id = std::string(as_chars(b));
    }
  }
  if (hv >= 2) {
    SAMSA_TRY(tags, read_unknown_tags(r));
    h.tags = std::move(tags);
  }
  return h;
}

Result<void, DecodeError> expect_end(const Reader& r) {
  if (r.at_end()) return {};
  return Err{r.error_here(std::to_string(r.remaining()) + " bytes after the end of the message")};
}

DecodeError in_body(DecodeError e) {
  e.path = e.path.empty() ? "body" : "body." + e.path;
  return e;
}

Result<Request, DecodeError> decode_request(ByteView frame) {
  SAMSA_TRY(payload, frame_payload(frame));
  Reader r(payload, 4);
  Request req;
  SAMSA_TRY(header, decode_request_header(r));
  req.header = std::move(header);
  const ApiSpec* api = find_api(static_cast<std::int16_t>(req.header.api_key));
  auto body = decode_message(*api->request, req.header.api_version, r);
  if (!body) return Err{in_body(body.error())};
  req.body = std::move(body).value();
  if (!r.at_end()) return Err{expect_end(r).error()};
  return req;
}

namespace {
Result<Response, DecodeError> decode_response_at(ByteView frame, ApiKey key, std::int16_t version);
}  // namespace

Result<Response, DecodeError> decode_response(ByteView frame, ApiKey key, std::int16_t version) {
  auto resp = decode_response_at(frame, key, version);
  if (resp.ok() || key != ApiKey::api_versions || version == 0) return resp;
  auto v0 = decode_response_at(frame, key, 0);
  constexpr std::int64_t k_unsupported_version = 35;
  if (v0.ok() && StructView(k_api_versions_response.fields, v0->body).int_or("ErrorCode", 0) ==
                     k_unsupported_version) {
    return v0;
  }
  return resp;
}

Result<ResponseHeader, DecodeError> decode_response_header(Reader& r, ApiKey key, std::int16_t version) {
  ResponseHeader h;
  SAMSA_TRY(correlation_id, r.int32());
  h.correlation_id = correlation_id;
  if (response_header_version(key, version) >= 1) {
    SAMSA_TRY(tags, read_unknown_tags(r));
    h.tags = std::move(tags);
  }
  return h;
}

namespace {
Result<Response, DecodeError> decode_response_at(ByteView frame, ApiKey key, std::int16_t version) {
  const ApiSpec* api = find_api(static_cast<std::int16_t>(key));
  if (api == nullptr || !api->supports(version)) {
    return Err{DecodeError{0, "unsupported api key or version"}};
  }
  SAMSA_TRY(payload, frame_payload(frame));
  Reader r(payload, 4);
  Response resp;
  resp.version = version;
  SAMSA_TRY(header, decode_response_header(r, key, version));
  resp.correlation_id = header.correlation_id;
  resp.tags = std::move(header.tags);
  auto body = decode_message(*api->response, version, r);
  if (!body) return Err{in_body(body.error())};
  resp.body = std::move(body).value();
  if (!r.at_end()) return Err{expect_end(r).error()};
  return resp;
}
}  // namespace

void write_request_header(const RequestHeader& h, Writer& w) {
  w.int16(static_cast<std::int16_t>(h.api_key));
  w.int16(h.api_version);
  w.int32(h.correlation_id);
  const int hv = request_header_version(h.api_key, h.api_version);
  if (hv >= 1) {
    w.string_length(h.client_id ? std::optional<std::size_t>(h.client_id->size()) : std::nullopt, false);
    if (h.client_id) w.raw(as_bytes(*h.client_id));
  }
  if (hv >= 2) write_unknown_tags(h.tags, w);
}

void write_response_header(ApiKey key, std::int16_t version, std::int32_t correlation_id,
                           const std::vector<UnknownTag>& tags, Writer& w) {
  w.int32(correlation_id);
  if (response_header_version(key, version) >= 1) write_unknown_tags(tags, w);
}

Bytes encode_request(const RequestHeader& h, const Value& body) {
  const ApiSpec* api = find_api(static_cast<std::int16_t>(h.api_key));
  SAMSA_ASSERT(api != nullptr && api->supports(h.api_version), "encoding an unsupported request");
  Bytes out;
  Writer w(out);
  w.int32(0);
  write_request_header(h, w);
  encode_message(*api->request, h.api_version, body, w);
  w.patch_int32(0, static_cast<std::int32_t>(out.size() - 4));
  return out;
}

Bytes encode_response(ApiKey key, std::int16_t version, std::int32_t correlation_id, const Value& body,
                      const std::vector<UnknownTag>& header_tags) {
  const ApiSpec* api = find_api(static_cast<std::int16_t>(key));
  SAMSA_ASSERT(api != nullptr && api->supports(version), "encoding an unsupported response");
  Bytes out;
  Writer w(out);
  w.int32(0);
  write_response_header(key, version, correlation_id, header_tags, w);
  encode_message(*api->response, version, body, w);
  w.patch_int32(0, static_cast<std::int32_t>(out.size() - 4));
  return out;
}

namespace {
std::string tags_json(const std::vector<UnknownTag>& tags) {
  std::string out = "[";
  for (std::size_t i = 0; i < tags.size(); ++i) {
    out += (i ? ", " : "") + std::string("{\"tag\": ") + std::to_string(tags[i].tag) + ", \"hex\": \"" +
           hex(tags[i].data) + "\"}";
  }
  return out + "]";
}
}  // namespace

std::string request_to_json(const Request& req, const RecordsPrinter& records) {
  const RequestHeader& h = req.header;
  const ApiSpec* api = find_api(static_cast<std::int16_t>(h.api_key));
  std::string out = "{\n  \"api\": " + json_string(api->name) + ",\n  \"type\": \"request\",\n";
  out += "  \"header\": {\"RequestApiKey\": " + std::to_string(static_cast<int>(h.api_key)) +
         ", \"RequestApiVersion\": " + std::to_string(h.api_version) +
         ", \"CorrelationId\": " + std::to_string(h.correlation_id);
  if (request_header_version(h.api_key, h.api_version) >= 1) {
    out += ", \"ClientId\": " + (h.client_id ? json_string(*h.client_id) : std::string("null"));
  }
  if (!h.tags.empty()) out += ", \"_unknown_tags\": " + tags_json(h.tags);
  out += "},\n  \"body\": " + message_to_json(*api->request, req.body, records, 2) + "\n}";
  return out;
}

std::string response_to_json(const Response& resp, ApiKey key, const RecordsPrinter& records) {
  const std::int16_t version = resp.version;
  const ApiSpec* api = find_api(static_cast<std::int16_t>(key));
  SAMSA_ASSERT(api != nullptr, "printing an unsupported response");
  std::string out = "{\n  \"api\": " + json_string(api->name) + ",\n  \"type\": \"response\",\n";
  out += "  \"version\": " + std::to_string(version) + ",\n";
  out += "  \"header\": {\"CorrelationId\": " + std::to_string(resp.correlation_id);
  if (!resp.tags.empty()) out += ", \"_unknown_tags\": " + tags_json(resp.tags);
  out += "},\n  \"body\": " + message_to_json(*api->response, resp.body, records, 2) + "\n}";
  return out;
}

}  // namespace samsa::protocol
