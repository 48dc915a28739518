#include "system/client/network_client.h"

#include <fmt/format.h>

#include <algorithm>

namespace samsa::client {

namespace p = protocol;
using sim::MonoTime;

namespace {
sim::Duration ms(std::int64_t v) { return std::chrono::milliseconds(v); }
}  // namespace

NetworkClient::NetworkClient(sim::Runtime& rt, NetworkConfig config, sim::TaskScope& scope, Metadata* metadata,
                             std::string fiber_prefix)
    : rt_(rt),
      config_(std::move(config)),
      scope_(scope),
      metadata_(metadata),
      fiber_prefix_(std::move(fiber_prefix)),
      changes_(rt.parker()) {}

void NetworkClient::changed() {
  changes_.notify_all();
  if (on_change) on_change();
}

bool NetworkClient::ready(const Node& node, MonoTime now) {
  auto it = conns_.find(node);
  if (it != conns_.end()) return it->second->state == Conn::State::ready;
  auto back = reconnect_at_.find(node);
  if (back != reconnect_at_.end() && now < back->second) {
    soon(back->second);
    return false;
  }
  auto c = std::make_shared<Conn>();
  c->node = node;
  conns_[node] = c;
  scope_.spawn(fiber_prefix_ + node.addr.host, [this, c] { conn_loop(c); });
  return false;
}

bool NetworkClient::can_send(const Node& node, MonoTime now) {
  return ready(node, now) && static_cast<std::int32_t>(in_flight(node)) < config_.max_in_flight;
}

std::size_t NetworkClient::in_flight(const Node& node) const {
  auto it = conns_.find(node);
  return it == conns_.end() ? 0 : it->second->in_flight.size();
}

bool NetworkClient::connecting_or_ready(const Node& node) const { return conns_.count(node) > 0; }

std::optional<sim::Address> NetworkClient::least_loaded(MonoTime now, sim::Random& rng, std::int32_t channel) {
  std::vector<sim::Address> nodes;
  if (metadata_ != nullptr) nodes = metadata_->nodes();
  if (nodes.empty()) return std::nullopt;
  const std::size_t start = static_cast<std::size_t>(rng.uniform(0, static_cast<std::int64_t>(nodes.size()) - 1));
  std::optional<sim::Address> best, connectable;
  std::size_t best_load = ~std::size_t{0};
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Node n{nodes[(start + i) % nodes.size()], channel};
    auto it = conns_.find(n);
    if (it != conns_.end() && it->second->state == Conn::State::ready) {
      const std::size_t load = it->second->in_flight.size();
      if (load < best_load && static_cast<std::int32_t>(load) < config_.max_in_flight) {
        best = n.addr;
        best_load = load;
      }
    } else if (it != conns_.end()) {
      if (!connectable) connectable = n.addr;  // connecting: wait for it
    } else {
      auto back = reconnect_at_.find(n);
      if (back == reconnect_at_.end() || now >= back->second) {
        if (!connectable) connectable = n.addr;
      } else {
        soon(back->second);
      }
    }
  }
  return best ? best : connectable;
}

void NetworkClient::send_frame(const Node& node, std::int32_t correlation_id, Bytes frame, bool expect_response,
                               Done done, std::optional<sim::Duration> timeout) {
  auto it = conns_.find(node);
  SAMSA_ASSERT(it != conns_.end() && it->second->state == Conn::State::ready, "send on a node that is not ready");
  Conn& c = *it->second;
  const sim::Duration limit = timeout.value_or(ms(config_.request_timeout_ms));
  if (expect_response) c.in_flight.push_back({correlation_id, rt_.now() + limit, std::move(done)});
  // A send on a broken connection fails its requests from the connection's fiber.
  (void)c.conn->send(std::move(frame));
  soon(rt_.now() + limit);
}

