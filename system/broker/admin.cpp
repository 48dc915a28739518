#include "system/broker/admin.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "system/broker/controller.h"
#include "system/broker/replica_assignment.h"
#include "system/broker/zk_registration.h"
#include "system/coord/kafka_layout.h"

namespace samsa::broker {

namespace kafka = coord::kafka;
using coord::Code;

std::optional<std::string> invalid_topic_name(std::string_view topic) {
  if (topic.empty()) return "Topic name is illegal, it can't be empty";
  if (topic == "." || topic == "..") return "Topic name cannot be \".\" or \"..\"";
  if (topic.size() > 249)
    return fmt::format("Topic name is illegal, it can't be longer than 249 characters, topic name: {}", topic);
  for (char c : topic)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == '.' ||
          c == '_' || c == '-'))
      return fmt::format("Topic name \"{}\" is illegal, it contains a character other than ASCII "
                         "alphanumerics, '.', '_' and '-'", topic);
  return std::nullopt;
}

namespace {

CreateTopicResult fail(const std::string& name, ErrorCode e, std::string message) {
  CreateTopicResult r;
  r.name = name;
  r.error = e;
  r.error_message = std::move(message);
  return r;
}

// AdminZkClient.validateTopicCreate's checks of a given assignment.
std::optional<std::string> invalid_assignment(const std::map<PartitionId, std::vector<BrokerId>>& a) {
  std::set<std::size_t> sizes;
  std::int32_t expect = 0;
  for (const auto& [p, rs] : a) {
    sizes.insert(rs.size());
    if (std::set<BrokerId>(rs.begin(), rs.end()).size() != rs.size())
      return "Duplicate replica assignment found: " + std::to_string(p.value());
    if (p.value() != expect++) return "partitions should be a consecutive 0-based integer sequence";
  }
  if (sizes.size() != 1) return "All partitions should have the same number of replicas";
  if (*sizes.begin() == 0) return "Replication factor must be larger than 0.";
  return std::nullopt;
}

bool collides(const std::string& a, const std::string& b) {
  std::string x = a, y = b;
  std::replace(x.begin(), x.end(), '.', '_');
  std::replace(y.begin(), y.end(), '.', '_');
  return x == y;
}

CreateTopicResult create_one(coord::Client& c, const BrokerConfig& broker, const NewTopic& t,
                             bool validate_only, sim::Random& rng, const std::set<std::string>& existing,
                             const std::vector<BrokerId>& brokers) {
  if (auto bad = invalid_topic_name(t.name)) return fail(t.name, ErrorCode::invalid_topic_exception, *bad);
  if (existing.count(t.name))
    return fail(t.name, ErrorCode::topic_already_exists, fmt::format("Topic '{}' already exists.", t.name));
  for (const auto& other : existing)
    if (collides(t.name, other))
      return fail(t.name, ErrorCode::invalid_topic_exception,
                  fmt::format("Topic '{}' collides with existing topics: {}", t.name, other));
  if (!t.assignments.empty() && (t.num_partitions != -1 || t.replication_factor != -1))
    return fail(t.name, ErrorCode::invalid_request,
                "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot "
                "be used at the same time.");
  auto config = make_topic_config(broker, t.configs);
  if (!config) return fail(t.name, ErrorCode::invalid_config, config.error().message);
  std::map<PartitionId, std::vector<BrokerId>> assignment = t.assignments;
  if (assignment.empty()) {
    const auto partitions = t.num_partitions == -1 ? broker.num_partitions : t.num_partitions;
    const auto rf = t.replication_factor == -1 ? broker.default_replication_factor : t.replication_factor;
    auto a = assign_replicas_to_brokers(brokers, partitions, rf, rng);
    if (!a) return fail(t.name, a.error().code, a.error().message);
    assignment = std::move(*a);
  } else if (auto bad = invalid_assignment(assignment)) {
    return fail(t.name, ErrorCode::invalid_replica_assignment, *bad);
  }
  CreateTopicResult r;
  r.name = t.name;
  r.num_partitions = static_cast<std::int32_t>(assignment.size());
  r.replication_factor = static_cast<std::int32_t>(assignment.begin()->second.size());
  r.configs = describe_topic_config(*config);
  if (validate_only) return r;
  auto w = write_topic(c, t.name, assignment, t.configs);
  if (!w) {
    if (w.error() == Code::node_exists)
      return fail(t.name, ErrorCode::topic_already_exists, fmt::format("Topic '{}' already exists.", t.name));
    return fail(t.name, ErrorCode::unknown_server_error,
                fmt::format("coordinator: {}", coord::to_string(w.error())));
  }
  return r;
}

}  // namespace

