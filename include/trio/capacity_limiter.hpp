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

/// What capacity_limiter::statistics() reports: a snapshot.
struct capacity_limiter_statistics {
  std::size_t borrowed_tokens = 0;     ///< Tokens held now (one per borrower).
  std::size_t total_tokens = 0;        ///< The limit (total_tokens()); may be below borrowed_tokens after lowering.
  std::vector<const void*> borrowers;  ///< Who holds a token: task records, or what acquire_on_behalf_of named.
  std::size_t tasks_waiting = 0;       ///< Tasks blocked in acquire(), waiting for a token.
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
  /// A limiter with `total_tokens` tokens (0 allowed: every acquire waits until set_total_tokens raises it).
  explicit capacity_limiter(std::size_t total_tokens) : total_(total_tokens) {}
  capacity_limiter(const capacity_limiter&) = delete;
  capacity_limiter& operator=(const capacity_limiter&) = delete;

  /// What scoped_acquire() yields: releases the token when destroyed (or at its release()).
  using guard = detail::release_guard<capacity_limiter>;

  /// Takes a token for the current task, waiting first-come-first-served while none is free. A checkpoint
  /// (cancel point first; a schedule point when a token is taken at once); on cancellation no token is
  /// taken. The current task already holding one: std::logic_error. Pair it with release(), or use
  /// scoped_acquire().
  [[nodiscard]] detail::acquire_awaiter<capacity_limiter> acquire() {
    return acquire_on_behalf_of(&current("trio::capacity_limiter::acquire"));
  }
  /// acquire() for a named borrower (any address that identifies it, e.g. a thread job or a connection)
  /// instead of the current task. The same borrower twice: std::logic_error.
  [[nodiscard]] detail::acquire_awaiter<capacity_limiter> acquire_on_behalf_of(const void* borrower) {
    return {*this, borrower, "trio::capacity_limiter::acquire_on_behalf_of"};
  }
  /// Takes a token for the current task without waiting; none free (or tasks already waiting):
  /// trio::would_block. Not a checkpoint.
  void acquire_nowait() { acquire_on_behalf_of_nowait(&current("trio::capacity_limiter::acquire_nowait")); }
  /// acquire_nowait() for a named borrower.
  void acquire_on_behalf_of_nowait(const void* borrower) {
    check_not_holding(borrower);
    if (!take(borrower)) throw would_block("trio::capacity_limiter: no token is available");
  }
  /// Returns the current task's token and hands it to the first waiter. Not a checkpoint. The task
  /// holding none: std::logic_error.
  void release() { release_on_behalf_of(&current("trio::capacity_limiter::release")); }
  /// Returns `borrower`'s token; a borrower holding none: std::logic_error.
  void release_on_behalf_of(const void* borrower) {
    auto it = std::find(borrowers_.begin(), borrowers_.end(), borrower);
    if (it == borrowers_.end())
      throw std::logic_error(
          "trio::capacity_limiter::release: this borrower isn't holding any of this capacity_limiter's "
          "tokens");
    borrowers_.erase(it);
    wake_waiters();
  }

  /// The limit.
  std::size_t total_tokens() const noexcept { return total_; }
  /// Changes the limit: raising it hands the new tokens to waiters at once; lowering it takes none back
  /// (borrowers keep theirs until they release).
  void set_total_tokens(std::size_t n) noexcept {
    total_ = n;
    wake_waiters();
  }
  /// Tokens held now.
  std::size_t borrowed_tokens() const noexcept { return borrowers_.size(); }
  /// Tokens free now: total minus borrowed, or 0 when the limit was lowered below what is borrowed.
  std::size_t available_tokens() const noexcept { return total_ > borrowers_.size() ? total_ - borrowers_.size() : 0; }

  /// acquire() for the current task, then a guard that releases the token when it goes out of scope:
  /// `auto held = co_await limiter.scoped_acquire();`. A checkpoint, as acquire().
  task<guard> scoped_acquire() {
    const void* me = &current("trio::capacity_limiter::scoped_acquire");
    co_await acquire_on_behalf_of(me);
    co_return guard(*this, me);
  }
  /// A snapshot of the limiter. Not a checkpoint.
  capacity_limiter_statistics statistics() const { return {borrowers_.size(), total_, borrowers_, lot_.size()}; }

  // ---- the acquire protocol ----
  /// The acquire protocol's hook (library use): takes a token for `borrower` if one is free.
  bool try_acquire(detail::task_record&, const void* borrower) {
    check_not_holding(borrower);
    return take(borrower);
  }
  /// The acquire protocol's hook (library use): the lot where waiters park.
  parking_lot& lot() noexcept { return lot_; }
  /// The acquire protocol's hook (library use): what a guard calls; releasing nothing is no error.
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
