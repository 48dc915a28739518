#pragma once
// Connection quotas of a live listener (no Asio here: tools read them from
// server.properties without linking the live world).
#include <cstdint>
#include <limits>
#include <map>
#include <string>

namespace samsa::sim {

// Kafka's connection quotas (SocketServer's ConnectionQuotas, KIP-402), per
// listener: a connection from an address that already has its
// max.connections.per.ip (or its max.connections.per.ip.overrides entry)
// is accepted and closed at once, with one log line; at max.connections
// the listener stops taking connections (they wait in the backlog, as
// Kafka's acceptor blocks) until one closes.
struct ConnectionLimits {
  static constexpr std::int64_t k_unlimited = std::numeric_limits<std::int32_t>::max();
  std::int64_t max_connections = k_unlimited;
  std::int64_t max_connections_per_ip = k_unlimited;
  std::map<std::string, std::int64_t> per_ip_overrides;  // by IP address text
  std::int64_t limit_for(const std::string& ip) const {
    const auto it = per_ip_overrides.find(ip);
    return it != per_ip_overrides.end() ? it->second : max_connections_per_ip;
  }
};

}  // namespace samsa::sim