std::vector<CreateTopicResult> create_topics(coord::Client& c, const BrokerConfig& broker,
                                             const std::vector<NewTopic>& topics, bool validate_only,
                                             sim::Random& rng) {
  std::vector<CreateTopicResult> out;
  auto children = c.get_children(std::string(kafka::k_brokers_topics));
  auto live = read_live_brokers(c);
  if (!children || !live) {
    for (const auto& t : topics)
      out.push_back(fail(t.name, ErrorCode::unknown_server_error, "the coordinator is not reachable"));
    return out;
  }
  std::set<std::string> existing(children->children.begin(), children->children.end());
  std::vector<BrokerId> brokers;  // sorted by id, as AdminZkClient.getBrokerMetadatas
  for (const auto& [id, info] : *live) brokers.push_back(id);
  std::set<std::string> seen;
  for (const auto& t : topics) {
    if (!seen.insert(t.name).second) {  // KafkaApis: duplicate topics in one request
      out.push_back(fail(t.name, ErrorCode::invalid_request, "Create topics request from client contains multiple entries for the following topics: " + t.name));
      continue;
    }
    out.push_back(create_one(c, broker, t, validate_only, rng, existing, brokers));
    if (out.back().error == ErrorCode::none && !validate_only) existing.insert(t.name);
  }
  return out;
}

