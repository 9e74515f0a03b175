#pragma once
/// \file
/// Time types and the clock interface a run uses (the system monotonic clock unless run_options names one).

#include <chrono>
#include <cmath>
#include <stdexcept>
#include <type_traits>

namespace trio {

/// The clock whose time points trio uses: std::chrono::steady_clock (monotonic). A mock_clock keeps the
/// same types and moves its own time.
using clock_type = std::chrono::steady_clock;
/// A length of time (steady_clock's, nanoseconds); any std::chrono duration converts to it.
using duration = clock_type::duration;
/// An instant on the run's clock, as current_time() returns and deadlines take.
using time_point = clock_type::time_point;
/// The deadline that never comes (time_point::max()): a scope with it is never cancelled by time.
inline constexpr time_point no_deadline = time_point::max();

/// A run's source of time. Implement it to drive a run from another notion of time; trio::testing's
/// mock_clock is the one most people want.
class clock {
 public:
  virtual ~clock() = default;
  /// Called once when a run starts using this clock.
  virtual void start_clock() {}
  /// The time now on this clock; what trio::current_time() returns during the run.
  virtual time_point current_time() const = 0;
  /// How long to wait in the OS for `deadline` to arrive (<= 0: it has; duration::max(): never).
  virtual duration deadline_to_sleep_time(time_point deadline) const = 0;
  /// When every task has been blocked this long (real time), the run calls autojump(); max(): never.
  virtual duration autojump_threshold() const { return duration::max(); }
  /// Move time forward to `next_deadline` (only clocks with an autojump threshold do anything).
  virtual void autojump(time_point /*next_deadline*/) {}
};

namespace detail {

class system_clock final : public clock {
 public:
  time_point current_time() const override { return clock_type::now(); }
  duration deadline_to_sleep_time(time_point deadline) const override {
    if (deadline == no_deadline) return duration::max();
    return deadline - clock_type::now();
  }
};

/// Converts any chrono duration to ours, rejecting NaN and negative values with std::invalid_argument.
template <class Rep, class Period>
duration checked_duration(std::chrono::duration<Rep, Period> d, const char* what) {
  if constexpr (std::is_floating_point_v<Rep>) {
    if (std::isnan(d.count())) throw std::invalid_argument(std::string(what) + ": duration is NaN");
    if (d.count() < 0) throw std::invalid_argument(std::string(what) + ": duration must not be negative");
    using fsec = std::chrono::duration<long double>;
    if (std::chrono::duration_cast<fsec>(d) >= std::chrono::duration_cast<fsec>(duration::max()))
      return duration::max();
    return std::chrono::ceil<duration>(d);
  } else {
    if (d.count() < 0) throw std::invalid_argument(std::string(what) + ": duration must not be negative");
    if (d > std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(duration::max())) return duration::max();
    return std::chrono::ceil<duration>(d);
  }
}

/// t + d without overflow: saturates at no_deadline.
inline time_point saturating_add(time_point t, duration d) noexcept {
  if (t.time_since_epoch().count() >= 0 && d >= time_point::max() - t) return time_point::max();
  return t + d;
}

}  // namespace detail
}  // namespace trio
