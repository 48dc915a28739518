#include "system/broker/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <variant>

namespace samsa::broker {

std::string ConfigError::to_string() const {
  if (line == 0) return message;
  return fmt::format("{}:{}:{}: {}", file, line, column, message);
}

namespace {

// Kafka's ConfigDef.Type, for messages ("Not a number of type INT").
enum class Type : std::uint8_t { int_, long_, short_, boolean, string, list };

std::string_view type_name(Type t) {
  switch (t) {
    case Type::int_: return "INT";
    case Type::long_: return "LONG";
    case Type::short_: return "SHORT";
    case Type::boolean: return "BOOLEAN";
    case Type::string: return "STRING";
    case Type::list: return "LIST";
  }
  return "?";
}

// A key's validator: ConfigDef.Range.atLeast / between, ValidString.in, ValidList.in.
struct Rule {
  std::optional<std::int64_t> at_least;
  std::optional<std::int64_t> at_most;
  std::vector<std::string_view> one_of;
};

template <class C>
using Field = std::variant<std::int32_t C::*, std::int64_t C::*, bool C::*, std::string C::*,
                           std::optional<std::int32_t> C::*, std::optional<std::int64_t> C::*>;

template <class C>
struct Key {
  std::string_view name;
  Type type;
  Field<C> field;
  Rule rule = {};
};

ConfigError invalid(std::string_view key, std::string_view value, std::string_view why) {
  return ConfigError{std::string(key),
                     fmt::format("Invalid value {} for configuration {}: {}", value, key, why)};
}

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n\f");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n\f");
  return s.substr(b, e - b + 1);
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::vector<std::string_view> split_list(std::string_view v) {
  std::vector<std::string_view> out;
  if (trim(v).empty()) return out;
  for (std::size_t at = 0;;) {
    const auto comma = v.find(',', at);
    out.push_back(trim(v.substr(at, comma - at)));
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  return out;
}

Result<std::int64_t, ConfigError> parse_integer(std::string_view key, std::string_view v, Type t) {
  std::string_view digits = v;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);  // Java accepts "+5"
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  const std::int64_t lo = t == Type::int_ ? std::numeric_limits<std::int32_t>::min()
                          : t == Type::short_ ? std::numeric_limits<std::int16_t>::min()
                                              : std::numeric_limits<std::int64_t>::min();
  const std::int64_t hi = t == Type::int_ ? std::numeric_limits<std::int32_t>::max()
                          : t == Type::short_ ? std::numeric_limits<std::int16_t>::max()
                                              : std::numeric_limits<std::int64_t>::max();
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || n < lo ||
      n > hi)
    return Err{invalid(key, v, fmt::format("Not a number of type {}", type_name(t)))};
  return n;
}

Result<void, ConfigError> check_rule(std::string_view key, std::string_view v, const Rule& r,
                                     std::optional<std::int64_t> n) {
  if (n && r.at_least && *n < *r.at_least)
    return Err{invalid(key, v, fmt::format("Value must be at least {}", *r.at_least))};
  if (n && r.at_most && *n > *r.at_most)
    return Err{invalid(key, v, fmt::format("Value must be no more than {}", *r.at_most))};
  return {};
}

Result<void, ConfigError> check_one_of(std::string_view key, std::string_view item,
                                       const Rule& r) {
  if (r.one_of.empty() || std::find(r.one_of.begin(), r.one_of.end(), item) != r.one_of.end())
    return {};
  return Err{invalid(key, item, fmt::format("String must be one of: {}", fmt::join(r.one_of, ", ")))};
}

