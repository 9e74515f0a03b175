#include <trio/wait_fd.hpp>  // first: the header compiles on its own

#include <fcntl.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "support/helpers.hpp"

namespace {

struct pipe_pair {
  int r = -1, w = -1;
  pipe_pair() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
    r = fds[0];
    w = fds[1];
  }
  ~pipe_pair() {
    ::close(r);
    ::close(w);
  }
};

}  // namespace

TRIO_TEST_CASE("IO wait_readable wakes when a writer writes", "[io]") {
  pipe_pair p;
  const double t0 = test::now_s();
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await trio::sleep(1s);
      REQUIRE(::write(p.w, "hello", 5) == 5);
    });
    co_await trio::lowlevel::wait_readable(p.r);
    CHECK(test::now_s() - t0 == 1.0);
    char buf[8];
    CHECK(::read(p.r, buf, sizeof buf) == 5);
  });
}

TRIO_TEST_CASE("IO wait_writable on an empty pipe returns", "[io]") {
  pipe_pair p;
  co_await trio::lowlevel::wait_writable(p.w);
  CHECK(trio::lowlevel::current_statistics().io_operations_in_flight == 0);
}

TRIO_TEST_CASE("IO a cancelled wait_readable is cancelled in the kernel and leaves nothing in flight", "[io]") {
  pipe_pair p;
  const double t0 = test::now_s();
  bool finished = co_await trio::move_on_after(1s, [&]() -> trio::task<> {
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> {
        co_await trio::testing::wait_all_tasks_blocked();
        CHECK(trio::lowlevel::current_statistics().io_operations_in_flight == 1);
      });
      co_await trio::lowlevel::wait_readable(p.r);
    });
  });
  CHECK_FALSE(finished);
  CHECK(test::now_s() - t0 == 1.0);
  CHECK(trio::lowlevel::current_statistics().io_operations_in_flight == 0);
}

TRIO_TEST_CASE("IO two waiters in one direction: busy_resource_error", "[io]") {
  pipe_pair p;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> { co_await trio::lowlevel::wait_readable(p.r); });
    co_await trio::testing::wait_all_tasks_blocked();
    CHECK_THROWS_AS(co_await trio::lowlevel::wait_readable(p.r), trio::busy_resource_error);
    n.cancel_scope().cancel();
  });
}

TRIO_TEST_CASE("IO notify_closing wakes waiters with closed_resource_error", "[io]") {
  pipe_pair p;
  test::event_log rec;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      try {
        co_await trio::lowlevel::wait_readable(p.r);
      } catch (const trio::closed_resource_error& e) {
        rec("closed");
        CHECK_THAT(e.what(), Catch::Contains("notify_closing"));
      }
    });
    co_await trio::testing::wait_all_tasks_blocked();
    trio::lowlevel::notify_closing(p.r);
  });
  CHECK(rec.entries == std::vector<std::string>{"closed"});
}

TRIO_TEST_CASE("IO a shield raised while the cancel is in flight: the wait continues", "[io]") {
  pipe_pair p;
  trio::cancel_scope outer, inner;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await outer.enter([&]() -> trio::task<> {
        co_await inner.enter([&]() -> trio::task<> { co_await trio::lowlevel::wait_readable(p.r); });
      });
    });
    co_await trio::testing::wait_all_tasks_blocked();
    outer.cancel();          // the abort submits ASYNC_CANCEL...
    inner.set_shield(true);  // ...and before its completion arrives, the wait is shielded
    co_await trio::sleep(1s);
    CHECK(trio::lowlevel::current_statistics().io_operations_in_flight == 1);  // waiting again
    REQUIRE(::write(p.w, "x", 1) == 1);
  });
  CHECK_FALSE(inner.cancelled_caught());
  CHECK_FALSE(outer.cancelled_caught());  // the wait finished normally; nothing reached outer
}

