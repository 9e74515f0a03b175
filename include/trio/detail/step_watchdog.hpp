#pragma once
/// \file
/// The slow-step watchdog (run_options::slow_step_threshold): a thread that reports a task step still
/// running past the threshold, the "blocking call inside a coroutine" bug, while it happens.

#include <cxxabi.h>

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <system_error>
#include <typeinfo>

#include "trio/clock.hpp"
#include "trio/detail/runner_core.hpp"

namespace trio::detail {

/// Reports steps that run past run_options::slow_step_threshold while they still run: a thread that
/// wakes a few times per threshold and reads what the loop publishes at each step's start (atomics
/// only: the task's id, its type and the code it resumed in, never the task's memory).
class step_watchdog final : public step_observer {
 public:
  // (A pthread and an eventfd rather than <thread> and <condition_variable>: every program that
  // includes trio::run would pay for those headers' compile time.)
  step_watchdog(duration threshold, std::string (*code_name)(const void*))
      : threshold_(threshold), code_name_(code_name) {
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
    if (stop_fd_ < 0)
      throw std::system_error(errno, std::system_category(), "trio::run: the slow-step watchdog's eventfd failed");
    // The thread inherits the loop thread's signal mask (Ctrl-C and the dump signal stay blocked there).
    if (const int rc = ::pthread_create(&thread_, nullptr, &entry, this); rc != 0) {
      ::close(stop_fd_);
      throw std::system_error(rc, std::system_category(), "trio::run: could not start the slow-step watchdog thread");
    }
  }
  step_watchdog(const step_watchdog&) = delete;
  step_watchdog& operator=(const step_watchdog&) = delete;
  ~step_watchdog() override {
    const std::uint64_t one = 1;
    while (::write(stop_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
    ::pthread_join(thread_, nullptr);
    ::close(stop_fd_);
  }

  void begin(std::int64_t start_ns, std::uint64_t task_id, const std::type_info* type,
             const void* code) noexcept override {
    task_id_.store(task_id, std::memory_order_relaxed);
    type_.store(type, std::memory_order_relaxed);
    code_.store(code, std::memory_order_relaxed);
    seq_.fetch_add(1, std::memory_order_relaxed);
    start_ns_.store(start_ns, std::memory_order_release);
  }
  void end() noexcept override { start_ns_.store(0, std::memory_order_release); }

 private:
  static void* entry(void* self) {
    static_cast<step_watchdog*>(self)->watch();
    return nullptr;
  }
  void watch() noexcept {
    // Wakes a few times per threshold, between 1 ms and 100 ms apart, until the stop fd is written.
    const std::int64_t quarter_ms = std::chrono::duration_cast<std::chrono::milliseconds>(threshold_).count() / 4;
    const int tick_ms = static_cast<int>(quarter_ms < 1 ? 1 : quarter_ms > 100 ? 100 : quarter_ms);
    std::uint64_t reported_seq = ~std::uint64_t{0};
    std::int64_t next_report_ns = 0;
    std::uint64_t held = 0;
    pollfd stop{stop_fd_, POLLIN, 0};
    for (;;) {
      const int rc = ::poll(&stop, 1, tick_ms);
      if (rc > 0) return;
      if (rc < 0 && errno != EINTR) return;
      const std::int64_t start = start_ns_.load(std::memory_order_acquire);
      if (start == 0) continue;
      const std::uint64_t seq = seq_.load(std::memory_order_relaxed);
      const std::int64_t now = monotonic_ns();
      if (seq == reported_seq || now - start <= threshold_.count()) continue;
      reported_seq = seq;
      if (now < next_report_ns) {  // at most one report per second
        ++held;
        continue;
      }
      next_report_ns = now + 1'000'000'000;
      try {
        const void* code = code_.load(std::memory_order_relaxed);
        std::string where = code_name_ ? code_name_(code) : std::string();
        std::string line = "trio: task #" + std::to_string(task_id_.load(std::memory_order_relaxed)) + " (" +
                           type_name(type_.load(std::memory_order_relaxed)) + ") has been running for " +
                           std::to_string((now - start) / 1'000'000) +
                           " ms without reaching a checkpoint (a blocking call in a coroutine?)";
        if (!where.empty()) line += "; it resumed in " + where;
        if (held) line += " (" + std::to_string(held) + " more slow steps not reported)";
        held = 0;
        line += '\n';
        std::fputs(line.c_str(), stderr);
      } catch (...) {  // out of memory: no report this time
      }
    }
  }
  static std::string type_name(const std::type_info* t) {
    if (!t) return "?";
    int status = 0;
    char* d = abi::__cxa_demangle(t->name(), nullptr, nullptr, &status);
    std::string out = status == 0 && d ? d : t->name();
    std::free(d);
    return out;
  }

 private:
  duration threshold_;
  std::string (*code_name_)(const void*);
  std::atomic<std::int64_t> start_ns_{0};
  std::atomic<std::uint64_t> seq_{0};
  std::atomic<std::uint64_t> task_id_{0};
  std::atomic<const std::type_info*> type_{nullptr};
  std::atomic<const void*> code_{nullptr};
  int stop_fd_ = -1;
  pthread_t thread_{};
};

inline std::unique_ptr<step_observer> make_step_watchdog(duration threshold, std::string (*code_name)(const void*)) {
  return std::make_unique<step_watchdog>(threshold, code_name);
}

}  // namespace trio::detail
