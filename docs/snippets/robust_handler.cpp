// A server handler that survives bad clients: one that sends a line too long, one that leaves in the
// middle of a line, one that connects and says nothing. After each, a well-behaved client is served.

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <string>

using namespace std::chrono_literals;

// [handler]
// One connection. Whatever the client does ends this connection only:
// - every error its stream can throw is caught and logged (trio::cancelled is not a std::exception,
//   so stopping the server still works);
// - a line longer than 1 KiB is std::length_error from line_reader, caught the same way;
// - a client silent for 500 ms is dropped (an idle timeout, renewed at each line).
trio::task<> handle(trio::socket_stream stream) {
  std::string peer = "a client";
  try {
    peer = stream.socket().peer_address().to_string();  // throws if the client has already reset
    trio::line_reader lines(stream, 1024);
    for (;;) {
      auto line = co_await trio::move_on_after(
          500ms, [&]() -> trio::task<std::optional<std::string>> { co_return co_await lines.read_line(); });
      if (!line) {  // the timeout: nothing for 500 ms
        co_await stream.send_all(std::string_view("idle for too long, goodbye\n"));
        break;
      }
      if (!*line) break;  // the client closed its side
      co_await stream.send_all("echo: " + **line + "\n");
    }
  } catch (const std::exception& e) {
    fmt::print("{}: dropped: {}\n", peer.substr(0, peer.find(':')), e.what());
  }
}
// [handler-end]

trio::task<std::string> talk(std::uint16_t port, std::string send, bool wait_reply) {
  trio::socket_stream s = co_await trio::open_tcp_stream("127.0.0.1", port);
  co_await s.send_all(send);
  std::string reply;
  try {
    if (wait_reply)
      for (std::string data; !(data = co_await s.receive_some()).empty();) reply += data;
  } catch (const trio::broken_resource_error&) {  // the server may reset a connection it drops
  }
  co_await s.aclose();
  co_return reply;
}

trio::task<> demo() {
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    auto addresses = co_await n.start(trio::serve_tcp, handle, 0, "127.0.0.1", trio::serve_options{});
    const std::uint16_t port = addresses[0].port();

    co_await talk(port, std::string(4096, 'x'), true);                        // a line too long
    co_await talk(port, "half a li", false);                                  // leaves in the middle of a line
    fmt::print("silent client got: {}", co_await talk(port, "", true));       // says nothing
    fmt::print("good client got: {}", co_await talk(port, "hello\n", true));  // then idles: dropped too
    n.cancel_scope().cancel();                                                // stop the server
  });
  fmt::print("server stopped\n");
}

int main() { trio::run(demo); }
