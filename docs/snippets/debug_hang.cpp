// Debugging a hang: a program whose tasks wait on each other forever. The run is set up to print the
// task dump on SIGQUIT; here a watchdog task takes the dump itself after a second and stops the run.

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <csignal>
#include <string>

using namespace std::chrono_literals;

// [the-bug]
// Two tasks that each hold what the other wants: a classic lock-ordering deadlock.
trio::task<> transfer(trio::lock& from, trio::lock& to) {
  auto held = co_await from.scoped_acquire();
  co_await trio::sleep(10ms);                // long enough for the other task to take its first lock
  auto also = co_await to.scoped_acquire();  // waits forever
}
// [the-bug-end]

trio::task<> main_task() {
  trio::lock a, b;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon(transfer, std::ref(a), std::ref(b));
    n.start_soon(transfer, std::ref(b), std::ref(a));
    // [watchdog]
    // A watchdog: if the work is not done in a second, print what every task waits on and give up.
    co_await trio::sleep(1s);
    const std::string dump = trio::lowlevel::format_task_tree();
    for (std::size_t at = 0; (at = dump.find("waiting: trio::lock::acquire", at)) != std::string::npos; ++at)
      fmt::print("{}\n", dump.substr(at, dump.find('\n', at) - at));
    n.cancel_scope().cancel();
    // [watchdog-end]
  });
}

int main() {
  // [signal]
  trio::run_options options;
  options.task_dump_signal = SIGQUIT;                            // kill -QUIT <pid>, or Ctrl-\ in a terminal
  options.slow_step_threshold = std::chrono::milliseconds(500);  // report a step that blocks the loop
  trio::run(options, main_task);
  // [signal-end]
}
