#include "system/broker/server.h"

namespace samsa::broker {

using namespace protocol;

void Server::add(ApiKey key, Handler h) {
  SAMSA_ASSERT(find_api(static_cast<std::int16_t>(key)) != nullptr, "an api the protocol table knows");
  handlers_[key] = std::move(h);
}

void Server::limit_max_version(ApiKey key, std::int16_t max_version) {
  const ApiSpec* spec = find_api(static_cast<std::int16_t>(key));
  SAMSA_ASSERT(spec != nullptr && max_version >= spec->min_version && max_version <= spec->max_version,
               "a limit inside the protocol table's versions");
  max_versions_[key] = max_version;
}

std::int16_t Server::max_version(ApiKey key, const ApiSpec& spec) const {
  auto it = max_versions_.find(key);
  return it == max_versions_.end() ? spec.max_version : it->second;
}

ApiVersionsResponse Server::api_versions(ErrorCode error) const {
  ApiVersionsResponse r;
  r.error_code = error;
  for (const auto& [key, h] : handlers_) {
    const ApiSpec* spec = find_api(static_cast<std::int16_t>(key));
    auto& v = r.api_keys.emplace_back();
    v.api_key = static_cast<std::int16_t>(key);
    v.min_version = spec->min_version;
    v.max_version = max_version(key, *spec);
  }
  return r;
}

void Server::serve(std::shared_ptr<sim::Listener> listener) {
  for (;;) {
    auto c = listener->accept();
    if (!c) {
      if (c.error() == sim::NetErrc::closed) return;
      continue;
    }
    ++stats_.connections;
    std::shared_ptr<sim::Connection> conn(std::move(*c));
    rt_.spawn(fmt::format("conn-{}", conn->id()), [self = shared_from_this(), conn] {
      self->serve_connection(*conn);
      conn->close();
    });
  }
}

void Server::serve_connection(sim::Connection& c) {
  for (;;) {
    auto frame = c.recv();
    if (!frame) {
      if (frame.error() == sim::NetErrc::bad_frame) close_bad(c, "a frame with a bad size prefix");
      return;
    }
    if (!handle(c, std::move(*frame))) return;
  }
}

void Server::close_bad(sim::Connection& c, std::string_view why) {
  ++stats_.bad_frames;
  rt_.log().warn("closing connection {} from {}:{}: {}", c.id(), c.peer().host, c.peer().port, why);
  c.close();
}

bool Server::handle(sim::Connection& c, Bytes frame) {
  if (frame.size() > max_request_bytes_ + 4) {
    close_bad(c, fmt::format("a request of {} bytes (socket.request.max.bytes)", frame.size() - 4));
    return false;
  }
  auto ids = peek_request_ids(frame);
  if (!ids) {
    close_bad(c, "a request header that does not parse");
    return false;
  }
  const auto key = static_cast<ApiKey>(ids->api_key);
  const ApiSpec* spec = find_api(ids->api_key);
  if (key == ApiKey::api_versions && (spec == nullptr || !spec->supports(ids->api_version))) {
    // KIP-511: a version this broker does not know is answered at v0 with
    // UNSUPPORTED_VERSION and the versions it does know.
    ++stats_.requests;
    return c.send(encode_response_frame(std::int16_t{0}, ids->correlation_id,
                                        api_versions(ErrorCode::unsupported_version)))
        .ok();
  }
  if (spec == nullptr || !spec->supports(ids->api_version) || !serves(key) ||
      ids->api_version > max_version(key, *spec)) {
    close_bad(c, fmt::format("api {} v{} is not served", ids->api_key, ids->api_version));
    return false;
  }
  auto rf = decode_request_frame(share_frame(std::move(frame)));
  if (!rf) {
    close_bad(c, fmt::format("{} v{}: {}", spec->name, ids->api_version, describe(rf.error())));
    return false;
  }
  ++stats_.requests;
  auto out = handlers_.at(key)(*rf);
  if (!out) {
    close_bad(c, fmt::format("{} v{}: {}", spec->name, ids->api_version, describe(out.error())));
    return false;
  }
  if (!out->has_value()) return true;
  return c.send_parts(**out).ok();
}

}  // namespace samsa::broker