std::vector<DeleteTopicResult> delete_topics(coord::Client& c, const BrokerConfig& broker,
                                             const std::vector<std::string>& topics) {
  std::vector<DeleteTopicResult> out;
  for (const auto& t : topics) {
    DeleteTopicResult r{t, ErrorCode::none, std::nullopt};
    if (!broker.delete_topic_enable) {
      r.error = ErrorCode::topic_deletion_disabled;
      r.error_message = "Topic deletion is disabled.";
    } else if (auto e = c.exists(kafka::topic_path(t)); !e) {
      r.error = e.error() == Code::no_node ? ErrorCode::unknown_topic_or_partition : ErrorCode::unknown_server_error;
      if (e.error() == Code::no_node) r.error_message = fmt::format("Topic `{}` to delete does not exist", t);
    } else if (auto m = mark_topic_for_deletion(c, t); !m && m.error() != Code::node_exists) {
      r.error = ErrorCode::unknown_server_error;  // already marked: Kafka swallows it
    }
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

bool wanted(const DescribeConfigsResource& r, const std::string& key) {
  return !r.keys || std::find(r.keys->begin(), r.keys->end(), key) != r.keys->end();
}

// ConfigHelper.configSynonyms: the values of `name`'s synonyms set in the
// broker's settings (STATIC_BROKER_CONFIG), then their non-null defaults
// (DEFAULT_CONFIG), from the first entry for `name` itself on: Kafka's
// dropWhile drops a more specific synonym listed before it, so a topic's
// retention.ms shows none when only log.retention.hours has a value.
std::vector<ConfigSynonym> config_synonyms(const BrokerConfig& b, std::string_view name) {
  const auto names = broker_config_synonyms(name);
  std::vector<ConfigSynonym> all;
  for (auto n : names)
    if (auto v = broker_config_value(b, n); v && !v->is_default)
      all.push_back({std::string(n), v->value, ConfigSource::static_broker_config});
  for (auto n : names)
    if (auto d = broker_default_value(n)) all.push_back({std::string(n), *d, ConfigSource::default_config});
  auto first = std::find_if(all.begin(), all.end(), [&](const ConfigSynonym& s) { return s.name == name; });
  return {first, all.end()};
}

// createBrokerConfigEntry: the source is the first synonym's.
DescribedConfig broker_entry(const BrokerConfig& b, const ConfigValue& v, bool synonyms) {
  DescribedConfig d;
  d.name = v.name;
  d.value = v.value;
  d.type = v.type;
  d.read_only = !is_dynamic_broker_config(v.name);
  auto all = config_synonyms(b, v.name);
  d.source = all.empty() ? ConfigSource::default_config : all.front().source;
  if (synonyms) d.synonyms = std::move(all);
  return d;
}

// createTopicConfigEntry: the topic's own override (TOPIC_CONFIG) first, then
// the synonyms of its broker key.
DescribedConfig topic_entry(const BrokerConfig& b, const ConfigValue& v, bool synonyms) {
  DescribedConfig d;
  d.name = v.name;
  d.value = v.value;
  d.type = v.type;
  std::vector<ConfigSynonym> all;
  if (!v.is_default) all.push_back({v.name, v.value, ConfigSource::dynamic_topic_config});
  if (const std::string_view synonym = broker_synonym(v.name); !synonym.empty())
    for (auto& s : config_synonyms(b, synonym)) all.push_back(std::move(s));
  d.source = all.empty() ? ConfigSource::default_config : all.front().source;
  if (synonyms) d.synonyms = std::move(all);
  return d;
}

DescribeConfigsResult describe_one(coord::Client& c, const BrokerConfig& b,
                                   const DescribeConfigsResource& r, bool synonyms) {
  DescribeConfigsResult out;
  out.type = r.type;
  out.name = r.name;
  if (r.type == ConfigResourceType::broker) {
    if (r.name.empty()) return out;  // the dynamic cluster defaults: none in samsa
    if (r.name != std::to_string(b.broker_id)) {
      out.error = ErrorCode::invalid_request;
      out.error_message = fmt::format("Unexpected broker id, expected {} or empty string, but received {}",
                                      b.broker_id, r.name);
      return out;
    }
    for (const auto& v : describe_broker_config(b))
      if (wanted(r, v.name)) out.configs.push_back(broker_entry(b, v, synonyms));
    return out;
  }
  if (r.type != ConfigResourceType::topic) {
    out.error = ErrorCode::invalid_request;
    out.error_message = fmt::format("Unsupported resource type: {}", static_cast<int>(r.type));
    return out;
  }
  if (auto bad = invalid_topic_name(r.name)) {
    out.error = ErrorCode::invalid_topic_exception;
    out.error_message = *bad;
    return out;
  }
  if (auto e = c.exists(kafka::topic_path(r.name)); !e) {
    // Kafka answers a missing topic without a message.
    out.error = e.error() == Code::no_node ? ErrorCode::unknown_topic_or_partition : ErrorCode::unknown_server_error;
    return out;
  }
  std::map<std::string, std::string> overrides;
  if (auto d = c.get_data(fmt::format("/config/topics/{}", r.name)); d) {
    if (auto parsed = parse_topic_configs(as_chars(d->data))) overrides = std::move(*parsed);
  }
  auto t = make_topic_config(b, overrides);
  if (!t) t = topic_defaults(b);  // a bad stored override: show the defaults (Kafka logs it)
  for (const auto& v : describe_topic_config(*t))
    if (wanted(r, v.name)) out.configs.push_back(topic_entry(b, v, synonyms));
  return out;
}

}  // namespace

bool is_dynamic_broker_config(std::string_view key) {
  // LogCleaner, DynamicLogConfig (the broker synonyms of topic keys but
  // log.message.format.version), DynamicThreadPool, metric.reporters,
  // DynamicListenerConfig's listener keys and SocketServer's quotas; the SSL
  // and SASL keys are left out (samsa has none).
  static constexpr std::string_view k_dynamic[] = {
      "advertised.listeners", "background.threads", "compression.type",
      "listener.security.protocol.map", "listeners", "log.cleaner.backoff.ms",
      "log.cleaner.dedupe.buffer.size", "log.cleaner.delete.retention.ms",
      "log.cleaner.io.buffer.load.factor", "log.cleaner.io.buffer.size",
      "log.cleaner.io.max.bytes.per.second", "log.cleaner.max.compaction.lag.ms",
      "log.cleaner.min.cleanable.ratio", "log.cleaner.min.compaction.lag.ms", "log.cleaner.threads",
      "log.cleanup.policy", "log.flush.interval.messages", "log.flush.interval.ms",
      "log.index.interval.bytes", "log.index.size.max.bytes", "log.message.downconversion.enable",
      "log.message.timestamp.difference.max.ms", "log.message.timestamp.type", "log.preallocate",
      "log.retention.bytes", "log.retention.ms", "log.roll.jitter.ms", "log.roll.ms",
      "log.segment.bytes", "log.segment.delete.delay.ms", "max.connection.creation.rate",
      "max.connections", "max.connections.per.ip", "max.connections.per.ip.overrides",
      "message.max.bytes", "metric.reporters", "min.insync.replicas", "num.io.threads",
      "num.network.threads", "num.recovery.threads.per.data.dir", "num.replica.fetchers",
      "principal.builder.class", "unclean.leader.election.enable",
  };
  return std::find(std::begin(k_dynamic), std::end(k_dynamic), key) != std::end(k_dynamic);
}

std::vector<DescribeConfigsResult> describe_configs(coord::Client& c, const BrokerConfig& broker,
                                                    const std::vector<DescribeConfigsResource>& resources,
                                                    bool include_synonyms) {
  std::vector<DescribeConfigsResult> out;
  for (const auto& r : resources) out.push_back(describe_one(c, broker, r, include_synonyms));
  return out;
}

InitProducerIdResult init_producer_id(coord::Client& c, ProducerIdManager& ids,
                                      const std::optional<std::string>& transactional_id) {
  InitProducerIdResult r;
  if (transactional_id && !transactional_id->empty()) {
    // Transactions come with the transaction coordinator (a later issue).
    r.error = ErrorCode::coordinator_not_available;
    return r;
  }
  auto id = ids.generate(c);
  if (!id) {
    r.error = ErrorCode::coordinator_not_available;  // retriable: the client asks again
    return r;
  }
  r.producer_id = *id;
  r.producer_epoch = protocol::ProducerEpoch(0);
  return r;
}

}  // namespace samsa::broker
