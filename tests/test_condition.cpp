#include <trio/condition.hpp>  // first: the header compiles on its own

#include "support/helpers.hpp"

TRIO_TEST_CASE("SYNC-08 condition: misuse, notify wakes in order, notify(2) moves waiters to the lock", "[sync]") {
  trio::condition c;
  CHECK_THROWS_AS(co_await c.wait(), std::logic_error);
  CHECK_THROWS_AS(c.notify(), std::logic_error);
  CHECK_THROWS_AS(c.notify_all(), std::logic_error);
  std::vector<int> woken;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i = 0; i < 3; ++i) {
      n.start_soon([&, i]() -> trio::task<> {
        co_await c.acquire();
        co_await c.wait();
        woken.push_back(i);
        c.release();
      });
      co_await trio::testing::wait_all_tasks_blocked();
    }
    co_await c.acquire();
    c.notify();
    c.release();
    co_await trio::testing::wait_all_tasks_blocked();
    CHECK(woken == std::vector<int>{0});
    co_await c.acquire();
    c.notify_all();
    c.release();
    co_await trio::testing::wait_all_tasks_blocked();
    CHECK(woken == std::vector<int>{0, 1, 2});
  });
  // notify(2) while holding the lock: the two waiters move to the lock's queue.
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i = 0; i < 3; ++i)
      n.start_soon([&]() -> trio::task<> {
        co_await c.acquire();
        co_await c.wait();
        c.release();
      });
    co_await trio::testing::wait_all_tasks_blocked();
    co_await c.acquire();
    c.notify(2);
    CHECK(c.statistics().tasks_waiting == 1);
    CHECK(c.statistics().lock.tasks_waiting == 2);
    c.release();
    co_await trio::testing::wait_all_tasks_blocked();
    CHECK(c.statistics().tasks_waiting == 1);
    co_await c.acquire();
    c.notify_all();
    c.release();
  });
}

TRIO_TEST_CASE("SYNC-09 a cancelled wait re-acquires the lock before raising", "[sync]") {
  trio::condition c;
  bool held_in_handler = false;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await c.acquire();
      try {
        co_await c.wait();
      } catch (const trio::cancelled&) {
        held_in_handler = c.locked() && c.lock().statistics().owner == &trio::lowlevel::current_task();
        c.release();
        throw;
      }
    });
    co_await trio::testing::wait_all_tasks_blocked();
    n.cancel_scope().cancel();
  });
  CHECK(held_in_handler);
  CHECK_FALSE(c.locked());
}
