// Rate limiting: at most N at once (capacity_limiter), and at most R per second (a semaphore whose
// tokens come back after a period).

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <algorithm>
#include <chrono>

using namespace std::chrono_literals;

// [concurrency]
// At most `limiter.total_tokens()` of these run their body at once; the others wait in FIFO order.
trio::task<> query_database(trio::capacity_limiter& limiter, int& running, int& peak) {
  auto token = co_await limiter.scoped_acquire();  // given back when `token` is destroyed
  peak = std::max(peak, ++running);
  co_await trio::sleep(50ms);  // the query
  --running;
}
// [concurrency-end]

// [per-second]
// At most `per_period` starts per `period`: each start takes a token, and a background task gives it
// back one period later. (A semaphore has no owner, so the task that gives it back need not be the
// one that took it; a capacity_limiter would refuse that.)
class rate_limiter {
 public:
  rate_limiter(std::size_t per_period, trio::duration period) : tokens_(per_period), period_(period) {}

  // `returns` runs the tasks that give the tokens back: it must not outlive this object.
  trio::task<> wait_turn(trio::nursery& returns) {
    co_await tokens_.acquire();
    returns.start_soon(
        [](trio::semaphore& tokens, trio::duration period) -> trio::task<> {
          co_await trio::sleep(period);
          tokens.release();
        },
        std::ref(tokens_), period_);
  }

 private:
  trio::semaphore tokens_;
  trio::duration period_;
};
// [per-second-end]

trio::task<> main_task() {
  // [concurrency-use]
  trio::capacity_limiter limiter(3);
  int running = 0, peak = 0;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i = 0; i < 10; ++i) n.start_soon(query_database, std::ref(limiter), std::ref(running), std::ref(peak));
    co_return;
  });
  fmt::print("10 queries, at most {} at once\n", peak);
  // [concurrency-use-end]

  // [per-second-use]
  rate_limiter rate(5, 200ms);  // 5 per 200 ms: 25 per second
  const auto start = trio::current_time();
  double last_start = 0;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i = 0; i < 12; ++i) {
      co_await rate.wait_turn(n);  // 12 starts: at 0, 200 and 400 ms
      last_start = std::chrono::duration<double>(trio::current_time() - start).count();
    }
  });
  fmt::print("12 starts at 5 per 200 ms: the last one after {:.0f} periods\n", last_start / 0.2);
  // [per-second-use-end]
}

int main() { trio::run(main_task); }
