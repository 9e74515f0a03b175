#pragma once
/// \file
/// The one io_uring operation protocol. Every socket, file and fd
/// operation of the library is a `uring_call`: its state lives in the awaiting coroutine's frame (no
/// allocation), it is a checkpoint, it parks through the one blocking primitive, and when cancellation
/// reaches it the abort function submits IORING_OP_ASYNC_CANCEL and answers `failed`: the task stays
/// parked until the operation's own completion arrives. An operation that completed anyway delivers
/// its result, and the cancellation stays pending for the next checkpoint (received bytes are never
/// dropped). An operation that the kernel cancelled for a cancellation that was withdrawn before the
/// completion came back (a shield raised meanwhile) is submitted again from the completion, and the
/// task stays parked: this is the library's one resubmit path.

#include <cerrno>
#include <coroutine>
#include <cstdint>
#include <string>
#include <system_error>
#include <type_traits>

#include "trio/detail/describe_fd.hpp"
#include "trio/detail/runner.hpp"
#include "trio/errors.hpp"

namespace trio::detail {

/// Throws std::system_error(err) whose message is `what` (then ": " and strerror(err)).
[[noreturn]] [[gnu::cold]] inline void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::system_category(), what);
}

/// One in-flight io_uring operation owned by an awaiting task. It lives in the task's frame.
struct uring_op : io_op {
  runner* r = nullptr;
  task_record* t = nullptr;
  int result = 0;
  unsigned cqe_flags = 0;
  bool cancel_sent = false;
  bool closing = false;  // the fd is being closed under us (notify_closing, socket::close)
  int fd = -1;           // for the task dump: the operation's fd and name
  const char* what = nullptr;

  uring_op() noexcept { complete = &finish; }

  /// The completion: records the result and wakes the task.
  static void finish(io_op* op, int res, unsigned flags) noexcept {
    auto* self = static_cast<uring_op*>(op);
    self->result = res;
    self->cqe_flags = flags;
    self->r->io_finished();
    self->r->reschedule(*self->t);
  }

  /// Whether a completion with `res` is the kernel's answer to our cancel request for a cancellation
  /// that no longer reaches the task (a shield went up meanwhile): nothing happened, submit again.
  bool interrupted_by_withdrawn_cancel(int res) const noexcept {
    return res == -ECANCELED && cancel_sent && !closing && !t->status->effectively_cancelled;
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

  static abort_result abort(void* p) noexcept {
    static_cast<uring_op*>(p)->request_cancel();
    return abort_result::failed;
  }
  static void describe(const void* p, std::string& out) {
    const auto* self = static_cast<const uring_op*>(p);
    out += self->what ? self->what : "an io_uring operation";
    if (self->fd >= 0) out += " on fd " + std::to_string(self->fd) + " (" + describe_fd(self->fd) + ")";
    if (self->closing)
      out += " (the fd is being closed)";
    else if (self->cancel_sent)
      out += " (cancel requested; waiting for the kernel's answer)";
  }
  /// External: the kernel completes it.
  static constexpr wait_ops ops{&abort, &describe, true};

  /// Parks the task until the CQE arrives (the op was submitted by the caller).
  struct [[nodiscard]] awaiter {
    uring_op& op;
    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
      op.r->park(h, uring_op::ops, &op, is_task_promise_v<P>);
    }
    void await_resume() const { runner::resume_from_park(*op.t); }
  };
};

/// What a uring_call made with `uring_resubmit::never` answers when its operation was cancelled by a
/// cancellation that was withdrawn before the completion came back (a shield raised meanwhile). Every
/// other uring_call submits its operation again itself and never answers this.
inline constexpr int uring_interrupted = -EINTR;

/// Whether a uring_call submits its operation again when a withdrawn cancellation interrupted it
/// (`interrupted`, the default), or answers uring_interrupted (`never`: an operation that cannot be
/// repeated as if nothing happened, such as connect).
enum class uring_resubmit : bool { never = false, interrupted = true };

/// A uring_op that keeps the function preparing its SQE, so that the completion can submit it again.
template <class Prep>
struct prepared_uring_op : uring_op {
  Prep prep;

  explicit prepared_uring_op(Prep p, uring_resubmit mode) noexcept : prep(p) {
    if (mode == uring_resubmit::interrupted) complete = &finish_or_resubmit;
  }

  /// The completion of a resubmittable operation. The common path costs one comparison more than
  /// uring_op::finish (res against -ECANCELED).
  static void finish_or_resubmit(io_op* o, int res, unsigned flags) noexcept {
    auto* self = static_cast<prepared_uring_op*>(static_cast<uring_op*>(o));
    if (TRIO_UNLIKELY(res == -ECANCELED) && self->interrupted_by_withdrawn_cancel(res)) {
      self->resubmit();
      return;
    }
    finish(o, res, flags);
  }

  /// Prepares and submits the same SQE again; the task stays parked. The operation stays in flight
  /// (io_in_flight unchanged) and keeps its fd slot; a later cancellation sends a new cancel request.
  [[gnu::cold]] void resubmit() noexcept {
    cancel_sent = false;
    io_uring_sqe* sqe;
    try {
      sqe = r->io().get_sqe();
    } catch (...) {  // the submission queue is full and cannot be flushed: the task gets the error
      r->io_finished();
      r->reschedule(*t, wake_kind::error, std::current_exception());
      return;
    }
    prep(sqe);
    io_uring_sqe_set_data64(sqe, user_data());
  }
};

