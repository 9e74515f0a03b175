#pragma once
/// \file
/// Nurseries: where concurrent tasks live. open_nursery, nursery::start_soon, nursery::start, task_status.

#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "trio/cancel_scope.hpp"
#include "trio/detail/runner.hpp"
#include "trio/detail/task_fn_checks.hpp"
#include "trio/task.hpp"

namespace trio {

/// Settings of one nursery, for open_nursery(nursery_options, body).
struct nursery_options {
  /// Always wrap errors in a group (an exception_group, or a base_exception_group when one holds a
  /// trio::cancelled), even a single one. Unset: the run's setting.
  std::optional<bool> strict_exception_groups;
};

class nursery;

namespace detail {

template <class T>
struct start_state {
  nursery_core* from = nullptr;  // start()'s private nursery
  nursery_core* to = nullptr;    // the nursery the task moves to
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
};

}  // namespace detail

/// What nursery::start passes to the task it starts; call started(value) once the task is ready.
/// A default-constructed status ignores started(), as Trio's TASK_STATUS_IGNORED.
template <class T = void>
class task_status {
 public:
  task_status() noexcept = default;
  /// The status nursery::start passes (library use; tasks receive it as their last parameter).
  explicit task_status(detail::start_state<T>* st) noexcept : st_(st) {}
  /// True for the default status (the task was not started by nursery::start): started() does nothing.
  bool ignored() const noexcept { return st_ == nullptr; }

  /// Reports the task ready: nursery::start returns `value` and the task moves into the target nursery.
  /// Not a checkpoint. A second call: std::logic_error; on an ignored status it does nothing.
  template <class U = T>
  requires(!std::is_void_v<U>) void started(U value) {
    if (!st_) return;
    check_once();
    st_->value.emplace(std::move(value));
    detail::reparent_started(*st_->from, *st_->to);
  }
  /// task_status<void>: reports the task ready, as started(value) does, with no value.
  template <class U = T>
  requires std::is_void_v<U>
  void started() {
    if (!st_) return;
    check_once();
    st_->value.emplace(true);
    detail::reparent_started(*st_->from, *st_->to);
  }

 private:
  void check_once() const {
    if (st_->value)
      throw std::logic_error("trio::task_status::started: called twice for the same task; call it exactly once");
  }
  detail::start_state<T>* st_ = nullptr;
};

namespace detail {

template <class X>
struct is_task_status : std::false_type {};
template <class T>
struct is_task_status<task_status<T>> : std::true_type {
  using value_type = T;
};

template <class... P>
struct last_of {
  using type = void;
};
template <class P0, class... P>
struct last_of<P0, P...> {
  using type = typename decltype((std::type_identity<P0>{}, ..., std::type_identity<P>{}))::type;
};

/// The parameter list of a callable with one call signature (functions, pointers, non-generic lambdas).
template <class F, class = void>
struct signature_of {
  static constexpr bool known = false;
  using last = void;
};
template <class R, class... P>
struct signature_of<R (*)(P...), void> {
  static constexpr bool known = true;
  using last = typename last_of<P...>::type;
};
template <class R, class... P>
struct signature_of<R (*)(P...) noexcept, void> : signature_of<R (*)(P...)> {};
template <class R, class... P>
struct signature_of<R(P...), void> : signature_of<R (*)(P...)> {};
template <class C, class R, class... P>
struct signature_of<R (C::*)(P...), void> : signature_of<R (*)(P...)> {};
template <class C, class R, class... P>
struct signature_of<R (C::*)(P...) const, void> : signature_of<R (*)(P...)> {};
template <class C, class R, class... P>
struct signature_of<R (C::*)(P...) noexcept, void> : signature_of<R (*)(P...)> {};
template <class C, class R, class... P>
struct signature_of<R (C::*)(P...) const noexcept, void> : signature_of<R (*)(P...)> {};
template <class F>
struct signature_of<F, std::void_t<decltype(&F::operator())>> : signature_of<decltype(&F::operator())> {};
/// A function object with several call operators (trio::serve_tcp) names its task_status type.
template <class F>
requires requires { typename F::start_status; }
struct signature_of<F, void> {
  static constexpr bool known = true;
  using last = typename F::start_status;
};

/// task_status<T> if F's last parameter is one, else void.
template <class F>
using status_param_t = std::conditional_t<is_task_status<std::remove_cvref_t<typename signature_of<F>::last>>::value,
                                          std::remove_cvref_t<typename signature_of<F>::last>, void>;

/// The outermost coroutine of a task whose function threw instead of returning its task.
template <class T>
task<T> failed_task(std::exception_ptr e) {
  co_await std::suspend_never{};
  std::rethrow_exception(std::move(e));
}

/// A task's block: its record, and the function and arguments it was started with, which live as long
/// as the task (a lambda's captures live in the lambda; a reference parameter binds to the stored
/// argument). One allocation per task, from the frame pool; the task's coroutine is the only other.
/// `Name` names the task (the function's type, unless the library names it).
template <class Name, class F, class... A>
struct task_block final : task_record, pooled_frame {
  using value_type = task_value_t<std::invoke_result_t<F&, A...>>;

