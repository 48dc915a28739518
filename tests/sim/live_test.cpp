// The live world (sim/live): the seam on real loopback sockets, real files
// and real time. Frames are cut out of a byte stream exactly (split and
// pipelined), bad size prefixes are errors on one connection only,
// deadlines end waits, files are durable and renamed atomically, and a
// shutdown wakes and joins every fiber. Tagged [live] (ctest labels live
// and default: quick, loopback only).
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "sim/live/live_world.h"

using namespace samsa;
using namespace samsa::sim;

namespace {

LiveConfig quiet() {
  LiveConfig c;
  c.log_level = "off";
  c.seed = 42;
  return c;
}

Bytes frame_of(std::string_view body) {
  Bytes f(4 + body.size());
  std::copy(body.begin(), body.end(), f.begin() + 4);
  put_frame_size(f, 0);
  return f;
}

std::string body_of(const Bytes& frame) {
  return std::string(frame.begin() + 4, frame.end());
}

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/samsa-live-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

// Runs `body` as a control actor, then stops the world; returns how it ended.
LiveRunResult run_body(LiveWorld& world, std::function<void()> body) {
  world.spawn("test", [&world, body = std::move(body)] {
    body();
    world.request_stop();
  });
  return world.run();
}

// A blocking POSIX client for byte-level tests (runs on its own thread, as a
// foreign client would).
struct RawClient {
  explicit RawClient(std::uint16_t port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{20, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawClient() { ::close(fd); }
  void write_all(ByteView b) {
    std::size_t done = 0;
    while (done < b.size()) {
      const ssize_t n = ::send(fd, b.data() + done, b.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return;
      done += static_cast<std::size_t>(n);
    }
  }
  // Reads until the peer closes (or errors); returns what arrived.
  Bytes read_to_end() {
    Bytes out;
    std::uint8_t buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return out;
      out.insert(out.end(), buf, buf + n);
    }
  }
  int fd = -1;
  bool connected = false;
};

}  // namespace

TEST_CASE("frames of every size cross a loopback connection whole and in order", "[live]") {
  LiveWorld world(quiet());
  std::vector<std::size_t> sizes = {0, 1, 3, 4, 100, 65536, 65537, 1 << 20, 3 * (1 << 20) + 7};
  std::vector<Bytes> echoed;
  auto r = run_body(world, [&] {
    Runtime& rt = world.control();
    auto listener = rt.net().listen(0);
    REQUIRE(listener.ok());
    const std::uint16_t port = (*listener)->port();
    REQUIRE(port != 0);
    std::shared_ptr<Listener> shared(std::move(*listener));
    world.spawn("echo", [shared] {
      auto conn = shared->accept();
      REQUIRE(conn.ok());
      for (;;) {
        auto f = (*conn)->recv();
        if (!f) return;
        REQUIRE((*conn)->send(*f).ok());
      }
    });
    auto c = rt.net().connect(Address{"127.0.0.1", port}, rt.deadline_after(5s));
    REQUIRE(c.ok());
    // All sends first (pipelined), then all replies.
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      Bytes f(4 + sizes[i]);
      for (std::size_t k = 0; k < sizes[i]; ++k) f[4 + k] = static_cast<std::uint8_t>(k * 7 + i);
      put_frame_size(f, 0);
      REQUIRE((*c)->send(f).ok());
    }
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      auto f = (*c)->recv(rt.deadline_after(10s));
      REQUIRE(f.ok());
      echoed.push_back(std::move(*f));
    }
    // A frame whose prefix does not match its length is refused at send.
    Bytes wrong = frame_of("abc");
    wrong.push_back('d');
    CHECK((*c)->send(wrong).error() == NetErrc::bad_frame);
  });
  REQUIRE(r.reason == LiveStop::requested);
  REQUIRE(echoed.size() == sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    REQUIRE(echoed[i].size() == sizes[i] + 4);
    CHECK(frame_size(echoed[i]).value() == sizes[i]);
    for (std::size_t k = 0; k < sizes[i]; ++k)
      if (echoed[i][4 + k] != static_cast<std::uint8_t>(k * 7 + i)) FAIL("byte " << k << " of frame " << i);
  }
  CHECK(world.fiber_count() == 0);
}

