#include "sim/live/live_network.h"

#include "sim/runtime/random.h"

#include <asio/connect.hpp>
#include <asio/ip/address.hpp>
#include <asio/write.hpp>
#include <spdlog/logger.h>
#include <sys/sendfile.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <set>
#include <vector>
#include <functional>
#include <map>

namespace samsa::sim {

namespace {

using asio::ip::tcp;

constexpr std::size_t k_read_chunk_bytes = 64 * 1024;
constexpr std::size_t k_accept_queue = 128;
// Spliced file bytes (FrameParts) shorter than this are copied into the
// send buffer when queued: a sendfile of a few hundred bytes costs more than
// the copy and would split the frame into separate writes.
constexpr std::size_t k_sendfile_min_bytes = 16 * 1024;

Address address_of(const tcp::endpoint& e) {
  return Address{e.address().to_string(), e.port()};
}

NetErrc connect_errc_of(const std::error_code& ec) {
  if (ec == asio::error::timed_out) return NetErrc::timed_out;
  return NetErrc::refused;  // refused, unreachable, unresolvable: nobody to talk to
}

// The state of one TCP connection, shared with the Asio handlers in flight
// (so a handler that completes after the Connection is gone touches nothing
// freed). Valid input bytes are in_[in_start_, in_end_).
bool sendfile_worthy(const FrameParts::Splice& sp) {
  return sp.view.size() >= k_sendfile_min_bytes && sp.map && sp.map->fd() >= 0;
}

struct ConnState : std::enable_shared_from_this<ConnState> {
  ConnState(tcp::socket s, Parker& parker, const LiveNetOptions& o, std::uint64_t id_,
            LiveNetStats& st)
      : socket(std::move(s)), readers(parker), writers(parker), max_frame_bytes(o.max_frame_bytes),
        send_buffer_bytes(o.send_buffer_bytes), id(id_), stats(st), log(o.log) {
    std::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    socket.non_blocking(true, ec);  // reads happen after readiness, never block
    auto remote = socket.remote_endpoint(ec);
    if (!ec) peer = address_of(remote);
  }

  tcp::socket socket;
  WaitQueue readers;
  WaitQueue writers;
  std::size_t max_frame_bytes;
  std::size_t send_buffer_bytes;
  std::uint64_t id;
  LiveNetStats& stats;
  spdlog::logger* log;
  Address peer;

  Bytes in;
  std::size_t in_start = 0;
  std::size_t in_end = 0;
  bool reading = false;  // a wait for readability is outstanding
  bool eof = false;      // the peer closed its side
  bool broken = false;   // the connection failed (reset, write error)
  bool bad = false;      // a bad frame prefix arrived: nothing more is read
  bool closed = false;   // this side closed
  bool close_after_write = false;

  // What is queued, in order: each item's bytes, then its file range
  // (sent with sendfile from the mapping's descriptor, Kafka's
  // FileRecords.writeTo / FileChannel.transferTo). Bytes are appended to the
  // last item while it has no file range.
  struct OutItem {
    Bytes bytes;
    std::shared_ptr<const Mapping> file;  // null: bytes only
    std::uint64_t file_offset = 0;
    std::size_t file_left = 0;
  };
  std::deque<OutItem> out_pending;  // written after the write in flight
  Bytes out_writing;                // the batch an async write is sending
  std::size_t pending_bytes = 0;    // in out_pending
  bool writing = false;             // an async write or a wait to send file bytes is outstanding
  // Gives the connection's quota slot back (accepted connections); once.
  std::function<void()> release;
  // Takes the connection out of the world's link registry; once.
  std::function<void()> unregister;
  // Its node is paused (a fault): nothing is read or written until thawed.
  bool frozen = false;
  // Lost-responses fault: whether the next frame sent is lost (set by the
  // link registry for clients' connections); once one was, all are.
  std::function<bool()> lose_next;
  bool black_hole = false;
  void thaw() {
    frozen = false;
    start_read();
    flush();
  }

