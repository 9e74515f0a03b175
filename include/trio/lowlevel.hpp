#pragma once
/// \file
/// trio::lowlevel: the blocking primitive, rescheduling, introspection, tokens and instruments.

#include <array>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "trio/clock.hpp"
#include "trio/detail/runner.hpp"
#include "trio/detail/task_dump.hpp"
#include "trio/errors.hpp"
#include "trio/instrument.hpp"

namespace trio::lowlevel {

/// What a wait_task_rescheduled abort function answers: `succeeded` (the wait is undone; the task
/// throws trio::cancelled) or `failed` (it cannot be undone now; someone still reschedules the task).
using abort_result = detail::abort_result;

/// The one blocking primitive (Trio's wait_task_rescheduled). Parks the current task until another
/// party calls lowlevel::reschedule on it. When cancellation reaches it, `abort()` is called: answer
/// abort_result::succeeded if the wait is undone (the task then throws trio::cancelled), or
/// abort_result::failed if it cannot be undone now (someone must still reschedule it).
///
///     auto& me = lowlevel::current_task();
///     co_await lowlevel::wait_task_rescheduled([]() noexcept { return lowlevel::abort_result::succeeded; });
///
/// The trap: it is NOT a checkpoint by itself when nothing cancels it, and an abort function that
/// answers `failed` must make sure the task is rescheduled later, or the task hangs.
template <class F>
class [[nodiscard]] park_awaitable {
  static_assert(std::is_trivially_destructible_v<F>,
                "trio::lowlevel::wait_task_rescheduled: the abort function must be trivially destructible "
                "(capture pointers or references, not owning objects)");

 public:
  /// Binds the abort function to the current task (wait_task_rescheduled makes these; call that).
  explicit park_awaitable(F abort)
      : abort_(std::move(abort)), r_(&detail::current_runner("trio::lowlevel::wait_task_rescheduled")) {
    t_ = &r_->current_or_throw("trio::lowlevel::wait_task_rescheduled");
  }
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) noexcept {
    r_->park(h, ops, this, detail::is_task_promise_v<P>);
  }
  void await_resume() const { detail::runner::resume_from_park(*t_); }

 private:
  static abort_result thunk(void* self) noexcept { return static_cast<park_awaitable*>(self)->abort_(); }
  static constexpr detail::wait_ops ops{
      &thunk, [](const void*, std::string& out) { out += "trio::lowlevel::wait_task_rescheduled (a custom wait)"; }};
  F abort_;
  detail::runner* r_;
  detail::task_record* t_ = nullptr;
};

/// Parks the current task until lowlevel::reschedule; `abort` (noexcept, trivially destructible,
/// returning abort_result) is called when cancellation reaches the task. See park_awaitable.
template <class F>
requires std::is_nothrow_invocable_r_v<abort_result, F&> park_awaitable<std::decay_t<F>> wait_task_rescheduled(
    F&& abort) {
  return park_awaitable<std::decay_t<F>>(std::forward<F>(abort));
}

/// Wakes a task parked in wait_task_rescheduled; it resumes normally, or throws `error` if given.
inline void reschedule(task_info& task, std::exception_ptr error = nullptr) {
  auto& rec = static_cast<detail::task_record&>(task);
  if (!rec.parked)  // running, or already rescheduled
    throw std::logic_error("trio::lowlevel::reschedule: the task is not parked in wait_task_rescheduled");
  const auto kind = error ? detail::wake_kind::error : detail::wake_kind::value;
  detail::t_runner->reschedule(rec, kind, std::move(error));
}

/// The task that is running now.
inline task_info& current_task() {
  return detail::current_runner("trio::lowlevel::current_task()").current_or_throw("trio::lowlevel::current_task()");
}

/// The run's root task (it hosts the system nursery, in which the main task runs).
inline task_info& current_root_task() {
  auto* t = detail::current_runner("trio::lowlevel::current_root_task()").init_task();
  if (!t) throw std::logic_error("trio::lowlevel::current_root_task(): the root task has already exited");
  return *t;
}

/// The clock the run uses (run_options::clock, or the system clock). Outside a run: std::logic_error.
inline trio::clock& current_clock() { return detail::current_runner("trio::lowlevel::current_clock()").clk(); }

/// What current_statistics() reports: a snapshot of the run. The counters count since the run
/// started and are always on (an increment each); the step times are measured only with
/// run_options::collect_step_times or a slow_step_threshold, and are zero otherwise.
struct run_statistics {
  std::size_t tasks_living = 0;    ///< Tasks alive now.
  std::size_t tasks_runnable = 0;  ///< Tasks in the run queue now.
  /// The time until the earliest pending deadline; duration::max(): none.
  duration time_to_next_deadline = duration::max();
  std::size_t io_operations_in_flight = 0;    ///< io_uring operations submitted and not yet completed.
  std::uint64_t loop_turns = 0;               ///< Turns of the loop (each runs a batch of ready tasks).
  std::uint64_t task_steps = 0;               ///< Task steps run (a resume to the next suspension).
  std::uint64_t io_uring_enters = 0;          ///< io_uring_enter system calls.
  std::uint64_t sqes_submitted = 0;           ///< Submission queue entries handed to the kernel.
  std::uint64_t cqes_reaped = 0;              ///< Completion queue entries read back.
  std::uint64_t cancellations_delivered = 0;  ///< trio::cancelled exceptions raised in tasks.
  duration busy_time{};                       ///< The sum of the steps' times (step times only).
  duration longest_step{};                    ///< The longest step (step times only).
  std::string longest_step_task;              ///< The task that took it, "task #N name"; empty if none.
  /// Steps counted by time: bucket i holds the steps that took [2^i, 2^(i+1)) ns (step times only).
  std::array<std::uint64_t, 40> step_time_histogram{};
};

