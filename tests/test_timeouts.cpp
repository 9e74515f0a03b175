#include <trio/lowlevel.hpp>
#include <trio/timeouts.hpp>  // first: the header compiles on its own

#include <cmath>
#include <limits>

#include "support/helpers.hpp"

TRIO_TEST_CASE("TO-01 move_on_after: the block exits at its deadline", "[timeouts]") {
  const double t0 = test::now_s();
  bool finished = co_await trio::move_on_after(10s, []() -> trio::task<> { co_await trio::sleep(100s); });
  CHECK_FALSE(finished);
  CHECK(test::now_s() - t0 == 10.0);
  bool ok = co_await trio::move_on_after(10s, []() -> trio::task<> { co_await trio::sleep(1s); });
  CHECK(ok);
  std::optional<int> v = co_await trio::move_on_after(10s, []() -> trio::task<int> { co_return 4; });
  CHECK(v == 4);
}

TRIO_TEST_CASE("TO-11 equal deadlines all fire at the same time", "[timeouts]") {
  std::vector<double> woke;
  const double t0 = test::now_s();
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i = 0; i < 3; ++i)
      n.start_soon([&]() -> trio::task<> {
        co_await trio::sleep(5s);
        woke.push_back(test::now_s() - t0);
      });
    co_return;
  });
  CHECK(woke == std::vector<double>{5.0, 5.0, 5.0});
}

TRIO_TEST_CASE("TO-02 fail_after throws too_slow_error at its deadline", "[timeouts]") {
  const double t0 = test::now_s();
  CHECK_THROWS_AS(co_await trio::fail_after(1s, []() -> trio::task<> { co_await trio::sleep(100s); }),
                  trio::too_slow_error);
  CHECK(test::now_s() - t0 == 1.0);
  STATIC_REQUIRE(std::is_base_of_v<std::exception, trio::too_slow_error>);
  int v = co_await trio::fail_after(100s, []() -> trio::task<int> {
    co_await trio::sleep(0s);
    co_return 3;
  });
  CHECK(v == 3);
}

TRIO_TEST_CASE("TO-03 expired and past deadlines cancel at the first checkpoint", "[timeouts]") {
  bool finished = co_await trio::move_on_at(trio::current_time(), []() -> trio::task<> { co_await trio::sleep(0s); });
  CHECK_FALSE(finished);
  finished = co_await trio::move_on_at(trio::time_point{} - 5s, []() -> trio::task<> { co_await trio::checkpoint(); });
  CHECK_FALSE(finished);
  const auto t0 = trio::current_time();
  co_await trio::sleep_until(t0 - 10s);
  co_await trio::sleep(0s);
  CHECK(trio::current_time() == t0);
  // ... and they are full checkpoints:
  trio::cancel_scope cs;
  co_await cs.enter([&]() -> trio::task<> {
    cs.cancel();
    co_await trio::sleep_until(t0 - 10s);
  });
  CHECK(cs.cancelled_caught());
}

TEST_CASE("TO-04 changing a deadline while running takes effect at once", "[timeouts]") {
  test::run_mock(
      []() -> trio::task<> {
        auto& clock = trio::testing::current_mock_clock();
        const auto start = trio::current_time();
        trio::cancel_scope cs;
        int raised = 0;
        co_await cs.enter([&]() -> trio::task<> {
          co_await trio::checkpoint();
          cs.set_deadline(start + 10s);
          co_await trio::checkpoint();
          clock.jump(5s);
          co_await trio::checkpoint();
          cs.set_deadline(start + 1s);
          for (int i = 0; i < 2; ++i) {
            try {
              co_await trio::checkpoint();
            } catch (const trio::cancelled&) {
              ++raised;
            }
          }
        });
        CHECK(raised == 2);
      },
      /*autojump=*/false);
}

TEST_CASE("TO-05 a deadline that passes after the scope exited has no effect", "[timeouts]") {
  test::run_mock(
      []() -> trio::task<> {
        auto& clock = trio::testing::current_mock_clock();
        trio::cancel_scope cs(trio::current_time() + 1s);
        co_await cs.enter([]() -> trio::task<> { co_await trio::checkpoint(); });
        clock.jump(2s);
        co_await trio::checkpoint();
        CHECK_FALSE(cs.cancel_called());
        // A scope whose deadline passed before entry cancels its first sleep.
        trio::cancel_scope late(trio::current_time() + 1s);
        clock.jump(2s);
        co_await late.enter([]() -> trio::task<> { co_await trio::sleep_forever(); });
        CHECK(late.cancelled_caught());
      },
      /*autojump=*/false);
}

