#pragma once
/// \file
/// TLS over TCP (Trio's high-level SSL helpers): open_ssl_over_tcp_stream, open_ssl_over_tcp_listeners,
/// serve_ssl_over_tcp and their options.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "trio/clock.hpp"
#include "trio/detail/log_throttle.hpp"
#include "trio/net.hpp"
#include "trio/nursery.hpp"
#include "trio/sleep.hpp"
#include "trio/socket_stream.hpp"
#include "trio/ssl/context.hpp"
#include "trio/ssl/ssl_stream.hpp"
#include "trio/ssl/ssl_stream_options.hpp"
#include "trio/stream.hpp"
#include "trio/task.hpp"
#include "trio/timeouts.hpp"

namespace trio {

/// open_ssl_over_tcp_stream's options.
struct ssl_connect_options {
  bool https_compatible = false;  ///< See ssl_stream_options::https_compatible.
  tcp_connect_options tcp{};      ///< The TCP connection's options (happy eyeballs delay, local address).
};

/// open_tcp_stream(host, port) wrapped in a client ssl_stream that checks the certificate against host
/// (default context: ssl_context::client()). The handshake runs at the first use (or do_handshake()).
/// Overloads, not default arguments (g++ 12 and defaulted non-trivial arguments inside co_await).
inline task<ssl_stream<socket_stream>> open_ssl_over_tcp_stream(std::string host, std::uint16_t port, ssl_context ctx,
                                                                ssl_connect_options options) {
  socket_stream tcp = co_await open_tcp_stream(host, port, options.tcp);
  ssl_stream_options o;
  o.https_compatible = options.https_compatible;
  co_return ssl_stream<socket_stream>(std::move(tcp), ctx, std::move(host), o);
}
/// open_ssl_over_tcp_stream with default ssl_connect_options.
inline task<ssl_stream<socket_stream>> open_ssl_over_tcp_stream(std::string host, std::uint16_t port, ssl_context ctx) {
  return open_ssl_over_tcp_stream(std::move(host), port, std::move(ctx), ssl_connect_options{});
}
/// open_ssl_over_tcp_stream with ssl_context::client() (the system's trusted CAs) and default options.
inline task<ssl_stream<socket_stream>> open_ssl_over_tcp_stream(std::string host, std::uint16_t port) {
  return open_ssl_over_tcp_stream(std::move(host), port, ssl_context::client(), ssl_connect_options{});
}

/// open_tcp_listeners(port, host), each wrapped in an ssl_listener.
inline task<std::vector<ssl_listener<socket_listener>>> open_ssl_over_tcp_listeners(std::uint16_t port, ssl_context ctx,
                                                                                    std::string host,
                                                                                    bool https_compatible) {
  std::vector<socket_listener> tcp = co_await open_tcp_listeners(port, host);
  std::vector<ssl_listener<socket_listener>> out;
  for (auto& l : tcp) out.emplace_back(std::move(l), ctx, https_compatible);
  co_return out;
}
/// open_ssl_over_tcp_listeners on every address, without https_compatible.
inline task<std::vector<ssl_listener<socket_listener>>> open_ssl_over_tcp_listeners(std::uint16_t port,
                                                                                    ssl_context ctx) {
  return open_ssl_over_tcp_listeners(port, std::move(ctx), std::string(), false);
}

/// What serve_ssl_over_tcp runs for each connection; the stream is closed (close_notify) after it.
/// As for stream_handler, an exception that leaves it ends the server: catch what the connection can
/// throw (broken_resource_error: garbage instead of TLS, an end without close_notify, a reset).
using ssl_stream_handler = std::function<task<void>(ssl_stream<socket_stream>&)>;

/// serve_ssl_over_tcp's options.
struct ssl_serve_options {
  bool https_compatible = false;  ///< See ssl_stream_options::https_compatible.
  std::string host;               ///< the address to listen on (default: every address)
  serve_options serve;            ///< handler_nursery, listen options
  /// A connection whose TLS handshake has not finished this long after it was accepted is closed
  /// without calling the handler (a client that connects and sends nothing holds an fd and a task
  /// until then). duration::max(): no limit.
  duration handshake_timeout = std::chrono::seconds(10);
};

namespace detail {

/// "127.0.0.1:4433", or "a client" when the peer is already gone (getpeername fails after a reset).
inline std::string peer_or_unknown(const socket_stream& s) {
  try {
    return s.socket().peer_address().to_string();
  } catch (const std::system_error&) {
    return "a client";
  }
}

/// "10 s", "0.25 s".
inline std::string seconds_text(duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", std::chrono::duration<double>(d).count());
  return buf;
}

inline task<void> serve_ssl_over_tcp_impl(ssl_stream_handler handler, std::uint16_t port, ssl_context ctx,
                                          ssl_serve_options options, task_status<std::vector<socket_address>> status) {
  static constexpr const char* name = "trio.serve_ssl_over_tcp";
  if (!handler) throw std::invalid_argument("trio::serve_ssl_over_tcp: the handler is empty");
  if (options.handshake_timeout <= duration::zero())
    throw std::invalid_argument(
        "trio::serve_ssl_over_tcp: handshake_timeout must be positive (duration::max() for no limit)");
  struct shared_state {
    ssl_stream_handler handler;
    ssl_context ctx;
    bool https_compatible;
    duration handshake_timeout;
    log_throttle timeouts_log{std::chrono::seconds(10)};
  };
  auto shared = std::make_shared<shared_state>(
      shared_state{std::move(handler), std::move(ctx), options.https_compatible, options.handshake_timeout});
  stream_handler wrap = [shared](socket_stream s) -> task<void> {
    ssl_stream_options o;
    o.server_side = true;
    o.https_compatible = shared->https_compatible;
    ssl_stream<socket_stream> tls(std::move(s), shared->ctx, o);
    // The handshake first, under its own deadline. A handshake that fails is the handler's to see:
    // its first use of the stream throws broken_resource_error with the reason (as without this).
    bool handshake_over = true;
    if (shared->handshake_timeout != duration::max()) {
      auto handshake = [&tls]() -> task<void> {
        try {
          co_await tls.do_handshake();
        } catch (const std::exception&) {
        }
      };
      handshake_over = co_await move_on_after(shared->handshake_timeout, handshake);
    }
    if (!handshake_over) {
      shared->timeouts_log.log(
          current_time(), std::string(name) + ": closed the connection from " +
                              peer_or_unknown(tls.transport_stream()) + ": its TLS handshake did not finish within " +
                              seconds_text(shared->handshake_timeout) + " (ssl_serve_options::handshake_timeout)");
      co_await aclose_forcefully(tls);
      co_return;
    }
    std::exception_ptr error;
    try {
      co_await shared->handler(tls);
    } catch (...) {
      error = std::current_exception();
    }
    if (error) {
      co_await aclose_forcefully(tls);
      std::rethrow_exception(error);
    }
    co_await tls.aclose();
  };
  try {
    co_await serve_tcp_impl(std::move(wrap), port, std::move(options.host), options.serve, std::move(status));
  } catch (...) {
    shared->timeouts_log.flush(name, "when the server stopped");
    throw;
  }
}

struct serve_ssl_over_tcp_fn {
  using start_status = task_status<std::vector<socket_address>>;
  task<void> operator()(ssl_stream_handler handler, std::uint16_t port, const ssl_context& ctx,
                        start_status status = {}) const {
    return serve_ssl_over_tcp_impl(std::move(handler), port, ctx, ssl_serve_options{}, std::move(status));
  }
  task<void> operator()(ssl_stream_handler handler, std::uint16_t port, const ssl_context& ctx,
                        ssl_serve_options options, start_status status = {}) const {
    return serve_ssl_over_tcp_impl(std::move(handler), port, ctx, std::move(options), std::move(status));
  }
};

}  // namespace detail

/// serve_tcp with TLS: each connection becomes the server side of an ssl_stream given to handler (by
/// reference), closed with close_notify when the handler returns. The handshake runs first, under
/// options.handshake_timeout (default 10 s): a connection whose handshake has not finished by then is
/// closed without calling the handler (logged to stderr at most once every 10 s with a count); a
/// handshake that fails reaches the handler as broken_resource_error at its first use of the stream.
/// The trap: a handler's exception ends the server (see ssl_stream_handler). With nursery::start it
/// returns the listeners' addresses:
///     auto addresses = co_await n.start(trio::serve_ssl_over_tcp, handler, 0, server_ctx);
inline constexpr detail::serve_ssl_over_tcp_fn serve_ssl_over_tcp{};

}  // namespace trio
