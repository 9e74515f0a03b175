#include <trio/signal.hpp>  // first: the header compiles on its own

#include <atomic>
#include <csignal>
#include <thread>

#include "support/helpers.hpp"

namespace {

std::atomic<int> usr1_handled{0};  // lock-free: safe in a signal handler
std::atomic<int> usr2_handled{0};

/// Installs counting handlers for SIGUSR1/SIGUSR2 and puts the old ones back at the end.
struct counting_handlers {
  struct sigaction old1 {
  }, old2{};
  counting_handlers() {
    usr1_handled = 0;
    usr2_handled = 0;
    struct sigaction sa {};
    sa.sa_handler = [](int sig) {
      if (sig == SIGUSR1) ++usr1_handled;
      if (sig == SIGUSR2) ++usr2_handled;
    };
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGUSR1, &sa, &old1);
    ::sigaction(SIGUSR2, &sa, &old2);
  }
  ~counting_handlers() {
    ::sigaction(SIGUSR1, &old1, nullptr);
    ::sigaction(SIGUSR2, &old2, nullptr);
  }
};

bool blocked(int sig) {
  sigset_t now;
  ::pthread_sigmask(SIG_BLOCK, nullptr, &now);
  return sigismember(&now, sig) == 1;
}

}  // namespace

TRIO_TEST_CASE("SIG-01 signals coalesce / the mask and the previous handler come back", "[signals]") {
  counting_handlers h;
  {
    auto rx = trio::open_signal_receiver({SIGUSR1, SIGUSR1});  // duplicates are fine
    CHECK(blocked(SIGUSR1));
    ::raise(SIGUSR1);
    ::raise(SIGUSR1);
    co_await trio::testing::wait_all_tasks_blocked();
    ::raise(SIGUSR1);
    CHECK(co_await rx.next() == SIGUSR1);  // one delivery for three raises
    CHECK(rx.pending_count() == 0);
    CHECK(usr1_handled == 0);
  }
  CHECK_FALSE(blocked(SIGUSR1));
  ::raise(SIGUSR1);
  CHECK(usr1_handled == 1);  // the previous handler is back
}

TRIO_TEST_CASE("SIG-01 next() waits for a signal sent later, and is a checkpoint", "[signals]") {
  auto rx = trio::open_signal_receiver({SIGUSR2});
  std::thread sender([pid = ::getpid()] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ::kill(pid, SIGUSR2);
  });
  CHECK(co_await rx.next() == SIGUSR2);
  sender.join();
  trio::cancel_scope cs;
  cs.cancel();
  ::raise(SIGUSR2);
  co_await cs.enter([&]() -> trio::task<> { (void)co_await rx.next(); });
  CHECK(cs.cancelled_caught());
  CHECK(rx.pending_count() == 1);  // the cancelled next() took nothing
  CHECK(co_await rx.next() == SIGUSR2);
}

TRIO_TEST_CASE("SIG-01 bad arguments: no signals, an invalid number, SIGKILL / nothing is left blocked", "[signals]") {
  CHECK_THROWS_WITH(trio::open_signal_receiver({}), Catch::Contains("no signals"));
  CHECK_THROWS_AS(trio::open_signal_receiver({SIGUSR1, 1000}), std::invalid_argument);
  CHECK_THROWS_AS(trio::open_signal_receiver({SIGKILL}), std::invalid_argument);
  CHECK_FALSE(blocked(SIGUSR1));
  co_return;
}

TRIO_TEST_CASE("SIG-02 two tasks on one receiver: busy_resource_error / another thread: logic_error", "[signals]") {
  auto rx = trio::open_signal_receiver({SIGUSR1});
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> { CHECK(co_await rx.next() == SIGUSR1); });
    co_await trio::testing::wait_all_tasks_blocked();
    CHECK_THROWS_AS(co_await rx.next(), trio::busy_resource_error);
    std::string error;
    std::thread([&] {
      try {
        (void)rx.pending_count();
      } catch (const std::logic_error& e) {
        error = e.what();
      }
    }).join();
    CHECK_THAT(error, Catch::Contains("thread other than the run's"));
    ::raise(SIGUSR1);
  });
}

TRIO_TEST_CASE("SIG-02 two signals always pending: deliveries alternate", "[signals]") {
  auto rx = trio::open_signal_receiver({SIGUSR1, SIGUSR2});
  std::vector<int> got;
  for (int i = 0; i < 6; ++i) {
    ::raise(SIGUSR1);
    ::raise(SIGUSR2);
    got.push_back(co_await rx.next());
  }
  CHECK(got == std::vector<int>{SIGUSR1, SIGUSR2, SIGUSR1, SIGUSR2, SIGUSR1, SIGUSR2});
  while (rx.pending_count() != 0) (void)co_await rx.next();  // else they are re-raised (SIG-03) and kill us
}

TRIO_TEST_CASE("SIG-03 signals pending when the receiver goes are re-raised to the previous handlers", "[signals]") {
  counting_handlers h;
  {
    auto rx = trio::open_signal_receiver({SIGUSR1, SIGUSR2});
    ::raise(SIGUSR1);
    CHECK(rx.pending_count() == 1);  // read from the signalfd, never delivered
    ::raise(SIGUSR2);                // still in the kernel
  }
  CHECK(usr1_handled == 1);
  CHECK(usr2_handled == 1);
  co_return;
}

TEST_CASE("SIG a receiver for SIGINT takes Ctrl-C over while it lives, then Ctrl-C cancels the run again",
          "[signals]") {
  test::default_sigint dfl;
  int received = 0;
  trio::run_options o;  // handle_sigint = true, and this is the main thread with SIGINT at SIG_DFL
  CHECK_THROWS_AS(trio::run(o,
                            [&]() -> trio::task<> {
                              {
                                auto rx = trio::open_signal_receiver({SIGINT});
                                ::raise(SIGINT);
                                received = co_await rx.next();
                              }
                              ::raise(SIGINT);  // the run's own Ctrl-C handling is back
                              co_await trio::sleep_forever();
                            }),
                  trio::keyboard_interrupt);
  CHECK(received == SIGINT);
}