// Parses `raw` as the key's type, validates it, and stores it.
template <class C>
Result<void, ConfigError> apply(C& c, const Key<C>& k, std::string_view raw) {
  const std::string_view v = trim(raw);
  if (k.type == Type::boolean) {
    if (!iequals(v, "true") && !iequals(v, "false"))
      return Err{invalid(k.name, v, "Expected value to be either true or false")};
    c.*std::get<bool C::*>(k.field) = iequals(v, "true");
    return {};
  }
  if (k.type == Type::string || k.type == Type::list) {
    if (k.type == Type::string) {
      if (auto r = check_one_of(k.name, v, k.rule); !r) return r;
    } else {
      for (auto item : split_list(v))
        if (auto r = check_one_of(k.name, item, k.rule); !r) return r;
    }
    c.*std::get<std::string C::*>(k.field) = std::string(v);
    return {};
  }
  auto n = parse_integer(k.name, v, k.type);
  if (!n) return Err{n.error()};
  if (auto r = check_rule(k.name, v, k.rule, *n); !r) return r;
  std::visit(
      [&](auto member) {
        using M = std::remove_reference_t<decltype(c.*member)>;
        if constexpr (std::is_same_v<M, std::int32_t> ||
                      std::is_same_v<M, std::optional<std::int32_t>>)
          c.*member = static_cast<std::int32_t>(*n);
        else if constexpr (std::is_same_v<M, std::int64_t> ||
                           std::is_same_v<M, std::optional<std::int64_t>>)
          c.*member = *n;
        else
          SAMSA_ASSERT(false, "integer key with a non-integer field");
      },
      k.field);
  return {};
}

template <class C>
std::optional<std::string> render(const C& c, const Key<C>& k) {
  return std::visit(
      [&](auto member) -> std::optional<std::string> {
        const auto& v = c.*member;
        using M = std::remove_cvref_t<decltype(v)>;
        if constexpr (std::is_same_v<M, bool>)
          return std::string(v ? "true" : "false");
        else if constexpr (std::is_same_v<M, std::string>)
          return v;
        else if constexpr (std::is_same_v<M, std::optional<std::int32_t>> ||
                           std::is_same_v<M, std::optional<std::int64_t>>) {
          if (!v) return std::nullopt;
          return std::to_string(*v);
        } else
          return std::to_string(v);
      },
      k.field);
}

using B = BrokerConfig;
using T = TopicConfig;
const std::vector<std::string_view> k_cleanup = {"compact", "delete"};
const std::vector<std::string_view> k_timestamp = {"CreateTime", "LogAppendTime"};
const std::vector<std::string_view> k_compression = {"uncompressed", "zstd", "lz4", "snappy",
                                                     "gzip", "producer"};
constexpr std::int64_t k_record_overhead_v0 = 14;  // LegacyRecord.RECORD_OVERHEAD_V0

