#include <trio/sync.hpp>  // first: the header compiles on its own

#include <algorithm>
#include <random>

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

namespace {
template <class Acquire, class Release>
trio::task<std::string> fairness_run(Acquire acquire, Release release) {
  std::string rec;
  int inside = 0;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (char me : {'1', '2', '3'})
      n.start_soon([&, me]() -> trio::task<> {
        for (int i = 0; i < 5; ++i) {
          co_await acquire();
          CHECK(++inside == 1);  // mutual exclusion across checkpoints
          rec += me;
          co_await trio::checkpoint();
          co_await trio::checkpoint();
          --inside;
          release();
        }
      });
    co_return;
  });
  co_return rec;
}
void check_repeats(const std::string& rec) {
  REQUIRE(rec.size() == 15);
  for (std::size_t i = 3; i < rec.size(); ++i) CHECK(rec[i] == rec[i % 3]);
}
}  // namespace

TRIO_TEST_CASE("SYNC-03 FIFO fairness: lock, strict_fifo_lock, semaphore(1), capacity_limiter(1), channel", "[sync]") {
  trio::lock l;
  check_repeats(co_await fairness_run([&] { return l.acquire(); }, [&] { l.release(); }));
  trio::strict_fifo_lock f;
  check_repeats(co_await fairness_run([&] { return f.acquire(); }, [&] { f.release(); }));
  trio::semaphore s(1);
  check_repeats(co_await fairness_run([&] { return s.acquire(); }, [&] { s.release(); }));
  trio::capacity_limiter c(1);
  check_repeats(co_await fairness_run([&] { return c.acquire(); }, [&] { c.release(); }));
  auto ch = trio::open_memory_channel<int>(1);  // a channel used as a lock: send to take, receive to give back
  auto& tx = ch.first;
  auto& rx = ch.second;
  check_repeats(co_await fairness_run([&] { return tx.send(0); }, [&] { (void)rx.receive_nowait(); }));
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

TRIO_TEST_CASE("CP-03 uncontended acquires are checkpoints / CP-04 nowait and release are not", "[sync][checkpoint]") {
  trio::lock l;
  trio::semaphore s(1);
  trio::capacity_limiter c(1);
  for (int which = 0; which < 3; ++which) {
    trio::cancel_scope cs;
    co_await cs.enter([&]() -> trio::task<> {
      cs.cancel();
      if (which == 0) co_await l.acquire();
      if (which == 1) co_await s.acquire();
      if (which == 2) co_await c.acquire();
    });
    CHECK(cs.cancelled_caught());  // cancelled: nothing taken
  }
  CHECK_FALSE(l.locked());
  CHECK(s.value() == 1);
  CHECK(c.borrowed_tokens() == 0);
  trio::cancel_scope cs;
  co_await cs.enter([&]() -> trio::task<> {
    cs.cancel();
    l.acquire_nowait();
    l.release();
    s.acquire_nowait();
    s.release();
    c.acquire_nowait();
    c.release();
    co_return;
  });
  CHECK_FALSE(cs.cancelled_caught());
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

TEST_CASE("SYNC cancellation at random points of acquire: no stuck waiter, no token leaked (1,000 trials)",
          "[sync][stress]") {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 1000; ++trial) {
    const unsigned seed = static_cast<unsigned>(rng());
    test::run_mock([seed]() -> trio::task<> {
      std::mt19937 r(seed);
      trio::lock l;
      trio::semaphore s(2);
      trio::capacity_limiter c(1);
      int in_lock = 0;
      co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
        for (int t = 0; t < 6; ++t) {
          const auto deadline = std::chrono::milliseconds(r() % 5);
          const int hold = static_cast<int>(r() % 3);
          n.start_soon([&, deadline, hold]() -> trio::task<> {
            co_await trio::move_on_after(deadline, [&]() -> trio::task<> {
              auto g1 = co_await s.scoped_acquire();
              auto g2 = co_await l.scoped_acquire();
              CHECK(++in_lock == 1);
              struct leave {
                int& count;
                ~leave() { --count; }
              } inside{in_lock};  // also when cancelled while holding the lock
              auto g3 = co_await c.scoped_acquire();
              for (int k = 0; k < hold; ++k) co_await trio::sleep(1ms);
            });
          });
        }
        co_return;
      });
      CHECK_FALSE(l.locked());
      CHECK(l.statistics().tasks_waiting == 0);
      CHECK(s.value() == 2);
      CHECK(c.borrowed_tokens() == 0);
      CHECK(c.statistics().tasks_waiting == 0);
    });
  }
}
