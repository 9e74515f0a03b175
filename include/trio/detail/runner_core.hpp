#pragma once
/// \file
/// The run loop: the run queue and batches, the one blocking primitive (park with an abort function),
/// io_uring turns, deadlines and autojump, Ctrl-C, instruments and services.
/// The records it runs are in task_record.hpp. Include detail/runner.hpp, which adds the code that needs
/// the runner complete (the cancel-status tree, a nursery's core).

#include <cxxabi.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <coroutine>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "trio/clock.hpp"
#include "trio/detail/config.hpp"
#include "trio/detail/deadline_heap.hpp"
#include "trio/detail/frame_pool.hpp"
#include "trio/detail/intrusive_list.hpp"
#include "trio/detail/ring.hpp"
#include "trio/detail/task_record.hpp"
#include "trio/detail/token.hpp"
#include "trio/errors.hpp"
#include "trio/instrument.hpp"

namespace trio::detail {

/// Base of every io_uring operation: the CQE's user_data points at it.
struct io_op {
  void (*complete)(io_op*, int res, unsigned flags) noexcept = nullptr;
};

struct idle_waiter : list_hook<idle_tag> {
  duration cushion{};
  task_record* task = nullptr;
};

/// Something a run owns for its whole length and tears down when it ends, before the loop's own
/// state goes (to_thread's cache of worker threads): created on first use by runner::service<S>().
struct run_service {
  virtual ~run_service() = default;
};

/// What trio::run configures the runner with (run_options).
struct run_config {
  clock* clk = nullptr;
  std::vector<instrument*> instruments;
  bool strict_exception_groups = false;
  bool handle_sigint = true;
  bool randomize_schedule = true;
  bool warn_swallowed_cancellation = true;
  int task_dump_signal = 0;
  bool fail_on_deadlock = false;
  std::string (*format_tree)(const runner&) = nullptr;  // the task dump (detail/task_dump.hpp)
  duration slow_step_threshold{};
  bool collect_step_times = false;
  std::string (*code_name)(const void* code) = nullptr;  // a function's name from its address (task_dump.hpp)
  std::unique_ptr<struct step_observer> (*make_watchdog)(duration threshold,
                                                         std::string (*code_name)(const void*)) = nullptr;
};

/// What the loop counts (run_statistics). Step times are measured only when asked for.
struct loop_counters {
  std::uint64_t loop_turns = 0;
  std::uint64_t task_steps = 0;
  std::uint64_t cancellations = 0;
  std::int64_t busy_ns = 0;
  std::int64_t longest_ns = 0;
  std::string longest_task;
  std::array<std::uint64_t, 40> step_histogram{};  // bucket i: steps of [2^i, 2^(i+1)) ns
};

/// Watches the steps while they run (run_options::slow_step_threshold): the loop tells it when each
/// step starts and ends. The thread that does it is in step_watchdog.hpp.
struct step_observer {
  virtual ~step_observer() = default;
  virtual void begin(std::int64_t start_ns, std::uint64_t task_id, const std::type_info* type,
                     const void* code) noexcept = 0;
  virtual void end() noexcept = 0;
};

/// CLOCK_MONOTONIC in ns (the clock of step times).
inline std::int64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

class runner {
 public:
  explicit runner(run_config cfg)
      : io_(256),
        clk_(cfg.clk ? cfg.clk : &system_clock_),
        instruments_(std::move(cfg.instruments)),
        strict_groups_(cfg.strict_exception_groups),
        randomize_(cfg.randomize_schedule),
        warn_swallowed_(cfg.warn_swallowed_cancellation),
        token_(std::make_shared<token_state>()) {
    // The schedule randomizer's seed (getrandom: <random>'s std::random_device costs every includer
    // ~70 ms of compile time for this one call).
    if (::getrandom(&rng_, sizeof rng_, 0) != static_cast<ssize_t>(sizeof rng_))
      rng_ = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    rng_ ^= 0x9e3779b97f4a7c15ull;
    root_scope_.r = this;
    root_scope_.entered = true;
    // A blocking eventfd with an io_uring read kept in flight on it: a wake-up from another thread
    // completes the read, so the loop needs no read() of its own (io_uring would answer -EAGAIN at once
    // on a non-blocking one). Writers never block: the counter cannot overflow.
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
    if (wake_fd_ < 0) {
      const int err = errno;
      throw std::system_error(err, std::system_category(), "trio::run: eventfd failed" + fd_limit_hint(err));
    }
    token_->wake_fd = wake_fd_;
    arm_wake_read();
    if (cfg.handle_sigint) install_sigint();
    format_tree_ = cfg.format_tree;
    code_name_ = cfg.code_name;
    slow_step_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(cfg.slow_step_threshold).count();
    time_steps_ = cfg.collect_step_times || slow_step_ns_ > 0;
    if (slow_step_ns_ > 0 && cfg.make_watchdog) watchdog_ = cfg.make_watchdog(cfg.slow_step_threshold, cfg.code_name);
    fail_on_deadlock_ = cfg.fail_on_deadlock;
    if (cfg.task_dump_signal > 0) install_dump_signal(cfg.task_dump_signal);
    clk_->start_clock();
  }
  runner(const runner&) = delete;
  runner& operator=(const runner&) = delete;
  ~runner() {
    while (!services_.empty()) services_.pop_back();  // newest first; worker threads are joined here
    restore_sigint();
    restore_dump_signal();
    inbox_node* left = nullptr;
    {
      std::lock_guard lk(token_->m);
      token_->finished = true;
      token_->wake_fd = -1;
      token_->queue.clear();
      left = token_->take_inbox_locked();
    }
    while (inbox_node* n = left) {  // messages that arrived after the loop's last turn
      left = n->next;
      n->deliver(n, false);
    }
    ::close(wake_fd_);
  }

