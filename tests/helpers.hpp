#pragma once
// Shared by the tests: an event log that asserts order, and a few small helpers.

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include <trio/testing.hpp>
#include <trio/testing/catch2.hpp>
#include <trio/trio.hpp>

using namespace std::chrono_literals;

namespace test {

/// Seconds of virtual time since the start of the run (the mock clock starts at 0).
inline double now_s() { return std::chrono::duration<double>(trio::current_time().time_since_epoch()).count(); }

struct event_log {
  std::vector<std::string> entries;
  void operator()(std::string s) { entries.push_back(std::move(s)); }
};

/// Runs `fn` under a mock clock. Options let a test turn autojump off or pick a fixed schedule.
template <class F>
auto run_mock(F&& fn, bool autojump = true, bool randomize = true) {
  trio::testing::mock_clock clk;
  if (autojump) clk.set_autojump_threshold(trio::duration::zero());
  trio::run_options o;
  o.clock = &clk;
  o.handle_sigint = false;
  o.randomize_schedule = randomize;
  return trio::run(o, std::forward<F>(fn));
}

}  // namespace test
