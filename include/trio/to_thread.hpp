#pragma once
/// \file
/// to_thread::run_sync: runs a blocking function in a worker thread while the loop goes on.

#include <atomic>
#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "trio/capacity_limiter.hpp"
#include "trio/checkpoint.hpp"
#include "trio/detail/runner.hpp"
#include "trio/detail/thread_cache.hpp"
#include "trio/task.hpp"

namespace trio {

/// How to_thread::run_sync runs its function.
struct thread_options {
  /// false (Trio's default): a cancelled caller keeps waiting for the thread, and run_sync returns its
  /// result; the cancellation is delivered at the next checkpoint. true: run_sync returns at once with
  /// trio::cancelled; the thread runs on (its result is dropped) and holds its limiter token until it
  /// really ends. trio::run waits for such threads before it returns.
  bool abandon_on_cancel = false;
  /// Limits how many threads run at once; nullptr: the run's default limiter (40 tokens). A limiter
  /// given here must outlive every abandoned thread that holds one of its tokens.
  capacity_limiter* limiter = nullptr;
};

namespace detail {

/// One run_sync call: the function, its arguments and its outcome, and what the loop needs when the
/// worker is done. Lives in the calling task's frame, or on the heap when the call may be abandoned.
template <class R, class F, class... A>
struct call_job final : thread_job {
  template <class G, class... B>
  explicit call_job(G&& g, B&&... b) : fn(std::forward<G>(g)), args(std::forward<B>(b)...) {
    work = &call_job::run_in_worker;
    deliver = &call_job::deliver_in_loop;
  }

  static void run_in_worker(thread_job* base) noexcept {
    auto* j = static_cast<call_job*>(base);
    worker_context ctx{j->token, &j->cancel_requested, &j->source, &j->reason};
    t_worker = &ctx;
    call_and_keep<R>(j->fn, std::move(j->args), j->value, j->error);
    t_worker = nullptr;
  }

  /// In the loop thread: the worker is done. Gives the limiter token back, then wakes the task, or
  /// frees an abandoned call.
  static void deliver_in_loop(inbox_node* n, bool run_alive) noexcept {
    auto* j = static_cast<call_job*>(static_cast<thread_job*>(n));
    if (run_alive) {
      try {
        j->limiter->release_on_behalf_of(j);
      } catch (...) {
        if (!j->abandoned) j->error = std::current_exception();  // replaces the result, as in Trio
      }
    }
    if (j->abandoned) {
      delete j;
      return;
    }
    j->r->wake(*j->task);
  }

  /// In the loop thread, when cancellation reaches the waiting task.
  static abort_result abort(void* p) noexcept {
    auto* j = static_cast<call_job*>(p);
    const cancelled c = runner::make_cancelled(*j->task);
    j->source = c.source();
    try {
      j->reason.assign(c.reason());
    } catch (...) {
    }
    j->cancel_requested.store(true, std::memory_order_release);  // from_thread::check_cancelled sees it
    if (!j->abandon_on_cancel) return abort_result::failed;      // keep waiting for the thread
    j->abandoned = true;                                         // the worker's result goes nowhere
    return abort_result::succeeded;
  }

