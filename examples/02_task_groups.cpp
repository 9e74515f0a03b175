// 02_task_groups: two children in one nursery. The nursery block ends when both are done.
//
//   async def task(n, delay):
//       await trio.sleep(delay)
//       print(f"Task {n} completed")
//
//   async def main():
//       async with trio.open_nursery() as nursery:
//           nursery.start_soon(task, 1, 1)
//           nursery.start_soon(task, 2, 2)
//       print("All tasks completed")

#include <fmt/core.h>
#include <trio/trio.hpp>

using namespace std::chrono_literals;

trio::task<> task(int n, trio::duration delay) {
  co_await trio::sleep(delay);
  fmt::print("Task {} completed\n", n);
}

trio::task<> main_task() {
  co_await trio::open_nursery([](trio::nursery& nursery) -> trio::task<> {
    nursery.start_soon(task, 1, 1s);
    nursery.start_soon(task, 2, 2s);
    co_return;
  });
  fmt::print("All tasks completed\n");
}

int main() { trio::run(main_task); }
