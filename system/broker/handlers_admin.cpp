#include "system/broker/handlers_admin.h"

#include <algorithm>

namespace samsa::broker {

namespace p = protocol;

namespace {

constexpr sim::Duration k_poll = std::chrono::milliseconds(20);

// Parks until `done()` or the request's timeout (Kafka's DelayedCreatePartitions
// / DelayedDeleteTopics purgatories, here as a bounded wait).
bool wait_until(AdminContext& ctx, std::int32_t timeout_ms, const std::function<bool()>& done) {
  const auto deadline = ctx.rt.deadline_after(std::chrono::milliseconds(std::max(0, timeout_ms)));
  while (!done()) {
    if (ctx.rt.now() >= deadline) return false;
    ctx.rt.sleep(std::min<sim::Duration>(k_poll, deadline - ctx.rt.now()));
  }
  return true;
}

bool topic_has_leaders(const Controller& c, const std::string& topic) {
  bool any = false;
  for (const auto& [tp, info] : c.context().partitions) {
    if (tp.topic != topic) continue;
    any = true;
    if (!info.leadership || info.leadership->leader == k_no_leader) return false;
  }
  return any;
}

bool topic_gone(const Controller& c, const std::string& topic) {
  return !c.context().topics.count(topic);
}

NewTopic from_message(const p::CreateTopicsRequest::CreatableTopic& t) {
  NewTopic n;
  n.name = t.name;
  n.num_partitions = t.num_partitions;
  n.replication_factor = t.replication_factor;
  for (const auto& a : t.assignments) n.assignments[a.partition_index] = a.broker_ids;
  for (const auto& c : t.configs)
    if (c.value) n.configs[c.name] = *c.value;
  return n;
}

}  // namespace

p::CreateTopicsResponse handle_create_topics(AdminContext& ctx, const p::RequestHeader& h,
                                             const p::CreateTopicsRequest& req) {
  p::CreateTopicsResponse resp;
  const auto answer_all = [&](p::ErrorCode e) {
    for (const auto& t : req.topics) {
      p::CreateTopicsResponse::CreatableTopicResult r;
      r.name = t.name;
      r.error_code = e;
      r.error_message = std::nullopt;
      resp.topics.push_back(std::move(r));
    }
    return resp;
  };
  if (!ctx.controller.is_active() || !ctx.client) return answer_all(p::ErrorCode::not_controller);
  // ZkAdminManager: a null config value is refused before anything else.
  std::vector<NewTopic> topics;
  std::map<std::string, std::string> null_config;  // topic -> key
  for (const auto& t : req.topics) {
    for (const auto& c : t.configs)
      if (!c.value) null_config.emplace(t.name, c.name);
    if (!null_config.count(t.name)) topics.push_back(from_message(t));
  }
  const auto results = create_topics(*ctx.client, ctx.config, topics, req.validate_only, ctx.rng);
  std::size_t next = 0;
  for (const auto& t : req.topics) {
    p::CreateTopicsResponse::CreatableTopicResult out;
    out.name = t.name;
    if (auto it = null_config.find(t.name); it != null_config.end()) {
      out.error_code = p::ErrorCode::invalid_request;
      out.error_message = "Null value not supported for topic configs: " + it->second;
      resp.topics.push_back(std::move(out));
      continue;
    }
    const auto& r = results.at(next++);
    out.error_code = r.error;
    out.error_message = r.error_message;
    if (r.error == p::ErrorCode::none) {
      out.num_partitions = r.num_partitions;
      out.replication_factor = static_cast<std::int16_t>(r.replication_factor);
      std::vector<p::CreateTopicsResponse::CreatableTopicConfigs> configs;
      // ConfigSource: DYNAMIC_TOPIC_CONFIG (1) for the topic's own, else DEFAULT_CONFIG (5).
      for (const auto& c : r.configs)
        configs.push_back({c.name, c.value, false, static_cast<std::int8_t>(c.is_default ? 5 : 1), false, {}});
      out.configs = std::move(configs);
    }
    resp.topics.push_back(std::move(out));
  }
  if (req.validate_only || req.timeout_ms <= 0) return resp;
  for (auto& t : resp.topics) {
    if (t.error_code != p::ErrorCode::none) continue;
    if (!wait_until(ctx, req.timeout_ms, [&] { return topic_has_leaders(ctx.controller, t.name); })) {
      t.error_code = p::ErrorCode::request_timed_out;
      t.error_message = "Timed out waiting for the topic's partitions to get leaders.";
    }
  }
  (void)h;
  return resp;
}

p::DeleteTopicsResponse handle_delete_topics(AdminContext& ctx, const p::RequestHeader& h,
                                             const p::DeleteTopicsRequest& req) {
  p::DeleteTopicsResponse resp;
  std::vector<std::string> names = req.topic_names;  // v0-5
  for (const auto& t : req.topics)                   // v6+: by name (topic ids are not kept)
    if (t.name) names.push_back(*t.name);
  if (!ctx.controller.is_active() || !ctx.client) {
    for (const auto& n : names) resp.responses.push_back({n, {}, p::ErrorCode::not_controller, std::nullopt, {}});
    return resp;
  }
  for (const auto& r : delete_topics(*ctx.client, ctx.config, names)) {
    p::DeleteTopicsResponse::DeletableTopicResult out{r.name, {}, r.error, r.error_message, {}};
    if (r.error == p::ErrorCode::none && req.timeout_ms > 0 &&
        !wait_until(ctx, req.timeout_ms, [&] { return topic_gone(ctx.controller, r.name); }))
      out.error_code = p::ErrorCode::request_timed_out;
    resp.responses.push_back(std::move(out));
  }
  // Versions before 5 have no error message; the encoder leaves it out.
  (void)h;
  return resp;
}

p::InitProducerIdResponse handle_init_producer_id(AdminContext& ctx, const p::RequestHeader& h,
                                                  const p::InitProducerIdRequest& req) {
  p::InitProducerIdResponse resp;
  (void)h;
  // KafkaApis.handleInitProducerIdRequest (v3+, KIP-360): the producer id and
  // epoch come both set or both unset. TransactionCoordinator: an empty
  // transactional id is INVALID_REQUEST; a null one gets a fresh producer id
  // at epoch 0 whatever id and epoch it names (an idempotent producer bumps
  // its epoch itself; see system/broker/README.md).
  const bool has_id = !req.producer_id.is_none();
  const bool has_epoch = !req.producer_epoch.is_none();
  if (has_id != has_epoch || (req.transactional_id && req.transactional_id->empty())) {
    resp.error_code = p::ErrorCode::invalid_request;
    resp.producer_id = p::ProducerId::none();
    resp.producer_epoch = p::ProducerEpoch::none();
    return resp;
  }
  if (!ctx.client) {
    resp.error_code = p::ErrorCode::coordinator_not_available;
    return resp;
  }
  const auto r = init_producer_id(*ctx.client, ctx.producer_ids, req.transactional_id);
  resp.error_code = r.error;
  resp.producer_id = r.producer_id;
  resp.producer_epoch = r.error == p::ErrorCode::none ? r.producer_epoch : p::ProducerEpoch(0);
  return resp;
}

namespace {
// DescribeConfigsResponse.ConfigType ids by ConfigDef.Type name.
std::int8_t config_type_id(std::string_view type) {
  constexpr std::pair<std::string_view, std::int8_t> k_ids[] = {
      {"BOOLEAN", 1}, {"STRING", 2}, {"INT", 3}, {"SHORT", 4}, {"LONG", 5},
      {"DOUBLE", 6}, {"LIST", 7}, {"CLASS", 8}, {"PASSWORD", 9}};
  for (const auto& [name, id] : k_ids)
    if (name == type) return id;
  return 0;  // UNKNOWN
}

// include_documentation (v3+): each key's ConfigDef doc, else null.
p::DescribeConfigsResponse::DescribeConfigsResult to_message(const DescribeConfigsResult& r, bool documentation) {
  p::DescribeConfigsResponse::DescribeConfigsResult out;
  out.error_code = r.error;
  out.error_message = r.error_message;
  out.resource_type = static_cast<std::int8_t>(r.type);
  out.resource_name = r.name;
  for (const auto& c : r.configs) {
    auto& e = out.configs.emplace_back();
    e.name = c.name;
    e.value = c.value;
    e.read_only = c.read_only;
    // Kafka 2.8's ConfigHelper never sets IsDefault: v0 answers carry false.
    e.is_default = false;
    e.config_source = static_cast<std::int8_t>(c.source);
    e.is_sensitive = c.is_sensitive;
    for (const auto& s : c.synonyms)
      e.synonyms.push_back({s.name, s.value, static_cast<std::int8_t>(s.source), {}});
    e.config_type = config_type_id(c.type);
    e.documentation = std::nullopt;
    if (documentation) {
      const auto kind = r.type == ConfigResourceType::topic ? ConfigDocKind::topic : ConfigDocKind::broker;
      if (auto d = config_documentation(kind, c.name)) e.documentation = std::string(*d);
    }
  }
  return out;
}
}  // namespace

p::DescribeConfigsResponse handle_describe_configs(AdminContext& ctx, const p::RequestHeader& h,
                                                   const p::DescribeConfigsRequest& req) {
  p::DescribeConfigsResponse resp;
  std::vector<DescribeConfigsResource> resources;
  for (const auto& r : req.resources) {
    DescribeConfigsResource d;
    d.type = static_cast<ConfigResourceType>(r.resource_type);
    d.name = r.resource_name;
    // Null or empty: every key (ConfigHelper).
    if (r.configuration_keys && !r.configuration_keys->empty()) d.keys = *r.configuration_keys;
    resources.push_back(std::move(d));
  }
  if (!ctx.client) {
    for (const auto& r : resources) {
      DescribeConfigsResult e;
      e.type = r.type;
      e.name = r.name;
      e.error = p::ErrorCode::coordinator_not_available;  // between sessions: retriable
      resp.results.push_back(to_message(e, false));
    }
    return resp;
  }
  const bool synonyms = h.api_version >= 1 && req.include_synonyms;
  const bool documentation = h.api_version >= 3 && req.include_documentation;
  for (const auto& r : describe_configs(*ctx.client, ctx.config, resources, synonyms))
    resp.results.push_back(to_message(r, documentation));
  return resp;
}

p::ControlledShutdownResponse handle_controlled_shutdown(AdminContext& ctx, const p::RequestHeader& h,
                                                         const p::ControlledShutdownRequest& req) {
  p::ControlledShutdownResponse resp;
  (void)h;
  const auto r = ctx.controller.controlled_shutdown(req.broker_id, req.broker_epoch);
  resp.error_code = r.error;
  for (const auto& tp : r.remaining) resp.remaining_partitions.push_back({tp.topic, tp.partition, {}});
  return resp;
}

bool is_admin_api(p::ApiKey key) {
  return key == p::ApiKey::create_topics || key == p::ApiKey::delete_topics ||
         key == p::ApiKey::init_producer_id || key == p::ApiKey::controlled_shutdown ||
         key == p::ApiKey::describe_configs;
}

namespace {
template <class Req, class Fn>
Result<Bytes, p::DecodeError> serve(AdminContext& ctx, const p::RequestFrame& f, Fn fn) {
  auto body = f.body<Req>();
  if (!body) return Err{body.error()};
  return p::encode_response_frame(f.header, fn(ctx, f.header, *body));
}
}  // namespace

std::optional<Result<Bytes, p::DecodeError>> handle_admin_request(AdminContext& ctx, const p::RequestFrame& f) {
  switch (f.header.api_key) {
    case p::ApiKey::create_topics: return serve<p::CreateTopicsRequest>(ctx, f, handle_create_topics);
    case p::ApiKey::delete_topics: return serve<p::DeleteTopicsRequest>(ctx, f, handle_delete_topics);
    case p::ApiKey::init_producer_id: return serve<p::InitProducerIdRequest>(ctx, f, handle_init_producer_id);
    case p::ApiKey::controlled_shutdown:
      return serve<p::ControlledShutdownRequest>(ctx, f, handle_controlled_shutdown);
    case p::ApiKey::describe_configs:
      return serve<p::DescribeConfigsRequest>(ctx, f, handle_describe_configs);
    default: return std::nullopt;
  }
}

}  // namespace samsa::broker
