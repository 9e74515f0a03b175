#pragma once
/// \file
/// The run's cache of worker threads for to_thread::run_sync: started on demand, reused, an idle one
/// exits after 10 s (as Trio's do), every signal blocked in them, all joined before trio::run returns.

#include <pthread.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <exception>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

#include "trio/detail/runner.hpp"

namespace trio::detail {

/// One call to run in a worker thread. It lives wherever its caller keeps it (the awaiting task's
/// frame, or the heap for an abandonable call): the cache allocates nothing per call. When work() has
/// returned, the job itself (an inbox_node) is posted to the run; it may be gone right after.
struct thread_job : inbox_node {
  void (*work)(thread_job*) noexcept = nullptr;  // runs in the worker
  thread_job* next_job = nullptr;
};

/// A value slot for a call's result: bool for void.
template <class R>
using thread_result_t = std::conditional_t<std::is_void_v<R>, bool, R>;

/// Calls fn(args...) (a tuple) and keeps what happened: the value (true for void) or the exception.
template <class R, class F, class Tuple>
void call_and_keep(F& fn, Tuple&& args, std::optional<thread_result_t<R>>& value, std::exception_ptr& error) noexcept {
  try {
    if constexpr (std::is_void_v<R>) {
      std::apply(fn, std::forward<Tuple>(args));
      value.emplace(true);
    } else {
      value.emplace(std::apply(fn, std::forward<Tuple>(args)));
    }
  } catch (...) {
    error = std::current_exception();
  }
}

/// What a thread started by to_thread knows while it runs a job (from_thread, check_cancelled).
struct worker_context {
  token_state* token = nullptr;
  const std::atomic<bool>* cancel_requested = nullptr;  // the host task's cancellation has arrived
  const cancel_source* source = nullptr;                // valid once cancel_requested is set
  const std::string* reason = nullptr;
};
constinit inline thread_local worker_context* t_worker = nullptr;

class thread_cache final : public run_service {
 public:
  /// Trio's default: at most 40 threads at once per run (to_thread::current_default_thread_limiter).
  static constexpr std::size_t default_thread_limit = 40;
  static constexpr std::chrono::seconds idle_timeout{10};

  explicit thread_cache(runner& r) : token_(r.token().get()) {}
  thread_cache(const thread_cache&) = delete;
  thread_cache& operator=(const thread_cache&) = delete;

  /// Lets idle workers go and joins every thread, waiting for the ones still running an abandoned
  /// call: no thread outlives the run. Jobs still queued run first.
  ~thread_cache() override {
    {
      std::lock_guard lk(m_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_)
      if (w.thread.joinable()) w.thread.join();
  }

  token_state& token() const noexcept { return *token_; }

  /// Hands `j` to an idle worker, or starts one. std::system_error if no thread can be started.
  void submit(thread_job& j) {
    std::unique_lock lk(m_);
    j.next_job = nullptr;
    *jobs_tail_ = &j;
    jobs_tail_ = &j.next_job;
    ++queued_;
    if (idle_ >= queued_) {  // a waiting worker for every queued job: wake one
      lk.unlock();
      cv_.notify_one();
      return;
    }
    try {
      start_worker();
    } catch (...) {
      unqueue(j);
      throw;
    }
  }

 private:
  struct worker {
    std::thread thread;
    bool exited = false;
  };

  void unqueue(thread_job& j) noexcept {
    for (thread_job** p = &jobs_head_; *p; p = &(*p)->next_job)
      if (*p == &j) {
        *p = j.next_job;
        if (!*p) jobs_tail_ = p;
        --queued_;
        return;
      }
  }

  /// With m_ held. Workers start with every signal blocked (the loop thread's signals stay its own).
  void start_worker() {
    for (auto it = workers_.begin(); it != workers_.end();) {  // reap workers that left on their own
      if (it->exited) {
        it->thread.join();
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    auto& w = workers_.emplace_back();
    try {
      w.thread = std::thread([this, &w] { run_worker(w); });
    } catch (const std::system_error& e) {
      ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
      workers_.pop_back();
      throw std::system_error(e.code(), "trio::to_thread::run_sync: cannot start a worker thread");
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }

  void run_worker(worker& self) noexcept {
    std::unique_lock lk(m_);
    for (;;) {
      if (!jobs_head_) {
        if (stopping_) break;
        ++idle_;
        const bool woke = cv_.wait_for(lk, idle_timeout, [&] { return jobs_head_ || stopping_; });
        --idle_;
        if (!woke) break;  // idle for too long: leave (joined later)
        continue;
      }
      thread_job* j = jobs_head_;
      jobs_head_ = j->next_job;
      if (!jobs_head_) jobs_tail_ = &jobs_head_;
      --queued_;
      lk.unlock();
      j->work(j);
      token_->post(*j);  // cannot fail: the run is not finished while this cache lives
      lk.lock();
    }
    self.exited = true;
  }

  token_state* token_;
  std::mutex m_;
  std::condition_variable cv_;
  thread_job* jobs_head_ = nullptr;
  thread_job** jobs_tail_ = &jobs_head_;
  std::size_t queued_ = 0;  // jobs no worker has taken yet
  std::size_t idle_ = 0;    // workers waiting for a job
  bool stopping_ = false;
  std::list<worker> workers_;
};

}  // namespace trio::detail
