#pragma once
/// \file
/// lowlevel::wait_readable / wait_writable / notify_closing: readiness waits as io_uring POLL_ADD
/// operations. Their cancellation goes through IORING_OP_ASYNC_CANCEL and waits for the original
/// completion: the path every later socket and file operation uses.

#include <poll.h>

#include <cerrno>
#include <coroutine>
#include <system_error>

#include "trio/checkpoint.hpp"
#include "trio/detail/runner.hpp"
#include "trio/task.hpp"

namespace trio::detail {

/// One in-flight io_uring operation owned by an awaiting task. It lives in the task's frame.
struct uring_op : io_op {
  runner* r = nullptr;
  task_record* t = nullptr;
  int result = 0;
  bool cancel_sent = false;
  bool closing = false;  // notify_closing: the fd is being closed under us

  uring_op() noexcept {
    complete = [](io_op* op, int res, unsigned) noexcept {
      auto* self = static_cast<uring_op*>(op);
      self->result = res;
      self->r->io_finished();
      self->r->reschedule(*self->t);
    };
  }

  std::uint64_t user_data() noexcept {
    return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(static_cast<io_op*>(this)));
  }

  /// Asks the kernel to cancel this operation; its own CQE still arrives (with -ECANCELED or a result).
  void request_cancel() noexcept {
    if (cancel_sent) return;
    cancel_sent = true;
    try {
      io_uring_sqe* sqe = r->io().get_sqe();
      io_uring_prep_cancel64(sqe, user_data(), 0);
      io_uring_sqe_set_data64(sqe, 0);
      if (r->io().can_skip_cqe_on_success()) sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    } catch (...) {
      r->internal_failure(std::current_exception());
    }
  }

  /// Parks the task until the CQE arrives. Cancellation asks the kernel to cancel and answers
  /// `failed`: the task resumes only when the original completion is in.
  struct awaiter {
    uring_op& op;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      op.r->park(
          h,
          [](void* p) noexcept {
            static_cast<uring_op*>(p)->request_cancel();
            return abort_result::failed;
          },
          &op);
    }
    void await_resume() const { runner::resume_from_park(*op.t); }
  };
};

inline task<void> wait_fd(int fd, int direction) {
  static constexpr const char* names[] = {"trio::lowlevel::wait_readable", "trio::lowlevel::wait_writable"};
  runner& r = current_runner(names[direction]);
  task_record& t = r.current_or_throw(names[direction]);
  co_await checkpoint_if_cancelled();
  for (;;) {
    io_op*& slot = r.fd_waiter(fd, direction);
    if (slot)
      throw busy_resource_error(std::string(names[direction]) + ": another task is already waiting on fd " +
                                std::to_string(fd) + " in this direction; use one task per direction");
    uring_op op;
    op.r = &r;
    op.t = &t;
    io_uring_sqe* sqe = r.io().get_sqe();
    io_uring_prep_poll_add(sqe, fd, direction == 0 ? POLLIN : POLLOUT);
    io_uring_sqe_set_data64(sqe, op.user_data());
    r.io_started();
    slot = &op;
    co_await uring_op::awaiter{op};
    r.fd_waiter(fd, direction) = nullptr;
    if (op.result == -ECANCELED) {
      if (op.closing)
        throw closed_resource_error(std::string(names[direction]) + ": fd " + std::to_string(fd) +
                                    " was closed (notify_closing) while this task waited on it");
      if (t.status->effectively_cancelled) throw runner::make_cancelled(t);
      continue;  // cancelled, but a shield went up meanwhile: wait again
    }
    if (op.result < 0) throw std::system_error(-op.result, std::system_category(), names[direction]);
    co_return;  // ready; a cancellation that raced in stays pending for the next checkpoint
  }
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
  auto& r = detail::current_runner("trio::lowlevel::notify_closing");
  for (int dir = 0; dir < 2; ++dir) {
    if (auto* op = static_cast<detail::uring_op*>(r.fd_waiter_if_any(fd, dir))) {
      op->closing = true;
      op->request_cancel();
    }
  }
}

}  // namespace trio::lowlevel
