#pragma once
/// \file
/// lowlevel::wait_readable / wait_writable / notify_closing: readiness waits as io_uring POLL_ADD
/// operations through the one operation protocol (detail/uring_op.hpp).

#include <poll.h>

#include <cerrno>
#include <coroutine>
#include <system_error>

#include "trio/checkpoint.hpp"
#include "trio/detail/runner.hpp"
#include "trio/detail/uring_op.hpp"
#include "trio/task.hpp"

namespace trio::detail {

/// `what` names the wait in errors and the task dump (default: wait_readable / wait_writable).
inline task<void> wait_fd(int fd, int direction, const char* what = nullptr) {
  static constexpr const char* names[] = {"trio::lowlevel::wait_readable", "trio::lowlevel::wait_writable"};
  if (!what) what = names[direction];
  const unsigned events = direction == 0 ? POLLIN : POLLOUT;
  auto prep = [&](io_uring_sqe* sqe) noexcept { io_uring_prep_poll_add(sqe, fd, events); };
  // (cancelled, but a shield went up before the completion came back: the call waits again itself)
  const int res = co_await uring_call{fd, static_cast<io_direction>(direction), what, prep};
  if (res < 0) throw std::system_error(-res, std::system_category(), what);
  // ready; a cancellation that raced in stays pending for the next checkpoint
}

}  // namespace trio::detail

namespace trio::lowlevel {

/// Waits until fd is readable (POLLIN, or an error/hang-up). A checkpoint.
/// The trap: one task per fd and direction; a second waiter gets busy_resource_error.
inline task<void> wait_readable(int fd) { return detail::wait_fd(fd, 0); }
/// Waits until fd is writable.
inline task<void> wait_writable(int fd) { return detail::wait_fd(fd, 1); }

/// Call before closing fd: tasks waiting on it wake with closed_resource_error.
inline void notify_closing(int fd) {
  detail::notify_closing_fd(detail::current_runner("trio::lowlevel::notify_closing"), fd);
}

}  // namespace trio::lowlevel