void NetworkClient::conn_loop(ConnPtr c) {
  auto r = rt_.net().connect(c->node.addr, rt_.deadline_after(ms(config_.connection_setup_timeout_ms)));
  if (c->state == Conn::State::closed) return;
  if (!r) {
    fail_conn(c, fmt::format("connection to {}:{} failed", c->node.addr.host, c->node.addr.port));
    return;
  }
  c->conn = std::move(r).value();
  c->state = Conn::State::ready;
  connect_failures_.erase(c->node);
  changed();
  for (;;) {
    auto f = c->conn->recv();
    if (c->state == Conn::State::closed) return;
    if (!f) {
      fail_conn(c, fmt::format("disconnected from {}:{}", c->node.addr.host, c->node.addr.port));
      return;
    }
    if (c->in_flight.empty()) {
      fail_conn(c, "a response nobody asked for");
      return;
    }
    InFlight req = std::move(c->in_flight.front());
    c->in_flight.pop_front();
    const p::SharedFrame frame = p::share_frame(std::move(f).value());
    if (req.done) req.done(&frame, {});
    changed();
  }
}

void NetworkClient::fail_conn(const ConnPtr& c, const std::string& why) {
  if (c->state == Conn::State::closed) return;
  c->state = Conn::State::closed;
  if (c->conn) c->conn->close();
  auto it = conns_.find(c->node);
  if (it != conns_.end() && it->second == c) conns_.erase(it);
  ++disconnects_;
  const int n = ++connect_failures_[c->node];
  std::int64_t backoff = config_.reconnect_backoff_ms;
  for (int i = 1; i < n && backoff < config_.reconnect_backoff_max_ms; ++i) backoff *= 2;
  reconnect_at_[c->node] = rt_.now() + ms(std::min(backoff, config_.reconnect_backoff_max_ms));
  if (metadata_ != nullptr) metadata_->request_update();
  auto reqs = std::move(c->in_flight);
  c->in_flight.clear();
  for (auto& r : reqs)
    if (r.done) r.done(nullptr, why);
  changed();
}

void NetworkClient::check_timeouts(MonoTime now) {
  std::vector<ConnPtr> expired;
  for (const auto& [n, c] : conns_) {
    if (c->in_flight.empty()) continue;
    MonoTime first = c->in_flight.front().deadline;
    for (const auto& r : c->in_flight) first = std::min(first, r.deadline);
    if (first <= now) expired.push_back(c);
    else soon(first);
  }
  for (const auto& c : expired) fail_conn(c, "request timed out after request.timeout.ms");
}

void NetworkClient::wait_change(std::optional<MonoTime> deadline, const char* what) { changes_.wait(what, deadline); }

std::optional<p::SharedFrame> NetworkClient::call_frame(const Node& node, sim::Duration timeout,
                                                        const std::function<void(Done)>& send) {
  const MonoTime deadline = rt_.now() + timeout;
  // ConsumerNetworkClient: wait for the connection; a failed one fails the request.
  while (!can_send(node, rt_.now())) {
    if (!connecting_or_ready(node) || rt_.now() >= deadline) return std::nullopt;
    wait_change(deadline, "client.connect");
  }
  struct Answer {
    bool done = false;
    std::optional<p::SharedFrame> frame;
  };
  auto answer = std::make_shared<Answer>();
  const MonoTime answer_deadline = rt_.now() + timeout;  // the request's own, set by send
  send([answer](const p::SharedFrame* f, const std::string&) {
    answer->done = true;
    if (f) answer->frame = *f;
  });
  while (!answer->done) {
    const MonoTime now = rt_.now();
    if (now >= answer_deadline) check_timeouts(now);  // fails the connection, which answers
    if (answer->done) break;
    wait_change(answer_deadline, "client.response");
  }
  return answer->frame;
}

void NetworkClient::close() {
  for (auto& [n, c] : conns_) {
    c->state = Conn::State::closed;
    if (c->conn) c->conn->close();
  }
}

}  // namespace samsa::client