  ~ConnState() {
    release_quota();
    if (unregister) unregister();
  }
  // A fault: the connection breaks now (both ends see it end).
  void reset_now() noexcept {
    broken = true;
    clear_pending();
    shut();
    readers.notify_all();
    writers.notify_all();
  }
  void clear_pending() noexcept {
    out_pending.clear();
    pending_bytes = 0;
  }
  void queue_bytes(ByteView b) {
    if (b.empty()) return;
    if (out_pending.empty() || out_pending.back().file) out_pending.emplace_back();
    auto& back = out_pending.back().bytes;
    back.insert(back.end(), b.begin(), b.end());
    pending_bytes += b.size();
  }
  void queue_file(std::shared_ptr<const Mapping> map, ByteView view) {
    if (view.empty()) return;
    SAMSA_ASSERT(map->fd() >= 0, "a file range to send without a descriptor");
    if (out_pending.empty() || out_pending.back().file) out_pending.emplace_back();
    auto& back = out_pending.back();
    back.file_offset = map->offset() + static_cast<std::uint64_t>(view.data() - map->bytes().data());
    back.file_left = view.size();
    back.file = std::move(map);
    pending_bytes += view.size();
  }
  void release_quota() noexcept {
    if (!release) return;
    auto r = std::move(release);
    release = nullptr;
    r();
  }

  // The next whole frame, if the buffer holds one. Sets `bad` on a size
  // prefix that is negative or over the limit.
  std::optional<Bytes> take_frame() {
    const std::size_t avail = in_end - in_start;
    if (avail < 4) return std::nullopt;
    const auto n = frame_size(ByteView(in.data() + in_start, 4)).value();
    if (n > max_frame_bytes) {
      bad = true;
      ++stats.bad_frames;
      if (log)
        log->warn("connection {} from {}:{}: frame size {} {}; closing it", id, peer.host,
                  peer.port, static_cast<std::int32_t>(n),
                  static_cast<std::int32_t>(n) < 0
                      ? std::string("is negative")
                      : fmt::format("is over the limit {} (socket.request.max.bytes)",
                                    max_frame_bytes));
      return std::nullopt;
    }
    if (avail < 4 + std::size_t{n}) return std::nullopt;
    if (in_start == 0 && n >= k_read_chunk_bytes) return take_whole_buffer(4 + std::size_t{n});
    Bytes frame(in.begin() + static_cast<std::ptrdiff_t>(in_start),
                in.begin() + static_cast<std::ptrdiff_t>(in_start + 4 + n));
    in_start += 4 + n;
    if (in_start == in_end) {
      in_start = in_end = 0;
      // A connection that once carried a huge frame does not keep its buffer.
      if (in.size() > 16 * k_read_chunk_bytes) Bytes().swap(in);
    }
    return frame;
  }

  // A large frame at the front of the buffer is handed over as the buffer
  // itself, and only the bytes after it (under a read chunk) are copied: a
  // producer's megabyte request was copied once more here (5% of a broker's
  // CPU under kcat's produce load).
  Bytes take_whole_buffer(std::size_t frame_bytes) {
    const auto end = static_cast<std::ptrdiff_t>(frame_bytes);
    Bytes rest(in.begin() + end, in.begin() + static_cast<std::ptrdiff_t>(in_end));
    Bytes frame = std::move(in);
    frame.resize(frame_bytes);
    in = std::move(rest);
    in_start = 0;
    in_end = in.size();
    return frame;
  }

  // Bytes still missing to complete the frame at the front (0 if unknown).
  std::size_t missing() const {
    const std::size_t avail = in_end - in_start;
    if (avail < 4) return 0;
    const auto n = frame_size(ByteView(in.data() + in_start, 4)).value();
    return 4 + std::size_t{n} - avail;
  }