TEST_CASE("frames split over many reads and many frames in one read are cut out exactly",
          "[live]") {
  LiveWorld world(quiet());
  std::vector<std::string> got;
  Bytes reply;
  auto r = run_body(world, [&] {
    Runtime& rt = world.control();
    auto listener = rt.net().listen(0);
    REQUIRE(listener.ok());
    const std::uint16_t port = (*listener)->port();
    std::thread client([port, &reply] {
      RawClient raw(port);
      // One frame dribbled in pieces: inside the prefix, then the body.
      const Bytes a = frame_of("split-frame-body");
      const std::size_t cuts[] = {0, 1, 3, 4, 9, a.size()};
      for (std::size_t i = 0; i + 1 < std::size(cuts); ++i) {
        raw.write_all(ByteView(a).subspan(cuts[i], cuts[i + 1] - cuts[i]));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      // Three frames (one empty) in one write, then half of a fourth's prefix.
      Bytes many;
      for (auto s : {"one", "", "three"}) {
        const Bytes f = frame_of(s);
        many.insert(many.end(), f.begin(), f.end());
      }
      const Bytes last = frame_of("last");
      many.insert(many.end(), last.begin(), last.begin() + 2);
      raw.write_all(many);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      raw.write_all(ByteView(last).subspan(2));
      // A frame over a read chunk and a short one after it, in one write:
      // the large one is handed over as the read buffer, the short one kept.
      Bytes big_then_small = frame_of(std::string(200000, 'b'));
      const Bytes tail = frame_of("tail");
      big_then_small.insert(big_then_small.end(), tail.begin(), tail.end());
      raw.write_all(big_then_small);
      reply = raw.read_to_end();
    });
    auto conn = (*listener)->accept(rt.deadline_after(10s));
    REQUIRE(conn.ok());
    for (int i = 0; i < 7; ++i) {
      auto f = (*conn)->recv(rt.deadline_after(10s));
      REQUIRE(f.ok());
      got.push_back(body_of(*f));
    }
    REQUIRE((*conn)->send(frame_of("done")).ok());
    (*conn)->close();
    // The client thread blocks in read until the close above reaches it;
    // join it off the fiber thread's critical path by yielding meanwhile.
    while (reply.empty()) rt.sleep(5ms);
    client.join();
  });
  REQUIRE(r.reason == LiveStop::requested);
  CHECK(got == std::vector<std::string>{"split-frame-body", "one", "", "three", "last",
                                        std::string(200000, 'b'), "tail"});
  CHECK(reply == frame_of("done"));
}

TEST_CASE("an oversize, negative or garbage size prefix fails that connection only", "[live]") {
  LiveWorld world(quiet());
  TempDir dir;
  LiveNodeConfig nc;
  nc.name = "server";
  nc.data_dir = dir.path;
  nc.max_frame_bytes = 1024;  // socket.request.max.bytes
  std::uint16_t port = 0;
  std::vector<NetErrc> errors;
  int served = 0;
  auto node = world.add_node(nc, [&](Runtime& rt) {
    auto listener = rt.net().listen(0);
    REQUIRE(listener.ok());
    port = (*listener)->port();
    std::shared_ptr<Listener> shared(std::move(*listener));
    rt.spawn("accept", [&rt, shared, &errors, &served] {
      for (;;) {
        auto conn = shared->accept();
        if (!conn) return;
        std::shared_ptr<Connection> c(std::move(*conn));
        rt.spawn("conn", [c, &errors, &served] {
          for (;;) {
            auto f = c->recv();
            if (!f) {
              errors.push_back(f.error());
              c->close();
              return;
            }
            ++served;
            (void)c->send(*f);
          }
        });
      }
    });
  });
  REQUIRE(node.ok());
  world.start(*node);
  std::vector<Bytes> replies;
  auto r = run_body(world, [&] {
    Runtime& rt = world.control();
    while (port == 0) rt.sleep(1ms);
    auto good = rt.net().connect(Address{"127.0.0.1", port}, rt.deadline_after(5s));
    REQUIRE(good.ok());
    REQUIRE((*good)->send(frame_of("before")).ok());
    REQUIRE((*good)->recv(rt.deadline_after(5s)).ok());
    std::thread bad([port, &replies] {
      const Bytes prefixes[] = {{0x00, 0x00, 0x04, 0x01, 'x'},   // 1025 > 1024
                                {0xff, 0xff, 0xff, 0xff},        // -1
                                {0x80, 0x00, 0x00, 0x00},        // INT32_MIN
                                {'G', 'E', 'T', ' ', '/', ' '}};  // not Kafka at all
      for (const Bytes& p : prefixes) {
        RawClient raw(port);
        raw.write_all(p);
        replies.push_back(raw.read_to_end());  // the server closes it
      }
    });
    while (errors.size() < 4) rt.sleep(2ms);
    bad.join();
    // The first client was not disturbed; a frame at the limit still passes.
    const std::string at_limit(1024, 'z');
    REQUIRE((*good)->send(frame_of(at_limit)).ok());
    auto back = (*good)->recv(rt.deadline_after(5s));
    REQUIRE(back.ok());
    CHECK(body_of(*back) == at_limit);
  });
  REQUIRE(r.reason == LiveStop::requested);
  CHECK(errors == std::vector<NetErrc>(4, NetErrc::bad_frame));
  CHECK(served == 2);
  CHECK(world.net_stats().bad_frames == 4);
  for (const Bytes& b : replies) CHECK(b.empty());
}

TEST_CASE("recv, accept and connect give up at their deadline; later frames still arrive",
          "[live]") {
  LiveWorld world(quiet());
  auto r = run_body(world, [&] {
    Runtime& rt = world.control();
    auto listener = rt.net().listen(0);
    REQUIRE(listener.ok());
    const std::uint16_t port = (*listener)->port();
    CHECK((*listener)->accept(rt.deadline_after(30ms)).error() == NetErrc::timed_out);
    auto c = rt.net().connect(Address{"127.0.0.1", port}, rt.deadline_after(5s));
    REQUIRE(c.ok());
    auto s = (*listener)->accept(rt.deadline_after(5s));
    REQUIRE(s.ok());
    const MonoTime before = rt.now();
    CHECK((*s)->recv(rt.deadline_after(50ms)).error() == NetErrc::timed_out);
    CHECK(rt.now() - before >= 50ms);  // a deadline never ends a wait early
    REQUIRE((*c)->send(frame_of("late")).ok());
    auto f = (*s)->recv(rt.deadline_after(5s));
    REQUIRE(f.ok());
    CHECK(body_of(*f) == "late");
    // Close: the peer sees reset after what was sent before.
    REQUIRE((*c)->send(frame_of("last words")).ok());
    (*c)->close();
    CHECK((*c)->recv().error() == NetErrc::closed);
    CHECK((*c)->send(frame_of("x")).error() == NetErrc::closed);
    auto lw = (*s)->recv(rt.deadline_after(5s));
    REQUIRE(lw.ok());
    CHECK(body_of(*lw) == "last words");
    CHECK((*s)->recv(rt.deadline_after(5s)).error() == NetErrc::reset);

    // Nobody listens: refused. Listening twice on one port: address_in_use.
    (*listener)->close();
    CHECK(rt.net().connect(Address{"127.0.0.1", port}, rt.deadline_after(5s)).error() ==
          NetErrc::refused);
    auto again = rt.net().listen(0);
    REQUIRE(again.ok());
    CHECK(rt.net().listen((*again)->port()).error() == NetErrc::address_in_use);

    // A listener whose accept queue is full drops SYNs: connect times out.
    const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(lfd, 0) == 0);
    socklen_t len = sizeof a;
    ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
    const std::uint16_t full_port = ntohs(a.sin_port);
    std::vector<std::unique_ptr<Connection>> fillers;
    for (int i = 0; i < 2; ++i) {
      auto fc = rt.net().connect(Address{"127.0.0.1", full_port}, rt.deadline_after(200ms));
      if (fc) fillers.push_back(std::move(*fc));
    }
    CHECK(rt.net().connect(Address{"127.0.0.1", full_port}, rt.deadline_after(100ms)).error() ==
          NetErrc::timed_out);
    ::close(lfd);
    // Host names resolve.
    auto l3 = rt.net().listen(0);
    REQUIRE(l3.ok());
    CHECK(rt.net().connect(Address{"localhost", (*l3)->port()}, rt.deadline_after(5s)).ok());
  });
  REQUIRE(r.reason == LiveStop::requested);
}