  template <class G, class... B>
  explicit task_block(G&& g, B&&... b) : fn(std::forward<G>(g)), args(std::forward<B>(b)...) {}

  /// Calls fn(args...): the task's outermost coroutine, not started yet. A function that throws
  /// instead of returning its task (a lambda without co_await/co_return is not a coroutine) gives a
  /// coroutine that raises that exception when it first runs, like any other child.
  std::coroutine_handle<> make_frame() {
    std::exception_ptr error;
    auto t = std::apply([&](A&... a) { return try_invoke<value_type>(error, fn, std::move(a)...); }, args);
    return t ? std::move(*t).release() : failed_task<value_type>(std::move(error)).release();
  }

  static std::exception_ptr finish(task_record* t) noexcept {
    auto* b = static_cast<task_block*>(t);
    auto h = std::coroutine_handle<task_promise<value_type>>::from_address(b->frame.address());
    std::exception_ptr error = h.promise().take_error();
    h.destroy();
    delete b;
    return error;
  }
  static constexpr task_kind kind{&typeid(Name), &task_block::finish};

  [[no_unique_address]] F fn;
  [[no_unique_address]] std::tuple<A...> args;
};

/// Starts fn(args...) (stored as F and A...) as a task of nursery `n` (nullptr: the root task, in
/// scope `status`). fn is called now, as Trio calls it in start_soon, which only creates its coroutine.
template <class Name, class F, class... A, class G, class... B>
task_record& spawn_task(runner& r, nursery_core* n, scope_state* status, G&& fn, B&&... args) {
  using block = task_block<Name, F, A...>;
  std::unique_ptr<block> b(new block(std::forward<G>(fn), std::forward<B>(args)...));
  const std::coroutine_handle<> frame = b->make_frame();
  return r.spawn(*b.release(), block::kind, frame, n, status);
}

}  // namespace detail

namespace detail {
struct nursery_access;
}  // namespace detail

/// Where concurrent tasks live. A nursery is open for the duration of the open_nursery body and until
/// every child has finished; an exception in any child cancels the others and comes out of open_nursery.
///
///     co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
///       n.start_soon(child, 1);
///       n.start_soon(child, 2);
///       co_return;
///     });   // returns when both children are done
///
/// The trap: the nursery object belongs to open_nursery's frame. Keep no pointer to it after
/// open_nursery returns; pass the `nursery&` only to tasks that run inside it.
class nursery {
 public:
  nursery(const nursery&) = delete;
  nursery& operator=(const nursery&) = delete;

