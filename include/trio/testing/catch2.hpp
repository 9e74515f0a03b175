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
/// A test that deadlocks (no task can ever run again) fails within a second with trio::deadlock_error,
/// whose message lists every task and what it waits on, instead of hanging until ctest's timeout.
///
/// The trap: CHECK/REQUIRE inside child tasks work, but a REQUIRE failure throws; let it propagate out
/// of the nursery (do not catch std::exception around it) so the test fails.

#include <catch2/catch.hpp>

#include <chrono>

// Catch2 v2 mentions every CHECK/REQUIRE expression twice more in places that are never evaluated
// (__builtin_constant_p, and `false && expr` in a do-while condition) to get warnings. When the
// expression contains a co_await, g++ still performs it there: CHECK(co_await rx.receive() == 1) would
// receive two or three values. Coroutine test bodies write exactly that, so for every assertion after
// this header the expression appears once.
#undef CATCH_INTERNAL_IGNORE_BUT_WARN
/// Catch2's hook, redefined to drop the unevaluated copies of an assertion's expression (see above).
#define CATCH_INTERNAL_IGNORE_BUT_WARN(...)
#undef INTERNAL_CATCH_TEST
/// Catch2's assertion macro, redefined so the expression (and any co_await in it) appears once.
#define INTERNAL_CATCH_TEST(macroName, resultDisposition, ...)                                               \
  do {                                                                                                       \
    Catch::AssertionHandler catchAssertionHandler(macroName##_catch_sr, CATCH_INTERNAL_LINEINFO,             \
                                                  CATCH_INTERNAL_STRINGIFY(__VA_ARGS__), resultDisposition); \
    INTERNAL_CATCH_TRY {                                                                                     \
      CATCH_INTERNAL_START_WARNINGS_SUPPRESSION                                                              \
      CATCH_INTERNAL_SUPPRESS_PARENTHESES_WARNINGS                                                           \
      catchAssertionHandler.handleExpr(Catch::Decomposer() <= __VA_ARGS__);                                  \
      CATCH_INTERNAL_STOP_WARNINGS_SUPPRESSION                                                               \
    }                                                                                                        \
    INTERNAL_CATCH_CATCH(catchAssertionHandler)                                                              \
    INTERNAL_CATCH_REACT(catchAssertionHandler)                                                              \
  } while (false)

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
/// Internal: runs a TRIO_TEST_CASE body (autojumping mock clock, fail_on_deadlock, no SIGINT handling).
inline void run_test(task<> (*body)()) {
  mock_clock clk;
  clk.set_autojump_threshold(duration::zero());
  run_options opts;
  opts.clock = &clk;
  opts.handle_sigint = false;
  opts.fail_on_deadlock = true;
  run(opts, body);
}
/// Internal: runs a TRIO_REAL_TIME_TEST_CASE body (the real clock, fail_on_deadlock, no SIGINT handling).
inline void run_real_time_test(task<> (*body)()) {
  run_options opts;
  opts.handle_sigint = false;
  opts.fail_on_deadlock = true;
  run(opts, body);
}
}  // namespace detail_catch2
}  // namespace trio::testing

/// Internal: token pasting.
#define TRIO_DETAIL_CAT2(a, b) a##b
/// Internal: token pasting after expanding the arguments (for __LINE__).
#define TRIO_DETAIL_CAT(a, b) TRIO_DETAIL_CAT2(a, b)
/// Internal: a Catch2 TEST_CASE that runs the coroutine `fn` (defined by the braces that follow) with run_test.
#define TRIO_DETAIL_TEST_CASE(fn, name, tags)                              \
  static ::trio::task<> fn();                                              \
  TEST_CASE(name, tags) { ::trio::testing::detail_catch2::run_test(&fn); } \
  static ::trio::task<> fn()
/// A Catch2 TEST_CASE(name, tags) whose body, the braces that follow, is a coroutine (`co_await` in it)
/// run under trio::run with an autojumping mock clock and fail_on_deadlock (see the file's comment).
#define TRIO_TEST_CASE(name, tags) TRIO_DETAIL_TEST_CASE(TRIO_DETAIL_CAT(trio_test_body_, __LINE__), name, tags)

/// Internal: as TRIO_DETAIL_TEST_CASE, with run_real_time_test.
#define TRIO_DETAIL_REAL_TIME_TEST_CASE(fn, name, tags)                              \
  static ::trio::task<> fn();                                                        \
  TEST_CASE(name, tags) { ::trio::testing::detail_catch2::run_real_time_test(&fn); } \
  static ::trio::task<> fn()
/// TRIO_REAL_TIME_TEST_CASE: like TRIO_TEST_CASE, under the real clock, for a test that waits on real
/// I/O or threads. (The autojumping mock clock jumps to the next deadline as soon as every task is
/// blocked, including a task blocked on a socket or a thread: a 60 s timeout around a real network
/// wait fires at once.)
#define TRIO_REAL_TIME_TEST_CASE(name, tags) \
  TRIO_DETAIL_REAL_TIME_TEST_CASE(TRIO_DETAIL_CAT(trio_real_time_test_body_, __LINE__), name, tags)
