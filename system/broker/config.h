#pragma once
// Broker and topic configuration by Kafka's own key names and defaults
// (KafkaConfig.scala and LogConfig.scala of Kafka 2.8), plus samsa's
// `samsa.legacy.*` switches. One table per level names every key, its field
// and its validator; defaults are the field initialisers below, so the table
// and DescribeConfigs can never disagree with what the broker runs on.
//
// Kafka logs and ignores an unknown key; samsa refuses it (a typo in a
// scenario must not silently test the default). Values are parsed as Kafka's
// ConfigDef parses them: trimmed; INT/LONG/SHORT decimal; BOOLEAN true/false
// in any case; LIST comma-separated.
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/runtime/result.h"
#include "system/log/config.h"

namespace samsa::broker {

struct ConfigError {
  std::string key;      // the key at fault ("" for a syntax error)
  std::string message;  // Kafka's wording: "Invalid value x for configuration k: ..."
  std::string file;     // server.properties only
  int line = 0;         // 1-based, 0 when not from a file
  int column = 0;
  std::string to_string() const;  // "file:line:col: message" or the message
};

// Kafka's default for message.max.bytes: 1 MiB + LOG_OVERHEAD (12).
inline constexpr std::int32_t k_default_message_max_bytes = 1024 * 1024 + 12;
inline constexpr std::int64_t k_long_max = std::numeric_limits<std::int64_t>::max();

// The samsa.legacy.* switches (system/broker/README.md): each re-creates one
// of Kafka's old bugs. All off by default.
struct LegacySwitches {
  bool truncate_to_high_watermark = false;    // samsa.legacy.truncate.to.high.watermark (KAFKA-1211)
  bool offsets_for_leader_epoch_v0 = false;   // samsa.legacy.offsets.for.leader.epoch.v0 (KAFKA-6361)
  bool no_fetch_leader_epoch = false;         // samsa.legacy.no.fetch.leader.epoch (KAFKA-6880)
  bool isr_expand_below_epoch_start = false;  // samsa.legacy.isr.expand.below.epoch.start (KAFKA-7128)
  bool no_broker_epoch = false;               // samsa.legacy.no.broker.epoch (KAFKA-7235)
  bool no_controller_epoch_check = false;     // samsa.legacy.no.controller.epoch.check (KAFKA-532)
  bool dedupe_last_batch_only = false;        // samsa.legacy.dedupe.last.batch.only (KAFKA-5494)
  // samsa.legacy.no.implicit.add.partitions (before KIP-890 part 1, Kafka
  // < 3.6): a transactional produce to a partition never added to the
  // transaction is accepted (no verification with the coordinator).
  bool no_implicit_add_partitions = false;
  // samsa.legacy.no.epoch.bump.per.transaction (before KIP-890 part 2, Kafka
  // < 4.0 or transaction.version < 2): EndTxn keeps the producer epoch, so a
  // delayed produce or EndTxn of one transaction lands in the next one
  // (KAFKA-14402, KAFKA-17754).
  bool no_epoch_bump_per_transaction = false;
};

struct BrokerConfig {
  // --- identity, coordinator, sockets -------------------------------------
  std::int32_t broker_id = -1;                          // broker.id
  std::string broker_rack;                              // broker.rack ("" = none)
  std::string zookeeper_connect;                        // zookeeper.connect
  std::int32_t zookeeper_session_timeout_ms = 18000;    // zookeeper.session.timeout.ms
  std::optional<std::int32_t> zookeeper_connection_timeout_ms;  // zookeeper.connection.timeout.ms
  std::string listeners;                                // listeners
  std::string advertised_listeners;                     // advertised.listeners
  std::int32_t port = 9092;                             // port
  std::string host_name;                                // host.name
  std::int32_t socket_request_max_bytes = 100 * 1024 * 1024;  // socket.request.max.bytes
  std::int32_t socket_send_buffer_bytes = 100 * 1024;   // socket.send.buffer.bytes (no effect)
  std::int32_t socket_receive_buffer_bytes = 100 * 1024;  // socket.receive.buffer.bytes (no effect)
  std::int32_t num_network_threads = 3;                 // num.network.threads (no effect)
  std::int32_t num_io_threads = 8;                      // num.io.threads (no effect)
  std::int32_t request_timeout_ms = 30000;              // request.timeout.ms
  std::int32_t controller_socket_timeout_ms = 30000;    // controller.socket.timeout.ms