  /// The run's service of type S, created (S(runner&)) on first use.
  template <class S>
  S& service() {
    for (auto& [type, svc] : services_)
      if (*type == typeid(S)) return static_cast<S&>(*svc);
    services_.emplace_back(&typeid(S), std::make_unique<S>(*this));
    return static_cast<S&>(*services_.back().second);
  }

  // ---- what tasks and primitives use -------------------------------------------------------------

  task_record* current() const noexcept { return current_; }
  task_record& current_or_throw(const char* what) const {
    if (TRIO_UNLIKELY(!current_)) throw_outside_task(what);
    return *current_;
  }
  [[noreturn]] static void throw_outside_task(const char* what) {
    throw std::logic_error(std::string(what) + " must be called from inside a trio task");
  }
  clock& clk() const noexcept { return *clk_; }
  time_point now() const { return clk_->current_time(); }
  deadline_heap& deadlines() noexcept { return deadlines_; }

  /// The earliest deadline, counting the ones still deferred.
  time_point next_deadline() const noexcept { return deadlines_.next_counting_deferred(); }
  ring& io() noexcept { return io_; }
  bool strict_exception_groups() const noexcept { return strict_groups_; }
  const std::shared_ptr<token_state>& token() const noexcept { return token_; }
  task_record* init_task() const noexcept { return init_task_; }
  nursery_core* system_nursery() const noexcept { return system_nursery_; }
  void set_system_nursery(nursery_core* n) noexcept { system_nursery_ = n; }

