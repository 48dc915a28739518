#include "system/coord/recipes.h"

#include <charconv>

namespace samsa::coord {

namespace {
Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }
std::string_view chars_of(const Bytes& b) { return as_chars(b); }
}  // namespace

Result<void, Code> ensure_path(Client& c, const std::string& path) {
  for (std::size_t at = 1; at <= path.size(); ++at) {
    if (at < path.size() && path[at] != '/') continue;
    auto r = c.create(path.substr(0, at), {});
    // Lost connection: the create may have happened; the next level tells.
    if (!r && r.error() != Code::node_exists && r.error() != Code::connection_loss)
      return Err{r.error()};
  }
  if (auto e = c.exists(path); !e) return Err{e.error()};
  return {};
}

Result<void, Code> create_kafka_layout(Client& c) {
  for (const auto& p : kafka::persistent_paths())
    if (auto r = ensure_path(c, p); !r) return r;
  return {};
}

Result<void, Code> register_broker(Client& c, std::int32_t broker_id, std::string_view host,
                                   std::uint16_t port, std::int64_t timestamp_ms) {
  const std::string path = kafka::broker_path(broker_id);
  auto r = c.create(path, bytes_of(kafka::broker_json(host, port, timestamp_ms)),
                    CreateMode::ephemeral);
  if (r) return {};
  if (r.error() != Code::node_exists && r.error() != Code::connection_loss) return Err{r.error()};
  auto s = c.exists(path);
  if (!s) return Err{s.error()};
  if (s->ephemeral_owner != c.session_id()) return Err{Code::node_exists};
  return {};
}

namespace {

Result<std::pair<std::int32_t, std::int32_t>, Code> read_epoch(Client& c) {
  const std::string path(kafka::k_controller_epoch);
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto d = c.get_data(path);
    if (d) {
      std::int32_t epoch = 0;
      const auto text = chars_of(d->data);
      std::from_chars(text.data(), text.data() + text.size(), epoch);
      return std::pair{epoch, d->stat.version};
    }
    if (d.error() != Code::no_node) return Err{d.error()};
    auto created = c.create(path, bytes_of("0"));  // Kafka's initial epoch
    if (!created && created.error() != Code::node_exists) return Err{created.error()};
  }
  return Err{Code::no_node};
}

// Who holds /controller, and whether it is our session.
Result<Election, Code> read_controller(Client& c) {
  Election e;
  auto d = c.get_data(std::string(kafka::k_controller));
  if (!d) {
    if (d.error() == Code::no_node) return e;
    return Err{d.error()};
  }
  // A /controller value that does not parse names no controller, as Kafka's
  // ControllerZNode.decode (None -> -1).
  const auto named = kafka::parse_controller(chars_of(d->data));
  e.controller_id = named ? named->broker_id : -1;
  e.elected = d->stat.ephemeral_owner == c.session_id();
  return e;
}

}  // namespace

Result<Election, Code> try_elect_controller(Client& c, std::int32_t broker_id,
                                            std::int64_t timestamp_ms,
                                            const ElectionOptions& options) {
  auto epoch = read_epoch(c);
  if (!epoch) return Err{epoch.error()};
  auto [current, version] = *epoch;
  const std::int32_t next = (options.conditional_epoch ? current : options.cached_epoch) + 1;
  const std::int32_t expected = options.conditional_epoch ? version : -1;
  auto m = c.multi({CreateOp{std::string(kafka::k_controller),
                             bytes_of(kafka::controller_json(broker_id, timestamp_ms)),
                             CreateMode::ephemeral},
                    SetDataOp{std::string(kafka::k_controller_epoch),
                              bytes_of(std::to_string(next)), expected}});
  if (m) return Election{true, broker_id, next, m->at(1).stat.version};
  if (m.error() != Code::node_exists && m.error() != Code::bad_version &&
      m.error() != Code::connection_loss)
    return Err{m.error()};
  // Lost, or unknown: read back. The multi is atomic, so if our session
  // owns /controller the epoch now stored is ours.
  auto holder = read_controller(c);
  if (!holder) return Err{holder.error()};
  if (!holder->elected) return *holder;
  auto now = read_epoch(c);
  if (!now) return Err{now.error()};
  holder->epoch = now->first;
  holder->epoch_zk_version = now->second;
  return *holder;
}

Result<std::int32_t, Code> conditional_update(Client& c, const std::string& path, Bytes data,
                                              std::int32_t expected_version) {
  auto r = c.set_data(path, data, expected_version);
  if (r) return r->version;
  if (r.error() != Code::connection_loss) return Err{r.error()};
  // Unknown outcome: our write is there if the version moved exactly one
  // step and the data is ours (Kafka's checker for conditional updates).
  auto now = c.get_data(path);
  if (!now) return Err{Code::connection_loss};
  if (now->stat.version == expected_version + 1 && now->data == data) return now->stat.version;
  if (now->stat.version > expected_version) return Err{Code::bad_version};
  return Err{Code::connection_loss};
}

Result<std::int64_t, Code> next_sequential_id(Client& c, const std::string& prefix,
                                              CreateMode mode) {
  SAMSA_ASSERT(is_sequential(mode), "next_sequential_id needs a sequential mode");
  auto r = c.create(prefix, {}, mode);
  if (!r) return Err{r.error()};
  const std::string_view suffix = std::string_view(*r).substr(r->size() - 10);
  std::int64_t id = 0;
  std::from_chars(suffix.data(), suffix.data() + suffix.size(), id);
  return id;
}

}  // namespace samsa::coord
