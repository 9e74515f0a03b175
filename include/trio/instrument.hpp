#pragma once
/// \file
/// Instruments: observers of a run's scheduling, for tracing and debugging.

#include "trio/clock.hpp"

namespace trio {
namespace lowlevel {
class task_info;
}

/// Override the hooks you need; every hook has an empty default. Pass instruments in
/// run_options::instruments or add them with lowlevel::add_instrument.
///
/// The trap: hooks run inside the scheduler, synchronously. A hook that throws is reported on stderr
/// and its instrument is removed; a slow hook slows every task switch.
class instrument {
 public:
  virtual ~instrument() = default;
  /// The loop is starting (run_options' instruments only; one added later never sees it).
  virtual void before_run() {}
  /// The loop has ended: every task has exited.
  virtual void after_run() {}
  /// A task was created (start_soon, start, the main task, system tasks); it has not run yet.
  virtual void task_spawned(const lowlevel::task_info&) {}
  /// A task became runnable (woken, or newly spawned) and joined the run queue.
  virtual void task_scheduled(const lowlevel::task_info&) {}
  /// The task is about to run one step (until its next suspension).
  virtual void before_task_step(const lowlevel::task_info&) {}
  /// The task's step has ended (it suspended or finished).
  virtual void after_task_step(const lowlevel::task_info&) {}
  /// The task has finished; the task_info is gone after the call.
  virtual void task_exited(const lowlevel::task_info&) {}
  /// The loop is about to wait for I/O for at most `timeout` (zero: a poll; duration::max(): no limit).
  virtual void before_io_wait(duration /*timeout*/) {}
  /// The loop's I/O wait (with the same `timeout`) has returned.
  virtual void after_io_wait(duration /*timeout*/) {}
};

}  // namespace trio
