// Differential test against a real ZooKeeper 3.8 (Debian zookeeperd): the
// same random operation sequences go to a private ZooKeeper over a socket
// (our jute encoding on the wire) and to samsa's StateMachine; error codes,
// created paths, data, children, Stats (zxids relative to the start of the
// sequence; times excluded) and watch events must agree, and every reply
// ZooKeeper sends re-encodes, by our encoder, to the very same bytes. Tagged [zookeeper]:
// skipped (with a warning) where java or zookeeper.jar is missing.
#include <catch2/catch.hpp>
#include <rapidcheck/catch.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "sim/runtime/network.h"
#include "system/coord/state_machine.h"
#include "system/coord/wire.h"

extern char** environ;

using namespace samsa;
using namespace samsa::coord;

namespace {

constexpr const char* k_java = "/usr/bin/java";
constexpr const char* k_jar = "/usr/share/java/zookeeper.jar";

int connect_local(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{60, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool read_exact(int fd, std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    const ssize_t got = ::recv(fd, p, n, 0);
    if (got <= 0) return false;
    p += got;
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

// A private ZooKeeper server: its own data dir and port, stopped by pid.
class ZooKeeper {
 public:
  static bool available() { return ::access(k_java, X_OK) == 0 && ::access(k_jar, R_OK) == 0; }

  ZooKeeper() : port_(free_port()) {
    char tmpl[] = "/tmp/samsa-zk-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    std::ofstream(dir_ + "/zoo.cfg") << "tickTime=2000\ndataDir=" << dir_ << "/data\nclientPort="
                                     << port_ << "\nclientPortAddress=127.0.0.1\n"
                                     << "admin.enableServer=false\n"
                                     << "4lw.commands.whitelist=ruok,srvr\n";
    const std::string cfg = dir_ + "/zoo.cfg";
    const std::string cp = std::string("/etc/zookeeper/conf:") + k_jar +
                           ":/usr/share/java/log4j-1.2.jar:/usr/share/java/slf4j-log4j12.jar";
    const std::string log = dir_ + "/zk.log";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    const char* argv[] = {k_java, "-Dzookeeper.root.logger=INFO,CONSOLE", "-cp", cp.c_str(),
                          "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg.c_str(), nullptr};
    if (posix_spawn(&pid_, k_java, &fa, nullptr, const_cast<char**>(argv), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~ZooKeeper() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    if (!std::getenv("SAMSA_KEEP_ZK")) std::filesystem::remove_all(dir_, ec);
  }
  // Ready when "ruok" answers "imok" and "srvr" reports a mode: imok alone
  // comes before the server accepts sessions (up to 30 s).
  bool wait_ready() {
    for (int i = 0; i < 300 && pid_ > 0; ++i) {
      if (four_letters("ruok").starts_with("imok") &&
          four_letters("srvr").find("Mode:") != std::string::npos)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  std::string four_letters(const char* word) {
    const int fd = connect_local(port_);
    if (fd < 0) return {};
    std::string out;
    if (::send(fd, word, 4, 0) == 4) {
      char buf[512];
      for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
  }
  std::uint16_t port() const { return port_; }

 private:
  std::uint16_t port_;
  std::string dir_;
  pid_t pid_ = -1;
};

// One ZooKeeper session over a blocking socket.
class Session {
 public:
  explicit Session(std::uint16_t port) : fd_(connect_local(port)) {
    REQUIRE(fd_ >= 0);
    ConnectRequest req;
    req.timeout_ms = 30000;
    send(encode(req));
    const Bytes frame = recv();
    auto resp = decode_connect_response(frame);
    REQUIRE(resp.ok());
    REQUIRE(encode(*resp) == frame);
    REQUIRE(resp->timeout_ms > 0);
    id_ = resp->session_id;
  }
  ~Session() {  // no REQUIRE here: a throwing destructor would abort the run
    if (fd_ < 0) return;
    Request close;
    close.xid = next_xid_++;
    close.type = OpCode::close_session;
    const Bytes frame = encode(close);
    if (::send(fd_, frame.data(), frame.size(), MSG_NOSIGNAL) > 0) {
      std::uint8_t buf[64];
      (void)::recv(fd_, buf, sizeof buf, 0);
    }
    ::close(fd_);
  }
  // Ends the session (its ephemerals go); the zxid of the close.
  Zxid close() {
    Request req;
    req.type = OpCode::close_session;
    const Zxid zxid = call(req).first.header.zxid;
    ::close(fd_);
    fd_ = -1;
    return zxid;
  }
  SessionId id() const { return id_; }

  // Sends one request; returns its reply and the watch events that came first.
  std::pair<Response, std::vector<WatcherEvent>> call(Request req) {
    req.xid = next_xid_++;
    send(encode(req));
    std::vector<WatcherEvent> events;
    for (;;) {
      Bytes frame = recv();
      auto header = decode_reply_header(frame);
      REQUIRE(header.ok());
      if (header->xid == k_watch_xid) {
        auto ev = decode_response(frame, OpCode::error);
        REQUIRE(ev.ok());
        REQUIRE(encode(*ev, OpCode::error) == frame);
        events.push_back(ev->event);
        continue;
      }
      REQUIRE(header->xid == req.xid);
      auto r = decode_response(frame, req.type);
      INFO("decode error at byte " << (r.ok() ? 0 : r.error().offset));
      REQUIRE(r.ok());
      // Our encoder writes ZooKeeper's reply bytes exactly: what the server
      // sends our clients is what a real ZooKeeper would send.
      REQUIRE(encode(*r, req.type) == frame);
      return {std::move(*r), events};
    }
  }

 private:
  void send(const Bytes& frame) {
    if (std::getenv("SAMSA_ZK_TRACE")) {
      for (auto b : frame) std::fprintf(stderr, "%02x", b);
      std::fprintf(stderr, "\n");
    }
    REQUIRE(::send(fd_, frame.data(), frame.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(frame.size()));
  }
  Bytes recv() {
    Bytes frame(4);
    REQUIRE(read_exact(fd_, frame.data(), 4));
    const auto n = *sim::frame_size(frame);
    frame.resize(4 + n);
    REQUIRE(read_exact(fd_, frame.data() + 4, n));
    return frame;
  }
  int fd_;
  SessionId id_ = 0;
  std::int32_t next_xid_ = 1;
};

ZooKeeper* shared_zookeeper() {
  static std::unique_ptr<ZooKeeper> zk = [] {
    auto z = std::make_unique<ZooKeeper>();
    if (!z->wait_ready()) z.reset();
    return z;
  }();
  return zk.get();
}

// --- one step of the differential run ------------------------------------------

struct Op {
  Request req;  // path relative to the run's prefix
};

const std::vector<std::string> k_rel = {"/a", "/b", "/a/a", "/a/b", "/b/a", "/a/s-", "/a/", "//a", "/a/."};

rc::Gen<SubOp> gen_sub() {
  auto path = rc::gen::elementOf(k_rel);
  auto version = rc::gen::inRange<std::int32_t>(-1, 2);
  auto data = rc::gen::element<std::string>("", "x", "hello");
  return rc::gen::oneOf(
      rc::gen::apply([](std::string p, std::string d, int mode, bool two) {
        return SubOp{CreateOp{p, Bytes(d.begin(), d.end()), static_cast<CreateMode>(mode), two}};
      }, path, data, rc::gen::inRange(0, 4), rc::gen::arbitrary<bool>()),
      rc::gen::apply([](std::string p, std::int32_t v) { return SubOp{DeleteOp{p, v}}; }, path, version),
      rc::gen::apply([](std::string p, std::string d, std::int32_t v) {
        return SubOp{SetDataOp{p, Bytes(d.begin(), d.end()), v}};
      }, path, data, version),
      rc::gen::apply([](std::string p, std::int32_t v) { return SubOp{CheckOp{p, v}}; }, path, version));
}

rc::Gen<Request> gen_request() {
  auto read = rc::gen::apply(
      [](int kind, std::string p, bool watch) {
        Request r;
        r.type = kind == 0 ? OpCode::exists : kind == 1 ? OpCode::get_data : OpCode::get_children2;
        r.path = p;
        r.watch = watch;
        return r;
      },
      rc::gen::inRange(0, 3), rc::gen::elementOf(k_rel), rc::gen::arbitrary<bool>());
  auto single = rc::gen::map(gen_sub(), [](SubOp op) {
    Request r;
    r.type = OpCode::multi;
    std::visit([&r](auto&& o) {
      using T = std::decay_t<decltype(o)>;
      if constexpr (std::is_same_v<T, CreateOp>) r.type = o.with_stat ? OpCode::create2 : OpCode::create;
      else if constexpr (std::is_same_v<T, DeleteOp>) r.type = OpCode::remove;
      else if constexpr (std::is_same_v<T, SetDataOp>) r.type = OpCode::set_data;
      else r.type = OpCode::multi;
      if constexpr (std::is_same_v<T, CheckOp>) r.write = MultiOp{{o}};  // check goes in a multi
      else r.write = o;
    }, std::move(op));
    return r;
  });
  auto multi = rc::gen::map(rc::gen::resize(3, rc::gen::nonEmpty(rc::gen::container<std::vector<SubOp>>(gen_sub()))),
                            [](std::vector<SubOp> ops) {
                              Request r;
                              r.type = OpCode::multi;
                              r.write = MultiOp{std::move(ops)};
                              return r;
                            });
  return rc::gen::oneOf(read, single, single, multi);
}

std::string with_prefix(const std::string& prefix, const std::string& rel) { return prefix + rel; }

void prefix_paths(Request& r, const std::string& prefix) {
  r.path = with_prefix(prefix, r.path);
  auto fix = [&prefix](auto& op) { op.path = prefix + op.path; };
  std::visit([&](auto& w) {
    using T = std::decay_t<decltype(w)>;
    if constexpr (std::is_same_v<T, MultiOp>) {
      for (auto& s : w.ops) std::visit(fix, s);
    } else if constexpr (requires { w.path; }) {
      fix(w);
    }
  }, r.write);
}

// Our side: the state machine answers the same request.
// Our side: the state machine answers the same requests, for two sessions.
struct Ours {
  StateMachine sm;
  SessionId sessions[2] = {77, 78};
  std::int64_t time_ms = 1000;

  std::pair<Response, std::vector<WatchEvent>> call(int k, const Request& req) {
    const SessionId session = sessions[k];
    Response resp;
    if (req.type == OpCode::exists || req.type == OpCode::get_data || req.type == OpCode::get_children2) {
      if (req.type == OpCode::exists) {
        auto r = sm.exists(session, req.path, req.watch);
        if (r) resp.stat = *r; else resp.header.err = r.error();
      } else if (req.type == OpCode::get_data) {
        auto r = sm.get_data(session, req.path, req.watch);
        if (r) { resp.data = r->data; resp.stat = r->stat; } else resp.header.err = r.error();
      } else {
        auto r = sm.get_children(session, req.path, req.watch);
        if (r) { resp.children = r->children; resp.stat = r->stat; } else resp.header.err = r.error();
      }
      resp.header.zxid = sm.last_zxid();
      return {resp, {}};
    }
    TxnResult t = sm.apply(Txn{sm.last_zxid() + 1, ++time_ms, session, req.write});
    resp.header = {0, sm.last_zxid(), t.err};
    resp.path = t.single.path;
    resp.stat = t.single.stat;
    resp.multi = t.multi;
    return {resp, t.events};
  }
};

std::string show(const Stat& s) {
  return fmt::format("czxid {} mzxid {} pzxid {} version {} cversion {} aversion {} owner {} len {} kids {}",
                     s.czxid, s.mzxid, s.pzxid, s.version, s.cversion, s.aversion,
                     s.ephemeral_owner, s.data_length, s.num_children);
}

// A Stat comparable across the two servers: zxids relative to the run's
// base, times dropped, the owner as the index of the session (1 or 2).
struct Frame {
  Zxid base;
  SessionId sessions[2];
  Stat operator()(Stat s) const {
    s.ctime = s.mtime = 0;  // wall clock: not comparable
    for (Zxid* z : {&s.czxid, &s.mzxid, &s.pzxid})
      if (*z != 0) *z -= base;
    if (s.ephemeral_owner != 0) s.ephemeral_owner = s.ephemeral_owner == sessions[0] ? 1 : 2;
    return s;
  }
};

void same_events(const std::vector<WatcherEvent>& theirs, const std::vector<WatchEvent>& ours) {
  RC_ASSERT(theirs.size() == ours.size());
  for (std::size_t i = 0; i < theirs.size(); ++i) {
    RC_ASSERT(static_cast<int>(theirs[i].type) == static_cast<int>(ours[i].type));
    RC_ASSERT(theirs[i].path == ours[i].path);
  }
}

std::vector<WatchEvent> of_session(const std::vector<WatchEvent>& all, SessionId s) {
  std::vector<WatchEvent> out;
  for (const auto& e : all)
    if (e.session == s) out.push_back(e);
  return out;
}

void same_reply(const Request& req, Response& t, const Response& o, const Frame& tf, const Frame& of) {
  RC_LOG() << "op " << static_cast<int>(req.type) << " " << req.path << " -> theirs "
           << static_cast<int>(t.header.err) << " ours " << static_cast<int>(o.header.err) << "\n";
  RC_ASSERT(static_cast<int>(t.header.err) == static_cast<int>(o.header.err));
  RC_ASSERT(t.header.zxid - tf.base == o.header.zxid - of.base);
  if (t.header.err != Code::ok) return;
  RC_ASSERT(t.path == o.path);
  RC_ASSERT(t.data == o.data);
  std::sort(t.children.begin(), t.children.end());  // ZooKeeper's order is unspecified
  RC_ASSERT(t.children == o.children);
  RC_LOG() << "  theirs " << show(tf(t.stat)) << "\n  ours   " << show(of(o.stat)) << "\n";
  if (req.type != OpCode::create && req.type != OpCode::remove && req.type != OpCode::multi)
    RC_ASSERT(tf(t.stat) == of(o.stat));
  RC_ASSERT(t.multi.size() == o.multi.size());
  for (std::size_t i = 0; i < t.multi.size(); ++i) {
    RC_ASSERT(static_cast<int>(t.multi[i].type) == static_cast<int>(o.multi[i].type));
    RC_ASSERT(static_cast<int>(t.multi[i].err) == static_cast<int>(o.multi[i].err));
    RC_ASSERT(t.multi[i].path == o.multi[i].path);
    const OpCode type = t.multi[i].type;
    if (type == OpCode::create2 || type == OpCode::set_data)  // the others carry no Stat
      RC_ASSERT(tf(t.multi[i].stat) == of(o.multi[i].stat));
  }
}

// Every node of ours under the prefix, read from ZooKeeper by `reader`.
void same_subtree(Session& reader, const Ours& ours, const std::string& prefix, const Frame& tf,
                  const Frame& of) {
  for (const auto& [path, node] : ours.sm.nodes()) {
    if (!path.starts_with(prefix)) continue;
    Request get;
    get.type = OpCode::get_data;
    get.path = path;
    auto [t, ev] = reader.call(get);
    RC_ASSERT(t.header.err == Code::ok);
    RC_ASSERT(t.data == node.data);
    RC_ASSERT(tf(t.stat) == of(node.stat));
    get.type = OpCode::get_children2;
    auto [kids, ev2] = reader.call(get);
    std::sort(kids.children.begin(), kids.children.end());
    RC_ASSERT(kids.children == std::vector<std::string>(node.children.begin(), node.children.end()));
  }
}

Request probe() {
  Request r;
  r.type = OpCode::exists;
  r.path = "/";
  return r;
}

}  // namespace

TEST_CASE("samsa's coordinator answers like ZooKeeper 3.8 for the same operations",
          "[zookeeper][coord]") {
  if (!ZooKeeper::available()) {
    WARN("java or zookeeper.jar missing: differential test skipped (tools/setup --peers)");
    return;
  }
  ZooKeeper* zk = shared_zookeeper();
  REQUIRE(zk != nullptr);
  int run = 0;
  rc::prop("two sessions: same codes, paths, data, children, stats, ephemerals and watch events",
           [zk, &run] {
    const auto ops = *rc::gen::resize(
        40, rc::gen::container<std::vector<std::pair<bool, Request>>>(
                rc::gen::pair(rc::gen::arbitrary<bool>(), gen_request())));
    const std::string prefix = fmt::format("/run{}", run++);
    Session s0(zk->port()), s1(zk->port());
    Session* theirs[2] = {&s0, &s1};
    Ours ours;
    for (SessionId id : ours.sessions)
      (void)ours.sm.apply(Txn{ours.sm.last_zxid() + 1, 0, id, CreateSessionOp{30000, Bytes(16, 0)}});
    Request mk;
    mk.type = OpCode::create;
    mk.write = CreateOp{prefix, {}};
    auto [their_mk, e0] = s0.call(mk);
    RC_ASSERT(their_mk.header.err == Code::ok);
    auto [our_mk, e1] = ours.call(0, mk);
    const Frame tf{their_mk.header.zxid, {s0.id(), s1.id()}};
    const Frame of{our_mk.header.zxid, {ours.sessions[0], ours.sessions[1]}};
    // A fixed opening that random sequences reach rarely: one session holds
    // a data and a child watch on a node that the other session deletes.
    std::vector<std::pair<bool, Request>> script;
    auto add = [&script](bool second, OpCode type, std::string path, bool watch, WriteOp w) {
      Request r;
      r.type = type;
      r.path = std::move(path);
      r.watch = watch;
      r.write = std::move(w);
      script.emplace_back(second, std::move(r));
    };
    add(false, OpCode::create, "", false, CreateOp{"/w", {}});
    add(false, OpCode::get_data, "/w", true, CloseSessionOp{});
    add(false, OpCode::get_children2, "/w", true, CloseSessionOp{});
    add(true, OpCode::remove, "", false, DeleteOp{"/w", -1});
    script.insert(script.end(), ops.begin(), ops.end());
    for (auto [second, req] : script) {
      const int k = second ? 1 : 0;
      prefix_paths(req, prefix);
      auto [t, t_events] = theirs[k]->call(req);
      auto [o, o_events] = ours.call(k, req);
      same_events(t_events, of_session(o_events, ours.sessions[k]));
      same_reply(req, t, o, tf, of);
      // The other session's events arrive before its next reply.
      auto [t_probe, other_events] = theirs[1 - k]->call(probe());
      same_events(other_events, of_session(o_events, ours.sessions[1 - k]));
    }
    // Session 0 ends: its ephemerals go (one zxid); session 1 hears of it.
    const Zxid their_close = s0.close();
    auto closed = ours.sm.apply(Txn{ours.sm.last_zxid() + 1, 0, ours.sessions[0], CloseSessionOp{}});
    RC_ASSERT(their_close - tf.base == ours.sm.last_zxid() - of.base);
    auto [t_probe, events] = s1.call(probe());
    same_events(events, of_session(closed.events, ours.sessions[1]));
    same_subtree(s1, ours, prefix, tf, of);
    s1.close();
    (void)ours.sm.apply(Txn{ours.sm.last_zxid() + 1, 0, ours.sessions[1], CloseSessionOp{}});
    Session reader(zk->port());
    same_subtree(reader, ours, prefix, tf, of);
  });
}
