#pragma once
// The network as actors see it: connection-oriented, like TCP. A connection
// carries whole frames in order. A frame is Kafka's: a big-endian int32 size
// followed by that many bytes; the frame passed to send() and returned by
// recv() includes the 4-byte size prefix, so the bytes are the wire bytes.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <vector>

#include "sim/runtime/bytes.h"
#include "sim/runtime/disk.h"
#include "sim/runtime/result.h"
#include "sim/runtime/time.h"

namespace samsa::sim {

enum class NetErrc : std::uint8_t {
  refused,        // nobody listens there, or the host is down
  timed_out,      // deadline passed (connect or recv)
  reset,          // the connection broke; frames in flight are lost
  closed,         // this side closed the connection / listener
  address_in_use, // listen on a port already bound
  bad_frame,      // a frame whose size prefix is wrong or over the limit
};

std::string_view to_string(NetErrc e);

struct Address {
  std::string host;
  std::uint16_t port = 0;
  friend auto operator<=>(const Address&, const Address&) = default;
};

// The largest frame a connection accepts (Kafka's socket.request.max.bytes).
inline constexpr std::size_t k_max_frame_bytes = 100 * 1024 * 1024;

// Writes the 4-byte big-endian size prefix of a frame whose body follows.
void put_frame_size(Bytes& frame, std::size_t at);
// Reads the size prefix; nullopt when fewer than 4 bytes.
std::optional<std::uint32_t> frame_size(ByteView frame);

// A frame whose middle parts are views of mapped files (a FetchResponse:
// header bytes, then FileRecords, as Kafka's Send). `bytes` is the frame
// without them, its size prefix counting them; each splice goes in before
// byte `at` of `bytes` (increasing). The live network sends splices with
// sendfile(2); flatten() is the whole frame in one buffer.
struct FrameParts {
  struct Splice {
    std::size_t at = 0;
    std::shared_ptr<const Mapping> map;  // keeps view (and the file) alive
    ByteView view;
  };
  Bytes bytes;
  std::vector<Splice> splices;

  FrameParts() = default;
  FrameParts(Bytes whole) : bytes(std::move(whole)) {}  // NOLINT: a frame without splices
  std::size_t size() const;
  Bytes flatten() const;
};

class Connection {
 public:
  virtual ~Connection() = default;
  // Queues one whole frame (size prefix included). Fails if the connection
  // is closed or reset. Never blocks for the peer to read it.
  virtual Result<void, NetErrc> send(ByteView frame) = 0;
  // The same for a frame in parts; the default sends flatten() (the
  // simulated network carries the same bytes).
  virtual Result<void, NetErrc> send_parts(const FrameParts& frame);
  // Parks until a whole frame arrives, the connection breaks or the
  // deadline (node's monotonic clock) passes.
  virtual Result<Bytes, NetErrc> recv(std::optional<MonoTime> deadline = {}) = 0;
  // Closes this side; the peer's recv sees `reset` after frames sent before.
  virtual void close() noexcept = 0;
  virtual const Address& peer() const = 0;
  // A stable id for logs (deterministic, never an address).
  virtual std::uint64_t id() const = 0;
};

class Listener {
 public:
  virtual ~Listener() = default;
  virtual Result<std::unique_ptr<Connection>, NetErrc> accept(
      std::optional<MonoTime> deadline = {}) = 0;
  virtual void close() noexcept = 0;
  virtual std::uint16_t port() const = 0;
};

class Network {
 public:
  virtual ~Network() = default;
  virtual Result<std::unique_ptr<Listener>, NetErrc> listen(std::uint16_t port) = 0;
  virtual Result<std::unique_ptr<Connection>, NetErrc> connect(
      const Address& to, std::optional<MonoTime> deadline = {}) = 0;
};

}  // namespace samsa::sim
