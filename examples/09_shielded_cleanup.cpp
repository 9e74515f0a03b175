// 09_shielded_cleanup: cleanup that must await something, even while being cancelled.
//
//   async def worker():
//       print("Worker: started")
//       try:
//           await trio.sleep(10)
//       except trio.Cancelled:
//           print("Worker: cancelled, cleaning up")
//           with trio.CancelScope(shield=True):   # a cancelled task's awaits raise at once,
//               with trio.move_on_after(2):       # unless shielded; the cleanup gets its own deadline
//                   await flush_and_say_goodbye()
//           raise                                 # always let Cancelled continue
//
//   async def main():
//       with trio.move_on_after(1) as cs:
//           await worker()
//       print(f"Main: the worker was cancelled: {cs.cancelled_caught}")
//
// C++ cannot co_await inside a catch block, so the C++ form keeps the exception (std::exception_ptr),
// leaves the handler, runs the cleanup under trio::shielded and rethrows. Cleanup that needs no
// await belongs in a destructor (RAII): it runs however the task ends.

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <exception>

using namespace std::chrono_literals;

double now() { return std::chrono::duration<double>(trio::current_time().time_since_epoch()).count(); }

/// Synchronous cleanup: a destructor runs on every exit path, cancellation included.
struct connection {
  connection() { fmt::print("Connection: opened\n"); }
  ~connection() { fmt::print("Connection: closed\n"); }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
};

trio::task<> flush_and_say_goodbye() {
  co_await trio::sleep(500ms);  // would raise trio::cancelled at once without the shield
  fmt::print("Cleanup: flushed and said goodbye\n");
}

trio::task<> worker(double start) {
  connection conn;
  fmt::print("Worker: started\n");
  std::exception_ptr cancellation;
  try {
    co_await trio::sleep(10s);
  } catch (const trio::cancelled&) {
    fmt::print("Worker: cancelled after {:.1f} s, cleaning up\n", now() - start);
    cancellation = std::current_exception();  // keep it: co_await is not allowed in a handler
  }
  if (cancellation) {
    co_await trio::shielded([]() -> trio::task<> {
      // A shield without a deadline could hang the program: give the cleanup one of its own.
      if (!co_await trio::move_on_after(2s, flush_and_say_goodbye)) fmt::print("Cleanup: gave up\n");
    });
    fmt::print("Worker: cleanup done after {:.1f} s, letting the cancellation continue\n", now() - start);
    std::rethrow_exception(cancellation);  // never swallow trio::cancelled
  }
}

trio::task<> main_task() {
  const double start = now();
  const bool finished = co_await trio::move_on_after(1s, worker, start);
  fmt::print("Main: the worker finished on its own: {}; it took {:.1f} s\n", finished, now() - start);
}

int main() { trio::run(main_task); }
