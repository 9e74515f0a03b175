#include <trio/sync.hpp>  // first: the header compiles on its own

#include <algorithm>
#include <random>

#include "support/helpers.hpp"

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
