#pragma once
/// \file
/// trio::cancel_scope: cancellation and deadlines for a block of code.

#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "trio/clock.hpp"
#include "trio/detail/runner.hpp"
#include "trio/detail/task_fn_checks.hpp"
#include "trio/task.hpp"

namespace trio {

/// A region of code that can be cancelled as a unit, explicitly or by a deadline.
///
///     trio::cancel_scope scope(trio::current_time() + 5s);
///     co_await scope.enter([]() -> trio::task<> { co_await trio::sleep_forever(); });
///     if (scope.cancelled_caught()) { /* the deadline ended it */ }
///
/// The trap: a scope catches only the cancellation it is responsible for. If an enclosing scope is
/// cancelled too, the trio::cancelled keeps going up, and `enter` rethrows it.
class cancel_scope {
 public:
  cancel_scope() noexcept = default;
  /// A scope that cancels itself at `deadline` (no_deadline: never) and, if `shield`, protects its body
  /// from cancellation coming from outside. The default constructor makes one with neither.
  explicit cancel_scope(time_point deadline, bool shield = false) noexcept {
    s_.deadline = deadline;
    s_.shield = shield;
  }
  cancel_scope(const cancel_scope&) = delete;
  cancel_scope& operator=(const cancel_scope&) = delete;

  /// Runs body(args...) inside the scope. For a task<void> body the result is void; for task<T> it
  /// is std::optional<T>, empty when the scope caught a cancellation. A scope is entered once only
  /// (std::logic_error otherwise). A named body is used in place; a temporary is kept until the end.
  template <class F, class... A>
  auto enter(F&& body, A&&... args) {
    if constexpr (!detail::check_kept_task_fn<detail::task_fn_site::scope, F, std::decay_t<A>...>()) {
      return task<>{};
    } else {
      using body_task = std::invoke_result_t<std::remove_reference_t<F>&, std::decay_t<A>...>;
      return enter_impl<detail::task_value_t<body_task>, detail::kept_callable_t<F>, std::decay_t<A>...>(
          *this, std::forward<F>(body), std::forward<A>(args)...);
    }
  }

  /// Cancels the scope (idempotent; works before entry too). The reason travels with trio::cancelled.
  void cancel(std::string reason = {}) noexcept {
    detail::cancel_scope_state(s_, cancel_source::explicit_call, reason.empty() ? "cancel() called" : reason);
  }
  /// cancel() was called or the deadline has passed; never resets.
  bool cancel_called() const noexcept { return detail::scope_cancel_called(const_cast<detail::scope_state&>(s_)); }
  /// The scope's exit absorbed a trio::cancelled.
  bool cancelled_caught() const noexcept { return s_.caught; }

  /// The scope's own deadline (no_deadline if none); not the effective one, which enclosing scopes may
  /// bring closer (see current_effective_deadline).
  time_point deadline() const noexcept { return s_.deadline; }
  /// Takes effect at once while the scope is active (the loop checks it before the next checkpoint).
  void set_deadline(time_point d) { detail::set_scope_deadline(s_, d); }
  /// Whether the scope is shielded now.
  bool shield() const noexcept { return s_.shield; }
  /// Shielding a scope protects it from cancellation coming from outside; unshielding delivers it.
  void set_shield(bool shield) noexcept { detail::set_scope_shield(s_, shield); }

  /// The scope's internal state, for the library's own helpers; not part of the stable API.
  detail::scope_state& state() noexcept { return s_; }

 private:
  template <class T, class F, class... A>
  static auto enter_impl(cancel_scope& self, F body, A... args)
      -> task<std::conditional_t<std::is_void_v<T>, void, std::optional<T>>> {
    detail::runner& r = detail::current_runner("trio::cancel_scope::enter");
    detail::task_record& t = r.current_or_throw("trio::cancel_scope::enter");
    detail::enter_scope(self.s_, t);
    detail::outcome<T> out;
    if (auto t = detail::try_invoke<T>(out.error, body, std::move(args)...)) out = co_await std::move(*t).capture();
    std::exception_ptr err = detail::exit_scope(self.s_, t, std::move(out.error));
    if (err) std::rethrow_exception(err);
    if constexpr (!std::is_void_v<T>) co_return std::move(out.value);
  }

  detail::scope_state s_;
};

}  // namespace trio
