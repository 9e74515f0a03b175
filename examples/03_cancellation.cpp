// 03_cancellation: cancel a looping task through the nursery's cancel scope.
//
//   async def long_running():
//       try:
//           while True:
//               print("Still running...")
//               await trio.sleep(1)
//       except trio.Cancelled:
//           print("Task was cancelled!")
//           raise
//
//   async def main():
//       async with trio.open_nursery() as nursery:
//           nursery.start_soon(long_running)
//           await trio.sleep(3)
//           nursery.cancel_scope.cancel()
//
// Note the `throw;`: trio::cancelled must keep going up to the scope that was cancelled. It is not
// a std::exception, so `catch (const std::exception&)` never swallows it by accident.

#include <fmt/core.h>
#include <trio/trio.hpp>

using namespace std::chrono_literals;

trio::task<> long_running() {
  try {
    for (;;) {
      fmt::print("Still running...\n");
      co_await trio::sleep(1s);
    }
  } catch (const trio::cancelled&) {
    fmt::print("Task was cancelled!\n");
    throw;
  }
}

trio::task<> main_task() {
  co_await trio::open_nursery([](trio::nursery& nursery) -> trio::task<> {
    nursery.start_soon(long_running);
    co_await trio::sleep(3s);
    nursery.cancel_scope().cancel();
  });
  fmt::print("The nursery absorbed the cancellation; main continues\n");
}

int main() { trio::run(main_task); }
