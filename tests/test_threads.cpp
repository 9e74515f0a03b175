#include <trio/to_thread.hpp>  // first: the header compiles on its own

#include <trio/from_thread.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "support/helpers.hpp"

namespace {

/// A gate a worker thread blocks on until the test opens it (a thread-safe Trio test queue).
struct gate {
  std::mutex m;
  std::condition_variable cv;
  bool open = false;
  void wait() {
    std::unique_lock lk(m);
    cv.wait(lk, [&] { return open; });
  }
  void release() {
    {
      std::lock_guard lk(m);
      open = true;
    }
    cv.notify_all();
  }
};

/// Waits (in real time, not virtual time) until `pred` holds; the loop keeps running meanwhile.
template <class P>
trio::task<> until(P pred) {
  for (int i = 0; i < 20000 && !pred(); ++i)
    co_await trio::to_thread::run_sync([] { std::this_thread::sleep_for(std::chrono::microseconds(100)); });
  REQUIRE(pred());
}

}  // namespace

TRIO_TEST_CASE("THR-01 run_sync returns the value, runs in another thread, rethrows the exact exception", "[threads]") {
  const auto loop_thread = std::this_thread::get_id();
  std::thread::id worker;
  int v = co_await trio::to_thread::run_sync(
      [&](int a, int b) {
        worker = std::this_thread::get_id();
        return a * b;
      },
      6, 7);
  CHECK(v == 42);
  CHECK(worker != loop_thread);
  co_await trio::to_thread::run_sync([] {});  // void
  auto s = co_await trio::to_thread::run_sync([](std::string x) { return x + "!"; }, std::string(40, 'a'));
  CHECK(s == std::string(40, 'a') + "!");
  CHECK_THROWS_MATCHES(co_await trio::to_thread::run_sync([]() -> int { throw std::out_of_range("key 7"); }),
                       std::out_of_range, Catch::Message("key 7"));
  CHECK(trio::to_thread::current_default_thread_limiter().total_tokens() == 40);
  CHECK(trio::to_thread::current_default_thread_limiter().borrowed_tokens() == 0);
}

TRIO_TEST_CASE("THR-01 the loop keeps running while a thread blocks / threads are reused", "[threads]") {
  int ticks = 0;
  std::atomic<bool> stop{false};
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      while (!stop) {
        ++ticks;
        co_await trio::cancel_shielded_checkpoint();
      }
    });
    co_await trio::to_thread::run_sync([] { std::this_thread::sleep_for(std::chrono::milliseconds(50)); });
    stop = true;
  });
  CHECK(ticks > 10);
  std::thread::id first, second;
  co_await trio::to_thread::run_sync([&] { first = std::this_thread::get_id(); });
  co_await trio::to_thread::run_sync([&] { second = std::this_thread::get_id(); });
  CHECK(first == second);  // one idle worker was reused
}

TRIO_TEST_CASE("THR-02 cancelled before the call: trio::cancelled, the thread never starts", "[threads]") {
  bool ran = false;
  trio::cancel_scope cs;
  cs.cancel();
  co_await cs.enter([&]() -> trio::task<> { co_await trio::to_thread::run_sync([&] { ran = true; }); });
  CHECK(cs.cancelled_caught());
  CHECK_FALSE(ran);
  CHECK(trio::to_thread::current_default_thread_limiter().borrowed_tokens() == 0);
}

TRIO_TEST_CASE("THR-02 default: a cancelled caller waits for the thread, gets its value, then is cancelled",
               "[threads]") {
  gate g;
  test::event_log rec;
  trio::cancel_scope cs;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await cs.enter([&]() -> trio::task<> {
        int v = co_await trio::to_thread::run_sync([&] {
          g.wait();
          return 5;
        });
        rec("run_sync returned " + std::to_string(v));
        co_await trio::checkpoint();  // the pending cancellation arrives here
        rec("not reached");
      });
    });
    co_await trio::testing::wait_all_tasks_blocked();
    cs.cancel();
    for (int i = 0; i < 10; ++i) co_await trio::cancel_shielded_checkpoint();
    rec("still running after cancel");
    g.release();
  });
  CHECK(cs.cancelled_caught());
  CHECK(rec.entries == std::vector<std::string>{"still running after cancel", "run_sync returned 5"});
}

