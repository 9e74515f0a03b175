// 01_hello: the smallest trio program. Prints Hello, sleeps one second, prints World.
//
//   async def main():
//       print("Hello")
//       await trio.sleep(1)
//       print("World")
//   trio.run(main)

#include <fmt/core.h>
#include <trio/trio.hpp>

using namespace std::chrono_literals;

trio::task<> main_task() {
  fmt::print("Hello\n");
  co_await trio::sleep(1s);
  fmt::print("World\n");
}

int main() { trio::run(main_task); }
