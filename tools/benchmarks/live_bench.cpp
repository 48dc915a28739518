// The live runtime over real loopback TCP: request/response round trips per
// second with 100-byte frames (client and echo server fibers in one thread,
// TCP_NODELAY), one at a time and pipelined. ../shared/NOTES.md measured
// 60-80 k round trips/s for a bare Asio + Boost.Fiber setup on this machine.
#include <benchmark/benchmark.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "sim/live/live_world.h"

namespace {

using namespace samsa;
using namespace samsa::sim;

Bytes frame_of_size(std::size_t body_bytes) {
  Bytes f(4 + body_bytes, 0x5a);
  put_frame_size(f, 0);
  return f;
}

// `depth` requests in flight per connection; counts completed round trips.
void round_trips(benchmark::State& state, std::size_t depth) {
  LiveConfig config;
  config.log_level = "off";
  LiveWorld world(config);
  world.spawn("bench", [&] {
    Runtime& rt = world.control();
    auto listener = rt.net().listen(0);
    if (!listener) return state.SkipWithError("listen failed");
    std::shared_ptr<Listener> shared(std::move(*listener));
    world.spawn("echo", [shared] {
      auto conn = shared->accept();
      if (!conn) return;
      for (;;) {
        auto f = (*conn)->recv();
        if (!f || !(*conn)->send(*f)) return;
      }
    });
    auto c = rt.net().connect(Address{"127.0.0.1", shared->port()}, rt.deadline_after(5s));
    if (!c) return state.SkipWithError("connect failed");
    const Bytes frame = frame_of_size(100);
    std::int64_t trips = 0;
    for (auto _ : state) {
      for (std::size_t i = 0; i < depth; ++i) (void)(*c)->send(frame);
      for (std::size_t i = 0; i < depth; ++i)
        if (!(*c)->recv()) return state.SkipWithError("recv failed");
      trips += static_cast<std::int64_t>(depth);
    }
    state.counters["round_trips/s"] =
        benchmark::Counter(static_cast<double>(trips), benchmark::Counter::kIsRate);
    (*c)->close();
    world.request_stop();
  });
  world.run();
}

void BM_live_round_trips(benchmark::State& state) { round_trips(state, 1); }
BENCHMARK(BM_live_round_trips)->UseRealTime()->MinTime(2.0);

void BM_live_round_trips_pipelined(benchmark::State& state) {
  round_trips(state, static_cast<std::size_t>(state.range(0)));
}
BENCHMARK(BM_live_round_trips_pipelined)->Arg(16)->UseRealTime()->MinTime(2.0);

// The floor, measured in the same run: two threads with blocking sockets,
// no fibers and no Asio (each round trip wakes a sleeping thread twice).
bool read_exact(int fd, std::uint8_t* p, std::size_t n) {
  while (n > 0) {
    const ssize_t got = ::recv(fd, p, n, 0);
    if (got <= 0) return false;
    p += got;
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

void BM_blocking_threads_round_trips(benchmark::State& state) {
  const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(lfd, 1);
  socklen_t len = sizeof a;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len);
  std::thread echo([lfd] {
    const int fd = ::accept(lfd, nullptr, nullptr);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::uint8_t buf[104];
    while (read_exact(fd, buf, sizeof buf)) ::send(fd, buf, sizeof buf, MSG_NOSIGNAL);
    ::close(fd);
  });
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const Bytes frame = frame_of_size(100);
  Bytes back(frame.size());
  std::int64_t trips = 0;
  for (auto _ : state) {
    ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL);
    if (!read_exact(fd, back.data(), back.size())) break;
    ++trips;
  }
  state.counters["round_trips/s"] =
      benchmark::Counter(static_cast<double>(trips), benchmark::Counter::kIsRate);
  ::close(fd);
  echo.join();
  ::close(lfd);
}
BENCHMARK(BM_blocking_threads_round_trips)->UseRealTime()->MinTime(2.0);

}  // namespace
