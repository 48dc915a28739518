#include "tools/live_config.h"

#include <charconv>
#include <fstream>
#include <functional>
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

}  // namespace samsa::tools