TEST_CASE("sleep and timed waits end at their deadline, never before", "[live]") {
  LiveWorld world(quiet());
  std::vector<int> order;
  auto r = run_body(world, [&] {
    Runtime& rt = world.control();
    Event never(rt.parker());
    const MonoTime t0 = rt.now();
    world.spawn("a", [&] { rt.sleep(60ms); order.push_back(60); });
    world.spawn("b", [&] { rt.sleep(20ms); order.push_back(20); });
    world.spawn("c", [&] {
      CHECK_FALSE(never.wait(rt.deadline_after(40ms)));
      order.push_back(40);
    });
    rt.sleep(100ms);
    CHECK(rt.now() - t0 >= 100ms);
    CHECK(rt.wall_ms() > 1'700'000'000'000);  // the real wall clock
  });
  REQUIRE(r.reason == LiveStop::requested);
  CHECK(order == std::vector<int>{20, 40, 60});
}

TEST_CASE("a busy fiber does not starve socket completions or timers", "[live]") {
  LiveWorld world(quiet());
  bool got = false;
  auto r = run_body(world, [&] {
    Runtime& rt = world.control();
    bool stop = false;
    world.spawn("spin", [&] {
      while (!stop) rt.yield();
    });
    auto listener = rt.net().listen(0);
    REQUIRE(listener.ok());
    auto c = rt.net().connect(Address{"127.0.0.1", (*listener)->port()}, rt.deadline_after(5s));
    REQUIRE(c.ok());
    auto s = (*listener)->accept(rt.deadline_after(5s));
    REQUIRE(s.ok());
    REQUIRE((*c)->send(frame_of("ping")).ok());
    got = (*s)->recv(rt.deadline_after(5s)).ok();
    rt.sleep(10ms);
    stop = true;
  });
  REQUIRE(r.reason == LiveStop::requested);
  CHECK(got);
}

TEST_CASE("files: pread, pwrite, append, truncate, fsync; another world reads them back",
          "[live]") {
  TempDir dir;
  {
    LiveWorld world(quiet());
    LiveNodeConfig nc{"n", dir.path + "/n"};
    auto id = world.add_node(nc, [](Runtime& rt) {
      Disk& d = rt.disk();
      REQUIRE(d.mkdirs("a/b").ok());
      CHECK(d.is_directory("a"));
      CHECK(d.is_directory("a/b"));
      auto f = d.open("a/b/seg.log", {.create = true});
      REQUIRE(f.ok());
      REQUIRE((*f)->append(as_bytes("hello ")).ok());
      REQUIRE((*f)->append(as_bytes("world")).ok());
      REQUIRE((*f)->write(0, as_bytes("J")).ok());
      CHECK((*f)->size() == 11);
      REQUIRE((*f)->fsync().ok());
      Bytes buf(64);
      auto n = (*f)->read(6, buf);
      REQUIRE(n.ok());
      CHECK(*n == 5);  // short at the end of the file
      CHECK(std::string(buf.begin(), buf.begin() + 5) == "world");
      REQUIRE((*f)->truncate(5).ok());
      CHECK((*f)->size() == 5);
      REQUIRE((*f)->fsync().ok());
      // Errors are values, with the seam's names.
      CHECK(d.open("missing").error() == DiskErrc::not_found);
      CHECK(d.open("nodir/x", {.create = true}).error() == DiskErrc::not_found);
      CHECK(d.open("a/b/seg.log", {.create = true, .exclusive = true}).error() == DiskErrc::exists);
      CHECK(d.open("../escape", {.create = true}).error() == DiskErrc::bad_path);
      CHECK(d.open("/etc/passwd").error() == DiskErrc::bad_path);
      CHECK(d.open("a/./b").error() == DiskErrc::bad_path);
      CHECK(d.open("a/b").error() == DiskErrc::is_directory);
      CHECK(d.remove("a/b").error() == DiskErrc::not_empty);
      CHECK(d.mkdirs("a/b/seg.log/x").error() == DiskErrc::exists);
      CHECK(d.rename("nothing", "x").error() == DiskErrc::not_found);
      REQUIRE(d.open("a/z", {.create = true}).ok());
      REQUIRE(d.open("a/m", {.create = true}).ok());
      auto names = d.list("a");
      REQUIRE(names.ok());
      CHECK(*names == std::vector<std::string>{"b", "m", "z"});
      REQUIRE(d.remove("a/m").ok());
      CHECK_FALSE(d.exists("a/m"));
      CHECK(d.list("").value() == std::vector<std::string>{"a"});
    });
    REQUIRE(id.ok());
    world.start(*id);
    CHECK(world.run().reason == LiveStop::idle);
  }
  // What the first world wrote is in the real file and visible to a new world.
  std::ifstream in(dir.path + "/n/a/b/seg.log");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(content == "Jello");
  LiveWorld world(quiet());
  auto id = world.add_node(LiveNodeConfig{"n", dir.path + "/n"}, [](Runtime& rt) {
    auto all = read_all(rt.disk(), "a/b/seg.log");
    REQUIRE(all.ok());
    CHECK(as_chars(*all) == "Jello");
  });
  world.start(id.value());
  CHECK(world.run().reason == LiveStop::idle);
}

