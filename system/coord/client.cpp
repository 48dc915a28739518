#include "system/coord/client.h"

#include <spdlog/spdlog.h>

namespace samsa::coord {

std::string_view to_string(SessionState s) {
  switch (s) {
    case SessionState::connecting: return "connecting";
    case SessionState::connected: return "connected";
    case SessionState::expired: return "expired";
    case SessionState::closed: return "closed";
  }
  return "?";
}

Client::Client(sim::Runtime& rt, ClientConfig config)
    : rt_(rt), config_(std::move(config)), state_changed_(rt.parker()) {
  SAMSA_ASSERT(!config_.servers.empty(), "a coordinator client needs a server address");
}

std::shared_ptr<Client> Client::start(sim::Runtime& rt, ClientConfig config) {
  auto c = std::make_shared<Client>(rt, std::move(config));
  rt.spawn("coord.client", [c] { c->session_loop(); });
  return c;
}

bool Client::wait_connected(std::optional<sim::MonoTime> deadline) {
  while (state_ == SessionState::connecting)
    if (state_changed_.wait("coord.wait_connected", deadline) == sim::Wake::timed_out) break;
  return state_ == SessionState::connected;
}

void Client::set_state(SessionState s) {
  if (s == state_) return;
  state_ = s;
  state_changed_.notify_all();
  if (state_listener_) state_listener_(s);
}

// --- the session: connect, read, reconnect -----------------------------------

void Client::session_loop() {
  sim::Random rng = rt_.random("coord.client");
  for (std::size_t attempt = 0; !closing_ && state_ != SessionState::expired; ++attempt) {
    if (connect_once()) {
      std::shared_ptr<sim::Connection> conn = conn_;
      read_loop(*conn);
      lose_connection(Code::connection_loss);
      ++reconnects_;
    }
    if (closing_ || state_ == SessionState::expired) break;
    rt_.sleep(rng.uniform(sim::Duration(std::chrono::milliseconds(20)),
                          sim::Duration(std::chrono::milliseconds(200))));
  }
}

bool Client::connect_once() {
  const sim::Address& addr = config_.servers[reconnects_ % config_.servers.size()];
  auto c = rt_.net().connect(addr, rt_.deadline_after(config_.connect_timeout));
  if (!c) {
    ++reconnects_;
    return false;
  }
  std::shared_ptr<sim::Connection> conn(std::move(*c));
  ConnectRequest req{0, last_zxid_, config_.session_timeout_ms, session_id_, password_, false};
  if (!conn->send(encode(req))) return false;
  auto frame = conn->recv(rt_.deadline_after(config_.connect_timeout));
  if (!frame) return false;
  auto resp = decode_connect_response(*frame);
  if (!resp) return false;
  if (resp->timeout_ms <= 0) {
    conn->close();
    end_session(SessionState::expired);
    return false;
  }
  session_id_ = resp->session_id;
  password_ = resp->password;
  timeout_ms_ = resp->timeout_ms;
  conn_ = conn;
  last_send_ = rt_.now();
  SetWatches sw{last_zxid_, {}, {}, {}};
  for (const auto& [path, ws] : watches_[0]) sw.data.push_back(path);
  for (const auto& [path, ws] : watches_[1]) sw.exist.push_back(path);
  for (const auto& [path, ws] : watches_[2]) sw.child.push_back(path);
  if (!sw.data.empty() || !sw.exist.empty() || !sw.child.empty()) {
    Request r;
    r.xid = k_set_watches_xid;
    r.type = OpCode::set_watches;
    r.set_watches = std::move(sw);
    if (!conn->send(encode(r))) return false;
  }
  set_state(SessionState::connected);
  return true;
}

void Client::read_loop(sim::Connection& conn) {
  const auto read_timeout = std::chrono::milliseconds(timeout_ms_ * 2 / 3);
  const auto ping_every = std::chrono::milliseconds(timeout_ms_ / 3);
  sim::MonoTime last_recv = rt_.now();
  for (;;) {
    const sim::MonoTime deadline = std::min(last_recv + read_timeout, last_send_ + ping_every);
    auto frame = conn.recv(deadline);
    if (!frame) {
      if (frame.error() != sim::NetErrc::timed_out) return;
      if (rt_.now() >= last_recv + read_timeout) return;  // the server went silent
      Request ping;
      ping.xid = k_ping_xid;
      ping.type = OpCode::ping;
      if (!conn.send(encode(ping))) return;
      last_send_ = rt_.now();
      continue;
    }
    last_recv = rt_.now();
    auto header = decode_reply_header(*frame);
    if (!header) return;  // garbage from the server: drop the connection
    on_frame(*frame, *header);
  }
}

void Client::on_frame(const Bytes& frame, const ReplyHeader& header) {
  if (header.xid == k_watch_xid) {
    auto r = decode_response(frame, OpCode::error);
    if (r) fire_watches({r->event.type, r->event.state, r->event.path});
    return;
  }
  if (header.zxid > last_zxid_) last_zxid_ = header.zxid;
  auto it = pending_.find(header.xid);
  if (it == pending_.end()) return;  // pings, SetWatches
  std::shared_ptr<Pending> p = it->second;
  pending_.erase(it);
  auto r = decode_response(frame, p->type);
  if (r) {
    const Code err = r->header.err;
    if (p->watcher && err == Code::ok)
      add_watch(p->type == OpCode::get_children2 ? WatchKind::child : WatchKind::data,
                p->watch_path, std::move(p->watcher));
    else if (p->watcher && err == Code::no_node && p->type == OpCode::exists)
      add_watch(WatchKind::exist, p->watch_path, std::move(p->watcher));
    p->result = std::move(*r);
  } else {
    p->result = Err{Code::marshalling_error};
  }
  p->done.set();
}

void Client::lose_connection(Code why) {
  if (conn_) conn_->close();
  conn_ = nullptr;
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [xid, p] : pending) {
    p->result = Err{why};
    p->done.set();
  }
  if (state_ == SessionState::connected) set_state(SessionState::connecting);
}