  std::size_t tasks_living() const noexcept { return tasks_living_; }
  std::size_t tasks_runnable() const noexcept { return runnable_; }
  std::size_t io_in_flight() const noexcept { return io_in_flight_; }
  void io_started() noexcept { ++io_in_flight_; }
  /// The tasks waiting on fd for readability [0] and writability [1] (wait_readable / wait_writable).
  io_op*& fd_waiter(int fd, int direction) {
    if (fd < 0) throw std::invalid_argument("trio: invalid file descriptor " + std::to_string(fd));
    if (static_cast<std::size_t>(fd) >= fd_waiters_.size()) fd_waiters_.resize(static_cast<std::size_t>(fd) + 1);
    return fd_waiters_[static_cast<std::size_t>(fd)][direction];
  }
  io_op* fd_waiter_if_any(int fd, int direction) const noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fd_waiters_.size()) return nullptr;
    return fd_waiters_[static_cast<std::size_t>(fd)][direction];
  }
  void io_finished() noexcept { --io_in_flight_; }

  /// Makes a parked task runnable again; its wait returns normally in the next batch.
  TRIO_ALWAYS_INLINE void wake(task_record& t) noexcept {
    t.parked = false;
    t.wake = wake_kind::value;
    enqueue(t);
  }
  /// Makes a parked (or running) task runnable again; it resumes with `kind` in the next batch.
  void reschedule(task_record& t, wake_kind kind = wake_kind::value, std::exception_ptr err = nullptr) noexcept {
    t.parked = false;
    t.wake = kind;
    if (err) ::new (static_cast<void*>(&t.wake_error)) std::exception_ptr(std::move(err));
    enqueue(t);
  }

  /// The one blocking primitive (Trio's wait_task_rescheduled): parks the current task, which resumed
  /// through `h`, until someone reschedules it. When cancellation reaches it, `ops.abort` is asked to undo
  /// the wait; `ops.describe` says what it is in the task dump.
  /// `in_task`: h is a trio::task's frame (is_task_promise_v of the awaiting promise type), so the task
  /// dump may walk the await chain from it.
  void park(std::coroutine_handle<> h, const wait_ops& ops, void* ctx, bool in_task = false) noexcept {
    task_record& t = *current_;
    t.resume_point = h;
    t.wait = &ops;
    t.abort_ctx = ctx;
    t.parked = true;
    t.parked_in_task = in_task;
    if (t.status->effectively_cancelled) attempt_delivery(t);
  }

  /// The current task reschedules itself: a schedule point.
  TRIO_ALWAYS_INLINE void yield(std::coroutine_handle<> h) noexcept {
    task_record& t = *current_;
    t.resume_point = h;
    enqueue(t);  // a running task is not parked: no abort function, nothing to deliver
  }

  /// After a park: returns normally, or throws what the waker or the cancellation delivered.
  static void resume_from_park(task_record& t) {
    if (TRIO_LIKELY(t.wake == wake_kind::value)) return;
    deliver_wake(t);
  }
  [[noreturn]] static void deliver_wake(task_record& t) {
    switch (t.wake) {
      case wake_kind::value:
        break;
      case wake_kind::cancelled:
        t.wake = wake_kind::value;
        throw make_cancelled(t);
      case wake_kind::error: {
        t.wake = wake_kind::value;
        std::exception_ptr e = std::move(t.wake_error);
        t.wake_error.~exception_ptr();
        t.abort_ctx = nullptr;
        std::rethrow_exception(std::move(e));
      }
    }
    std::terminate();  // not reached: the task was woken normally
  }

  /// If `t` is parked, asks its abort function to undo the wait; on success it resumes cancelled.
  void attempt_delivery(task_record& t) noexcept {
    if (!t.parked) return;
    if (t.wait->abort(t.abort_ctx) == abort_result::succeeded) reschedule(t, wake_kind::cancelled);
  }

  /// The cancelled exception for `t`, naming the outermost cancelled scope that reaches it (the root
  /// cause: a nursery cancelled because its child was cancelled by Ctrl-C reports Ctrl-C).
  static cancelled make_cancelled(const task_record& t) {
    const scope_state* cause = nullptr;
    for (const scope_state* s = t.status; s; s = s->parent) {
      if (s->cancel_called) cause = s;
      if (s->shield) break;
    }
    if (cause && t_runner) t_runner->count_delivery(t, *cause);
    return cause ? cancelled(cause->source, cause->reason) : cancelled(cancel_source::unknown, {});
  }

  /// A task that keeps receiving trio::cancelled from the same scope without leaving it is almost
  /// always swallowing it (`catch (...)` around a checkpoint in a retry loop): it spins forever. After
  /// this many deliveries in a row the run prints one warning (run_options::warn_swallowed_cancellation).
  static constexpr unsigned swallow_warning_threshold = 1000;

  /// Counts a cancellation delivered to `t` by `cause` (cold: a throw follows).
  void count_delivery(const task_record& t, const scope_state& cause) noexcept {
    ++stats_.cancellations;
    if (swallow_.scope != &cause || swallow_.task_id != t.id) {
      swallow_ = {&cause, t.id, 0};
      return;
    }
    if (++swallow_.count == swallow_warning_threshold - 1 && warn_swallowed_) warn_swallowed(t, cause);
  }
  /// Scope `s` is being left: a later scope at the same address starts a new count.
  void forget_deliveries(const scope_state& s) noexcept {
    if (swallow_.scope == &s) swallow_ = {};
  }
  [[gnu::cold]] static void warn_swallowed(const task_record& t, const scope_state& cause) noexcept {
    try {
      std::fprintf(stderr,
                   "trio: warning: task %s has received trio::cancelled %u times from the same cancelled scope "
                   "(%s) without leaving it: is something catching trio::cancelled and not rethrowing it? "
                   "Rethrow it (catch (const trio::cancelled&) { throw; }) or catch std::exception instead of "
                   "(...). Silence this with run_options::warn_swallowed_cancellation = false.\n",
                   t.name().c_str(), swallow_warning_threshold, cause.reason.c_str());
    } catch (...) {
    }
  }

  /// Makes the record (of a block that `kind` frees) and its outermost coroutine `frame` a task of
  /// nursery `n` (nullptr: the root task, in scope `status`). The runner owns both from here on.
  task_record& spawn(task_record& t, const task_kind& kind, std::coroutine_handle<> frame, nursery_core* n,
                     scope_state* status = nullptr) noexcept;  // in runner.hpp: it fills in the nursery
  void mark_main(task_record& t) noexcept { main_task_ = &t; }

  /// Runs the loop until the root task has exited.
  void loop() {
    if (!instruments_.empty()) notify_plain(&instrument::before_run);
    while (!init_done_) {
      ++stats_.loop_turns;
      run_batch();
      if (init_done_) break;
      if (!quick_turn()) io_turn();
    }
    if (!instruments_.empty()) notify_plain(&instrument::after_run);
  }

  bool keyboard_interrupted() const noexcept { return ki_count_ > 0; }
  const std::exception_ptr& main_error() const noexcept { return main_error_; }
  const std::exception_ptr& init_error() const noexcept { return init_error_; }
  const std::exception_ptr& internal_error() const noexcept { return internal_error_; }
  const std::exception_ptr& deadlock_error() const noexcept { return deadlock_error_; }
  /// An exception will escape trio::run (the main task's, an internal one, a deadlock, Ctrl-C).
  bool run_failed() const noexcept {
    return main_error_ || internal_error_ || init_error_ || deadlock_error_ || ki_count_ > 0;
  }
  const loop_counters& counters() const noexcept { return stats_; }
  const ring& io_ring() const noexcept { return io_; }

  // ---- wait_all_tasks_blocked ---------------------------------------------------------------------
  void add_idle_waiter(idle_waiter& w) noexcept {
    // Sorted by cushion; equal cushions in arrival order.
    intrusive_list<idle_waiter, idle_tag> tail;
    while (!idle_waiters_.empty() && idle_waiters_.back().cushion > w.cushion) {
      idle_waiter* x = idle_waiters_.pop_back();
      tail.push_front(*x);
    }
    idle_waiters_.push_back(w);
    idle_waiters_.splice_back(tail);
  }

  // ---- instruments --------------------------------------------------------------------------------
  void add_instrument(instrument& i) {
    for (auto* x : instruments_)
      if (x == &i) return;
    instruments_.push_back(&i);
  }
  void remove_instrument(instrument& i) {
    for (auto it = instruments_.begin(); it != instruments_.end(); ++it)
      if (*it == &i) {
        instruments_.erase(it);
        return;
      }
    throw std::invalid_argument("trio::lowlevel::remove_instrument: this instrument was never added to the run");
  }

  /// A run_sync_soon callback or a system task crashed: remember it and shut the run down.
  void internal_failure(std::exception_ptr e) noexcept;

  scope_state& root_scope() noexcept { return root_scope_; }

 private:
  static constexpr std::uint64_t wake_tag = 1;
  static constexpr std::uint64_t signal_tag = 2;
  static constexpr std::uint64_t dump_tag = 3;

  std::uint64_t next_random() noexcept {
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return rng_;
  }

  TRIO_ALWAYS_INLINE void enqueue(task_record& t) noexcept {
    if (runq_head_ && collect_reversed_) {  // (into an empty queue: either way, no coin to mispredict)
      t.run_next = runq_head_;
      runq_head_ = &t;
    } else {
      t.run_next = nullptr;
      *runq_tail_ = &t;
      runq_tail_ = &t.run_next;
    }
    ++runnable_;
    if (TRIO_UNLIKELY(!instruments_.empty())) notify(&instrument::task_scheduled, t);
  }

  /// Runs the tasks that are runnable now; tasks made runnable meanwhile wait for the next batch.
  void run_batch() {
    task_record* t = runq_head_;
    runq_head_ = nullptr;
    runq_tail_ = &runq_head_;
    // Like Trio, a batch runs in reverse order half of the time (at random). The coin is tossed for
    // the next batch now, and the tasks it collects are linked in that order as they arrive (no
    // reversal pass over a batch that may not fit in the cache).
    collect_reversed_ = randomize_ && (next_random() & 1);
    while (t) {
      task_record* next = t->run_next;  // read first: the step may queue t again
      --runnable_;
      step(*t);
      t = next;
    }
  }

  void step(task_record& t) {
    ++stats_.task_steps;
    current_ = &t;
    if (TRIO_UNLIKELY(!instruments_.empty())) notify(&instrument::before_task_step, t);
    if (TRIO_UNLIKELY(time_steps_))
      timed_resume(t);
    else
      t.resume_point.resume();
    current_ = nullptr;
    if (deadlines_.has_deferred()) deadlines_.flush_deferred();
    if (t.frame.done()) {  // the outermost coroutine has reached its final suspend point
      finish_task(t);
    } else if (TRIO_UNLIKELY(!instruments_.empty())) {
      notify(&instrument::after_task_step, t);
    }
  }

  void finish_task(task_record& t);

  /// A step with its time measured (run_options::collect_step_times or slow_step_threshold).
  [[gnu::noinline]] void timed_resume(task_record& t) {
    const void* resumed_in = *static_cast<void* const*>(t.resume_point.address());
    const std::int64_t t0 = monotonic_ns();
    if (watchdog_) watchdog_->begin(t0, t.id, t.kind ? t.kind->fn_type : nullptr, resumed_in);
    t.resume_point.resume();
    const std::int64_t dt = monotonic_ns() - t0;
    if (watchdog_) watchdog_->end();
    stats_.busy_ns += dt;
    int bucket = dt > 0 ? 63 - __builtin_clzll(static_cast<unsigned long long>(dt)) : 0;
    ++stats_.step_histogram[static_cast<std::size_t>(bucket < 39 ? bucket : 39)];
    if (dt > stats_.longest_ns) {
      stats_.longest_ns = dt;
      try {
        stats_.longest_task = "task #" + std::to_string(t.id) + " " + t.name();
      } catch (...) {
      }
    }
    if (slow_step_ns_ > 0 && dt > slow_step_ns_) report_slow_step(t, dt, resumed_in);
  }
  [[gnu::cold]] void report_slow_step(const task_record& t, std::int64_t dt, const void* resumed_in) noexcept {
    const std::int64_t now = monotonic_ns();
    if (now < next_slow_report_ns_) {  // at most one report per second
      ++slow_held_;
      return;
    }
    next_slow_report_ns_ = now + 1'000'000'000;
    try {
      std::string line = "trio: slow step: task #" + std::to_string(t.id) + " (" + t.name() + ") ran " +
                         std::to_string(dt / 1'000'000) + " ms without reaching a checkpoint";
      if (code_name_) {
        line += "; it resumed in " + code_name_(resumed_in);
        if (!t.frame.done())
          line += " and suspended in " + code_name_(*static_cast<void* const*>(t.resume_point.address()));
      }
      if (slow_held_) line += " (" + std::to_string(slow_held_) + " more slow steps not reported)";
      slow_held_ = 0;
      line += '\n';
      std::fputs(line.c_str(), stderr);
    } catch (...) {
    }
  }

  /// The common turn while tasks keep the loop busy: nothing to submit, nothing completed, no
  /// run_sync_soon callbacks, no instruments. Skips the syscall; false: take the full io_turn().
  bool quick_turn() {
    if (runnable_ == 0 || io_.has_pending_submissions() || TRIO_UNLIKELY(!instruments_.empty())) return false;
    if (token_->pending.load(std::memory_order_acquire) || kernel_has_news()) return false;
    if (!deadlines_.empty()) deadlines_.expire(clk_->current_time());
    return true;
  }

  void io_turn();
  bool kernel_has_news() noexcept {
    if (TRIO_LIKELY(io_.can_peek_completions())) return io_.completions_pending();
    return kernel_has_news_slow();
  }
  bool kernel_has_news_slow() noexcept;

  void arm_wake_read() {
    // Lazy: while tasks are runnable the loop checks token_->pending every turn anyway; the read only
    // matters once the loop waits, and that io_uring_enter submits it.
    io_uring_sqe* sqe = io_.get_lazy_sqe();
    io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof wake_value_, 0);
    io_uring_sqe_set_data64(sqe, wake_tag);
  }

  void arm_poll(int fd, std::uint64_t tag) {
    io_uring_sqe* sqe = io_.get_sqe();
    io_uring_prep_poll_add(sqe, fd, POLLIN);
    io_uring_sqe_set_data64(sqe, tag);
  }

  void dispatch(std::uint64_t user_data, int res, unsigned flags) noexcept {
    if (user_data == 0) return;
    if (user_data == wake_tag) {
      try {
        arm_wake_read();
      } catch (...) {
        internal_failure(std::current_exception());
      }
      return;
    }
    if (user_data == signal_tag) {
      on_signal();
      return;
    }
    if (user_data == dump_tag) {
      on_dump_signal();
      return;
    }
    io_op* op = reinterpret_cast<io_op*>(static_cast<std::uintptr_t>(user_data));
    op->complete(op, res, flags);
  }

  std::size_t run_callbacks() {
    std::deque<token_state::entry>& todo = callbacks_;  // a member: a std::deque allocates when made
    inbox_node* inbox = nullptr;
    {
      std::lock_guard lk(token_->m);
      token_->pending.store(false, std::memory_order_relaxed);
      if (!token_->queue.empty()) todo.swap(token_->queue);
      inbox = token_->take_inbox_locked();
    }
    std::size_t events = todo.size();
    while (inbox_node* n = inbox) {
      inbox = n->next;  // read first: delivering may free the node
      n->deliver(n, true);
      ++events;
    }
    for (auto& e : todo) {
      try {
        e.fn();
      } catch (...) {
        internal_failure(std::current_exception());
      }
    }
    todo.clear();
    return events;
  }

  // ---- Ctrl-C ----------------------------------------------------------------------------------
  void install_sigint() {
    if (::getpid() != static_cast<pid_t>(::syscall(SYS_gettid))) return;  // only the main thread, as Trio
    struct sigaction current {};
    if (::sigaction(SIGINT, nullptr, &current) != 0) return;
    if ((current.sa_flags & SA_SIGINFO) || current.sa_handler != SIG_DFL) return;  // the user's own handler wins
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    if (::pthread_sigmask(SIG_BLOCK, &set, &old_mask_) != 0) return;
    signal_fd_ = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd_ < 0) {
      ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
      throw std::system_error(errno, std::system_category(), "trio::run: signalfd(SIGINT) failed");
    }
    arm_poll(signal_fd_, signal_tag);
  }

  void restore_sigint() noexcept {
    if (signal_fd_ < 0) return;
    signalfd_siginfo info;
    while (::read(signal_fd_, &info, sizeof info) == sizeof info) {
    }
    ::close(signal_fd_);
    signal_fd_ = -1;
    ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }

  void on_signal() noexcept;

  // ---- the task dump on a signal, and deadlocks -----------------------------------------------
  /// The signal is blocked in this thread and read from a signalfd, like Ctrl-C: threads the run starts
  /// inherit the mask; a thread of the program's own should block it too.
  void install_dump_signal(int sig) {
    sigset_t set;
    sigemptyset(&set);
    if (sigaddset(&set, sig) != 0)
      throw std::invalid_argument("trio::run: run_options::task_dump_signal " + std::to_string(sig) +
                                  " is not a signal number");
    if (sig == SIGINT || sig == SIGKILL || sig == SIGSTOP)
      throw std::invalid_argument("trio::run: run_options::task_dump_signal cannot be SIGINT, SIGKILL or SIGSTOP");
    ::pthread_sigmask(SIG_BLOCK, &set, &old_dump_mask_);
    dump_fd_ = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (dump_fd_ < 0) {
      const int err = errno;
      ::pthread_sigmask(SIG_SETMASK, &old_dump_mask_, nullptr);
      throw std::system_error(err, std::system_category(), "trio::run: signalfd(task_dump_signal) failed");
    }
    dump_signal_ = sig;
    arm_poll(dump_fd_, dump_tag);
  }
  void restore_dump_signal() noexcept {
    if (dump_fd_ < 0) return;
    signalfd_siginfo info;
    while (::read(dump_fd_, &info, sizeof info) == sizeof info) {
    }
    ::close(dump_fd_);
    dump_fd_ = -1;
    ::pthread_sigmask(SIG_SETMASK, &old_dump_mask_, nullptr);
  }
  void on_dump_signal() noexcept {
    signalfd_siginfo info;
    bool any = false;
    while (::read(dump_fd_, &info, sizeof info) == sizeof info) any = true;
    if (any) {
      try {
        const char* abbrev = ::sigabbrev_np(dump_signal_);
        std::string text = "trio: task dump (" +
                           (abbrev ? "SIG" + std::string(abbrev) : "signal " + std::to_string(dump_signal_)) +
                           "); the run goes on\n";
        if (format_tree_) text += format_tree_(*this);
        for (std::size_t at = 0; at < text.size();) {
          const ssize_t n = ::write(2, text.data() + at, text.size() - at);
          if (n <= 0) break;
          at += static_cast<std::size_t>(n);
        }
      } catch (...) {  // out of memory: no dump this time
      }
    }
    try {
      arm_poll(dump_fd_, dump_tag);
    } catch (...) {
      internal_failure(std::current_exception());
    }
  }

  /// Nothing can ever wake a task again: no task runnable, no deadline, no I/O in flight, no task
  /// waiting on a thread, and no trio_token held outside the run (only the run's own reference).
  bool nothing_can_happen() const noexcept {
    if (runnable_ != 0 || io_in_flight_ != 0 || next_deadline() != no_deadline || !idle_waiters_.empty()) return false;
    // (SQEs still to submit wake nobody by themselves: an operation a task waits on counts in io_in_flight_)
    if (token_.use_count() > 1 || token_->pending.load(std::memory_order_acquire)) return false;
    return !any_external_wait();
  }
  /// Some task waits on a thread (to_thread) or the kernel: it can still be woken. Walks the task tree.
  bool any_external_wait() const noexcept;
  void on_deadlock() noexcept;

 public:
  /// A signal receiver for SIGINT takes Ctrl-C over while it lives (as in Trio): the run's own SIGINT
  /// signalfd stops reporting it (SIGINT stays blocked, so the receiver's signalfd gets it instead).
  /// Nested receivers count. Returns whether the run was handling SIGINT itself.
  bool take_sigint() noexcept {
    if (signal_fd_ < 0) return false;
    if (sigint_taken_++ == 0) {
      sigset_t none;
      sigemptyset(&none);
      ::signalfd(signal_fd_, &none, SFD_NONBLOCK | SFD_CLOEXEC);
    }
    return true;
  }
  void give_back_sigint() noexcept {
    if (signal_fd_ < 0 || sigint_taken_ == 0) return;
    if (--sigint_taken_ == 0) {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGINT);
      ::signalfd(signal_fd_, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    }
  }

 private:
  void notify_plain(void (instrument::*hook)()) {
    for (std::size_t i = 0; i < instruments_.size();) {
      instrument* ins = instruments_[i];
      if (call_hook(ins, [&] { (ins->*hook)(); })) ++i;
    }
  }
  void notify(void (instrument::*hook)(const lowlevel::task_info&), const task_record& t) {
    for (std::size_t i = 0; i < instruments_.size();) {
      instrument* ins = instruments_[i];
      if (call_hook(ins, [&] { (ins->*hook)(t); })) ++i;
    }
  }
  void notify_io(void (instrument::*hook)(duration), duration d) {
    for (std::size_t i = 0; i < instruments_.size();) {
      instrument* ins = instruments_[i];
      if (call_hook(ins, [&] { (ins->*hook)(d); })) ++i;
    }
  }
  /// Runs a hook; a hook that throws is reported and its instrument removed (returns false).
  template <class F>
  bool call_hook(instrument* ins, F&& f) noexcept {
    try {
      f();
      return true;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "trio: an instrument hook raised (%s); the instrument was removed\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "trio: an instrument hook raised; the instrument was removed\n");
    }
    for (auto it = instruments_.begin(); it != instruments_.end(); ++it)
      if (*it == ins) {
        instruments_.erase(it);
        break;
      }
    return false;
  }

  ring io_;
  system_clock system_clock_;
  clock* clk_;
  std::vector<instrument*> instruments_;
  bool strict_groups_;
  bool randomize_;
  bool warn_swallowed_;
  struct {
    const scope_state* scope = nullptr;  // the cause of the last cancellation delivered
    std::uint64_t task_id = 0;           // to this task
    unsigned count = 0;                  // deliveries in a row, after the first
  } swallow_;
  std::uint64_t rng_ = 0;
  task_record* runq_head_ = nullptr;
  task_record** runq_tail_ = &runq_head_;
  bool collect_reversed_ = false;  // the run queue is being built in reverse (see run_batch)
  std::size_t runnable_ = 0;
  deadline_heap deadlines_;
  scope_state root_scope_;
  intrusive_list<idle_waiter, idle_tag> idle_waiters_;
  task_record* current_ = nullptr;
  task_record* init_task_ = nullptr;
  task_record* main_task_ = nullptr;
  nursery_core* system_nursery_ = nullptr;
  std::size_t tasks_living_ = 0;
  std::size_t io_in_flight_ = 0;
  std::vector<std::array<io_op*, 2>> fd_waiters_;
  std::uint64_t next_task_id_ = 0;
  unsigned busy_turns_ = 0;
  clock_type::time_point last_reap_{};
  bool init_done_ = false;
  std::exception_ptr main_error_;
  std::exception_ptr init_error_;
  std::exception_ptr internal_error_;
  std::shared_ptr<token_state> token_;
  std::vector<std::pair<const std::type_info*, std::unique_ptr<run_service>>> services_;
  std::deque<token_state::entry> callbacks_;  // run_sync_soon callbacks being run
  int wake_fd_ = -1;
  std::uint64_t wake_value_ = 0;  // the in-flight read's buffer (owned by the kernel meanwhile)
  int signal_fd_ = -1;
  int dump_fd_ = -1;
  int dump_signal_ = 0;
  sigset_t old_dump_mask_{};
  bool fail_on_deadlock_ = false;
  std::string (*format_tree_)(const runner&) = nullptr;
  std::exception_ptr deadlock_error_;
  std::string (*code_name_)(const void*) = nullptr;
  loop_counters stats_;
  bool time_steps_ = false;
  std::int64_t slow_step_ns_ = 0;
  std::int64_t next_slow_report_ns_ = 0;
  std::uint64_t slow_held_ = 0;
  std::unique_ptr<step_observer> watchdog_;
  int sigint_taken_ = 0;  // signal receivers for SIGINT alive now
  int ki_count_ = 0;
  sigset_t old_mask_{};
};

