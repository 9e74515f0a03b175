#pragma once
/// \file
/// Time inside a run: current_time, current_effective_deadline, sleep, sleep_until, sleep_forever.

#include <chrono>
#include <coroutine>

#include "trio/clock.hpp"
#include "trio/detail/runner.hpp"

namespace trio {

/// The run's clock (a testing::mock_clock when run_options gives one).
inline time_point current_time() { return detail::current_runner("trio::current_time()").now(); }

/// The earliest deadline of the current task's cancel scopes (up to a shield): no_deadline if none,
/// time_point::min() if the task is already cancelled.
inline time_point current_effective_deadline() {
  auto& r = detail::current_runner("trio::current_effective_deadline()");
  return detail::effective_deadline(r.current_or_throw("trio::current_effective_deadline()"));
}

namespace detail {

/// A parked task with a deadline-heap entry: the loop reschedules it when the time comes.
class [[nodiscard]] sleep_awaiter : deadline_entry {
 public:
  sleep_awaiter(time_point until, const char* what) : until_(until) {
    r_ = &current_runner(what);
    t_ = &r_->current_or_throw(what);
    fire = [](deadline_entry* e) noexcept {
      auto* self = static_cast<sleep_awaiter*>(e);
      self->r_->reschedule(*self->t_);
    };
  }
  sleep_awaiter(const sleep_awaiter&) = delete;
  sleep_awaiter& operator=(const sleep_awaiter&) = delete;

  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    if (until_ != no_deadline) r_->deadlines().push(*this, until_);
    r_->park(h, ops, this, detail::is_task_promise_v<P>);
  }
  /// Trio's sleep is a cancel scope around sleep_forever: when its time has come but an enclosing
  /// scope is cancelled by the time the task runs (a deadline due at the same instant, whichever entered
  /// the heap first, or a cancel() earlier in the batch), that cancellation is visible and wins.
  void await_resume() const {
    runner::resume_from_park(*t_);
    if (TRIO_UNLIKELY(t_->status->effectively_cancelled)) throw runner::make_cancelled(*t_);
  }

 private:
  static abort_result abort(void* p) noexcept {
    auto* self = static_cast<sleep_awaiter*>(p);
    self->r_->deadlines().remove(*self);
    return abort_result::succeeded;
  }
  static void describe(const void* p, std::string& out) {
    const auto* self = static_cast<const sleep_awaiter*>(p);
    if (self->until_ == no_deadline) {
      out += "trio::sleep_until (no deadline: forever)";
      return;
    }
    out += "trio::sleep, wakes in ";
    append_seconds(out, self->until_ - self->r_->now());
  }
  static constexpr wait_ops ops{&abort, &describe};

  time_point until_;
  runner* r_;
  task_record* t_;
};

/// sleep_forever: a park with nothing to undo (no deadline entry, so an idle task stays small).
class [[nodiscard]] forever_awaiter {
 public:
  explicit forever_awaiter(const char* what) : t_(&current_runner(what).current_or_throw(what)) {}
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) const noexcept {
    static constexpr wait_ops ops{[](void*) noexcept { return abort_result::succeeded; },
                                  [](const void*, std::string& out) { out += "trio::sleep_forever"; }};
    t_runner->park(h, ops, nullptr, detail::is_task_promise_v<P>);
  }
  void await_resume() const { runner::resume_from_park(*t_); }

 private:
  task_record* t_;  // one pointer: an idle task's frame stays small
};

}  // namespace detail

/// Sleeps until the run's clock reaches t. A checkpoint, even when t has passed.
[[nodiscard]] inline detail::sleep_awaiter sleep_until(time_point t) {
  return detail::sleep_awaiter(t, "trio::sleep_until()");
}

/// Sleeps for d (any chrono duration; NaN or negative: std::invalid_argument). sleep(0s) is a checkpoint.
///
///     co_await trio::sleep(250ms);
///
/// The trap: the time is the run's clock, not the wall clock; under a mock clock nothing passes until
/// the clock is jumped (TRIO_TEST_CASE's clock jumps by itself when every task is blocked).
template <class Rep, class Period>
[[nodiscard]] detail::sleep_awaiter sleep(std::chrono::duration<Rep, Period> d) {
  const duration dd = detail::checked_duration(d, "trio::sleep");
  auto& r = detail::current_runner("trio::sleep()");
  return detail::sleep_awaiter(detail::saturating_add(r.now(), dd), "trio::sleep()");
}

/// Sleeps until cancelled.
[[nodiscard]] inline detail::forever_awaiter sleep_forever() {
  return detail::forever_awaiter("trio::sleep_forever()");
}

}  // namespace trio
