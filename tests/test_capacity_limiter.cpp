#include <trio/capacity_limiter.hpp>  // first: the header compiles on its own

#include <algorithm>

#include "support/helpers.hpp"

TRIO_TEST_CASE("SYNC-10 capacity_limiter: borrowers, misuse, hand-off, cancelled acquire leaves nothing", "[sync]") {
  trio::capacity_limiter lim(2);
  CHECK_THROWS_WITH(lim.release(), Catch::Contains("isn't holding"));
  co_await lim.acquire();
  CHECK_THROWS_AS(lim.acquire_nowait(), std::logic_error);
  CHECK_THROWS_AS(co_await lim.acquire(), std::logic_error);
  int other = 0;
  co_await lim.acquire_on_behalf_of(&other);
  CHECK(lim.borrowed_tokens() == 2);
  CHECK(lim.available_tokens() == 0);
  int third = 0;
  CHECK_THROWS_AS(lim.acquire_on_behalf_of_nowait(&third), trio::would_block);
  auto st = lim.statistics();
  CHECK(st.borrowed_tokens == 2);
  CHECK(st.total_tokens == 2);
  CHECK(st.borrowers.size() == 2);
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await lim.acquire_on_behalf_of(&third);
      lim.release_on_behalf_of(&third);
    });
    co_await trio::testing::wait_all_tasks_blocked();
    CHECK(lim.statistics().tasks_waiting == 1);
    lim.release_on_behalf_of(&other);
    CHECK(lim.borrowed_tokens() == 2);  // handed over
    CHECK_THROWS_AS(lim.acquire_on_behalf_of_nowait(&other), trio::would_block);
  });
  // a cancelled acquire leaves no waiter behind
  co_await trio::move_on_after(1s, [&]() -> trio::task<> {
    co_await lim.acquire_on_behalf_of(&other);  // one token is free again; take it
    co_await lim.acquire_on_behalf_of(&third);  // full: waits until cancelled
  });
  CHECK(lim.statistics().tasks_waiting == 0);
  lim.release_on_behalf_of(&other);
  lim.release();
  CHECK(lim.borrowed_tokens() == 0);
  trio::capacity_limiter zero(0);  // allowed (modern Trio)
  CHECK_THROWS_AS(zero.acquire_nowait(), trio::would_block);
}

TRIO_TEST_CASE("SYNC-11 changing total_tokens wakes waiters in order and never revokes", "[sync]") {
  trio::capacity_limiter lim(2);
  int b[5];
  auto borrowers = [&] {
    std::vector<int> out;
    for (const void* p : lim.statistics().borrowers) out.push_back(static_cast<int>(static_cast<const int*>(p) - b));
    std::sort(out.begin(), out.end());
    return out;
  };
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i = 0; i < 5; ++i) {
      n.start_soon([&, i]() -> trio::task<> { co_await lim.acquire_on_behalf_of(&b[i]); });
      co_await trio::testing::wait_all_tasks_blocked();
    }
    CHECK(borrowers() == std::vector<int>{0, 1});
    CHECK(lim.statistics().tasks_waiting == 3);
    lim.set_total_tokens(lim.total_tokens() + 2);
    CHECK(borrowers() == std::vector<int>{0, 1, 2, 3});
    CHECK(lim.statistics().tasks_waiting == 1);
    lim.set_total_tokens(lim.total_tokens() - 3);
    CHECK(lim.borrowed_tokens() == 4);
    CHECK(lim.total_tokens() == 1);
    for (int i = 0; i < 3; ++i) lim.release_on_behalf_of(&b[i]);
    CHECK(borrowers() == std::vector<int>{3});
    CHECK(lim.statistics().tasks_waiting == 1);
    lim.release_on_behalf_of(&b[3]);
    CHECK(borrowers() == std::vector<int>{4});
    CHECK(lim.statistics().tasks_waiting == 0);
    lim.release_on_behalf_of(&b[4]);
  });
}
