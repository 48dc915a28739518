#include "system/coord/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace samsa::coord {

// Writes go one at a time: log, fsync, apply, reply. No reader sees a change
// before it is durable.
class Server::WriteLock {
 public:
  explicit WriteLock(Server& s) : s_(s) {
    while (s_.write_locked_) s_.write_waiters_.wait("coord.write_lock");
    s_.write_locked_ = true;
  }
  ~WriteLock() {
    s_.write_locked_ = false;
    s_.write_waiters_.notify_one();
  }

 private:
  Server& s_;
};

Server::Server(sim::Runtime& rt, ServerConfig config)
    : rt_(rt),
      config_(std::move(config)),
      log_(rt.disk(), config_.data_dir),
      write_waiters_(rt.parker()) {}

Result<std::shared_ptr<Server>, std::string> Server::start(sim::Runtime& rt, ServerConfig config) {
  auto server = std::make_shared<Server>(rt, std::move(config));
  auto sm = server->log_.recover(&server->stats_.recovery);
  if (!sm) return Err{sm.error()};
  server->sm_ = std::move(*sm);
  // Sessions survive a restart; their clocks start again (as in ZooKeeper).
  for (const auto& [id, info] : server->sm_.sessions())
    server->live_[id] = Live{rt.deadline_after(std::chrono::milliseconds(info.timeout_ms)),
                             info.timeout_ms, nullptr};
  // Session ids: the node id in the top byte, then the wall clock, as
  // ZooKeeper does; never below one already used.
  const auto wall = static_cast<std::uint64_t>(rt.wall_ms());
  const auto base = static_cast<SessionId>(
      (static_cast<std::uint64_t>(rt.node_id() & 0x7f) << 56) | ((wall << 24) >> 8));
  server->next_session_id_ = std::max(base, server->sm_.max_session_id() + 1);
  auto listener = rt.net().listen(server->config_.port);
  if (!listener) return Err{std::string("listen: ") + std::string(sim::to_string(listener.error()))};
  std::shared_ptr<sim::Listener> shared(std::move(*listener));
  server->port_ = shared->port();
  rt.spawn("coord.accept", [server, shared] { server->accept_loop(shared); });
  rt.spawn("coord.expiry", [server] { server->expiry_loop(); });
  rt.log().info("coord server up: zxid {} sessions {} replayed {} torn {}", server->sm_.last_zxid(),
                server->sm_.sessions().size(), server->stats_.recovery.txns_replayed,
                server->stats_.recovery.torn_bytes);
  return server;
}

std::int32_t Server::negotiate_timeout_ms(std::int32_t requested) const {
  const std::int32_t lo =
      config_.min_session_timeout_ms >= 0 ? config_.min_session_timeout_ms : 2 * config_.tick_ms;
  const std::int32_t hi = std::max(
      lo, config_.max_session_timeout_ms >= 0 ? config_.max_session_timeout_ms : 20 * config_.tick_ms);
  return std::clamp(requested, lo, hi);
}

void Server::accept_loop(std::shared_ptr<sim::Listener> listener) {
  for (;;) {
    auto conn = listener->accept();
    if (!conn) return;
    std::shared_ptr<sim::Connection> shared(std::move(*conn));
    ++stats_.connections;
    rt_.spawn("coord.conn", [self = shared_from_this(), shared] { self->serve(shared); });
  }
}

void Server::expiry_loop() {
  for (;;) {
    rt_.sleep(std::chrono::milliseconds(config_.tick_ms / 2));
    const sim::MonoTime now = rt_.now();
    std::vector<SessionId> due;
    for (const auto& [id, live] : live_)
      if (live.expires_at <= now) due.push_back(id);
    for (SessionId id : due) expire(id);
  }
}

void Server::expire(SessionId s) {
  auto it = live_.find(s);
  if (it == live_.end()) return;
  rt_.log().info("coord session {:x} expired", s);
  std::shared_ptr<sim::Connection> conn = it->second.conn;
  live_.erase(it);
  ++stats_.sessions_expired;
  (void)write(s, CloseSessionOp{});
  if (conn) conn->close();
}

Bytes Server::password_for(SessionId s) {
  sim::Random r = rt_.random("coord.password").derive(std::to_string(s));
  Bytes p(k_password_bytes);
  for (auto& b : p) b = static_cast<std::uint8_t>(r.next());
  return p;
}

void Server::serve(std::shared_ptr<sim::Connection> conn) {
  const auto session = handshake(conn);
  if (!session) {
    conn->close();
    return;
  }
  for (;;) {
    auto frame = conn->recv();
    if (!frame) break;
    auto live = live_.find(*session);
    if (live == live_.end() || live->second.conn != conn) break;  // expired or moved
    live->second.expires_at = rt_.deadline_after(std::chrono::milliseconds(live->second.timeout_ms));
    auto req = decode_request(*frame);
    if (!req) {
      rt_.log().warn("coord: bad request at byte {}: {}", req.error().offset, req.error().what);
      break;
    }
    if (!handle(*session, *conn, *req)) break;
  }
  detach(*session, *conn);
  conn->close();
}

