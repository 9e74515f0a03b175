#pragma once
/// \file
/// Compile-time checks of the functions users hand to trio (run, start_soon, start, open_nursery, the
/// cancel scopes): the common mistakes become one short error that names the fix. Each check returns
/// false after its static_assert, so the caller can stop instantiating (`if constexpr`) and the
/// compiler prints no follow-on errors from deep inside <type_traits>.

#include <type_traits>

#include "trio/detail/task_traits.hpp"

namespace trio::detail {

/// g++ before 13 destroys a temporary closure (a lambda expression) or a brace-initialised aggregate
/// twice when it is created inside a `co_await` expression: whatever it owns (a std::string, a
/// unique_ptr, a channel captured by value) is released twice. Measured on g++ 12.2 under ASan:
/// `co_await trio::open_nursery([s = std::string(...)](trio::nursery&) -> trio::task<> {...})` and
/// `co_await f(holder{s})` double-free; `co_await f(std::string("x"))`, a class with a constructor, and
/// lambdas capturing only references or trivial values are fine. clang and g++ 13 are correct.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
inline constexpr bool gcc_destroys_co_await_temporaries_twice = true;
#else
inline constexpr bool gcc_destroys_co_await_temporaries_twice = false;
#endif

/// A callable passed as an rvalue that owns something: on g++ 12 it may be one of those temporaries.
/// (An rvalue reference parameter cannot tell `[s]{...}` from `std::move(named)`; both are refused
/// there, and a named callable passed by name, which the library then uses in place, is the fix.)
template <class F>
inline constexpr bool unsafe_owning_temporary_v =
    gcc_destroys_co_await_temporaries_twice && !std::is_lvalue_reference_v<F> &&
    !std::is_trivially_destructible_v<std::remove_cvref_t<F>>;

/// The scope helpers and open_nursery keep a named callable (an lvalue) by reference, in place, and
/// take ownership of a temporary: `F` as deduced by a forwarding reference, `L&` or `L`.
template <class F>
using kept_callable_t = std::conditional_t<std::is_lvalue_reference_v<F>, F, std::remove_cvref_t<F>>;

/// Where a task function was given: picks the message that shows the right call.
enum class task_fn_site { run, start_soon, start, open_nursery, scope, run_per_core };

template <class>
inline constexpr bool always_false_v = false;

/// Checks that `F`, called as an lvalue with `A...`, returns a trio::task<T>. Returns false (after
/// exactly one static_assert) when it does not.
template <task_fn_site S, class F, class... A>
constexpr bool check_task_fn() {
  using Fn = std::remove_cvref_t<F>;
  if constexpr (is_task_v<Fn>) {
    static_assert(S != task_fn_site::run,
                  "trio::run: pass the function, not the task it returns: trio::run(main_task), not "
                  "trio::run(main_task()); arguments follow it: trio::run(main_task, 1, 2)");
    static_assert(S != task_fn_site::start_soon,
                  "trio::nursery::start_soon: pass the function and its arguments, not a task: "
                  "n.start_soon(child, 1), not n.start_soon(child(1))");
    static_assert(S != task_fn_site::start,
                  "trio::nursery::start: pass the function and its arguments, not a task: "
                  "co_await n.start(server, 8080), not co_await n.start(server(8080))");
    static_assert(S != task_fn_site::open_nursery,
                  "trio::open_nursery: pass a body that takes trio::nursery&, not a task: "
                  "co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> { ... co_return; })");
    static_assert(S != task_fn_site::scope,
                  "trio cancel scopes (move_on_after, fail_after, shielded, cancel_scope::enter): pass the "
                  "function and its arguments, not a task: trio::move_on_after(1s, fetch, url), not "
                  "trio::move_on_after(1s, fetch(url))");
    static_assert(S != task_fn_site::run_per_core,
                  "trio::run_per_core: pass the function, not the task it returns: trio::run_per_core(main_task), "
                  "not trio::run_per_core(main_task()); arguments follow it: trio::run_per_core(main_task, 1, 2)");
    return false;
  } else if constexpr (!std::is_invocable_v<Fn&, A...> && S == task_fn_site::run_per_core) {
    static_assert(always_false_v<Fn>,
                  "trio::run_per_core: main cannot be called with these arguments (every runner calls "
                  "main(args...) on its own copies of the arguments given after main)");
    return false;
  } else if constexpr (!std::is_invocable_v<Fn&, A...> && S == task_fn_site::start_soon &&
                       std::is_invocable_v<Fn&, A&...>) {
    static_assert(always_false_v<Fn>,
                  "trio::nursery::start_soon: the function takes an argument by (non-const) reference, but "
                  "start_soon copies its arguments into the new task: pass std::ref(x) for a reference (x must "
                  "outlive the task), or take the parameter by value");
    return false;
  } else if constexpr (!std::is_invocable_v<Fn&, A...> && S == task_fn_site::start && std::is_invocable_v<Fn&, A&...>) {
    static_assert(always_false_v<Fn>,
                  "trio::nursery::start: the function takes an argument by (non-const) reference, but start "
                  "copies its arguments into the new task: pass std::ref(x) for a reference (x must outlive the "
                  "task), or take the parameter by value");
    return false;
  } else if constexpr (!std::is_invocable_v<Fn&, A...>) {
    static_assert(always_false_v<Fn>,
                  "trio: the function cannot be called with these arguments (open_nursery's body takes "
                  "trio::nursery&; a scope body may take trio::cancel_scope& first; a task function whose "
                  "last parameter is a trio::task_status<T> may be given without it)");
    return false;
  } else if constexpr (std::is_void_v<std::invoke_result_t<Fn&, A...>>) {
    static_assert(always_false_v<Fn>,
                  "trio: this function returns void, so it is not a trio task (a lambda without co_await "
                  "or co_return is a plain function): write []() -> trio::task<> { ... co_return; }");
    return false;
  } else if constexpr (!is_task_v<std::invoke_result_t<Fn&, A...>>) {
    static_assert(always_false_v<Fn>,
                  "trio: a task function must return trio::task<T>: declare it as trio::task<T> f(...), or "
                  "write the lambda as [](...) -> trio::task<T> { ... }");
    return false;
  } else {
    return true;
  }
}

/// Checks that every argument of start_soon / start (`A` as deduced by a forwarding reference) can be
/// stored in the new task: they are copied, or moved from an rvalue. Returns false (after exactly one
/// static_assert) when one cannot.
template <task_fn_site S, class... A>
constexpr bool check_task_args() {
  constexpr bool storable = (std::is_constructible_v<std::decay_t<A>, A> && ...);
  if constexpr (!storable) {
    static_assert(S != task_fn_site::start_soon,
                  "trio::nursery::start_soon: the arguments are copied (or moved) into the new task, and one of "
                  "them cannot be copied: pass std::move(x) to move it in, or std::ref(x) to pass a reference "
                  "(x must outlive the task)");
    static_assert(S != task_fn_site::start,
                  "trio::nursery::start: the arguments are copied (or moved) into the new task, and one of them "
                  "cannot be copied: pass std::move(x) to move it in, or std::ref(x) to pass a reference (x "
                  "must outlive the task)");
    static_assert(S == task_fn_site::start_soon || S == task_fn_site::start,
                  "trio: the arguments are copied (or moved) into the new task, and one of them cannot be "
                  "copied: pass std::move(x) to move it in, or std::ref(x) to pass a reference");
  }
  return storable;
}

/// Refuses, on g++ 12 only, an owning temporary callable that the caller is about to co_await (see
/// gcc_destroys_co_await_temporaries_twice).
template <class F>
constexpr bool check_kept_callable() {
  static_assert(!unsafe_owning_temporary_v<F>,
                "trio: g++ 12 destroys a temporary lambda that owns its captures twice when it is created "
                "inside co_await (a GCC bug fixed in g++ 13). Name the lambda and pass it by name, and trio "
                "uses it in place: auto body = [s = std::move(s)](trio::nursery& n) -> trio::task<> { ... }; "
                "co_await trio::open_nursery(body);  (the same for move_on_after, fail_after, shielded and "
                "cancel_scope::enter)");
  return !unsafe_owning_temporary_v<F>;
}

/// check_task_fn, then check_kept_callable: for the calls that keep a named callable in place.
template <task_fn_site S, class F, class... A>
constexpr bool check_kept_task_fn() {
  if constexpr (!check_task_fn<S, F, A...>())
    return false;
  else
    return check_kept_callable<F>();
}

}  // namespace trio::detail
