#include <trio/parking_lot.hpp>  // first: the header compiles on its own

#include "support/helpers.hpp"

TRIO_TEST_CASE("SYNC-13 parking_lot: FIFO, counts, repark, cancelled waiters leave", "[sync]") {
  trio::parking_lot lot, other;
  std::vector<std::string> rec;
  CHECK(lot.unpark() == 0);
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    std::vector<trio::cancel_scope*> scopes(3);
    for (int i = 0; i < 3; ++i) {
      n.start_soon([&, i]() -> trio::task<> {
        trio::cancel_scope cs;
        scopes[static_cast<std::size_t>(i)] = &cs;
        co_await cs.enter([&]() -> trio::task<> {
          rec.push_back("sleep " + std::to_string(i));
          co_await lot.park();
          rec.push_back("wake " + std::to_string(i));
        });
        if (cs.cancelled_caught()) rec.push_back("cancelled " + std::to_string(i));
      });
      co_await trio::testing::wait_all_tasks_blocked();
    }
    CHECK(lot.size() == 3);
    scopes[1]->cancel();
    co_await trio::testing::wait_all_tasks_blocked();
    CHECK(lot.size() == 2);
    lot.repark(other);  // 0 moves
    lot.repark(other);  // then 2
    CHECK(other.size() == 2);
    CHECK(other.unpark() == 1);  // wakes 0
    co_await trio::testing::wait_all_tasks_blocked();
    CHECK(other.unpark_all() == 1);
  });
  CHECK(rec == std::vector<std::string>{"sleep 0", "sleep 1", "sleep 2", "cancelled 1", "wake 0", "wake 2"});
}
