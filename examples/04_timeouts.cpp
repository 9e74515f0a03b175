// 04_timeouts: move_on_after gives up quietly; fail_after raises too_slow_error.
//
//   with trio.move_on_after(2) as scope:
//       await trio.sleep(5)
//   print("moved on" if scope.cancelled_caught else "finished")
//
//   try:
//       with trio.fail_after(2):
//           await trio.sleep(5)
//   except trio.TooSlowError:
//       print("too slow")

#include <fmt/core.h>
#include <trio/trio.hpp>

using namespace std::chrono_literals;

trio::task<> job(trio::duration how_long) { co_await trio::sleep(how_long); }

trio::task<int> answer_after(trio::duration how_long) {
  co_await trio::sleep(how_long);
  co_return 42;
}

trio::task<> main_task() {
  fmt::print("A 5 s job under move_on_after(2s)...\n");
  bool finished = co_await trio::move_on_after(2s, job, 5s);
  fmt::print("  {}\n", finished ? "finished" : "moved on after 2 s: the job was cancelled");

  fmt::print("A 1 s job that returns a value, under move_on_after(2s)...\n");
  std::optional<int> v = co_await trio::move_on_after(2s, answer_after, 1s);
  fmt::print("  finished in time with {}\n", v.value_or(-1));

  fmt::print("A 5 s job under fail_after(2s)...\n");
  try {
    co_await trio::fail_after(2s, job, 5s);
    fmt::print("  finished\n");
  } catch (const trio::too_slow_error&) {
    fmt::print("  fail_after raised too_slow_error\n");
  }
}

int main() { trio::run(main_task); }