  // --- topics and replication ---------------------------------------------
  std::int32_t num_partitions = 1;                      // num.partitions
  std::int32_t default_replication_factor = 1;          // default.replication.factor
  std::int32_t min_insync_replicas = 1;                 // min.insync.replicas
  bool unclean_leader_election_enable = false;          // unclean.leader.election.enable
  bool auto_create_topics_enable = true;                // auto.create.topics.enable
  bool delete_topic_enable = true;                      // delete.topic.enable
  bool auto_leader_rebalance_enable = true;             // auto.leader.rebalance.enable
  std::int32_t leader_imbalance_per_broker_percentage = 10;  // leader.imbalance.per.broker.percentage
  std::int64_t leader_imbalance_check_interval_seconds = 300;  // leader.imbalance.check.interval.seconds
  std::int64_t replica_lag_time_max_ms = 30000;         // replica.lag.time.max.ms
  std::int32_t replica_fetch_wait_max_ms = 500;         // replica.fetch.wait.max.ms
  std::int32_t replica_fetch_min_bytes = 1;             // replica.fetch.min.bytes
  std::int32_t replica_fetch_max_bytes = 1024 * 1024;   // replica.fetch.max.bytes
  std::int32_t replica_fetch_response_max_bytes = 10 * 1024 * 1024;  // replica.fetch.response.max.bytes
  std::int32_t replica_fetch_backoff_ms = 1000;         // replica.fetch.backoff.ms
  std::int32_t replica_socket_timeout_ms = 30000;       // replica.socket.timeout.ms
  std::int32_t num_replica_fetchers = 1;                // num.replica.fetchers
  std::int64_t replica_high_watermark_checkpoint_interval_ms = 5000;  // replica.high.watermark.checkpoint.interval.ms
  bool controlled_shutdown_enable = true;               // controlled.shutdown.enable
  std::int32_t controlled_shutdown_max_retries = 3;     // controlled.shutdown.max.retries
  std::int64_t controlled_shutdown_retry_backoff_ms = 5000;  // controlled.shutdown.retry.backoff.ms

  // --- log ------------------------------------------------------------------
  std::string log_dirs;                                 // log.dirs
  std::string log_dir = "/tmp/kafka-logs";              // log.dir
  std::int32_t message_max_bytes = k_default_message_max_bytes;  // message.max.bytes
  std::int32_t max_incremental_fetch_session_cache_slots = 1000;  // max.incremental.fetch.session.cache.slots (KIP-227)
  std::int32_t log_segment_bytes = 1024 * 1024 * 1024;  // log.segment.bytes
  std::optional<std::int64_t> log_roll_ms;              // log.roll.ms
  std::int32_t log_roll_hours = 24 * 7;                 // log.roll.hours
  std::int32_t log_index_size_max_bytes = 10 * 1024 * 1024;  // log.index.size.max.bytes
  std::int32_t log_index_interval_bytes = 4096;         // log.index.interval.bytes
  std::int64_t log_flush_interval_messages = k_long_max;  // log.flush.interval.messages
  std::optional<std::int64_t> log_flush_interval_ms;    // log.flush.interval.ms
  std::int64_t log_flush_scheduler_interval_ms = k_long_max;  // log.flush.scheduler.interval.ms
  std::int32_t log_flush_offset_checkpoint_interval_ms = 60000;  // log.flush.offset.checkpoint.interval.ms
  std::optional<std::int64_t> log_retention_ms;         // log.retention.ms
  std::optional<std::int32_t> log_retention_minutes;    // log.retention.minutes
  std::int32_t log_retention_hours = 24 * 7;            // log.retention.hours
  std::int64_t log_retention_bytes = -1;                // log.retention.bytes
  std::int64_t log_retention_check_interval_ms = 300000;  // log.retention.check.interval.ms
  std::string log_cleanup_policy = "delete";            // log.cleanup.policy
  std::string log_message_timestamp_type = "CreateTime";  // log.message.timestamp.type
  std::string compression_type = "producer";            // compression.type
  std::int32_t num_recovery_threads_per_data_dir = 1;   // num.recovery.threads.per.data.dir (no effect)

