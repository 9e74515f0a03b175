#pragma once
/// \file
/// Runner groups: run_per_core runs one trio::run (one loop, one io_uring ring) per thread, on_runner
/// runs a task on another runner of the group and waits for it, runner_index / runner_count say where a
/// task runs.

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "trio/cancel_scope.hpp"
#include "trio/checkpoint.hpp"
#include "trio/detail/runner_group.hpp"
#include "trio/detail/task_fn_checks.hpp"
#include "trio/detail/thread_cache.hpp"
#include "trio/errors.hpp"
#include "trio/event.hpp"
#include "trio/lowlevel.hpp"
#include "trio/nursery.hpp"
#include "trio/run.hpp"
#include "trio/sleep.hpp"
#include "trio/task.hpp"

namespace trio {

/// How run_per_core runs its group.
struct runner_group_options {
  std::size_t runners = 0;   ///< How many runners (threads); 0: one per CPU this process may run on.
  bool pin_to_cpus = false;  ///< Runner i runs on the i-th of those CPUs only.
  /// Each runner's trio::run options. Only runner 0 (the calling thread) handles Ctrl-C; the clock and
  /// the instruments, if given, are shared by every runner's thread and must be thread-safe.
  run_options run;
};

/// The index of the runner the calling thread runs, from 0: 0 in a plain trio::run.
inline std::size_t runner_index() noexcept { return detail::t_group_member ? detail::t_group_member->index : 0; }
/// The number of runners in the calling thread's group: 1 in a plain trio::run.
inline std::size_t runner_count() noexcept {
  return detail::t_group_member ? detail::t_group_member->group->size() : 1;
}

namespace detail {

/// The CPUs this process may run on, in order.
inline std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  if (cpus.empty()) {
    const unsigned n = std::thread::hardware_concurrency();
    for (unsigned c = 0; c < (n ? n : 1); ++c) cpus.push_back(static_cast<int>(c));
  }
  return cpus;
}

inline void pin_thread_to(int cpu) noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
}

/// Each runner's main task: main(args...) on copies of the arguments, inside the root scope the group
/// cancels. After main returns the runner keeps serving on_runner calls until every main has returned.
template <class F, class Args>
task<> group_root(runner_group* g, std::size_t index, const F* fn, const Args* args) {
  struct detach_guard {
    runner_group* g;
    std::size_t i;
    ~detach_guard() { g->detach(i); }
  };
  cancel_scope scope;
  event started;
  g->attach(
      index, current_runner("trio::run_per_core").token(), scope.state(),
      [](void* e) { static_cast<event*>(e)->set(); }, &started);
  detach_guard guard{g, index};
  F my_fn(*fn);
  Args my_args(*args);
  bool main_finished = false;
  auto body = [&]() -> task<> {
    co_await started.wait();  // every runner is there
    outcome<void> out;
    if (auto t = std::apply([&](auto&... a) { return try_invoke<void>(out.error, my_fn, a...); }, my_args))
      out = co_await std::move(*t).capture();
    main_finished = true;
    g->main_done();
    if (out.error) std::rethrow_exception(out.error);
    co_await sleep_forever();  // serve on_runner until the group ends
  };
  outcome<void> out = co_await scope.enter(body).capture();
  if (!main_finished) g->main_done();  // (main could not even start)
  if (out.error) {
    g->fail(index, out.error);
    std::rethrow_exception(out.error);
  }
}

/// A call of on_runner to another runner. It lives in the caller's frame; three messages travel
/// between the two loops (start, cancel, done), each posted at most once, and the caller resumes only
/// after the last message has been delivered, so none outlives the call.
template <class R, class F, class... A>
struct remote_call {
  struct node : inbox_node {
    remote_call* call = nullptr;
  };

  F fn;
  std::tuple<A...> args;
  std::size_t target_index = 0;
  std::shared_ptr<token_state> target;  // the remote runner's way in
  token_state* home = nullptr;          // the caller's run's way in (alive while the caller waits)
  task_record* caller = nullptr;

  std::optional<thread_result_t<R>> value;
  std::exception_ptr error;

