#pragma once
/// \file
/// trio::open_tcp_listeners (spec NET-10): listening TCP sockets on every address of a host, and
/// trio::serve_tcp (spec NET-11): open_tcp_listeners + serve_listeners.

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "trio/checkpoint.hpp"
#include "trio/net_hooks.hpp"
#include "trio/nursery.hpp"
#include "trio/serve_listeners.hpp"
#include "trio/socket.hpp"
#include "trio/socket_address.hpp"
#include "trio/socket_stream.hpp"
#include "trio/task.hpp"
#include "trio/tcp_listen_options.hpp"

namespace trio {

namespace detail {
inline task<std::vector<socket_listener>> open_tcp_listeners_impl(std::uint16_t port, std::string host,
                                                                  tcp_listen_options options) {
  static constexpr const char* what = "trio::open_tcp_listeners";
  if (options.backlog <= 0 || options.backlog > 0xFFFF) options.backlog = 0xFFFF;
  std::vector<socket_address> addresses;
  if (host.empty()) {
    co_await checkpoint();
    addresses = {socket_address::parse("0.0.0.0", port), socket_address::parse("::", port)};
  } else {
    addresses = co_await resolve(host, port, AF_UNSPEC, SOCK_STREAM, true, what);
  }
  std::vector<socket_listener> listeners;
  std::vector<std::string> unsupported;
  socket_factory& factory = hooks(what).current_factory();
  for (const socket_address& a : addresses) {
    trio::socket s;
    try {
      s = factory.open_socket(a.family(), SOCK_STREAM, 0);
    } catch (const std::system_error& e) {
      if (e.code().value() == EAFNOSUPPORT) {
        unsupported.push_back(e.what());
        continue;
      }
      throw;
    }
    s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
    if (options.reuse_port) s.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
    if (a.family() == AF_INET6) s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
    s.bind(a);
    s.listen(options.backlog);
    listeners.emplace_back(std::move(s));
  }
  if (listeners.empty()) {
    std::string msg = "trio::open_tcp_listeners: this system doesn't support any of the kinds of socket that " +
                      (host.empty() ? std::string("the wildcard address") : host) + " could use";
    for (const auto& u : unsupported) msg += "; " + u;
    throw std::system_error(EAFNOSUPPORT, std::system_category(), msg);
  }
  co_return listeners;
}
}  // namespace detail

/// Listening sockets for port on every address of host (empty: the wildcard of each family the system
/// supports, "0.0.0.0" and "::"). IPv6 sockets are IPV6_V6ONLY; SO_REUSEADDR is set. Port 0: each
/// listener gets a free port of its own. If one fails, the ones made so far are closed.
inline task<std::vector<socket_listener>> open_tcp_listeners(std::uint16_t port, std::string_view host = {},
                                                             tcp_listen_options options = {}) {
  return detail::open_tcp_listeners_impl(port, std::string(host), options);
}

namespace detail {

inline task<void> serve_tcp_impl(stream_handler handler, std::uint16_t port, std::string host, serve_options options,
                                 task_status<std::vector<socket_address>> status) {
  std::vector<socket_listener> listeners = co_await open_tcp_listeners(port, host, options.listen);
  co_await serve_listeners_impl(std::move(handler), std::move(listeners), options, std::move(status));
}

struct serve_tcp_fn {
  using start_status = task_status<std::vector<socket_address>>;
  task<void> operator()(stream_handler handler, std::uint16_t port, start_status status = {}) const {
    return serve_tcp_impl(std::move(handler), port, {}, serve_options{}, std::move(status));
  }
  task<void> operator()(stream_handler handler, std::uint16_t port, serve_options options,
                        start_status status = {}) const {
    return serve_tcp_impl(std::move(handler), port, {}, options, std::move(status));
  }
  task<void> operator()(stream_handler handler, std::uint16_t port, std::string_view host, serve_options options,
                        start_status status = {}) const {
    return serve_tcp_impl(std::move(handler), port, std::string(host), options, std::move(status));
  }
};

}  // namespace detail

/// open_tcp_listeners(port) + serve_listeners. A handler's exception ends the server (see
/// stream_handler):
///     auto addresses = co_await n.start(trio::serve_tcp, handler, 0);   // port 0: a free port
///     addresses[0].port()
inline constexpr detail::serve_tcp_fn serve_tcp{};

}  // namespace trio
