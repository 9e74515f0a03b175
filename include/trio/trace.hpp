#pragma once
/// \file
/// trio::trace_recorder: a flight recorder of a run's last events (task spawn and exit, every step with
/// its duration, the loop's waits for I/O), written as Chrome trace-event JSON for Perfetto
/// (https://ui.perfetto.dev) or chrome://tracing.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <ostream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "trio/instrument.hpp"
#include "trio/lowlevel.hpp"

namespace trio {

/// An instrument that keeps the last `max_events` events in a ring and writes them as a trace.
///
///     trio::trace_recorder rec;
///     trio::run_options o;
///     o.instruments.push_back(&rec);
///     rec.write_on_error("crash-trace.json");   // written if an exception escapes trio::run
///     trio::run(o, main_task);                  // or any time: rec.write_chrome_trace(std::cout)
///
/// Each task step is a slice on the loop's track, named after its task; each wait for I/O is a slice
/// on a second track; spawns and exits are instant events. Times are the steady clock's, in
/// microseconds since the recorder was made.
///
/// The trap: an instrument makes the loop call it around every step, so a run with one is slower
/// (docs/performance.md gives the cost). Use it on one run at a time: it is not thread-safe.
class trace_recorder : public instrument {
 public:
  /// A recorder keeping the last `max_events` events (default 65536; 0 counts as 1): when full, each new
  /// event replaces the oldest.
  explicit trace_recorder(std::size_t max_events = 65536)
      : max_(max_events == 0 ? 1 : max_events), origin_(std::chrono::steady_clock::now()) {
    events_.reserve(std::min<std::size_t>(max_, 4096));
  }

  /// Records an instant "spawn" event and remembers the task's name.
  void task_spawned(const lowlevel::task_info& t) override {
    remember_name(t);
    push({kind::spawn, t.id(), now_ns(), 0});
  }
  /// Records an instant "exit" event.
  void task_exited(const lowlevel::task_info& t) override {
    push({kind::exit, t.id(), now_ns(), 0});
    exited_.push_back(t.id());
    if (exited_.size() > max_) {  // forget the older half of the exited tasks' names (their events are gone)
      const auto half = static_cast<std::ptrdiff_t>(exited_.size() / 2);
      for (auto it = exited_.begin(); it != exited_.begin() + half; ++it) names_.erase(*it);
      exited_.erase(exited_.begin(), exited_.begin() + half);
    }
  }
  /// Notes when the step starts.
  void before_task_step(const lowlevel::task_info&) override { step_start_ = now_ns(); }
  /// Records the step as a slice on the loop's track.
  void after_task_step(const lowlevel::task_info& t) override {
    const std::int64_t end = now_ns();
    push({kind::step, t.id(), step_start_, end - step_start_});
  }
  /// Notes when the I/O wait starts.
  void before_io_wait(duration) override { wait_start_ = now_ns(); }
  /// Records the I/O wait as a slice on the I/O track.
  void after_io_wait(duration) override {
    const std::int64_t end = now_ns();
    push({kind::io_wait, 0, wait_start_, end - wait_start_});
  }

  /// Asks the recorder to write its trace to `path` when the run ends with an exception escaping
  /// trio::run (the main task's, a deadlock, Ctrl-C): the flight recorder of a crash. Empty: off.
  void write_on_error(std::string path) { on_error_path_ = std::move(path); }
  /// Writes the trace to the write_on_error() path if the run failed; else does nothing.
  void after_run() override {
    if (on_error_path_.empty() || !detail::t_runner || !detail::t_runner->run_failed()) return;
    std::ofstream f(on_error_path_);
    write_chrome_trace(f);
    f.close();
    if (!f)
      std::fprintf(stderr, "trio::trace_recorder: could not write the trace to %s\n", on_error_path_.c_str());
    else
      std::fprintf(stderr, "trio::trace_recorder: the run failed; its last %zu events are in %s\n", events_.size(),
                   on_error_path_.c_str());
  }

  /// How many events the ring holds now (at most max_events).
  std::size_t size() const noexcept { return events_.size(); }
  /// How many events were dropped because the ring was full.
  std::uint64_t dropped() const noexcept { return dropped_; }

  /// Writes the events held, oldest first, as Chrome trace-event JSON.
  void write_chrome_trace(std::ostream& os) const {
    os << "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
    os << R"({"name":"process_name","ph":"M","pid":1,"args":{"name":"trio::run"}},)" << '\n';
    os << R"({"name":"thread_name","ph":"M","pid":1,"tid":1,"args":{"name":"task steps"}},)" << '\n';
    os << R"({"name":"thread_name","ph":"M","pid":1,"tid":2,"args":{"name":"waiting for I/O"}})";
    const std::size_t n = events_.size();
    const std::size_t first = n < max_ ? 0 : next_;
    for (std::size_t k = 0; k < n; ++k) {
      const event& e = events_[(first + k) % n];
      os << ",\n{\"name\":\"";
      switch (e.what) {
        case kind::spawn:
          os << "spawn " << json(name_of(e.task)) << "\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":1";
          break;
        case kind::exit:
          os << "exit " << json(name_of(e.task)) << "\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":1";
          break;
        case kind::step:
          os << json(name_of(e.task)) << "\",\"ph\":\"X\",\"pid\":1,\"tid\":1,\"dur\":" << micros(e.dur_ns);
          break;
        case kind::io_wait:
          os << "io_uring wait\",\"ph\":\"X\",\"pid\":1,\"tid\":2,\"dur\":" << micros(e.dur_ns);
          break;
      }
      os << ",\"ts\":" << micros(e.start_ns);
      if (e.what != kind::io_wait) os << ",\"args\":{\"task\":" << e.task << "}";
      os << "}";
    }
    os << "\n]}\n";
  }

 private:
  enum class kind : unsigned char { spawn, exit, step, io_wait };
  struct event {
    kind what;
    std::uint64_t task;
    std::int64_t start_ns;
    std::int64_t dur_ns;
  };

  std::int64_t now_ns() const noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - origin_).count();
  }
  void push(const event& e) {
    if (events_.size() < max_) {
      events_.push_back(e);
      return;
    }
    events_[next_] = e;
    next_ = (next_ + 1) % max_;
    ++dropped_;
  }
  void remember_name(const lowlevel::task_info& t) {
    auto& n = names_[t.id()];
    if (n.empty()) n = "task #" + std::to_string(t.id()) + " " + t.name();
  }
  std::string name_of(std::uint64_t id) const {
    auto it = names_.find(id);
    return it != names_.end() ? it->second : "task #" + std::to_string(id);
  }
  static std::string micros(std::int64_t ns) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ns) / 1000.0);
    return buf;
  }
  /// The inside of a JSON string.
  static std::string json(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out += static_cast<char>(c);
      }
    }
    return out;
  }

  std::size_t max_;
  std::chrono::steady_clock::time_point origin_;
  std::vector<event> events_;
  std::size_t next_ = 0;  // once full: the oldest event, overwritten next
  std::uint64_t dropped_ = 0;
  std::int64_t step_start_ = 0;
  std::int64_t wait_start_ = 0;
  std::unordered_map<std::uint64_t, std::string> names_;
  std::string on_error_path_;
  std::vector<std::uint64_t> exited_;
};

}  // namespace trio