  std::mutex m;
  bool cancel_posted = false;           // the caller's thread asked the remote runner to cancel
  bool cancel_delivered = false;        // the remote runner has seen that
  bool remote_done = false;             // the remote task has finished (or never started)
  bool cancel_wanted = false;           // cancellation reached the caller (caller's thread only)
  bool runner_ended = false;            // the remote runner cancelled the task as it ended (remote thread)
  bool held = false;                    // done, but the caller waits for its own cancellation (caller's thread)
  scope_state* remote_scope = nullptr;  // the remote task's scope while it runs (remote thread only)

  node start_node, cancel_node, done_node;

  remote_call(F f, std::tuple<A...> a) : fn(std::move(f)), args(std::move(a)) {
    start_node.call = cancel_node.call = done_node.call = this;
    start_node.deliver = &on_start;
    cancel_node.deliver = &on_cancel;
    done_node.deliver = &on_done;
  }
  remote_call(const remote_call&) = delete;
  remote_call& operator=(const remote_call&) = delete;

  // ---- in the remote runner's thread -----------------------------------------------------------
  static void on_start(inbox_node* n, bool run_alive) noexcept {
    remote_call* c = static_cast<node*>(n)->call;
    try {
      if (run_alive) {
        lowlevel::spawn_system_task(&remote_call::body, c);
        return;
      }
      c->runner_ended = true;            // (on_done decides what the caller gets)
    } catch (const std::logic_error&) {  // the system nursery is closed: the runner is ending
      c->runner_ended = true;
    } catch (...) {
      c->error = std::current_exception();
    }
    c->finish_remote();
  }

  static task<> body(remote_call* c) {
    cancel_scope scope;
    {
      std::lock_guard lk(c->m);
      c->remote_scope = &scope.state();
      if (c->cancel_delivered) scope.cancel("the caller of trio::on_runner was cancelled");
    }
    auto run_fn = [c]() -> task<R> { co_return co_await std::apply(c->fn, c->args); };
    auto out = co_await scope.enter(run_fn).capture();
    {
      std::lock_guard lk(c->m);
      c->remote_scope = nullptr;
    }
    c->error = std::move(out.error);
    if (c->error && is_cancelled(c->error)) {
      // Not the caller's cancellation (the scope above catches that one) but this runner's own run
      // cancelling its system tasks as it ends (the group is ending): it means nothing in the caller's
      // run, where it would pierce a shield. on_done decides what the caller gets.
      c->error = nullptr;
      c->runner_ended = true;
    }
    if constexpr (std::is_void_v<R>) {
      if (!c->error && !c->runner_ended && !scope.cancelled_caught()) c->value.emplace(true);
    } else {
      if (out.value && *out.value) c->value.emplace(std::move(**out.value));
    }
    c->finish_remote();
  }

  static bool is_cancelled(const std::exception_ptr& e) noexcept {
    try {
      std::rethrow_exception(e);
    } catch (const cancelled&) {
      return true;
    } catch (...) {
      return false;
    }
  }
  /// Whether the group's cancellation of this runner's root scope reaches task t (no shield between).
  /// A runner's run ends only once the group is cancelling or about to (its root task was cancelled, or
  /// its run failed, Ctrl-C included, and run_per_core then cancels the group): when a call finds its
  /// runner ended, that cancellation is on its way to such a task.
  static bool group_cancels(const task_record& t) noexcept {
    const group_member* me = t_group_member;
    if (!me) return false;
    runner_group& g = *me->group;
    std::lock_guard lk(g.m);
    for (const scope_state* s = t.status; s; s = s->parent) {
      if (s == g.slots[me->index].scope) return true;
      if (s->shield) return false;
    }
    return false;
  }
  /// The error of a call whose runner ended while it ran the task, with the group's reason for ending.
  static std::exception_ptr ending_error(std::size_t index) noexcept {
    try {
      std::string why;
      if (const group_member* me = t_group_member) {
        std::lock_guard lk(me->group->m);
        why = me->group->cancelling ? " (the group is ending: " + me->group->reason + ")" : " (the group is ending)";
      }
      return std::make_exception_ptr(run_finished_error("trio::on_runner: runner " + std::to_string(index) +
                                                        " ended before the task could finish" + why));
    } catch (...) {
      return std::current_exception();
    }
  }

