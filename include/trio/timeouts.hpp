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

template <class T, class F, class... A>
task<move_on_result_t<T>> move_on_at_impl(time_point deadline, bool ahead, F body, A... args) {
  cancel_scope scope(deadline);
  scope.state().deadline_ahead = ahead;
  if constexpr (std::is_void_v<T>) {
    co_await scope.enter(std::move(body), std::move(args)...);
    co_return !scope.cancelled_caught();
  } else {
    co_return co_await scope.enter(std::move(body), std::move(args)...);
  }
}

template <class T, class F, class... A>
task<move_on_result_t<T>> move_on_after_impl(duration d, F body, A... args) {
  // The deadline counts from entry (modern Trio), i.e. from when the returned task starts.
  co_return co_await move_on_at_impl<T>(saturating_add(current_time(), d), d > duration::zero(), std::move(body),
                                        std::move(args)...);
}

template <class T, class F, class... A>
task<T> fail_at_impl(time_point deadline, bool ahead, F body, A... args) {
  cancel_scope scope(deadline);
  scope.state().deadline_ahead = ahead;
  if constexpr (std::is_void_v<T>) {
    co_await scope.enter(std::move(body), std::move(args)...);
    if (scope.cancelled_caught()) throw too_slow_error();
  } else {
    std::optional<T> r = co_await scope.enter(std::move(body), std::move(args)...);
    if (scope.cancelled_caught() || !r) throw too_slow_error();
    co_return std::move(*r);
  }
}

template <class T, class F, class... A>
task<T> fail_after_impl(duration d, F body, A... args) {
  co_return co_await fail_at_impl<T>(saturating_add(current_time(), d), d > duration::zero(), std::move(body),
                                     std::move(args)...);
}

template <class T, class F, class... A>
task<T> shielded_impl(F body, A... args) {
  cancel_scope scope(no_deadline, /*shield=*/true);
  if constexpr (std::is_void_v<T>) {
    co_await scope.enter(std::move(body), std::move(args)...);
  } else {
    co_return std::move(*co_await scope.enter(std::move(body), std::move(args)...));
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
  return detail::move_on_after_impl<detail::body_value_t<F, A...>>(dd, std::forward<F>(body), std::forward<A>(args)...);
}
template <class F, class... A>
auto move_on_at(time_point deadline, F&& body, A&&... args) {
  return detail::move_on_at_impl<detail::body_value_t<F, A...>>(deadline, false, std::forward<F>(body),
                                                                std::forward<A>(args)...);
}

/// Like move_on_after, but throws too_slow_error when its own deadline cancelled the body.
template <class Rep, class Period, class F, class... A>
auto fail_after(std::chrono::duration<Rep, Period> d, F&& body, A&&... args) {
  const duration dd = detail::checked_duration(d, "trio::fail_after");
  return detail::fail_after_impl<detail::body_value_t<F, A...>>(dd, std::forward<F>(body), std::forward<A>(args)...);
}
template <class F, class... A>
auto fail_at(time_point deadline, F&& body, A&&... args) {
  return detail::fail_at_impl<detail::body_value_t<F, A...>>(deadline, false, std::forward<F>(body),
                                                             std::forward<A>(args)...);
}

/// Runs the body in a shielded scope: cancellation from outside does not reach it.
/// The trap: a shielded body with no deadline can hang its whole nursery; give it a timeout inside.
template <class F, class... A>
auto shielded(F&& body, A&&... args) {
  return detail::shielded_impl<detail::body_value_t<F, A...>>(std::forward<F>(body), std::forward<A>(args)...);
}

}  // namespace trio
