#pragma once
/// \file
/// The entry to the core's machinery: the runner (runner_core.hpp), the cancel-status tree
/// (cancel_tree.hpp), a nursery's core (nursery_core.hpp), and the runner's operations that reach into
/// both (a task's start and end, an internal failure, Ctrl-C). Include this header; the others include only
/// downward (runner_core.hpp knows the tree and nurseries by declaration only).

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <utility>

#include "trio/detail/cancel_tree.hpp"
#include "trio/detail/nursery_core.hpp"
#include "trio/detail/runner_core.hpp"
#include "trio/detail/task_record.hpp"

namespace trio::detail {

inline task_record& runner::spawn(task_record& t, const task_kind& kind, std::coroutine_handle<> frame, nursery_core* n,
                                  scope_state* status) noexcept {
  t.frame = frame;
  t.resume_point = frame;
  t.kind = &kind;
  t.id = ++next_task_id_;
  t.parent = n;
  if (n) {
    n->children.push_back(t);
    ++n->child_count;
    t.set_status(*n->scope);
  } else {
    t.set_status(status ? *status : root_scope_);
    init_task_ = &t;
  }
  ++tasks_living_;
  if (TRIO_UNLIKELY(!instruments_.empty())) notify(&instrument::task_spawned, t);
  reschedule(t);
  return t;
}

inline void runner::finish_task(task_record& t) {
  if (TRIO_UNLIKELY(!instruments_.empty())) {
    notify(&instrument::after_task_step, t);
    notify(&instrument::task_exited, t);
  }
  while (owner_exit_hook* h = t.held) {
    t.held = h->next_held;
    h->next_held = nullptr;
    h->holder = nullptr;
    h->on_owner_exit(h);
  }
  intrusive_list<task_record, status_tag>::erase(t);
  nursery_core* n = t.parent;
  if (n) {
    intrusive_list<task_record, sibling_tag>::erase(t);
    --n->child_count;
  }
  --tasks_living_;
  const bool is_init = &t == init_task_;
  const bool is_main = &t == main_task_;
  std::exception_ptr err = t.kind->finish(&t);  // the record is gone from here on
  if (is_init) {
    init_task_ = nullptr;
    init_done_ = true;
    init_error_ = std::move(err);
    return;
  }
  if (is_main) {
    main_task_ = nullptr;
    // (std::exchange, not std::move: libc++'s exception_ptr has no move, so a moved-from one still
    // holds the error, and the system nursery would raise it a second time)
    main_error_ = std::exchange(err, nullptr);
    if (system_nursery_)
      cancel_scope_state(*system_nursery_->scope, cancel_source::shutdown, "the main task has finished");
  }
  if (n) n->child_finished(std::move(err));
}

inline bool runner::any_external_wait() const noexcept {
  struct walker {
    static bool task(const task_record& t) {
      if (t.parked && t.wait && t.wait->external) return true;
      for (const nursery_core* n : open_nurseries(t)) {
        bool found = false;
        n->children.for_each([&](const task_record& c) { found = found || task(c); });
        if (found) return true;
      }
      return false;
    }
  };
  try {
    return init_task_ && walker::task(*init_task_);
  } catch (...) {
    return true;  // (out of memory listing nurseries: assume the run can still move)
  }
}

/// No task can ever run again. The first time: keep the dump as the run's error and cancel everything,
/// so the tasks unwind. If even that cannot end them (a wait that cannot be undone), nothing can:
/// print the dump and abort rather than hang.
inline void runner::on_deadlock() noexcept {
  std::string dump;
  try {
    dump = format_tree_ ? format_tree_(*this) : std::string();
  } catch (...) {
  }
  if (!deadlock_error_) {
    try {
      deadlock_error_ = std::make_exception_ptr(trio::deadlock_error(
          "trio: deadlock: no task can ever run again (nothing runnable, no deadline, no I/O or thread work in "
          "flight, no trio_token held outside the run). The tasks and what they wait on:\n" +
          dump));
    } catch (...) {
      deadlock_error_ = std::current_exception();
    }
    cancel_scope_state(root_scope_, cancel_source::shutdown, "deadlock: no task can ever run again");
    return;
  }
  std::fprintf(stderr,
               "trio: deadlock, and cancelling every task did not end them (a wait that cannot be undone); "
               "aborting. The tasks:\n%s",
               dump.c_str());
  std::abort();
}

inline void runner::internal_failure(std::exception_ptr e) noexcept {
  if (!internal_error_) internal_error_ = std::move(e);
  cancel_scope_state(root_scope_, cancel_source::shutdown, "trio internal error: the run is shutting down");
}

inline void runner::on_signal() noexcept {
  signalfd_siginfo info;
  int n = 0;
  while (signal_fd_ >= 0 && ::read(signal_fd_, &info, sizeof info) == sizeof info) ++n;
  for (int i = 0; i < n; ++i) {
    ++ki_count_;
    if (ki_count_ == 1) {
      cancel_scope_state(root_scope_, cancel_source::keyboard_interrupt, "keyboard interrupt (Ctrl-C)");
    } else {
      // A second Ctrl-C: the user wants out now. Restore the default action and deliver it.
      restore_sigint();
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      ::sigaction(SIGINT, &dfl, nullptr);
      ::raise(SIGINT);
      return;
    }
  }
  if (signal_fd_ >= 0) {
    try {
      arm_poll(signal_fd_, signal_tag);
    } catch (...) {
      internal_failure(std::current_exception());
    }
  }
}

}  // namespace trio::detail