  // The done message goes out after the mutex is released: once it is delivered the caller resumes and
  // the call (mutex included) is gone, so nothing here may touch it after the post.
  void finish_remote() noexcept {
    bool post = false;
    {
      std::lock_guard lk(m);
      remote_done = true;
      post = !cancel_posted || cancel_delivered;
    }
    if (post) home->post(done_node);
  }

  static void on_cancel(inbox_node* n, bool run_alive) noexcept {
    remote_call* c = static_cast<node*>(n)->call;
    bool post = false;
    {
      std::lock_guard lk(c->m);
      c->cancel_delivered = true;
      if (run_alive && c->remote_scope)
        cancel_scope_state(*c->remote_scope, cancel_source::explicit_call,
                           "the caller of trio::on_runner was cancelled");
      post = c->remote_done;
    }
    if (post) c->home->post(c->done_node);
  }

  // ---- in the caller's thread ------------------------------------------------------------------
  static void on_done(inbox_node* n, bool run_alive) noexcept {
    remote_call* c = static_cast<node*>(n)->call;
    if (!run_alive) return;  // (not reached: the caller waits, so its run is alive)
    if (c->runner_ended && !c->cancel_wanted) {
      // The remote runner ended with the group. A caller that the group's cancellation will reach (no
      // shield between it and its runner's root scope) waits for that cancellation, which is on its way:
      // abort then ends the wait. Any other caller (shielded, or a system task) gets run_finished_error.
      if (group_cancels(*c->caller)) {
        c->held = true;
        return;
      }
      c->error = ending_error(c->target_index);
    }
    const bool cancelled_only = c->cancel_wanted && !c->value && !c->error;
    t_runner->reschedule(*c->caller, cancelled_only ? wake_kind::cancelled : wake_kind::value);
  }

  /// Cancellation reached the caller: ask the remote runner to cancel the task, and keep waiting for it.
  static abort_result abort(void* p) noexcept {
    auto* c = static_cast<remote_call*>(p);
    c->cancel_wanted = true;
    if (c->held) return abort_result::succeeded;  // the remote task is over: nothing left to wait for
    std::lock_guard lk(c->m);
    if (!c->remote_done && !c->cancel_posted) {
      c->cancel_posted = true;
      if (!c->target->post(c->cancel_node)) c->cancel_posted = false;  // the runner has ended: done comes anyway
    }
    return abort_result::failed;
  }
  static void describe(const void* p, std::string& out) {
    const auto* c = static_cast<const remote_call*>(p);
    out += "trio::on_runner (waiting for the task on runner " + std::to_string(c->target_index) + ")";
  }
  static constexpr wait_ops ops{&abort, &describe, true};

  struct [[nodiscard]] wait_awaiter {
    remote_call* c;
    runner* r;
    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
      r->park(h, ops, c, is_task_promise_v<P>);
    }
    void await_resume() const { runner::resume_from_park(*c->caller); }
  };
};

template <class R, class F, class... A>
task<R> on_runner_impl(std::size_t index, F fn, A... args) {
  const group_member* me = t_group_member;
  const std::size_t count = me ? me->group->size() : 1;
  if (index >= count)
    throw std::out_of_range("trio::on_runner: runner " + std::to_string(index) + " does not exist (the group has " +
                            std::to_string(count) + ")");
  if (!me || index == me->index) co_return co_await std::invoke(fn, args...);  // this runner: call it here

  runner& r = current_runner("trio::on_runner");
  co_await checkpoint_if_cancelled();
  remote_call<R, F, A...> call(std::move(fn), std::tuple<A...>(std::move(args)...));
  call.target_index = index;
  call.target = me->group->token_of(index);
  call.home = r.token().get();
  call.caller = &r.current_or_throw("trio::on_runner");
  if (!call.target || !call.target->post(call.start_node)) {
    // The runner has ended, so the group is ending: a caller that its cancellation reaches waits for it.
    if (remote_call<R, F, A...>::group_cancels(*call.caller)) co_await sleep_forever();
    std::rethrow_exception(remote_call<R, F, A...>::ending_error(index));
  }
  co_await typename remote_call<R, F, A...>::wait_awaiter{&call, &r};
  if (call.error) std::rethrow_exception(call.error);
  if constexpr (!std::is_void_v<R>) co_return std::move(*call.value);
}