  // Waits for the socket to be readable, then reads what is there without
  // blocking. (An async read would try a read first that fails with EAGAIN
  // in request/response traffic: one wasted syscall per frame.)
  void start_read() {
    if (reading || eof || broken || bad || closed || frozen) return;
    reading = true;
    socket.async_wait(tcp::socket::wait_read,
                      [self = shared_from_this()](const std::error_code& ec) {
                        self->on_readable(ec);
                      });
  }

  void on_readable(const std::error_code& ec) noexcept {
    reading = false;
    if (ec) {
      if (ec != asio::error::operation_aborted) broken = true;
      readers.notify_all();
      return;
    }
    if (frozen) return;  // paused: the bytes wait in the kernel until thaw()
    // Move the unread tail to the front before growing.
    if (in_start > 0) {
      std::memmove(in.data(), in.data() + in_start, in_end - in_start);
      in_end -= in_start;
      in_start = 0;
    }
    const std::size_t chunk = std::max(k_read_chunk_bytes, missing());
    if (in.size() < in_end + chunk) in.resize(in_end + chunk);
    std::error_code rec;
    const std::size_t n = socket.read_some(asio::buffer(in.data() + in_end, chunk), rec);
    in_end += n;
    if (rec == asio::error::would_block || rec == asio::error::try_again) {
      start_read();  // a spurious wake-up: wait again
      return;
    }
    if (rec == asio::error::eof)
      eof = true;
    else if (rec)
      broken = true;
    readers.notify_all();
  }

  void flush() {
    while (!writing && !out_pending.empty() && !broken && !frozen) {
      OutItem& front = out_pending.front();
      if (!front.bytes.empty()) {
        out_writing.swap(front.bytes);
        front.bytes.clear();
        pending_bytes -= out_writing.size();
        writing = true;
        asio::async_write(socket, asio::buffer(out_writing),
                          [self = shared_from_this()](const std::error_code& ec, std::size_t) {
                            self->on_written(ec);
                          });
        return;
      }
      if (front.file && !send_file(front)) return;
      out_pending.pop_front();
    }
    if (!writing && out_pending.empty() && close_after_write) shut();
  }

  // Sends the item's file range with sendfile until done (true), the socket
  // is full (false: a wait for writability is outstanding) or it fails.
  // A file shorter than the range (truncated while the frame waited) would
  // leave a frame whose size prefix was already sent without its bytes:
  // the connection is closed, as Kafka's FileRecords.writeTo throws
  // ("truncated during write") and its Selector closes the channel.
  bool send_file(OutItem& item) {
    while (item.file_left > 0) {
      auto off = static_cast<off_t>(item.file_offset);
      const ssize_t n = ::sendfile(socket.native_handle(), item.file->fd(), &off, item.file_left);
      if (n > 0) {
        const auto sent = static_cast<std::size_t>(n);
        item.file_offset += sent;
        item.file_left -= sent;
        pending_bytes -= sent;
        ++stats.sendfile_calls;
        stats.sendfile_bytes += sent;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        writing = true;
        socket.async_wait(tcp::socket::wait_write, [self = shared_from_this()](const std::error_code& ec) {
          self->writing = false;
          if (ec) return self->on_written(ec);
          self->writers.notify_all();
          self->flush();
        });
        return false;
      }
      if (n == 0 && log)
        log->warn("connection {} to {}:{}: a file was truncated while its bytes were being sent; closing it",
                  id, peer.host, peer.port);
      broken = true;
      clear_pending();
      shut();
      readers.notify_all();
      writers.notify_all();
      return false;
    }
    writers.notify_all();
    return true;
  }

  void on_written(const std::error_code& ec) noexcept {
    writing = false;
    out_writing.clear();
    if (ec) {
      broken = true;
      clear_pending();
      readers.notify_all();
    }
    writers.notify_all();
    if (!ec && !out_pending.empty()) {
      flush();
      return;
    }
    if (close_after_write) shut();
  }

  void shut() noexcept {
    std::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    release_quota();
  }

