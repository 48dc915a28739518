#include "tools/live_config.h"

#include <netdb.h>
#include <sys/socket.h>

#include <charconv>
#include <climits>
#include <fstream>
#include <functional>
#include <map>
#include <set>

namespace samsa::tools {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\f");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\f");
  return s.substr(b, e - b + 1);
}

template <class T>
std::optional<T> parse_int(const std::string& v) {
  T out{};
  const char* end = v.data() + v.size();
  auto [p, ec] = std::from_chars(v.data(), end, out);
  if (ec != std::errc() || p != end || v.empty()) return std::nullopt;
  return out;
}

// Keys of ZooKeeper's zoo.cfg that a standalone samsa coordinator accepts
// but does not act on (each gets one warning).
const std::set<std::string>& ignored_keys() {
  static const std::set<std::string> keys = {
      "dataLogDir", "maxClientCnxns", "initLimit", "syncLimit", "admin.enableServer",
      "admin.serverPort", "admin.serverAddress", "4lw.commands.whitelist",
      "autopurge.snapRetainCount", "autopurge.purgeInterval", "preAllocSize",
      "standaloneEnabled", "reconfigEnabled", "globalOutstandingLimit", "electionAlg",
      "quorumListenOnAllIPs", "metricsProvider.className", "secureClientPort",
      "maxCnxns", "skipACL", "forceSync", "syncEnabled"};
  return keys;
}

}  // namespace

Result<ConfigFile, std::string> read_properties(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Err{path + ": cannot read the file"};
  ConfigFile file{path, {}};
  std::string raw;
  int line = 0;
  while (std::getline(in, raw)) {
    ++line;
    const std::string s = trim(raw);
    if (s.empty() || s[0] == '#' || s[0] == '!') continue;
    const auto sep = s.find_first_of("=:");
    if (sep == std::string::npos)
      return Err{path + ":" + std::to_string(line) + ": expected key=value, got '" + s + "'"};
    file.entries.push_back({trim(s.substr(0, sep)), trim(s.substr(sep + 1)), line});
  }
  return file;
}

Result<ParsedCoordinator, std::string> parse_coordinator(const ConfigFile& file) {
  ParsedCoordinator out;
  CoordinatorSettings& c = out.settings;
  bool have_data_dir = false;
  bool have_port = false;
  std::optional<int> min_line, max_line;
  auto bad = [&](const ConfigEntry& e, const std::string& want) {
    return Err{file.where(e) + ": bad value for " + e.key + ": '" + e.value + "' (" + want + ")"};
  };
  for (const ConfigEntry& e : file.entries) {
    if (e.key == "dataDir") {
      if (e.value.empty()) return bad(e, "a directory");
      c.data_dir = e.value;
      have_data_dir = true;
    } else if (e.key == "clientPort") {
      const auto v = parse_int<std::uint16_t>(e.value);
      if (!v) return bad(e, "a port 0..65535; 0 picks a free one");
      c.client_port = *v;
      have_port = true;
    } else if (e.key == "clientPortAddress") {
      if (e.value.empty()) return bad(e, "an IP address");
      c.client_port_address = e.value;
    } else if (e.key == "tickTime") {
      const auto v = parse_int<std::int32_t>(e.value);
      if (!v || *v <= 0) return bad(e, "milliseconds > 0");
      c.tick_ms = *v;
    } else if (e.key == "minSessionTimeout") {
      const auto v = parse_int<std::int32_t>(e.value);
      if (!v || *v < -1) return bad(e, "milliseconds, or -1 for 2 ticks");
      c.min_session_timeout_ms = *v;
      min_line = e.line;
    } else if (e.key == "maxSessionTimeout") {
      const auto v = parse_int<std::int32_t>(e.value);
      if (!v || *v < -1) return bad(e, "milliseconds, or -1 for 20 ticks");
      c.max_session_timeout_ms = *v;
      max_line = e.line;
    } else if (e.key == "snapCount") {
      const auto v = parse_int<std::int64_t>(e.value);
      if (!v || *v <= 0) return bad(e, "a number of transactions > 0");
      c.snap_count = *v;
    } else if (e.key == "jute.maxbuffer") {
      const auto v = parse_int<std::size_t>(e.value);
      if (!v || *v < 1024 || *v > 100 * 1024 * 1024) return bad(e, "bytes in 1024..104857600");
      c.max_buffer_bytes = *v;
    } else if (ignored_keys().count(e.key) || e.key.starts_with("server.")) {
      out.warnings.push_back(file.where(e) + ": " + e.key +
                             " is not used by samsa's coordinator (standalone only); ignored");
    } else {
      out.warnings.push_back(file.where(e) + ": unknown key '" + e.key + "'; ignored");
    }
  }
  if (!have_data_dir) return Err{file.path + ": dataDir is not set"};
  if (!have_port) return Err{file.path + ": clientPort is not set"};
  const std::int32_t lo = c.min_session_timeout_ms >= 0 ? c.min_session_timeout_ms : 2 * c.tick_ms;
  const std::int32_t hi = c.max_session_timeout_ms >= 0 ? c.max_session_timeout_ms : 20 * c.tick_ms;
  if (lo > hi) {
    const int line = max_line ? *max_line : min_line.value_or(0);
    return Err{file.path + ":" + std::to_string(line) + ": minSessionTimeout (" +
               std::to_string(lo) + " ms) is larger than maxSessionTimeout (" +
               std::to_string(hi) + " ms)"};
  }
  return out;
}

