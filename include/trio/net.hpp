#pragma once
/// \file
/// High-level networking (spec NET-*): open_tcp_stream (happy eyeballs, RFC 8305), open_tcp_listeners,
/// serve_listeners / serve_tcp, open_unix_stream / open_unix_listener, open_udp_socket, and the
/// per-run hooks that replace name resolution and socket creation (a fake network for tests).

#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "trio/cancel_scope.hpp"
#include "trio/detail/log_throttle.hpp"
#include "trio/errors.hpp"
#include "trio/event.hpp"
#include "trio/nursery.hpp"
#include "trio/sleep.hpp"
#include "trio/socket.hpp"
#include "trio/socket_stream.hpp"
#include "trio/task.hpp"
#include "trio/timeouts.hpp"
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
  virtual trio::socket open_socket(int family, int type, int protocol) {
    return socket::create(family, type, protocol);
  }
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

/// RFC 6555 §5.4: the first address of the other family goes second, so that a broken family costs
/// one attempt, not all of them.
inline void reorder_for_rfc_6555_section_5_4(std::vector<socket_address>& targets) {
  for (std::size_t i = 1; i < targets.size(); ++i) {
    if (targets[i].family() != targets[0].family()) {
      socket_address other = targets[i];
      targets.erase(targets.begin() + static_cast<std::ptrdiff_t>(i));
      targets.insert(targets.begin() + 1, other);
      break;
    }
  }
}

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

struct tcp_connect_options {
  /// How long an attempt runs before the next address is tried alongside (RFC 8305 "Connection
  /// Attempt Delay"); a failed attempt starts the next one at once.
  duration happy_eyeballs_delay = std::chrono::milliseconds(250);
  /// Bind the connecting socket to this local address first (numeric), if set.
  std::optional<std::string> local_address;
};

namespace detail {

inline task<socket_stream> open_tcp_stream_impl(std::string host, std::uint16_t port, tcp_connect_options options) {
  static constexpr const char* what = "trio::open_tcp_stream";
  if (host.empty()) throw std::invalid_argument("trio::open_tcp_stream: the host is empty (give a name or address)");
  if (options.happy_eyeballs_delay < duration::zero())
    throw std::invalid_argument("trio::open_tcp_stream: happy_eyeballs_delay must not be negative");
  std::vector<socket_address> targets = co_await resolve(host, port, AF_UNSPEC, SOCK_STREAM, false, what);
  const std::string where = host + ":" + std::to_string(port);
  if (targets.empty())
    throw std::system_error(EHOSTUNREACH, std::system_category(), "no results found for hostname lookup: " + where);
  reorder_for_rfc_6555_section_5_4(targets);

  socket_factory& factory = hooks(what).current_factory();
  std::optional<trio::socket> winner;
  std::vector<std::exception_ptr> errors;
  // One per failed attempt, in the order they failed: the attempt, the step that failed, the errno.
  struct failure {
    std::size_t index;  // in targets
    socket_address address;
    const char* step;  // "socket()", "bind()", or nullptr for the connect itself
    int err;
  };
  std::vector<failure> failures;

  auto attempt = [&](std::size_t index, socket_address address, event& failed, nursery& n) -> task<void> {
    const char* step = "socket()";
    try {
      trio::socket s = factory.open_socket(address.family(), SOCK_STREAM, 0);
      step = "bind()";
      if (options.local_address) s.bind(socket_address::parse(*options.local_address, 0));
      step = nullptr;
      co_await factory.connect(s, address);
      if (!winner) {
        winner.emplace(std::move(s));
        n.cancel_scope().cancel("open_tcp_stream: another attempt connected first");
      }
    } catch (const std::system_error& e) {
      failures.push_back({index, address, step, e.code().value()});
      errors.push_back(std::current_exception());
      failed.set();
    }
  };
  std::vector<std::unique_ptr<event>> failed;  // here, not in body: the attempts outlive the body
  auto body = [&](nursery& n) -> task<void> {
    for (std::size_t i = 0; i < targets.size(); ++i) {
      failed.push_back(std::make_unique<event>());
      event& this_failed = *failed.back();
      n.start_soon(attempt, i, targets[i], std::ref(this_failed), std::ref(n));
      auto wait = [&]() -> task<void> { co_await this_failed.wait(); };
      co_await move_on_after(options.happy_eyeballs_delay, wait);
    }
  };
  co_await open_nursery(body);
  if (winner) co_return socket_stream(std::move(*winner));

  // "cannot connect to HOST port PORT (tried A, B: its own error): LAST ERROR": std::system_error adds
  // the last error, so the list names only the errors that differ from it (and the failed step).
  const int last_errno = failures.empty() ? ECONNREFUSED : failures.back().err;
  std::string msg = std::string(what) + ": cannot connect to " + host + " port " + std::to_string(port);
  const bool numeric_host = targets.size() == 1 && targets[0].host() == host;
  if (!numeric_host || failures.size() != 1 || failures[0].step != nullptr) {
    std::sort(failures.begin(), failures.end(), [](const failure& a, const failure& b) { return a.index < b.index; });
    msg += " (tried ";
    for (std::size_t i = 0; i < failures.size(); ++i) {
      const failure& f = failures[i];
      if (i > 0) msg += ", ";
      msg += f.address.to_string();
      if (f.step != nullptr) {
        msg += std::string(": ") + f.step + " failed: " + std::system_category().message(f.err);
      } else if (f.err != last_errno) {
        msg += ": " + std::system_category().message(f.err);
      }
    }
    msg += ")";
  }
  try {
    throw exception_group(errors);
  } catch (...) {
    std::throw_with_nested(std::system_error(last_errno, std::system_category(), msg));
  }
}

}  // namespace detail

