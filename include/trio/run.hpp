#pragma once
/// \file
/// trio::run: the entry point. Creates the loop, runs the main task, returns its value.

#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "trio/clock.hpp"
#include "trio/detail/runner.hpp"
#include "trio/detail/step_watchdog.hpp"
#include "trio/detail/task_dump.hpp"
#include "trio/detail/task_fn_checks.hpp"
#include "trio/errors.hpp"
#include "trio/instrument.hpp"
#include "trio/nursery.hpp"
#include "trio/task.hpp"

namespace trio {

/// Settings of one trio::run; every field has a default, so `trio::run(fn)` needs none.
struct run_options {
  /// The clock the run reads (current_time, deadlines, sleeps); a testing::mock_clock makes time virtual.
  /// nullptr (the default): the system monotonic clock (std::chrono::steady_clock).
  trio::clock* clock = nullptr;
  /// Instruments called on the run's events (task spawned, scheduled, stepped, exited; I/O waits). Not
  /// owned: each must outlive the run. Empty (the default): none, and no cost.
  std::vector<trio::instrument*> instruments;
  /// The default of every nursery's nursery_options::strict_exception_groups. false (the default): a
  /// nursery with a single error rethrows it unchanged and several come out as a base_exception_group;
  /// true: errors always come out as a group, even one.
  bool strict_exception_groups = false;
  /// Ctrl-C (SIGINT) cancels the run, then run throws trio::keyboard_interrupt. true by default. It
  /// applies only to a run in the process's main thread whose SIGINT still has its default action (a
  /// handler of your own wins); false leaves SIGINT alone.
  bool handle_sigint = true;
  /// Trio runs each batch of ready tasks in FIFO or reversed order at random, so code cannot come to
  /// depend on an order nobody promised. Turn it off for a fixed FIFO order (reproducing a bug, tests).
  bool randomize_schedule = true;
  /// A task that receives trio::cancelled 1,000 times in a row from the same scope without leaving it
  /// is almost certainly swallowing it (catch (...) around a checkpoint in a loop) and spins at 100% CPU:
  /// the run then prints one warning to stderr naming the task. false silences it.
  bool warn_swallowed_cancellation = true;
  /// A signal (e.g. SIGQUIT or SIGUSR1) that writes the task dump (lowlevel::format_task_tree: every task,
  /// what it waits on, its cancel status and await chain) to stderr; the run goes on. 0: none. The
  /// signal is blocked in the run's thread and the threads it starts; block it in your own threads.
  int task_dump_signal = 0;
  /// When no task can ever run again (nothing runnable, no deadline, no I/O or thread work in flight, no
  /// trio_token held outside the run), cancel everything and throw trio::deadlock_error, whose message is
  /// the task dump, instead of waiting forever. TRIO_TEST_CASE sets it.
  bool fail_on_deadlock = false;
  /// > 0: a task step (from a resume to the next suspension) that runs longer is reported on stderr,
  /// with the task and where it resumed and suspended: while it still runs (from a watchdog thread)
  /// and when it ends. At most one report per second of each kind; the others are counted. It also
  /// turns on step times in lowlevel::current_statistics(). Zero: off.
  duration slow_step_threshold{};
  /// Measure every step's time for lowlevel::current_statistics() (busy_time, longest_step, the
  /// step-time histogram). Off by default: two clock reads per step.
  bool collect_step_times = false;
};

namespace detail {

template <class T>
using result_slot = std::optional<std::conditional_t<std::is_void_v<T>, bool, T>>;

template <class T, class F, class... A>
task<> main_frame(result_slot<T>* out, F fn, A... args) {
  if constexpr (std::is_void_v<T>) {
    co_await std::invoke(std::move(fn), std::move(args)...);
    out->emplace(true);
  } else {
    out->emplace(co_await std::invoke(std::move(fn), std::move(args)...));
  }
}

template <class T, class F, class... A>
task<> init_frame(runner* r, result_slot<T>* out, F* fn, std::tuple<A...>* args) {
  co_await open_nursery(nursery_options{false}, [&](nursery& sys) -> task<> {
    r->set_system_nursery(&nursery_access::core(sys));
    using main_fn = task<> (*)(result_slot<T>*, F, A...);
    // The main task is named after the user's function.
    std::apply(
        [&](auto&... a) {
          r->mark_main(spawn_task<F, main_fn, result_slot<T>*, F, A...>(
              *r, &nursery_access::core(sys), nullptr, &main_frame<T, F, A...>, out, std::move(*fn), std::move(a)...));
        },
        *args);
    co_return;
  });
}

struct runner_scope {
  explicit runner_scope(runner& r) noexcept { t_runner = &r; }
  ~runner_scope() { t_runner = nullptr; }
  runner_scope(const runner_scope&) = delete;
  runner_scope& operator=(const runner_scope&) = delete;
};

/// trio::run after its checks: fn(args...) returns a task<T>.
template <class F, class... A>
auto run_checked(run_options options, F&& fn, A&&... args) {
  using main_task_t = std::invoke_result_t<std::decay_t<F>&, std::decay_t<A>...>;
  using T = detail::task_value_t<main_task_t>;
  if (detail::t_runner)
    throw std::logic_error(
        "trio::run() called from inside a running trio::run() on the same thread: co_await the function, "
        "or start it in a nursery, instead of starting another run");

  detail::run_config cfg;
  cfg.clk = options.clock;
  cfg.instruments = std::move(options.instruments);
  cfg.strict_exception_groups = options.strict_exception_groups;
  cfg.handle_sigint = options.handle_sigint;
  cfg.randomize_schedule = options.randomize_schedule;
  cfg.warn_swallowed_cancellation = options.warn_swallowed_cancellation;
  cfg.task_dump_signal = options.task_dump_signal;
  cfg.fail_on_deadlock = options.fail_on_deadlock;
  cfg.format_tree = &detail::format_tree;
  if (options.slow_step_threshold < duration::zero())
    throw std::invalid_argument("trio::run: run_options::slow_step_threshold is negative; use zero to turn it off");
  cfg.slow_step_threshold = options.slow_step_threshold;
  cfg.collect_step_times = options.collect_step_times;
  cfg.code_name = &detail::code_words;
  cfg.make_watchdog = &detail::make_step_watchdog;

  detail::result_slot<T> result;
  std::decay_t<F> fn_copy(std::forward<F>(fn));
  std::tuple<std::decay_t<A>...> args_copy(std::forward<A>(args)...);
  {
    detail::runner r(std::move(cfg));
    detail::runner_scope active(r);
    using init_fn =
        task<> (*)(detail::runner*, detail::result_slot<T>*, std::decay_t<F>*, std::tuple<std::decay_t<A>...>*);
    detail::spawn_task<run_options, init_fn, detail::runner*, detail::result_slot<T>*, std::decay_t<F>*,
                       std::tuple<std::decay_t<A>...>*>(r, nullptr, nullptr,
                                                        &detail::init_frame<T, std::decay_t<F>, std::decay_t<A>...>, &r,
                                                        &result, &fn_copy, &args_copy);
    r.loop();
    if (r.keyboard_interrupted()) throw keyboard_interrupt();
    if (auto e = r.deadlock_error()) std::rethrow_exception(e);
    if (auto e = r.internal_error()) {
      try {
        std::rethrow_exception(e);
      } catch (...) {
        std::throw_with_nested(
            trio_internal_error("trio: a run_sync_soon callback or a system task raised; see the nested exception"));
      }
    }
    if (auto e = r.init_error()) {
      try {
        std::rethrow_exception(e);
      } catch (...) {
        std::throw_with_nested(trio_internal_error("trio: a system task raised; see the nested exception"));
      }
    }
    if (auto e = r.main_error()) std::rethrow_exception(e);
  }
  if constexpr (!std::is_void_v<T>) return std::move(*result);
}

}  // namespace detail

/// Runs fn(args...) (which returns task<T>) as the main task of a new event loop on this thread, and
/// returns its value or rethrows its exception.
///
///     trio::task<int> main_task(int x) { co_await trio::sleep(1s); co_return 2 * x; }
///     int main() { return trio::run(main_task, 21) == 42 ? 0 : 1; }
///
/// The trap: run blocks until every task has finished; calling it inside a run is std::logic_error.
template <class F, class... A>
auto run(run_options options, F&& fn, A&&... args) {
  if constexpr (!detail::check_task_fn<detail::task_fn_site::run, std::decay_t<F>, std::decay_t<A>...>())
    return;
  else
    return detail::run_checked(std::move(options), std::forward<F>(fn), std::forward<A>(args)...);
}

/// Runs fn(args...) with the default run_options; see the overload above.
template <class F, class... A>
requires(!std::is_same_v<std::remove_cvref_t<F>, run_options>) auto run(F&& fn, A&&... args) {
  return run(run_options{}, std::forward<F>(fn), std::forward<A>(args)...);
}

}  // namespace trio
