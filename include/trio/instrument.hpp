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
  virtual void before_run() {}
  virtual void after_run() {}
  virtual void task_spawned(const lowlevel::task_info&) {}
  virtual void task_scheduled(const lowlevel::task_info&) {}
  virtual void before_task_step(const lowlevel::task_info&) {}
  virtual void after_task_step(const lowlevel::task_info&) {}
  virtual void task_exited(const lowlevel::task_info&) {}
  virtual void before_io_wait(duration /*timeout*/) {}
  virtual void after_io_wait(duration /*timeout*/) {}
};

}  // namespace trio
