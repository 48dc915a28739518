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
};


struct LiveNetOptions {
  std::string listen_host = "127.0.0.1";
  std::size_t max_frame_bytes = k_max_frame_bytes;
  std::size_t send_buffer_bytes = 16 * 1024 * 1024;
  spdlog::logger* log = nullptr;  // one line per bad frame (the node's logger)
  ConnectionLimits limits;        // for accepted connections
};

class LiveNetwork final : public Network {
 public:
  // `next_id` numbers connections for logs (owned by the world: unique
  // across the nodes and incarnations of a process).
  LiveNetwork(asio::io_context& io, Parker& parker, LiveNetOptions options, std::uint64_t& next_id,
              LiveNetStats& stats)
      : io_(io), parker_(parker), options_(std::move(options)), next_id_(next_id), stats_(stats) {}

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
};

}  // namespace samsa::sim
