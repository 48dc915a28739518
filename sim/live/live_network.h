#pragma once
// The network seam on real TCP (Asio): listeners, connects with deadlines,
// and connections that carry Kafka's int32-size-prefixed frames over a byte
// stream. Reading cuts frames out of whatever the socket delivers (a frame
// split over many reads, many frames in one read); a size prefix that is
// negative or over the node's max_frame_bytes (socket.request.max.bytes) is
// a bad_frame error on that connection, never a crash. Sends queue whole
// frames and are written in batches by one outstanding async write; send
// parks only while the connection's buffer is full. TCP_NODELAY is on.
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "sim/live/connection_limits.h"
#include "sim/runtime/network.h"
#include "sim/runtime/sync.h"

namespace spdlog {
class logger;
}

namespace samsa::sim {

struct LiveNetStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_made = 0;
  std::uint64_t bad_frames = 0;
  std::uint64_t connections_rejected = 0;  // over max.connections.per.ip
  std::int64_t connections_open = 0;       // accepted and not yet closed
  std::uint64_t sendfile_calls = 0;        // sendfile(2) calls that sent bytes (FrameParts splices)
  std::uint64_t sendfile_bytes = 0;        // bytes they sent
};


// Sees the frames of a node's accepted connections (the server side), on
// the world's thread: each request as the server takes it (recv), each
// response as it is queued (send), and the close. For request metrics
// (`samsa live --metrics-port`, tools/live_metrics.h); must not park.
class FrameObserver {
 public:
  virtual ~FrameObserver() = default;
  virtual void on_request(std::uint64_t conn, ByteView frame) = 0;
  virtual void on_response(std::uint64_t conn, ByteView frame) = 0;
  virtual void on_close(std::uint64_t conn) = 0;
};

struct LiveNetOptions {
  std::string listen_host = "127.0.0.1";
  std::size_t max_frame_bytes = k_max_frame_bytes;
  std::size_t send_buffer_bytes = 16 * 1024 * 1024;
  spdlog::logger* log = nullptr;  // one line per bad frame (the node's logger)
  ConnectionLimits limits;        // for accepted connections
  std::shared_ptr<FrameObserver> observer;  // for accepted connections; may be null
};

// The connections between the nodes of one live world, for injected faults
// (`samsa live --nemesis`): which node listens on which port, which node
// made each outgoing connection, and which pairs of nodes are cut off from
// each other. A cut refuses new connects between the pair (either way) and
// resets the connections between them: the TCP flavour of a partition.
// Connections from outside the process (clients) belong to no node (-1).
class LiveLinks {
 public:
  LiveLinks();
  ~LiveLinks();
  LiveLinks(const LiveLinks&) = delete;
  LiveLinks& operator=(const LiveLinks&) = delete;

  // Cuts (or heals) the links between nodes a and b; a cut resets them now.
  // Cuts count: a link cut twice is healed by the second heal.
  void cut(std::int32_t a, std::int32_t b, bool on);
  bool is_cut(std::int32_t a, std::int32_t b) const;
  // Resets every connection between a and b now (b = -1: a's connections
  // with clients outside the process; b = a: all of a's connections).
  // Returns how many were reset.
  std::size_t reset(std::int32_t a, std::int32_t b);
  // Pauses (or resumes) a node's network: its connections read and write
  // nothing (bytes wait in the kernel and in its send queues) until resumed
  // — what peers see of a GC pause or SIGSTOP, though the node's own timers
  // still run. Pauses count, as cuts do.
  void pause(std::int32_t node, bool on);
  bool is_paused(std::int32_t node) const;
  // Loses responses (or heals): each frame the node sends on a connection a
  // client outside the process made is lost with probability `fraction`
  // (drawn from `seed`'s stream); the request was acted on. Once one is
  // lost, that connection sends nothing more (a later response would reach
  // the client out of order): the client times out and reconnects. The
  // heal resets the connections that lost a response.
  void lose_responses(std::int32_t node, double fraction, std::uint64_t seed);
  void stop_losing_responses(std::int32_t node);
  std::uint64_t responses_lost(std::int32_t node) const;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

class LiveNetwork final : public Network {
 public:
  // `next_id` numbers connections for logs (owned by the world: unique
  // across the nodes and incarnations of a process).
  // `self` is the node this network belongs to (-1: a control actor).
  LiveNetwork(asio::io_context& io, Parker& parker, LiveNetOptions options, std::uint64_t& next_id,
              LiveNetStats& stats, LiveLinks& links, std::int32_t self)
      : io_(io), parker_(parker), options_(std::move(options)), next_id_(next_id), stats_(stats),
        links_(links), self_(self) {}

  // Port 0 binds an ephemeral port (Listener::port() tells which).
  Result<std::unique_ptr<Listener>, NetErrc> listen(std::uint16_t port) override;
  // `to.host` is an IP address or a host name (resolved by Asio).
  Result<std::unique_ptr<Connection>, NetErrc> connect(
      const Address& to, std::optional<MonoTime> deadline) override;
  const LiveNetStats& stats() const { return stats_; }

 private:
  asio::io_context& io_;
  Parker& parker_;
  LiveNetOptions options_;
  std::uint64_t& next_id_;
  LiveNetStats& stats_;
  LiveLinks& links_;
  std::int32_t self_;
};

}  // namespace samsa::sim
