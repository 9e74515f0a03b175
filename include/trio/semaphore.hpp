#pragma once
/// \file
/// trio::semaphore: a counter of available tokens, optionally bounded.

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>

#include "trio/detail/acquire.hpp"
#include "trio/errors.hpp"
#include "trio/parking_lot.hpp"
#include "trio/task.hpp"

namespace trio {

/// What semaphore::statistics() reports.
struct semaphore_statistics {
  std::size_t tasks_waiting = 0;  ///< Tasks blocked in acquire() (the value is 0 while any wait).
};

/// A counter: acquire() takes one (waiting while it is 0), release() gives one back (or hands it
/// straight to the first waiter). With max_value, releasing past it is std::logic_error.
///
///     trio::semaphore slots(3);
///     auto held = co_await slots.scoped_acquire();   // at most 3 tasks here at once
///
/// The trap: a semaphore has no owner; any task may release, so a missing acquire goes unnoticed
/// unless you give it a max_value.
class semaphore {
 public:
  /// A semaphore whose value starts at `initial`. `max_value` (empty, the default: unbounded) makes
  /// release() past it std::logic_error; an `initial` above it is std::invalid_argument.
  explicit semaphore(std::size_t initial, std::optional<std::size_t> max_value = {})
      : value_(initial), max_(max_value) {
    if (max_ && initial > *max_)
      throw std::invalid_argument("trio::semaphore: the initial value " + std::to_string(initial) +
                                  " is larger than max_value " + std::to_string(*max_));
  }
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  /// What scoped_acquire() yields: releases the token when destroyed (or at its release()).
  using guard = detail::release_guard<semaphore>;

  /// Takes one from the value, waiting first-come-first-served while it is 0. A checkpoint (cancel point
  /// first; a schedule point when it is taken at once); on cancellation nothing is taken.
  [[nodiscard]] detail::acquire_awaiter<semaphore> acquire() { return {*this, nullptr, "trio::semaphore::acquire"}; }
  /// Takes one without waiting; at 0: trio::would_block. Not a checkpoint.
  void acquire_nowait() {
    if (value_ == 0) throw would_block("trio::semaphore::acquire_nowait: the semaphore's value is 0");
    --value_;
  }
  /// Gives one back, straight to the first waiter if there is one. Not a checkpoint. Any task may call
  /// it; at max_value: std::logic_error.
  void release() {
    if (max_ && value_ == *max_)
      throw std::logic_error("trio::semaphore::release: semaphore released too many times (its max_value is " +
                             std::to_string(*max_) + ")");
    release_for_guard(nullptr);
  }
  /// The value now: how many acquire() calls would succeed without waiting.
  std::size_t value() const noexcept { return value_; }
  /// The bound given to the constructor; empty: unbounded.
  std::optional<std::size_t> max_value() const noexcept { return max_; }
  /// acquire(), then a guard that releases when it goes out of scope. A checkpoint, as acquire().
  task<guard> scoped_acquire() {
    co_await acquire();
    co_return guard(*this, nullptr);
  }
  /// A snapshot: the number waiting. Not a checkpoint.
  semaphore_statistics statistics() const noexcept { return {lot_.size()}; }

  // ---- the acquire protocol ----
  /// The acquire protocol's hook (library use): takes one if the value is not 0.
  bool try_acquire(detail::task_record&, const void*) noexcept {
    if (value_ == 0) return false;
    --value_;
    return true;
  }
  /// The acquire protocol's hook (library use): the lot where waiters park.
  parking_lot& lot() noexcept { return lot_; }
  /// The acquire protocol's hook (library use): release() without the max_value check.
  void release_for_guard(const void*) noexcept {
    if (!lot_.unpark_one()) ++value_;  // a waiter takes the token directly
  }

 private:
  std::size_t value_;
  std::optional<std::size_t> max_;
  parking_lot lot_;
};

}  // namespace trio