namespace {

std::vector<std::string> split(const std::string& v, char sep) {
  std::vector<std::string> out;
  std::size_t at = 0;
  for (;;) {
    const auto next = v.find(sep, at);
    out.push_back(trim(v.substr(at, next == std::string::npos ? std::string::npos : next - at)));
    if (next == std::string::npos) return out;
    at = next + 1;
  }
}

}  // namespace

Result<ListenerAddress, std::string> parse_listener(const std::string& value) {
  const auto listeners = split(value, ',');
  if (listeners.size() != 1)
    return Err{std::string("samsa brokers serve one listener (PLAINTEXT://host:port)")};
  const std::string& uri = listeners.front();
  const auto scheme = uri.find("://");
  if (scheme == std::string::npos) return Err{"'" + uri + "' is not of the form PLAINTEXT://host:port"};
  if (uri.substr(0, scheme) != "PLAINTEXT")
    return Err{"only PLAINTEXT listeners are served, not " + uri.substr(0, scheme)};
  const std::string rest = uri.substr(scheme + 3);
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos) return Err{"'" + uri + "' names no port"};
  const auto port = parse_int<std::uint16_t>(rest.substr(colon + 1));
  if (!port) return Err{"'" + rest.substr(colon + 1) + "' is not a port 0..65535"};
  ListenerAddress out{rest.substr(0, colon), *port};
  // IPv6 literals are written [::1]:9092.
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']')
    out.host = out.host.substr(1, out.host.size() - 2);
  return out;
}

Result<std::vector<sim::Address>, std::string> parse_zookeeper_connect(const std::string& value) {
  if (value.find('/') != std::string::npos)
    return Err{std::string("a chroot path is not supported (samsa keeps Kafka's znodes at the root)")};
  std::vector<sim::Address> out;
  for (const std::string& hp : split(value, ',')) {
    if (hp.empty()) return Err{std::string("an empty host:port")};
    const auto colon = hp.rfind(':');
    sim::Address a{hp.substr(0, colon), 2181};
    if (colon != std::string::npos) {
      const auto port = parse_int<std::uint16_t>(hp.substr(colon + 1));
      if (!port || *port == 0) return Err{"'" + hp + "' has no port 1..65535"};
      a.port = *port;
    }
    if (a.host.empty()) return Err{"'" + hp + "' names no host"};
    out.push_back(std::move(a));
  }
  return out;
}

namespace {

// Where the broker listens and what it advertises (KafkaConfig.listeners,
// advertisedListeners: advertised.listeners defaults to listeners, which
// default to the old host.name and port keys).
Result<void, std::string> resolve_listeners(const ConfigFile& file,
                                            const std::map<std::string, const ConfigEntry*>& last,
                                            const std::string& default_host, BrokerSettings& s) {
  const broker::BrokerConfig& c = s.config;
  ListenerAddress bind{c.host_name, static_cast<std::uint16_t>(c.port)};
  if (c.port < 0 || c.port > 65535) {
    const auto it = last.find("port");
    return Err{(it != last.end() ? file.where(*it->second) : file.path) + ": port must be 0..65535"};
  }
  if (const auto it = last.find("listeners"); it != last.end()) {
    auto l = parse_listener(c.listeners);
    if (!l) return Err{file.where(*it->second) + ": bad value for listeners: " + l.error()};
    bind = *l;
  }
  s.bind_host = bind.host.empty() ? "0.0.0.0" : bind.host;
  s.port = bind.port;
  const bool routable = !bind.host.empty() && bind.host != "0.0.0.0" && bind.host != "::";
  s.advertised_host = routable ? bind.host : default_host;
  s.advertised_port = bind.port == 0 ? std::nullopt : std::optional<std::uint16_t>(bind.port);
  if (const auto it = last.find("advertised.listeners"); it != last.end()) {
    auto a = parse_listener(c.advertised_listeners);
    if (!a) return Err{file.where(*it->second) + ": bad value for advertised.listeners: " + a.error()};
    if (a->host == "0.0.0.0" || a->host == "::")
      return Err{file.where(*it->second) +
                 ": advertised.listeners cannot use the nonroutable meta-address " + a->host};
    if (a->port == 0) return Err{file.where(*it->second) + ": advertised.listeners needs a port"};
    if (!a->host.empty()) s.advertised_host = a->host;
    s.advertised_port = a->port;
  }
  return {};
}

}  // namespace

// Every address a host name (or an IP literal) stands for, as text.
std::vector<std::string> addresses_of(const std::string& host) {
  std::vector<std::string> out;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) return out;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    char text[NI_MAXHOST] = {};
    if (::getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) == 0)
      out.emplace_back(text);
  }
  ::freeaddrinfo(res);
  return out;
}

