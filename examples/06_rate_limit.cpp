// 06_rate_limit: at most 3 of 8 tasks use a resource at once, with a semaphore.
//
//   async def worker(n, sem):
//       async with sem:
//           print(f"Task {n} acquired lock")
//           await trio.sleep(1)
//           print(f"Task {n} released lock")
//
//   async def main():
//       sem = trio.Semaphore(3)
//       async with trio.open_nursery() as nursery:
//           for n in range(8):
//               nursery.start_soon(worker, n, sem)
//
// Eight one-second jobs, three at a time: three rounds, about 3 s. Which three go first is up to the
// scheduler (Trio promises no order among tasks that are ready together).

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <chrono>

using namespace std::chrono_literals;

trio::task<> worker(int n, trio::semaphore& sem, int& running, int& peak) {
  auto held = co_await sem.scoped_acquire();  // released when `held` goes out of scope
  peak = std::max(peak, ++running);
  fmt::print("Task {} acquired lock\n", n);
  co_await trio::sleep(1s);
  --running;
  fmt::print("Task {} released lock\n", n);
}

trio::task<> main_task() {
  trio::semaphore sem(3);
  int running = 0, peak = 0;
  const auto start = trio::current_time();
  co_await trio::open_nursery([&](trio::nursery& nursery) -> trio::task<> {
    for (int n = 0; n < 8; ++n) nursery.start_soon(worker, n, std::ref(sem), std::ref(running), std::ref(peak));
    co_return;
  });
  const auto elapsed = std::chrono::duration<double>(trio::current_time() - start).count();
  fmt::print("All 8 tasks done in {:.0f} s, never more than {} at once\n", elapsed, peak);
}

int main() { trio::run(main_task); }
