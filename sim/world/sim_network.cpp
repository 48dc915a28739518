#include "sim/world/sim_network.h"

#include <xxhash.h>

#include <algorithm>

#include "sim/world/world.h"

namespace samsa::sim {

// One direction of a connection.
struct Pipe {
  explicit Pipe(Parker& p) : readers(p), writers(p) {}
  NodeId from = 0;
  NodeId to = 0;
  struct InFlight {
    Duration at;
    std::optional<Bytes> frame;  // nullopt: the sender closed (FIN)
  };
  std::deque<InFlight> in_flight;
  std::deque<Bytes> arrived;
  bool fin = false;
  bool delivery_scheduled = false;
  bool black_holed = false;  // lost a frame to a silent `drop` cut
  Duration last_at{0};
  std::size_t buffered_bytes = 0;
  WaitQueue readers;
  WaitQueue writers;
};

struct Conn {
  explicit Conn(Parker& p) : pipes{Pipe{p}, Pipe{p}} {}
  std::uint64_t id = 0;
  Pipe pipes[2];  // pipes[s]: what side s sends
  bool broken = false;
  bool closed[2] = {false, false};
  NodeId node[2] = {0, 0};
  std::uint64_t incarnation[2] = {0, 0};
  Address peer_of[2];  // the address side s sees for its peer
};

struct SimNetwork::ListenState {
  explicit ListenState(Parker& p) : acceptors(p) {}
  NodeId node = 0;
  std::uint16_t port = 0;
  std::uint64_t incarnation = 0;
  std::deque<std::shared_ptr<Conn>> backlog;
  bool closed = false;
  WaitQueue acceptors;
};

namespace {

class SimConnection final : public Connection {
 public:
  SimConnection(SimNetwork& net, std::shared_ptr<Conn> c, int side)
      : net_(net), c_(std::move(c)), side_(side) {}
  ~SimConnection() override { close(); }
  Result<void, NetErrc> send(ByteView frame) override { return net_.send(*c_, side_, frame); }
  Result<Bytes, NetErrc> recv(std::optional<MonoTime> deadline) override {
    return net_.recv(*c_, side_, deadline);
  }
  void close() noexcept override { net_.close(*c_, side_); }
  const Address& peer() const override { return c_->peer_of[side_]; }
  std::uint64_t id() const override { return c_->id; }

 private:
  SimNetwork& net_;
  std::shared_ptr<Conn> c_;
  int side_;
};

}  // namespace

class SimListener final : public Listener {
 public:
  SimListener(SimNetwork& net, std::shared_ptr<SimNetwork::ListenState> s)
      : net_(net), s_(std::move(s)) {}
  ~SimListener() override { close(); }

  Result<std::unique_ptr<Connection>, NetErrc> accept(std::optional<MonoTime> deadline) override {
    for (;;) {
      net_.world().check_alive();
      if (s_->closed) return Err{NetErrc::closed};
      if (!s_->backlog.empty()) {
        auto c = std::move(s_->backlog.front());
        s_->backlog.pop_front();
        return std::unique_ptr<Connection>(std::make_unique<SimConnection>(net_, std::move(c), 1));
      }
      if (s_->acceptors.wait("net.accept", deadline) == Wake::timed_out && s_->backlog.empty())
        return Err{NetErrc::timed_out};
    }
  }
  void close() noexcept override {
    if (s_->closed) return;
    net_.unlisten(s_->node, s_->port);
  }
  std::uint16_t port() const override { return s_->port; }

