#pragma once
/// \file
/// trio::lock and trio::strict_fifo_lock: mutual exclusion between tasks, handed over in FIFO order.

#include <cstddef>
#include <stdexcept>
#include <string>

#include "trio/detail/acquire.hpp"
#include "trio/detail/runner.hpp"
#include "trio/errors.hpp"
#include "trio/parking_lot.hpp"
#include "trio/task.hpp"

namespace trio {

/// What lock::statistics() reports: a snapshot.
struct lock_statistics {
  bool locked = false;                         ///< Whether a task holds the lock.
  const lowlevel::task_info* owner = nullptr;  ///< The task holding it; nullptr when unlocked.
  std::size_t tasks_waiting = 0;               ///< Tasks blocked in acquire().
};

/// Mutual exclusion between tasks. Waiters are served first come, first served, and release() hands
/// the lock straight to the first of them (no barging).
///
///     trio::lock mutex;
///     { auto held = co_await mutex.scoped_acquire(); co_await write_record(); }   // released here
///
/// The trap: a lock belongs to the task that acquired it. Releasing it from another task is
/// std::logic_error, and if the owner exits while holding it, every waiter (and every later acquire)
/// gets broken_resource_error.
class lock {
 public:
  /// An unlocked lock.
  lock() noexcept {
    exit_hook_.on_owner_exit = &on_owner_exit;
    exit_hook_.ctx = this;
  }
  lock(const lock&) = delete;
  lock& operator=(const lock&) = delete;
  ~lock() { detail::unhold(exit_hook_); }

  /// What scoped_acquire() yields: releases the lock when destroyed (or at its release()).
  using guard = detail::release_guard<lock>;

  /// Acquires the lock: a checkpoint even when it is free.
  [[nodiscard]] detail::acquire_awaiter<lock> acquire() { return {*this, nullptr, "trio::lock::acquire"}; }
  /// Acquires the lock if it is free and nobody waits; else throws would_block. Not a checkpoint.
  void acquire_nowait() {
    auto& t = detail::current_runner("trio::lock::acquire_nowait").current_or_throw("trio::lock::acquire_nowait");
    if (!try_acquire(t, nullptr)) throw would_block("trio::lock::acquire_nowait: the lock is held by another task");
  }
  /// Releases the lock; the first waiter, if any, owns it at once. Not a checkpoint.
  void release() {
    auto& t = detail::current_runner("trio::lock::release").current_or_throw("trio::lock::release");
    if (owner_ != &t)
      throw std::logic_error(
          "trio::lock::release: can't release a lock you don't own (only the task that acquired it "
          "may release it)");
    release_for_guard(nullptr);
  }
  /// Whether a task holds the lock now.
  bool locked() const noexcept { return owner_ != nullptr; }
  /// Acquires the lock and returns a guard that releases it when destroyed.
  task<guard> scoped_acquire() {
    co_await acquire();
    co_return guard(*this, nullptr);
  }
  /// A snapshot: locked, the owner, the number waiting. Not a checkpoint.
  lock_statistics statistics() const noexcept { return {owner_ != nullptr, owner_, lot_.size()}; }

  // ---- the acquire protocol (detail::acquire_awaiter) ----
  /// The acquire protocol's hook (library use): takes the lock for `t` if it is free and nobody waits.
  /// Throws broken_resource_error after an owner exited holding it, std::logic_error when `t` holds it.
  bool try_acquire(detail::task_record& t, const void*) {
    if (broken_)
      throw broken_resource_error("trio::lock: the owner of this lock exited without releasing it (" + broken_owner_ +
                                  ")");
    if (owner_ == &t)
      throw std::logic_error(
          "trio::lock: attempt to re-acquire a lock this task already holds (trio locks are not "
          "recursive)");
    if (owner_ || !lot_.empty()) return false;
    set_owner(&t);
    return true;
  }
  /// The acquire protocol's hook (library use): the lot where waiters park.
  parking_lot& lot() noexcept { return lot_; }
  /// The acquire protocol's hook (library use): releases without checking the owner (what a guard calls).
  void release_for_guard(const void*) noexcept {
    detail::unhold(exit_hook_);
    set_owner(lot_.unpark_one());
  }

 private:
  void set_owner(detail::task_record* t) noexcept {
    owner_ = t;
    if (t) detail::hold(*t, exit_hook_);
  }
  static void on_owner_exit(detail::owner_exit_hook* h) noexcept {
    lock* self = static_cast<lock*>(h->ctx);
    self->broken_ = true;
    try {
      self->broken_owner_ = "task #" + std::to_string(self->owner_->id) + " " + self->owner_->name();
    } catch (...) {
    }
    self->owner_ = nullptr;
    self->lot_.unpark_all_with(std::make_exception_ptr(broken_resource_error(
        "trio::lock: the owner of this lock exited without releasing it (" + self->broken_owner_ + ")")));
  }

  parking_lot lot_;
  detail::task_record* owner_ = nullptr;
  detail::owner_exit_hook exit_hook_;
  bool broken_ = false;
  std::string broken_owner_;
};

/// A lock that is guaranteed strictly FIFO (trio::lock already is; the name says it is required).
class strict_fifo_lock : public lock {};

}  // namespace trio
