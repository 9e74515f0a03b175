// 10_exception_groups: when two children fail, the nursery raises both, in a trio::exception_group.
//
//   async def check_port(text):
//       if not text:
//           raise ValueError("port: empty")
//
//   async def check_user(name):
//       raise KeyError(f"user {name}: unknown")
//
//   async def main():
//       try:
//           async with trio.open_nursery() as nursery:
//               nursery.start_soon(check_port, "")
//               nursery.start_soon(check_user, "bob")
//               nursery.start_soon(trio.sleep_forever)      # cancelled when the first one fails
//       except* ValueError as group:
//           ...
//
// Both checks fail in their first step, so both errors arrive. (A sibling that is waiting at a
// checkpoint when the first error cancels the nursery gets trio::cancelled instead, which is never
// reported.) C++ has no except*: catch trio::exception_group, ask contains<E>(), or walk exceptions().
// A nursery whose only error is E throws E itself (Trio's non-strict groups; nursery_options or
// run_options strict_exception_groups = true always wraps). A group that holds a cancellation (a task
// whose nursery of several children is cancelled from outside) is a trio::base_exception_group, not a
// std::exception, like Trio's BaseExceptionGroup: `catch (const std::exception&)` lets it pass to the
// cancelled scope; catch trio::base_exception_group to see groups of either kind.

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <stdexcept>
#include <string>

trio::task<> check_port(std::string text) {
  if (text.empty()) throw std::invalid_argument("port: empty");
  co_return;
}

trio::task<> check_user(std::string name) {
  throw std::out_of_range("user " + name + ": unknown");
  co_return;
}

/// What a handler does with one member: rethrow it and catch by type.
void describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::invalid_argument& x) {
    fmt::print("  std::invalid_argument: {}\n", x.what());
  } catch (const std::out_of_range& x) {
    fmt::print("  std::out_of_range: {}\n", x.what());
  } catch (const std::exception& x) {
    fmt::print("  another exception: {}\n", x.what());
  }
}

trio::task<> main_task() {
  try {
    co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
      n.start_soon(check_port, "");
      n.start_soon(check_user, "bob");
      n.start_soon([]() -> trio::task<> { co_await trio::sleep_forever(); });  // cancelled, not reported
      co_return;
    });
  } catch (const trio::exception_group& group) {
    fmt::print("The nursery raised a group of {} exceptions\n", group.exceptions().size());
    for (const auto& e : group.exceptions()) describe(e);  // in the order they arrived
    fmt::print("contains std::invalid_argument: {}\n", group.contains<std::invalid_argument>());
    fmt::print("contains std::logic_error (a base of both): {}\n", group.contains<std::logic_error>());
    fmt::print("contains std::runtime_error: {}\n", group.contains<std::runtime_error>());
  }

  // One failure alone comes out as itself...
  try {
    co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
      n.start_soon(check_user, "bob");
      co_return;
    });
  } catch (const std::out_of_range& e) {
    fmt::print("One failure comes out unwrapped: {}\n", e.what());
  }
  // ... unless the nursery is strict.
  try {
    co_await trio::open_nursery(trio::nursery_options{.strict_exception_groups = true},
                                [](trio::nursery& n) -> trio::task<> {
                                  n.start_soon(check_user, "bob");
                                  co_return;
                                });
  } catch (const trio::exception_group& group) {
    fmt::print("A strict nursery wraps it: a group of {}\n", group.exceptions().size());
  }
}

int main() { trio::run(main_task); }