TEST_CASE("TO-06 current_effective_deadline", "[timeouts]") {
  test::run_mock(
      []() -> trio::task<> {
        const auto t = [](int s) { return trio::time_point{} + std::chrono::seconds(s); };
        std::vector<trio::time_point> seen;
        seen.push_back(trio::current_effective_deadline());
        trio::cancel_scope s1(t(5));
        co_await s1.enter([&]() -> trio::task<> {
          trio::cancel_scope s2(t(10));
          co_await s2.enter([&]() -> trio::task<> {
            seen.push_back(trio::current_effective_deadline());
            s2.set_deadline(t(3));
            seen.push_back(trio::current_effective_deadline());
            s2.set_deadline(t(10));
            seen.push_back(trio::current_effective_deadline());
            s2.set_shield(true);
            seen.push_back(trio::current_effective_deadline());
            s2.set_shield(false);
            seen.push_back(trio::current_effective_deadline());
            s1.cancel();
            seen.push_back(trio::current_effective_deadline());
            s2.set_shield(true);
            seen.push_back(trio::current_effective_deadline());
            co_return;
          });
          seen.push_back(trio::current_effective_deadline());
        });
        seen.push_back(trio::current_effective_deadline());
        const auto inf = trio::no_deadline, ninf = trio::time_point::min();
        CHECK(seen == std::vector<trio::time_point>{inf, t(5), t(3), t(5), t(10), t(5), ninf, t(10), ninf, inf});
      },
      /*autojump=*/false);
}

TRIO_TEST_CASE("TO-07 argument validation: negative and NaN durations", "[timeouts]") {
  const auto nan = std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN());
  auto body = []() -> trio::task<> { co_return; };
  CHECK_THROWS_AS(trio::sleep(-1s), std::invalid_argument);
  CHECK_THROWS_AS(trio::sleep(nan), std::invalid_argument);
  CHECK_THROWS_AS(trio::fail_after(-1s, body), std::invalid_argument);
  CHECK_THROWS_AS(trio::fail_after(nan, body), std::invalid_argument);
  CHECK_THROWS_AS(trio::move_on_after(-1s, body), std::invalid_argument);
  CHECK_THROWS_AS(trio::move_on_after(nan, body), std::invalid_argument);
  CHECK_THROWS_WITH(trio::sleep(-1s), Catch::Contains("must not be negative"));
  co_await trio::sleep(std::chrono::duration<double>(0.5));  // fractional seconds are fine
  co_await trio::move_on_at(trio::time_point{} - 1h, body);  // negative absolute deadlines are valid
}

TEST_CASE("TO-08 a checkpoint sees deadlines that passed just before it", "[timeouts]") {
  test::run_mock(
      []() -> trio::task<> {
        trio::cancel_scope cs(trio::current_time() + 5s);
        co_await cs.enter([&]() -> trio::task<> {
          co_await trio::checkpoint();
          trio::testing::current_mock_clock().jump(10s);
          co_await trio::checkpoint();
          FAIL("the second checkpoint did not raise");
        });
        CHECK(cs.cancelled_caught());
      },
      /*autojump=*/false);
}

TEST_CASE("TO-09 move_on_after counts from entry, not from the call", "[timeouts]") {
  test::run_mock(
      []() -> trio::task<> {
        auto body = []() -> trio::task<trio::duration> {
          co_return trio::current_effective_deadline() - trio::current_time();
        };
        auto pending = trio::move_on_after(5s, body);
        trio::testing::current_mock_clock().jump(3s);
        std::optional<trio::duration> d = co_await std::move(pending);
        CHECK(d == 5s);
      },
      /*autojump=*/false);
}

TRIO_TEST_CASE("TO-10 too_slow_error only for its own deadline", "[timeouts]") {
  trio::cancel_scope outer;
  co_await outer.enter([&]() -> trio::task<> {
    co_await trio::fail_after(100s, [&]() -> trio::task<> {
      outer.cancel();
      co_await trio::checkpoint();
    });
  });
  CHECK(outer.cancelled_caught());
}

