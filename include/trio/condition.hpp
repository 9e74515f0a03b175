#pragma once
/// \file
/// trio::condition: wait for a notification while holding a lock.

#include <cstddef>
#include <memory>
#include <stdexcept>

#include "trio/cancel_scope.hpp"
#include "trio/lock.hpp"
#include "trio/parking_lot.hpp"
#include "trio/task.hpp"

namespace trio {

/// What condition::statistics() reports: a snapshot.
struct condition_statistics {
  std::size_t tasks_waiting = 0;  ///< Tasks blocked in wait() and not yet notified.
  trio::lock_statistics lock;     ///< The underlying lock's statistics (notified tasks wait there).
};

/// A condition variable over a trio::lock (its own, or one you give it).
///
///     co_await cond.acquire();
///     while (!ready) co_await cond.wait();    // releases the lock while waiting, holds it again after
///     cond.release();
///
/// The trap: wait() re-acquires the lock before it returns, even when it is cancelled, so a
/// `finally`-style cleanup after a cancelled wait still holds the lock and must release it.
class condition {
 public:
  /// A condition with a lock of its own.
  condition() : own_(std::make_unique<trio::lock>()), lock_(own_.get()) {}
  /// A condition over `l`, which must outlive it.
  explicit condition(trio::lock& l) noexcept : lock_(&l) {}
  condition(const condition&) = delete;
  condition& operator=(const condition&) = delete;

  /// Acquires the underlying lock (lock::acquire: a checkpoint).
  [[nodiscard]] auto acquire() { return lock_->acquire(); }
  /// lock::acquire_nowait on the underlying lock: trio::would_block when it is held.
  void acquire_nowait() { lock_->acquire_nowait(); }
  /// lock::release on the underlying lock: std::logic_error unless the current task holds it.
  void release() { lock_->release(); }
  /// Whether the underlying lock is held.
  bool locked() const noexcept { return lock_->locked(); }
  /// The underlying lock.
  trio::lock& lock() noexcept { return *lock_; }

  /// Releases the lock, waits for notify(), and re-acquires the lock (also when cancelled, shielded).
  task<void> wait() {
    check_owner("wait");
    lock_->release();
    std::exception_ptr err;
    try {
      // Woken by notify(): reparked onto the lock's queue, we own the lock when this returns.
      co_await lot_.park();
    } catch (...) {
      err = std::current_exception();
    }
    if (err) {
      cancel_scope shield(no_deadline, true);
      co_await shield.enter([this]() -> task<> { co_await lock_->acquire(); });
      std::rethrow_exception(err);
    }
  }
  /// Wakes up to n waiters (they then queue for the lock). Requires holding the lock.
  void notify(std::size_t n = 1) {
    check_owner("notify");
    lot_.repark(lock_->lot(), n);
  }
  /// Wakes every waiter (they then queue for the lock). Requires holding the lock (std::logic_error).
  /// Not a checkpoint.
  void notify_all() {
    check_owner("notify_all");
    lot_.repark_all(lock_->lot());
  }
  /// A snapshot of the waiters and the lock. Not a checkpoint.
  condition_statistics statistics() const noexcept { return {lot_.size(), lock_->statistics()}; }

 private:
  void check_owner(const char* what) const {
    auto& r = detail::current_runner("trio::condition");
    if (lock_->statistics().owner != r.current())
      throw std::logic_error(std::string("trio::condition::") + what +
                             ": must hold the condition's lock (acquire() first)");
  }

  std::unique_ptr<trio::lock> own_;
  trio::lock* lock_;
  parking_lot lot_;
};

}  // namespace trio