/// Connects to host:port over TCP. Names are resolved off the loop thread; with several addresses the
/// attempts overlap (happy eyeballs, RFC 8305): a new one starts every happy_eyeballs_delay or as soon
/// as one fails, and the first to connect wins (the others are cancelled and closed). When all fail:
/// std::system_error "trio::open_tcp_stream: cannot connect to HOST port PORT (tried ADDRESS, ...):
/// ERROR", its code the last attempt's errno, the attempts' own exceptions nested as a
/// trio::exception_group (std::rethrow_if_nested).
inline task<socket_stream> open_tcp_stream(std::string_view host, std::uint16_t port,
                                           tcp_connect_options options = {}) {
  return detail::open_tcp_stream_impl(std::string(host), port, std::move(options));
}

struct tcp_listen_options {
  /// listen()'s backlog; the kernel caps it at net.core.somaxconn.
  int backlog = 0xFFFF;
  /// SO_REUSEPORT: several sockets (one runner per thread) share the port; the kernel spreads the
  /// connections.
  bool reuse_port = false;
};

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

/// What serve_listeners and serve_tcp run for each connection.
///
/// The trap (as in Trio): an exception that leaves a handler ends the server: every other connection
/// is cancelled and the exception comes out of serve_*. A client that resets makes receive_some or
/// send_all throw broken_resource_error, so a handler catches what its connection can throw:
///
///     trio::task<> handler(trio::socket_stream stream) {
///       try {
///         ...  // talk to the client
///       } catch (const std::exception& e) {  // a reset, a broken pipe, a line too long...
///         log(e.what());                     // this connection only; trio::cancelled passes
///       }
///     }
using stream_handler = std::function<task<void>(socket_stream)>;

struct serve_options {
  /// Where the connection tasks run (default: a nursery of serve_listeners' own).
  nursery* handler_nursery = nullptr;
  /// open_tcp_listeners' options (serve_tcp).
  tcp_listen_options listen{};
};

