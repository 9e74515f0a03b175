#pragma once
/// \file
/// move_on_after / move_on_at, fail_after / fail_at, shielded: cancel scopes for the common cases.

#include <chrono>
#include <optional>
#include <type_traits>
#include <utility>

#include "trio/cancel_scope.hpp"
#include "trio/clock.hpp"
#include "trio/errors.hpp"
#include "trio/sleep.hpp"
#include "trio/task.hpp"

namespace trio {
namespace detail {

template <class F, class... A>
using body_value_t = task_value_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>>;

/// bool for void bodies (true: the body finished), std::optional<T> otherwise.
template <class T>
using move_on_result_t = std::conditional_t<std::is_void_v<T>, bool, std::optional<T>>;

enum class scope_kind : unsigned char { move_on, fail, shield };

template <scope_kind K, class T>
using scoped_result_t = std::conditional_t<K == scope_kind::move_on, move_on_result_t<T>, T>;

/// One coroutine runs the scope and awaits the body (each nested coroutine level costs a frame and
/// two transfers, a good part of a deadline scope's price). With `relative`, the deadline is `d`
/// from entry (modern Trio): counted when the returned task starts, not when it was created.
template <scope_kind K, class T, class F, class... A>
task<scoped_result_t<K, T>> run_scoped(time_point deadline, duration d, bool relative, F body, A... args) {
  runner& r = current_runner("trio::move_on_after/fail_after/shielded");
  task_record& t = r.current_or_throw("trio::move_on_after/fail_after/shielded");
  scope_state s;
  if constexpr (K == scope_kind::shield) s.shield = true;
  if (relative) {
    s.deadline = saturating_add(r.now(), d);
    s.deadline_ahead = d > duration::zero();  // entry needs no second clock read to know it has not passed
  } else {
    s.deadline = deadline;
  }
  enter_scope(s, t);
  outcome<T> out;
  if (auto body_task = try_invoke<T>(out.error, std::move(body), std::move(args)...))
    out = co_await std::move(*body_task).capture();
  if (std::exception_ptr err = exit_scope(s, t, std::move(out.error))) std::rethrow_exception(err);
  if constexpr (K == scope_kind::move_on) {
    if constexpr (std::is_void_v<T>)
      co_return !s.caught;
    else
      co_return std::move(out.value);
  } else {
    if constexpr (K == scope_kind::fail)
      if (s.caught) throw too_slow_error();
    if constexpr (!std::is_void_v<T>) {
      if (!out.value) throw too_slow_error();
      co_return std::move(*out.value);
    }
  }
}

}  // namespace detail

/// Runs the body with a deadline `d` from now; when it passes, the body is cancelled and execution
/// moves on. Returns true (void body) or the value (task<T> body: std::optional<T>) if the body finished.
///
///     bool finished = co_await trio::move_on_after(5s, fetch, url);
///
/// The trap: the body must reach a checkpoint to be cancelled; CPU-bound code is never interrupted.
template <class Rep, class Period, class F, class... A>
auto move_on_after(std::chrono::duration<Rep, Period> d, F&& body, A&&... args) {
  const duration dd = detail::checked_duration(d, "trio::move_on_after");
  return detail::run_scoped<detail::scope_kind::move_on, detail::body_value_t<F, A...>>(
      time_point{}, dd, true, std::forward<F>(body), std::forward<A>(args)...);
}
template <class F, class... A>
auto move_on_at(time_point deadline, F&& body, A&&... args) {
  return detail::run_scoped<detail::scope_kind::move_on, detail::body_value_t<F, A...>>(
      deadline, duration::zero(), false, std::forward<F>(body), std::forward<A>(args)...);
}

/// Like move_on_after, but throws too_slow_error when its own deadline cancelled the body.
template <class Rep, class Period, class F, class... A>
auto fail_after(std::chrono::duration<Rep, Period> d, F&& body, A&&... args) {
  const duration dd = detail::checked_duration(d, "trio::fail_after");
  return detail::run_scoped<detail::scope_kind::fail, detail::body_value_t<F, A...>>(
      time_point{}, dd, true, std::forward<F>(body), std::forward<A>(args)...);
}
template <class F, class... A>
auto fail_at(time_point deadline, F&& body, A&&... args) {
  return detail::run_scoped<detail::scope_kind::fail, detail::body_value_t<F, A...>>(
      deadline, duration::zero(), false, std::forward<F>(body), std::forward<A>(args)...);
}

/// Runs the body in a shielded scope: cancellation from outside does not reach it.
/// The trap: a shielded body with no deadline can hang its whole nursery; give it a timeout inside.
template <class F, class... A>
auto shielded(F&& body, A&&... args) {
  return detail::run_scoped<detail::scope_kind::shield, detail::body_value_t<F, A...>>(
      no_deadline, duration::zero(), false, std::forward<F>(body), std::forward<A>(args)...);
}

}  // namespace trio
