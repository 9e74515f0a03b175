// examples/01_hello.cpp with only the headers it uses (<trio/run.hpp>, <trio/sleep.hpp>) instead of
// the umbrella <trio/trio.hpp>: the core's compile cost, for scripts/compile_cost.
#include <fmt/core.h>
#include <trio/run.hpp>
#include <trio/sleep.hpp>
using namespace std::chrono_literals;
trio::task<> main_task() {
  fmt::print("Hello\n");
  co_await trio::sleep(1s);
  fmt::print("World\n");
}
int main() { trio::run(main_task); }
