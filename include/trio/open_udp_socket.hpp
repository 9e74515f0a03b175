#pragma once
/// \file
/// trio::open_udp_socket: a UDP socket bound to host:port (a server) or connected to it (a client).

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "trio/net_hooks.hpp"
#include "trio/socket.hpp"
#include "trio/socket_address.hpp"
#include "trio/task.hpp"

namespace trio {

namespace detail {
inline task<trio::socket> open_udp_socket_impl(std::string host, std::uint16_t port, bool bind) {
  std::vector<socket_address> addresses =
      co_await resolve(host, port, AF_UNSPEC, SOCK_DGRAM, bind, "trio::open_udp_socket");
  if (addresses.empty())
    throw std::system_error(EHOSTUNREACH, std::system_category(),
                            "trio::open_udp_socket: no results found for hostname lookup: " + host);
  const socket_address& a = addresses.front();
  trio::socket s = socket::create(a.family(), SOCK_DGRAM, 0);
  if (bind)
    s.bind(a);
  else
    co_await s.connect(a);
  co_return s;
}
}  // namespace detail

/// A UDP socket: bound to host:port (bind = true, a server), or connected to it (a client: send/recv
/// without addresses). Use sendto/recvfrom for several peers.
inline task<trio::socket> open_udp_socket(std::string_view host, std::uint16_t port, bool bind = false) {
  return detail::open_udp_socket_impl(std::string(host), port, bind);
}

}  // namespace trio
