#pragma once
/// \file
/// trio::parking_lot: a FIFO queue of parked tasks, the base of every synchronisation primitive.

#include <coroutine>
#include <cstddef>
#include <exception>
#include <string>

#include "trio/detail/intrusive_list.hpp"
#include "trio/detail/runner.hpp"

namespace trio {

class parking_lot;

namespace detail {

template <class Prim>
class acquire_awaiter;

struct lot_tag {};

/// One parked task. It lives in the parked task's frame (inside the awaiter).
struct lot_waiter : list_hook<lot_tag> {
  task_record* task = nullptr;
  parking_lot* lot = nullptr;
  const void* data = nullptr;  // what the primitive needs to know about this waiter (a borrower, ...)

  /// The abort function of every lot-based wait: leave whichever lot the waiter is in; undone.
  static abort_result abort(void* self) noexcept {
    intrusive_list<lot_waiter, lot_tag>::erase(*static_cast<lot_waiter*>(self));
    return abort_result::succeeded;
  }
};

}  // namespace detail

/// What parking_lot::statistics() reports.
struct parking_lot_statistics {
  std::size_t tasks_waiting = 0;  ///< Tasks parked in the lot now.
};

/// A FIFO queue of parked tasks: park() blocks until someone calls unpark(). Every primitive of
/// trio/sync.hpp is built on it; use it to build your own.
///
///     trio::parking_lot lot;
///     co_await lot.park();          // in one task
///     lot.unpark();                 // in another: the first parked task wakes (FIFO)
///
/// The trap: park() always blocks, so nothing else makes it return; a task cancelled while parked
/// leaves the lot, and unpark() never wakes a task that is not parked any more.
class parking_lot {
 public:
  parking_lot() noexcept = default;
  parking_lot(const parking_lot&) = delete;
  parking_lot& operator=(const parking_lot&) = delete;

  /// What park() returns: awaiting it blocks the task in the lot until unparked (a checkpoint; a task
  /// cancelled while parked leaves the lot and gets trio::cancelled).
  class [[nodiscard]] park_awaiter : detail::lot_waiter {
   public:
    /// Parks in `lot` with `data` attached (see front_data()); park() makes these.
    explicit park_awaiter(parking_lot& lot, const void* data = nullptr) {
      r_ = &detail::current_runner("trio::parking_lot::park");
      task = &r_->current_or_throw("trio::parking_lot::park");
      this->lot = &lot;
      this->data = data;
    }
    park_awaiter(const park_awaiter&) = delete;
    park_awaiter& operator=(const park_awaiter&) = delete;
    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
      lot->waiters_.push_back(*this);
      static constexpr detail::wait_ops ops{&detail::lot_waiter::abort, [](const void* p, std::string& out) {
                                              const auto* w = static_cast<const detail::lot_waiter*>(p);
                                              out += "trio::parking_lot::park (" + std::to_string(w->lot->size()) +
                                                     " parked in this lot)";
                                            }};
      r_->park(h, ops, static_cast<detail::lot_waiter*>(this), detail::is_task_promise_v<P>);
    }
    void await_resume() const { detail::runner::resume_from_park(*task); }

   private:
    detail::runner* r_;
  };

  /// Blocks the current task until unparked (or cancelled).
  [[nodiscard]] park_awaiter park() { return park_awaiter(*this); }
  /// Blocks with `data` attached to the waiter (see front_data()).
  [[nodiscard]] park_awaiter park(const void* data) { return park_awaiter(*this, data); }

  /// Wakes up to n tasks, first parked first; returns how many woke. Not a checkpoint.
  std::size_t unpark(std::size_t n = 1) noexcept {
    std::size_t woken = 0;
    while (woken < n) {
      detail::lot_waiter* w = waiters_.pop_front();
      if (!w) break;
      detail::t_runner->wake(*w->task);
      ++woken;
    }
    return woken;
  }
  /// Wakes every parked task; returns how many woke. Not a checkpoint.
  std::size_t unpark_all() noexcept { return unpark(static_cast<std::size_t>(-1)); }

  /// Moves up to n parked tasks, first parked first, to the end of `to` (they stay parked).
  void repark(parking_lot& to, std::size_t n = 1) noexcept {
    for (std::size_t i = 0; i < n && !waiters_.empty(); ++i) {
      detail::lot_waiter* w = waiters_.pop_front();
      w->lot = &to;
      to.waiters_.push_back(*w);
    }
  }
  /// Moves every parked task, in order, to the end of `to` (they stay parked).
  void repark_all(parking_lot& to) noexcept { repark(to, static_cast<std::size_t>(-1)); }

  /// The number of tasks parked now.
  std::size_t size() const noexcept { return waiters_.size(); }
  /// Whether no task is parked.
  bool empty() const noexcept { return waiters_.empty(); }
  /// True when some task is parked (Trio's `bool(lot)`).
  explicit operator bool() const noexcept { return !empty(); }
  /// A snapshot: the number parked. Not a checkpoint.
  parking_lot_statistics statistics() const noexcept { return {size()}; }

 private:
  // The library's own primitives wake and inspect waiters directly; users park and unpark.
  friend class capacity_limiter;
  friend class event;
  friend class lock;
  friend class semaphore;
  template <class Prim>
  friend class detail::acquire_awaiter;

  /// Wakes the first waiter (with `error`, if given) and returns its task, or nullptr.
  detail::task_record* unpark_one() noexcept {
    detail::lot_waiter* w = waiters_.pop_front();
    if (!w) return nullptr;
    detail::t_runner->wake(*w->task);
    return w->task;
  }
  detail::task_record* unpark_one(std::exception_ptr error) noexcept {
    detail::lot_waiter* w = waiters_.pop_front();
    if (!w) return nullptr;
    const auto kind = error ? detail::wake_kind::error : detail::wake_kind::value;
    detail::t_runner->reschedule(*w->task, kind, std::move(error));
    return w->task;
  }
  /// The data the first waiter parked with.
  const void* front_data() noexcept { return waiters_.front().data; }
  /// The queue itself, for primitives that park through their own awaiter.
  detail::intrusive_list<detail::lot_waiter, detail::lot_tag>& waiters() noexcept { return waiters_; }
  /// Wakes every waiter with `error`.
  void unpark_all_with(const std::exception_ptr& error) noexcept {
    while (unpark_one(error)) {
    }
  }

  detail::intrusive_list<detail::lot_waiter, detail::lot_tag> waiters_;
};

}  // namespace trio
