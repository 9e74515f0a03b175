#pragma once
/// \file
/// lowlevel::format_prometheus: a run's statistics in the Prometheus text exposition format (0.0.4),
/// for a /metrics endpoint.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "trio/lowlevel.hpp"

namespace trio::lowlevel {

namespace detail_prometheus {
inline std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
inline double seconds(duration d) { return std::chrono::duration<double>(d).count(); }
/// A label value: backslash, double quote and newline escaped.
inline std::string label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}
inline void metric(std::string& out, std::string_view prefix, std::string_view name, std::string_view type,
                   std::string_view help, const std::string& value) {
  out.append("# HELP ").append(prefix).append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(prefix).append(name).append(" ").append(type).append("\n");
  out.append(prefix).append(name).append(" ").append(value).append("\n");
}
}  // namespace detail_prometheus

/// The statistics as Prometheus text: counters (`<prefix>task_steps_total`, ...), gauges
/// (`<prefix>tasks_living`, ...) and the step-time histogram (`<prefix>step_duration_seconds`, with
/// cumulative buckets at powers of two nanoseconds). Serve it with Content-Type
/// `text/plain; version=0.0.4`.
///
///     co_await stream.send_all(trio::lowlevel::format_prometheus(trio::lowlevel::current_statistics()));
///
/// The trap: step times (busy time, longest step, the histogram) are zero unless the run measures them
/// (run_options::collect_step_times or slow_step_threshold).
inline std::string format_prometheus(const run_statistics& s, std::string_view prefix = "trio_") {
  namespace p = detail_prometheus;
  std::string out;
  const auto count = [](std::uint64_t v) { return std::to_string(v); };
  p::metric(out, prefix, "tasks_living", "gauge", "Tasks alive now.", count(s.tasks_living));
  p::metric(out, prefix, "tasks_runnable", "gauge", "Tasks ready to run now.", count(s.tasks_runnable));
  p::metric(out, prefix, "io_operations_in_flight", "gauge", "io_uring operations submitted and not completed.",
            count(s.io_operations_in_flight));
  p::metric(out, prefix, "time_to_next_deadline_seconds", "gauge", "Seconds until the earliest deadline (+Inf: none).",
            s.time_to_next_deadline == duration::max() ? std::string("+Inf")
                                                       : p::number(p::seconds(s.time_to_next_deadline)));
  p::metric(out, prefix, "loop_turns_total", "counter", "Turns of the event loop.", count(s.loop_turns));
  p::metric(out, prefix, "task_steps_total", "counter", "Task steps (a resume up to the next suspension).",
            count(s.task_steps));
  p::metric(out, prefix, "io_uring_enters_total", "counter", "io_uring_enter system calls.", count(s.io_uring_enters));
  p::metric(out, prefix, "sqes_submitted_total", "counter", "io_uring submission queue entries prepared.",
            count(s.sqes_submitted));
  p::metric(out, prefix, "cqes_reaped_total", "counter", "io_uring completions reaped.", count(s.cqes_reaped));
  p::metric(out, prefix, "cancellations_delivered_total", "counter", "trio::cancelled raised in tasks.",
            count(s.cancellations_delivered));
  p::metric(out, prefix, "busy_seconds_total", "counter", "Time spent running task steps (when measured).",
            p::number(p::seconds(s.busy_time)));

  out.append("# HELP ").append(prefix).append("longest_step_seconds The longest task step (when measured).\n");
  out.append("# TYPE ").append(prefix).append("longest_step_seconds gauge\n");
  out.append(prefix).append("longest_step_seconds{task=\"").append(p::label_value(s.longest_step_task));
  out.append("\"} ").append(p::number(p::seconds(s.longest_step))).append("\n");

  const std::string h = std::string(prefix) + "step_duration_seconds";
  out += "# HELP " + h + " Task step times (when measured).\n";
  out += "# TYPE " + h + " histogram\n";
  // Bucket i holds steps of [2^i, 2^(i+1)) ns; the last one also holds longer ones, so it is only in +Inf.
  std::uint64_t cumulative = 0;
  const std::size_t last = s.step_time_histogram.size() - 1;
  for (std::size_t i = 0; i < last; ++i) {
    cumulative += s.step_time_histogram[i];
    const double upper = static_cast<double>(std::uint64_t{2} << i) * 1e-9;
    out += h + "_bucket{le=\"" + p::number(upper) + "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += s.step_time_histogram[last];
  out += h + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  out += h + "_sum " + p::number(p::seconds(s.busy_time)) + "\n";
  out += h + "_count " + std::to_string(cumulative) + "\n";
  return out;
}

}  // namespace trio::lowlevel