void Client::end_session(SessionState final_state) {
  lose_connection(final_state == SessionState::expired ? Code::session_expired
                                                       : Code::connection_loss);
  set_state(final_state);
  if (final_state != SessionState::expired) return;
  // Every watcher hears that the session is gone, once.
  std::vector<Watcher> all;
  for (auto& table : watches_)
    for (auto& [path, ws] : table) all.insert(all.end(), ws.begin(), ws.end());
  for (auto& table : watches_) table.clear();
  for (auto& w : all) w({EventType::none, KeeperState::expired, ""});
}

// --- watches -------------------------------------------------------------------

void Client::add_watch(WatchKind kind, const std::string& path, Watcher w) {
  if (w) watches_[static_cast<int>(kind)][path].push_back(std::move(w));
}

void Client::fire_watches(const WatchedEvent& e) {
  std::vector<Watcher> due;
  auto take = [&](WatchKind k) {
    auto& table = watches_[static_cast<int>(k)];
    auto it = table.find(e.path);
    if (it == table.end()) return;
    due.insert(due.end(), it->second.begin(), it->second.end());
    table.erase(it);
  };
  switch (e.type) {
    case EventType::node_created:
    case EventType::node_data_changed:
      take(WatchKind::data);
      take(WatchKind::exist);
      break;
    case EventType::node_children_changed: take(WatchKind::child); break;
    case EventType::node_deleted:
      take(WatchKind::data);
      take(WatchKind::exist);
      take(WatchKind::child);
      break;
    case EventType::none: break;
  }
  for (auto& w : due) w(e);
}

// --- operations ----------------------------------------------------------------