TRIO_TEST_CASE("THR-02 abandon_on_cancel: returns at once, the thread runs on and holds its token until it ends",
               "[threads]") {
  gate g;
  std::atomic<bool> finished{false};
  trio::capacity_limiter limiter(1);
  trio::cancel_scope cs;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await cs.enter([&]() -> trio::task<> {
        co_await trio::to_thread::run_sync(trio::thread_options{.abandon_on_cancel = true, .limiter = &limiter}, [&] {
          g.wait();
          finished = true;
          return std::string(100, 'r');  // dropped
        });
        FAIL("run_sync returned");
      });
    });
    co_await trio::testing::wait_all_tasks_blocked();
    cs.cancel();
  });
  CHECK(cs.cancelled_caught());
  CHECK_FALSE(finished);
  CHECK(limiter.borrowed_tokens() == 1);  // the abandoned thread still holds it
  g.release();
  co_await until([&] { return limiter.borrowed_tokens() == 0; });
  CHECK(finished);
}

TRIO_TEST_CASE("THR-03 a limiter of 3: 9 calls, never more than 3 threads at once", "[threads]") {
  trio::capacity_limiter limiter(3);
  std::atomic<int> running{0}, peak{0};
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i = 0; i < 9; ++i)
      n.start_soon([&]() -> trio::task<> {
        co_await trio::to_thread::run_sync(trio::thread_options{.limiter = &limiter}, [&] {
          const int now = ++running;
          for (int p = peak; now > p && !peak.compare_exchange_weak(p, now);) {
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          --running;
        });
      });
    co_return;
  });
  CHECK(peak == 3);
  CHECK(limiter.borrowed_tokens() == 0);
}

TRIO_TEST_CASE("THR-03 10,000 calls from 100 tasks with a limiter of 4: each result to its own task", "[threads]") {
  trio::capacity_limiter limiter(4);
  std::atomic<int> running{0}, peak{0};
  int wrong = 0, done = 0;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int t = 0; t < 100; ++t)
      n.start_soon(
          [&](int task_no) -> trio::task<> {
            for (int i = 0; i < 100; ++i) {
              const int expect = task_no * 1000 + i;
              int got = co_await trio::to_thread::run_sync(trio::thread_options{.limiter = &limiter}, [&, expect] {
                const int now = ++running;
                for (int p = peak; now > p && !peak.compare_exchange_weak(p, now);) {
                }
                --running;
                return expect;
              });
              if (got != expect) ++wrong;
              ++done;
            }
          },
          t);
    co_return;
  });
  CHECK(done == 10000);
  CHECK(wrong == 0);
  CHECK(peak <= 4);
  CHECK(limiter.borrowed_tokens() == 0);
}

TEST_CASE("THR randomized cancellation of 1,000 calls in both modes: no lost result, no leaked token", "[threads]") {
  for (bool abandon : {false, true}) {
    std::atomic<int> started{0}, ended{0};
    int returned = 0, cancelled = 0;
    trio::run([&]() -> trio::task<> {
      trio::capacity_limiter limiter(8);
      std::mt19937 rng(abandon ? 7 : 11);
      co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
        for (int i = 0; i < 1000; ++i) {
          const auto delay = std::chrono::microseconds(rng() % 200);
          const auto patience = std::chrono::microseconds(rng() % 300);
          n.start_soon([&, delay, patience]() -> trio::task<> {
            bool ok = co_await trio::move_on_after(patience, [&]() -> trio::task<> {
              int v = co_await trio::to_thread::run_sync(
                  trio::thread_options{.abandon_on_cancel = abandon, .limiter = &limiter}, [&, delay] {
                    ++started;
                    std::this_thread::sleep_for(delay);
                    ++ended;
                    return 1;
                  });
              returned += v;
            });
            if (!ok) ++cancelled;
          });
        }
        co_return;
      });
      // Abandoned threads may still run: their tokens come back when they end.
      co_await until([&] { return limiter.borrowed_tokens() == 0; });
      CHECK(started == ended);
    });
    CHECK(returned + cancelled >= 1000);  // a default-mode call can return its value and be cancelled later
    CHECK(returned <= started);
    if (!abandon) CHECK(returned == started);  // every thread that ran delivered its value
  }
}

TEST_CASE("THR an abandoned thread still running at exit: run waits for it / nothing touches freed memory",
          "[threads]") {
  std::atomic<bool> finished{false};
  const auto t0 = std::chrono::steady_clock::now();
  trio::run([&]() -> trio::task<> {
    co_await trio::move_on_after(1ms, [&]() -> trio::task<> {
      co_await trio::to_thread::run_sync(trio::thread_options{.abandon_on_cancel = true}, [&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        finished = true;
        return std::string(64, 'x');
      });
    });
  });
  CHECK(finished);  // run returned only after the thread ended
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(200));
}