  [[no_unique_address]] F fn;
  [[no_unique_address]] std::tuple<A...> args;
  std::optional<thread_result_t<R>> value;
  std::exception_ptr error;
  token_state* token = nullptr;
  runner* r = nullptr;
  task_record* task = nullptr;
  capacity_limiter* limiter = nullptr;
  std::atomic<bool> cancel_requested{false};
  cancel_source source = cancel_source::unknown;
  std::string reason;
  bool abandon_on_cancel = false;
  bool abandoned = false;  // loop thread only
};

/// Parks the calling task until its job's worker is done (or, abandonable, until it is cancelled).
/// (An abandoned job may be freed before the task resumes: the awaiter keeps what it needs itself.)
template <class Job>
struct [[nodiscard]] job_wait {
  Job* job;
  task_record* task;
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) const noexcept {
    static constexpr wait_ops ops{
        &Job::abort,
        [](const void*, std::string& out) { out += "trio::to_thread::run_sync (a worker thread runs the function)"; },
        true};
    job->r->park(h, ops, job, detail::is_task_promise_v<P>);
  }
  void await_resume() const { runner::resume_from_park(*task); }
};

template <class R, class Job>
R take_result(Job& j) {
  if (j.error) std::rethrow_exception(std::move(j.error));
  if constexpr (!std::is_void_v<R>) return std::move(*j.value);
}

/// The run's default limiter for run_sync (a run service of its own, created before the thread cache so
/// that it outlives the cache's workers at the end of the run).
struct default_thread_limiter final : run_service {
  explicit default_thread_limiter(runner&) : limiter(thread_cache::default_thread_limit) {}
  capacity_limiter limiter;
};

template <class R, class F, class... A>
task<R> run_sync_impl(thread_options opts, F fn, A... args) {
  co_await checkpoint_if_cancelled();  // cancelled before the call: no thread is started
  runner& r = current_runner("trio::to_thread::run_sync");
  task_record& me = r.current_or_throw("trio::to_thread::run_sync");
  capacity_limiter& limiter = opts.limiter ? *opts.limiter : r.service<default_thread_limiter>().limiter;
  thread_cache& cache = r.service<thread_cache>();
  using job_t = call_job<R, F, A...>;

  // An abandonable call's job must survive this frame; any other lives in it.
  std::unique_ptr<job_t> heap_job;
  std::optional<job_t> frame_job;
  job_t* j;
  if (opts.abandon_on_cancel) {
    heap_job = std::make_unique<job_t>(std::move(fn), std::move(args)...);
    j = heap_job.get();
  } else {
    j = &frame_job.emplace(std::move(fn), std::move(args)...);
  }
  j->token = &cache.token();
  j->r = &r;
  j->task = &me;
  j->limiter = &limiter;
  j->abandon_on_cancel = opts.abandon_on_cancel;

  co_await limiter.acquire_on_behalf_of(j);  // a checkpoint; cancelled here: no thread is started
  try {
    cache.submit(*j);
  } catch (...) {
    limiter.release_on_behalf_of(j);
    throw;
  }
  if (opts.abandon_on_cancel) {
    job_t* raw = heap_job.release();     // from here the job frees itself if it is abandoned
    co_await job_wait<job_t>{raw, &me};  // cancelled: the job is abandoned, and owned by the worker's delivery
    heap_job.reset(raw);                 // woken with the result: ours again
  } else {
    co_await job_wait<job_t>{j, &me};
  }
  co_return take_result<R>(*j);
}

}  // namespace detail

namespace to_thread {

/// Runs fn(args...) in a worker thread and returns its value (or rethrows its exception, type and
/// message unchanged) in the calling task; the loop keeps running other tasks meanwhile. A checkpoint.
/// fn and args are moved into the call; pass std::ref for a reference.
///
///     std::string digest = co_await trio::to_thread::run_sync(sha256_file, path);
///
/// The trap: by default cancellation waits for the thread (a blocking call cannot be interrupted);
/// give `thread_options{.abandon_on_cancel = true}` to return at once and let the thread finish alone.
template <class F, class... A>
auto run_sync(thread_options opts, F&& fn, A&&... args) {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<Fn&, std::decay_t<A>&&...>,
                "trio::to_thread::run_sync: fn cannot be called with these arguments");
  using R = std::invoke_result_t<Fn&, std::decay_t<A>&&...>;
  static_assert(!detail::is_task_v<R>,
                "trio::to_thread::run_sync: fn returns a trio::task, which cannot run in a thread; "
                "co_await it in the loop instead (to_thread is for blocking, synchronous functions)");
  static_assert(!std::is_reference_v<R>, "trio::to_thread::run_sync: fn must return a value, not a reference");
  return detail::run_sync_impl<R, Fn, std::decay_t<A>...>(opts, std::forward<F>(fn), std::forward<A>(args)...);
}
/// run_sync with the default thread_options (the run's default limiter; cancellation waits for the thread).
template <class F, class... A>
requires(!std::is_same_v<std::remove_cvref_t<F>, thread_options>) auto run_sync(F&& fn, A&&... args) {
  return run_sync(thread_options{}, std::forward<F>(fn), std::forward<A>(args)...);
}

/// The run's default limiter for run_sync: 40 tokens; change its total_tokens to allow more or fewer.
inline capacity_limiter& current_default_thread_limiter() {
  return detail::current_runner("trio::to_thread::current_default_thread_limiter")
      .service<detail::default_thread_limiter>()
      .limiter;
}

}  // namespace to_thread
}  // namespace trio