inline runner& current_runner(const char* what) {
  runner* r = t_runner;
  if (!r) throw_outside_run(what);
  return *r;
}

inline bool runner::kernel_has_news_slow() noexcept {
  // The kernel does not flag deferred completions: with I/O in flight, enter every 50 us of busy
  // running (a task that only checkpoints must not starve I/O); with nothing in flight, every 1024th
  // busy turn, so Ctrl-C and cross-thread wake-ups are still seen.
  if ((++busy_turns_ & 1023u) == 0) return true;
  return io_in_flight_ != 0 && clock_type::now() - last_reap_ >= std::chrono::microseconds(50);
}

inline void runner::io_turn() {
  const bool callbacks = token_->pending.load(std::memory_order_acquire);
  const bool busy = runnable_ != 0 || callbacks;
  const bool news = busy && !io_.has_pending_submissions() && kernel_has_news();

  enum class idle { none, waiters, autojump } primed = idle::none;
  duration timeout = duration::zero();
  if (!busy) {
    timeout = deadlines_.empty() ? duration::max() : clk_->deadline_to_sleep_time(deadlines_.next());
    if (timeout < duration::zero()) timeout = duration::zero();
  }
  if (!idle_waiters_.empty()) {
    const duration cushion = idle_waiters_.front().cushion;
    if (cushion < timeout) {
      timeout = cushion;
      primed = idle::waiters;
    }
  } else if (!deadlines_.empty()) {  // with no deadline to jump to, block in the kernel like the real clock
    const duration threshold = clk_->autojump_threshold();
    if (threshold < timeout) {
      timeout = threshold;
      primed = idle::autojump;
    }
  }

  // fail_on_deadlock: a wait that nothing can end. Wait a quarter second of real time for what the
  // checks cannot see coming, then declare the deadlock.
  const bool suspect = TRIO_UNLIKELY(fail_on_deadlock_) && !busy && timeout == duration::max() && nothing_can_happen();
  if (suspect) timeout = std::chrono::milliseconds(250);

  if (TRIO_UNLIKELY(!instruments_.empty())) notify_io(&instrument::before_io_wait, timeout);
  std::size_t events = 0;
  // A turn that would not wait enters the kernel only for pending submissions or completions.
  const bool enter = !busy || news || io_.has_pending_submissions();
  if (enter) {
    const std::int64_t ns =
        timeout == duration::max() ? -1 : std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
    io_.submit_and_wait(ns);
    // (only the fallback for kernels that do not flag completions reads it: a clock read per turn)
    if (io_in_flight_ != 0 && TRIO_UNLIKELY(!io_.can_peek_completions())) last_reap_ = clock_type::now();
    events += io_.drain([this](std::uint64_t ud, int res, unsigned flags) { dispatch(ud, res, flags); });
  }
  if (TRIO_UNLIKELY(!instruments_.empty())) notify_io(&instrument::after_io_wait, timeout);
  if (token_->pending.load(std::memory_order_acquire)) events += run_callbacks();

  if (!deadlines_.empty() && deadlines_.expire(clk_->current_time()) != 0) primed = idle::none;
  if (suspect && events == 0 && nothing_can_happen()) on_deadlock();

  if (primed != idle::none && runnable_ == 0 && events == 0) {
    if (primed == idle::waiters && !idle_waiters_.empty()) {
      const duration cushion = idle_waiters_.front().cushion;
      while (!idle_waiters_.empty() && idle_waiters_.front().cushion == cushion) {
        idle_waiter* w = idle_waiters_.pop_front();
        reschedule(*w->task);
      }
    } else if (primed == idle::autojump && !deadlines_.empty()) {
      clk_->autojump(deadlines_.next());
      deadlines_.expire(clk_->current_time());
    }
  }
}

}  // namespace trio::detail