const std::vector<Key<B>>& broker_keys() {
  static const std::vector<Key<B>> keys = [] {
    std::vector<Key<B>> k = {
        {"advertised.listeners", Type::string, &B::advertised_listeners},
        {"auto.create.topics.enable", Type::boolean, &B::auto_create_topics_enable},
        {"auto.leader.rebalance.enable", Type::boolean, &B::auto_leader_rebalance_enable},
        {"broker.id", Type::int_, &B::broker_id},
        {"broker.rack", Type::string, &B::broker_rack},
        {"compression.type", Type::string, &B::compression_type, {{}, {}, k_compression}},
        {"controlled.shutdown.enable", Type::boolean, &B::controlled_shutdown_enable},
        {"controlled.shutdown.max.retries", Type::int_, &B::controlled_shutdown_max_retries},
        {"controlled.shutdown.retry.backoff.ms", Type::long_, &B::controlled_shutdown_retry_backoff_ms},
        {"controller.socket.timeout.ms", Type::int_, &B::controller_socket_timeout_ms},
        {"default.replication.factor", Type::int_, &B::default_replication_factor},
        {"delete.topic.enable", Type::boolean, &B::delete_topic_enable},
        {"group.initial.rebalance.delay.ms", Type::int_, &B::group_initial_rebalance_delay_ms},
        {"group.max.session.timeout.ms", Type::int_, &B::group_max_session_timeout_ms},
        {"group.max.size", Type::int_, &B::group_max_size, {1}},
        {"group.min.session.timeout.ms", Type::int_, &B::group_min_session_timeout_ms},
        {"host.name", Type::string, &B::host_name},
        {"leader.imbalance.check.interval.seconds", Type::long_, &B::leader_imbalance_check_interval_seconds},
        {"leader.imbalance.per.broker.percentage", Type::int_, &B::leader_imbalance_per_broker_percentage},
        {"listeners", Type::string, &B::listeners},
        {"log.cleanup.policy", Type::list, &B::log_cleanup_policy, {{}, {}, k_cleanup}},
        {"log.dir", Type::string, &B::log_dir},
        {"log.dirs", Type::string, &B::log_dirs},
        {"log.flush.interval.messages", Type::long_, &B::log_flush_interval_messages, {1}},
        {"log.flush.interval.ms", Type::long_, &B::log_flush_interval_ms},
        {"log.flush.offset.checkpoint.interval.ms", Type::int_, &B::log_flush_offset_checkpoint_interval_ms, {0}},
        {"log.flush.scheduler.interval.ms", Type::long_, &B::log_flush_scheduler_interval_ms},
        {"log.index.interval.bytes", Type::int_, &B::log_index_interval_bytes, {0}},
        {"log.index.size.max.bytes", Type::int_, &B::log_index_size_max_bytes, {4}},
        {"log.message.timestamp.type", Type::string, &B::log_message_timestamp_type, {{}, {}, k_timestamp}},
        {"log.retention.bytes", Type::long_, &B::log_retention_bytes},
        {"log.retention.check.interval.ms", Type::long_, &B::log_retention_check_interval_ms, {1}},
        {"log.retention.hours", Type::int_, &B::log_retention_hours},
        {"log.retention.minutes", Type::int_, &B::log_retention_minutes},
        {"log.retention.ms", Type::long_, &B::log_retention_ms},
        {"log.roll.hours", Type::int_, &B::log_roll_hours, {1}},
        {"log.roll.ms", Type::long_, &B::log_roll_ms},
        {"log.segment.bytes", Type::int_, &B::log_segment_bytes, {k_record_overhead_v0}},
        {"max.id.map.snapshots", Type::int_, &B::max_id_map_snapshots, {1}},
        {"max.incremental.fetch.session.cache.slots", Type::int_, &B::max_incremental_fetch_session_cache_slots, {0}},
        {"message.max.bytes", Type::int_, &B::message_max_bytes, {0}},
        {"min.insync.replicas", Type::int_, &B::min_insync_replicas, {1}},
        {"num.io.threads", Type::int_, &B::num_io_threads, {1}},
        {"num.network.threads", Type::int_, &B::num_network_threads, {1}},
        {"num.partitions", Type::int_, &B::num_partitions, {1}},
        {"num.recovery.threads.per.data.dir", Type::int_, &B::num_recovery_threads_per_data_dir, {1}},
        {"num.replica.fetchers", Type::int_, &B::num_replica_fetchers},
        {"offset.metadata.max.bytes", Type::int_, &B::offset_metadata_max_bytes},
        {"offsets.commit.required.acks", Type::short_, &B::offsets_commit_required_acks},
        {"offsets.commit.timeout.ms", Type::int_, &B::offsets_commit_timeout_ms, {1}},
        {"offsets.load.buffer.size", Type::int_, &B::offsets_load_buffer_size, {1}},
        {"offsets.retention.check.interval.ms", Type::long_, &B::offsets_retention_check_interval_ms, {1}},
        {"offsets.retention.minutes", Type::int_, &B::offsets_retention_minutes, {1}},
        {"offsets.topic.compression.codec", Type::int_, &B::offsets_topic_compression_codec},
        {"offsets.topic.num.partitions", Type::int_, &B::offsets_topic_num_partitions, {1}},
        {"offsets.topic.replication.factor", Type::short_, &B::offsets_topic_replication_factor, {1}},
        {"offsets.topic.segment.bytes", Type::int_, &B::offsets_topic_segment_bytes, {1}},
        {"port", Type::int_, &B::port},
        {"producer.id.expiration.check.interval.ms", Type::int_, &B::producer_id_expiration_check_interval_ms, {1}},
        {"producer.id.expiration.ms", Type::int_, &B::producer_id_expiration_ms, {1}},
        {"replica.fetch.backoff.ms", Type::int_, &B::replica_fetch_backoff_ms, {0}},
        {"replica.fetch.max.bytes", Type::int_, &B::replica_fetch_max_bytes, {0}},
        {"replica.fetch.min.bytes", Type::int_, &B::replica_fetch_min_bytes},
        {"replica.fetch.response.max.bytes", Type::int_, &B::replica_fetch_response_max_bytes, {0}},
        {"replica.fetch.wait.max.ms", Type::int_, &B::replica_fetch_wait_max_ms},
        {"replica.high.watermark.checkpoint.interval.ms", Type::long_, &B::replica_high_watermark_checkpoint_interval_ms},
        {"replica.lag.time.max.ms", Type::long_, &B::replica_lag_time_max_ms},
        {"replica.socket.timeout.ms", Type::int_, &B::replica_socket_timeout_ms},
        {"request.timeout.ms", Type::int_, &B::request_timeout_ms},
        {"socket.receive.buffer.bytes", Type::int_, &B::socket_receive_buffer_bytes},
        {"socket.request.max.bytes", Type::int_, &B::socket_request_max_bytes, {1}},
        {"socket.send.buffer.bytes", Type::int_, &B::socket_send_buffer_bytes},
        {"transaction.abort.timed.out.transaction.cleanup.interval.ms", Type::int_, &B::transaction_abort_timed_out_transaction_cleanup_interval_ms, {1}},
        {"transaction.max.timeout.ms", Type::int_, &B::transaction_max_timeout_ms, {1}},
        {"transaction.remove.expired.transaction.cleanup.interval.ms", Type::int_, &B::transaction_remove_expired_transaction_cleanup_interval_ms, {1}},
        {"transaction.state.log.min.isr", Type::int_, &B::transaction_state_log_min_isr, {1}},
        {"transaction.state.log.num.partitions", Type::int_, &B::transaction_state_log_num_partitions, {1}},
        {"transaction.state.log.replication.factor", Type::short_, &B::transaction_state_log_replication_factor, {1}},
        {"transaction.state.log.segment.bytes", Type::int_, &B::transaction_state_log_segment_bytes, {1}},
        {"transactional.id.expiration.ms", Type::int_, &B::transactional_id_expiration_ms, {1}},
        {"unclean.leader.election.enable", Type::boolean, &B::unclean_leader_election_enable},
        {"zookeeper.connect", Type::string, &B::zookeeper_connect},
        {"zookeeper.connection.timeout.ms", Type::int_, &B::zookeeper_connection_timeout_ms},
        {"zookeeper.session.timeout.ms", Type::int_, &B::zookeeper_session_timeout_ms},
    };
    std::sort(k.begin(), k.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return k;
  }();
  return keys;
}

// The legacy switches live in a nested struct; they are plain booleans.
struct LegacyKey {
  std::string_view name;
  bool LegacySwitches::*field;
};
constexpr LegacyKey k_legacy_keys[] = {
    {"samsa.legacy.dedupe.last.batch.only", &LegacySwitches::dedupe_last_batch_only},
    {"samsa.legacy.isr.expand.below.epoch.start", &LegacySwitches::isr_expand_below_epoch_start},
    {"samsa.legacy.no.broker.epoch", &LegacySwitches::no_broker_epoch},
    {"samsa.legacy.no.controller.epoch.check", &LegacySwitches::no_controller_epoch_check},
    {"samsa.legacy.no.epoch.bump.per.transaction", &LegacySwitches::no_epoch_bump_per_transaction},
    {"samsa.legacy.no.fetch.leader.epoch", &LegacySwitches::no_fetch_leader_epoch},
    {"samsa.legacy.no.implicit.add.partitions", &LegacySwitches::no_implicit_add_partitions},
    {"samsa.legacy.offsets.for.leader.epoch.v0", &LegacySwitches::offsets_for_leader_epoch_v0},
    {"samsa.legacy.truncate.to.high.watermark", &LegacySwitches::truncate_to_high_watermark},
};

const std::vector<Key<T>>& topic_keys() {
  static const std::vector<Key<T>> keys = [] {
    std::vector<Key<T>> k = {
      {"cleanup.policy", Type::list, &T::cleanup_policy, {{}, {}, k_cleanup}},
      {"compression.type", Type::string, &T::compression_type, {{}, {}, k_compression}},
      {"flush.messages", Type::long_, &T::flush_messages, {0}},
      {"flush.ms", Type::long_, &T::flush_ms, {0}},
      {"index.interval.bytes", Type::int_, &T::index_interval_bytes, {0}},
      {"max.message.bytes", Type::int_, &T::max_message_bytes, {0}},
      {"message.timestamp.type", Type::string, &T::message_timestamp_type, {{}, {}, k_timestamp}},
      {"min.insync.replicas", Type::int_, &T::min_insync_replicas, {1}},
      {"retention.bytes", Type::long_, &T::retention_bytes},
      {"retention.ms", Type::long_, &T::retention_ms, {-1}},
      {"segment.bytes", Type::int_, &T::segment_bytes, {k_record_overhead_v0}},
      {"segment.index.bytes", Type::int_, &T::segment_index_bytes, {4}},
      {"segment.ms", Type::long_, &T::segment_ms, {1}},
      {"unclean.leader.election.enable", Type::boolean, &T::unclean_leader_election_enable},
    };
    std::sort(k.begin(), k.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return k;
  }();
  return keys;
}

// LogConfig.TopicConfigSynonyms, for the keys samsa models.
constexpr std::pair<std::string_view, std::string_view> k_synonyms[] = {
    {"cleanup.policy", "log.cleanup.policy"},
    {"compression.type", "compression.type"},
    {"flush.messages", "log.flush.interval.messages"},
    {"flush.ms", "log.flush.interval.ms"},
    {"index.interval.bytes", "log.index.interval.bytes"},
    {"max.message.bytes", "message.max.bytes"},
    {"message.timestamp.type", "log.message.timestamp.type"},
    {"min.insync.replicas", "min.insync.replicas"},
    {"retention.bytes", "log.retention.bytes"},
    {"retention.ms", "log.retention.ms"},
    {"segment.bytes", "log.segment.bytes"},
    {"segment.index.bytes", "log.index.size.max.bytes"},
    {"segment.ms", "log.roll.ms"},
    {"unclean.leader.election.enable", "unclean.leader.election.enable"},
};

template <class C>
const Key<C>* find_key(const std::vector<Key<C>>& keys, std::string_view name) {
  const auto it = std::lower_bound(keys.begin(), keys.end(), name,
                                   [](const Key<C>& k, std::string_view n) { return k.name < n; });
  return it != keys.end() && it->name == name ? &*it : nullptr;
}

const LegacyKey* find_legacy(std::string_view name) {
  for (const auto& k : k_legacy_keys)
    if (k.name == name) return &k;
  return nullptr;
}

Result<void, ConfigError> check_cross_keys(const BrokerConfig& c) {
  if (c.group_min_session_timeout_ms > c.group_max_session_timeout_ms)
    return Err{ConfigError{"group.min.session.timeout.ms",
                           "group.min.session.timeout.ms must not exceed group.max.session.timeout.ms"}};
  return {};
}

}  // namespace

std::int64_t BrokerConfig::effective_log_retention_ms() const {
  if (log_retention_ms) return *log_retention_ms < 0 ? -1 : *log_retention_ms;
  if (log_retention_minutes) return *log_retention_minutes < 0 ? -1 : *log_retention_minutes * 60'000LL;
  return log_retention_hours < 0 ? -1 : log_retention_hours * 3'600'000LL;
}

std::int64_t BrokerConfig::effective_log_flush_interval_ms() const {
  return log_flush_interval_ms.value_or(log_flush_scheduler_interval_ms);
}

std::int64_t BrokerConfig::effective_log_roll_ms() const {
  return log_roll_ms.value_or(log_roll_hours * 3'600'000LL);
}

Result<void, ConfigError> set_broker_config(BrokerConfig& c, std::string_view key,
                                            std::string_view value) {
  key = trim(key);
  Result<void, ConfigError> r;
  if (const auto* k = find_key(broker_keys(), key)) {
    r = apply(c, *k, value);
  } else if (const auto* l = find_legacy(key)) {
    const auto v = trim(value);
    if (!iequals(v, "true") && !iequals(v, "false"))
      return Err{invalid(key, v, "Expected value to be either true or false")};
    c.legacy.*(l->field) = iequals(v, "true");
  } else {
    return Err{ConfigError{std::string(key), fmt::format("Unknown configuration '{}'", key)}};
  }
  if (!r) return r;
  const std::string name(key);
  if (std::find(c.explicit_keys.begin(), c.explicit_keys.end(), name) == c.explicit_keys.end())
    c.explicit_keys.push_back(name);
  return {};
}

Result<BrokerConfig, ConfigError> make_broker_config(
    const std::vector<std::pair<std::string, std::string>>& settings) {
  BrokerConfig c;
  for (const auto& [k, v] : settings)
    if (auto r = set_broker_config(c, k, v); !r) return Err{r.error()};
  if (auto r = check_cross_keys(c); !r) return Err{r.error()};
  return c;
}

bool is_broker_config_key(std::string_view key) {
  return find_key(broker_keys(), key) || find_legacy(key);
}

namespace {
bool was_set(const BrokerConfig& c, std::string_view key) {
  return std::find(c.explicit_keys.begin(), c.explicit_keys.end(), key) != c.explicit_keys.end();
}
}  // namespace

std::optional<ConfigValue> broker_config_value(const BrokerConfig& c, std::string_view key) {
  if (const auto* k = find_key(broker_keys(), key))
    return ConfigValue{std::string(key), render(c, *k), !was_set(c, key), type_name(k->type)};
  if (const auto* l = find_legacy(key))
    return ConfigValue{std::string(key), std::string(c.legacy.*(l->field) ? "true" : "false"),
                       !was_set(c, key), type_name(Type::boolean)};
  return std::nullopt;
}

std::vector<ConfigValue> describe_broker_config(const BrokerConfig& c) {
  std::vector<ConfigValue> out;
  for (const auto& k : broker_keys()) out.push_back(*broker_config_value(c, k.name));
  for (const auto& l : k_legacy_keys) out.push_back(*broker_config_value(c, l.name));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::vector<std::string_view> broker_config_synonyms(std::string_view key) {
  // DynamicBrokerConfig.brokerConfigSynonyms without listener overrides:
  // log.flush.scheduler.interval.ms stands in for log.flush.interval.ms, not
  // the other way round.
  static constexpr std::string_view k_roll[] = {"log.roll.ms", "log.roll.hours"};
  static constexpr std::string_view k_jitter[] = {"log.roll.jitter.ms", "log.roll.jitter.hours"};
  static constexpr std::string_view k_flush[] = {"log.flush.interval.ms", "log.flush.scheduler.interval.ms"};
  static constexpr std::string_view k_retention[] = {"log.retention.ms", "log.retention.minutes",
                                                     "log.retention.hours"};
  const auto in = [&](const auto& group) { return std::find(std::begin(group), std::end(group), key) != std::end(group); };
  std::vector<std::string_view> out;
  if (in(k_roll)) out.assign(std::begin(k_roll), std::end(k_roll));
  else if (in(k_jitter)) out.assign(std::begin(k_jitter), std::end(k_jitter));
  else if (key == k_flush[0]) out.assign(std::begin(k_flush), std::end(k_flush));
  else if (in(k_retention)) out.assign(std::begin(k_retention), std::end(k_retention));
  else out.push_back(key);
  std::erase_if(out, [](std::string_view k) { return !is_broker_config_key(k); });
  return out;
}

std::optional<std::string> broker_default_value(std::string_view key) {
  static const BrokerConfig defaults{};
  if (const auto* k = find_key(broker_keys(), key)) return render(defaults, *k);
  if (find_legacy(key)) return std::string("false");
  return std::nullopt;
}

// --- properties text -----------------------------------------------------------

namespace {

// One logical line of a properties text: continuation lines joined, with the
// 1-based number of the line where it started.
struct LogicalLine {
  std::string text;
  int line = 0;
};

bool ends_in_odd_backslashes(std::string_view s) {
  std::size_t n = 0;
  while (n < s.size() && s[s.size() - 1 - n] == '\\') ++n;
  return n % 2 == 1;
}

std::vector<LogicalLine> logical_lines(std::string_view text) {
  std::vector<LogicalLine> out;
  int number = 0;
  bool continuing = false;
  for (std::size_t at = 0; at <= text.size();) {
    auto nl = text.find('\n', at);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view raw = text.substr(at, nl - at);
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    ++number;
    at = nl + 1;
    std::string_view body = continuing ? raw.substr(std::min(raw.size(), raw.find_first_not_of(" \t\f")))
                                       : raw;
    const bool more = ends_in_odd_backslashes(body);
    if (more) body.remove_suffix(1);
    if (continuing) out.back().text += body;
    else out.push_back({std::string(body), number});
    continuing = more;
    if (nl == text.size()) break;
  }
  return out;
}

// java.util.Properties' escapes: \t \n \r \f, \uXXXX, and \x = x.
Result<std::string, std::string> unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char e = s[++i];
    switch (e) {
      case 't': out += '\t'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 'f': out += '\f'; break;
      case 'u': {
        if (i + 4 >= s.size()) return Err{std::string("Malformed \\uxxxx encoding.")};
        unsigned cp = 0;
        const auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 5, cp, 16);
        if (ec != std::errc{} || end != s.data() + i + 5)
          return Err{std::string("Malformed \\uxxxx encoding.")};
        i += 4;
        if (cp < 0x80) {
          out += static_cast<char>(cp);
        } else if (cp < 0x800) {
          out += static_cast<char>(0xC0 | (cp >> 6));
          out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
          out += static_cast<char>(0xE0 | (cp >> 12));
          out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
          out += static_cast<char>(0x80 | (cp & 0x3F));
        }
        break;
      }
      default: out += e; break;
    }
  }
  return out;
}

}  // namespace

