#pragma once
// The admin operations a broker serves in ZooKeeper mode (Kafka 2.8's
// ZkAdminManager, AdminZkClient, TransactionCoordinator for
// non-transactional InitProducerId): CreateTopics writes the znodes and the
// controller reacts; DeleteTopics marks topics; DescribeConfigs reads the
// broker's and the topics' configuration. Inputs and outputs are plain
// structs named after Kafka's request and response fields, so the request
// handlers only translate the typed messages.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/runtime/random.h"
#include "system/broker/config.h"
#include "system/broker/producer_id_manager.h"
#include "system/coord/client.h"
#include "system/protocol/errors.h"
#include "system/protocol/ids.h"

namespace samsa::broker {

using protocol::BrokerId;
using protocol::ErrorCode;
using protocol::PartitionId;

// Topic.validate: INVALID_TOPIC_EXCEPTION with Kafka's message, or nullopt.
std::optional<std::string> invalid_topic_name(std::string_view topic);

struct NewTopic {  // CreatableTopic
  std::string name;
  std::int32_t num_partitions = -1;      // -1: num.partitions
  std::int32_t replication_factor = -1;  // -1: default.replication.factor
  std::map<PartitionId, std::vector<BrokerId>> assignments;  // or empty
  std::map<std::string, std::string> configs;
};

struct CreateTopicResult {  // CreatableTopicResult
  std::string name;
  ErrorCode error = ErrorCode::none;
  std::optional<std::string> error_message;
  std::int32_t num_partitions = -1;
  std::int32_t replication_factor = -1;
  std::vector<ConfigValue> configs;  // the topic's resulting configuration (v5+)
};

// Validates and (unless validate_only) writes each topic. `rng` draws the
// replica placement's start index and shift, as Kafka's AdminUtils.rand.
std::vector<CreateTopicResult> create_topics(coord::Client& c, const BrokerConfig& broker,
                                             const std::vector<NewTopic>& topics,
                                             bool validate_only, sim::Random& rng);

struct DeleteTopicResult {  // DeletableTopicResult
  std::string name;
  ErrorCode error = ErrorCode::none;
  std::optional<std::string> error_message;
};
std::vector<DeleteTopicResult> delete_topics(coord::Client& c, const BrokerConfig& broker,
                                             const std::vector<std::string>& topics);

// DescribeConfigs (KIP-226 sources and synonyms), as Kafka 2.8's
// ConfigHelper.describeConfigs in ZooKeeper mode: a broker resource named by
// this broker's id lists every broker key (read-only unless Kafka can update
// it dynamically, DynamicBrokerConfig.AllDynamicConfigs); the empty name
// lists the cluster-wide dynamic defaults, of which samsa has none; a topic
// lists every topic key (never read-only), sourced TOPIC_CONFIG for its own
// overrides, else from its broker synonym.
enum class ConfigResourceType : std::int8_t { unknown = 0, topic = 2, broker = 4 };
enum class ConfigSource : std::int8_t {
  unknown = 0,
  dynamic_topic_config = 1,
  dynamic_broker_config = 2,
  dynamic_default_broker_config = 3,
  static_broker_config = 4,
  default_config = 5,
};
struct ConfigSynonym {
  std::string name;
  std::optional<std::string> value;
  ConfigSource source = ConfigSource::default_config;
};
struct DescribedConfig {  // DescribeConfigsResourceResult
  std::string name;
  std::optional<std::string> value;
  bool read_only = false;
  ConfigSource source = ConfigSource::default_config;
  bool is_sensitive = false;
  std::vector<ConfigSynonym> synonyms;
  std::string_view type = "UNKNOWN";  // ConfigDef.Type name (DescribeConfigs v3+ ConfigType)
};
struct DescribeConfigsResource {
  ConfigResourceType type = ConfigResourceType::unknown;
  std::string name;
  std::optional<std::vector<std::string>> keys;  // null: every key
};
struct DescribeConfigsResult {
  ErrorCode error = ErrorCode::none;
  std::optional<std::string> error_message;
  ConfigResourceType type = ConfigResourceType::unknown;
  std::string name;
  std::vector<DescribedConfig> configs;
};
std::vector<DescribeConfigsResult> describe_configs(coord::Client& c, const BrokerConfig& broker,
                                                    const std::vector<DescribeConfigsResource>& resources,
                                                    bool include_synonyms);
// DynamicBrokerConfig.AllDynamicConfigs (Kafka 2.8) for the keys samsa knows.
bool is_dynamic_broker_config(std::string_view key);

// InitProducerId without a transactional id: a fresh producer id, epoch 0.
struct InitProducerIdResult {
  ErrorCode error = ErrorCode::none;
  protocol::ProducerId producer_id = protocol::ProducerId::none();
  protocol::ProducerEpoch producer_epoch = protocol::ProducerEpoch::none();
};
InitProducerIdResult init_producer_id(coord::Client& c, ProducerIdManager& ids,
                                      const std::optional<std::string>& transactional_id);

}  // namespace samsa::broker
