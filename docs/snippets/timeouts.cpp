// Per-request and overall timeouts: every request gets its own bound, and the whole batch another.
// A slow request is abandoned (or retried); the batch as a whole gives up at its deadline.

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;

// Stands for any network call: it answers after `delay`.
trio::task<std::string> fetch(std::string what, trio::duration delay) {
  co_await trio::sleep(delay);
  co_return "contents of " + what;
}

// [per-request]
// One request, bounded: nullopt when it took longer than 200 ms (it was cancelled there).
trio::task<std::optional<std::string>> fetch_bounded(std::string what, trio::duration delay) {
  co_return co_await trio::move_on_after(200ms, fetch, what, delay);
}
// [per-request-end]

// [retry]
// A request retried up to three times, each attempt with its own 200 ms bound.
trio::task<std::string> fetch_with_retries(std::string what, std::vector<trio::duration> attempts) {
  for (trio::duration delay : attempts) {
    if (auto body = co_await trio::move_on_after(200ms, fetch, what, delay)) co_return *body;
    fmt::print("  {}: an attempt timed out, retrying\n", what);
  }
  throw trio::too_slow_error(what + ": every attempt timed out");
}
// [retry-end]

// [overall]
// The batch: all requests at once, the whole under one deadline (fail_after raises too_slow_error).
trio::task<> batch() {
  std::vector<std::string> results(3);
  co_await trio::fail_after(1s, [&]() -> trio::task<> {
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> { results[0] = (co_await fetch_bounded("a", 50ms)).value_or("timed out"); });
      n.start_soon([&]() -> trio::task<> { results[1] = (co_await fetch_bounded("b", 500ms)).value_or("timed out"); });
      n.start_soon([&]() -> trio::task<> {
        const std::vector<trio::duration> attempts{300ms, 100ms};  // the first attempt is too slow
        results[2] = co_await fetch_with_retries("c", attempts);
      });
      co_return;
    });
  });
  for (const auto& r : results) fmt::print("  {}\n", r);
}
// [overall-end]

// [deadline]
// A deadline that reaches into the callee: code deep inside can ask how much time it has left.
trio::task<> careful_step() {
  const trio::duration left = trio::current_effective_deadline() - trio::current_time();
  if (left < 100ms) {
    fmt::print("  less than 100 ms left: skipping the optional step\n");
    co_return;
  }
  co_await trio::sleep(50ms);
}
// [deadline-end]

trio::task<> main_task() {
  fmt::print("a batch of three requests under one second:\n");
  co_await batch();

  fmt::print("a batch that cannot finish in time:\n");
  try {
    co_await trio::fail_after(100ms, fetch, "d", 1s);
  } catch (const trio::too_slow_error&) {
    fmt::print("  too_slow_error: the whole batch gave up\n");
  }

  fmt::print("a step that looks at its deadline:\n");
  co_await trio::move_on_after(50ms, careful_step);
}

int main() { trio::run(main_task); }
