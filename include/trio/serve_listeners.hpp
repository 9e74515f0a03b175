#pragma once
/// \file
/// trio::serve_listeners (spec NET-12): accepts connections on listeners and runs a handler for each
/// in its own task; trio::stream_handler (the handler's shape) and trio::serve_options.

#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "trio/clock.hpp"
#include "trio/detail/log_throttle.hpp"
#include "trio/nursery.hpp"
#include "trio/sleep.hpp"
#include "trio/socket_address.hpp"
#include "trio/socket_stream.hpp"
#include "trio/task.hpp"
#include "trio/tcp_listen_options.hpp"

namespace trio {

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

/// Settings of serve_listeners and serve_tcp.
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

}  // namespace detail

/// Accepts connections on every listener and runs handler(stream) for each in its own task (in
/// options.handler_nursery, else a nursery of its own). Accept errors EMFILE/ENFILE/ENOMEM/ENOBUFS are
/// retried every 100 ms and logged to stderr at most once every 10 s (the line after a pause, and
/// the line when the server stops, count the repeats held back); other errors propagate. Runs until
/// cancelled. A handler's exception ends it (see stream_handler for the handler shape to copy).
/// With nursery::start, returns the listeners' addresses once they accept:
///     auto addresses = co_await n.start(trio::serve_listeners, handler, std::move(listeners));
inline constexpr detail::serve_listeners_fn serve_listeners{};

}  // namespace trio