  /// Starts fn(args...) as a new child task. fn and args are copied (or moved) into the child's frame
  /// (pass std::ref for a reference); the child first runs after the caller's next checkpoint. A
  /// function whose last parameter is a task_status<T> may be given without it (an ignored status).
  /// On a closed nursery: std::logic_error.
  template <class F, class... A>
  void start_soon(F&& fn, A&&... args) {
    using Fn = std::decay_t<F>;
    if constexpr (!detail::check_task_args<detail::task_fn_site::start_soon, A...>()) {
      return;
    } else if constexpr (detail::is_task_v<Fn> || std::is_invocable_v<Fn&, std::decay_t<A>...> ||
                         std::is_void_v<detail::status_param_t<Fn>>) {
      if constexpr (detail::check_task_fn<detail::task_fn_site::start_soon, Fn, std::decay_t<A>...>()) {
        check_open("start_soon");
        spawn<Fn, std::decay_t<A>...>(std::forward<F>(fn), std::forward<A>(args)...);
      }
    } else {
      using status = detail::status_param_t<Fn>;
      if constexpr (detail::check_task_fn<detail::task_fn_site::start_soon, Fn, std::decay_t<A>..., status>()) {
        check_open("start_soon");
        spawn<Fn, std::decay_t<A>..., status>(std::forward<F>(fn), std::forward<A>(args)..., status{});
      }
    }
  }

  /// Runs fn(args..., task_status<T>) as a new task and waits until it calls started(v); the task then
  /// moves into this nursery and start returns v. T comes from fn's last parameter. An exception before
  /// started() comes out of start; returning without started(): std::logic_error.
  template <class F, class... A>
  auto start(F&& fn, A&&... args) {
    using status = detail::status_param_t<std::decay_t<F>>;
    if constexpr (detail::is_task_v<F>) {
      detail::check_task_fn<detail::task_fn_site::start, F>();
      return task<>{};
    } else {
      static_assert(!std::is_void_v<status>,
                    "trio::nursery::start: fn's last parameter must be a trio::task_status<T> (for a generic "
                    "callable, name T: n.start<T>(fn, args...))");
      if constexpr (std::is_void_v<status>) {
        return task<>{};
      } else {
        using T = typename detail::is_task_status<status>::value_type;
        return start<T>(std::forward<F>(fn), std::forward<A>(args)...);
      }
    }
  }
  /// start with T named explicitly, for a generic callable whose last parameter's type cannot be read:
  /// `n.start<int>(fn, args...)`. Otherwise as the overload above.
  template <class T, class F, class... A>
  task<T> start(F&& fn, A&&... args) {
    if constexpr (!detail::check_task_args<detail::task_fn_site::start, A...>())
      return task<T>{};
    else if constexpr (!detail::check_task_fn<detail::task_fn_site::start, std::decay_t<F>, std::decay_t<A>...,
                                              task_status<T>>())
      return task<T>{};
    else
      return start_impl<T>(*this, std::forward<F>(fn), std::forward<A>(args)...);
  }

  /// The scope around the body and every child: `n.cancel_scope().cancel()` cancels them all (the
  /// usual way to stop background tasks once the body is done).
  trio::cancel_scope& cancel_scope() noexcept { return scope_; }
  /// The number of child tasks alive now (started and not yet finished), not counting the body.
  std::size_t child_count() const noexcept { return core_.child_count; }
  /// The task that opened the nursery.
  lowlevel::task_info& parent_task() const noexcept { return *core_.parent_task; }
  /// The children alive now, in spawn order.
  std::vector<lowlevel::task_info*> child_tasks() const {
    std::vector<lowlevel::task_info*> out;
    out.reserve(core_.child_count);
    core_.children.for_each([&](detail::task_record& t) { out.push_back(&t); });
    return out;
  }

  /// Normally the nursery has been closed by its join; if an error path skipped that, it still
  /// unlinks itself so the task's structures never point at a destroyed nursery.
  ~nursery() {
    if (scope_.state().active()) detail::abandon_scope(scope_.state(), *core_.parent_task);
  }

