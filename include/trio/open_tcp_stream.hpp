#pragma once
/// \file
/// trio::open_tcp_stream (spec NET-01..09): connects to host:port over TCP, several addresses tried
/// with happy eyeballs (RFC 8305), and its options, trio::tcp_connect_options.

#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
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

#include "trio/clock.hpp"
#include "trio/errors.hpp"
#include "trio/event.hpp"
#include "trio/net_hooks.hpp"
#include "trio/nursery.hpp"
#include "trio/socket.hpp"
#include "trio/socket_address.hpp"
#include "trio/socket_stream.hpp"
#include "trio/task.hpp"
#include "trio/timeouts.hpp"

namespace trio {

namespace detail {

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

/// Settings of open_tcp_stream beyond host and port.
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
    std::rethrow_exception(make_exception_group(std::move(errors)));  // std::system_errors: an exception_group
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

}  // namespace trio