  void close() noexcept {
    if (closed) return;
    closed = true;
    readers.notify_all();  // our own readers see `closed`
    writers.notify_all();
    // Frames queued before close still go out, then the peer sees the end.
    if (writing || !out_pending.empty())
      close_after_write = true;
    else
      shut();
  }
};

}  // namespace

struct LiveLinks::Impl {
  struct Entry {
    std::weak_ptr<ConnState> conn;
    std::int32_t a;  // the node that owns this end
    std::int32_t b;  // the node at the other end, -1 outside the process
  };
  std::map<std::uint16_t, std::int32_t> listening;     // port -> node
  std::map<std::uint16_t, std::int32_t> client_ports;  // outgoing connection's local port -> node
  // (lower, higher) -> how many faults cut it now (overlapping faults)
  std::map<std::pair<std::int32_t, std::int32_t>, int> cuts;
  std::map<std::uint64_t, Entry> conns;                  // by connection id
  std::map<std::int32_t, int> paused;                    // node -> pause faults on it now
  struct Losing {
    double fraction;
    Random rng;
  };
  std::map<std::int32_t, Losing> losing;                 // node -> lost-responses fault on it
  std::map<std::int32_t, std::uint64_t> lost;            // node -> responses lost so far

  std::int32_t node_on(const std::map<std::uint16_t, std::int32_t>& m, std::uint16_t port) const {
    const auto it = m.find(port);
    return it == m.end() ? -1 : it->second;
  }
  // An accepted connection from a client outside the process: subject to
  // lose_responses on its node.
  void watch_responses(const std::shared_ptr<ConnState>& c, std::int32_t a) {
    c->lose_next = [this, a] {
      const auto it = losing.find(a);
      if (it == losing.end() || !it->second.rng.chance(it->second.fraction)) return false;
      ++lost[a];
      return true;
    };
  }
  void add(const std::shared_ptr<ConnState>& c, std::int32_t a, std::int32_t b,
           std::optional<std::uint16_t> client_port) {
    conns[c->id] = Entry{c, a, b};
    c->frozen = paused.count(a) > 0;
    if (client_port) client_ports[*client_port] = a;
    c->unregister = [this, id = c->id, client_port] {
      conns.erase(id);
      if (client_port) client_ports.erase(*client_port);
    };
  }
};

LiveLinks::LiveLinks() : impl_(std::make_unique<Impl>()) {}
LiveLinks::~LiveLinks() {
  // Connections still alive must not call back into a registry that is gone.
  for (auto& [id, e] : impl_->conns)
    if (auto c = e.conn.lock()) {
      c->unregister = nullptr;
      c->lose_next = nullptr;
    }
}

void LiveLinks::lose_responses(std::int32_t node, double fraction, std::uint64_t seed) {
  impl_->losing.insert_or_assign(node, Impl::Losing{fraction, Random(seed).derive("lose-responses")});
}

void LiveLinks::stop_losing_responses(std::int32_t node) {
  impl_->losing.erase(node);
  std::vector<std::shared_ptr<ConnState>> hit;
  for (auto& [id, e] : impl_->conns)
    if (auto c = e.conn.lock(); c && e.a == node && c->black_hole) hit.push_back(c);
  for (auto& c : hit) c->reset_now();
}

std::uint64_t LiveLinks::responses_lost(std::int32_t node) const {
  const auto it = impl_->lost.find(node);
  return it == impl_->lost.end() ? 0 : it->second;
}

void LiveLinks::cut(std::int32_t a, std::int32_t b, bool on) {
  const auto key = std::minmax(a, b);
  if (!on) {
    if (auto it = impl_->cuts.find(key); it != impl_->cuts.end() && --it->second <= 0)
      impl_->cuts.erase(it);
    return;
  }
  ++impl_->cuts[key];
  reset(a, b);
}

bool LiveLinks::is_cut(std::int32_t a, std::int32_t b) const {
  return a >= 0 && b >= 0 && impl_->cuts.count(std::minmax(a, b)) > 0;
}

void LiveLinks::pause(std::int32_t node, bool on) {
  if (on) {
    ++impl_->paused[node];
  } else if (auto it = impl_->paused.find(node); it != impl_->paused.end() && --it->second <= 0) {
    impl_->paused.erase(it);
  } else {
    return;
  }
  const bool frozen = impl_->paused.count(node) > 0;
  std::vector<std::shared_ptr<ConnState>> mine;
  for (auto& [id, e] : impl_->conns)
    if (e.a == node)
      if (auto c = e.conn.lock()) mine.push_back(std::move(c));
  for (auto& c : mine) {
    if (frozen)
      c->frozen = true;
    else
      c->thaw();
  }
}

bool LiveLinks::is_paused(std::int32_t node) const { return impl_->paused.count(node) > 0; }

std::size_t LiveLinks::reset(std::int32_t a, std::int32_t b) {
  std::vector<std::shared_ptr<ConnState>> hit;
  for (auto& [id, e] : impl_->conns) {
    const bool match = b == a ? (e.a == a || e.b == a)
                              : ((e.a == a && e.b == b) || (e.a == b && e.b == a && b >= 0));
    if (!match) continue;
    if (auto c = e.conn.lock()) hit.push_back(std::move(c));
  }
  for (auto& c : hit) c->reset_now();
  return hit.size();
}

namespace {

class LiveConnection final : public Connection {
 public:
  LiveConnection(std::shared_ptr<ConnState> s, Parker& parker, std::shared_ptr<FrameObserver> observer = nullptr)
      : s_(std::move(s)), parker_(parker), observer_(std::move(observer)) {}
  ~LiveConnection() override {
    s_->close();
    if (observer_) observer_->on_close(s_->id);
  }