TRIO_TEST_CASE("TO shielded: outside cancellation does not reach the body", "[timeouts]") {
  trio::cancel_scope cs;
  int v = 0;
  co_await cs.enter([&]() -> trio::task<> {
    cs.cancel();
    v = co_await trio::shielded([]() -> trio::task<int> {
      co_await trio::sleep(1s);
      co_return 9;
    });
    co_await trio::checkpoint();
  });
  CHECK(v == 9);
  CHECK(cs.cancelled_caught());
}

// A scope's deadline enters the deadline heap only when the step that entered the scope ends (a scope
// left without suspending never touches the heap). None of that may be visible:

TRIO_TEST_CASE("TO deadline of a scope and a sleep inside it, equal: the scope's fires first", "[timeouts]") {
  test::event_log rec;
  const double t0 = test::now_s();
  bool finished = co_await trio::move_on_after(1s, [&]() -> trio::task<> {
    try {
      co_await trio::sleep(1s);  // same deadline, registered after the scope's
      rec("sleep returned");
    } catch (const trio::cancelled&) {
      rec("sleep cancelled");
      throw;
    }
  });
  CHECK_FALSE(finished);
  CHECK(test::now_s() - t0 == 1.0);
  CHECK(rec.entries == std::vector<std::string>{"sleep cancelled"});
}

// TO-01/CS-05: Trio's sleep is a cancel scope, and at an instant every due deadline expires before any
// task runs, so a sleep ending exactly when an enclosing scope's deadline falls due raises, and the
// outermost cancelled scope catches it, whichever deadline entered the heap first.
namespace {
trio::task<> sleep_then_log(test::event_log& rec) {
  try {
    co_await trio::sleep(1s);
  } catch (const trio::cancelled&) {
    rec("child cancelled at " + std::to_string(test::now_s()));
    throw;
  }
  rec("child ran past its sleep");
}
}  // namespace

TRIO_TEST_CASE("TO-01/CS-05 a sleep ending as a later-set enclosing deadline falls due raises cancelled",
               "[timeouts]") {
  test::event_log rec;
  trio::cancel_scope cs;
  co_await cs.enter([&]() -> trio::task<> {
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon(sleep_then_log, std::ref(rec));
      co_await trio::testing::wait_all_tasks_blocked();  // the child's sleep is registered first
      cs.set_deadline(trio::current_time() + 1s);        // the same instant, registered after it
    });
  });
  CHECK(cs.cancelled_caught());
  CHECK(rec.entries == std::vector<std::string>{"child cancelled at 1.000000"});
}

TRIO_TEST_CASE("TO-01/CS-05 mirror: the enclosing deadline registered before the sleep", "[timeouts]") {
  test::event_log rec;
  trio::cancel_scope cs;
  co_await cs.enter([&]() -> trio::task<> {
    cs.set_deadline(trio::current_time() + 1s);
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon(sleep_then_log, std::ref(rec));
      co_return;
    });
  });
  CHECK(cs.cancelled_caught());
  CHECK(rec.entries == std::vector<std::string>{"child cancelled at 1.000000"});
}

TRIO_TEST_CASE("TO-01 a sleep whose time came, cancelled before it ran again, raises (its scope is not outermost)",
               "[timeouts]") {
  // Both children wake at t = 1 in one batch; FIFO order is random, so run it both ways: whichever
  // runs first cancels the scope around the other, whose sleep has ended but has not returned yet.
  for (int round = 0; round < 8; ++round) {
    test::event_log rec;
    trio::cancel_scope cs;
    co_await cs.enter([&]() -> trio::task<> {
      co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
        for (int i = 0; i < 2; ++i)
          n.start_soon([&]() -> trio::task<> {
            co_await trio::sleep(1s);
            rec("woke");
            cs.cancel();
          });
        co_return;
      });
    });
    CHECK(rec.entries == std::vector<std::string>{"woke"});
  }
}

TRIO_TEST_CASE("TO a deadline that passes while the body runs without suspending cancels its next checkpoint",
               "[timeouts]") {
  test::event_log rec;
  bool finished = co_await trio::move_on_after(1s, [&]() -> trio::task<> {
    trio::testing::current_mock_clock().jump(2s);  // CPU-bound work past the deadline
    rec("before checkpoint");
    co_await trio::checkpoint();  // the loop sees the deadline here
    rec("after checkpoint");
  });
  CHECK_FALSE(finished);
  CHECK(rec.entries == std::vector<std::string>{"before checkpoint"});
}

