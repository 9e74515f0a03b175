#pragma once
/// \file
/// The records the core is made of: a trio task (task_record) and a cancel scope's node in the
/// cancel-status tree (scope_state), plus what a task can hold. Plain data: the operations on them live
/// in cancel_tree.hpp and runner.hpp. A nursery's state (nursery_core) is in nursery_core.hpp, with its
/// operations; the records know it by declaration only.

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "trio/clock.hpp"
#include "trio/detail/config.hpp"
#include "trio/detail/deadline_heap.hpp"
#include "trio/detail/intrusive_list.hpp"
#include "trio/errors.hpp"

namespace trio {
class nursery;
}

namespace trio::detail {

struct task_record;
struct scope_state;
struct nursery_core;
class runner;

struct status_tag {};
struct sibling_tag {};
struct child_scope_tag {};
struct idle_tag {};

/// Something a task holds that must hear when the task exits (a lock it owns). A task holds few
/// things at once: they form a singly linked list from the task (hold / unhold).
struct owner_exit_hook {
  void (*on_owner_exit)(owner_exit_hook*) noexcept = nullptr;
  void* ctx = nullptr;  // the resource
  owner_exit_hook* next_held = nullptr;
  task_record* holder = nullptr;
};

struct task_promise_base;
/// Whether P is the promise of a trio::task (the park sites tell the runner, for the task dump).
template <class P>
inline constexpr bool is_task_promise_v = std::is_base_of_v<task_promise_base, P>;

/// What an abort function answers (Trio's Abort.SUCCEEDED / Abort.FAILED).
enum class abort_result : unsigned char { succeeded, failed };
enum class wake_kind : unsigned char { value, cancelled, error };
using abort_fn_t = abort_result (*)(void* ctx) noexcept;

/// What a parked task waits on: how to undo the wait when cancellation reaches it, and how to say
/// what it is in the task dump (lowlevel::format_task_tree). One static instance per kind of wait.
struct wait_ops {
  abort_fn_t abort;
  /// Appends the wait in words a user recognises: "trio::event::wait (the event is not set)".
  void (*describe)(const void* ctx, std::string& out);
  /// The wait can end without any task of the run acting (a thread, the kernel, a signal): while a task
  /// waits so, the run is not deadlocked.
  bool external = false;
};

/// Appends d as seconds with microseconds: "4.000000 s".
inline void append_seconds(std::string& out, duration d) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.6f s", std::chrono::duration<double>(d).count());
  out += buf;
}

/// The runner of this thread's active trio::run, or nullptr.
constinit inline thread_local runner* t_runner = nullptr;

[[noreturn]] inline void throw_outside_run(const char* what) {
  throw std::logic_error(std::string(what) +
                         " must be called from inside trio::run(): start your program with "
                         "trio::run(main_task) and call it from a task");
}

}  // namespace trio::detail

namespace trio::lowlevel {

/// A trio task as seen from outside: what instruments and introspection receive.
class task_info {
 public:
  task_info(const task_info&) = delete;
  task_info& operator=(const task_info&) = delete;

  /// The demangled type of the function the task runs (C++ has no function names at run time).
  std::string name() const;
  /// The nursery the task lives in; nullptr for the root task.
  trio::nursery* parent_nursery() const noexcept;
  /// While a task started with nursery::start has not called started(): the nursery it will move to.
  trio::nursery* eventual_parent_nursery() const noexcept;
  /// The nurseries open in this task, outermost first.
  std::vector<trio::nursery*> child_nurseries() const;
  /// Unique within the run, in spawn order.
  std::uint64_t id() const noexcept;

 protected:
  task_info() noexcept = default;
  ~task_info() = default;
};

}  // namespace trio::lowlevel

