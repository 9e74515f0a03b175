// A line server that shuts down gracefully: it stops accepting, gives the open connections a grace
// period to finish what they are doing, then cancels them, and each says goodbye under a shield.
//
// Run alone, it starts the server, connects a busy client and an idle one, asks for the shutdown and
// prints what each client saw.

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <exception>
#include <string>
#include <vector>

using namespace std::chrono_literals;

// [handler]
// One connection: answer each line after some work; when cancelled, say goodbye before leaving.
trio::task<> handle(trio::socket_stream stream) {
  std::exception_ptr cancellation;
  try {
    trio::line_reader lines(stream);
    while (auto line = co_await lines.read_line()) {
      co_await trio::sleep(300ms);  // the work a request takes
      co_await stream.send_all("done: " + *line + "\n");
    }
  } catch (const trio::cancelled&) {
    cancellation = std::current_exception();  // no co_await inside a handler: keep it for later
  } catch (const std::exception& e) {
    fmt::print(stderr, "connection: {}\n", e.what());  // this client's trouble only
  }
  if (cancellation) {
    // The goodbye must await while the task is cancelled: shield it, and bound it.
    co_await trio::shielded([&]() -> trio::task<> {
      co_await trio::move_on_after(1s, [&]() -> trio::task<> {
        try {
          co_await stream.send_all(std::string_view("server shutting down, goodbye\n"));
        } catch (const std::exception&) {  // the client may already be gone
        }
      });
    });
    std::rethrow_exception(cancellation);  // let the cancellation finish its way up
  }
}
// [handler-end]

// [serve]
// Serves until `stop` is set, then shuts down within `grace` (plus the goodbyes' own bound).
trio::task<> serve_until(trio::event& stop, trio::duration grace, std::uint16_t& port, trio::event& ready) {
  co_await trio::open_nursery([&](trio::nursery& connections) -> trio::task<> {
    trio::serve_options options;
    options.handler_nursery = &connections;  // the connections outlive the accept loop
    co_await trio::open_nursery([&](trio::nursery& accepting) -> trio::task<> {
      auto addresses = co_await accepting.start(trio::serve_tcp, handle, 0, "127.0.0.1", options);
      port = addresses[0].port();
      ready.set();
      co_await stop.wait();
      accepting.cancel_scope().cancel();  // 1. stop accepting: the listening socket closes
    });
    // 2. The connections have `grace` to finish; then they are cancelled and say goodbye.
    connections.cancel_scope().set_deadline(trio::current_time() + grace);
  });
}
// [serve-end]

// [demo]
// A client that sends `requests` lines, then reads until the server closes the connection.
trio::task<> client(std::uint16_t port, std::vector<std::string> requests, std::vector<std::string>& seen) {
  trio::socket_stream s = co_await trio::open_tcp_stream("127.0.0.1", port);
  for (const std::string& r : requests) co_await s.send_all(r + "\n");
  trio::line_reader lines(s);
  while (auto line = co_await lines.read_line()) seen.push_back(*line);
  co_await s.aclose();
}

trio::task<> demo() {
  trio::event stop, ready;
  std::uint16_t port = 0;
  std::vector<std::string> busy, idle;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon(serve_until, std::ref(stop), 1s, std::ref(port), std::ref(ready));
    co_await ready.wait();
    n.start_soon(client, port, std::vector<std::string>{"a", "b"}, std::ref(busy));
    n.start_soon(client, port, std::vector<std::string>{}, std::ref(idle));
    co_await trio::sleep(100ms);
    fmt::print("shutdown asked\n");
    stop.set();
  });
  for (const auto& line : busy) fmt::print("busy client saw: {}\n", line);
  for (const auto& line : idle) fmt::print("idle client saw: {}\n", line);
}

// [demo-end]

int main() { trio::run(demo); }