/// A snapshot of the current run's counters (run_statistics). Not a checkpoint; outside a run:
/// std::logic_error.
inline run_statistics current_statistics() {
  auto& r = detail::current_runner("trio::lowlevel::current_statistics()");
  run_statistics s;
  s.tasks_living = r.tasks_living();
  s.tasks_runnable = r.tasks_runnable();
  if (const time_point next = r.next_deadline(); next != no_deadline) s.time_to_next_deadline = next - r.now();
  s.io_operations_in_flight = r.io_in_flight();
  const detail::loop_counters& c = r.counters();
  s.loop_turns = c.loop_turns;
  s.task_steps = c.task_steps;
  s.io_uring_enters = r.io_ring().enters();
  s.sqes_submitted = r.io_ring().sqes();
  s.cqes_reaped = r.io_ring().cqes();
  s.cancellations_delivered = c.cancellations;
  s.busy_time = std::chrono::duration_cast<duration>(std::chrono::nanoseconds(c.busy_ns));
  s.longest_step = std::chrono::duration_cast<duration>(std::chrono::nanoseconds(c.longest_ns));
  s.longest_step_task = c.longest_task;
  s.step_time_histogram = c.step_histogram;
  return s;
}

/// Adds an instrument to the current run from now on (it must outlive the run or be removed first).
inline void add_instrument(instrument& i) {
  detail::current_runner("trio::lowlevel::add_instrument()").add_instrument(i);
}
/// Throws std::invalid_argument if the instrument is not installed.
inline void remove_instrument(instrument& i) {
  detail::current_runner("trio::lowlevel::remove_instrument()").remove_instrument(i);
}

/// A handle to a run, usable from any thread: the one thread-safe entry into trio.
///
///     auto token = trio::lowlevel::current_trio_token();
///     std::thread([token] { token.run_sync_soon([] { std::puts("in the loop"); }); }).detach();
///
/// The trap: callbacks run in the loop between task steps, so they must not block; after the run has
/// finished, run_sync_soon throws run_finished_error.
class trio_token {
 public:
  /// A token over a run's shared state (current_trio_token makes them; call that).
  explicit trio_token(std::shared_ptr<detail::token_state> s) noexcept : s_(std::move(s)) {}

  /// Queues fn to run in the loop thread soon, in FIFO order. With idempotent=true, nothing is queued
  /// if an identical callback is already waiting: same function pointer, or same closure type with the
  /// same captured bytes (closures without padding, e.g. capturing pointers and 8-byte integers).
  /// Other callables cannot be compared: idempotent=true then throws std::invalid_argument.
  template <class F>
  requires std::is_invocable_v < std::decay_t<F>
  & > void run_sync_soon(F&& fn, bool idempotent = false) const {
    using Fn = std::decay_t<F>;
    detail::token_state::entry e;
    if (idempotent) {
      e.key_type = &typeid(Fn);
      if constexpr (std::is_same_v<Fn, std::function<void()>>) {
        auto* p = fn.template target<void (*)()>();
        if (!p) throw std::invalid_argument(idempotent_error);
        e.key.assign(reinterpret_cast<const char*>(p), sizeof *p);
      } else if constexpr (std::is_trivially_copyable_v<Fn> && std::has_unique_object_representations_v<Fn>) {
        e.key.assign(reinterpret_cast<const char*>(std::addressof(fn)), sizeof(Fn));
      } else {
        throw std::invalid_argument(idempotent_error);
      }
    }
    e.fn = std::function<void()>(std::forward<F>(fn));
    s_->push(std::move(e));
  }

  /// Whether both tokens refer to the same run.
  friend bool operator==(const trio_token& a, const trio_token& b) noexcept { return a.s_ == b.s_; }

  /// Internal: the run's thread-safe entry (from_thread posts its calls there).
  detail::token_state& state() const noexcept { return *s_; }

 private:
  static constexpr const char* idempotent_error =
      "trio_token::run_sync_soon(fn, idempotent=true): fn's identity cannot be compared; pass a function "
      "pointer or a trivially copyable lambda without padding (capture pointers / 8-byte integers)";

  std::shared_ptr<detail::token_state> s_;
};

/// The current run's token, to copy into other threads (to_thread workers know theirs already).
/// Outside a run: std::logic_error.
inline trio_token current_trio_token() {
  return trio_token(detail::current_runner("trio::lowlevel::current_trio_token()").token());
}

/// The whole tree of tasks and nurseries, for finding what a hung program waits on. Per task: its id
/// and name, "(running)" or "(runnable)" unless it is parked, then indented under it what it waits on
/// ("waiting: trio::lock::acquire (held by task #4 ...)"), its cancel status ("cancel: deadline in
/// 2.500000 s, shielded") and its await chain ("at: serve(int) > handle(trio::socket_stream) > ..."),
/// outermost first, by function name (from the binary's symbol table: a stripped binary shows addresses).
///
/// The trap: the names come from symbols; link with -rdynamic, or keep the symbol table (do not strip),
/// to see them.
inline std::string format_task_tree() {
  return detail::format_tree(detail::current_runner("trio::lowlevel::format_task_tree()"));
}

}  // namespace trio::lowlevel
