// 17_tls_echo: a TLS echo server and its client in one program. The certificate is made at start
// (a throwaway CA signs one for "localhost" and 127.0.0.1); the client trusts that CA only.
//
//   async def main():
//       server_ctx, client_ctx = make_contexts()
//       async with trio.open_nursery() as nursery:
//           listeners = await nursery.start(trio.serve_ssl_over_tcp, echo, 0, server_ctx)
//           port = listeners[0].transport_listener.socket.getsockname()[1]
//           stream = await trio.open_ssl_over_tcp_stream("127.0.0.1", port, ssl_context=client_ctx)
//           await stream.send_all(b"hello over TLS")
//           print(await stream.receive_some())
//           await stream.aclose()
//           nursery.cancel_scope.cancel()
//
// Build it against the trio::ssl component (OpenSSL 3). With a port argument it is a server only
// (usage at the bottom).

#include <fmt/core.h>
#include <trio/ssl.hpp>
#include <trio/testing/ssl_certs.hpp>
#include <trio/trio.hpp>

#include <string>

// One task per connection; the stream is closed (close_notify) when the handler returns.
//
// The shape to copy: catch what a connection can throw, log it, return. As in Trio, an exception
// that leaves a handler ends serve_ssl_over_tcp and the whole server with it. A TLS server meets
// garbage instead of a ClientHello (a port scanner, plain HTTP), clients that close without
// close_notify (Python's ssl does) and resets: each is a broken_resource_error here.
// trio::cancelled is not a std::exception: cancelling the server still goes through.
trio::task<> echo(trio::ssl_stream<trio::socket_stream>& stream) {
  std::string peer = "a client";
  try {
    peer = stream.transport_stream().socket().peer_address().to_string();  // (fails after a reset)
    for (;;) {
      std::string data = co_await stream.receive_some();
      if (data.empty()) co_return;  // the client's close_notify
      co_await stream.send_all(data);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: {}\n", peer, e.what());
  }
}

trio::task<> main_task() {
  const auto certs = trio::testing::make_test_certificates({"localhost", "127.0.0.1"});
  const auto server_ctx = trio::ssl_context::server_from_pem(certs.cert_pem, certs.key_pem);
  auto client_ctx = trio::ssl_context::client();
  client_ctx.load_verify_pem(certs.ca_pem);
  trio::ssl_stream_handler handler = echo;
  trio::ssl_serve_options options;
  options.host = "127.0.0.1";
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    auto addresses = co_await n.start(trio::serve_ssl_over_tcp, handler, std::uint16_t{0}, server_ctx, options);
    fmt::print("TLS echo server listening on 127.0.0.1 (a free port)\n");
    auto stream = co_await trio::open_ssl_over_tcp_stream("127.0.0.1", addresses[0].port(), client_ctx);
    co_await stream.do_handshake();
    fmt::print("Handshake done: {}, the server's certificate checked against our CA\n", stream.version());
    co_await stream.send_all(std::string_view("hello over TLS"));
    std::string reply;
    while (reply.size() < 14) reply += co_await stream.receive_some();
    fmt::print("Echoed: {}\n", reply);
    co_await stream.aclose();
    n.cancel_scope().cancel();
  });
  fmt::print("Done\n");
}

// With a port: serve until Ctrl-C. A handshake not finished within handshake_timeout (default 10 s)
// closes the connection without calling the handler: a client that connects and sends nothing
// holds an fd only that long.
trio::task<> serve(std::uint16_t port, double handshake_timeout_s) {
  const auto certs = trio::testing::make_test_certificates({"localhost", "127.0.0.1"});
  const auto server_ctx = trio::ssl_context::server_from_pem(certs.cert_pem, certs.key_pem);
  trio::ssl_stream_handler handler = echo;
  trio::ssl_serve_options options;
  options.host = "127.0.0.1";
  options.handshake_timeout =
      std::chrono::duration_cast<trio::duration>(std::chrono::duration<double>(handshake_timeout_s));
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    auto addresses = co_await n.start(trio::serve_ssl_over_tcp, handler, port, server_ctx, options);
    fmt::print("TLS echo server listening on port {}\n", addresses[0].port());
    std::fflush(stdout);
  });
}

// Usage: 17_tls_echo                        the demo: a server and one client
//        17_tls_echo port [handshake_s]     serve on 127.0.0.1:port (0: a free one) until Ctrl-C
int main(int argc, char** argv) {
  if (argc < 2) {
    trio::run(main_task);
    return 0;
  }
  try {
    trio::run(serve, trio::socket_address::parse_port(argv[1]), argc > 2 ? std::stod(argv[2]) : 10.0);
  } catch (const trio::keyboard_interrupt&) {
    fmt::print("Stopped by Ctrl-C\n");
  }
}
