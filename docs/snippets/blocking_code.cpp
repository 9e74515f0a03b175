// Calling blocking code: a blocking call runs in a worker thread, so the loop and every other task
// keep running; a long job can notice that its caller was cancelled.

#include <fmt/core.h>
#include <unistd.h>
#include <trio/trio.hpp>

#include <chrono>
#include <string>
#include <thread>

using namespace std::chrono_literals;

// Stands for a blocking library call (a database driver, a compression routine, getpwnam...).
std::string blocking_lookup(std::string key) {
  std::this_thread::sleep_for(100ms);
  return key + " = 42";
}

trio::task<> main_task() {
  // [run-sync]
  // The loop thread stays free while the worker blocks; the value (or the exception) comes back.
  std::string value = co_await trio::to_thread::run_sync(blocking_lookup, std::string("answer"));
  fmt::print("{}\n", value);
  // [run-sync-end]

  // [limiter]
  // At most two of these in threads at once (the default limit is 40 threads per run).
  trio::capacity_limiter two(2);
  trio::thread_options limited;
  limited.limiter = &two;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i = 0; i < 4; ++i)
      n.start_soon([&, i]() -> trio::task<> {
        co_await trio::to_thread::run_sync(limited, blocking_lookup, "key" + std::to_string(i));
      });
    co_return;
  });
  fmt::print("four lookups, two threads at a time\n");
  // [limiter-end]

  // [cancel]
  // Cancelling the caller cannot interrupt a blocking call: by default the caller waits for it.
  // A long job that checks from_thread::check_cancelled() stops early on its own.
  int steps = 0;
  co_await trio::move_on_after(150ms, [&]() -> trio::task<> {
    co_await trio::to_thread::run_sync([&] {
      for (; steps < 100; ++steps) {
        trio::from_thread::check_cancelled();  // throws trio::cancelled once the caller is cancelled
        std::this_thread::sleep_for(10ms);     // one slice of the work
      }
    });
  });
  fmt::print("the job stopped early: {}\n", steps < 100 ? "yes" : "no");
  // [cancel-end]

  // [abandon]
  // abandon_on_cancel: the caller returns at once when cancelled; the thread finishes alone and its
  // result is dropped. trio::run still waits for it before returning.
  trio::thread_options abandon;
  abandon.abandon_on_cancel = true;
  const bool finished = co_await trio::move_on_after(
      50ms, [&]() -> trio::task<> { co_await trio::to_thread::run_sync(abandon, [] { ::usleep(200'000); }); });
  fmt::print("the caller returned before the thread finished: {}\n", finished ? "no" : "yes");
  // [abandon-end]
}

int main() { trio::run(main_task); }