TEST_CASE("rename replaces atomically and fsyncs both directories before it returns", "[live]") {
  TempDir dir;
  LiveWorld world(quiet());
  LiveDisk* disk = nullptr;
  auto id = world.add_node(LiveNodeConfig{"n", dir.path}, [&](Runtime& rt) {
    Disk& d = rt.disk();
    REQUIRE(write_atomic(d, "checkpoint", as_bytes("v1")).ok());
    REQUIRE(write_atomic(d, "checkpoint", as_bytes("v2-longer")).ok());
    CHECK(as_chars(read_all(d, "checkpoint").value()) == "v2-longer");
    CHECK_FALSE(d.exists("checkpoint.tmp"));
    REQUIRE(d.mkdirs("x").ok());
    REQUIRE(d.mkdirs("y").ok());
    REQUIRE(d.open("x/f", {.create = true}).ok());
    const std::uint64_t before = disk->stats().dir_fsyncs;
    REQUIRE(d.rename("x/f", "y/f").ok());
    CHECK(disk->stats().dir_fsyncs == before + 2);  // y, then x
    CHECK(d.exists("y/f"));
    CHECK_FALSE(d.exists("x/f"));
    CHECK(d.rename("y/f", "x").error() == DiskErrc::is_directory);
    // Disk::fsync_dir: the root and y were fsynced by the calls that changed
    // them and are unchanged since: nothing to do. A directory this disk
    // never fsynced (made by someone else) gets a real fsync, once.
    const std::uint64_t dirs = disk->stats().dir_fsyncs;
    const std::uint64_t skipped = disk->stats().dir_fsyncs_skipped;
    REQUIRE(d.fsync_dir("").ok());
    REQUIRE(d.fsync_dir("y").ok());
    CHECK(disk->stats().dir_fsyncs == dirs);
    CHECK(disk->stats().dir_fsyncs_skipped == skipped + 2);
    REQUIRE(d.fsync_dir("made-outside").ok());
    CHECK(disk->stats().dir_fsyncs == dirs + 1);
    REQUIRE(d.fsync_dir("made-outside").ok());
    CHECK(disk->stats().dir_fsyncs == dirs + 1);
    // A change makes it due again.
    REQUIRE(d.open("made-outside/f", {.create = true}).ok());
    const std::uint64_t after_create = disk->stats().dir_fsyncs;
    REQUIRE(d.remove("made-outside/f").ok());
    CHECK(disk->stats().dir_fsyncs == after_create + 1);
    CHECK(d.fsync_dir("missing").error() == DiskErrc::not_found);
    CHECK(d.fsync_dir("../up").error() == DiskErrc::bad_path);
  });
  REQUIRE(id.ok());
  std::filesystem::create_directory(dir.path + "/made-outside");
  disk = world.node(*id).disk.get();
  world.start(*id);
  CHECK(world.run().reason == LiveStop::idle);
  CHECK(disk->stats().file_fsyncs == 2);  // one per write_atomic
  std::ifstream in(dir.path + "/checkpoint");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(content == "v2-longer");
}

// A server node that accepts into `conns` and echoes every frame.
NodeId add_echo_server(LiveWorld& world, const std::string& dir, ConnectionLimits limits,
                       std::uint16_t& port, std::vector<std::shared_ptr<Connection>>& conns,
                       std::shared_ptr<FrameObserver> observer = nullptr) {
  LiveNodeConfig nc{"server", dir};
  nc.connection_limits = std::move(limits);
  nc.frame_observer = std::move(observer);
  return world.add_node(nc, [&](Runtime& rt) {
    auto listener = rt.net().listen(0);
    REQUIRE(listener.ok());
    port = (*listener)->port();
    for (;;) {
      auto c = (*listener)->accept();
      if (!c) return;
      conns.emplace_back(std::move(*c));
      std::shared_ptr<Connection> conn = conns.back();
      rt.spawn("echo", [conn] {
        for (;;) {
          auto f = conn->recv();
          if (!f || !conn->send(*f)) break;
        }
        conn->close();  // as the broker's server does: the slot is given back
      });
    }
  }).value();
}

// True when a frame sent on `c` comes back.
bool echoes(Connection& c) {
  if (!c.send(frame_of("ping"))) return false;
  auto f = c.recv(LiveWorld::mono_now() + 5s);
  return f.ok() && body_of(*f) == "ping";
}

TEST_CASE("max.connections.per.ip: a connection over its address's limit is closed at once",
          "[live]") {
  TempDir dir;
  LiveWorld world(quiet());
  std::uint16_t port = 0;
  std::vector<std::shared_ptr<Connection>> conns;
  ConnectionLimits limits;
  limits.max_connections_per_ip = 5;
  limits.per_ip_overrides["127.0.0.1"] = 2;  // the override wins for loopback
  const NodeId server = add_echo_server(world, dir.path, limits, port, conns);
  world.start(server);
  auto r = run_body(world, [&] {
    Runtime& rt = world.control();
    while (port == 0) rt.sleep(1ms);
    auto connect = [&] {
      return rt.net().connect(Address{"127.0.0.1", port}, rt.deadline_after(5s)).value();
    };
    auto a = connect(), b = connect();
    CHECK(echoes(*a));
    CHECK(echoes(*b));
    auto c = connect();  // TCP connects; the broker closes it
    CHECK_FALSE(echoes(*c));
    CHECK(world.net_stats().connections_rejected == 1);
    CHECK(world.net_stats().connections_open == 2);
    CHECK(echoes(*a));  // the others go on
    // A slot given back takes the next one.
    a->close();
    while (world.net_stats().connections_open > 1) rt.sleep(1ms);  // the server saw it
    auto d = connect();
    CHECK(echoes(*d));
    CHECK(world.net_stats().connections_rejected == 1);
  });
  CHECK(r.reason == LiveStop::requested);
  CHECK(conns.size() == 3);  // a, b, d
}

TEST_CASE("max.connections: at the limit the listener takes nothing until a connection closes",
          "[live]") {
  TempDir dir;
  LiveWorld world(quiet());
  std::uint16_t port = 0;
  std::vector<std::shared_ptr<Connection>> conns;
  ConnectionLimits limits;
  limits.max_connections = 1;
  const NodeId server = add_echo_server(world, dir.path, limits, port, conns);
  world.start(server);
  auto r = run_body(world, [&] {
    Runtime& rt = world.control();
    while (port == 0) rt.sleep(1ms);
    auto a = rt.net().connect(Address{"127.0.0.1", port}, rt.deadline_after(5s)).value();
    CHECK(echoes(*a));
    auto b = rt.net().connect(Address{"127.0.0.1", port}, rt.deadline_after(5s)).value();
    REQUIRE(b->send(frame_of("waiting")).ok());
    // b waits in the backlog: no answer while a is open.
    CHECK(b->recv(rt.deadline_after(300ms)).error() == NetErrc::timed_out);
    CHECK(conns.size() == 1);
    a->close();
    auto f = b->recv(rt.deadline_after(5s));
    REQUIRE(f.ok());
    CHECK(body_of(*f) == "waiting");
    CHECK(conns.size() == 2);
    CHECK(world.net_stats().connections_rejected == 0);
  });
  CHECK(r.reason == LiveStop::requested);
}

