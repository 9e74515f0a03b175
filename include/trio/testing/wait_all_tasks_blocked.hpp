#pragma once
/// \file
/// trio::testing::wait_all_tasks_blocked: wake when every other task is blocked.

#include <coroutine>

#include "trio/clock.hpp"
#include "trio/detail/runner.hpp"

namespace trio::testing {
namespace detail_wtb {

class [[nodiscard]] awaiter : trio::detail::idle_waiter {
 public:
  explicit awaiter(duration cushion) {
    r_ = &trio::detail::current_runner("trio::testing::wait_all_tasks_blocked()");
    task = &r_->current_or_throw("trio::testing::wait_all_tasks_blocked()");
    this->cushion = cushion;
  }
  awaiter(const awaiter&) = delete;
  awaiter& operator=(const awaiter&) = delete;
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) noexcept {
    r_->add_idle_waiter(*this);
    static constexpr trio::detail::wait_ops ops{&abort, [](const void* p, std::string& out) {
                                                  out += "trio::testing::wait_all_tasks_blocked (cushion ";
                                                  trio::detail::append_seconds(out,
                                                                               static_cast<const awaiter*>(p)->cushion);
                                                  out += ")";
                                                }};
    r_->park(h, ops, this, trio::detail::is_task_promise_v<P>);
  }
  void await_resume() const { trio::detail::runner::resume_from_park(*task); }

 private:
  static trio::detail::abort_result abort(void* p) noexcept {
    auto* self = static_cast<awaiter*>(p);
    trio::detail::intrusive_list<trio::detail::idle_waiter, trio::detail::idle_tag>::erase(*self);
    return trio::detail::abort_result::succeeded;
  }
  trio::detail::runner* r_;
};

}  // namespace detail_wtb

/// Returns once every other task has been blocked for `cushion` (real time) and no I/O completed.
/// Waiters with the smallest cushion wake first; equal cushions wake together. Cancellable.
///
/// The trap: "blocked" includes sleeping; with an autojumping clock, waiters wake before time jumps.
[[nodiscard]] inline detail_wtb::awaiter wait_all_tasks_blocked(duration cushion = duration::zero()) {
  return detail_wtb::awaiter(cushion);
}

}  // namespace trio::testing