// The connection-quota keys, which the live listener enforces (Kafka's
// SocketServer ConnectionQuotas). True when `e` was one of them; an error
// for a bad value, with Kafka's validators (ints at least 0; overrides a
// comma-separated list of host:count).
Result<bool, std::string> parse_connection_limit(const ConfigFile& file, const ConfigEntry& e,
                                                  sim::ConnectionLimits& limits) {
  auto count = [&](const std::string& v) -> Result<std::int64_t, std::string> {
    const auto n = parse_int<std::int32_t>(trim(v));
    if (!n || *n < 0)
      return Err{file.where(e) + ": invalid value " + v + " for configuration " + e.key +
                 ": value must be at least 0"};
    return std::int64_t{*n};
  };
  if (e.key == "max.connections" || e.key == "max.connections.per.ip") {
    auto n = count(e.value);
    if (!n) return Err{n.error()};
    (e.key == "max.connections" ? limits.max_connections : limits.max_connections_per_ip) = *n;
    return true;
  }
  if (e.key != "max.connections.per.ip.overrides") return false;
  limits.per_ip_overrides.clear();
  for (const std::string& item : split(e.value, ',')) {
    const std::string entry = trim(item);
    if (entry.empty()) continue;
    const auto colon = entry.rfind(':');
    if (colon == std::string::npos || colon == 0)
      return Err{file.where(e) + ": bad value for max.connections.per.ip.overrides: '" + entry +
                 "' is not host:count"};
    auto n = count(entry.substr(colon + 1));
    if (!n) return Err{n.error()};
    const auto addrs = addresses_of(entry.substr(0, colon));
    if (addrs.empty())
      return Err{file.where(e) + ": bad value for max.connections.per.ip.overrides: cannot resolve '" +
                 entry.substr(0, colon) + "'"};
    for (const auto& a : addrs) limits.per_ip_overrides[a] = *n;
  }
  return true;
}

Result<ParsedBroker, std::string> parse_broker(const ConfigFile& file, const std::string& default_host) {
  ParsedBroker out;
  BrokerSettings& s = out.settings;
  std::vector<std::pair<std::string, std::string>> known;
  std::map<std::string, const ConfigEntry*> last;
  const ConfigEntry* per_ip = nullptr;
  for (const ConfigEntry& e : file.entries) {
    auto quota = parse_connection_limit(file, e, s.connection_limits);
    if (!quota) return Err{quota.error()};
    if (*quota) {
      if (e.key == "max.connections.per.ip") per_ip = &e;
      continue;
    }
    if (!broker::is_broker_config_key(e.key)) {
      out.warnings.push_back(file.where(e) + ": unknown key '" + e.key + "'; ignored");
      continue;
    }
    // One key at a time, so that a bad value names its own line.
    if (auto r = broker::set_broker_config(s.config, e.key, e.value); !r)
      return Err{file.where(e) + ": " + r.error().message};
    known.emplace_back(e.key, e.value);
    last[e.key] = &e;
  }
  // Again as a whole, for the rules that span keys.
  auto whole = broker::make_broker_config(known);
  if (!whole) {
    const auto it = last.find(whole.error().key);
    return Err{(it != last.end() ? file.where(*it->second) : file.path) + ": " + whole.error().message};
  }
  s.config = std::move(*whole);
  // KafkaConfig.validateValues: a per-IP limit of 0 needs overrides.
  if (per_ip != nullptr && s.connection_limits.max_connections_per_ip == 0 &&
      s.connection_limits.per_ip_overrides.empty())
    return Err{file.where(*per_ip) +
               ": max.connections.per.ip can be set to zero only if "
               "max.connections.per.ip.overrides property is set."};
  if (!last.count("broker.id") || s.config.broker_id < 0)
    return Err{(last.count("broker.id") ? file.where(*last.at("broker.id")) : file.path) +
               ": broker.id must be set to 0 or more (samsa does not generate broker ids)"};
  if (!last.count("zookeeper.connect")) return Err{file.path + ": zookeeper.connect is not set"};
  auto zk = parse_zookeeper_connect(s.config.zookeeper_connect);
  if (!zk) return Err{file.where(*last.at("zookeeper.connect")) + ": bad value for zookeeper.connect: " + zk.error()};
  s.coordinators = std::move(*zk);
  if (auto r = resolve_listeners(file, last, default_host, s); !r) return Err{r.error()};
  // log.dirs, else log.dir (Kafka's default /tmp/kafka-logs).
  s.log_dir = s.config.log_dir;
  if (const auto it = last.find("log.dirs"); it != last.end()) {
    const auto dirs = split(s.config.log_dirs, ',');
    if (dirs.front().empty()) return Err{file.where(*it->second) + ": bad value for log.dirs: an empty path"};
    s.log_dir = dirs.front();
    if (dirs.size() > 1)
      out.warnings.push_back(file.where(*it->second) + ": samsa brokers keep one log dir; using " + s.log_dir);
  }
  // The node's disk is rooted at the log dir; the broker's paths are
  // relative to it.
  s.config.log_dir.clear();
  return out;
}

}  // namespace samsa::tools
