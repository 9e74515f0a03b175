#pragma once
/// \file
/// trio::capacity_limiter: at most N borrowers hold a token at once; each borrower holds at most one.

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <vector>

#include "trio/detail/acquire.hpp"
#include "trio/errors.hpp"
#include "trio/parking_lot.hpp"
#include "trio/task.hpp"

namespace trio {

struct capacity_limiter_statistics {
  std::size_t borrowed_tokens = 0;
  std::size_t total_tokens = 0;
  std::vector<const void*> borrowers;
  std::size_t tasks_waiting = 0;
};

/// Limits how many borrowers use a resource at once. A borrower is the current task unless you name
/// one (acquire_on_behalf_of), and holds at most one token. total_tokens can change at any time:
/// raising it wakes waiters at once, lowering it never takes tokens back. 0 is allowed.
///
///     trio::capacity_limiter db_connections(10);
///     auto held = co_await db_connections.scoped_acquire();
///
/// The trap: the same borrower acquiring twice is std::logic_error, not a second token.
class capacity_limiter {
 public:
  explicit capacity_limiter(std::size_t total_tokens) : total_(total_tokens) {}
  capacity_limiter(const capacity_limiter&) = delete;
  capacity_limiter& operator=(const capacity_limiter&) = delete;

  using guard = detail::release_guard<capacity_limiter>;

  [[nodiscard]] detail::acquire_awaiter<capacity_limiter> acquire() {
    return acquire_on_behalf_of(&current("trio::capacity_limiter::acquire"));
  }
  [[nodiscard]] detail::acquire_awaiter<capacity_limiter> acquire_on_behalf_of(const void* borrower) {
    return {*this, borrower, "trio::capacity_limiter::acquire_on_behalf_of"};
  }
  void acquire_nowait() { acquire_on_behalf_of_nowait(&current("trio::capacity_limiter::acquire_nowait")); }
  void acquire_on_behalf_of_nowait(const void* borrower) {
    check_not_holding(borrower);
    if (!take(borrower)) throw would_block("trio::capacity_limiter: no token is available");
  }
  void release() { release_on_behalf_of(&current("trio::capacity_limiter::release")); }
  void release_on_behalf_of(const void* borrower) {
    auto it = std::find(borrowers_.begin(), borrowers_.end(), borrower);
    if (it == borrowers_.end())
      throw std::logic_error(
          "trio::capacity_limiter::release: this borrower isn't holding any of this capacity_limiter's "
          "tokens");
    borrowers_.erase(it);
    wake_waiters();
  }

  std::size_t total_tokens() const noexcept { return total_; }
  void set_total_tokens(std::size_t n) noexcept {
    total_ = n;
    wake_waiters();
  }
  std::size_t borrowed_tokens() const noexcept { return borrowers_.size(); }
  std::size_t available_tokens() const noexcept { return total_ > borrowers_.size() ? total_ - borrowers_.size() : 0; }

  task<guard> scoped_acquire() {
    const void* me = &current("trio::capacity_limiter::scoped_acquire");
    co_await acquire_on_behalf_of(me);
    co_return guard(*this, me);
  }
  capacity_limiter_statistics statistics() const { return {borrowers_.size(), total_, borrowers_, lot_.size()}; }

  // ---- the acquire protocol ----
  bool try_acquire(detail::task_record&, const void* borrower) {
    check_not_holding(borrower);
    return take(borrower);
  }
  parking_lot& lot() noexcept { return lot_; }
  void release_for_guard(const void* borrower) noexcept {
    auto it = std::find(borrowers_.begin(), borrowers_.end(), borrower);
    if (it != borrowers_.end()) borrowers_.erase(it);
    wake_waiters();
  }

 private:
  static detail::task_record& current(const char* what) { return detail::current_runner(what).current_or_throw(what); }
  void check_not_holding(const void* borrower) const {
    if (std::find(borrowers_.begin(), borrowers_.end(), borrower) != borrowers_.end())
      throw std::logic_error(
          "trio::capacity_limiter: this borrower is already holding one of this capacity_limiter's "
          "tokens");
  }
  bool take(const void* borrower) {
    if (borrowers_.size() >= total_ || !lot_.empty()) return false;
    borrowers_.push_back(borrower);
    return true;
  }
  /// Hands free tokens to waiters, first come first served.
  void wake_waiters() noexcept {
    while (borrowers_.size() < total_ && !lot_.empty()) {
      const void* b = lot_.front_data();
      try {
        borrowers_.push_back(b);
      } catch (...) {
        return;  // out of memory: the waiter stays parked
      }
      lot_.unpark_one();
    }
  }

  std::size_t total_;
  std::vector<const void*> borrowers_;
  parking_lot lot_;
};

}  // namespace trio
