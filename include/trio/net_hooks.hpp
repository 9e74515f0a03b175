#pragma once
/// \file
/// The networking layer's per-run hooks: trio::hostname_resolver (name resolution) and
/// trio::socket_factory (socket creation and connection), replaced for the current run with
/// set_custom_hostname_resolver and set_custom_socket_factory (a fake network for tests), and the run
/// service that holds them (defaults: getaddrinfo in a worker thread, real sockets); and
/// detail::resolve, the lookup through them that open_tcp_stream, open_tcp_listeners and open_udp_socket
/// share.

#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "trio/checkpoint.hpp"
#include "trio/detail/runner.hpp"
#include "trio/socket.hpp"
#include "trio/socket_address.hpp"
#include "trio/task.hpp"
#include "trio/to_thread.hpp"

namespace trio {

/// Name resolution for open_tcp_stream and open_tcp_listeners. The default runs getaddrinfo in a
/// worker thread (to_thread::run_sync); numeric hosts are parsed without it.
class hostname_resolver {
 public:
  virtual ~hostname_resolver() = default;
  /// The addresses for host:port of `family` (AF_UNSPEC: any) usable with sockets of `type`; `passive`
  /// for binding (AI_PASSIVE). Failure: std::system_error naming the host.
  virtual task<std::vector<socket_address>> resolve(std::string host, std::uint16_t port, int family, int type,
                                                    bool passive) = 0;
};

/// Socket creation and connection for open_tcp_stream (Trio's SocketFactory, plus connect so that a
/// fake network can decide how long each connection takes and how it ends).
class socket_factory {
 public:
  virtual ~socket_factory() = default;
  /// Makes the socket for one connection attempt; the default is socket::create(family, type, protocol).
  virtual trio::socket open_socket(int family, int type, int protocol) {
    return socket::create(family, type, protocol);
  }
  /// Connects `s` to `address`; the default is `s.connect(address)`. Must honour cancellation (the
  /// losing attempts of happy eyeballs are cancelled).
  virtual task<void> connect(trio::socket& s, socket_address address) { co_await s.connect(address); }
};

namespace detail {

inline task<std::vector<socket_address>> system_resolve(std::string host, std::uint16_t port, int family, int type,
                                                        bool passive) {
  auto lookup = [host, port, family, type, passive]() -> std::vector<socket_address> {
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = type;
    hints.ai_flags = AI_ADDRCONFIG | (passive ? AI_PASSIVE : 0);
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
    if (rc != 0) {
      const std::string msg = "trio: looking up " + host + ":" + service + " failed: " + ::gai_strerror(rc);
      if (rc == EAI_SYSTEM) throw std::system_error(errno, std::system_category(), msg);
      throw std::system_error(std::make_error_code(std::errc::host_unreachable), msg);
    }
    std::vector<socket_address> out;
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
      auto a = socket_address::from_native(ai->ai_addr, ai->ai_addrlen);
      bool seen = false;
      for (const auto& o : out) seen = seen || o == a;
      if (!seen) out.push_back(a);
    }
    ::freeaddrinfo(res);
    return out;
  };
  co_return co_await to_thread::run_sync(lookup);
}

class default_resolver final : public hostname_resolver {
 public:
  task<std::vector<socket_address>> resolve(std::string host, std::uint16_t port, int family, int type,
                                            bool passive) override {
    return system_resolve(std::move(host), port, family, type, passive);
  }
};

/// The run's networking hooks (a run service: they end with the run).
struct net_hooks : run_service {
  explicit net_hooks(runner&) {}
  hostname_resolver* resolver = nullptr;
  socket_factory* factory = nullptr;
  default_resolver default_resolver_;
  socket_factory default_factory_;
  hostname_resolver& current_resolver() noexcept { return resolver ? *resolver : default_resolver_; }
  socket_factory& current_factory() noexcept { return factory ? *factory : default_factory_; }
};
inline net_hooks& hooks(const char* what) { return current_runner(what).service<net_hooks>(); }

}  // namespace detail

/// Replaces the hostname resolver for the current run (nullptr: the default). Returns the previous one.
/// The resolver must outlive its use; typical in tests: set it at the top of the test's task.
inline hostname_resolver* set_custom_hostname_resolver(hostname_resolver* r) {
  auto& h = detail::hooks("trio::set_custom_hostname_resolver");
  return std::exchange(h.resolver, r);
}
/// Replaces the socket factory for the current run (nullptr: the default). Returns the previous one.
inline socket_factory* set_custom_socket_factory(socket_factory* f) {
  auto& h = detail::hooks("trio::set_custom_socket_factory");
  return std::exchange(h.factory, f);
}

namespace detail {

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

}  // namespace detail
}  // namespace trio