 private:
  SimNetwork& net_;
  std::shared_ptr<SimNetwork::ListenState> s_;
};

SimNetwork::SimNetwork(World& world, NetworkConfig config)
    : world_(world), config_(config), rng_(Random(world.config().seed).derive("network")) {}

SimNetwork::~SimNetwork() = default;

// --- faults ---------------------------------------------------------------------

void SimNetwork::partition(NodeId a, NodeId b) {
  partition_one_way(a, b);
  partition_one_way(b, a);
}

void SimNetwork::partition_one_way(NodeId from, NodeId to) {
  ++blocked_[{from, to}];
  world_.trace().fold(TraceKind::fault, 10, (std::uint64_t(from) << 32) | std::uint32_t(to));
}

void SimNetwork::isolate(NodeId n) {
  for (NodeId other : world_.node_ids())
    if (other != n) partition(n, other);
}

namespace {

// Takes one cause back; false when there was none (heal or heal_all ended it).
bool take_back(int& count) {
  if (count == 0) return false;
  --count;
  return true;
}

// One cut cause of a link ended; the link's entry goes with its last cause.
template <class Map, class Key>
void end_cut(Map& blocked, const Key& link) {
  const auto it = blocked.find(link);
  if (it != blocked.end() && take_back(it->second) && it->second == 0) blocked.erase(it);
}

template <class Map, class Key>
void end_silent_cut(Map& silent, const Key& link, SilentMode mode) {
  const auto it = silent.find(link);
  if (it == silent.end()) return;
  (void)take_back(mode == SilentMode::hold ? it->second.hold : it->second.drop);
  if (it->second.hold == 0 && it->second.drop == 0) silent.erase(it);
}

}  // namespace

void SimNetwork::end_partition(NodeId a, NodeId b) {
  end_cut(blocked_, std::make_pair(a, b));
  end_cut(blocked_, std::make_pair(b, a));
  healed_one(a, b);
}

void SimNetwork::end_partition_one_way(NodeId from, NodeId to) {
  end_cut(blocked_, std::make_pair(from, to));
  healed_one(from, to);
}

void SimNetwork::partition_silent(NodeId a, NodeId b, SilentMode mode) {
  partition_silent_one_way(a, b, mode);
  partition_silent_one_way(b, a, mode);
}

void SimNetwork::partition_silent_one_way(NodeId from, NodeId to, SilentMode mode) {
  auto& c = silent_[{from, to}];
  ++(mode == SilentMode::hold ? c.hold : c.drop);
  world_.trace().fold(TraceKind::fault, 14 + static_cast<std::uint64_t>(mode),
                      (std::uint64_t(from) << 32) | std::uint32_t(to));
}

void SimNetwork::isolate_silent(NodeId n, SilentMode mode) {
  for (NodeId other : world_.node_ids())
    if (other != n) partition_silent(n, other, mode);
}

void SimNetwork::end_partition_silent(NodeId a, NodeId b, SilentMode mode) {
  end_silent_cut(silent_, std::make_pair(a, b), mode);
  end_silent_cut(silent_, std::make_pair(b, a), mode);
  healed_one(a, b);
}

void SimNetwork::end_partition_silent_one_way(NodeId from, NodeId to, SilentMode mode) {
  end_silent_cut(silent_, std::make_pair(from, to), mode);
  healed_one(from, to);
}

std::string_view to_string(SilentMode m) {
  return m == SilentMode::hold ? "hold" : "drop";
}

// Held frames between a and b go on, and connections that lost frames
// reset, once neither direction is silently cut any more.
void SimNetwork::healed_one(NodeId a, NodeId b) {
  world_.trace().fold(TraceKind::fault, 11, (std::uint64_t(a) << 32) | std::uint32_t(b));
  if (silently_cut(a, b) || silently_cut(b, a)) return;
  release_held(
      [](const Conn& c, NodeId x, NodeId y) {
        return (c.node[0] == x && c.node[1] == y) || (c.node[0] == y && c.node[1] == x);
      },
      a, b);
}

void SimNetwork::heal(NodeId a, NodeId b) {
  blocked_.erase({a, b});
  blocked_.erase({b, a});
  silent_.erase({a, b});
  silent_.erase({b, a});
  lost_acks_windows_.erase({a, b});
  lost_acks_windows_.erase({b, a});
  healed_one(a, b);
}

void SimNetwork::open_lost_acks_window(NodeId from, NodeId to) {
  if (++lost_acks_windows_[{from, to}] == 1) partition_silent_one_way(from, to, SilentMode::drop);
}

void SimNetwork::close_lost_acks_window(NodeId from, NodeId to) {
  const auto it = lost_acks_windows_.find({from, to});
  if (it == lost_acks_windows_.end()) return;  // heal or heal_all ended it already
  if (--it->second > 0) return;                // another window is still open
  lost_acks_windows_.erase(it);
  end_partition_silent_one_way(from, to, SilentMode::drop);
}

void SimNetwork::heal_all() {
  blocked_.clear();
  silent_.clear();
  lost_acks_windows_.clear();
  world_.trace().fold(TraceKind::fault, 12, 0);
  release_held([](const Conn&, NodeId, NodeId) { return true; }, 0, 0);
}

void SimNetwork::release_held(bool (*match)(const Conn&, NodeId, NodeId), NodeId a, NodeId b) {
  // After a silent cut: a connection that lost frames resets (both ends see
  // it now); held frames go on their way, due at once.
  std::vector<std::shared_ptr<Conn>> healed;
  for (auto& [id, weak] : conns_) {
    auto c = weak.lock();
    if (c && !c->broken && match(*c, a, b)) healed.push_back(std::move(c));
  }
  for (auto& c : healed) {
    if (c->pipes[0].black_holed || c->pipes[1].black_holed) {
      break_conn(*c);
      continue;
    }
    for (int dir = 0; dir < 2; ++dir) schedule_delivery(c, dir);
  }
}

bool SimNetwork::blocked(NodeId from, NodeId to) const {
  return !blocked_.empty() && blocked_.count({from, to}) > 0;
}

std::optional<SilentMode> SimNetwork::silently_cut(NodeId from, NodeId to) const {
  if (silent_.empty()) return std::nullopt;
  auto it = silent_.find({from, to});
  if (it == silent_.end()) return std::nullopt;
  return it->second.drop > 0 ? SilentMode::drop : SilentMode::hold;  // entries have a cause
}

void SimNetwork::clog(NodeId from, NodeId to, Duration extra) {
  clogged_.erase({from, to});
  if (extra > Duration(0)) clogged_[{from, to}].insert(extra);
  world_.trace().fold(TraceKind::fault, 13, static_cast<std::uint64_t>(extra.count()));
}

void SimNetwork::add_clog(NodeId from, NodeId to, Duration extra) {
  clogged_[{from, to}].insert(extra);
  world_.trace().fold(TraceKind::fault, 13, static_cast<std::uint64_t>(extra.count()));
}

void SimNetwork::remove_clog(NodeId from, NodeId to, Duration extra) {
  world_.trace().fold(TraceKind::fault, 13, 0);
  const auto it = clogged_.find({from, to});
  if (it == clogged_.end()) return;  // unclog_all ended it already
  if (const auto one = it->second.find(extra); one != it->second.end()) it->second.erase(one);
  if (it->second.empty()) clogged_.erase(it);
}

void SimNetwork::unclog_all() { clogged_.clear(); }

Duration SimNetwork::clogged(NodeId from, NodeId to) const {
  const auto it = clogged_.find({from, to});
  return it == clogged_.end() ? Duration(0) : *it->second.rbegin();
}

void SimNetwork::set_link(NodeId from, NodeId to, Duration latency, Duration jitter) {
  SAMSA_ASSERT(latency.count() >= 0 && jitter.count() >= 0, "a link's latency and jitter are not negative");
  latency_[{from, to}] = latency;
  link_jitter_[{from, to}] = jitter;
  world_.trace().fold(TraceKind::fault, 17, static_cast<std::uint64_t>(latency.count()));
}

void SimNetwork::refuse_connects(NodeId n, bool refuse) {
  if (refuse)
    refusing_.insert(n);
  else
    refusing_.erase(n);
}

void SimNetwork::reset_connections(NodeId a, NodeId b) {
  std::vector<std::shared_ptr<Conn>> victims;
  for (auto& [id, weak] : conns_) {
    auto c = weak.lock();
    if (!c || c->broken) continue;
    if ((c->node[0] == a && c->node[1] == b) || (c->node[0] == b && c->node[1] == a))
      victims.push_back(c);
  }
  for (auto& c : victims) break_conn(*c);
}

void SimNetwork::node_crashed(NodeId n) {
  std::vector<std::shared_ptr<Conn>> victims;
  for (auto& [id, weak] : conns_) {
    auto c = weak.lock();
    if (c && !c->broken && (c->node[0] == n || c->node[1] == n)) victims.push_back(c);
  }
  for (auto& c : victims) break_conn(*c);
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    if (it->first.first == n) {
      it->second->closed = true;
      for (auto& c : it->second->backlog) drop_unaccepted(*c);
      it->second->backlog.clear();
      it->second->acceptors.notify_all();
      it = listeners_.erase(it);
    } else {
      ++it;
    }
  }
}