namespace detail {

/// accept() errors that mean "out of resources for now": logged, then retried after 100 ms.
inline bool accept_error_is_resource_shortage(int err) noexcept {
  return err == EMFILE || err == ENFILE || err == ENOMEM || err == ENOBUFS;
}
inline constexpr duration accept_retry_delay = std::chrono::milliseconds(100);
/// An accept loop out of fds retries 10 times a second; its log line is written at most this often
/// (with the count of the repeats held back).
inline constexpr duration accept_error_log_interval = std::chrono::seconds(10);

inline task<void> run_handler(std::shared_ptr<stream_handler> handler, socket_stream stream) {
  co_await (*handler)(std::move(stream));  // the handler's parameter closes the socket when it ends
}

inline task<void> accept_loop(socket_listener& listener, std::shared_ptr<stream_handler> handler, nursery& handlers) {
  static constexpr const char* name = "trio.serve_listeners";
  log_throttle log(accept_error_log_interval);
  try {
    for (;;) {
      std::optional<socket_stream> stream;
      try {
        stream.emplace(co_await listener.accept());
      } catch (const std::system_error& e) {
        if (!accept_error_is_resource_shortage(e.code().value())) throw;
        log.log(current_time(), std::string(name) + ": error: " + e.what() +
                                    "; retrying every 100 ms (repeats are reported at most once every 10 s)");
      }
      if (!stream) {
        co_await sleep(accept_retry_delay);
        continue;
      }
      handlers.start_soon(run_handler, handler, std::move(*stream));
    }
  } catch (...) {
    log.flush(name, "when the accept loop stopped");
    throw;
  }
}

inline task<void> serve_listeners_impl(stream_handler handler_fn, std::vector<socket_listener> listeners,
                                       serve_options options, task_status<std::vector<socket_address>> status) {
  if (!handler_fn) throw std::invalid_argument("trio::serve_listeners: the handler is empty");
  if (listeners.empty()) throw std::invalid_argument("trio::serve_listeners: no listeners given");
  // Shared: with a handler_nursery of the caller's, connection tasks may outlive this task.
  auto handler = std::make_shared<stream_handler>(std::move(handler_fn));
  auto serve = [&](nursery& handlers) -> task<void> {
    auto accept_all = [&](nursery& acceptors) -> task<void> {
      std::vector<socket_address> addresses;
      for (auto& l : listeners) {
        addresses.push_back(l.socket().local_address());
        acceptors.start_soon(accept_loop, std::ref(l), handler, std::ref(handlers));
      }
      status.started(std::move(addresses));
      co_return;
    };
    co_await open_nursery(accept_all);
  };
  if (options.handler_nursery) {
    co_await serve(*options.handler_nursery);
  } else {
    co_await open_nursery(serve);
  }
}

struct serve_listeners_fn {
  using start_status = task_status<std::vector<socket_address>>;
  task<void> operator()(stream_handler handler, std::vector<socket_listener> listeners,
                        start_status status = {}) const {
    return serve_listeners_impl(std::move(handler), std::move(listeners), serve_options{}, std::move(status));
  }
  task<void> operator()(stream_handler handler, std::vector<socket_listener> listeners, serve_options options,
                        start_status status = {}) const {
    return serve_listeners_impl(std::move(handler), std::move(listeners), options, std::move(status));
  }
};

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

/// Accepts connections on every listener and runs handler(stream) for each in its own task (in
/// options.handler_nursery, else a nursery of its own). Accept errors EMFILE/ENFILE/ENOMEM/ENOBUFS are
/// retried every 100 ms and logged to stderr at most once every 10 s (the line after a pause, and
/// the line when the server stops, count the repeats held back); other errors propagate. Runs until
/// cancelled. A handler's exception ends it (see stream_handler for the handler shape to copy).
/// With nursery::start, returns the listeners' addresses once they accept:
///     auto addresses = co_await n.start(trio::serve_listeners, handler, std::move(listeners));
inline constexpr detail::serve_listeners_fn serve_listeners{};

/// open_tcp_listeners(port) + serve_listeners. A handler's exception ends the server (see
/// stream_handler):
///     auto addresses = co_await n.start(trio::serve_tcp, handler, 0);   // port 0: a free port
///     addresses[0].port()
inline constexpr detail::serve_tcp_fn serve_tcp{};

namespace detail {
inline task<socket_stream> open_unix_stream_impl(std::string path) {
  if (path.empty()) throw std::invalid_argument("trio::open_unix_stream: the path is empty");
  socket_address a = socket_address::unix_path(path);
  trio::socket s = socket::create(AF_UNIX, SOCK_STREAM, 0);
  try {
    co_await s.connect(a);
  } catch (const std::system_error& e) {
    throw std::system_error(e.code(), "trio::open_unix_stream: connecting to " + path + " failed");
  }
  co_return socket_stream(std::move(s));
}
}  // namespace detail

/// Connects to the Unix socket at path. A missing path: std::system_error (ENOENT) naming it.
inline task<socket_stream> open_unix_stream(std::string_view path) {
  return detail::open_unix_stream_impl(std::string(path));
}

/// A listener on a Unix socket path. An existing socket file at path is replaced (a stale one from a
/// previous run); any other file there is an error.
inline socket_listener open_unix_listener(std::string_view path, int backlog = 0xFFFF) {
  socket_address a = socket_address::unix_path(path);
  std::string p(path);
  struct stat st {};
  if (p[0] != '\0' && ::lstat(p.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      throw std::system_error(EEXIST, std::system_category(),
                              "trio::open_unix_listener: " + p + " exists and is not a socket");
    ::unlink(p.c_str());
  }
  trio::socket s = socket::create(AF_UNIX, SOCK_STREAM, 0);
  s.bind(a);
  s.listen(backlog);
  return socket_listener(std::move(s));
}

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