TEST_CASE("a cut link between two nodes resets their connections and refuses new ones until healed",
          "[live]") {
  TempDir dir;
  LiveWorld world(quiet());
  std::uint16_t port = 0;
  std::vector<std::shared_ptr<Connection>> conns;
  const NodeId server = add_echo_server(world, dir.path + "/s", {}, port, conns);
  std::vector<std::string> steps;
  bool client_done = false;
  auto client = world.add_node(LiveNodeConfig{"client", dir.path + "/c"}, [&](Runtime& rt) {
    while (port == 0) rt.sleep(1ms);
    const Address to{"127.0.0.1", port};
    auto c = rt.net().connect(to, rt.deadline_after(5s)).value();
    steps.push_back(echoes(*c) ? "echo" : "no echo");
    world.links().cut(server, rt.node_id(), true);
    steps.push_back(c->recv(rt.deadline_after(5s)).error() == NetErrc::reset ? "reset" : "not reset");
    auto refused = rt.net().connect(to, rt.deadline_after(5s));
    steps.push_back(!refused && refused.error() == NetErrc::refused ? "refused" : "connected");
    // Two overlapping faults on one link: the first heal leaves it cut.
    world.links().cut(rt.node_id(), server, true);
    world.links().cut(server, rt.node_id(), false);
    steps.push_back(world.links().is_cut(server, rt.node_id()) ? "still cut" : "healed early");
    world.links().cut(server, rt.node_id(), false);
    auto again = rt.net().connect(to, rt.deadline_after(5s));
    steps.push_back(again && echoes(**again) ? "healed" : "still cut");
    client_done = true;
  });
  world.start(server);
  world.start(client.value());
  auto r = run_body(world, [&] {
    Runtime& rt = world.control();
    while (!client_done) rt.sleep(1ms);
    // A control actor belongs to no node: cuts never touch it.
    world.links().cut(server, *client, true);
    auto c = rt.net().connect(Address{"127.0.0.1", port}, rt.deadline_after(5s));
    CHECK((c && echoes(**c)));
    CHECK(world.links().reset(server, -1) >= 1);  // the server's end of it
    CHECK(c.value()->recv(rt.deadline_after(5s)).error() == NetErrc::reset);
  });
  CHECK(r.reason == LiveStop::requested);
  CHECK(steps == std::vector<std::string>{"echo", "reset", "refused", "still cut", "healed"});
}

TEST_CASE("a paused node's connections read and write nothing until it resumes", "[live]") {
  TempDir dir;
  LiveWorld world(quiet());
  std::uint16_t port = 0;
  std::vector<std::shared_ptr<Connection>> conns;
  const NodeId server = add_echo_server(world, dir.path, {}, port, conns);
  world.start(server);
  auto r = run_body(world, [&] {
    Runtime& rt = world.control();
    while (port == 0) rt.sleep(1ms);
    auto c = rt.net().connect(Address{"127.0.0.1", port}, rt.deadline_after(5s)).value();
    CHECK(echoes(*c));
    world.links().pause(server, true);
    world.links().pause(server, true);  // two overlapping pauses
    REQUIRE(c->send(frame_of("held")).ok());
    CHECK(c->recv(rt.deadline_after(300ms)).error() == NetErrc::timed_out);
    world.links().pause(server, false);
    CHECK(world.links().is_paused(server));
    CHECK(c->recv(rt.deadline_after(200ms)).error() == NetErrc::timed_out);
    world.links().pause(server, false);
    auto f = c->recv(rt.deadline_after(5s));
    REQUIRE(f.ok());
    CHECK(body_of(*f) == "held");  // nothing lost: it waited
    CHECK(echoes(*c));
  });
  CHECK(r.reason == LiveStop::requested);
}

TEST_CASE("lost responses: requests are acted on, the answer is lost, then nothing more on that connection",
          "[live]") {
  TempDir dir;
  LiveWorld world(quiet());
  std::uint16_t port = 0;
  std::vector<std::shared_ptr<Connection>> conns;
  const NodeId server = add_echo_server(world, dir.path, {}, port, conns);
  world.start(server);
  auto r = run_body(world, [&] {
    Runtime& rt = world.control();
    while (port == 0) rt.sleep(1ms);
    auto c = rt.net().connect(Address{"127.0.0.1", port}, rt.deadline_after(5s)).value();
    world.links().lose_responses(server, 0.0, 1);
    CHECK(echoes(*c));  // a fraction of 0 loses nothing
    world.links().lose_responses(server, 1.0, 1);
    REQUIRE(c->send(frame_of("lost")).ok());
    CHECK(c->recv(rt.deadline_after(300ms)).error() == NetErrc::timed_out);
    CHECK(world.links().responses_lost(server) == 1);
    world.links().lose_responses(server, 0.0, 1);
    REQUIRE(c->send(frame_of("after")).ok());  // acted on; the connection answers nothing more
    CHECK(c->recv(rt.deadline_after(300ms)).error() == NetErrc::timed_out);
    CHECK(world.links().responses_lost(server) == 1);
    world.links().stop_losing_responses(server);  // the heal resets the connection that lost one
    CHECK(c->recv(rt.deadline_after(5s)).error() == NetErrc::reset);
    auto d = rt.net().connect(Address{"127.0.0.1", port}, rt.deadline_after(5s)).value();
    CHECK(echoes(*d));
  });
  CHECK(r.reason == LiveStop::requested);
}

// Counts what a FrameObserver sees.
struct CountingObserver final : FrameObserver {
  std::map<std::uint64_t, int> requests, responses, closes;
  std::string last_request;
  void on_request(std::uint64_t conn, ByteView frame) override {
    ++requests[conn];
    last_request.assign(frame.begin() + 4, frame.end());
  }
  void on_response(std::uint64_t conn, ByteView) override { ++responses[conn]; }
  void on_close(std::uint64_t conn) override { ++closes[conn]; }
};

TEST_CASE("a frame observer sees each request taken, each response queued and the close of accepted connections",
          "[live]") {
  TempDir dir;
  LiveWorld world(quiet());
  std::uint16_t port = 0;
  std::vector<std::shared_ptr<Connection>> conns;
  auto observer = std::make_shared<CountingObserver>();
  const NodeId server = add_echo_server(world, dir.path, {}, port, conns, observer);
  world.start(server);
  auto r = run_body(world, [&] {
    Runtime& rt = world.control();
    while (port == 0) rt.sleep(1ms);
    auto c = rt.net().connect(Address{"127.0.0.1", port}, rt.deadline_after(5s)).value();
    for (int i = 0; i < 3; ++i) CHECK(echoes(*c));
    CHECK(observer->last_request == "ping");
    REQUIRE(observer->requests.size() == 1);  // only the accepted side, one connection
    CHECK(observer->requests.begin()->second == 3);
    CHECK(observer->responses.begin()->second == 3);
    c->close();
    for (int i = 0; i < 2000 && (conns.empty() || conns.front().use_count() > 1); ++i)
      rt.sleep(5ms);  // until the echo fiber let go
    conns.clear();
    CHECK(observer->closes.size() == 1);
  });
  CHECK(r.reason == LiveStop::requested);
}

