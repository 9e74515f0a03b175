#include <trio/task.hpp>  // first: the header compiles on its own

#include <memory>
#include <stdexcept>
#include <string>

#include "support/helpers.hpp"

namespace {

trio::task<int> forty_two() { co_return 42; }
trio::task<> nothing() { co_return; }
trio::task<std::unique_ptr<int>> move_only() { co_return std::make_unique<int>(7); }

trio::task<int> chain(int depth) {
  if (depth == 0) co_return 0;
  co_return 1 + co_await chain(depth - 1);
}

trio::task<int> throwing_chain(int depth) {
  if (depth == 0) throw std::runtime_error("bottom");
  co_return co_await throwing_chain(depth - 1);
}

// A task<T> that can reach its end without co_return: undefined behaviour the compilers let through
// (g++ 12 says nothing), which trio turns into a std::logic_error.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wreturn-type"
#endif
trio::task<int> forgets_to_return(bool forget) {
  co_await trio::checkpoint();
  if (!forget) co_return 1;
}
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

trio::task<> main_forgets() { (void)co_await forgets_to_return(true); }

}  // namespace

TRIO_TEST_CASE("task<T> that finishes without co_return <value> throws logic_error at the co_await", "[task]") {
  CHECK(co_await forgets_to_return(false) == 1);
  try {
    (void)co_await forgets_to_return(true);
    FAIL("no exception");
  } catch (const std::logic_error& e) {
    CHECK(std::string(e.what()).starts_with("trio::task<int> finished without co_return <value>"));
  }
  // The same through capture() (nursery bodies, scopes) and through a scope helper:
  CHECK_THROWS_WITH(co_await trio::move_on_after(1s, forgets_to_return, true),
                    Catch::StartsWith("trio::task<int> finished without co_return <value>"));
}

TEST_CASE("task<T> without co_return <value> as the main task: run throws logic_error", "[task]") {
  CHECK_THROWS_WITH(test::run_mock(main_forgets), Catch::StartsWith("trio::task<int> finished without co_return"));
  CHECK_THROWS_WITH(test::run_mock([] { return forgets_to_return(true); }),
                    Catch::StartsWith("trio::task<int> finished without co_return"));
}

TRIO_TEST_CASE("task returns its value, void and move-only results", "[task]") {
  CHECK(co_await forty_two() == 42);
  co_await nothing();
  auto p = co_await move_only();
  REQUIRE(p);
  CHECK(*p == 7);
}

TRIO_TEST_CASE("task is lazy: nothing runs until it is awaited", "[task]") {
  int runs = 0;
  auto make = [&]() -> trio::task<> {
    ++runs;
    co_return;
  };
  auto t = make();
  CHECK(runs == 0);
  co_await std::move(t);
  CHECK(runs == 1);
  auto dropped = make();  // destroyed unawaited: never runs, nothing leaks
  CHECK(runs == 1);
}

TRIO_TEST_CASE("awaiting a task is not a checkpoint and not a scheduling round trip", "[task]") {
  trio::cancel_scope cs;
  cs.cancel();
  co_await cs.enter([]() -> trio::task<> { CHECK(co_await forty_two() == 42); });  // no cancelled thrown
  CHECK_FALSE(cs.cancelled_caught());
}

// Symmetric transfer is a guaranteed tail call with clang, and with g++ at -O2 without AddressSanitizer.
// g++ below -O2 or with ASan keeps one stack frame per level, so there the chain is kept shallow.
#if defined(__clang__) || (defined(__OPTIMIZE__) && !defined(TRIO_DETAIL_ASAN) && !defined(__NO_INLINE__))
constexpr int deep_chain = 100000;
#else
constexpr int deep_chain = 1000;
#endif

TRIO_TEST_CASE("deep await chains complete without stack overflow (symmetric transfer)", "[task]") {
  CHECK(co_await chain(deep_chain) == deep_chain);
}

TRIO_TEST_CASE("exceptions thrown from deep await chains propagate unchanged", "[task]") {
  try {
    co_await throwing_chain(deep_chain);
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "bottom");
  }
}

TEST_CASE("task is move-only and destroying an unstarted task frees its frame", "[task]") {
  STATIC_REQUIRE(!std::is_copy_constructible_v<trio::task<int>>);
  STATIC_REQUIRE(std::is_nothrow_move_constructible_v<trio::task<int>>);
  auto t = forty_two();
  auto u = std::move(t);
  CHECK_FALSE(t.valid());
  CHECK(u.valid());
}

TRIO_TEST_CASE("CHECK(co_await ...) performs the co_await exactly once", "[task][testing]") {
  int calls = 0;
  auto counted = [&]() -> trio::task<int> {
    ++calls;
    co_return calls;
  };
  CHECK(co_await counted() == 1);
  REQUIRE(co_await counted() == 2);
  CHECK(calls == 2);
}
