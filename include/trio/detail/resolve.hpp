#pragma once
/// \file
/// detail::resolve: the name lookup that open_tcp_stream, open_tcp_listeners and open_udp_socket
/// share (numeric hosts parsed without a lookup, names through the run's hostname_resolver).

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "trio/checkpoint.hpp"
#include "trio/net_hooks.hpp"
#include "trio/socket_address.hpp"
#include "trio/task.hpp"

namespace trio::detail {

/// Numeric hosts without a lookup; names through the run's resolver.
inline task<std::vector<socket_address>> resolve(std::string host, std::uint16_t port, int family, int type,
                                                 bool passive, const char* what) {
  net_hooks& h = hooks(what);
  if (!h.resolver) {  // the default resolver: skip the worker thread for numeric hosts
    std::optional<socket_address> numeric;
    try {
      if (!host.empty()) numeric = socket_address::parse(host, port);
    } catch (const std::invalid_argument&) {
    }
    if (numeric) {
      co_await checkpoint();
      co_return std::vector<socket_address>{*numeric};
    }
  }
  co_return co_await h.current_resolver().resolve(std::move(host), port, family, type, passive);
}

}  // namespace trio::detail
