// Asio's equivalent of examples/01_hello.cpp (a coroutine that prints, sleeps a second, prints),
// for the compile-cost comparison in scripts/compile_cost.
#include <fmt/core.h>
#include <asio.hpp>
#include <chrono>
asio::awaitable<void> main_task() {
  fmt::print("Hello\n");
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::seconds(1));
  co_await t.async_wait(asio::use_awaitable);
  fmt::print("World\n");
}
int main() {
  asio::io_context io;
  asio::co_spawn(io, main_task(), asio::detached);
  io.run();
}
