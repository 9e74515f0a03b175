// 18_tls_client: the TCP client of 12_tcp_client over TLS. It connects with
// open_ssl_over_tcp_stream, which checks the server's certificate against the host name, sends a
// ping and prints the reply.
//
//   async def main(host, port):
//       stream = await trio.open_ssl_over_tcp_stream(host, port)
//       async with stream:
//           await stream.send_all(b"Ping from Trio client")
//           reply = await stream.receive_some(1024)
//           print(f"Server Reply: {reply.decode()}")
//
// With `host port` it talks to that server, trusting the system's CAs (e.g. an `openssl s_server`
// with a real certificate). With no arguments it runs alone: it makes a throwaway CA and certificate,
// starts a TLS echo server with `n.start(trio::serve_ssl_over_tcp, ...)`, and trusts that CA only.

#include <fmt/core.h>
#include <trio/ssl.hpp>
#include <trio/testing/ssl_certs.hpp>
#include <trio/trio.hpp>

#include <string>

// Serves this program's own client only: a server for real clients catches what a connection throws
// (garbage, an end without close_notify, a reset), or one such client ends it; see 17_tls_echo.
trio::task<> echo(trio::ssl_stream<trio::socket_stream>& stream) {
  for (;;) {
    std::string data = co_await stream.receive_some();
    if (data.empty()) co_return;
    co_await stream.send_all(data);
  }
}

trio::task<> ping(std::string host, std::uint16_t port, trio::ssl_context ctx) {
  auto stream = co_await trio::open_ssl_over_tcp_stream(host, port, ctx);
  co_await stream.send_all(std::string_view("Ping from Trio client"));
  std::string reply = co_await stream.receive_some(1024);
  fmt::print("Server Reply: {}\n", reply);
  co_await stream.aclose();
}

int main(int argc, char** argv) {
  if (argc == 3) {
    trio::run(ping, std::string(argv[1]), trio::socket_address::parse_port(argv[2]), trio::ssl_context::client());
    return 0;
  }
  trio::run([]() -> trio::task<> {
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
      co_await ping("127.0.0.1", addresses[0].port(), client_ctx);
      n.cancel_scope().cancel();  // stop the server
    });
    fmt::print("Done\n");
  });
}