namespace trio::detail {

/// A cancel scope's state, which is also its node in the cancel-status tree.
struct scope_state : deferrable_entry, list_hook<child_scope_tag> {
  scope_state* parent = nullptr;
  intrusive_list<scope_state, child_scope_tag> children;
  intrusive_list<task_record, status_tag> tasks;  // tasks whose innermost scope this is
  scope_state* work_next = nullptr;
  task_record* owner = nullptr;
  nursery_core* nursery = nullptr;  // set when this is a nursery's scope
  runner* r = nullptr;
  time_point deadline = no_deadline;
  cancel_source source = cancel_source::unknown;
  std::string reason;
  bool effectively_cancelled = false;
  bool cancel_called = false;
  bool shield = false;
  bool entered = false;
  bool exited = false;
  bool caught = false;
  bool deadline_ahead = false;  // set when the deadline was computed as now + d, d > 0: no clock read at entry

  scope_state() noexcept;
  scope_state(const scope_state&) = delete;
  scope_state& operator=(const scope_state&) = delete;
  bool active() const noexcept { return entered && !exited; }
};

/// What the runner needs to know about a task's block without knowing its function's type.
struct task_kind {
  const std::type_info* fn_type;  // the task's name (demangled)
  // Takes what the finished outermost coroutine raised (or nullptr), then destroys the coroutine and
  // frees the block holding the record.
  std::exception_ptr (*finish)(task_record*) noexcept;
};

/// The record of one trio task. It lives in the task's block (task_block in nursery.hpp), together with
/// the function and arguments the task was started with; the task's outermost coroutine is `frame`.
struct task_record : lowlevel::task_info, list_hook<status_tag>, list_hook<sibling_tag> {
  // A task is running, runnable (in the run queue) or parked, never two at once: fields that serve
  // different states share their slots (an idle task's record is 104 bytes).
  union {
    task_record* run_next = nullptr;  // runnable: the run queue (singly linked)
    const wait_ops* wait;             // parked: undoes (and describes) the wait
  };
  std::coroutine_handle<> resume_point;  // innermost suspended coroutine of the task
  std::coroutine_handle<> frame;         // the outermost coroutine, destroyed when the task exits
  union {
    void* abort_ctx = nullptr;      // while parked: the abort function's argument
    std::exception_ptr wake_error;  // woken with an error (wake == error) until the task resumes
  };
  scope_state* status = nullptr;
  nursery_core* parent = nullptr;
  owner_exit_hook* held = nullptr;  // resources to break if the task exits holding them
  const task_kind* kind = nullptr;
  std::uint64_t id : 48 = 0;  // 2.8e14 spawns per run
  wake_kind wake : 8 = wake_kind::value;
  bool parked : 1 = false;          // wait and abort_ctx are valid
  bool parked_in_task : 1 = false;  // while parked: resume_point is a trio::task's frame (the task dump)

  // Its runner is the thread's (t_runner): a task never leaves the thread that runs it.
  task_record() noexcept {}
  ~task_record() {}  // wake_error is never live here: a task consumes it when it resumes
  task_record(const task_record&) = delete;
  task_record& operator=(const task_record&) = delete;

  void set_status(scope_state& s) noexcept {
    if (status) intrusive_list<task_record, status_tag>::erase(*this);
    status = &s;
    s.tasks.push_back(*this);
  }
};

// Defined in cancel_tree.hpp; declared here for the nursery and loop code that cancels scopes.
inline void recalculate(scope_state& root) noexcept;
inline void cancel_scope_state(scope_state& s, cancel_source source, std::string_view reason) noexcept;

// ---- what a task holds ---------------------------------------------------------------------------

/// `t` now holds the resource of `h`: it hears of t's exit.
inline void hold(task_record& t, owner_exit_hook& h) noexcept {
  h.holder = &t;
  h.next_held = t.held;
  t.held = &h;
}
/// The resource of `h` is no longer held (no-op if it is not).
inline void unhold(owner_exit_hook& h) noexcept {
  if (!h.holder) return;
  for (owner_exit_hook** p = &h.holder->held; *p; p = &(*p)->next_held)
    if (*p == &h) {
      *p = h.next_held;
      break;
    }
  h.next_held = nullptr;
  h.holder = nullptr;
}

}  // namespace trio::detail
