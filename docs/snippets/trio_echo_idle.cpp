// The trio-cpp side of docs/explanation/coming-from-asio.md: a TCP echo server that drops a client
// idle for longer than a timeout. Run alone, it serves one client of its own, which idles, and stops.

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <chrono>
#include <string>

using namespace std::chrono_literals;

constexpr auto idle_timeout = 200ms;

// [handler]
trio::task<> echo(trio::socket_stream stream) {
  try {
    for (bool more = true; more;) {
      // One exchange under the idle timeout: it is cancelled, wherever it waits, if it takes longer.
      std::optional<bool> done = co_await trio::move_on_after(idle_timeout, [&]() -> trio::task<bool> {
        std::string data = co_await stream.receive_some();
        if (data.empty()) co_return false;  // the client closed its side
        co_await stream.send_all(data);
        co_return true;
      });
      more = done.value_or(false);  // nullopt: the timeout
    }
  } catch (const std::exception& e) {  // a reset, a broken pipe: this client only
    fmt::print(stderr, "echo: {}\n", e.what());
  }
}  // the stream closes here, whichever way the handler ends
// [handler-end]

// [client]
trio::task<> client(std::uint16_t port) {
  trio::socket_stream s = co_await trio::open_tcp_stream("127.0.0.1", port);
  co_await s.send_all(std::string_view("hello"));
  fmt::print("echoed: {}\n", co_await s.receive_some());
  const auto start = trio::current_time();
  const bool closed = (co_await s.receive_some()).empty();  // idle: the server hangs up
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(trio::current_time() - start);
  fmt::print("closed by the server after idling: {}\n", closed && waited >= idle_timeout / 2);
  co_await s.aclose();
}
// [client-end]

// [main]
trio::task<> main_task() {
  co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
    auto addresses = co_await n.start(trio::serve_tcp, echo, 0, "127.0.0.1", trio::serve_options{});
    co_await client(addresses[0].port());
    n.cancel_scope().cancel();  // stop the server: the accept loop and every connection
  });
}

int main() { trio::run(main_task); }
// [main-end]
