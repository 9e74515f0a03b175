#include <trio/event.hpp>  // first: the header compiles on its own

#include "support/helpers.hpp"

TRIO_TEST_CASE("SYNC-01 event: one-shot, wakes every waiter, a checkpoint even when set", "[sync]") {
  trio::event ev;
  test::event_log rec;
  CHECK_FALSE(ev.is_set());
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i = 0; i < 2; ++i)
      n.start_soon([&]() -> trio::task<> {
        rec("sleeping");
        co_await ev.wait();
        rec("woken");
      });
    co_await trio::testing::wait_all_tasks_blocked();
    CHECK(ev.statistics().tasks_waiting == 2);
    ev.set();
    ev.set();
  });
  CHECK(rec.entries == std::vector<std::string>{"sleeping", "sleeping", "woken", "woken"});
  CHECK(ev.is_set());
  trio::cancel_scope cs;
  co_await cs.enter([&]() -> trio::task<> {
    cs.cancel();
    co_await ev.wait();  // set, but still a cancel point
  });
  CHECK(cs.cancelled_caught());
}