  Result<void, NetErrc> send(ByteView frame) override {
    if (auto r = admit(frame, frame.size()); !r || s_->black_hole) return r;
    s_->queue_bytes(frame);
    return sent(frame);
  }

  // Long splices go out with sendfile (ConnState::send_file), from the
  // file, whatever happened to it since. Short ones are copied first, before
  // admit() may park: the fiber that mapped them has not parked since, so
  // their file was not truncated under the mapping (touching a mapped page
  // past a file's end is SIGBUS).
  Result<void, NetErrc> send_parts(const FrameParts& frame) override {
    FrameParts keep;
    keep.bytes.reserve(frame.bytes.size());
    std::size_t from = 0;
    for (const auto& sp : frame.splices) {
      keep.bytes.insert(keep.bytes.end(), frame.bytes.begin() + static_cast<std::ptrdiff_t>(from),
                        frame.bytes.begin() + static_cast<std::ptrdiff_t>(sp.at));
      from = sp.at;
      if (sendfile_worthy(sp))
        keep.splices.push_back({keep.bytes.size(), sp.map, sp.view});
      else
        keep.bytes.insert(keep.bytes.end(), sp.view.begin(), sp.view.end());
    }
    keep.bytes.insert(keep.bytes.end(), frame.bytes.begin() + static_cast<std::ptrdiff_t>(from), frame.bytes.end());
    if (auto r = admit(keep.bytes, frame.size()); !r || s_->black_hole) return r;
    from = 0;
    for (const auto& sp : keep.splices) {
      s_->queue_bytes(ByteView(keep.bytes).subspan(from, sp.at - from));
      s_->queue_file(sp.map, sp.view);
      from = sp.at;
    }
    s_->queue_bytes(ByteView(keep.bytes).subspan(from));
    return sent(keep.bytes);
  }