// An operation that holds the disk's I/O thread until `release` is set
// (10 s at most, so a broken hand-off fails instead of hanging).
Result<void, DiskErrc> hold_io_thread(LiveDisk& disk, std::atomic<bool>& running,
                                      std::atomic<bool>& release) {
  return disk.blocking([&]() -> Result<void, DiskErrc> {
    running = true;
    for (int i = 0; i < 10000 && !release.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!release.load()) return Err{DiskErrc::io_error};
    return {};
  });
}

TEST_CASE("a blocking disk operation parks only its fiber: the others run meanwhile", "[live]") {
  TempDir dir;
  LiveWorld world(quiet());
  std::atomic<bool> running{false}, release{false};
  bool ok = false;
  auto id = world.add_node(LiveNodeConfig{"n", dir.path}, [&](Runtime& rt) {
    LiveDisk& disk = *world.node(rt.node_id()).disk;
    // On the world's own thread this would never end: the fiber that sets
    // `release` could not run while the operation blocked the thread.
    rt.spawn("releaser", [&] {
      while (!running.load()) rt.sleep(1ms);
      release = true;
    });
    ok = hold_io_thread(disk, running, release).ok();
  });
  world.start(id.value());
  CHECK(world.run().reason == LiveStop::idle);
  CHECK(ok);
  CHECK(world.node(*id).disk->io_stats()->ops.load() == 1);
}

TEST_CASE("fsyncs of one file queued together are one fdatasync (group commit)", "[live]") {
  TempDir dir;
  LiveWorld world(quiet());
  std::atomic<bool> running{false}, release{false};
  int synced = 0, queued = 0;
  auto id = world.add_node(LiveNodeConfig{"n", dir.path}, [&](Runtime& rt) {
    LiveDisk& disk = *world.node(rt.node_id()).disk;
    auto file = rt.disk().open("log", {.create = true});
    REQUIRE(file.ok());
    std::shared_ptr<File> f(std::move(*file));
    REQUIRE(f->append(as_bytes("record")).ok());
    const std::uint64_t fsyncs_before = disk.stats().file_fsyncs;
    rt.spawn("holder", [&] { REQUIRE(hold_io_thread(disk, running, release).ok()); });
    while (!running.load()) rt.sleep(1ms);
    // Five fsyncs queue behind the held thread (each fiber parks in it
    // before the next runs), then the thread is let go.
    for (int i = 0; i < 5; ++i)
      rt.spawn("sync", [&, f] {
        ++queued;
        if (f->fsync().ok()) ++synced;
      });
    while (queued < 5) rt.yield();
    release = true;
    while (synced < 5) rt.sleep(1ms);
    CHECK(disk.stats().file_fsyncs - fsyncs_before == 1);
    CHECK(disk.io_stats()->fsyncs_joined.load() == 4);
  });
  world.start(id.value());
  CHECK(world.run().reason == LiveStop::idle);
  CHECK(synced == 5);
}

TEST_CASE("a kill during a disk operation waits for it, then the fiber unwinds with Crashed",
          "[live]") {
  TempDir dir;
  LiveWorld world(quiet());
  std::atomic<bool> running{false}, release{false};
  bool after_op = false, unwound = false;
  auto id = world.add_node(LiveNodeConfig{"n", dir.path}, [&](Runtime& rt) {
    LiveDisk& disk = *world.node(rt.node_id()).disk;
    struct Unwound {
      bool& flag;
      ~Unwound() { flag = std::uncaught_exceptions() > 0; }
    } mark{unwound};
    (void)hold_io_thread(disk, running, release);
    after_op = true;  // never: the node was killed while it was parked
  });
  world.start(id.value());
  auto r = run_body(world, [&] {
    Runtime& rt = world.control();
    while (!running.load()) rt.sleep(1ms);
    world.spawn("releaser", [&] {
      // Runs while the kill below waits in its join.
      world.control().yield();
      release = true;
    });
    world.kill(*id);
    CHECK(release.load());
    CHECK_FALSE(world.is_up(*id));
  });
  CHECK(r.reason == LiveStop::requested);
  CHECK_FALSE(after_op);
  CHECK(unwound);
  CHECK(world.fiber_count() == 0);
}

TEST_CASE("shutdown runs the drain hook, then wakes and joins every fiber of every node",
          "[live]") {
  TempDir dir;
  LiveWorld world(quiet());
  std::atomic<int> alive{0};
  struct Alive {
    std::atomic<int>& n;
    explicit Alive(std::atomic<int>& c) : n(c) { ++n; }
    ~Alive() { --n; }
  };
  std::vector<std::string> events;
  std::uint16_t port = 0;
  auto server = world.add_node(LiveNodeConfig{"server", dir.path + "/s"}, [&](Runtime& rt) {
    auto listener = rt.net().listen(0);
    REQUIRE(listener.ok());
    port = (*listener)->port();
    std::shared_ptr<Listener> shared(std::move(*listener));
    auto conns = std::make_shared<std::vector<std::shared_ptr<Connection>>>();
    rt.spawn("accept", [&, shared, conns] {
      Alive a(alive);
      for (;;) {
        auto c = shared->accept();
        if (!c) return;
        conns->emplace_back(std::move(*c));
        std::shared_ptr<Connection> conn = conns->back();
        rt.spawn("recv", [&, conn] {
          Alive b(alive);
          for (;;)
            if (!conn->recv()) return;
        });
      }
    });
    rt.spawn("sleeper", [&] {
      Alive a(alive);
      for (;;) rt.sleep(1h);
    });
    rt.spawn("channel", [&] {
      Alive a(alive);
      Channel<int> ch(rt.parker(), 1);
      (void)ch.recv();
      events.push_back("channel returned");  // never: the wait unwinds
    });
    world.set_drain(rt.node_id(), [&] {
      events.push_back("drain");
      rt.sleep(5ms);  // a drain may park
      events.push_back("drained");
    });
  });
  auto client = world.add_node(LiveNodeConfig{"client", dir.path + "/c"}, [&](Runtime& rt) {
    while (port == 0) rt.sleep(1ms);
    auto c = rt.net().connect(Address{"127.0.0.1", port}, rt.deadline_after(5s));
    REQUIRE(c.ok());
    Alive a(alive);
    events.push_back("connected");
    (void)(*c)->recv();  // parked here at shutdown
  });
  REQUIRE(server.ok());
  REQUIRE(client.ok());
  world.start(*server);
  world.start(*client);
  auto r = run_body(world, [&] {
    Runtime& rt = world.control();
    while (alive.load() < 5) rt.sleep(1ms);
  });
  CHECK(r.reason == LiveStop::requested);
  CHECK(alive.load() == 0);
  CHECK(world.fiber_count() == 0);
  CHECK(events == std::vector<std::string>{"connected", "drain", "drained"});
  CHECK_FALSE(world.is_up(*server));
  CHECK_FALSE(world.is_up(*client));
}