  // --- producer ids and transactions -----------------------------------------
  std::int32_t transactional_id_expiration_ms = 604800000;  // transactional.id.expiration.ms
  std::int32_t transaction_max_timeout_ms = 900000;     // transaction.max.timeout.ms
  std::int32_t transaction_state_log_replication_factor = 3;  // transaction.state.log.replication.factor
  std::int32_t transaction_state_log_num_partitions = 50;  // transaction.state.log.num.partitions
  std::int32_t transaction_state_log_min_isr = 2;       // transaction.state.log.min.isr
  std::int32_t transaction_state_log_segment_bytes = 100 * 1024 * 1024;  // transaction.state.log.segment.bytes
  std::int32_t transaction_abort_timed_out_transaction_cleanup_interval_ms = 10000;
  std::int32_t transaction_remove_expired_transaction_cleanup_interval_ms = 3600000;
  std::int32_t producer_id_expiration_ms = 86400000;    // producer.id.expiration.ms (KIP-854)
  std::int32_t producer_id_expiration_check_interval_ms = 600000;  // producer.id.expiration.check.interval.ms
  std::int32_t max_id_map_snapshots = 2;                // max.id.map.snapshots

  // --- consumer groups and offsets ---------------------------------------------
  std::int32_t group_min_session_timeout_ms = 6000;     // group.min.session.timeout.ms
  std::int32_t group_max_session_timeout_ms = 1800000;  // group.max.session.timeout.ms
  std::int32_t group_initial_rebalance_delay_ms = 3000;  // group.initial.rebalance.delay.ms
  std::int32_t group_max_size = std::numeric_limits<std::int32_t>::max();  // group.max.size
  std::int32_t offsets_topic_replication_factor = 3;    // offsets.topic.replication.factor
  std::int32_t offsets_topic_num_partitions = 50;       // offsets.topic.num.partitions
  std::int32_t offsets_topic_segment_bytes = 100 * 1024 * 1024;  // offsets.topic.segment.bytes
  std::int32_t offsets_topic_compression_codec = 0;     // offsets.topic.compression.codec
  std::int32_t offsets_retention_minutes = 7 * 24 * 60;  // offsets.retention.minutes
  std::int64_t offsets_retention_check_interval_ms = 600000;  // offsets.retention.check.interval.ms
  std::int32_t offsets_commit_timeout_ms = 5000;        // offsets.commit.timeout.ms
  std::int32_t offsets_commit_required_acks = -1;       // offsets.commit.required.acks
  std::int32_t offsets_load_buffer_size = 5 * 1024 * 1024;  // offsets.load.buffer.size
  std::int32_t offset_metadata_max_bytes = 4096;        // offset.metadata.max.bytes

  LegacySwitches legacy;

  // Keys given explicitly (from --set or server.properties), for
  // DescribeConfigs' STATIC_BROKER_CONFIG source.
  std::vector<std::string> explicit_keys;

