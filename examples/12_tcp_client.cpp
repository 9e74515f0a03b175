// 12_tcp_client: a TCP client. It connects, sends a ping, prints the reply.
//
//   async def main(host, port):
//       stream = await trio.open_tcp_stream(host, port)
//       async with stream:
//           await stream.send_all(b"Ping from Trio client")
//           reply = await stream.receive_some(1024)
//           print(f"Server Reply: {reply.decode()}")
//
// With no arguments it runs alone: it first starts an echo server in its own nursery with
// `nursery.start(trio::serve_tcp, ...)` on a free port (start() returns once it listens), talks to
// it, then cancels the nursery to stop the server. With `host port` it talks to that server.

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <string>

// The echo server's handler: one task per connection; the stream closes when the handler returns.
// (It serves this program's own client only: a server for real clients catches what a connection
// throws, or one reset ends it; see 13_echo_server.)
trio::task<> echo(trio::socket_stream stream) {
  for (;;) {
    std::string data = co_await stream.receive_some();
    if (data.empty()) co_return;  // the client closed its side
    co_await stream.send_all(data);
  }
}

trio::task<> ping(std::string host, std::uint16_t port) {
  trio::socket_stream stream = co_await trio::open_tcp_stream(host, port);
  co_await stream.send_all(std::string_view("Ping from Trio client"));
  std::string reply = co_await stream.receive_some(1024);
  fmt::print("Server Reply: {}\n", reply);
  co_await stream.aclose();
}

int main(int argc, char** argv) {
  if (argc == 3) {
    trio::run(ping, std::string(argv[1]), trio::socket_address::parse_port(argv[2]));
    return 0;
  }
  trio::run([]() -> trio::task<> {
    co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
      std::vector<trio::socket_address> addresses =
          co_await n.start(trio::serve_tcp, echo, 0, "127.0.0.1", trio::serve_options{});
      fmt::print("Echo server listening on 127.0.0.1 (a free port)\n");
      co_await ping("127.0.0.1", addresses[0].port());
      n.cancel_scope().cancel();  // stop the server
    });
    fmt::print("Done\n");
  });
}
