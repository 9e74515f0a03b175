#include <trio/lock.hpp>  // first: the header compiles on its own

#include "support/helpers.hpp"

TRIO_TEST_CASE("SYNC-02 lock misuse and statistics", "[sync]") {
  trio::lock l;
  co_await l.acquire();
  CHECK_THROWS_AS(l.acquire_nowait(), std::logic_error);  // re-acquire by the owner
  auto st = l.statistics();
  CHECK(st.locked);
  CHECK(st.owner == &trio::lowlevel::current_task());
  CHECK(st.tasks_waiting == 0);
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      CHECK_THROWS_WITH(l.release(), Catch::Contains("can't release a lock you don't own"));
      CHECK_THROWS_AS(l.acquire_nowait(), trio::would_block);
      co_await l.acquire();
    });
    co_await trio::testing::wait_all_tasks_blocked();
    CHECK(l.statistics().tasks_waiting == 1);
    n.cancel_scope().cancel();
  });
  CHECK(l.statistics().tasks_waiting == 0);
  l.release();
  CHECK(l.statistics().locked == false);
  CHECK(l.statistics().owner == nullptr);
  CHECK_THROWS_WITH(l.release(), Catch::Contains("don't own"));
}

TRIO_TEST_CASE("SYNC-04 release hands the lock straight to the first waiter", "[sync]") {
  trio::lock l;
  co_await l.acquire();
  trio::lowlevel::task_info* child = nullptr;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      child = &trio::lowlevel::current_task();
      co_await l.acquire();
      l.release();
    });
    co_await trio::testing::wait_all_tasks_blocked();
    l.release();
    CHECK(l.locked());
    CHECK(l.statistics().owner == child);
    CHECK_THROWS_AS(l.acquire_nowait(), trio::would_block);  // no barging
  });
}

TRIO_TEST_CASE("SYNC-05 a lock whose owner exits: waiters and later acquirers get broken_resource_error", "[sync]") {
  trio::lock l;
  test::event_log rec;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await l.acquire();
      co_await trio::sleep(1s);  // exits holding it
    });
    n.start_soon([&]() -> trio::task<> {
      co_await trio::testing::wait_all_tasks_blocked();
      try {
        co_await l.acquire();
      } catch (const trio::broken_resource_error& e) {
        rec("waiter broken");
        CHECK_THAT(e.what(), Catch::Contains("exited without releasing"));
      }
    });
    co_return;
  });
  bool finished = co_await trio::move_on_after(
      1s, [&]() -> trio::task<> { CHECK_THROWS_AS(co_await l.acquire(), trio::broken_resource_error); });
  CHECK(finished);
  CHECK(rec.entries == std::vector<std::string>{"waiter broken"});
}

TRIO_TEST_CASE("SYNC 1,000 tasks contending one lock are served in strict FIFO order", "[sync][stress]") {
  trio::strict_fifo_lock l;
  std::vector<int> order;
  co_await l.acquire();
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i = 0; i < 1000; ++i) {
      n.start_soon([&, i]() -> trio::task<> {
        co_await l.acquire();
        order.push_back(i);
        co_await trio::checkpoint();
        l.release();
      });
      co_await trio::testing::wait_all_tasks_blocked();  // queue them in a known order
    }
    l.release();
  });
  REQUIRE(order.size() == 1000);
  for (int i = 0; i < 1000; ++i) CHECK(order[static_cast<std::size_t>(i)] == i);
}
