#pragma once
// The producer's configuration by Kafka's own key names and Kafka 3.x's
// defaults (ProducerConfig), with its validation rules: unknown values and
// conflicts are errors that name the key, as ConfigException does.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/runtime/network.h"
#include "sim/runtime/result.h"
#include "system/protocol/compression.h"

namespace samsa::client {

struct ProducerConfig {
  std::vector<sim::Address> bootstrap_servers;  // bootstrap.servers (required)
  std::string client_id = "producer-1";         // client.id
  std::int16_t acks = -1;                       // acks: all (-1), 0, 1; default all (3.0+)
  bool enable_idempotence = true;               // enable.idempotence (3.0+: true)
  std::int32_t retries = 2147483647;            // retries
  std::int64_t retry_backoff_ms = 100;          // retry.backoff.ms
  std::int64_t delivery_timeout_ms = 120000;    // delivery.timeout.ms
  std::int64_t request_timeout_ms = 30000;      // request.timeout.ms
  std::int64_t linger_ms = 0;                   // linger.ms (0 until Kafka 4.0)
  std::int32_t batch_size = 16384;              // batch.size
  std::int64_t buffer_memory = 33554432;        // buffer.memory
  std::int64_t max_block_ms = 60000;            // max.block.ms
  std::int32_t max_in_flight = 5;               // max.in.flight.requests.per.connection
  std::int32_t max_request_size = 1048576;      // max.request.size
  protocol::Compression compression = protocol::Compression::none;  // compression.type
  std::int64_t metadata_max_age_ms = 300000;    // metadata.max.age.ms
  std::int64_t reconnect_backoff_ms = 50;       // reconnect.backoff.ms
  std::int64_t reconnect_backoff_max_ms = 1000; // reconnect.backoff.max.ms
  std::int64_t connection_setup_timeout_ms = 10000;  // socket.connection.setup.timeout.ms
  std::string partitioner_class;                // partitioner.class (empty: the default)
  std::string transactional_id;                 // transactional.id (empty: not transactional)
  std::int32_t transaction_timeout_ms = 60000;  // transaction.timeout.ms
  bool transactional() const { return !transactional_id.empty(); }
};

struct ConfigError {
  std::string key;
  std::string message;  // names the key, as Kafka's ConfigException
};

// Kafka's keys -> a checked configuration. Follows ProducerConfig
// .postProcessAndValidateIdempotenceConfigs (Kafka 3.2+, KAFKA-13598): an
// explicit enable.idempotence=true with acks != all, retries = 0 or
// max.in.flight > 5 is an error; without an explicit setting such a
// configuration quietly turns idempotence off. A transactional.id needs
// idempotence: explicitly off is an error, conflicts with it are errors
// (ProducerConfig: "Cannot set a transactional.id without also enabling
// idempotence").
Result<ProducerConfig, ConfigError> parse_producer_config(const std::map<std::string, std::string>& props);

}  // namespace samsa::client