void SimNetwork::break_conn(Conn& c) {
  if (c.broken) return;
  c.broken = true;
  world_.trace().fold(TraceKind::conn_reset, c.id);
  for (Pipe& p : c.pipes) {
    for (auto& f : p.in_flight)
      if (f.frame) p.buffered_bytes -= f.frame->size();
    p.in_flight.clear();
    p.readers.notify_all();
    p.writers.notify_all();
  }
}

void SimNetwork::forget(Conn& c) { conns_.erase(c.id); }

void SimNetwork::drop_unaccepted(Conn& c) {
  // Nobody will ever hold the server side: it counts as closed.
  break_conn(c);
  c.closed[1] = true;
  if (c.closed[0]) forget(c);
}

// --- latency ---------------------------------------------------------------------

Duration SimNetwork::link_latency(NodeId from, NodeId to) {
  auto key = std::make_pair(from, to);
  auto it = latency_.find(key);
  if (it == latency_.end()) {
    // Drawn from the link's own stream: independent of first-use order.
    Random r = Random(world_.config().seed).derive(fmt::format("link:{}->{}", from, to));
    it = latency_.emplace(key, r.uniform(config_.latency_min, config_.latency_max)).first;
  }
  Duration d = it->second;
  if (!clogged_.empty()) {
    auto c = clogged_.find(key);
    if (c != clogged_.end()) d += *c->second.rbegin();  // the largest clog on the link
  }
  return d;
}

