#include <trio/semaphore.hpp>  // first: the header compiles on its own

#include "support/helpers.hpp"

TRIO_TEST_CASE("SYNC-06 semaphore: nowait, hand-off on release", "[sync]") {
  CHECK_THROWS_AS(trio::semaphore(2, 1), std::invalid_argument);
  trio::semaphore s(1);
  s.release();  // unbounded: the value grows
  CHECK(s.value() == 2);
  s.acquire_nowait();
  s.acquire_nowait();
  CHECK_THROWS_AS(s.acquire_nowait(), trio::would_block);
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> { co_await s.acquire(); });
    co_await trio::testing::wait_all_tasks_blocked();
    CHECK(s.statistics().tasks_waiting == 1);
    s.release();
    CHECK(s.value() == 0);  // the token went to the waiter
    CHECK_THROWS_AS(s.acquire_nowait(), trio::would_block);
  });
}

TRIO_TEST_CASE("SYNC-07 bounded semaphore released too many times", "[sync]") {
  trio::semaphore s(1, 1);
  CHECK(s.max_value() == 1u);
  CHECK_THROWS_WITH(s.release(), Catch::Contains("released too many times"));
  co_await s.acquire();
  s.release();
  CHECK(s.value() == 1);
}