/// The error of run_per_core when the thread of runner i of n could not start (called in the handler
/// of what std::thread threw): it says which runner and what to change.
inline std::exception_ptr thread_start_error(std::size_t i, std::size_t n) noexcept {
  try {
    try {
      throw;
    } catch (const std::system_error& e) {
      throw std::system_error(e.code(), "trio::run_per_core: could not start the thread of runner " +
                                            std::to_string(i) + " of " + std::to_string(n) +
                                            " (lower runner_group_options::runners, or raise the limits on "
                                            "threads and their stacks' memory: ulimit -u, ulimit -v)");
    }
  } catch (...) {
    return std::current_exception();
  }
}

/// Blocks SIGINT in the calling thread while it lives (the threads it starts inherit the mask).
struct sigint_blocker {
  sigset_t old{};
  sigint_blocker() noexcept {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    ::pthread_sigmask(SIG_BLOCK, &set, &old);
  }
  ~sigint_blocker() { ::pthread_sigmask(SIG_SETMASK, &old, nullptr); }
  sigint_blocker(const sigint_blocker&) = delete;
  sigint_blocker& operator=(const sigint_blocker&) = delete;
};

/// run_per_core once main(args...) is known to return task<void>.
template <class F, class... A>
void run_per_core_checked(runner_group_options options, F&& main, A&&... args);
}  // namespace detail

/// How many runners run_per_core starts when runner_group_options::runners is 0: one per CPU this
/// process may run on (its affinity mask, as `taskset` or a container's cpuset set it), at least 1.
/// For a program that sizes what it shares before the group starts:
///
///     const std::size_t n = trio::default_runner_count();
///     std::vector<trio::receive_channel<job>> queues;  // one clone per runner, made up front
inline std::size_t default_runner_count() { return detail::allowed_cpus().size(); }

/// Runs main(args...) (which returns task<void>) on `options.runners` threads at once, each with its
/// own trio::run (its own loop and io_uring ring); runner 0 is the calling thread. Returns when every
/// runner's main has returned. The first exception cancels every other runner (the reason names the
/// runner that failed); errors come out as trio::run gives them: one as itself, several as an
/// exception_group (always a group with run.strict_exception_groups). Ctrl-C cancels every runner.
///
///     trio::run_per_core([]() -> trio::task<> { co_await serve(trio::runner_index()); });
///
/// The trap: tasks of different runners share no loop: trio's primitives (event, lock, memory channels)
/// belong to one runner. Between runners use on_runner and open_shared_channel.
template <class F, class... A>
void run_per_core(runner_group_options options, F&& main, A&&... args) {
  using Fn = std::decay_t<F>;
  if constexpr (detail::check_task_fn<detail::task_fn_site::run_per_core, Fn, std::decay_t<A>&...>()) {
    static_assert(std::is_same_v<std::invoke_result_t<Fn&, std::decay_t<A>&...>, task<void>>,
                  "trio::run_per_core: main(args...) must return trio::task<void>");
    detail::run_per_core_checked(std::move(options), std::forward<F>(main), std::forward<A>(args)...);
  }
}

