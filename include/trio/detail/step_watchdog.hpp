#pragma once
/// \file
/// The slow-step watchdog (run_options::slow_step_threshold): a thread that reports a task step still
/// running past the threshold, the "blocking call inside a coroutine" bug, while it happens.

#include <cxxabi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <typeinfo>

#include "trio/clock.hpp"
#include "trio/detail/runner_core.hpp"

namespace trio::detail {

/// Reports steps that run past run_options::slow_step_threshold while they still run: a thread that
/// wakes a few times per threshold and reads what the loop publishes at each step's start (atomics
/// only: the task's id, its type and the code it resumed in, never the task's memory).
class step_watchdog final : public step_observer {
 public:
  step_watchdog(duration threshold, std::string (*code_name)(const void*))
      : threshold_(threshold), code_name_(code_name), thread_([this] { watch(); }) {}
  step_watchdog(const step_watchdog&) = delete;
  step_watchdog& operator=(const step_watchdog&) = delete;
  ~step_watchdog() override {
    {
      std::lock_guard lk(m_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
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
  void watch() {
    const auto tick =
        std::clamp<duration>(threshold_ / 4, std::chrono::milliseconds(1), std::chrono::milliseconds(100));
    std::uint64_t reported_seq = ~std::uint64_t{0};
    std::int64_t next_report_ns = 0;
    std::uint64_t held = 0;
    std::unique_lock lk(m_);
    while (!cv_.wait_for(lk, tick, [this] { return stop_; })) {
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
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the rest is ready
};

inline std::unique_ptr<step_observer> make_step_watchdog(duration threshold, std::string (*code_name)(const void*)) {
  return std::make_unique<step_watchdog>(threshold, code_name);
}

}  // namespace trio::detail