std::optional<SessionId> Server::handshake(const std::shared_ptr<sim::Connection>& conn) {
  auto frame = conn->recv(rt_.deadline_after(std::chrono::milliseconds(20 * config_.tick_ms)));
  if (!frame) return std::nullopt;
  auto req = decode_connect_request(*frame);
  if (!req) return std::nullopt;
  // A client that has seen more than we know must not be served by us
  // (ZooKeeper refuses it too): we would show it the past.
  if (req->last_zxid_seen > sm_.last_zxid()) {
    rt_.log().warn("coord: refusing client that has seen zxid {} (ours {})", req->last_zxid_seen,
                   sm_.last_zxid());
    return std::nullopt;
  }
  ConnectResponse resp;
  SessionId id = req->session_id;
  if (id == 0) {
    id = next_session_id_++;
    resp.timeout_ms = negotiate_timeout_ms(req->timeout_ms);
    resp.password = password_for(id);
    if (!write(id, CreateSessionOp{resp.timeout_ms, resp.password})) return std::nullopt;
    live_[id] = Live{rt_.deadline_after(std::chrono::milliseconds(resp.timeout_ms)),
                     resp.timeout_ms, nullptr};
  } else {
    auto it = sm_.sessions().find(id);
    if (it == sm_.sessions().end() || it->second.password != req->password || !live_.count(id)) {
      (void)conn->send(encode(ConnectResponse{}));  // timeout 0: expired
      return std::nullopt;
    }
    resp.timeout_ms = it->second.timeout_ms;
    resp.password = it->second.password;
  }
  resp.session_id = id;
  Live& live = live_[id];
  if (live.conn && live.conn != conn) live.conn->close();  // the session moved here
  live.conn = conn;
  live.expires_at = rt_.deadline_after(std::chrono::milliseconds(live.timeout_ms));
  sm_.drop_watches(id);  // the client sets them again (SetWatches)
  if (!conn->send(encode(resp))) return std::nullopt;
  return id;
}

void Server::detach(SessionId s, const sim::Connection& conn) {
  auto it = live_.find(s);
  if (it == live_.end() || it->second.conn.get() != &conn) return;
  it->second.conn = nullptr;
  sm_.drop_watches(s);
}

bool Server::handle(SessionId s, sim::Connection& conn, const Request& req) {
  Response resp;
  resp.header.xid = req.xid;
  switch (req.type) {
    case OpCode::ping: break;
    case OpCode::exists:
    case OpCode::get_data:
    case OpCode::get_children:
    case OpCode::get_children2: resp = read(s, req); break;
    case OpCode::set_watches: {
      const auto& w = req.set_watches;
      for (const WatchEvent& e : sm_.set_watches(s, w.relative_zxid, w.data, w.exist, w.child))
        deliver(e);
      break;
    }
    case OpCode::close_session: {
      live_.erase(s);
      if (!write(s, CloseSessionOp{})) return false;
      resp.header.zxid = sm_.last_zxid();
      (void)conn.send(encode(resp, req.type));
      return false;
    }
    case OpCode::create:
    case OpCode::create2:
    case OpCode::remove:
    case OpCode::set_data:
    case OpCode::check:
    case OpCode::multi: {
      auto r = write(s, req.write);
      if (!r) return false;
      resp.header.err = r->err;
      resp.path = r->single.path;
      resp.stat = r->single.stat;
      resp.multi = std::move(r->multi);
      break;
    }
    default: resp.header.err = Code::unimplemented; break;
  }
  resp.header.xid = req.xid;
  resp.header.zxid = sm_.last_zxid();
  return conn.send(encode(resp, req.type)).ok();
}

Response Server::read(SessionId s, const Request& req) {
  Response resp;
  auto fill_err = [&resp](Code c) { resp.header.err = c; };
  switch (req.type) {
    case OpCode::exists: {
      auto r = sm_.exists(s, req.path, req.watch);
      if (r) resp.stat = *r;
      else fill_err(r.error());
      break;
    }
    case OpCode::get_data: {
      auto r = sm_.get_data(s, req.path, req.watch);
      if (r) {
        resp.data = std::move(r->data);
        resp.stat = r->stat;
      } else {
        fill_err(r.error());
      }
      break;
    }
    default: {
      auto r = sm_.get_children(s, req.path, req.watch);
      if (r) {
        resp.children = std::move(r->children);
        resp.stat = r->stat;
      } else {
        fill_err(r.error());
      }
      break;
    }
  }
  return resp;
}

std::optional<TxnResult> Server::write(SessionId s, WriteOp op) {
  WriteLock lock(*this);
  if (failed_) return std::nullopt;
  in_flight_ = Txn{sm_.last_zxid() + 1, rt_.wall_ms(), s, std::move(op)};
  const Txn& txn = *in_flight_;
  if (auto r = log_.append(txn); !r) {
    // ZooKeeper stops when it cannot log: nothing unlogged is acknowledged.
    rt_.log().error("coord: txn log append failed: {}", sim::to_string(r.error()));
    failed_ = true;
    return std::nullopt;
  }
  TxnResult result = sm_.apply(txn);
  in_flight_.reset();
  ++stats_.txns;
  for (const WatchEvent& e : result.events) deliver(e);
  if (++txns_since_snapshot_ >= config_.snapshot_every_txns) {
    txns_since_snapshot_ = 0;
    if (auto r = log_.snapshot(sm_); !r) {
      rt_.log().error("coord: snapshot failed: {}", sim::to_string(r.error()));
      failed_ = true;
    }
  }
  return result;
}

void Server::deliver(const WatchEvent& e) {
  auto it = live_.find(e.session);
  if (it == live_.end() || !it->second.conn) return;
  Response ev;
  ev.header = {k_watch_xid, -1, Code::ok};
  ev.event = {e.type, KeeperState::sync_connected, e.path};
  ++stats_.watch_events;
  (void)it->second.conn->send(encode(ev, OpCode::error));
}

}  // namespace samsa::coord