 private:
  friend struct detail::nursery_access;

  /// Opened by open_nursery in the current task.
  nursery(detail::runner& r, detail::task_record& parent, bool strict) {
    core_.self = this;
    core_.r = &r;
    core_.scope = &scope_.state();
    core_.parent_task = &parent;
    core_.strict = strict;
    scope_.state().nursery = &core_;
    detail::enter_scope(scope_.state(), parent);
  }
  detail::nursery_core& core() noexcept { return core_; }

  /// Starts fn(args...), stored as F and A..., as a child.
  template <class F, class... A, class G, class... B>
  detail::task_record& spawn(G&& fn, B&&... args) {
    return detail::spawn_task<F, F, A...>(*core_.r, &core_, nullptr, std::forward<G>(fn), std::forward<B>(args)...);
  }

  /// The body has finished (with `body_error`, or nullptr): the nursery now only waits.
  void body_done(std::exception_ptr body_error) {
    core_.body_running = false;
    if (body_error) core_.add_error(std::move(body_error));
    core_.check_closed();
  }

  /// The nursery's end. Waits for every child, closes the scope, and rethrows the outcome.
  /// Awaiters used as co_await temporaries hold references only: g++ 12 releases non-trivial members
  /// of such a temporary twice.
  struct [[nodiscard]] join_awaiter {
    nursery& n;
    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) const noexcept {
      detail::runner& r = *n.core_.r;
      if (!n.core_.closed) {
        // Waiting for children is not a cancel point (modern Trio): cancellation reaches the children.
        n.core_.parent_waiting = true;
        static constexpr detail::wait_ops ops{[](void*) noexcept { return detail::abort_result::failed; },
                                              [](const void* p, std::string& out) {
                                                const auto& core = *static_cast<const detail::nursery_core*>(p);
                                                out += "the end of a nursery's body: waiting for its " +
                                                       std::to_string(core.child_count) + " children";
                                              }};
        r.park(h, ops, &n.core_, detail::is_task_promise_v<P>);
      } else {
        r.yield(h);  // a schedule point only
      }
    }
    void await_resume() const {
      detail::task_record& t = *n.core_.parent_task;
      std::exception_ptr e = n.core_.combined_error();
      e = detail::exit_scope(n.scope_.state(), t, std::move(e));
      if (e) std::rethrow_exception(e);
    }
  };

  void check_open(const char* what) const {
    if (core_.closed)
      throw std::logic_error(std::string("trio::nursery::") + what +
                             ": this nursery is closed to new arrivals (its block and all its children have "
                             "finished); spawn into a nursery that is still open");
  }

  template <class T, class F, class... A>
  static task<T> start_impl(nursery& self, F fn, A... args) {
    self.check_open("start");
    struct pending_guard {
      detail::nursery_core& n;
      explicit pending_guard(detail::nursery_core& c) : n(c) { ++n.pending_starts; }
      ~pending_guard() {
        --n.pending_starts;
        n.check_closed();
      }
    } guard(self.core_);
    detail::start_state<T> st;
    st.to = &self.core_;
    detail::runner& r = *self.core_.r;
    detail::task_record& me = r.current_or_throw("trio::nursery::start");
    bool task_cancelled = false;  // the task ended with trio::cancelled, which the private nursery absorbed
    {
      nursery old(r, me, /*strict=*/false);  // errors before started() come out unwrapped
      st.from = &old.core_;
      old.core_.start_target = &self.core_;
      std::exception_ptr err;
      try {
        old.spawn<F, A..., task_status<T>>(std::move(fn), std::move(args)..., task_status<T>(&st));
      } catch (...) {
        err = std::current_exception();
      }
      old.body_done(std::move(err));
      co_await join_awaiter{old};
      task_cancelled = old.scope_.cancelled_caught();
    }
    if (!st.value) {
      if (task_cancelled)
        throw std::logic_error(
            "trio::nursery::start: the task was cancelled before it called task_status.started(), and the "
            "cancellation that reached it no longer applies here (a shield now hides it), so start() has no "
            "value to return; call started() before the task can be cancelled, or check "
            "cancel_called() on the scope that was cancelled");
      throw std::logic_error(
          "trio::nursery::start: the task returned without calling task_status.started(); call "
          "started() once it is ready");
    }
    if constexpr (!std::is_void_v<T>) co_return std::move(*st.value);
  }

