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

struct semaphore_statistics {
  std::size_t tasks_waiting = 0;
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
  explicit semaphore(std::size_t initial, std::optional<std::size_t> max_value = {})
      : value_(initial), max_(max_value) {
    if (max_ && initial > *max_)
      throw std::invalid_argument("trio::semaphore: the initial value " + std::to_string(initial) +
                                  " is larger than max_value " + std::to_string(*max_));
  }
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  using guard = detail::release_guard<semaphore>;

  [[nodiscard]] detail::acquire_awaiter<semaphore> acquire() { return {*this, nullptr, "trio::semaphore::acquire"}; }
  void acquire_nowait() {
    if (value_ == 0) throw would_block("trio::semaphore::acquire_nowait: the semaphore's value is 0");
    --value_;
  }
  void release() {
    if (max_ && value_ == *max_)
      throw std::logic_error("trio::semaphore::release: semaphore released too many times (its max_value is " +
                             std::to_string(*max_) + ")");
    release_for_guard(nullptr);
  }
  std::size_t value() const noexcept { return value_; }
  std::optional<std::size_t> max_value() const noexcept { return max_; }
  task<guard> scoped_acquire() {
    co_await acquire();
    co_return guard(*this, nullptr);
  }
  semaphore_statistics statistics() const noexcept { return {lot_.size()}; }

  // ---- the acquire protocol ----
  bool try_acquire(detail::task_record&, const void*) noexcept {
    if (value_ == 0) return false;
    --value_;
    return true;
  }
  parking_lot& lot() noexcept { return lot_; }
  void release_for_guard(const void*) noexcept {
    if (!lot_.unpark_one()) ++value_;  // a waiter takes the token directly
  }

 private:
  std::size_t value_;
  std::optional<std::size_t> max_;
  parking_lot lot_;
};

}  // namespace trio
