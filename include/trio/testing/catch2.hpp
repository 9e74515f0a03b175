#pragma once
/// \file
/// TRIO_TEST_CASE: a Catch2 (v2) test whose body is a coroutine run under trio::run with an autojumping
/// mock clock, so timing tests are exact and instant.
///
///     TRIO_TEST_CASE("sleep takes exactly one second", "[time]") {
///       auto t0 = trio::current_time();
///       co_await trio::sleep(1s);
///       CHECK(trio::current_time() - t0 == 1s);
///     }
///
/// The trap: CHECK/REQUIRE inside child tasks work, but a REQUIRE failure throws; let it propagate out
/// of the nursery (do not catch std::exception around it) so the test fails.

#include <catch2/catch.hpp>

#include <chrono>

#include "trio/run.hpp"
#include "trio/task.hpp"
#include "trio/testing/mock_clock.hpp"

namespace trio::testing {

/// The mock clock of the running TRIO_TEST_CASE.
inline mock_clock& current_mock_clock() {
  auto* c = dynamic_cast<mock_clock*>(&detail::current_runner("trio::testing::current_mock_clock()").clk());
  if (!c)
    throw std::logic_error("trio::testing::current_mock_clock(): this run does not use a trio::testing::mock_clock");
  return *c;
}

namespace detail_catch2 {
inline void run_test(task<> (*body)()) {
  mock_clock clk;
  clk.set_autojump_threshold(duration::zero());
  run_options opts;
  opts.clock = &clk;
  opts.handle_sigint = false;
  run(opts, body);
}
}  // namespace detail_catch2
}  // namespace trio::testing

#define TRIO_DETAIL_CAT2(a, b) a##b
#define TRIO_DETAIL_CAT(a, b) TRIO_DETAIL_CAT2(a, b)
#define TRIO_DETAIL_TEST_CASE(fn, name, tags)                              \
  static ::trio::task<> fn();                                              \
  TEST_CASE(name, tags) { ::trio::testing::detail_catch2::run_test(&fn); } \
  static ::trio::task<> fn()
#define TRIO_TEST_CASE(name, tags) TRIO_DETAIL_TEST_CASE(TRIO_DETAIL_CAT(trio_test_body_, __LINE__), name, tags)
