// 11_threads_and_signals: blocking work in a thread while the loop stays responsive; the worker
// reports progress back into the loop; the program stops cleanly on SIGTERM or Ctrl-C.
//
//   def checksum(data, report):
//       total = 0
//       for i, byte in enumerate(data):
//           total = (total * 31 + byte) % 1_000_000_007
//           if i % (len(data) // 4) == 0:
//               trio.from_thread.run_sync(report, i * 100 // len(data))
//       return total
//
//   async def main():
//       async with trio.open_nursery() as nursery:
//           nursery.start_soon(ticker)                       # shows the loop is never blocked
//           nursery.start_soon(stop_on_signal, nursery.cancel_scope)
//           total = await trio.to_thread.run_sync(checksum, data, report)
//           print(f"Checksum: {total}")
//           os.kill(os.getpid(), signal.SIGTERM)            # as a supervisor would
//
// With an argument (any), the program waits for a real SIGTERM or Ctrl-C instead of sending one.

#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>
#include <trio/trio.hpp>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

/// A deliberately slow, blocking computation: it must not run in the loop thread.
std::uint64_t checksum(const std::vector<unsigned char>& data, int& last_report) {
  std::uint64_t total = 0;
  const std::size_t quarter = data.size() / 4;
  for (std::size_t i = 0; i < data.size(); ++i) {
    total = (total * 31 + data[i]) % 1'000'000'007ull;
    if (i % quarter == 0) {
      const int percent = static_cast<int>(i * 100 / data.size());
      // Back into the loop: the function runs there, between task steps, and this thread waits.
      trio::from_thread::run_sync([&] {
        last_report = percent;
        fmt::print("Progress: {}%\n", percent);
      });
      std::this_thread::sleep_for(100ms);  // the slow part, simulated
    }
  }
  return total;
}

trio::task<> ticker(int& ticks) {
  for (;;) {
    co_await trio::sleep(50ms);
    ++ticks;
  }
}

trio::task<> stop_on_signal(trio::cancel_scope& everything) {
  auto signals = trio::open_signal_receiver({SIGTERM, SIGINT});
  const int sig = co_await signals.next();
  fmt::print("Received {}, shutting down\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  everything.cancel();
}

trio::task<> main_task(bool wait_for_real_signal) {
  std::vector<unsigned char> data(4'000'000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 7);
  int ticks = 0, last_report = -1;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon(ticker, std::ref(ticks));
    n.start_soon(stop_on_signal, std::ref(n.cancel_scope()));
    const std::uint64_t total = co_await trio::to_thread::run_sync(checksum, std::cref(data), std::ref(last_report));
    fmt::print("Checksum: {} (last progress report {}%)\n", total, last_report);
    fmt::print("The loop kept ticking meanwhile: {}\n", ticks >= 4 ? "yes" : "no");
    if (!wait_for_real_signal) ::kill(::getpid(), SIGTERM);  // as a supervisor would
  });
  fmt::print("Stopped cleanly\n");
}

int main(int argc, char**) { trio::run(main_task, argc > 1); }