namespace detail {

template <class F, class... A>
void run_per_core_checked(runner_group_options options, F&& main, A&&... args) {
  using Fn = std::decay_t<F>;
  using Args = std::tuple<std::decay_t<A>...>;
  if (detail::t_runner)
    throw std::logic_error(
        "trio::run_per_core called from inside a running trio::run() on the same thread: a thread runs one loop; "
        "call run_per_core outside any trio::run (from main()), and run in its main what this run does");

  std::vector<int> cpus = detail::allowed_cpus();
  const std::size_t n = options.runners ? options.runners : cpus.size();
  if (n > std::vector<runner_group::slot>().max_size() || n > std::vector<std::thread>().max_size())
    throw std::invalid_argument("trio::run_per_core: runner_group_options::runners = " + std::to_string(n) +
                                " is more runners than a process can hold (a count computed below 0?); 0 means one "
                                "per CPU this process may run on");
  const Fn fn(std::forward<F>(main));
  const Args arg_values(std::forward<A>(args)...);
  detail::runner_group group(n);
  std::vector<detail::group_member> members(n);
  for (std::size_t i = 0; i < n; ++i) members[i] = {&group, i};

  auto run_one = [&](std::size_t i, run_options opts) {
    if (options.pin_to_cpus) detail::pin_thread_to(cpus[i % cpus.size()]);
    detail::t_group_member = &members[i];
    try {
      trio::run(std::move(opts), &detail::group_root<Fn, Args>, &group, i, &fn, &arg_values);
    } catch (...) {
      group.record(i, std::current_exception());
    }
    group.ended(i);
    detail::t_group_member = nullptr;
  };

  std::vector<std::thread> threads;
  threads.reserve(n > 0 ? n - 1 : 0);
  {
    detail::sigint_blocker block;  // only runner 0 (this thread) takes Ctrl-C
    for (std::size_t i = 1; i < n; ++i) {
      run_options opts = options.run;
      opts.handle_sigint = false;
      try {
        threads.emplace_back(run_one, i, std::move(opts));
      } catch (...) {
        // No thread: the group fails with this one error (the runners already started are cancelled),
        // and the runners after it are not tried.
        group.record(i, detail::thread_start_error(i, n));
        for (std::size_t j = i; j < n; ++j) {
          group.ended(j);
          group.main_done();
        }
        break;
      }
    }
  }
  cpu_set_t old_affinity;
  const bool restore_affinity =
      options.pin_to_cpus && ::pthread_getaffinity_np(::pthread_self(), sizeof old_affinity, &old_affinity) == 0;
  if (n > 0) run_one(0, options.run);
  for (auto& t : threads) t.join();
  if (restore_affinity) ::pthread_setaffinity_np(::pthread_self(), sizeof old_affinity, &old_affinity);

  std::vector<std::exception_ptr> errors = group.errors();
  if (errors.empty()) return;
  if (errors.size() == 1 && !options.run.strict_exception_groups) std::rethrow_exception(errors.front());
  std::rethrow_exception(make_exception_group(std::move(errors)));
}

}  // namespace detail

/// run_per_core with the default options: one runner per CPU this process may run on.
template <class F, class... A>
requires(!std::is_same_v<std::remove_cvref_t<F>, runner_group_options>) void run_per_core(F&& main, A&&... args) {
  run_per_core(runner_group_options{}, std::forward<F>(main), std::forward<A>(args)...);
}

/// Runs fn(args...) (which returns task<R>) as a task on runner `index` of the calling task's group and
/// returns its value (or rethrows its exception). Cancelling the caller cancels the remote task, and
/// the caller returns only after it has finished. When the group ends (a runner failed) before the task
/// has finished, the caller gets its own trio::cancelled, or, shielded from the group's cancellation,
/// trio::run_finished_error naming the runner. On the caller's own runner (and in a plain trio::run,
/// whose only runner is 0) fn is simply awaited.
///
///     int n = co_await trio::on_runner(1, [&]() -> trio::task<int> { co_return count_here(); });
///
/// The trap: fn and args are moved to the other runner's thread and used there: whatever they refer to
/// must be safe to use from that thread while the caller waits.
template <class F, class... A>
auto on_runner(std::size_t index, F&& fn, A&&... args) {
  using T = std::invoke_result_t<std::decay_t<F>&, std::decay_t<A>&...>;
  static_assert(detail::is_task_v<T>, "trio::on_runner: fn(args...) must return a trio::task<R>");
  static_assert(!detail::unsafe_owning_temporary_v<F>,
                "trio::on_runner: g++ 12 destroys a temporary lambda that owns its captures twice when it is "
                "created inside co_await (a GCC bug fixed in g++ 13). Name the lambda and pass it by name (it is "
                "copied to the other runner): auto fn = [s = std::move(s)]() -> trio::task<> { ... }; co_await "
                "trio::on_runner(1, fn);");
  using R = detail::task_value_t<T>;
  return detail::on_runner_impl<R, std::decay_t<F>, std::decay_t<A>...>(index, std::forward<F>(fn),
                                                                        std::forward<A>(args)...);
}

}  // namespace trio
