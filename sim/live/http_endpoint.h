#pragma once
// A small HTTP/1.0-style endpoint on a live world's io_context, for
// Prometheus scrapes (`samsa live --metrics-port P`): `GET /metrics` is
// answered with the text a callback makes at that moment (run on the
// world's thread, between fibers, so it may read the nodes' state), any
// other path 404; one request per connection, then close. Requests larger
// than 8 KiB or slower than 10 s are dropped. Plain Asio handlers: no fiber
// and no node own it; destroy it before the world.
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "sim/runtime/result.h"

namespace samsa::sim {

class HttpEndpoint {
 public:
  using Render = std::function<std::string()>;
  // Binds host:port (0: a free port). An error names why.
  static Result<std::unique_ptr<HttpEndpoint>, std::string> open(asio::io_context& io,
                                                                 const std::string& host,
                                                                 std::uint16_t port, Render render);
  ~HttpEndpoint();
  std::uint16_t port() const { return port_; }
  std::uint64_t scrapes() const;

  struct State;

 private:
  explicit HttpEndpoint(std::shared_ptr<State> s, std::uint16_t port) : s_(std::move(s)), port_(port) {}
  std::shared_ptr<State> s_;
  std::uint16_t port_;
};

}  // namespace samsa::sim
