#pragma once
/// \file
/// trio::pipe_send_stream and trio::pipe_receive_stream: the two ends of a pipe (or any fd that
/// reads and writes like one: a FIFO, a tty) as trio streams, their reads and writes io_uring
/// operations through the one operation protocol. A process's stdin/stdout/stderr pipes are these.
///
///     auto [out, in] = trio::make_pipe();      // out: the send end, in: the receive end
///
/// Writing to a pipe whose reader has gone is broken_resource_error. A pipe send stream sets SIGPIPE
/// to SIG_IGN if it is at SIG_DFL (as Python does at start-up), since the kernel would otherwise kill
/// the process on such a write; child processes get SIGPIPE back at its default.

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <utility>

#include "trio/checkpoint.hpp"
#include "trio/detail/runner.hpp"
#include "trio/detail/uring_op.hpp"
#include "trio/errors.hpp"
#include "trio/stream.hpp"
#include "trio/task.hpp"
#include "trio/wait_fd.hpp"

namespace trio {

namespace detail {

/// An owned fd that streams through io_uring: shared by the two pipe stream types.
class pipe_end {
 public:
  pipe_end() noexcept = default;
  explicit pipe_end(int fd) noexcept : fd_(fd) {}
  pipe_end(pipe_end&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  pipe_end& operator=(pipe_end&& o) noexcept {
    if (this != &o) {
      close();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  pipe_end(const pipe_end&) = delete;
  pipe_end& operator=(const pipe_end&) = delete;
  /// Like close(): a task still using the fd is woken (without it, it waited forever).
  ~pipe_end() { close(); }

  int fd() const noexcept { return fd_; }
  bool is_open() const noexcept { return fd_ >= 0; }

  /// Wakes a task using the fd (closed_resource_error) and closes it.
  void close() noexcept {
    if (fd_ < 0) return;
    if (runner* r = t_runner) notify_closing_fd(*r, fd_);
    ::close(std::exchange(fd_, -1));
  }
  /// Gives up the fd without closing it.
  int release() noexcept { return std::exchange(fd_, -1); }

  /// One read or write of at most data.size() bytes; waits while the fd would block.
  task<std::size_t> transfer(io_direction dir, void* data, std::size_t size, const char* what) {
    for (;;) {
      if (fd_ < 0) throw_stream_closed(what);
      auto prep = [&](io_uring_sqe* sqe) noexcept {
        const unsigned n = static_cast<unsigned>(std::min<std::size_t>(size, 1u << 30));
        if (dir == io_direction::read)
          io_uring_prep_read(sqe, fd_, data, n, ~std::uint64_t{0});
        else
          io_uring_prep_write(sqe, fd_, data, n, ~std::uint64_t{0});
      };
      const int res = co_await uring_call{fd_, dir, what, prep};
      if (res >= 0) co_return static_cast<std::size_t>(res);
      if (res == -EAGAIN) {  // an O_NONBLOCK fd: wait until it is ready
        co_await wait(dir == io_direction::read ? POLLIN : POLLOUT);
        continue;
      }
      throw broken_resource_error(std::string(what) + ": the pipe is broken: " + std::strerror(-res));
    }
  }

  /// Waits until the fd is readable (POLLIN) or writable (POLLOUT): lowlevel::wait_readable/wait_writable.
  task<void> wait(unsigned events) { return wait_fd(fd_, (events & POLLIN) ? 0 : 1); }

 private:
  int fd_ = -1;
};

inline void ignore_sigpipe_once() noexcept {
  static const bool done = [] {
    struct sigaction old {};
    if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO)) {
      struct sigaction ign {};
      ign.sa_handler = SIG_IGN;
      ::sigaction(SIGPIPE, &ign, nullptr);
    }
    return true;
  }();
  (void)done;
}

}  // namespace detail

/// The writing end of a pipe. Owns its fd (closed on destruction).
class pipe_send_stream {
 public:
  pipe_send_stream() noexcept = default;
  /// Takes ownership of `fd`, the write end of a pipe. The first one made sets SIGPIPE to ignored if it
  /// still has its default action (a write to a pipe whose reader has gone then fails with broken_resource_error).
  explicit pipe_send_stream(int fd) noexcept : end_(fd) { detail::ignore_sigpipe_once(); }

