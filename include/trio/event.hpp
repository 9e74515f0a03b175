#pragma once
/// \file
/// trio::event: a one-shot flag that tasks can wait for.

#include <coroutine>
#include <cstddef>
#include <string>

#include "trio/detail/runner.hpp"
#include "trio/parking_lot.hpp"

namespace trio {

/// What event::statistics() reports.
struct event_statistics {
  std::size_t tasks_waiting = 0;  ///< Tasks blocked in wait() right now.
};

/// A one-shot flag: wait() blocks until set() is called; once set it stays set.
///
///     trio::event ready;
///     n.start_soon([&]() -> trio::task<> { co_await ready.wait(); use(); });
///     prepare(); ready.set();
///
/// The trap: there is no clear(). For a repeating signal, make a new event each round (or use a
/// memory channel).
class event {
 public:
  event() noexcept = default;
  event(const event&) = delete;
  event& operator=(const event&) = delete;

  /// Sets the flag and wakes every waiter. Idempotent; not a checkpoint.
  void set() noexcept {
    if (flag_) return;
    flag_ = true;
    lot_.unpark_all();
  }
  /// Whether set() has been called. Not a checkpoint.
  bool is_set() const noexcept { return flag_; }
  /// The number of tasks waiting right now. Not a checkpoint.
  event_statistics statistics() const noexcept { return {lot_.size()}; }

  /// What wait() returns: awaiting it blocks until the event is set (a checkpoint even when it already
  /// is; trio::cancelled if the task is cancelled while it waits).
  class [[nodiscard]] wait_awaiter : detail::lot_waiter {
   public:
    /// `label`, if given, is what the task dump says the task waits on instead of "trio::event::wait"
    /// (the library's own waits: "trio::http::client::request: GET https://... (waiting for the response)").
    explicit wait_awaiter(event& e, const std::string* label = nullptr) : ev_(&e), label_(label) {
      r_ = &detail::current_runner("trio::event::wait");
      task = &r_->current_or_throw("trio::event::wait");
      lot = &e.lot_;
    }
    wait_awaiter(const wait_awaiter&) = delete;
    wait_awaiter& operator=(const wait_awaiter&) = delete;
    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
      if (ev_->flag_) {
        r_->yield(h);  // already set: still a full checkpoint
      } else {
        parked_ = true;
        lot->waiters().push_back(*this);
        static constexpr detail::wait_ops ops{
            &detail::lot_waiter::abort, [](const void* p, std::string& out) {
              const auto* self = static_cast<const wait_awaiter*>(static_cast<const detail::lot_waiter*>(p));
              out += self->label_ ? *self->label_ : std::string("trio::event::wait (the event is not set)");
            }};
        r_->park(h, ops, static_cast<detail::lot_waiter*>(this), detail::is_task_promise_v<P>);
      }
    }
    void await_resume() const {
      if (parked_)
        detail::runner::resume_from_park(*task);
      else if (task->status->effectively_cancelled)
        throw detail::runner::make_cancelled(*task);
    }

   private:
    event* ev_;
    const std::string* label_;
    detail::runner* r_;
    bool parked_ = false;
  };

  /// Waits until the flag is set. A checkpoint, even when it is already set.
  [[nodiscard]] wait_awaiter wait() { return wait_awaiter(*this); }

 private:
  bool flag_ = false;
  parking_lot lot_;
};

}  // namespace trio