/// Which fd slot an operation occupies while in flight (runner::fd_waiter): one task per fd and
/// direction, so that closing the fd finds the waiters and two readers get busy_resource_error.
enum class io_direction : int { read = 0, write = 1, none = 2 };

/// `co_await uring_call{fd, dir, what, prep}`: prepares one SQE with prep(sqe), submits it with the next
/// io_uring_enter and returns the completion's `res` (a negative errno for a failure). Throws
/// trio::cancelled if the task is cancelled before it starts or the kernel cancelled it for the
/// cancellation; closed_resource_error if the fd was closed meanwhile (notify_closing); and
/// busy_resource_error if another task already has an operation in flight on fd in `dir`. When the
/// kernel cancelled it for a cancellation that was withdrawn before the completion came back, it
/// prepares the SQE with prep(sqe) again and submits it again (prep must give the same operation
/// each time); `uring_call{fd, dir, what, prep, uring_resubmit::never}` answers uring_interrupted
/// instead.
/// Trivially destructible (g++ 12 destroys awaiter temporaries twice): `prep` must capture references.
template <class Prep>
struct [[nodiscard]] uring_call {
  int fd;
  io_direction dir;
  const char* what;  // for messages: "trio::socket::recv"
  prepared_uring_op<Prep> op;
  bool skip = false;  // cancelled before submission

  uring_call(int fd_, io_direction dir_, const char* what_, Prep prep,
             uring_resubmit mode = uring_resubmit::interrupted) noexcept
      : fd(fd_), dir(dir_), what(what_), op(prep, mode) {}

  bool await_ready() {
    static_assert(std::is_trivially_destructible_v<uring_call>, "g++ 12 destroys awaiter temporaries twice");
    runner& r = current_runner(what);
    task_record& t = r.current_or_throw(what);
    if (TRIO_UNLIKELY(t.status->effectively_cancelled)) {
      skip = true;
      op.t = &t;
      return true;
    }
    if (dir != io_direction::none) {
      io_op*& slot = r.fd_waiter(fd, static_cast<int>(dir));
      if (TRIO_UNLIKELY(slot != nullptr)) throw_busy();
      slot = &op;
    }
    op.r = &r;
    op.t = &t;
    op.fd = fd;
    op.what = what;
    io_uring_sqe* sqe;
    try {
      sqe = r.io().get_sqe();
    } catch (...) {
      release_slot();
      throw;
    }
    op.prep(sqe);
    io_uring_sqe_set_data64(sqe, op.user_data());
    r.io_started();
    return false;
  }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) noexcept {
    op.r->park(h, uring_op::ops, &op, is_task_promise_v<P>);
  }
  int await_resume() {
    if (TRIO_UNLIKELY(skip)) throw runner::make_cancelled(*op.t);
    release_slot();
    runner::resume_from_park(*op.t);  // (a uring_op is woken with a value only; kept for symmetry)
    if (TRIO_UNLIKELY(op.result == -ECANCELED && op.cancel_sent)) return cancelled_result();
    return op.result;
  }

 private:
  void release_slot() noexcept {
    if (dir != io_direction::none) op.r->fd_waiter(fd, static_cast<int>(dir)) = nullptr;
  }
  [[noreturn]] [[gnu::cold]] void throw_busy() const {
    throw busy_resource_error(std::string(what) + ": another task is already using fd " + std::to_string(fd) +
                              (dir == io_direction::read ? " for receiving" : " for sending") +
                              "; use one task per direction (or a lock)");
  }
  [[gnu::cold]] int cancelled_result() const {
    if (op.closing)
      throw closed_resource_error(std::string(what) + ": fd " + std::to_string(fd) +
                                  " was closed (notify_closing, or the socket's close) while this task was using it");
    if (op.t->status->effectively_cancelled) throw runner::make_cancelled(*op.t);
    // The cancellation was withdrawn only after the completion came back (a shield raised by another
    // task between the completion and this resume). A resubmittable operation decides at its
    // completion (finish_or_resubmit): the cancellation was still in effect then, so the operation
    // ended for it, and the task is cancelled as if the shield had come up just after (spec CS-08).
    if (op.complete != &uring_op::finish) throw runner::make_cancelled(*op.t);
    return uring_interrupted;
  }
};
template <class Prep>
uring_call(int, io_direction, const char*, Prep) -> uring_call<Prep>;
template <class Prep>
uring_call(int, io_direction, const char*, Prep, uring_resubmit) -> uring_call<Prep>;

/// Wakes the tasks with an operation in flight on fd: they throw closed_resource_error. Call before
/// closing fd.
inline void notify_closing_fd(runner& r, int fd) noexcept {
  for (int dir = 0; dir < 2; ++dir) {
    if (auto* op = static_cast<uring_op*>(r.fd_waiter_if_any(fd, dir))) {
      op->closing = true;
      op->request_cancel();
    }
  }
}

}  // namespace trio::detail