  /// Writes all of data (several writes when the pipe is full).
  task<void> send_all(std::span<const std::byte> data) {
    static constexpr const char* what = "trio::pipe_send_stream::send_all";
    detail::stream_user busy(sending_, what, "sending");
    if (data.empty()) {
      if (!end_.is_open()) detail::throw_stream_closed(what);
      co_await checkpoint();
      co_return;
    }
    while (!data.empty()) {
      const std::size_t n =
          co_await end_.transfer(detail::io_direction::write, const_cast<std::byte*>(data.data()), data.size(), what);
      if (busy.gone) detail::throw_stream_destroyed(what);
      data = data.subspan(n);
    }
  }
  /// send_all of a string's bytes.
  task<void> send_all(std::string_view data) { return send_all(detail::as_bytes(data)); }

  /// Returns when the pipe has room.
  task<void> wait_send_all_might_not_block() {
    if (!end_.is_open())
      throw closed_resource_error("trio::pipe_send_stream::wait_send_all_might_not_block: the stream was closed");
    co_await end_.wait(POLLOUT);
  }

  /// Closes the fd (the reader sees the end of the stream); a task using it gets closed_resource_error.
  task<void> aclose() {
    end_.close();
    co_await checkpoint();
  }

  /// The file descriptor; -1 once closed or released.
  int fd() const noexcept { return end_.fd(); }
  /// Gives up ownership of the fd and returns it (-1 if none); the stream is then closed.
  int release() noexcept { return end_.release(); }

 private:
  detail::pipe_end end_;
  detail::stream_user_slot sending_;  // destroyed before end_: see socket_stream
};
static_assert(send_stream<pipe_send_stream>);

/// The reading end of a pipe. Owns its fd (closed on destruction).
class pipe_receive_stream {
 public:
  pipe_receive_stream() noexcept = default;
  /// Takes ownership of `fd`, the read end of a pipe.
  explicit pipe_receive_stream(int fd) noexcept : end_(fd) {}

  /// Up to buffer.size() bytes; 0 only at the end of the stream (every writer closed its end).
  task<std::size_t> receive_some(std::span<std::byte> buffer) {
    detail::check_max_bytes(buffer.size(), "trio::pipe_receive_stream::receive_some");
    return end_.transfer(detail::io_direction::read, buffer.data(), buffer.size(),
                         "trio::pipe_receive_stream::receive_some");
  }
  /// Up to `max_bytes` (at least 1, else std::invalid_argument) as a string; empty at the end of the stream.
  task<std::string> receive_some(std::size_t max_bytes = 65536) {
    return detail::receive_string(*this, max_bytes, "trio::pipe_receive_stream::receive_some");
  }

  /// Closes the fd; a task receiving on it gets closed_resource_error. Then a checkpoint.
  task<void> aclose() {
    end_.close();
    co_await checkpoint();
  }

  /// The file descriptor; -1 once closed or released.
  int fd() const noexcept { return end_.fd(); }
  /// Gives up ownership of the fd and returns it (-1 if none); the stream is then closed.
  int release() noexcept { return end_.release(); }

 private:
  detail::pipe_end end_;
};
static_assert(receive_stream<pipe_receive_stream>);

/// A new pipe (O_CLOEXEC): {the send end, the receive end}.
inline std::pair<pipe_send_stream, pipe_receive_stream> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) detail::throw_errno(errno, "trio::make_pipe: pipe2 failed");
  return {pipe_send_stream(fds[1]), pipe_receive_stream(fds[0])};
}

}  // namespace trio