TRIO_TEST_CASE("THR-04 from_thread::run_sync and run from a worker / exceptions go back to the thread", "[threads]") {
  const auto loop_thread = std::this_thread::get_id();
  int in_loop = 0;
  trio::event ev;
  auto r = co_await trio::to_thread::run_sync([&] {
    std::thread::id where = trio::from_thread::run_sync([&] {
      ++in_loop;
      ev.set();
      return std::this_thread::get_id();
    });
    int doubled = trio::from_thread::run(
        [](int x) -> trio::task<int> {
          co_await trio::sleep(1s);
          co_return 2 * x;
        },
        21);
    std::string err;
    try {
      trio::from_thread::run_sync([]() -> int { throw std::out_of_range("no such key"); });
    } catch (const std::out_of_range& e) {
      err = e.what();
    }
    try {
      trio::from_thread::run([]() -> trio::task<> {
        co_await trio::checkpoint();
        throw std::invalid_argument("async failure");
      });
    } catch (const std::invalid_argument& e) {
      err += std::string("; ") + e.what();
    }
    return std::make_tuple(where, doubled, err);
  });
  CHECK(std::get<0>(r) == loop_thread);
  CHECK(std::get<1>(r) == 42);
  CHECK(std::get<2>(r) == "no such key; async failure");
  CHECK(in_loop == 1);
  CHECK(ev.is_set());
}

TRIO_TEST_CASE("THR-04 from_thread misuse: from the loop thread, from a foreign thread without a token", "[threads]") {
  CHECK_THROWS_WITH(trio::from_thread::run_sync([] {}),
                    Catch::Contains("from the run's own thread") && Catch::Contains("deadlock"));
  auto token = trio::lowlevel::current_trio_token();
  CHECK_THROWS_AS(trio::from_thread::run_sync(token, [] {}), std::logic_error);
  CHECK_THROWS_AS(trio::from_thread::check_cancelled(), std::logic_error);
  std::string foreign_error;
  std::atomic<int> with_token{0};
  std::thread th([&] {
    try {
      trio::from_thread::run_sync([] {});
    } catch (const std::logic_error& e) {
      foreign_error = e.what();
    }
    with_token = trio::from_thread::run_sync(token, [] { return 7; });
  });
  co_await until([&] { return with_token != 0; });
  th.join();
  CHECK_THAT(foreign_error,
             Catch::Contains("not started by trio::to_thread::run_sync") && Catch::Contains("current_trio_token()"));
  CHECK(with_token == 7);
}

TRIO_TEST_CASE("THR-04 from_thread::check_cancelled raises in the worker once the host task is cancelled",
               "[threads]") {
  std::atomic<int> checks{0};
  std::string seen;
  trio::cancel_scope cs;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await cs.enter([&]() -> trio::task<> {
        co_await trio::to_thread::run_sync([&] {
          try {
            for (;;) {
              trio::from_thread::check_cancelled();
              ++checks;
              std::this_thread::sleep_for(std::chrono::microseconds(200));
            }
          } catch (const trio::cancelled& c) {
            seen = std::string(c.reason());
            throw;  // out of the thread, into the task: the scope catches it
          }
        });
        FAIL("run_sync returned");
      });
    });
    co_await until([&] { return checks > 3; });
    cs.cancel("stop the job");
  });
  CHECK(seen == "stop the job");
  CHECK(cs.cancelled_caught());
}

TEST_CASE("THR-06 from_thread::run at shutdown: the system task is cancelled / after the run, run_finished_error",
          "[threads]") {
  std::optional<trio::lowlevel::trio_token> token;
  std::atomic<bool> thread_saw_cancelled{false};
  std::atomic<bool> entered{false};
  std::thread th;
  trio::run([&]() -> trio::task<> {
    token = trio::lowlevel::current_trio_token();
    th = std::thread([&] {
      try {
        trio::from_thread::run(*token, [&]() -> trio::task<> {
          entered = true;
          co_await trio::sleep_forever();
        });
      } catch (const trio::cancelled&) {
        thread_saw_cancelled = true;
      }
    });
    co_await until([&] { return entered.load(); });
  });  // the main task returns: the system task is cancelled
  th.join();
  CHECK(thread_saw_cancelled);
  CHECK_THROWS_AS(trio::from_thread::run_sync(*token, [] {}), trio::run_finished_error);
  CHECK_THROWS_AS(trio::from_thread::run(*token, []() -> trio::task<> { co_return; }), trio::run_finished_error);
}