Duration SimNetwork::delivery_time(Pipe& p) {
  Duration at = world_.now() + link_latency(p.from, p.to);
  Duration jitter = config_.jitter_max;
  if (!link_jitter_.empty()) {
    auto j = link_jitter_.find({p.from, p.to});
    if (j != link_jitter_.end()) jitter = j->second;
  }
  if (jitter.count() > 0) at += rng_.uniform(Duration{0}, jitter);
  at = std::max(at, p.last_at);  // TCP: never overtake an earlier frame
  p.last_at = at;
  return at;
}

void SimNetwork::schedule_delivery(const std::shared_ptr<Conn>& c, int dir) {
  Pipe& p = c->pipes[dir];
  if (p.delivery_scheduled || p.in_flight.empty()) return;
  p.delivery_scheduled = true;
  world_.at(p.in_flight.front().at, [this, c, dir] { deliver(c, dir); });
}

void SimNetwork::deliver(const std::shared_ptr<Conn>& c, int dir) {
  Pipe& p = c->pipes[dir];
  p.delivery_scheduled = false;
  if (c->broken) return;
  bool any = false;
  bool dropped = false;
  while (!p.in_flight.empty() && p.in_flight.front().at <= world_.now()) {
    if (blocked(p.from, p.to)) {
      break_conn(*c);
      return;
    }
    if (const auto cut = silently_cut(p.from, p.to)) [[unlikely]] {
      if (*cut == SilentMode::hold) break;  // waits at the cut; heal reschedules
      auto lost = std::move(p.in_flight.front());
      p.in_flight.pop_front();
      if (lost.frame) p.buffered_bytes -= lost.frame->size();
      p.black_holed = true;
      world_.trace().fold(TraceKind::fault, 16, (c->id << 1) | std::uint64_t(dir));
      dropped = true;
      continue;
    }
    auto f = std::move(p.in_flight.front());
    p.in_flight.pop_front();
    if (f.frame && c->closed[1 - dir]) {
      // Data for a side that closed: its host answers with a reset (RST).
      p.buffered_bytes -= f.frame->size();
      break_conn(*c);
      return;
    }
    if (f.frame) {
      world_.trace().fold(TraceKind::deliver, (c->id << 1) | std::uint64_t(dir),
                          XXH3_64bits(f.frame->data(), f.frame->size()), p.to);
      ++frames_delivered_;
      p.arrived.push_back(std::move(*f.frame));
    } else {
      p.fin = true;
    }
    any = true;
  }
  if (any) p.readers.notify_all();
  if (dropped) p.writers.notify_all();  // senders parked on a full buffer go on
  if (!p.in_flight.empty() && p.in_flight.front().at <= world_.now() &&
      silently_cut(p.from, p.to))
    return;  // held: heal() schedules the delivery again
  schedule_delivery(c, dir);
}

// --- connections ---------------------------------------------------------------------

Result<std::unique_ptr<Listener>, NetErrc> SimNetwork::listen(SimNode& node, std::uint16_t port) {
  world_.check_alive();
  auto key = std::make_pair(node.id, port);
  if (listeners_.count(key)) return Err{NetErrc::address_in_use};
  auto s = std::make_shared<ListenState>(world_);
  s->node = node.id;
  s->port = port;
  s->incarnation = node.incarnation;
  listeners_.emplace(key, s);
  return std::unique_ptr<Listener>(std::make_unique<SimListener>(*this, std::move(s)));
}

void SimNetwork::unlisten(NodeId node, std::uint16_t port) noexcept {
  auto it = listeners_.find({node, port});
  if (it == listeners_.end()) return;
  it->second->closed = true;
  for (auto& c : it->second->backlog) drop_unaccepted(*c);
  it->second->backlog.clear();
  it->second->acceptors.notify_all();
  listeners_.erase(it);
}