TRIO_TEST_CASE("IO a wait submitted again after a withdrawn cancellation: events in order, then cancelled again",
               "[io]") {
  pipe_pair p;
  test::event_log rec;
  trio::cancel_scope outer, inner;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await outer.enter([&]() -> trio::task<> {
        co_await inner.enter([&]() -> trio::task<> {
          rec("wait");
          co_await trio::lowlevel::wait_readable(p.r);
          rec("readable");
          try {
            char c;
            REQUIRE(::read(p.r, &c, 1) == 1);
            co_await trio::lowlevel::wait_readable(p.r);  // nothing more to read: parks...
            rec("readable again");
          } catch (const trio::cancelled&) {
            rec("cancelled");  // ...until the shield comes down and the cancellation reaches it
            throw;
          }
        });
      });
    });
    co_await trio::testing::wait_all_tasks_blocked();
    outer.cancel();
    inner.set_shield(true);
    rec("cancelled, then shielded");
    co_await trio::sleep(1s);
    CHECK(trio::lowlevel::current_statistics().io_operations_in_flight == 1);  // waiting again
    rec("write");
    REQUIRE(::write(p.w, "x", 1) == 1);
    co_await trio::sleep(1s);
    rec("unshield");
    inner.set_shield(false);
  });
  CHECK(rec.entries ==
        std::vector<std::string>{"wait", "cancelled, then shielded", "write", "readable", "unshield", "cancelled"});
  CHECK(outer.cancelled_caught());
  CHECK(trio::lowlevel::current_statistics().io_operations_in_flight == 0);
}

TEST_CASE("IO a task spinning on checkpoints cannot starve a pipe reader", "[io]") {
  // Newer kernels flag pending completions (IORING_SETUP_TASKRUN_FLAG) and the loop peeks at the flag;
  // without it, the loop enters the kernel every 50 us of busy running. Both paths:
  const unsigned flags = GENERATE(0u, unsigned(IORING_SETUP_COOP_TASKRUN));
  trio::detail::t_ring_flags_override = flags;
  struct reset {
    ~reset() { trio::detail::t_ring_flags_override = 0; }
  } reset_flags;
  pipe_pair p;
  long spins = 0;
  bool got = false;
  trio::run_options o;
  o.handle_sigint = false;
  std::thread writer;
  trio::run(o, [&]() -> trio::task<> {
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> {
        co_await trio::lowlevel::wait_readable(p.r);
        got = true;
      });
      n.start_soon([&]() -> trio::task<> {
        while (!got && spins < 50'000'000) {
          ++spins;
          co_await trio::checkpoint();
        }
      });
      writer = std::thread([&] {
        std::this_thread::sleep_for(20ms);
        REQUIRE(::write(p.w, "x", 1) == 1);
      });
      co_return;
    });
  });
  writer.join();
  CHECK(got);
  CHECK(spins < 50'000'000);
}

TEST_CASE("IO wait_readable cancelled while its completion races in: 1000 randomized trials", "[io][stress]") {
  std::mt19937 rng(12345);
  int completed = 0, cancelled = 0;
  for (int trial = 0; trial < 1000; ++trial) {
    pipe_pair p;
    const int write_after = static_cast<int>(rng() % 4);   // checkpoints before the write
    const int cancel_after = static_cast<int>(rng() % 4);  // checkpoints before the cancel
    const bool cancel_first = rng() & 1;
    trio::run_options o;
    o.handle_sigint = false;
    trio::run(o, [&]() -> trio::task<> {
      trio::cancel_scope cs;
      bool woke = false;
      co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
        n.start_soon([&]() -> trio::task<> {
          co_await cs.enter([&]() -> trio::task<> {
            co_await trio::lowlevel::wait_readable(p.r);
            woke = true;
          });
        });
        for (int i = 0; i < 4; ++i) {
          if (cancel_first && i == cancel_after) cs.cancel();
          if (i == write_after) REQUIRE(::write(p.w, "x", 1) == 1);
          if (!cancel_first && i == cancel_after) cs.cancel();
          co_await trio::checkpoint();
        }
      });
      // Either the wait completed (and the byte is there to read), or it was cancelled; never both
      // lost, never stuck, nothing left in the kernel.
      char c;
      CHECK(::read(p.r, &c, 1) == 1);
      if (woke) {
        ++completed;
      } else {
        CHECK(cs.cancelled_caught());
        ++cancelled;
      }
      CHECK(trio::lowlevel::current_statistics().io_operations_in_flight == 0);
    });
  }
  CHECK(completed + cancelled == 1000);
  CHECK(completed > 0);
  CHECK(cancelled > 0);
}