TEST_CASE("a killed node starts again as a new incarnation on the files it kept", "[live]") {
  TempDir dir;
  LiveWorld world(quiet());
  std::vector<std::uint64_t> incarnations;
  std::vector<std::string> seen;
  int written = 0;
  auto id = world.add_node(LiveNodeConfig{"n", dir.path}, [&](Runtime& rt) {
    incarnations.push_back(rt.incarnation());
    auto prev = read_all(rt.disk(), "marker");
    seen.push_back(prev ? std::string(as_chars(*prev)) : "none");
    // (The write parks on the disk's I/O thread: a kill meanwhile would
    // throw Crashed out of it, so the driver waits for `written`.)
    REQUIRE(write_atomic(rt.disk(), "marker", as_bytes(std::to_string(rt.incarnation()))).ok());
    ++written;
    rt.spawn("idle", [&rt] {
      for (;;) rt.sleep(1h);
    });
  });
  REQUIRE(id.ok());
  world.start(*id);
  auto r = run_body(world, [&] {
    Runtime& rt = world.control();
    while (written < 1) rt.sleep(1ms);
    world.kill(*id);
    CHECK_FALSE(world.is_up(*id));
    world.start(*id);
    while (written < 2) rt.sleep(1ms);
  });
  CHECK(r.reason == LiveStop::requested);
  CHECK(incarnations == std::vector<std::uint64_t>{0, 1});
  CHECK(seen == std::vector<std::string>{"none", "0"});
}

TEST_CASE("an assertion failing in a fiber stops the live world as an internal error", "[live]") {
  LiveWorld world(quiet());
  world.spawn("bad", [] { SAMSA_ASSERT(1 + 1 == 3, "arithmetic"); });
  world.spawn("waits", [&] {
    Event never(world.control().parker());
    never.wait();
  });
  const auto r = world.run();
  CHECK(r.reason == LiveStop::internal_error);
  CHECK(r.message.find("arithmetic") != std::string::npos);
  CHECK(world.fiber_count() == 0);
}

TEST_CASE("random streams come from the seed; buggify is off", "[live]") {
  LiveConfig c = quiet();
  c.seed = 7;
  LiveWorld a(c);
  CHECK(a.seed() == 7);
  CHECK(a.control().random("s").next() == a.control().random("s").next());
  CHECK(a.control().random("s").next() != a.control().random("t").next());
  CHECK_FALSE(a.control().buggify("log.roll_early"));
}

TEST_CASE("a task scope's stop cancels its fibers parked on real sockets and timers, and joins them",
          "[live]") {
  TempDir dir;
  LiveWorld world(quiet());
  std::vector<std::string> events;
  std::atomic<int> alive{0};
  auto id = world.add_node(LiveNodeConfig{"n", dir.path}, [&](Runtime& rt) {
    auto listener = rt.net().listen(0);
    REQUIRE(listener.ok());
    auto client = rt.net().connect(Address{"127.0.0.1", (*listener)->port()}, rt.deadline_after(5s));
    REQUIRE(client.ok());
    std::shared_ptr<Connection> conn(std::move(*client));
    auto scope = rt.make_scope("fetchers");
    scope->spawn("recv", [&, conn] {
      struct Guard {
        std::atomic<int>& a;
        ~Guard() { --a; }
      } g{alive};
      ++alive;
      (void)conn->recv();  // nothing ever arrives
      events.push_back("recv returned");
    });
    scope->spawn("sleep", [&] {
      ++alive;
      struct Guard {
        std::atomic<int>& a;
        ~Guard() { --a; }
      } g{alive};
      // A fiber a scope fiber spawns belongs to the scope too.
      rt.spawn("child", [&] {
        ++alive;
        struct Guard {
          std::atomic<int>& a;
          ~Guard() { --a; }
        } g2{alive};
        rt.sleep(1h);
      });
      rt.sleep(1h);
    });
    while (alive.load() < 3) rt.sleep(1ms);
    CHECK(scope->size() == 3);
    scope->stop();
    CHECK(scope->size() == 0);
    CHECK(alive.load() == 0);
    events.push_back("stopped");
    // The node lives on: its own runtime still works.
    rt.sleep(1ms);
    CHECK(conn->send(frame_of("still open")).ok());
    events.push_back("node goes on");
  });
  REQUIRE(id.ok());
  world.start(*id);
  auto r = world.run();
  CHECK(r.reason == LiveStop::idle);
  CHECK(events == std::vector<std::string>{"stopped", "node goes on"});
}

TEST_CASE("shutting a node down ends the fibers of its task scopes too", "[live]") {
  TempDir dir;
  LiveWorld world(quiet());
  std::atomic<int> alive{0};
  std::unique_ptr<TaskScope> kept;
  auto id = world.add_node(LiveNodeConfig{"n", dir.path}, [&](Runtime& rt) {
    kept = rt.make_scope("helpers");
    for (int i = 0; i < 3; ++i)
      kept->spawn("sleep", [&] {
        ++alive;
        struct Guard {
          std::atomic<int>& a;
          ~Guard() { --a; }
        } g{alive};
        rt.sleep(1h);
      });
  });
  REQUIRE(id.ok());
  world.start(*id);
  auto r = run_body(world, [&] {
    while (alive.load() < 3) world.control().sleep(1ms);
  });
  CHECK(r.reason == LiveStop::requested);
  CHECK(alive.load() == 0);
  REQUIRE(kept);
  CHECK(kept->size() == 0);
}