Result<std::unique_ptr<Connection>, NetErrc> SimNetwork::connect(
    SimNode& from, const Address& to, std::optional<MonoTime> deadline) {
  world_.check_alive();
  const auto target = world_.find_node(to.host);
  if (!target) return Err{NetErrc::refused};
  const NodeId t = *target;
  Waiter w("net.connect");
  if (blocked(from.id, t) || blocked(t, from.id) || silently_cut(from.id, t) ||
      silently_cut(t, from.id)) {
    // The SYN (or its answer) is lost: the connect times out.
    MonoTime give_up = world_.mono_now(from) + config_.connect_timeout;
    if (deadline) give_up = std::min(give_up, *deadline);
    world_.park(w, give_up);
    return Err{NetErrc::timed_out};
  }
  const Duration rtt = link_latency(from.id, t) + link_latency(t, from.id);
  const MonoTime answered = world_.mono_now(from) + rtt;
  if (deadline && *deadline < answered) {
    world_.park(w, *deadline);
    return Err{NetErrc::timed_out};
  }
  world_.park(w, answered);
  auto it = listeners_.find({t, to.port});
  if (!world_.is_up(t) || refusing_.count(t) || it == listeners_.end() ||
      it->second->backlog.size() >= config_.accept_backlog)
    return Err{NetErrc::refused};

  auto c = std::make_shared<Conn>(world_);
  c->id = next_conn_id_++;
  c->node[0] = from.id;
  c->node[1] = t;
  c->incarnation[0] = from.incarnation;
  c->incarnation[1] = world_.node(t).incarnation;
  c->pipes[0].from = from.id;
  c->pipes[0].to = t;
  c->pipes[1].from = t;
  c->pipes[1].to = from.id;
  c->peer_of[0] = to;
  c->peer_of[1] = Address{from.name, static_cast<std::uint16_t>(32768 + c->id % 28000)};
  conns_.emplace(c->id, c);
  it->second->backlog.push_back(c);
  it->second->acceptors.notify_one();
  return std::unique_ptr<Connection>(std::make_unique<SimConnection>(*this, std::move(c), 0));
}

Result<void, NetErrc> SimNetwork::send(Conn& c, int side, ByteView frame) {
  if (!world_.check_alive()) return Err{NetErrc::closed};
  if (c.closed[side]) return Err{NetErrc::closed};
  const auto size = frame_size(frame);
  if (!size || *size != frame.size() - 4 || frame.size() > k_max_frame_bytes + 4)
    return Err{NetErrc::bad_frame};
  Pipe& p = c.pipes[side];
  while (!c.broken && p.buffered_bytes > 0 &&
         p.buffered_bytes + frame.size() > config_.buffer_bytes) {
    p.writers.wait("net.send.buffer_full");
    if (c.closed[side]) return Err{NetErrc::closed};
  }
  if (c.broken) return Err{NetErrc::reset};
  p.buffered_bytes += frame.size();
  p.in_flight.push_back({delivery_time(p), Bytes(frame.begin(), frame.end())});
  auto it = conns_.find(c.id);
  SAMSA_ASSERT(it != conns_.end());
  schedule_delivery(it->second.lock(), side);
  return {};
}

Result<Bytes, NetErrc> SimNetwork::recv(Conn& c, int side, std::optional<MonoTime> deadline) {
  Pipe& p = c.pipes[1 - side];
  for (;;) {
    if (!world_.check_alive()) return Err{NetErrc::closed};
    if (c.closed[side]) return Err{NetErrc::closed};
    if (!p.arrived.empty()) {
      Bytes frame = std::move(p.arrived.front());
      p.arrived.pop_front();
      p.buffered_bytes -= frame.size();
      p.writers.notify_all();
      return frame;
    }
    if (c.broken || p.fin) return Err{NetErrc::reset};
    if (p.readers.wait("net.recv", deadline) == Wake::timed_out && p.arrived.empty() &&
        !c.broken && !p.fin)
      return Err{NetErrc::timed_out};
  }
}

void SimNetwork::close(Conn& c, int side) noexcept {
  if (c.closed[side]) return;
  c.closed[side] = true;
  Pipe& p = c.pipes[side];
  if (!c.broken) {
    p.in_flight.push_back({delivery_time(p), std::nullopt});
    auto it = conns_.find(c.id);
    if (it != conns_.end()) schedule_delivery(it->second.lock(), side);
  }
  // Frames that reached us and were never read are gone; the peer's blocked
  // senders wake (their next frame will meet a reset).
  Pipe& incoming = c.pipes[1 - side];
  for (const Bytes& f : incoming.arrived) incoming.buffered_bytes -= f.size();
  incoming.arrived.clear();
  incoming.readers.notify_all();  // our own readers see `closed`
  incoming.writers.notify_all();
  p.writers.notify_all();
  if (c.closed[1 - side]) forget(c);
}

}  // namespace samsa::sim
