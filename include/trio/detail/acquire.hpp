#pragma once
/// \file
/// The acquire protocol shared by lock, semaphore and capacity_limiter (Trio's): a cancel point; then
/// take the resource at once (a schedule point follows) or park in the primitive's lot until a
/// release hands it over. Awaiters hold only pointers and flags (g++ 12 and co_await temporaries).

#include <coroutine>
#include <string>

#include "trio/detail/runner.hpp"
#include "trio/parking_lot.hpp"

namespace trio::detail {

/// Prim provides: bool try_acquire(task_record&, const void* data) (may throw for misuse) and
/// parking_lot& lot().
template <class Prim>
class [[nodiscard]] acquire_awaiter : lot_waiter {
 public:
  acquire_awaiter(Prim& prim, const void* data, const char* what) : prim_(&prim), what_(what) {
    r_ = &current_runner(what);
    task = &r_->current_or_throw(what);
    this->data = data;
    lot = &prim.lot();
  }
  acquire_awaiter(const acquire_awaiter&) = delete;
  acquire_awaiter& operator=(const acquire_awaiter&) = delete;

  bool await_ready() {
    if (task->status->effectively_cancelled) {
      cancelled_ = true;  // a cancel point: nothing is taken
      return true;
    }
    acquired_ = prim_->try_acquire(*task, data);
    return false;
  }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) noexcept {
    if (acquired_) {
      r_->yield(h);  // a schedule point; never cancelled
    } else {
      lot->waiters().push_back(*this);
      r_->park(h, ops, static_cast<lot_waiter*>(this), is_task_promise_v<P>);
    }
  }
  void await_resume() const {
    if (cancelled_) throw runner::make_cancelled(*task);
    if (!acquired_) runner::resume_from_park(*task);  // a release handed the resource over
  }

 private:
  static void describe(const void* p, std::string& out) {
    const auto* self = static_cast<const acquire_awaiter*>(static_cast<const lot_waiter*>(p));
    const Prim& prim = *self->prim_;
    out += self->what_;
    if constexpr (requires { prim.statistics().owner; }) {
      if (const auto* owner = prim.statistics().owner)
        out += " (held by task #" + std::to_string(owner->id()) + " " + owner->name() + ")";
      else
        out += " (free; handed to the first waiter)";
    } else if constexpr (requires { prim.total_tokens(); }) {
      out += " (" + std::to_string(prim.borrowed_tokens()) + " of " + std::to_string(prim.total_tokens()) +
             " tokens borrowed)";
    } else if constexpr (requires { prim.value(); }) {
      out += " (value " + std::to_string(prim.value()) + ")";
    }
    out += ", " + std::to_string(prim.statistics().tasks_waiting) + " waiting";
  }
  static constexpr wait_ops ops{&lot_waiter::abort, &describe};

  Prim* prim_;
  const char* what_;
  runner* r_;
  bool cancelled_ = false;
  bool acquired_ = false;
};

/// Releases what it holds when destroyed (scoped_acquire()).
template <class Prim>
class [[nodiscard]] release_guard {
 public:
  release_guard(Prim& p, const void* borrower) noexcept : p_(&p), borrower_(borrower) {}
  release_guard(release_guard&& o) noexcept : p_(std::exchange(o.p_, nullptr)), borrower_(o.borrower_) {}
  release_guard& operator=(release_guard&&) = delete;
  ~release_guard() { release(); }
  /// Releases now instead of at destruction.
  void release() noexcept {
    if (p_) std::exchange(p_, nullptr)->release_for_guard(borrower_);
  }

 private:
  Prim* p_;
  const void* borrower_;
};

}  // namespace trio::detail
