#include "sim/live/http_endpoint.h"

#include <asio/ip/address.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include <chrono>

namespace samsa::sim {

namespace {
using asio::ip::tcp;
constexpr std::size_t k_max_request_bytes = 8 * 1024;
constexpr auto k_request_timeout = std::chrono::seconds(10);
}  // namespace

struct HttpEndpoint::State : std::enable_shared_from_this<HttpEndpoint::State> {
  State(asio::io_context& io, tcp::acceptor a, Render r)
      : io(io), acceptor(std::move(a)), render(std::move(r)) {}
  asio::io_context& io;
  tcp::acceptor acceptor;
  Render render;
  bool closed = false;
  std::uint64_t scrapes = 0;

  void accept() {
    acceptor.async_accept([self = shared_from_this()](const std::error_code& ec, tcp::socket s) {
      if (self->closed) return;
      if (!ec) serve(self, std::move(s));
      self->accept();
    });
  }

  // One request: read up to the blank line, answer, close.
  static void serve(std::shared_ptr<State> self, tcp::socket socket) {
    struct Conn {
      tcp::socket socket;
      asio::steady_timer timer;
      std::string in;
      std::string out;
      char buf[1024];
    };
    auto c = std::make_shared<Conn>(Conn{std::move(socket), asio::steady_timer(self->io), {}, {}, {}});
    c->timer.expires_after(k_request_timeout);
    c->timer.async_wait([c](const std::error_code& ec) {
      if (!ec) {
        std::error_code ignored;
        c->socket.close(ignored);
      }
    });
    auto read = std::make_shared<std::function<void()>>();
    *read = [self, c, read] {
      c->socket.async_read_some(asio::buffer(c->buf), [self, c, read](const std::error_code& ec, std::size_t n) {
        if (ec || self->closed) {
          c->timer.cancel();
          *read = nullptr;  // breaks the cycle
          return;
        }
        c->in.append(c->buf, n);
        if (c->in.find("\r\n\r\n") == std::string::npos && c->in.find("\n\n") == std::string::npos) {
          if (c->in.size() > k_max_request_bytes) {
            std::error_code ignored;
            c->socket.close(ignored);
            c->timer.cancel();
            *read = nullptr;
            return;
          }
          (*read)();
          return;
        }
        *read = nullptr;
        self->answer(c->in, c->out);
        asio::async_write(c->socket, asio::buffer(c->out), [c](const std::error_code&, std::size_t) {
          std::error_code ignored;
          c->socket.shutdown(tcp::socket::shutdown_both, ignored);
          c->socket.close(ignored);
          c->timer.cancel();
        });
      });
    };
    (*read)();
  }

  void answer(const std::string& request, std::string& out) {
    const bool metrics = request.starts_with("GET /metrics ") || request.starts_with("GET /metrics?") ||
                         request.starts_with("GET / ");
    std::string body;
    std::string status = "200 OK";
    if (metrics) {
      ++scrapes;
      body = render();
    } else {
      status = "404 Not Found";
      body = "only GET /metrics is served\n";
    }
    out = "HTTP/1.1 " + status +
          "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  }
};

Result<std::unique_ptr<HttpEndpoint>, std::string> HttpEndpoint::open(asio::io_context& io,
                                                                      const std::string& host,
                                                                      std::uint16_t port, Render render) {
  std::error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  if (ec) return Err{"bad address " + host};
  tcp::acceptor acceptor(io);
  const tcp::endpoint ep(addr, port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(tcp::socket::max_listen_connections, ec);
  if (ec) return Err{"cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message()};
  const std::uint16_t bound = acceptor.local_endpoint(ec).port();
  auto state = std::make_shared<State>(io, std::move(acceptor), std::move(render));
  state->accept();
  return std::unique_ptr<HttpEndpoint>(new HttpEndpoint(std::move(state), bound));
}

HttpEndpoint::~HttpEndpoint() {
  s_->closed = true;
  std::error_code ignored;
  s_->acceptor.close(ignored);
  s_->render = nullptr;  // what it reads may go before the handlers still queued
}

std::uint64_t HttpEndpoint::scrapes() const { return s_->scrapes; }

}  // namespace samsa::sim