namespace {

// A file of `n` patterned bytes in the node's disk.
std::unique_ptr<File> patterned_file(Disk& d, const std::string& path, std::size_t n) {
  auto f = d.open(path, {.create = true});
  REQUIRE(f.ok());
  Bytes data(n);
  for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<std::uint8_t>(i * 31 + (i >> 11));
  REQUIRE((*f)->append(data).ok());
  return std::move(*f);
}

// A frame: 10 head bytes, the view, 5 tail bytes (the shape of a
// FetchResponse: header fields, records, the fields after them).
FrameParts parts_around(std::shared_ptr<const Mapping> map, ByteView view) {
  FrameParts fp;
  fp.bytes.assign(4 + 10, 'H');
  fp.splices.push_back({fp.bytes.size(), std::move(map), view});
  fp.bytes.insert(fp.bytes.end(), 5, 'T');
  const auto n = static_cast<std::uint32_t>(fp.size() - 4);
  fp.bytes[0] = static_cast<std::uint8_t>(n >> 24);
  fp.bytes[1] = static_cast<std::uint8_t>(n >> 16);
  fp.bytes[2] = static_cast<std::uint8_t>(n >> 8);
  fp.bytes[3] = static_cast<std::uint8_t>(n);
  return fp;
}

}  // namespace

TEST_CASE("a frame in parts sends its file bytes with sendfile, whole across partial sends", "[live]") {
  TempDir dir;
  LiveWorld world(quiet());
  // Larger than a loopback socket's buffers, so that the client, reading
  // late, finds sendfile sent it in several calls.
  constexpr std::size_t k_big = 24 << 20;
  std::atomic<std::uint16_t> port{0};
  std::vector<Bytes> expected;
  auto id = world.add_node(LiveNodeConfig{"srv", dir.path + "/srv"}, [&](Runtime& rt) {
    auto file = patterned_file(rt.disk(), "seg.log", k_big);
    // Mapped at an offset that is not page aligned; the file is closed
    // before the bytes go out (the mapping keeps it open).
    auto big = file->map(1000, (k_big) - 1000).value();
    REQUIRE(big->fd() >= 0);
    REQUIRE(big->bytes().size() == k_big - 1000);
    auto small = file->map(77, 100).value();
    CHECK(file->map(k_big, 10).value()->bytes().empty());  // nothing past the end
    file.reset();
    auto listener = rt.net().listen(0).value();
    port = listener->port();
    auto conn = listener->accept().value();
    const FrameParts a = parts_around(big, big->bytes());
    const FrameParts b = parts_around(small, small->bytes());  // short: copied, not sent from the file
    const FrameParts c = parts_around(big, big->bytes().subspan(5, 20000));
    expected = {a.flatten(), b.flatten(), frame_of("after"), c.flatten()};
    REQUIRE(conn->send_parts(a).ok());
    REQUIRE(conn->send_parts(b).ok());
    REQUIRE(conn->send(frame_of("after")).ok());
    REQUIRE(conn->send_parts(c).ok());
    (void)conn->recv(rt.deadline_after(20s));  // until the client is done
  });
  REQUIRE(id.ok());
  world.start(*id);
  std::vector<Bytes> got;
  auto r = run_body(world, [&] {
    Runtime& rt = world.control();
    while (port == 0) rt.sleep(1ms);
    auto c = rt.net().connect(Address{"127.0.0.1", port}, rt.deadline_after(5s)).value();
    rt.sleep(100ms);  // the server's socket fills: sendfile sends part, then waits
    for (int i = 0; i < 4; ++i) {
      auto f = c->recv(rt.deadline_after(20s));
      REQUIRE(f.ok());
      got.push_back(std::move(*f));
    }
    c->close();
    world.shutdown(*id);
  });
  CHECK(r.reason == LiveStop::requested);
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == expected[i]);
  // The long splices went out by sendfile, the big one in several calls
  // (the socket buffer filled: partial sends); the short one was copied.
  CHECK(world.net_stats().sendfile_bytes == k_big - 1000 + 20000);
  CHECK(world.net_stats().sendfile_calls >= 3);
}

TEST_CASE("a file truncated while its bytes wait to be sent closes the connection, never a wrong frame",
          "[live]") {
  TempDir dir;
  LiveWorld world(quiet());
  std::atomic<std::uint16_t> port{0};
  std::atomic<bool> truncated{false};
  std::atomic<bool> client_done{false};
  constexpr std::size_t k_first = 8 << 20;  // fills the socket buffers of a client that does not read
  constexpr std::size_t k_file = 1 << 20;
  auto id = world.add_node(LiveNodeConfig{"srv", dir.path + "/srv"}, [&](Runtime& rt) {
    auto file = patterned_file(rt.disk(), "seg.log", k_file);
    auto map = file->map(0, k_file).value();
    auto listener = rt.net().listen(0).value();
    port = listener->port();
    auto conn = listener->accept().value();
    Bytes first(4 + k_first, 'x');
    put_frame_size(first, 0);
    REQUIRE(conn->send(first).ok());
    REQUIRE(conn->send_parts(parts_around(map, map->bytes())).ok());
    // A follower's truncation (KIP-101) while the fetch answer waits.
    REQUIRE(file->truncate(k_file / 2).ok());
    truncated = true;
    (void)conn->recv(rt.deadline_after(20s));
  });
  REQUIRE(id.ok());
  world.start(*id);
  Bytes received;
  std::thread client([&] {
    while (port == 0) std::this_thread::sleep_for(1ms);
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return;
    }
    timeval tv{20, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (!truncated) std::this_thread::sleep_for(1ms);
    std::uint8_t buf[65536];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      received.insert(received.end(), buf, buf + n);
    }
    ::close(fd);
    client_done = true;
  });
  auto r = run_body(world, [&] {
    Runtime& rt = world.control();
    // The connection ends on its own (the client reads to its end); then the node.
    const auto give_up = rt.deadline_after(30s);
    while (!client_done && rt.now() < give_up) rt.sleep(5ms);
    world.shutdown(*id);
  });
  client.join();
  CHECK(r.reason == LiveStop::requested);
  // The first frame whole, then part of the second: its size prefix names
  // more bytes than came, so no client takes it for a frame.
  REQUIRE(received.size() > 4 + k_first + 4);
  CHECK(frame_size(received).value() == k_first);
  const ByteView second = ByteView(received).subspan(4 + k_first);
  CHECK(frame_size(second).value() == 10 + k_file + 5);
  CHECK(second.size() < 4 + 10 + k_file + 5);
  CHECK(world.net_stats().sendfile_bytes <= k_file / 2);
}
