#pragma once
// Reading the config files of live servers: ZooKeeper's zoo.cfg and (later)
// Kafka's server.properties are both Java properties files (key=value lines,
// '#' and '!' comments). Entries keep their line numbers, so every message
// names FILE:LINE. Bad values are errors (exit 2); unknown keys warn.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/live/connection_limits.h"
#include "sim/runtime/network.h"
#include "sim/runtime/result.h"
#include "system/broker/config.h"

namespace samsa::tools {

struct ConfigEntry {
  std::string key;
  std::string value;
  int line = 0;
};

struct ConfigFile {
  std::string path;
  std::vector<ConfigEntry> entries;  // in file order; a later duplicate wins
  std::string where(const ConfigEntry& e) const { return path + ":" + std::to_string(e.line); }
};

// Reads and splits a properties file. Errors: unreadable file, a line with
// no '=' or ':' separator.
Result<ConfigFile, std::string> read_properties(const std::string& path);

// ZooKeeper standalone settings, with ZooKeeper's key names and defaults.
struct CoordinatorSettings {
  std::string data_dir;                       // dataDir (required)
  std::uint16_t client_port = 2181;           // clientPort (required; 0: any free port)
  std::string client_port_address = "0.0.0.0";  // clientPortAddress
  std::int32_t tick_ms = 3000;                // tickTime
  std::int32_t min_session_timeout_ms = -1;   // minSessionTimeout (-1: 2 ticks)
  std::int32_t max_session_timeout_ms = -1;   // maxSessionTimeout (-1: 20 ticks)
  std::int64_t snap_count = 100000;           // snapCount: txns between snapshots
  std::size_t max_buffer_bytes = 0xfffff;     // jute.maxbuffer: the largest request
};

struct ParsedCoordinator {
  CoordinatorSettings settings;
  std::vector<std::string> warnings;  // "FILE:LINE: ..."
};

// Interprets zoo.cfg entries. An error names FILE:LINE (or the file, for a
// missing required key).
Result<ParsedCoordinator, std::string> parse_coordinator(const ConfigFile& file);

// One PLAINTEXT listener of Kafka's `listeners` / `advertised.listeners`
// (PLAINTEXT://host:port; an empty host binds every interface).
struct ListenerAddress {
  std::string host;
  std::uint16_t port = 0;
};
// Parses a listeners value. Only PLAINTEXT is served: another security
// protocol, several listeners or a malformed URI is an error.
Result<ListenerAddress, std::string> parse_listener(const std::string& value);

// zookeeper.connect: host:port[,host:port...] (port 2181 when left out).
// A chroot suffix (/path) is an error: samsa brokers keep Kafka's paths at
// the root.
Result<std::vector<sim::Address>, std::string> parse_zookeeper_connect(const std::string& value);

// A broker process, from Kafka's server.properties keys.
struct BrokerSettings {
  broker::BrokerConfig config;
  std::string log_dir;             // log.dirs (first entry), else log.dir
  std::string bind_host;           // listeners' host ("0.0.0.0" when empty)
  std::uint16_t port = 9092;       // listeners' port (0: any free port)
  std::string advertised_host;     // advertised.listeners, else listeners' host
  std::optional<std::uint16_t> advertised_port;  // nullopt: the bound port
  std::vector<sim::Address> coordinators;        // zookeeper.connect
  // max.connections, max.connections.per.ip, max.connections.per.ip.overrides
  // (host names resolved to their addresses when the file is read).
  sim::ConnectionLimits connection_limits;
};

struct ParsedBroker {
  BrokerSettings settings;
  std::vector<std::string> warnings;  // "FILE:LINE: ..."
};

// Interprets server.properties entries: every key the broker knows goes
// through broker::make_broker_config (Kafka's validators and messages);
// unknown keys warn. `default_host` is advertised when no listener names a
// host (Kafka advertises the machine's canonical host name).
Result<ParsedBroker, std::string> parse_broker(const ConfigFile& file, const std::string& default_host);

}  // namespace samsa::tools
