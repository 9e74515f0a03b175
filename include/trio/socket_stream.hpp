#pragma once
/// \file
/// trio::socket_stream (a half-closeable stream over a connected SOCK_STREAM socket, STR-10) and
/// trio::socket_listener (accepts socket_streams, STR-11/12).

#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "trio/checkpoint.hpp"
#include "trio/detail/accept_fault.hpp"
#include "trio/detail/uring_op.hpp"
#include "trio/errors.hpp"
#include "trio/socket.hpp"
#include "trio/stream.hpp"
#include "trio/task.hpp"

namespace trio {

namespace detail {
[[noreturn]] [[gnu::cold]] inline void throw_broken(const char* what, int err) {
  throw broken_resource_error(std::string(what) + ": the connection is broken: " + std::strerror(err));
}
/// A per-thread buffer of at least n bytes for a receive that completes synchronously (its bytes are
/// copied out before the task can be suspended again).
inline std::span<char> receive_scratch(std::size_t n) {
  thread_local std::vector<char> buf;
  if (buf.size() < n) buf.resize(n);
  return {buf.data(), n};
}
}  // namespace detail

/// A stream over a connected SOCK_STREAM socket (TCP or Unix). TCP_NODELAY is on for TCP.
/// Errors of the connection (reset, broken pipe, timeouts) are broken_resource_error; operations after
/// this side's aclose() are closed_resource_error.
class socket_stream {
 public:
  /// Takes a connected stream socket; a datagram socket or a closed one is std::invalid_argument.
  explicit socket_stream(trio::socket s) : sock_(std::move(s)) {
    if (!sock_.is_open()) throw std::invalid_argument("trio::socket_stream: the socket is closed");
    if (sock_.type() != SOCK_STREAM)
      throw std::invalid_argument("trio::socket_stream: needs a SOCK_STREAM socket (got type " +
                                  std::to_string(sock_.type()) + "; use trio::socket's sendto/recvfrom for datagrams)");
    if (sock_.family() == AF_INET || sock_.family() == AF_INET6) {
      int one = 1;
      ::setsockopt(sock_.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
  }
  socket_stream(socket_stream&&) noexcept = default;
  socket_stream& operator=(socket_stream&&) noexcept = default;

  /// Up to buffer.size() bytes; 0 only at the end of the stream (an empty buffer: std::invalid_argument).
  task<std::size_t> receive_some(std::span<std::byte> buffer) {
    static constexpr const char* what = "trio::socket_stream::receive_some";
    if (buffer.empty()) throw std::invalid_argument(std::string(what) + ": the buffer is empty");
    detail::stream_user busy(receiving_, what, "receiving");
    for (;;) {
      if (busy.gone) detail::throw_stream_destroyed(what);
      if (!sock_.is_open()) detail::throw_stream_closed(what);
      const int fd = sock_.fd();
      auto prep = [&](io_uring_sqe* sqe) noexcept { io_uring_prep_recv(sqe, fd, buffer.data(), buffer.size(), 0); };
      const int res = co_await detail::uring_call{fd, detail::io_direction::read, what, prep};
      if (TRIO_LIKELY(res >= 0)) co_return static_cast<std::size_t>(res);
      if (res == -EAGAIN) {
        co_await sock_.wait_for(POLLIN, what);
        continue;
      }
      detail::throw_broken(what, -res);
    }
  }
  /// Up to max_bytes bytes as a string; empty only at the end of the stream. A waiting receive holds
  /// no buffer: it waits for readability (an io_uring poll), then reads what is there into a string
  /// of that size (10,000 idle connections cost no 64 KiB each). The span overload is the fast path.
  task<std::string> receive_some(std::size_t max_bytes = 65536) {
    static constexpr const char* what = "trio::socket_stream::receive_some";
    detail::check_max_bytes(max_bytes, what);
    detail::stream_user busy(receiving_, what, "receiving");
    for (;;) {
      if (busy.gone) detail::throw_stream_destroyed(what);
      if (!sock_.is_open()) detail::throw_stream_closed(what);
      co_await sock_.wait_for(POLLIN, what);
      if (busy.gone) detail::throw_stream_destroyed(what);
      if (!sock_.is_open()) detail::throw_stream_closed(what);
      std::span<char> scratch = detail::receive_scratch(max_bytes);
      const ssize_t k = ::recv(sock_.fd(), scratch.data(), scratch.size(), MSG_DONTWAIT);
      if (k >= 0) co_return std::string(scratch.data(), static_cast<std::size_t>(k));  // 0: the end
      if (errno != EAGAIN && errno != EINTR) detail::throw_broken(what, errno);
      // a spurious wake-up: wait again
    }
  }

  /// Sends every byte (partial writes are continued). Cancelled: any prefix may have been sent.
  task<void> send_all(std::span<const std::byte> data) {
    static constexpr const char* what = "trio::socket_stream::send_all";
    detail::stream_user busy(sending_, what, "sending");
    if (!sock_.is_open()) detail::throw_stream_closed(what);
    if (eof_sent_) throw closed_resource_error(std::string(what) + ": send_eof() was called on this stream");
    if (data.empty()) {
      co_await checkpoint();
      co_return;
    }
    while (!data.empty()) {
      if (busy.gone) detail::throw_stream_destroyed(what);
      if (!sock_.is_open()) detail::throw_stream_closed(what);
      const int fd = sock_.fd();
      auto prep = [&](io_uring_sqe* sqe) noexcept {
        io_uring_prep_send(sqe, fd, data.data(), data.size(), MSG_NOSIGNAL);
      };
      const int res = co_await detail::uring_call{fd, detail::io_direction::write, what, prep};
      if (TRIO_LIKELY(res >= 0)) {
        data = data.subspan(static_cast<std::size_t>(res));
        continue;
      }
      if (res == -EAGAIN) {
        co_await sock_.wait_for(POLLOUT, what);
        continue;
      }
      detail::throw_broken(what, -res);
    }
  }
  /// send_all of a string's bytes.
  task<void> send_all(std::string_view data) { return send_all(detail::as_bytes(data)); }

  /// Returns when the socket can take more data (a POLLOUT wait).
  task<void> wait_send_all_might_not_block() {
    static constexpr const char* what = "trio::socket_stream::wait_send_all_might_not_block";
    detail::stream_user busy(sending_, what, "sending");
    if (!sock_.is_open()) detail::throw_stream_closed(what);
    co_await sock_.wait_for(POLLOUT, what);
  }

  /// shutdown(SHUT_WR): the peer reads the end of the stream; receiving still works. Idempotent.
  task<void> send_eof() {
    static constexpr const char* what = "trio::socket_stream::send_eof";
    detail::stream_user busy(sending_, what, "sending");
    if (!sock_.is_open()) detail::throw_stream_closed(what);
    if (eof_sent_) {
      co_await checkpoint();
      co_return;
    }
    co_await sock_.shutdown(SHUT_WR);
    if (busy.gone) detail::throw_stream_destroyed(what);
    eof_sent_ = true;
  }

  /// Closes the socket (waking any task using it with closed_resource_error), then checkpoints: in a
  /// cancelled scope the socket is closed and trio::cancelled follows. Idempotent.
  task<void> aclose() {
    sock_.close();
    co_await checkpoint();
  }

  /// The underlying socket (for options and addresses; closing it closes the stream).
  trio::socket& socket() noexcept { return sock_; }
  /// The underlying socket.
  const trio::socket& socket() const noexcept { return sock_; }
  /// socket::setsockopt on the stream's socket, e.g. `(IPPROTO_TCP, TCP_NODELAY, 1)`. Not a checkpoint.
  void setsockopt(int level, int name, int value) { sock_.setsockopt(level, name, value); }
  /// socket::getsockopt on the stream's socket. Not a checkpoint.
  int getsockopt(int level, int name) const { return sock_.getsockopt(level, name); }

 private:
  trio::socket sock_;
  // Destroyed before sock_: a task still inside an operation learns that the stream is gone before
  // the socket's close wakes it.
  detail::stream_user_slot receiving_;
  detail::stream_user_slot sending_;
  bool eof_sent_ = false;
};
static_assert(half_closeable_stream<socket_stream>);

namespace detail {
/// accept() errors that say only that one incoming connection went away before we took it (Trio's
/// policy): skipped silently. Everything else (EMFILE, ENOBUFS...) is raised.
inline bool accept_error_is_transient(int err) noexcept {
  return err == ECONNABORTED || err == EPERM || err == EPROTO || err == EINTR;
}
}  // namespace detail

/// Accepts connections on a listening SOCK_STREAM socket.
class socket_listener {
 public:
  /// Takes a listening stream socket; anything else is std::invalid_argument.
  explicit socket_listener(trio::socket s) : sock_(std::move(s)) {
    if (!sock_.is_open()) throw std::invalid_argument("trio::socket_listener: the socket is closed");
    if (sock_.type() != SOCK_STREAM) throw std::invalid_argument("trio::socket_listener: needs a SOCK_STREAM socket");
    if (sock_.getsockopt(SOL_SOCKET, SO_ACCEPTCONN) == 0)
      throw std::invalid_argument("trio::socket_listener: the socket is not listening (call listen() first)");
  }
  socket_listener(socket_listener&&) noexcept = default;
  socket_listener& operator=(socket_listener&&) noexcept = default;

  /// The next connection. Transient errors (ECONNABORTED, EPERM, EPROTO) are skipped; others throw
  /// std::system_error; after aclose(): closed_resource_error. A checkpoint.
  task<socket_stream> accept() {
    static constexpr const char* what = "trio::socket_listener::accept";
    for (;;) {
      if (!sock_.is_open()) {
        co_await checkpoint();
        throw closed_resource_error(std::string(what) + ": the listener was closed (aclose)");
      }
      const int fd = sock_.fd();
      int res;
      if ((res = -detail::injected_accept_errno()) != 0) {
        co_await checkpoint();
      } else {
        auto prep = [&](io_uring_sqe* sqe) noexcept { io_uring_prep_accept(sqe, fd, nullptr, nullptr, SOCK_CLOEXEC); };
        res = co_await detail::uring_call{fd, detail::io_direction::read, what, prep};
      }
      if (TRIO_LIKELY(res >= 0))
        co_return socket_stream(trio::socket::adopt(res, sock_.family(), sock_.type(), sock_.protocol()));
      if (res == -EAGAIN) {
        co_await sock_.wait_for(POLLIN, what);
        continue;
      }
      if (detail::accept_error_is_transient(-res)) continue;
      detail::throw_errno(-res, std::string(what) + " failed");
    }
  }

  /// Closes the listening socket (idempotent; a checkpoint).
  task<void> aclose() {
    sock_.close();
    co_await checkpoint();
  }

  /// The listening socket (e.g. local_address() for the port chosen by binding port 0).
  trio::socket& socket() noexcept { return sock_; }
  /// The listening socket.
  const trio::socket& socket() const noexcept { return sock_; }

 private:
  trio::socket sock_;
};
static_assert(async_resource<socket_listener>);

}  // namespace trio
