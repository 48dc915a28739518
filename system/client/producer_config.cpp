#include "system/client/producer_config.h"

#include <charconv>
#include <set>

namespace samsa::client {

namespace {

using Props = std::map<std::string, std::string>;

ConfigError invalid(const std::string& key, const std::string& value, const std::string& why) {
  return {key, "Invalid value " + value + " for configuration " + key + ": " + why};
}

template <class T>
Result<T, ConfigError> number(const std::string& key, const std::string& v, T min) {
  T out{};
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) return Err{invalid(key, v, "Not a number of type INT/LONG")};
  if (out < min) return Err{invalid(key, v, "Value must be at least " + std::to_string(min))};
  return out;
}

Result<std::vector<sim::Address>, ConfigError> servers(const std::string& v) {
  std::vector<sim::Address> out;
  std::size_t at = 0;
  while (at <= v.size()) {
    std::size_t end = v.find(',', at);
    if (end == std::string::npos) end = v.size();
    std::string item = v.substr(at, end - at);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) {
      const auto colon = item.rfind(':');
      if (colon == std::string::npos || colon == 0)
        return Err{invalid("bootstrap.servers", v, "Invalid url in bootstrap.servers: " + item)};
      auto port = number<std::int32_t>("bootstrap.servers", item.substr(colon + 1), 0);
      if (!port || port.value() > 65535)
        return Err{invalid("bootstrap.servers", v, "Invalid port in bootstrap.servers: " + item)};
      out.push_back({item.substr(0, colon), static_cast<std::uint16_t>(port.value())});
    }
    at = end + 1;
  }
  if (out.empty()) return Err{ConfigError{"bootstrap.servers", "No resolvable bootstrap urls given in bootstrap.servers"}};
  return out;
}

Result<void, ConfigError> apply(ProducerConfig& c, const std::string& k, const std::string& v) {
#define SAMSA_NUM(key, field, min)                   \
  if (k == key) {                                    \
    auto n = number<decltype(c.field)>(k, v, min);   \
    if (!n) return Err{n.error()};                   \
    c.field = n.value();                             \
    return {};                                       \
  }
  SAMSA_NUM("retries", retries, 0)
  SAMSA_NUM("retry.backoff.ms", retry_backoff_ms, 0)
  SAMSA_NUM("delivery.timeout.ms", delivery_timeout_ms, 0)
  SAMSA_NUM("request.timeout.ms", request_timeout_ms, 0)
  SAMSA_NUM("linger.ms", linger_ms, 0)
  SAMSA_NUM("batch.size", batch_size, 0)
  SAMSA_NUM("buffer.memory", buffer_memory, 0)
  SAMSA_NUM("max.block.ms", max_block_ms, 0)
  SAMSA_NUM("max.in.flight.requests.per.connection", max_in_flight, 1)
  SAMSA_NUM("max.request.size", max_request_size, 0)
  SAMSA_NUM("metadata.max.age.ms", metadata_max_age_ms, 0)
  SAMSA_NUM("reconnect.backoff.ms", reconnect_backoff_ms, 0)
  SAMSA_NUM("reconnect.backoff.max.ms", reconnect_backoff_max_ms, 0)
  SAMSA_NUM("socket.connection.setup.timeout.ms", connection_setup_timeout_ms, 0)
  SAMSA_NUM("transaction.timeout.ms", transaction_timeout_ms, 1)
#undef SAMSA_NUM
  if (k == "bootstrap.servers") {
    auto s = servers(v);
    if (!s) return Err{s.error()};
    c.bootstrap_servers = std::move(s).value();
    return {};
  }
  if (k == "client.id") {
    c.client_id = v;
    return {};
  }
  if (k == "acks") {
    if (v == "all" || v == "-1") c.acks = -1;
    else if (v == "0") c.acks = 0;
    else if (v == "1") c.acks = 1;
    else return Err{invalid(k, v, "String must be one of: all, -1, 0, 1")};
    return {};
  }
  if (k == "enable.idempotence") {
    if (v == "true") c.enable_idempotence = true;
    else if (v == "false") c.enable_idempotence = false;
    else return Err{invalid(k, v, "Expected value to be either true or false")};
    return {};
  }
  if (k == "compression.type") {
    static const std::map<std::string, protocol::Compression> names = {
        {"none", protocol::Compression::none}, {"gzip", protocol::Compression::gzip},
        {"snappy", protocol::Compression::snappy}, {"lz4", protocol::Compression::lz4},
        {"zstd", protocol::Compression::zstd}};
    auto it = names.find(v);
    if (it == names.end()) return Err{invalid(k, v, "String must be one of: none, gzip, snappy, lz4, zstd")};
    c.compression = it->second;
    return {};
  }
  if (k == "transactional.id") {
    c.transactional_id = v;
    return {};
  }
  if (k == "partitioner.class") {
    c.partitioner_class = v;
    return {};
  }
  return Err{ConfigError{k, "Unknown producer configuration " + k}};
}

}  // namespace

Result<ProducerConfig, ConfigError> parse_producer_config(const Props& props) {
  ProducerConfig c;
  for (const auto& [k, v] : props) {
    auto r = apply(c, k, v);
    if (!r) return Err{r.error()};
  }
  if (c.bootstrap_servers.empty())
    return Err{ConfigError{"bootstrap.servers", "Missing required configuration \"bootstrap.servers\" which has no default value."}};
  bool explicit_idempotence = props.count("enable.idempotence") > 0;
  if (c.transactional()) {
    if (explicit_idempotence && !c.enable_idempotence)
      return Err{ConfigError{"enable.idempotence", "Cannot set a transactional.id without also enabling idempotence."}};
    explicit_idempotence = true;  // its conflicts are errors, not a quiet fallback
  }
  if (c.enable_idempotence) {
    const char* conflict = nullptr;
    const char* key = nullptr;
    if (c.max_in_flight > 5) {
      key = "max.in.flight.requests.per.connection";
      conflict = "Must set max.in.flight.requests.per.connection to at most 5 when using the idempotent producer.";
    } else if (c.retries == 0) {
      key = "retries";
      conflict = "Must set retries to non-zero when using the idempotent producer.";
    } else if (c.acks != -1) {
      key = "acks";
      conflict = "Must set acks to all in order to use the idempotent producer. Otherwise we cannot guarantee idempotence.";
    }
    if (conflict && explicit_idempotence) return Err{ConfigError{key, conflict}};
    if (conflict) c.enable_idempotence = false;  // KAFKA-13598: implicit default yields
  }
  if (c.delivery_timeout_ms < c.linger_ms + c.request_timeout_ms) {
    if (props.count("delivery.timeout.ms"))
      return Err{ConfigError{"delivery.timeout.ms",
                             "delivery.timeout.ms should be equal to or larger than linger.ms + request.timeout.ms"}};
    c.delivery_timeout_ms = c.linger_ms + c.request_timeout_ms;  // Kafka overrides and warns
  }
  if (!c.partitioner_class.empty() && c.partitioner_class != "org.apache.kafka.clients.producer.RoundRobinPartitioner" &&
      c.partitioner_class != "org.apache.kafka.clients.producer.internals.DefaultPartitioner")
    return Err{invalid("partitioner.class", c.partitioner_class, "Class could not be found.")};
  return c;
}

}  // namespace samsa::client
