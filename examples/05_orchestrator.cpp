// 05_orchestrator: the nursery body is a task too. It runs its primary operation alongside a
// background child, then waits for the child.
//
//   async def background_operation():
//       for i in range(3):
//           print(f"Background operation: step {i}")
//           await trio.sleep(1)
//       print("Background operation finalized")
//
//   async def main():
//       async with trio.open_nursery() as nursery:
//           nursery.start_soon(background_operation)
//           print("Primary operation started")
//           await trio.sleep(0.5)
//           print("Primary operation finished")
//       print("All done")

#include <fmt/core.h>
#include <trio/trio.hpp>

using namespace std::chrono_literals;

trio::task<> background_operation() {
  for (int i = 0; i < 3; ++i) {
    fmt::print("Background operation: step {}\n", i);
    co_await trio::sleep(1s);
  }
  fmt::print("Background operation finalized\n");
}

trio::task<> main_task() {
  co_await trio::open_nursery([](trio::nursery& nursery) -> trio::task<> {
    nursery.start_soon(background_operation);  // starts at the body's next checkpoint, not now
    fmt::print("Primary operation started\n");
    co_await trio::sleep(500ms);
    fmt::print("Primary operation finished\n");
  });  // the nursery waits here for background_operation
  fmt::print("All done\n");
}

int main() { trio::run(main_task); }
