#pragma once
/// \file
/// trio::socket: a move-only socket whose blocking operations (connect, accept, send, recv, sendto,
/// recvfrom, sendmsg, recvmsg, shutdown) are io_uring operations through the one operation protocol.
/// Every one of them is a checkpoint. Includes trio::socket_address (socket_address.hpp).

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "trio/detail/runner.hpp"
#include "trio/detail/uring_op.hpp"
#include "trio/errors.hpp"
#include "trio/socket_address.hpp"
#include "trio/task.hpp"

namespace trio {

namespace detail {
inline std::string family_name(int family) {
  switch (family) {
    case AF_INET:
      return "IPv4";
    case AF_INET6:
      return "IPv6";
    case AF_UNIX:
      return "Unix";
    default:
      return "family " + std::to_string(family);
  }
}
}  // namespace detail

/// A socket. Move-only; closes on destruction. Created blocking: io_uring waits for readiness itself
/// (a socket adopted with O_NONBLOCK works too: EAGAIN is waited out with a poll).
class socket {
 public:
  socket() noexcept = default;
  /// Adopts fd (a socket); reads its family and type from the kernel.
  explicit socket(int fd) : fd_(fd) {
    if (fd < 0) throw std::invalid_argument("trio::socket: invalid file descriptor " + std::to_string(fd));
    socklen_t n = sizeof family_;
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family_, &n) != 0) {
      const int err = errno;
      fd_ = -1;
      detail::throw_errno(err, "trio::socket: fd " + std::to_string(fd) + " is not a socket");
    }
    n = sizeof type_;
    ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type_, &n);
    n = sizeof protocol_;
    ::getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol_, &n);
  }
  socket(socket&& o) noexcept
      : fd_(std::exchange(o.fd_, -1)), family_(o.family_), type_(o.type_), protocol_(o.protocol_) {}
  socket& operator=(socket&& o) noexcept {
    if (this != &o) {
      close();
      fd_ = std::exchange(o.fd_, -1);
      family_ = o.family_;
      type_ = o.type_;
      protocol_ = o.protocol_;
    }
    return *this;
  }
  socket(const socket&) = delete;
  socket& operator=(const socket&) = delete;
  ~socket() { close(); }

  /// Adopts fd whose family, type and protocol the caller knows (no system calls).
  static socket adopt(int fd, int family, int type, int protocol = 0) noexcept {
    socket s;
    s.fd_ = fd;
    s.family_ = family;
    s.type_ = type;
    s.protocol_ = protocol;
    return s;
  }

  /// socket(2), close-on-exec.
  static socket create(int family, int type = SOCK_STREAM, int protocol = 0) {
    const int fd = ::socket(family, type | SOCK_CLOEXEC, protocol);
    if (fd < 0) detail::throw_errno(errno, "trio::socket::create: socket(" + detail::family_name(family) + ") failed");
    socket s;
    s.fd_ = fd;
    s.family_ = family;
    s.type_ = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    s.protocol_ = protocol;
    return s;
  }
  /// socketpair(2): two connected sockets.
  static std::pair<socket, socket> pair(int family = AF_UNIX, int type = SOCK_STREAM, int protocol = 0) {
    int fds[2];
    if (::socketpair(family, type | SOCK_CLOEXEC, protocol, fds) != 0)
      detail::throw_errno(errno, "trio::socket::pair: socketpair failed");
    std::pair<socket, socket> out;
    for (int i = 0; i < 2; ++i) {
      socket& s = i == 0 ? out.first : out.second;
      s.fd_ = fds[i];
      s.family_ = family;
      s.type_ = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
      s.protocol_ = protocol;
    }
    return out;
  }

  /// The file descriptor; -1 once closed or released. Still owned by the socket.
  int fd() const noexcept { return fd_; }
  /// Whether the socket owns an open fd (not closed, released or moved from).
  bool is_open() const noexcept { return fd_ >= 0; }
  /// The address family given at creation (AF_INET, AF_INET6, AF_UNIX, ...).
  int family() const noexcept { return family_; }
  /// The socket type (SOCK_STREAM, SOCK_DGRAM, ...), without the SOCK_NONBLOCK and SOCK_CLOEXEC flags.
  int type() const noexcept { return type_; }
  /// The protocol given at creation (0: the family's default).
  int protocol() const noexcept { return protocol_; }

  /// Closes the socket (idempotent). Tasks with an operation in flight on it wake with
  /// closed_resource_error.
  void close() noexcept {
    if (fd_ < 0) return;
    if (detail::runner* r = detail::t_runner) detail::notify_closing_fd(*r, fd_);
    ::close(fd_);
    fd_ = -1;
  }
  /// Gives up ownership of the fd.
  int release() noexcept { return std::exchange(fd_, -1); }

  /// bind(2) to `a`. Fails: std::system_error naming the address; on a closed socket:
  /// closed_resource_error (as every operation below). Not a checkpoint.
  void bind(const socket_address& a) {
    check_open("bind");
    if (::bind(fd_, a.native(), a.size()) != 0)
      detail::throw_errno(errno, "trio::socket::bind: binding to " + a.to_string() + " failed");
  }
  /// listen(2) with `backlog` (default SOMAXCONN). Fails: std::system_error. Not a checkpoint.
  void listen(int backlog = SOMAXCONN) {
    check_open("listen");
    if (::listen(fd_, backlog) != 0) detail::throw_errno(errno, "trio::socket::listen failed");
  }
  /// setsockopt(2) for an int option, e.g. `s.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)`. Fails:
  /// std::system_error. Not a checkpoint.
  void setsockopt(int level, int name, int value) {
    check_open("setsockopt");
    if (::setsockopt(fd_, level, name, &value, sizeof value) != 0)
      detail::throw_errno(
          errno, "trio::socket::setsockopt(" + std::to_string(level) + ", " + std::to_string(name) + ") failed");
  }
  /// getsockopt(2) for an int option. Fails: std::system_error. Not a checkpoint.
  int getsockopt(int level, int name) const {
    check_open("getsockopt");
    int value = 0;
    socklen_t n = sizeof value;
    if (::getsockopt(fd_, level, name, &value, &n) != 0)
      detail::throw_errno(
          errno, "trio::socket::getsockopt(" + std::to_string(level) + ", " + std::to_string(name) + ") failed");
    return value;
  }
  /// getsockname(2): the address the socket is bound to (after binding port 0: with the port the
  /// kernel chose).
  socket_address local_address() const {
    check_open("local_address");
    socket_address a;
    socklen_t n = socket_address::capacity();
    if (::getsockname(fd_, a.native(), &n) != 0) detail::throw_errno(errno, "trio::socket::local_address failed");
    a.set_size(n);
    return a;
  }
  /// getpeername(2): the connected peer's address. Not connected: std::system_error (ENOTCONN).
  socket_address peer_address() const {
    check_open("peer_address");
    socket_address a;
    socklen_t n = socket_address::capacity();
    if (::getpeername(fd_, a.native(), &n) != 0) detail::throw_errno(errno, "trio::socket::peer_address failed");
    a.set_size(n);
    return a;
  }

  /// connect(2) as an io_uring operation. Refused or unreachable: std::system_error naming the
  /// address. Cancelled mid-way: the socket is closed (its state is unknown) and cancelled propagates.
  task<void> connect(socket_address a) {
    check_open("connect");
    if (a.family() != family_)
      throw std::invalid_argument("trio::socket::connect: the address " + a.to_string() + " is " +
                                  detail::family_name(a.family()) + " but the socket is " +
                                  detail::family_name(family_));
    for (;;) {
      int res;
      try {
        auto prep = [&](io_uring_sqe* sqe) noexcept { io_uring_prep_connect(sqe, fd_, a.native(), a.size()); };
        // (never resubmitted: an interrupted connect has an unknown state and throws EINTR below)
        res = co_await detail::uring_call{fd_, detail::io_direction::write, "trio::socket::connect", prep,
                                          detail::uring_resubmit::never};
      } catch (const cancelled&) {
        close();
        throw;
      }
      if (res == detail::uring_interrupted) {
        close();
        detail::throw_errno(EINTR, "trio::socket::connect: connecting to " + a.to_string() + " was interrupted");
      }
      if (res == -EAGAIN || res == -EINPROGRESS) {  // a non-blocking socket: wait, then read the outcome
        co_await wait_for(POLLOUT, "trio::socket::connect");
        res = -getsockopt(SOL_SOCKET, SO_ERROR);
      }
      if (res < 0) detail::throw_errno(-res, "trio::socket::connect: connecting to " + a.to_string() + " failed");
      co_return;
    }
  }

  /// accept(2) as an io_uring operation: the connected socket and its peer's address.
  task<std::pair<socket, socket_address>> accept() {
    check_open("accept");
    for (;;) {
      socket_address peer;
      socklen_t n = socket_address::capacity();
      auto prep = [&](io_uring_sqe* sqe) noexcept { io_uring_prep_accept(sqe, fd_, peer.native(), &n, SOCK_CLOEXEC); };
      const int res = co_await detail::uring_call{fd_, detail::io_direction::read, "trio::socket::accept", prep};
      if (res == -EAGAIN) {
        co_await wait_for(POLLIN, "trio::socket::accept");
        continue;
      }
      if (res < 0) detail::throw_errno(-res, "trio::socket::accept failed");
      peer.set_size(n);
      socket s;
      s.fd_ = res;
      s.family_ = family_;
      s.type_ = type_;
      s.protocol_ = protocol_;
      co_return std::pair<socket, socket_address>(std::move(s), peer);
    }
  }

  /// send(2): how many bytes the kernel took (MSG_NOSIGNAL is always added: no SIGPIPE).
  task<std::size_t> send(std::span<const std::byte> data, int flags = 0) {
    auto prep = [&](io_uring_sqe* sqe) noexcept {
      io_uring_prep_send(sqe, fd_, data.data(), data.size(), flags | MSG_NOSIGNAL);
    };
    co_return co_await transfer(detail::io_direction::write, "trio::socket::send", prep);
  }
  /// send() of a string's bytes.
  task<std::size_t> send(std::string_view data, int flags = 0) {
    return send(std::as_bytes(std::span(data.data(), data.size())), flags);
  }

  /// recv(2): how many bytes arrived; 0 at end of stream.
  task<std::size_t> recv(std::span<std::byte> buffer, int flags = 0) {
    auto prep = [&](io_uring_sqe* sqe) noexcept { io_uring_prep_recv(sqe, fd_, buffer.data(), buffer.size(), flags); };
    co_return co_await transfer(detail::io_direction::read, "trio::socket::recv", prep);
  }

  /// sendmsg(2) / recvmsg(2): the caller's msghdr (and what it points at) must outlive the call.
  task<std::size_t> sendmsg(const msghdr& msg, int flags = 0) {
    auto prep = [&](io_uring_sqe* sqe) noexcept {
      io_uring_prep_sendmsg(sqe, fd_, &msg, static_cast<unsigned>(flags | MSG_NOSIGNAL));
    };
    co_return co_await transfer(detail::io_direction::write, "trio::socket::sendmsg", prep);
  }
  /// recvmsg(2): how many bytes arrived; `msg` (names, control data) is filled in as the kernel does.
  task<std::size_t> recvmsg(msghdr& msg, int flags = 0) {
    auto prep = [&](io_uring_sqe* sqe) noexcept {
      io_uring_prep_recvmsg(sqe, fd_, &msg, static_cast<unsigned>(flags));
    };
    co_return co_await transfer(detail::io_direction::read, "trio::socket::recvmsg", prep);
  }

  /// sendto(2) for datagram sockets.
  task<std::size_t> sendto(std::span<const std::byte> data, socket_address to, int flags = 0) {
    iovec iov{const_cast<std::byte*>(data.data()), data.size()};
    msghdr msg{};
    msg.msg_name = to.native();
    msg.msg_namelen = to.size();
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    co_return co_await sendmsg(msg, flags);
  }
  /// sendto() of a string's bytes.
  task<std::size_t> sendto(std::string_view data, socket_address to, int flags = 0) {
    return sendto(std::as_bytes(std::span(data.data(), data.size())), to, flags);
  }
  /// recvfrom(2): the datagram's size and its sender.
  task<std::pair<std::size_t, socket_address>> recvfrom(std::span<std::byte> buffer, int flags = 0) {
    socket_address from;
    iovec iov{buffer.data(), buffer.size()};
    msghdr msg{};
    msg.msg_name = from.native();
    msg.msg_namelen = socket_address::capacity();
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    const std::size_t n = co_await recvmsg(msg, flags);
    from.set_size(msg.msg_namelen);
    co_return std::pair<std::size_t, socket_address>(n, from);
  }

  /// shutdown(2) (SHUT_RD, SHUT_WR, SHUT_RDWR) as an io_uring operation.
  task<void> shutdown(int how) {
    check_open("shutdown");
    auto prep = [&](io_uring_sqe* sqe) noexcept { io_uring_prep_shutdown(sqe, fd_, how); };
    const int res = co_await detail::uring_call{fd_, detail::io_direction::none, "trio::socket::shutdown", prep};
    if (res < 0 && res != -ENOTCONN) detail::throw_errno(-res, "trio::socket::shutdown failed");
  }

  /// Waits for readiness (POLLIN / POLLOUT) on this socket.
  task<void> wait_for(unsigned events, const char* what) {
    auto prep = [&](io_uring_sqe* sqe) noexcept { io_uring_prep_poll_add(sqe, fd_, events); };
    const int res = co_await detail::uring_call{
        fd_, (events & POLLIN) ? detail::io_direction::read : detail::io_direction::write, what, prep};
    if (res < 0) detail::throw_errno(-res, what);
  }

 private:
  /// One data transfer (send/recv/sendmsg/recvmsg): submits prep's SQE until it completes, waiting
  /// out EAGAIN (an adopted non-blocking socket; a withdrawn cancellation is resubmitted by the call).
  template <class Prep>
  task<std::size_t> transfer(detail::io_direction dir, const char* what, Prep prep) {
    if (TRIO_UNLIKELY(fd_ < 0)) throw closed_resource_error(std::string(what) + ": the socket is closed");
    for (;;) {
      const int res = co_await detail::uring_call{fd_, dir, what, prep};
      if (res >= 0) co_return static_cast<std::size_t>(res);
      if (res == -EAGAIN) {
        co_await wait_for(dir == detail::io_direction::read ? POLLIN : POLLOUT, what);
        continue;
      }
      detail::throw_errno(-res, std::string(what) + " failed");
    }
  }

  void check_open(const char* op) const {
    if (TRIO_UNLIKELY(fd_ < 0))
      throw closed_resource_error(std::string("trio::socket::") + op + ": the socket is closed");
  }

  int fd_ = -1;
  int family_ = AF_UNSPEC;
  int type_ = 0;
  int protocol_ = 0;
};

}  // namespace trio
