// The Asio side of docs/explanation/coming-from-asio.md: the same TCP echo server with an idle
// timeout, written with Asio's C++20 coroutines. Run alone, it serves one client of its own.

#include <fmt/core.h>

#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <chrono>
#include <string>
#include <variant>

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using asio::ip::tcp;

constexpr auto idle_timeout = 200ms;

// [handler]
asio::awaitable<void> echo(tcp::socket socket) {
  try {
    char data[4096];
    asio::steady_timer timer(socket.get_executor());
    for (;;) {
      // Race the read against a timer: whichever finishes first cancels the other.
      timer.expires_after(idle_timeout);
      std::variant<std::size_t, std::monostate> result = co_await (
          socket.async_read_some(asio::buffer(data), asio::use_awaitable) || timer.async_wait(asio::use_awaitable));
      if (result.index() == 1) break;  // the timer won: idle for too long
      co_await asio::async_write(socket, asio::buffer(data, std::get<0>(result)), asio::use_awaitable);
    }
  } catch (const std::system_error& e) {  // asio::error::eof is how the client's close arrives
    if (e.code() != asio::error::eof) fmt::print(stderr, "echo: {}\n", e.what());
  }
}  // the socket closes here
// [handler-end]

// [listener]
asio::awaitable<void> listen(tcp::acceptor& acceptor) {
  for (;;) {
    tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
    // Detached: nothing waits for this coroutine, and an exception that leaves it is dropped.
    asio::co_spawn(acceptor.get_executor(), echo(std::move(socket)), asio::detached);
  }
}
// [listener-end]

// [client]
asio::awaitable<void> client(tcp::acceptor& acceptor) {
  tcp::socket s(acceptor.get_executor());
  co_await s.async_connect(acceptor.local_endpoint(), asio::use_awaitable);
  co_await asio::async_write(s, asio::buffer(std::string_view("hello")), asio::use_awaitable);
  char data[4096];
  std::size_t n = co_await s.async_read_some(asio::buffer(data), asio::use_awaitable);
  fmt::print("echoed: {}\n", std::string_view(data, n));
  const auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  co_await s.async_read_some(asio::buffer(data), asio::redirect_error(asio::use_awaitable, ec));
  const auto waited = std::chrono::steady_clock::now() - start;
  fmt::print("closed by the server after idling: {}\n", ec == asio::error::eof && waited >= idle_timeout / 2);
  acceptor.close();  // stop the server: its pending accept fails with operation_aborted
}
// [client-end]

// [main]
int main() {
  asio::io_context ctx;
  tcp::acceptor acceptor(ctx, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  asio::co_spawn(ctx, listen(acceptor), asio::detached);
  asio::co_spawn(ctx, client(acceptor), asio::detached);
  ctx.run();  // returns when no work is left
}
// [main-end]