  Result<Bytes, NetErrc> recv(std::optional<MonoTime> deadline) override {
    ConnState& s = *s_;
    bool timed_out = false;
    for (;;) {
      if (!parker_.check_alive()) return Err{NetErrc::closed};
      if (s.closed) return Err{NetErrc::closed};
      if (s.bad) return Err{NetErrc::bad_frame};
      if (auto frame = s.take_frame()) {
        if (observer_) observer_->on_request(s.id, *frame);
        return std::move(*frame);
      }
      if (s.bad) return Err{NetErrc::bad_frame};
      if (s.broken || s.eof) return Err{NetErrc::reset};
      if (timed_out) return Err{NetErrc::timed_out};
      s.start_read();
      timed_out = s.readers.wait("net.recv", deadline) == Wake::timed_out;
    }
  }

  void close() noexcept override { s_->close(); }
  const Address& peer() const override { return s_->peer; }
  std::uint64_t id() const override { return s_->id; }

 private:
  std::size_t queued() const { return s_->pending_bytes + s_->out_writing.size(); }

  // Checks a frame of `size` bytes whose first bytes are `head` and waits
  // for room in the send buffer. Ok with black_hole set: lost, not queued.
  Result<void, NetErrc> admit(ByteView head, std::size_t size) {
    if (!parker_.check_alive()) return Err{NetErrc::closed};
    ConnState& s = *s_;
    if (s.closed) return Err{NetErrc::closed};
    const auto prefix = frame_size(head);
    if (!prefix || *prefix != size - 4 || size > s.max_frame_bytes + 4) return Err{NetErrc::bad_frame};
    while (!s.broken && !s.closed && queued() > 0 && queued() + size > s.send_buffer_bytes)
      s.writers.wait("net.send.buffer_full");
    if (s.closed) return Err{NetErrc::closed};
    if (s.broken) return Err{NetErrc::reset};
    if (!s.black_hole && s.lose_next && s.lose_next()) s.black_hole = true;
    return {};  // acted on; when black_hole, the answer is lost
  }
  Result<void, NetErrc> sent(ByteView head) {
    s_->flush();
    if (observer_) observer_->on_response(s_->id, head);
    return {};
  }

  std::shared_ptr<ConnState> s_;
  Parker& parker_;
  std::shared_ptr<FrameObserver> observer_;
};

// A listening socket; one async accept is kept outstanding while fewer than
// k_accept_queue accepted connections wait for accept().
struct ListenState : std::enable_shared_from_this<ListenState> {
  ListenState(tcp::acceptor a, Parker& parker, ConnectionLimits l)
      : acceptor(std::move(a)), acceptors(parker), limits(std::move(l)) {}
  tcp::acceptor acceptor;
  WaitQueue acceptors;
  std::deque<tcp::socket> ready;
  bool accepting = false;
  bool closed = false;
  // Connection quotas: open accepted connections, in all and by address.
  ConnectionLimits limits;
  std::int64_t open = 0;
  std::map<std::string, std::int64_t> open_by_ip;
  bool at_limit_logged = false;

  // Takes a slot for a connection from `ip`; the returned function gives
  // it back (when the connection closes).
  std::function<void()> take_slot(const std::string& ip, LiveNetStats& stats) {
    ++open;
    ++open_by_ip[ip];
    ++stats.connections_open;
    return [weak = weak_from_this(), ip, st = &stats] {
      --st->connections_open;  // the world's stats outlive every connection
      auto self = weak.lock();
      if (!self) return;
      --self->open;
      if (--self->open_by_ip[ip] == 0) self->open_by_ip.erase(ip);
      self->acceptors.notify_all();  // an acceptor may wait for a slot
    };
  }
  std::int64_t open_from(const std::string& ip) const {
    const auto it = open_by_ip.find(ip);
    return it == open_by_ip.end() ? 0 : it->second;
  }

  void start_accept() {
    if (accepting || closed || ready.size() >= k_accept_queue) return;
    accepting = true;
    acceptor.async_accept([self = shared_from_this()](const std::error_code& ec, tcp::socket s) {
      self->accepting = false;
      if (!ec) self->ready.push_back(std::move(s));
      self->acceptors.notify_all();
      // On an error (EMFILE, say) the next accept() call tries again.
      if (!ec) self->start_accept();
    });
  }