TRIO_TEST_CASE("TO a scope entered in this step counts in the statistics' next deadline", "[timeouts]") {
  co_await trio::move_on_after(7s, []() -> trio::task<> {
    CHECK(trio::lowlevel::current_statistics().time_to_next_deadline == 7s);
    co_await trio::move_on_after(3s, []() -> trio::task<> {
      CHECK(trio::lowlevel::current_statistics().time_to_next_deadline == 3s);
      co_return;
    });
    CHECK(trio::lowlevel::current_statistics().time_to_next_deadline == 7s);
    co_await trio::sleep(1s);  // now in the heap
    CHECK(trio::lowlevel::current_statistics().time_to_next_deadline == 6s);
  });
  CHECK(trio::lowlevel::current_statistics().time_to_next_deadline == trio::duration::max());
}

TRIO_TEST_CASE("TO many nested scopes entered and left in one step leave no deadline behind", "[timeouts]") {
  for (int i = 0; i < 1000; ++i) {
    bool ok = co_await trio::move_on_after(std::chrono::seconds(1 + i % 7), []() -> trio::task<> { co_return; });
    CHECK(ok);
  }
  CHECK(trio::lowlevel::current_statistics().time_to_next_deadline == trio::duration::max());
  co_await trio::sleep(10s);  // nothing fires on the way
}

TRIO_TEST_CASE("TO the body of move_on_after/fail_after/move_on_at/fail_at/shielded may take its cancel_scope&",
               "[timeouts]") {
  const double t0 = test::now_s();
  // Trio's `with move_on_after(5) as cs:` : the body cancels its own scope, reads it, moves its deadline.
  bool caught_inside = false;
  bool finished = co_await trio::move_on_after(5s, [&](trio::cancel_scope& cs) -> trio::task<> {
    CHECK(cs.deadline() == trio::current_time() + 5s);
    cs.cancel("enough");
    caught_inside = cs.cancel_called();
    co_await trio::sleep(1s);
  });
  CHECK_FALSE(finished);
  CHECK(caught_inside);
  CHECK(test::now_s() == t0);  // cancelled at once, not after 1 s

  std::optional<int> v = co_await trio::move_on_at(
      trio::current_time() + 10s,
      [](trio::cancel_scope& cs, int x) -> trio::task<int> {
        cs.set_deadline(trio::current_time() + 2s);  // moved earlier: takes effect at once
        co_await trio::sleep(5s);
        co_return x;
      },
      7);
  CHECK_FALSE(v.has_value());
  CHECK(test::now_s() - t0 == 2.0);

  CHECK_THROWS_AS(co_await trio::fail_after(1h,
                                            [](trio::cancel_scope& cs) -> trio::task<> {
                                              cs.set_deadline(trio::current_time());
                                              co_await trio::checkpoint();
                                            }),
                  trio::too_slow_error);
  int w = co_await trio::fail_at(trio::current_time() + 1s, [](trio::cancel_scope& cs) -> trio::task<int> {
    cs.set_deadline(trio::no_deadline);  // no deadline after all
    co_await trio::sleep(3s);
    co_return 3;
  });
  CHECK(w == 3);

  trio::cancel_scope outer;
  bool shield_held = false;
  co_await outer.enter([&]() -> trio::task<> {
    outer.cancel();
    co_await trio::shielded([&](trio::cancel_scope& cs) -> trio::task<> {
      CHECK(cs.shield());
      co_await trio::checkpoint();  // the shield holds
      shield_held = true;
      cs.set_shield(false);  // lowering it lets the outer cancellation in
      co_await trio::checkpoint();
      FAIL("the outer cancellation did not arrive");
    });
  });
  CHECK(shield_held);
  CHECK(outer.cancelled_caught());
}

TRIO_TEST_CASE("TO a named scope body is used in place / a temporary is kept until the scope ends", "[timeouts]") {
  int runs = 0;
  auto body = [&runs, count = 0]() mutable -> trio::task<> {
    runs = ++count;
    co_return;
  };
  co_await trio::move_on_after(1s, body);
  co_await trio::fail_after(1s, body);
  co_await trio::shielded(body);
  trio::cancel_scope cs;
  co_await cs.enter(body);
  CHECK(runs == 4);  // one lambda object, its own counter advanced by each call
}
