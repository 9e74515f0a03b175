#pragma once
/// \file
/// trio::testing::mock_clock: virtual time for tests.

#include <chrono>
#include <stdexcept>

#include "trio/clock.hpp"

namespace trio::testing {

/// A clock that stands still unless jumped (rate 0), or runs at `rate` times real time. With an
/// autojump threshold, it jumps to the next deadline whenever every task has been blocked that long.
///
///     trio::testing::mock_clock clk;
///     clk.set_autojump_threshold(0s);
///     trio::run({.clock = &clk}, main_task);   // sleeps of hours finish at once
///
/// The trap: time starts at the epoch (time_point{}), not at steady_clock::now().
class mock_clock final : public trio::clock {
 public:
  mock_clock() noexcept = default;

  time_point current_time() const override { return virtual_at(clock_type::now()); }

  duration deadline_to_sleep_time(time_point deadline) const override {
    const duration virtual_left = deadline == no_deadline ? duration::max() : deadline - current_time();
    if (virtual_left <= duration::zero()) return duration::zero();
    if (rate_ == 0.0 || virtual_left == duration::max()) return duration::max();
    return std::chrono::duration_cast<duration>(
        std::chrono::duration<double, duration::period>(virtual_left.count() / rate_));
  }

  /// Moves time forward by d (negative: std::invalid_argument).
  void jump(duration d) {
    if (d < duration::zero())
      throw std::invalid_argument("trio::testing::mock_clock::jump: time can only move forward");
    virtual_base_ += d;
  }

  /// 0 jumps to the next deadline as soon as every task is blocked; duration::max() (the default) never.
  void set_autojump_threshold(duration d) {
    if (d < duration::zero())
      throw std::invalid_argument("trio::testing::mock_clock: the autojump threshold must be >= 0");
    threshold_ = d;
  }
  duration autojump_threshold() const override { return threshold_; }

  /// Virtual seconds per real second (0: frozen).
  void set_rate(double rate) {
    if (!(rate >= 0.0)) throw std::invalid_argument("trio::testing::mock_clock::set_rate: the rate must be >= 0");
    const auto real = clock_type::now();
    virtual_base_ = virtual_at(real);
    real_base_ = real;
    rate_ = rate;
  }
  /// How fast virtual time moves per real second (set_rate); 0: it moves only when told to.
  double rate() const noexcept { return rate_; }

  void autojump(time_point next_deadline) override {
    const time_point now = current_time();
    if (next_deadline != no_deadline && next_deadline > now) virtual_base_ += next_deadline - now;
  }

 private:
  time_point virtual_at(clock_type::time_point real) const {
    if (rate_ == 0.0) return virtual_base_;
    const auto elapsed = std::chrono::duration<double, duration::period>((real - real_base_).count() * rate_);
    return virtual_base_ + std::chrono::duration_cast<duration>(elapsed);
  }

  time_point virtual_base_{};
  clock_type::time_point real_base_ = clock_type::now();
  double rate_ = 0.0;
  duration threshold_ = duration::max();
};

}  // namespace trio::testing