  trio::cancel_scope scope_;
  detail::nursery_core core_;
};

namespace detail {

/// The library's own way into a nursery's internals (open_nursery, trio::run's system nursery).
struct nursery_access {
  static nursery open(runner& r, task_record& parent, bool strict) { return nursery(r, parent, strict); }
  static nursery_core& core(nursery& n) noexcept { return n.core(); }
  static void body_done(nursery& n, std::exception_ptr body_error) { n.body_done(std::move(body_error)); }
  static nursery::join_awaiter join(nursery& n) noexcept { return nursery::join_awaiter{n}; }
};

template <class R, class F>
task<R> open_nursery_impl(nursery_options opts, F body) {
  runner& r = current_runner("trio::open_nursery");
  task_record& parent = r.current_or_throw("trio::open_nursery");
  nursery n = nursery_access::open(r, parent, opts.strict_exception_groups.value_or(r.strict_exception_groups()));
  // The body's exception is captured without a throw/catch: one unwinding fewer per nursery level.
  outcome<R> out;
  if (auto t = try_invoke<R>(out.error, body, n)) out = co_await std::move(*t).capture();
  nursery_access::body_done(n, std::move(out.error));
  co_await nursery_access::join(n);
  if constexpr (!std::is_void_v<R>) {
    if (!out.value) {
      // Only possible when the nursery's own scope absorbed the body's cancellation.
      if constexpr (std::is_default_constructible_v<R>)
        co_return R{};
      else
        throw std::logic_error(
            "trio::open_nursery: the body was cancelled by the nursery's own cancel scope, so it has no "
            "value to return; return std::optional<T> from the body to observe this");
    }
    co_return std::move(*out.value);
  }
}

}  // namespace detail

/// Opens a nursery, runs body(nursery&) in the current task, then waits for every child. Returns the
/// body's value. A named body is used in place (it must outlive the co_await); a temporary is kept. The nursery's
/// errors come out unchanged when there is one (a group when strict) and as a group when there are several: a
/// trio::exception_group, or a trio::base_exception_group when a member is not a std::exception (trio::cancelled).
template <class F>
auto open_nursery(nursery_options opts, F&& body) {
  if constexpr (!detail::check_kept_task_fn<detail::task_fn_site::open_nursery, F, nursery&>()) {
    return task<>{};
  } else {
    using body_task = std::invoke_result_t<std::remove_reference_t<F>&, nursery&>;
    return detail::open_nursery_impl<detail::task_value_t<body_task>, detail::kept_callable_t<F>>(
        opts, std::forward<F>(body));
  }
}
/// open_nursery with the default nursery_options (the run's strict_exception_groups).
template <class F>
auto open_nursery(F&& body) {
  return open_nursery(nursery_options{}, std::forward<F>(body));
}

namespace lowlevel {

/// Spawns fn(args...) in the run's system nursery: it is cancelled when the main task exits, and an
/// exception from it ends the run with trio_internal_error.
template <class F, class... A>
void spawn_system_task(F&& fn, A&&... args) {
  auto& r = detail::current_runner("trio::lowlevel::spawn_system_task");
  detail::nursery_core* sys = r.system_nursery();
  if (!sys || sys->closed) throw std::logic_error("trio::lowlevel::spawn_system_task: the run is shutting down");
  sys->self->start_soon(std::forward<F>(fn), std::forward<A>(args)...);
}

}  // namespace lowlevel
}  // namespace trio
