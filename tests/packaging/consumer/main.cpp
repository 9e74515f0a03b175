// A program that uses trio-cpp the way a downstream project does.
#include <cstdio>

#include <trio/trio.hpp>

using namespace std::chrono_literals;

trio::task<int> main_task() {
  int done = 0;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await trio::sleep(1ms);
      ++done;
    });
    co_return;
  });
  co_return done;
}

int main() {
  const int done = trio::run(main_task);
  std::puts(done == 1 ? "consumer ok" : "consumer FAILED");
  return done == 1 ? 0 : 1;
}
