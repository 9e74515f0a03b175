#pragma once
/// \file
/// Checkpoints: the places where a task can be cancelled (cancel point) and others can run (schedule point).

#include <coroutine>

#include "trio/detail/runner.hpp"

namespace trio {
namespace detail {

template <bool CancelPoint>
struct [[nodiscard]] yield_awaiter {
  runner* r;
  task_record* t;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const noexcept { r->yield(h); }
  void await_resume() const {
    if constexpr (CancelPoint)
      if (t->status->effectively_cancelled) throw runner::make_cancelled(*t);
  }
};

struct [[nodiscard]] cancel_point_awaiter {
  task_record* t;
  bool await_ready() const noexcept { return true; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  void await_resume() const {
    if (t->status->effectively_cancelled) throw runner::make_cancelled(*t);
  }
};

template <bool CancelPoint>
yield_awaiter<CancelPoint> make_yield(const char* what) {
  runner& r = current_runner(what);
  return {&r, &r.current_or_throw(what)};
}

}  // namespace detail

/// A full checkpoint: lets other tasks run, then throws trio::cancelled if the task is cancelled.
/// Deadlines are processed by the loop in between, so a checkpoint always sees fresh deadlines.
///
///     for (auto& item : work) { process(item); co_await trio::checkpoint(); }   // long loops stay fair
///
/// The trap: a loop that never awaits anything is never cancelled and starves every other task.
[[nodiscard]] inline detail::yield_awaiter<true> checkpoint() { return detail::make_yield<true>("trio::checkpoint()"); }

/// A cancel point only: throws trio::cancelled if the task is cancelled, else continues without yielding.
[[nodiscard]] inline detail::cancel_point_awaiter checkpoint_if_cancelled() {
  return {
      &detail::current_runner("trio::checkpoint_if_cancelled()").current_or_throw("trio::checkpoint_if_cancelled()")};
}

/// A schedule point only: lets other tasks run; never throws trio::cancelled.
[[nodiscard]] inline detail::yield_awaiter<false> cancel_shielded_checkpoint() {
  return detail::make_yield<false>("trio::cancel_shielded_checkpoint()");
}

}  // namespace trio
