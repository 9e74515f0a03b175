// The traps newcomers hit, turned into warnings and errors they can act on (compile-time ones are in
// tests/compile_fail/): swallowed cancellation, a deadlocked run under the autojumping clock, start()
// without started().
#include <trio/run.hpp>  // first: the header compiles on its own

#include <atomic>
#include <string>
#include <thread>

#include "support/helpers.hpp"

namespace {

constexpr const char* swallow_warning = "is something catching trio::cancelled and not rethrowing it?";

/// The newcomer's retry loop: catch (...) swallows the cancellation, so the loop spins.
trio::task<> swallowing_retry_loop(int tries, std::string* name) {
  *name = trio::lowlevel::current_task().name();
  for (int i = 0; i < tries; ++i) {
    try {
      co_await trio::sleep(10ms);  // 100 sleeps, then the deadline below has passed
    } catch (...) {
    }
  }
}

trio::task<> under_passed_deadline(int tries) {
  std::string name;
  co_await trio::move_on_after(1s, swallowing_retry_loop, tries, &name);
}

/// The loop as a child task of a cancelled scope; `name` receives the child's task name.
trio::task<> swallow_in_cancelled_scope(int tries, std::string* name) {
  trio::cancel_scope cs;
  cs.cancel("stop retrying");
  co_await cs.enter([&]() -> trio::task<> {
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon(swallowing_retry_loop, tries, name);
      co_return;
    });
  });
}

}  // namespace

TEST_CASE("TRAP a task that swallows trio::cancelled 1000 times in one scope gets one warning naming it", "[traps]") {
  test::stderr_capture err;
  std::string name;
  test::run_mock([&] { return swallow_in_cancelled_scope(1000, &name); }, true, false);
  const std::string text = err.text();
  CHECK(test::count_of(text, swallow_warning) == 1);
  REQUIRE_FALSE(name.empty());
  CHECK_THAT(text, Catch::Contains("task " + name + " has received") && Catch::Contains("1000 times") &&
                       Catch::Contains("stop retrying") && Catch::Contains("warn_swallowed_cancellation"));
}

TEST_CASE("TRAP the warning needs 1000 deliveries in a row / 999 stay silent", "[traps]") {
  test::stderr_capture err;
  std::string name;
  test::run_mock([&] { return swallow_in_cancelled_scope(999, &name); }, true, false);
  CHECK(err.text().find(swallow_warning) == std::string::npos);
}

TEST_CASE("TRAP no warning when many tasks or many scopes are each cancelled once", "[traps]") {
  test::stderr_capture err;
  test::run_mock(
      []() -> trio::task<> {
        // 2,000 children of one cancelled nursery: each receives trio::cancelled once.
        co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
          for (int i = 0; i < 2000; ++i) n.start_soon([]() -> trio::task<> { co_await trio::sleep_forever(); });
          co_await trio::testing::wait_all_tasks_blocked();
          n.cancel_scope().cancel();
        });
        // 2,000 scopes in a row (at one address, most likely), each cancelled once and left.
        for (int i = 0; i < 2000; ++i)
          co_await trio::move_on_after(0s, []() -> trio::task<> { co_await trio::checkpoint(); });
      },
      true, false);
  CHECK(err.text().find(swallow_warning) == std::string::npos);
}

TEST_CASE("TRAP a deadline passing inside a swallowing loop warns too / run_options can silence it", "[traps]") {
  {
    test::stderr_capture err;
    test::run_mock([] { return under_passed_deadline(1500); });
    CHECK(test::count_of(err.text(), swallow_warning) == 1);
  }
  test::stderr_capture err;
  trio::testing::mock_clock clk;
  clk.set_autojump_threshold(0s);
  trio::run_options o;
  o.clock = &clk;
  o.handle_sigint = false;
  o.warn_swallowed_cancellation = false;
  trio::run(o, under_passed_deadline, 1500);
  CHECK(err.text().empty());
}

namespace {
struct io_wait_counter : trio::instrument {
  std::atomic<int> waits{0};
  void before_io_wait(trio::duration) override { ++waits; }
};
}  // namespace

TRIO_TEST_CASE("TRAP a deadlocked run under the autojumping mock clock blocks in the kernel, not busy-polls",
               "[traps]") {
  // The only task waits on an event nobody in the run sets, and no deadline exists to jump to. A
  // thread sets it after 200 ms of real time; meanwhile the loop must sleep in io_uring_enter (it used
  // to spin at ~12,000 turns per second).
  io_wait_counter counter;
  trio::lowlevel::add_instrument(counter);
  trio::event ev;
  auto token = trio::lowlevel::current_trio_token();
  std::thread setter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    token.run_sync_soon([&] { ev.set(); });
  });
  const auto t0 = trio::current_time();
  co_await ev.wait();
  trio::lowlevel::remove_instrument(counter);
  setter.join();
  CHECK(trio::current_time() == t0);  // virtual time did not move
  CHECK(counter.waits.load() <= 4);
}