  void close() noexcept {
    if (closed) return;
    closed = true;
    std::error_code ignored;
    acceptor.close(ignored);
    ready.clear();
    acceptors.notify_all();
  }
};

class LiveListener final : public Listener {
 public:
  LiveListener(std::shared_ptr<ListenState> s, Parker& parker, const LiveNetOptions& options,
               std::uint64_t& next_id, LiveNetStats& stats, LiveLinks& links, std::int32_t self)
      : s_(std::move(s)), parker_(parker), options_(options), next_id_(next_id), stats_(stats),
        links_(links), self_(self) {
    std::error_code ec;
    port_ = s_->acceptor.local_endpoint(ec).port();
    links_.impl().listening[port_] = self_;
  }
  ~LiveListener() override {
    s_->close();
    links_.impl().listening.erase(port_);
  }

  Result<std::unique_ptr<Connection>, NetErrc> accept(std::optional<MonoTime> deadline) override {
    bool timed_out = false;
    for (;;) {
      if (!parker_.check_alive()) return Err{NetErrc::closed};
      if (s_->closed) return Err{NetErrc::closed};
      // At max.connections nothing is taken until a connection closes
      // (Kafka's Acceptor waits in ConnectionQuotas.waitForConnectionSlot).
      const bool full = s_->open >= s_->limits.max_connections;
      if (full && !s_->at_limit_logged && options_.log) {
        options_.log->warn("{} connections open, the configured max.connections: new connections "
                           "wait until one closes", s_->open);
      }
      s_->at_limit_logged = full;
      if (!full && !s_->ready.empty()) {
        tcp::socket sock = std::move(s_->ready.front());
        s_->ready.pop_front();
        s_->start_accept();
        if (auto conn = admit(std::move(sock))) return conn;
        continue;
      }
      if (timed_out) return Err{NetErrc::timed_out};
      if (!full) s_->start_accept();
      timed_out = s_->acceptors.wait("net.accept", deadline) == Wake::timed_out;
    }
  }
  void close() noexcept override { s_->close(); }
  std::uint16_t port() const override { return port_; }

 private:
  // A connection within its address's quota, else nullptr: closed at once
  // with one log line (Kafka's TooManyConnectionsException, logged by the
  // Acceptor as "Rejected connection from ...").
  std::unique_ptr<Connection> admit(tcp::socket sock) {
    std::error_code ec;
    const auto remote = sock.remote_endpoint(ec);
    const std::string ip = ec ? std::string() : remote.address().to_string();
    const std::int32_t from = links_.impl().node_on(links_.impl().client_ports, ec ? 0 : remote.port());
    if (links_.is_cut(self_, from)) {  // it connected just before a cut
      sock.close(ec);
      return nullptr;
    }
    const std::int64_t limit = s_->limits.limit_for(ip);
    if (s_->open_from(ip) >= limit) {
      ++stats_.connections_rejected;
      if (options_.log)
        options_.log->info("Rejected connection from {}:{}, address already has the configured "
                           "maximum of {} connections (max.connections.per.ip)",
                           ip, ec ? 0 : remote.port(), limit);
      sock.close(ec);
      return nullptr;
    }
    ++stats_.connections_accepted;
    auto state = std::make_shared<ConnState>(std::move(sock), parker_, options_, ++next_id_, stats_);
    state->release = s_->take_slot(ip, stats_);
    links_.impl().add(state, self_, from, std::nullopt);
    if (from < 0) links_.impl().watch_responses(state, self_);
    return std::make_unique<LiveConnection>(state, parker_, options_.observer);
  }

