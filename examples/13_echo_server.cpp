// 13_echo_server: an echo server. One task per connection; a client that misbehaves costs only its own
// connection; Ctrl-C stops it cleanly.
//
//   async def echo(stream):
//       try:
//           async for data in stream:
//               await stream.send_all(data)
//       except (trio.BrokenResourceError, OSError) as e:   # this client's trouble, not the server's
//           print(e, file=sys.stderr)
//
//   async def main(port):
//       await trio.serve_tcp(echo, port)       # runs until cancelled (Ctrl-C)
//
// Usage: 13_echo_server [port]     (default 0: a free port; the port is printed)
// Try it: `13_echo_server 9000`, then `nc localhost 9000` in another terminal.

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <cstdio>
#include <string>

// Each connection runs this in its own task; the stream is closed when it returns.
//
// The shape to copy: catch what a connection can throw, log it, return. As in Trio, an exception
// that leaves a handler ends serve_tcp and the whole server with it, so one client that resets
// (ECONNRESET: broken_resource_error) would stop every other one. trio::cancelled is not a
// std::exception: Ctrl-C still goes through and stops everything.
trio::task<> echo(trio::socket_stream stream) {
  std::string peer = "a client";
  try {
    peer = stream.socket().peer_address().to_string();  // (fails if the client has already reset)
    fmt::print("connection from {}\n", peer);
    std::fflush(stdout);
    for (;;) {
      std::string data = co_await stream.receive_some();
      if (data.empty()) break;  // the client closed its side
      co_await stream.send_all(data);
    }
    fmt::print("{} closed\n", peer);
    std::fflush(stdout);
  } catch (const std::exception& e) {  // a reset, a broken pipe: this connection only
    fmt::print(stderr, "{}: {}\n", peer, e.what());
  }
}

trio::task<> serve(std::uint16_t port) {
  co_await trio::open_nursery([port](trio::nursery& n) -> trio::task<> {
    // start() returns once the server listens: the addresses tell which port it got.
    std::vector<trio::socket_address> addresses =
        co_await n.start(trio::serve_tcp, echo, port, "127.0.0.1", trio::serve_options{});
    fmt::print("Echo server listening on port {}\n", addresses[0].port());
    std::fflush(stdout);
  });
}

int main(int argc, char** argv) {
  const std::uint16_t port = argc > 1 ? trio::socket_address::parse_port(argv[1]) : 0;
  try {
    trio::run(serve, port);
  } catch (const trio::keyboard_interrupt&) {  // the first Ctrl-C cancelled everything; all unwound
    fmt::print("Stopped by Ctrl-C\n");
  }
}
