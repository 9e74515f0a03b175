#pragma once
/// \file
/// from_thread: a worker thread calls back into the run (run_sync, run) and checks whether the task
/// that is waiting for it was cancelled (check_cancelled).

#include <exception>
#include <functional>
#include <optional>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "trio/detail/runner.hpp"
#include "trio/detail/thread_cache.hpp"
#include "trio/errors.hpp"
#include "trio/lowlevel.hpp"
#include "trio/nursery.hpp"
#include "trio/task.hpp"

namespace trio {
namespace detail {

/// The run a from_thread call goes to: the given token's, or the worker's own.
inline token_state& from_thread_target(const char* what, token_state* given) {
  if (t_runner && (!given || t_runner->token().get() == given))
    throw std::logic_error(std::string(what) +
                           ": called from the run's own thread, where it would deadlock (it blocks until the "
                           "loop runs the function); call or co_await the function directly instead");
  if (given) return *given;
  if (!t_worker)
    throw std::logic_error(std::string(what) +
                           ": this thread was not started by trio::to_thread::run_sync, so it does not know "
                           "which run to call into; pass the run's token: take "
                           "trio::lowlevel::current_trio_token() inside the run and call " +
                           what + "(token, fn, args...)");
  return *t_worker->token;
}

/// A call made from another thread into the loop. It lives on the calling thread's stack, which
/// blocks until the loop has finished with it: nothing is allocated per call.
template <class R>
struct loop_call : inbox_node {
  std::optional<thread_result_t<R>> value;
  std::exception_ptr error;
  std::binary_semaphore done{0};

  R wait_for_result(token_state& ts) {
    if (!ts.post(*this)) throw run_finished_error("trio::from_thread: the run has finished");
    done.acquire();
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<R>) return std::move(*value);
  }
};

template <class R, class F, class... A>
struct sync_call final : loop_call<R> {
  F& fn;
  std::tuple<A&...> args;
  sync_call(F& f, A&... a) : fn(f), args(a...) { this->deliver = &sync_call::run_in_loop; }
  static void run_in_loop(inbox_node* n, bool run_alive) noexcept {
    auto* c = static_cast<sync_call*>(n);
    if (!run_alive)
      c->error = std::make_exception_ptr(run_finished_error("trio::from_thread::run_sync: the run has finished"));
    else
      call_and_keep<R>(c->fn, std::move(c->args), c->value, c->error);
    c->done.release();
  }
};

template <class R, class F, class... A>
struct async_call final : loop_call<R> {
  F& fn;
  std::tuple<A&...> args;
  async_call(F& f, A&... a) : fn(f), args(a...) { this->deliver = &async_call::run_in_loop; }

  /// The system task that runs the async function; its outcome goes back to the thread.
  static task<> body(async_call* c) {
    std::exception_ptr error;
    auto t = std::apply([&](A&... a) { return try_invoke<R>(error, c->fn, a...); }, c->args);
    if (t) {
      auto out = co_await std::move(*t).capture();
      error = std::move(out.error);
      if constexpr (std::is_void_v<R>) {
        if (!error) c->value.emplace(true);
      } else {
        if (!error) c->value = std::move(out.value);
      }
    }
    c->error = std::move(error);
    c->done.release();
  }
  static void run_in_loop(inbox_node* n, bool run_alive) noexcept {
    auto* c = static_cast<async_call*>(n);
    try {
      if (!run_alive) throw run_finished_error("trio::from_thread::run: the run has finished");
      lowlevel::spawn_system_task(&async_call::body, c);
    } catch (const std::logic_error&) {  // the system nursery is closed: the run is shutting down
      c->error = std::make_exception_ptr(run_finished_error("trio::from_thread::run: the run is shutting down"));
      c->done.release();
    } catch (...) {
      c->error = std::current_exception();
      c->done.release();
    }
  }
};

}  // namespace detail

using lowlevel::trio_token;

namespace detail {

template <class F, class... A>
auto from_thread_run_sync(token_state* given, F& fn, A&... args) {
  using R = std::invoke_result_t<F&, A&...>;
  static_assert(!is_task_v<R>,
                "trio::from_thread::run_sync: fn returns a trio::task; use trio::from_thread::run for async "
                "functions");
  if constexpr (!is_task_v<R>) {
    token_state& ts = from_thread_target("trio::from_thread::run_sync", given);
    sync_call<R, F, A...> call(fn, args...);
    return call.wait_for_result(ts);
  }
}

template <class F, class... A>
auto from_thread_run(token_state* given, F& fn, A&... args) {
  using T = std::invoke_result_t<F&, A&...>;
  static_assert(is_task_v<T>,
                "trio::from_thread::run: fn must return a trio::task<T>; use trio::from_thread::run_sync for "
                "plain functions");
  if constexpr (is_task_v<T>) {
    token_state& ts = from_thread_target("trio::from_thread::run", given);
    async_call<task_value_t<T>, F, A...> call(fn, args...);
    return call.wait_for_result(ts);
  }
}

}  // namespace detail

namespace from_thread {

/// Runs fn(args...) in the run's loop thread and returns its value (or rethrows its exception) in the
/// calling thread, which blocks meanwhile. From a thread started by to_thread::run_sync, or from any
/// thread with the run's trio_token. The arguments are used in place (the caller is blocked).
///
///     co_await trio::to_thread::run_sync([&] { trio::from_thread::run_sync([&] { progress.set(); }); });
///
/// The trap: from the loop thread itself it would deadlock: std::logic_error.
template <class F, class... A>
auto run_sync(const trio_token& token, F&& fn, A&&... args) {
  return detail::from_thread_run_sync(&token.state(), fn, args...);
}
/// run_sync without a token: from a thread started by to_thread::run_sync (which knows its run);
/// from any other thread: std::logic_error.
template <class F, class... A>
requires(!std::is_same_v<std::remove_cvref_t<F>, trio_token>) auto run_sync(F&& fn, A&&... args) {
  return detail::from_thread_run_sync(nullptr, fn, args...);
}

/// Runs the async function fn(args...) as a system task of the run and returns its value (or
/// rethrows) in the calling thread, which blocks meanwhile. When the main task finishes first, the
/// system task is cancelled and the thread receives trio::cancelled; after the run has finished,
/// run_finished_error.
template <class F, class... A>
auto run(const trio_token& token, F&& fn, A&&... args) {
  return detail::from_thread_run(&token.state(), fn, args...);
}
/// run without a token: from a thread started by to_thread::run_sync (which knows its run);
/// from any other thread: std::logic_error.
template <class F, class... A>
requires(!std::is_same_v<std::remove_cvref_t<F>, trio_token>) auto run(F&& fn, A&&... args) {
  return detail::from_thread_run(nullptr, fn, args...);
}

/// In a thread started by to_thread::run_sync: throws trio::cancelled if the task waiting for this
/// thread has been cancelled (its scope's cancellation reached it), so a long job can stop early.
inline void check_cancelled() {
  if (detail::t_runner)
    throw std::logic_error(
        "trio::from_thread::check_cancelled: called from the run's own thread; use "
        "trio::checkpoint_if_cancelled() in a task");
  if (!detail::t_worker)
    throw std::logic_error(
        "trio::from_thread::check_cancelled: this thread was not started by trio::to_thread::run_sync");
  if (detail::t_worker->cancel_requested->load(std::memory_order_acquire))
    throw cancelled(*detail::t_worker->source, *detail::t_worker->reason);
}

}  // namespace from_thread
}  // namespace trio