  std::shared_ptr<ListenState> s_;
  Parker& parker_;
  LiveNetOptions options_;
  std::uint64_t& next_id_;
  LiveNetStats& stats_;
  LiveLinks& links_;
  std::int32_t self_;
  std::uint16_t port_ = 0;
};

// A connect in flight, shared with its handlers.
struct ConnectOp : std::enable_shared_from_this<ConnectOp> {
  ConnectOp(asio::io_context& io, Parker& parker) : socket(io), resolver(io), done_queue(parker) {}
  tcp::socket socket;
  tcp::resolver resolver;
  WaitQueue done_queue;
  bool done = false;
  std::error_code ec;

  void finish(const std::error_code& e) {
    if (done) return;
    done = true;
    ec = e;
    done_queue.notify_all();
  }

  void start(const Address& to) {
    std::error_code parse_ec;
    const auto addr = asio::ip::make_address(to.host, parse_ec);
    auto self = shared_from_this();
    if (!parse_ec) {
      socket.async_connect(tcp::endpoint(addr, to.port),
                           [self](const std::error_code& e) { self->finish(e); });
      return;
    }
    resolver.async_resolve(to.host, std::to_string(to.port),
                           [self](const std::error_code& e, tcp::resolver::results_type results) {
                             if (e || self->done) return self->finish(e ? e : asio::error::operation_aborted);
                             asio::async_connect(self->socket, results,
                                                 [self](const std::error_code& e2, const tcp::endpoint&) {
                                                   self->finish(e2);
                                                 });
                           });
  }

  void cancel() noexcept {
    std::error_code ignored;
    resolver.cancel();
    socket.close(ignored);
  }
};

}  // namespace

Result<std::unique_ptr<Listener>, NetErrc> LiveNetwork::listen(std::uint16_t port) {
  parker_.check_alive();
  std::error_code ec;
  const auto addr = asio::ip::make_address(options_.listen_host, ec);
  if (ec) return Err{NetErrc::refused};
  const tcp::endpoint ep(addr, port);
  tcp::acceptor acceptor(io_);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (ec == asio::error::address_in_use) return Err{NetErrc::address_in_use};
  if (!ec) acceptor.listen(tcp::socket::max_listen_connections, ec);
  if (ec) return Err{NetErrc::refused};
  auto state = std::make_shared<ListenState>(std::move(acceptor), parker_, options_.limits);
  state->start_accept();
  return std::unique_ptr<Listener>(
      std::make_unique<LiveListener>(std::move(state), parker_, options_, next_id_, stats_, links_,
                                     self_));
}

Result<std::unique_ptr<Connection>, NetErrc> LiveNetwork::connect(const Address& to,
                                                                 std::optional<MonoTime> deadline) {
  parker_.check_alive();
  // In-process peers are found by port (one host); a cut link refuses.
  const std::int32_t target = links_.impl().node_on(links_.impl().listening, to.port);
  if (links_.is_cut(self_, target)) return Err{NetErrc::refused};
  auto op = std::make_shared<ConnectOp>(io_, parker_);
  op->start(to);
  // A deadline or a shutdown (Crashed) while waiting gives the connect up;
  // its handler still runs later, on the shared op.
  struct GiveUp {
    ConnectOp& op;
    ~GiveUp() {
      if (!op.done) op.cancel();
    }
  } give_up{*op};
  while (!op->done) {
    if (op->done_queue.wait("net.connect", deadline) == Wake::timed_out && !op->done)
      return Err{NetErrc::timed_out};
  }
  if (op->ec) return Err{connect_errc_of(op->ec)};
  if (links_.is_cut(self_, target)) return Err{NetErrc::refused};  // cut while connecting
  ++stats_.connections_made;
  std::error_code ec;
  const std::uint16_t local_port = op->socket.local_endpoint(ec).port();
  auto state = std::make_shared<ConnState>(std::move(op->socket), parker_, options_, ++next_id_, stats_);
  links_.impl().add(state, self_, target, ec ? std::nullopt : std::optional<std::uint16_t>(local_port));
  return std::unique_ptr<Connection>(std::make_unique<LiveConnection>(state, parker_));
}

}  // namespace samsa::sim