namespace {

using KeyValue = std::pair<std::string, std::string>;

// One logical line: nothing (blank, comment), a key/value pair, or an error.
Result<std::optional<KeyValue>, ConfigError> parse_line(const LogicalLine& l,
                                                        std::string_view file_name) {
  const std::string_view s = l.text;
  const auto start = s.find_first_not_of(" \t\f");
  if (start == std::string_view::npos || s[start] == '#' || s[start] == '!')
    return std::optional<KeyValue>{};
  // The key ends at the first unescaped '=', ':' or blank.
  std::size_t end = start;
  while (end < s.size() && s[end] != '=' && s[end] != ':' && s[end] != ' ' && s[end] != '\t' &&
         s[end] != '\f')
    end += s[end] == '\\' && end + 1 < s.size() ? 2 : 1;
  std::size_t value_at = s.find_first_not_of(" \t\f", end);
  if (value_at != std::string_view::npos && (s[value_at] == '=' || s[value_at] == ':'))
    value_at = s.find_first_not_of(" \t\f", value_at + 1);
  if (value_at == std::string_view::npos) value_at = s.size();
  auto key = unescape(s.substr(start, end - start));
  auto value = unescape(s.substr(value_at));
  if (!key || !value)
    return Err{ConfigError{"", key ? value.error() : key.error(), std::string(file_name), l.line,
                           static_cast<int>(start + 1)}};
  return std::optional<KeyValue>{KeyValue{std::move(*key), std::move(*value)}};
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>, ConfigError> parse_properties(
    std::string_view text, std::string_view file_name) {
  std::vector<KeyValue> out;
  for (const auto& l : logical_lines(text)) {
    auto kv = parse_line(l, file_name);
    if (!kv) return Err{kv.error()};
    if (*kv) out.push_back(std::move(**kv));
  }
  return out;
}

Result<BrokerConfig, ConfigError> parse_server_properties(std::string_view text,
                                                          std::string_view file_name) {
  BrokerConfig c;
  for (const auto& l : logical_lines(text)) {
    auto kv = parse_line(l, file_name);
    if (!kv) return Err{kv.error()};
    if (!*kv) continue;
    const auto& [k, v] = **kv;
    if (auto r = set_broker_config(c, k, v); !r) {
      // Point at the key when it is unknown, else at the value.
      ConfigError e = r.error();
      const auto key_at = l.text.find(k);
      const auto value_at = v.empty() ? std::string::npos
                                      : l.text.rfind(v);
      const auto col = is_broker_config_key(k) ? value_at : key_at;
      e.file = std::string(file_name);
      e.line = l.line;
      e.column = static_cast<int>(col == std::string::npos ? 1 : col + 1);
      return Err{e};
    }
  }
  if (auto r = check_cross_keys(c); !r) {
    ConfigError e = r.error();
    e.file = std::string(file_name);
    e.line = 1;
    e.column = 1;
    return Err{e};
  }
  return c;
}

// --- topic level -------------------------------------------------------------------

log::LogConfig TopicConfig::log_config() const {
  log::LogConfig l;
  l.segment_bytes = segment_bytes;
  l.segment_ms = segment_ms;
  l.segment_index_bytes = segment_index_bytes;
  l.index_interval_bytes = index_interval_bytes;
  l.retention_bytes = retention_bytes;
  l.retention_ms = retention_ms;
  l.flush_messages = flush_messages;
  l.flush_ms = flush_ms;
  l.max_message_bytes = max_message_bytes;
  return l;
}

TopicConfig topic_defaults(const BrokerConfig& b) {
  TopicConfig t;
  t.segment_bytes = b.log_segment_bytes;
  t.segment_ms = b.effective_log_roll_ms();
  t.segment_index_bytes = b.log_index_size_max_bytes;
  t.flush_messages = b.log_flush_interval_messages;
  t.flush_ms = b.effective_log_flush_interval_ms();
  t.retention_bytes = b.log_retention_bytes;
  t.retention_ms = b.effective_log_retention_ms();
  t.max_message_bytes = b.message_max_bytes;
  t.index_interval_bytes = b.log_index_interval_bytes;
  t.cleanup_policy = b.log_cleanup_policy;
  t.unclean_leader_election_enable = b.unclean_leader_election_enable;
  t.min_insync_replicas = b.min_insync_replicas;
  t.compression_type = b.compression_type;
  t.message_timestamp_type = b.log_message_timestamp_type;
  return t;
}

bool is_topic_config_key(std::string_view key) { return find_key(topic_keys(), key) != nullptr; }

Result<void, ConfigError> set_topic_config(TopicConfig& t, std::string_view key,
                                           std::string_view value) {
  key = trim(key);
  const auto* k = find_key(topic_keys(), key);
  // LogConfig.validateNames' wording.
  if (!k) return Err{ConfigError{std::string(key), fmt::format("Unknown topic config name: {}", key)}};
  if (auto r = apply(t, *k, value); !r) return r;
  t.overrides[std::string(key)] = std::string(trim(value));
  return {};
}

Result<TopicConfig, ConfigError> make_topic_config(
    const BrokerConfig& broker, const std::map<std::string, std::string>& overrides) {
  TopicConfig t = topic_defaults(broker);
  for (const auto& [k, v] : overrides)
    if (auto r = set_topic_config(t, k, v); !r) return Err{r.error()};
  return t;
}

std::vector<ConfigValue> describe_topic_config(const TopicConfig& t) {
  std::vector<ConfigValue> out;
  for (const auto& k : topic_keys())
    out.push_back({std::string(k.name), render(t, k), !t.overrides.count(std::string(k.name)), type_name(k.type)});
  return out;
}

std::string_view broker_synonym(std::string_view topic_key) {
  for (const auto& [topic, broker] : k_synonyms)
    if (topic == topic_key) return broker;
  return {};
}

}  // namespace samsa::broker
