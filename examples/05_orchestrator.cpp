// 05_orchestrator: the nursery body is a task too. It runs alongside a background child, then waits.
//
//   async def background_task():
//       for i in range(3):
//           print(f"Background task: step {i}")
//           await trio.sleep(1)
//
//   async def main():
//       async with trio.open_nursery() as nursery:
//           nursery.start_soon(background_task)
//           print("Main task: doing its own work")
//           await trio.sleep(0.5)
//           print("Main task: done, waiting for the background task")
//       print("All done")

#include <fmt/core.h>
#include <trio/trio.hpp>

using namespace std::chrono_literals;

trio::task<> background_task() {
  for (int i = 0; i < 3; ++i) {
    fmt::print("Background task: step {}\n", i);
    co_await trio::sleep(1s);
  }
}

trio::task<> main_task() {
  co_await trio::open_nursery([](trio::nursery& nursery) -> trio::task<> {
    nursery.start_soon(background_task);  // starts at the body's next checkpoint, not now
    fmt::print("Main task: doing its own work\n");
    co_await trio::sleep(500ms);
    fmt::print("Main task: done, waiting for the background task\n");
  });
  fmt::print("All done\n");
}

int main() { trio::run(main_task); }
