// A TLS echo server that shuts down gracefully: on SIGTERM (or, run alone, once its own client has
// been served) it stops accepting, gives the open connections a grace period, then cancels them; each
// says goodbye under a shield and closes its TLS session properly.

#include <fmt/core.h>
#include <trio/ssl.hpp>
#include <trio/testing/ssl_certs.hpp>
#include <trio/trio.hpp>

#include <unistd.h>

#include <csignal>
#include <exception>
#include <string>

using namespace std::chrono_literals;

// [handler]
trio::task<> echo(trio::ssl_stream<trio::socket_stream>& stream) {
  std::exception_ptr cancellation;
  try {
    for (std::string data; !(data = co_await stream.receive_some()).empty();) co_await stream.send_all(data);
  } catch (const trio::cancelled&) {
    cancellation = std::current_exception();  // the server is stopping: say goodbye below
  } catch (const std::exception& e) {         // a reset, garbage, no close_notify: this client only
    fmt::print(stderr, "echo: {}\n", e.what());
  }
  if (cancellation) {
    co_await trio::shielded([&]() -> trio::task<> {             // awaits despite the cancellation...
      co_await trio::move_on_after(1s, [&]() -> trio::task<> {  // ...but never for long
        try {
          co_await stream.send_all(std::string_view("server shutting down\n"));
        } catch (const std::exception&) {
        }
      });
    });
    std::rethrow_exception(cancellation);
  }
}  // serve_ssl_over_tcp closes the TLS session (close_notify) when the handler returns
// [handler-end]

// [server]
// Serves until `stop` is set; then stops accepting and gives the connections `grace` to finish.
trio::task<> serve(const trio::ssl_context& ctx, std::uint16_t port, trio::event& stop, trio::duration grace,
                   trio::task_status<std::uint16_t> task_status = {}) {
  trio::ssl_stream_handler handler = echo;
  co_await trio::open_nursery([&](trio::nursery& connections) -> trio::task<> {
    trio::ssl_serve_options options;
    options.host = "127.0.0.1";
    options.serve.handler_nursery = &connections;  // connections outlive the accept loop
    co_await trio::open_nursery([&](trio::nursery& accepting) -> trio::task<> {
      auto addresses = co_await accepting.start(trio::serve_ssl_over_tcp, handler, port, ctx, options);
      task_status.started(addresses[0].port());
      co_await stop.wait();
      accepting.cancel_scope().cancel();  // stop accepting
    });
    connections.cancel_scope().set_deadline(trio::current_time() + grace);  // then the grace period
  });
}
// [server-end]

// [stop-on-signal]
trio::task<> stop_on_signal(trio::event& stop) {
  auto signals = trio::open_signal_receiver({SIGTERM});
  co_await signals.next();
  stop.set();
}
// [stop-on-signal-end]

// [demo]
trio::task<> demo() {
  const auto certs = trio::testing::make_test_certificates({"localhost", "127.0.0.1"});
  const auto server_ctx = trio::ssl_context::server_from_pem(certs.cert_pem, certs.key_pem);
  auto client_ctx = trio::ssl_context::client();
  client_ctx.load_verify_pem(certs.ca_pem);
  trio::event stop;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    const std::uint16_t port = co_await n.start(serve, std::cref(server_ctx), 0, std::ref(stop), 500ms);
    auto client = co_await trio::open_ssl_over_tcp_stream("127.0.0.1", port, client_ctx);
    co_await client.send_all(std::string_view("hello\n"));
    fmt::print("client got: {}", co_await client.receive_some());
    stop.set();  // what stop_on_signal does on SIGTERM; this client stays connected
    std::string rest;
    try {
      for (std::string data; !(data = co_await client.receive_some()).empty();) rest += data;
    } catch (const trio::broken_resource_error&) {  // the server may close the TCP connection first
    }
    fmt::print("client got: {}", rest);
    co_await client.aclose();
  });
  fmt::print("server stopped\n");
}
// [demo-end]

int main(int argc, char**) {
  if (argc < 2) {
    trio::run(demo);
    return 0;
  }
  // [main]
  // With an argument: serve on a free port until SIGTERM.
  trio::run([]() -> trio::task<> {
    const auto certs = trio::testing::make_test_certificates({"localhost", "127.0.0.1"});
    const auto ctx = trio::ssl_context::server_from_pem(certs.cert_pem, certs.key_pem);
    trio::event stop;
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon(stop_on_signal, std::ref(stop));
      const std::uint16_t port = co_await n.start(serve, std::cref(ctx), 0, std::ref(stop), 10s);
      fmt::print("TLS echo server on port {}; kill -TERM {} stops it\n", port, ::getpid());
    });  // after SIGTERM: serve() stops accepting and ends within the grace period
  });
  // [main-end]
}
