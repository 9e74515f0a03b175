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
// Usage: 13_echo_server port     serves on 127.0.0.1:port until Ctrl-C (0: a free port; the port is printed)
//        13_echo_server          a demo: the server on a free port, three clients of its own at once, stop
// Try it: `13_echo_server 9000`, then `nc localhost 9000` in another terminal.

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

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

// The demo's clients: each sends three lines and checks that every one comes back.
trio::task<> demo_client(std::uint16_t port, int id, std::string* report) {
  trio::socket_stream stream = co_await trio::open_tcp_stream("127.0.0.1", port);
  int echoed = 0;
  for (int k = 0; k < 3; ++k) {
    const std::string message = fmt::format("client {} says {}\n", id, k);
    co_await stream.send_all(message);
    std::string back;
    while (back.size() < message.size()) {  // TCP is a byte stream: an echo may come back in pieces
      std::string data = co_await stream.receive_some();
      if (data.empty()) throw std::runtime_error("the server closed the connection early");
      back += data;
    }
    echoed += back == message ? 1 : 0;
  }
  co_await stream.aclose();
  *report = fmt::format("client {}: {} of 3 lines echoed", id, echoed);
}

// The demo counts the connections the server has finished, to stop it once all three are done.
trio::task<> counted_echo(trio::socket_stream stream, int* finished, trio::event* all_finished) {
  co_await echo(std::move(stream));
  if (++*finished == 3) all_finished->set();
}

trio::task<> demo() {
  int finished = 0;
  trio::event all_finished;
  auto handler = [&](trio::socket_stream s) { return counted_echo(std::move(s), &finished, &all_finished); };
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    std::vector<trio::socket_address> addresses =
        co_await n.start(trio::serve_tcp, handler, 0, "127.0.0.1", trio::serve_options{});
    const std::uint16_t port = addresses[0].port();
    fmt::print("Echo server listening on port {}\n", port);
    std::vector<std::string> reports(3);
    co_await trio::open_nursery([&](trio::nursery& clients) -> trio::task<> {
      for (int id = 0; id < 3; ++id) clients.start_soon(demo_client, port, id, &reports[id]);
      co_return;
    });
    co_await all_finished.wait();  // the server has seen every client close
    for (const std::string& r : reports) fmt::print("{}\n", r);
    n.cancel_scope().cancel();  // stop the server: what Ctrl-C does
  });
  fmt::print("Echo server stopped after {} clients\n", finished);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    trio::run(demo);
    return 0;
  }
  try {
    trio::run(serve, trio::socket_address::parse_port(argv[1]));
  } catch (const trio::keyboard_interrupt&) {  // the first Ctrl-C cancelled everything; all unwound
    fmt::print("Stopped by Ctrl-C\n");
  }
}
