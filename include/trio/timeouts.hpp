#pragma once
/// \file
/// move_on_after / move_on_at, fail_after / fail_at, shielded: cancel scopes for the common cases.

#include <chrono>
#include <optional>
#include <type_traits>
#include <utility>

#include "trio/cancel_scope.hpp"
#include "trio/clock.hpp"
#include "trio/detail/task_fn_checks.hpp"
#include "trio/errors.hpp"
#include "trio/sleep.hpp"
#include "trio/task.hpp"

namespace trio {
namespace detail {

/// A scope body may take the scope it runs in (`trio::cancel_scope&`, as Trio's `with move_on_after(5)
/// as cs:`) before its own arguments; a body callable without it is called without it.
template <class F, class... A>
inline constexpr bool body_takes_scope_v =
    !std::is_invocable_v<std::remove_reference_t<F>&, std::decay_t<A>...> &&
    std::is_invocable_v<std::remove_reference_t<F>&, cancel_scope&, std::decay_t<A>...>;

/// Checks a scope body at compile time (one error naming the fix, nothing after it).
template <class F, class... A>
constexpr bool check_scope_body() {
  if constexpr (body_takes_scope_v<F, A...>)
    return check_kept_task_fn<task_fn_site::scope, F, cancel_scope&, std::decay_t<A>...>();
  else
    return check_kept_task_fn<task_fn_site::scope, F, std::decay_t<A>...>();
}

template <class F, class... A>
struct body_task {
  using type = std::invoke_result_t<std::remove_reference_t<F>&, std::decay_t<A>...>;
};
template <class F, class... A>
requires body_takes_scope_v<F, A...>
struct body_task<F, A...> {
  using type = std::invoke_result_t<std::remove_reference_t<F>&, cancel_scope&, std::decay_t<A>...>;
};
template <class F, class... A>
using body_value_t = task_value_t<typename body_task<F, A...>::type>;

/// bool for void bodies (true: the body finished), std::optional<T> otherwise.
template <class T>
using move_on_result_t = std::conditional_t<std::is_void_v<T>, bool, std::optional<T>>;

enum class scope_kind : unsigned char { move_on, fail, shield };

template <scope_kind K, class T>
using scoped_result_t = std::conditional_t<K == scope_kind::move_on, move_on_result_t<T>, T>;

/// One coroutine runs the scope and awaits the body (each nested coroutine level costs a frame and
/// two transfers, a good part of a deadline scope's price). With `relative`, the deadline is `d`
/// from entry (modern Trio): counted when the returned task starts, not when it was created. `F` is a
/// reference for a named body (used in place) and a value for a temporary (kept in the frame).
template <scope_kind K, class T, class F, class... A>
task<scoped_result_t<K, T>> run_scoped(time_point deadline, duration d, bool relative, F body, A... args) {
  runner& r = current_runner("trio::move_on_after/fail_after/shielded");
  task_record& t = r.current_or_throw("trio::move_on_after/fail_after/shielded");
  cancel_scope cs;
  scope_state& s = cs.state();
  if constexpr (K == scope_kind::shield) s.shield = true;
  if (relative) {
    s.deadline = saturating_add(r.now(), d);
    s.deadline_ahead = d > duration::zero();  // entry needs no second clock read to know it has not passed
  } else {
    s.deadline = deadline;
  }
  enter_scope(s, t);
  outcome<T> out;
  auto body_task = [&] {
    if constexpr (body_takes_scope_v<F, A...>)
      return try_invoke<T>(out.error, body, cs, std::move(args)...);
    else
      return try_invoke<T>(out.error, body, std::move(args)...);
  }();
  if (body_task) out = co_await std::move(*body_task).capture();
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

/// Starts run_scoped once the body has passed its checks.
template <scope_kind K, class F, class... A>
auto make_scoped(time_point deadline, duration d, bool relative, F&& body, A&&... args) {
  if constexpr (!check_scope_body<F, A...>()) {
    return task<>{};
  } else {
    return run_scoped<K, body_value_t<F, A...>, kept_callable_t<F>, std::decay_t<A>...>(
        deadline, d, relative, std::forward<F>(body), std::forward<A>(args)...);
  }
}

}  // namespace detail

/// Runs the body with a deadline `d` from now; when it passes, the body is cancelled and execution
/// moves on. Returns true (void body) or the value (task<T> body: std::optional<T>) if the body finished.
/// The body may take the scope as its first parameter (`trio::cancel_scope&`) to cancel it, move its
/// deadline or read cancelled_caught() afterwards inside.
///
///     bool finished = co_await trio::move_on_after(5s, fetch, url);
///     co_await trio::move_on_after(5s, [&](trio::cancel_scope& cs) -> trio::task<> { ... cs.cancel(); });
///
/// The trap: the body must reach a checkpoint to be cancelled; CPU-bound code is never interrupted.
/// A named body is used in place (it must outlive the co_await); a temporary is kept by the scope.
template <class Rep, class Period, class F, class... A>
auto move_on_after(std::chrono::duration<Rep, Period> d, F&& body, A&&... args) {
  const duration dd = detail::checked_duration(d, "trio::move_on_after");
  return detail::make_scoped<detail::scope_kind::move_on>(time_point{}, dd, true, std::forward<F>(body),
                                                          std::forward<A>(args)...);
}
/// Like move_on_after, with an absolute deadline (the run's clock; one already past cancels the body
/// at its first checkpoint).
template <class F, class... A>
auto move_on_at(time_point deadline, F&& body, A&&... args) {
  return detail::make_scoped<detail::scope_kind::move_on>(deadline, duration::zero(), false, std::forward<F>(body),
                                                          std::forward<A>(args)...);
}

/// Like move_on_after, but throws too_slow_error when its own deadline cancelled the body.
template <class Rep, class Period, class F, class... A>
auto fail_after(std::chrono::duration<Rep, Period> d, F&& body, A&&... args) {
  const duration dd = detail::checked_duration(d, "trio::fail_after");
  return detail::make_scoped<detail::scope_kind::fail>(time_point{}, dd, true, std::forward<F>(body),
                                                       std::forward<A>(args)...);
}
/// Like fail_after, with an absolute deadline: throws too_slow_error when that deadline cancelled the body.
template <class F, class... A>
auto fail_at(time_point deadline, F&& body, A&&... args) {
  return detail::make_scoped<detail::scope_kind::fail>(deadline, duration::zero(), false, std::forward<F>(body),
                                                       std::forward<A>(args)...);
}

/// Runs the body in a shielded scope: cancellation from outside does not reach it. The body may take
/// the scope (`trio::cancel_scope&`), e.g. to give the cleanup a deadline of its own.
/// The trap: a shielded body with no deadline can hang its whole nursery; give it a timeout inside.
template <class F, class... A>
auto shielded(F&& body, A&&... args) {
  return detail::make_scoped<detail::scope_kind::shield>(no_deadline, duration::zero(), false, std::forward<F>(body),
                                                         std::forward<A>(args)...);
}

}  // namespace trio