  // --- derived values, as KafkaConfig computes them ---------------------------
  // log.retention.ms, else minutes, else hours; -1 (or any negative) = unlimited.
  std::int64_t effective_log_retention_ms() const;
  // log.flush.interval.ms, else log.flush.scheduler.interval.ms.
  std::int64_t effective_log_flush_interval_ms() const;
  // log.roll.ms, else log.roll.hours.
  std::int64_t effective_log_roll_ms() const;
};

// Sets one broker key. An unknown key or a bad value is an error naming it.
Result<void, ConfigError> set_broker_config(BrokerConfig& c, std::string_view key,
                                            std::string_view value);
// Applies key=value pairs in order over the defaults, then checks the rules
// that span keys (e.g. group.min.session.timeout.ms <= group.max...).
Result<BrokerConfig, ConfigError> make_broker_config(
    const std::vector<std::pair<std::string, std::string>>& settings);
// The same from a java.util.Properties text (Kafka's server.properties):
// '#'/'!' comments, '='/':'/blank separators, '\' continuations and escapes.
// Errors carry file:line:col.
Result<BrokerConfig, ConfigError> parse_server_properties(std::string_view text,
                                                          std::string_view file_name);
// The key/value pairs of a properties text, without interpreting the keys.
Result<std::vector<std::pair<std::string, std::string>>, ConfigError> parse_properties(
    std::string_view text, std::string_view file_name);

bool is_broker_config_key(std::string_view key);
// Every broker key, sorted, and its current value as Kafka prints it
// (nullopt for an unset optional key, as Kafka's null).
struct ConfigValue {
  std::string name;
  std::optional<std::string> value;
  bool is_default = true;
  std::string_view type = "UNKNOWN";  // Kafka's ConfigDef.Type name: "INT", "LONG", "BOOLEAN" ...
};
std::vector<ConfigValue> describe_broker_config(const BrokerConfig& c);
std::optional<ConfigValue> broker_config_value(const BrokerConfig& c, std::string_view key);
// DynamicBrokerConfig.brokerConfigSynonyms (Kafka 2.8): the broker keys that
// set the same value, the most specific first (log.retention.ms, .minutes,
// .hours); a key without synonyms is its own only one.
std::vector<std::string_view> broker_config_synonyms(std::string_view key);
// The key's default as Kafka renders it (KafkaConfig's defaults); nullopt for
// a key whose default is null (log.retention.ms) or an unknown key.
std::optional<std::string> broker_default_value(std::string_view key);
// DescribeConfigs v3+'s Documentation (KIP-569): the key's doc string, as
// Kafka's ConfigDef doc of KafkaConfig (broker) or LogConfig (topic);
// nullopt for a key samsa does not model. config_docs.cpp.
enum class ConfigDocKind : std::uint8_t { broker, topic };
std::optional<std::string_view> config_documentation(ConfigDocKind kind, std::string_view key);

// --- topic level (LogConfig) ---------------------------------------------------
// A topic's effective configuration: the broker's defaults (through Kafka's
// synonyms: retention.ms <- log.retention.ms, ...) plus the topic's overrides
// (CreateTopics configs, /config/topics/<topic>).
struct TopicConfig {
  std::int32_t segment_bytes = 1024 * 1024 * 1024;  // segment.bytes
  std::int64_t segment_ms = 7 * 24 * 3600 * 1000LL;  // segment.ms
  std::int32_t segment_index_bytes = 10 * 1024 * 1024;  // segment.index.bytes
  std::int64_t flush_messages = k_long_max;         // flush.messages
  std::int64_t flush_ms = k_long_max;               // flush.ms
  std::int64_t retention_bytes = -1;                // retention.bytes
  std::int64_t retention_ms = 7 * 24 * 3600 * 1000LL;  // retention.ms
  std::int32_t max_message_bytes = k_default_message_max_bytes;  // max.message.bytes
  std::int32_t index_interval_bytes = 4096;         // index.interval.bytes
  std::string cleanup_policy = "delete";            // cleanup.policy
  bool unclean_leader_election_enable = false;      // unclean.leader.election.enable
  std::int32_t min_insync_replicas = 1;             // min.insync.replicas
  std::string compression_type = "producer";        // compression.type
  std::string message_timestamp_type = "CreateTime";  // message.timestamp.type
  std::map<std::string, std::string> overrides;      // what the topic set itself

  log::LogConfig log_config() const;  // what system/log needs
};

TopicConfig topic_defaults(const BrokerConfig& broker);
bool is_topic_config_key(std::string_view key);
// Applies one override (CreateTopics' configs). An unknown key or bad value
// is an error naming the key (Kafka answers INVALID_CONFIG with it).
Result<void, ConfigError> set_topic_config(TopicConfig& t, std::string_view key,
                                           std::string_view value);
Result<TopicConfig, ConfigError> make_topic_config(
    const BrokerConfig& broker, const std::map<std::string, std::string>& overrides);
// Every topic key and its value; is_default false for the topic's overrides.
std::vector<ConfigValue> describe_topic_config(const TopicConfig& t);
// The broker key a topic key falls back to (LogConfig.TopicConfigSynonyms).
std::string_view broker_synonym(std::string_view topic_key);

}  // namespace samsa::broker
