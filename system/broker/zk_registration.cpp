#include "system/broker/zk_registration.h"

#include <nlohmann/json.hpp>

#include <charconv>

#include "system/coord/kafka_layout.h"
#include "system/coord/recipes.h"

namespace samsa::broker {

using coord::Code;

namespace {

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

// "PLAINTEXT://host:port" -> endpoint.
std::optional<BrokerEndpoint> parse_endpoint(std::string_view uri) {
  const auto scheme = uri.find("://");
  const auto colon = uri.rfind(':');
  if (scheme == std::string_view::npos || colon == std::string_view::npos || colon < scheme + 3)
    return std::nullopt;
  BrokerEndpoint e;
  e.host = std::string(uri.substr(scheme + 3, colon - scheme - 3));
  const auto port = uri.substr(colon + 1);
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), e.port);
  if (ec != std::errc{} || end != port.data() + port.size()) return std::nullopt;
  return e;
}

}  // namespace

std::optional<BrokerEndpoint> parse_broker_json(std::string_view json) {
  const auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  if (const auto eps = j.find("endpoints"); eps != j.end() && eps->is_array())
    for (const auto& e : *eps)
      if (e.is_string() && e.get<std::string>().rfind("PLAINTEXT://", 0) == 0)
        return parse_endpoint(e.get<std::string>());
  const auto host = j.find("host");
  const auto port = j.find("port");
  if (host == j.end() || port == j.end() || !host->is_string() || !port->is_number_integer())
    return std::nullopt;
  const auto p = port->get<std::int64_t>();
  if (p < 0 || p > 65535) return std::nullopt;
  return BrokerEndpoint{host->get<std::string>(), static_cast<std::uint16_t>(p)};
}

Result<BrokerEpoch, Code> register_broker(coord::Client& c, BrokerId id,
                                          const BrokerEndpoint& endpoint,
                                          std::int64_t timestamp_ms) {
  const std::string path = coord::kafka::broker_path(id.value());
  auto r = c.create(path, bytes_of(coord::kafka::broker_json(endpoint.host, endpoint.port, timestamp_ms)),
                    coord::CreateMode::ephemeral);
  if (!r && r.error() != Code::node_exists && r.error() != Code::connection_loss)
    return Err{r.error()};
  // Created, or maybe created: the node's owner tells. Its czxid is the epoch.
  auto s = c.exists(path);
  if (!s) return Err{s.error() == Code::no_node ? Code::connection_loss : s.error()};
  if (s->ephemeral_owner != c.session_id()) return Err{Code::node_exists};
  return BrokerEpoch(s->czxid);
}

Result<BrokerInfo, Code> read_broker(coord::Client& c, BrokerId id) {
  auto d = c.get_data(coord::kafka::broker_path(id.value()));
  if (!d) return Err{d.error()};
  auto endpoint = parse_broker_json(as_chars(d->data));
  if (!endpoint) return Err{Code::marshalling_error};
  return BrokerInfo{id, std::move(*endpoint), BrokerEpoch(d->stat.czxid)};
}

Result<std::map<BrokerId, BrokerInfo>, Code> read_live_brokers(coord::Client& c,
                                                               coord::Watcher watcher) {
  auto children = c.get_children(std::string(coord::kafka::k_brokers_ids), std::move(watcher));
  if (!children) return Err{children.error()};
  std::map<BrokerId, BrokerInfo> out;
  for (const auto& name : children->children) {
    std::int32_t id = 0;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
    if (ec != std::errc{} || end != name.data() + name.size()) continue;  // not a broker id
    auto b = read_broker(c, BrokerId(id));
    if (!b) {
      if (b.error() == Code::no_node || b.error() == Code::marshalling_error) continue;
      return Err{b.error()};
    }
    out.emplace(BrokerId(id), std::move(*b));
  }
  return out;
}

void wait_session_end(sim::Runtime& rt, coord::Client& c) {
  sim::Event changed(rt.parker());
  c.on_state([&changed](coord::SessionState) { changed.set(); });
  while (c.state() != coord::SessionState::expired && c.state() != coord::SessionState::closed) {
    changed.reset();
    changed.wait({}, "broker.session_end");
  }
  c.on_state({});
}

namespace {

bool session_over(const coord::Client& c) {
  return c.state() == coord::SessionState::expired || c.state() == coord::SessionState::closed;
}

// Registers in this session, retrying transient failures and waiting out an
// earlier session's node. nullopt when the session ends first.
std::optional<BrokerEpoch> register_in_session(sim::Runtime& rt, coord::Client& c,
                                               const SessionConfig& config) {
  while (!session_over(c)) {
    if (coord::create_kafka_layout(c)) {
      auto r = register_broker(c, config.broker_id, config.endpoint, rt.wall_ms());
      if (r) return *r;
      if (r.error() == Code::node_exists)
        rt.log().warn("broker {}: /brokers/ids/{} is held by an earlier session; waiting",
                      config.broker_id, config.broker_id);
    }
    rt.sleep(config.retry_backoff);
  }
  return std::nullopt;
}

}  // namespace

void run_registered_sessions(sim::Runtime& rt, const SessionConfig& config,
                             const SessionBody& body) {
  for (;;) {
    auto client = coord::Client::start(rt, coord::ClientConfig{config.coordinators,
                                                               config.session_timeout_ms});
    if (client->wait_connected(rt.deadline_after(std::chrono::seconds(10)))) {
      if (auto epoch = register_in_session(rt, *client, config)) {
        rt.log().info("broker {} registered, broker epoch {}", config.broker_id, *epoch);
        body(*client, *epoch);
      }
    }
    client->close();
    rt.sleep(config.retry_backoff);
  }
}

}  // namespace samsa::broker