Result<Response, Code> Client::call(Request req, Watcher watcher) {
  const sim::MonoTime deadline =
      rt_.deadline_after(std::chrono::milliseconds(config_.session_timeout_ms));
  if (state_ == SessionState::connecting) wait_connected(deadline);
  if (state_ == SessionState::expired || state_ == SessionState::closed)
    return Err{Code::session_expired};
  if (state_ != SessionState::connected || !conn_) return Err{Code::connection_loss};
  req.xid = next_xid_++;
  auto p = std::make_shared<Pending>(rt_.parker(), req.type);
  p->watch_path = req.path;
  p->watcher = std::move(watcher);
  pending_[req.xid] = p;
  if (!conn_->send(encode(req))) {
    pending_.erase(req.xid);
    return Err{Code::connection_loss};
  }
  last_send_ = rt_.now();
  p->done.wait(std::nullopt, "coord.call");  // the reader fails it on connection loss
  SAMSA_ASSERT(p->result.has_value(), "a finished call has a result");
  if (!p->result->ok()) return Err{p->result->error()};
  if (p->result->value().header.err != Code::ok) return Err{p->result->value().header.err};
  return std::move(p->result->value());
}

Result<std::string, Code> Client::create(const std::string& path, Bytes data, CreateMode mode) {
  Request r;
  r.type = OpCode::create;
  r.write = CreateOp{path, std::move(data), mode, false};
  auto resp = call(std::move(r));
  if (!resp) return Err{resp.error()};
  return std::move(resp->path);
}

Result<void, Code> Client::remove(const std::string& path, std::int32_t version) {
  Request r;
  r.type = OpCode::remove;
  r.write = DeleteOp{path, version};
  auto resp = call(std::move(r));
  if (!resp) return Err{resp.error()};
  return {};
}

Result<Stat, Code> Client::exists(const std::string& path, Watcher watcher) {
  Request r;
  r.type = OpCode::exists;
  r.path = path;
  r.watch = static_cast<bool>(watcher);
  auto resp = call(std::move(r), std::move(watcher));
  if (!resp) return Err{resp.error()};
  return resp->stat;
}

Result<DataAndStat, Code> Client::get_data(const std::string& path, Watcher watcher) {
  Request r;
  r.type = OpCode::get_data;
  r.path = path;
  r.watch = static_cast<bool>(watcher);
  auto resp = call(std::move(r), std::move(watcher));
  if (!resp) return Err{resp.error()};
  return DataAndStat{std::move(resp->data), resp->stat};
}

Result<Stat, Code> Client::set_data(const std::string& path, Bytes data, std::int32_t version) {
  Request r;
  r.type = OpCode::set_data;
  r.write = SetDataOp{path, std::move(data), version};
  auto resp = call(std::move(r));
  if (!resp) return Err{resp.error()};
  return resp->stat;
}

Result<ChildrenAndStat, Code> Client::get_children(const std::string& path, Watcher watcher) {
  Request r;
  r.type = OpCode::get_children2;
  r.path = path;
  r.watch = static_cast<bool>(watcher);
  auto resp = call(std::move(r), std::move(watcher));
  if (!resp) return Err{resp.error()};
  return ChildrenAndStat{std::move(resp->children), resp->stat};
}

Result<std::vector<OpResult>, Code> Client::multi(std::vector<SubOp> ops) {
  Request r;
  r.type = OpCode::multi;
  r.write = MultiOp{std::move(ops)};
  auto resp = call(std::move(r));
  if (!resp) return Err{resp.error()};
  for (const OpResult& o : resp->multi)
    if (o.type == OpCode::error && o.err != Code::ok) return Err{o.err};
  return std::move(resp->multi);
}

void Client::close() {
  const bool was_connected = state_ == SessionState::connected;
  closing_ = true;  // before the call: the server hangs up after replying
  if (was_connected) {
    Request r;
    r.type = OpCode::close_session;
    (void)call(std::move(r));
  }
  end_session(SessionState::closed);
}

}  // namespace samsa::coord
