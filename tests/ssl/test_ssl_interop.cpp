#include "support/ssl_helpers.hpp"

// TLS against real peers: openssl s_server, s_client and curl, started by the test on loopback with
// bounded waits and stopped by their pid; and the TCP helpers (ssl_listener, serve_ssl_over_tcp).

using namespace ssl_helpers;
namespace tt = trio::testing;

// ---- interop with real peers: openssl s_server, s_client, curl (loopback, bounded, stopped by pid) ----

TEST_CASE("TLS interop: our client against openssl s_server (TLS 1.3 and 1.2)", "[ssl][interop]") {
  cert_files files;
  test::run_real([&]() -> trio::task<> {
    for (int v : versions) {
      const std::uint16_t port = free_port();
      const std::vector<std::string> argv{"openssl",
                                          "s_server",
                                          "-quiet",
                                          "-rev",
                                          "-accept",
                                          std::to_string(port),
                                          "-cert",
                                          files.cert,
                                          "-key",
                                          files.key,
                                          v == TLS1_3_VERSION ? "-tls1_3" : "-tls1_2"};
      trio::process_options o;
      o.stdin_mode = trio::redirect::devnull;
      o.stdout_mode = trio::redirect::devnull;
      o.stderr_mode = trio::redirect::devnull;
      trio::process server = co_await trio::open_process(argv, o);
      std::optional<trio::socket_stream> tcp;
      for (int attempt = 0; attempt < 100 && !tcp; ++attempt) {  // bounded: 5 s
        try {
          tcp.emplace(co_await trio::open_tcp_stream("127.0.0.1", port));
        } catch (const std::system_error&) {  // not listening yet
        }
        if (!tcp) co_await trio::sleep(50ms);
      }
      REQUIRE(tcp);
      trio::ssl_stream<trio::socket_stream> tls(std::move(*tcp), client_ctx(v), "127.0.0.1");
      co_await tls.send_all(std::string_view("hello openssl\n"));
      std::string reply;
      co_await trio::fail_after(5s, [&]() -> trio::task<> {
        while (reply.find('\n') == std::string::npos) {
          std::string chunk = co_await tls.receive_some();
          if (chunk.empty()) break;
          reply += chunk;
        }
      });
      CHECK(reply == "lssnepo olleh\n");  // -rev sends each line back reversed
      CHECK(tls.version() == version_name(v));
      co_await tls.aclose();
      server.kill();
      co_await server.wait();
    }
  });
}

TEST_CASE("TLS interop: our server against openssl s_client and curl / a wrong CA fails there too", "[ssl][interop]") {
  cert_files files;
  test::run_real([&]() -> trio::task<> {
    auto listeners = co_await trio::open_tcp_listeners(0, "127.0.0.1");
    const std::uint16_t port = listeners[0].socket().local_address().port();
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      // The server: s_client sends a line and gets "pong: <line>"; curl sends an HTTP request.
      n.start_soon([&]() -> trio::task<> {
        for (;;) {
          trio::socket_stream tcp = co_await listeners[0].accept();
          trio::ssl_stream<trio::socket_stream> tls(std::move(tcp), server_ctx(), server_opts());
          try {
            std::string request;
            while (request.find('\n') == std::string::npos) {
              std::string chunk = co_await tls.receive_some();
              if (chunk.empty()) break;
              request += chunk;
            }
            if (request.starts_with("GET ")) {
              co_await tls.send_all(
                  std::string_view("HTTP/1.1 200 OK\r\nContent-Length: 14\r\nConnection: close\r\n\r\nhello over tls"));
            } else {
              co_await tls.send_all("pong: " + request);
            }
          } catch (const trio::broken_resource_error&) {  // the wrong-CA client gives up mid-handshake
          }
          co_await tls.aclose();
        }
      });
      {
        const std::vector<std::string> argv{"openssl",          "s_client", "-quiet",
                                            "-no_ign_eof",      "-connect", "127.0.0.1:" + std::to_string(port),
                                            "-CAfile",          files.ca,   "-verify_return_error",
                                            "-verify_hostname", host};
        trio::process_options o;
        o.stdin_mode = trio::redirect::pipe;
        o.stdout_mode = trio::redirect::pipe;
        o.stderr_mode = trio::redirect::devnull;
        trio::process client = co_await trio::open_process(argv, o);
        co_await client.stdin().send_all(std::string_view("ping\n"));
        std::string out;
        co_await trio::fail_after(10s, [&]() -> trio::task<> {
          for (;;) {
            std::string chunk = co_await client.stdout().receive_some();
            if (chunk.empty()) break;
            out += chunk;
          }
        });
        CHECK(out == "pong: ping\n");
        co_await client.stdin().aclose();
        CHECK(co_await client.wait() == 0);
      }
      {
        const std::vector<std::string> argv{
            "curl", "-sS", "--max-time", "10", "--cacert", files.ca, "https://127.0.0.1:" + std::to_string(port) + "/"};
        trio::process_options o;
        o.capture_stdout = true;
        auto done = co_await trio::run_process(argv, o);
        CHECK(done.stdout_data == "hello over tls");
        // curl without our CA refuses the server: exit status 60 (peer certificate cannot be authenticated)
        const std::vector<std::string> untrusting{"curl", "-sS", "--max-time", "10",
                                                  "https://127.0.0.1:" + std::to_string(port) + "/"};
        trio::process_options q;
        q.check = false;
        q.capture_stderr = true;
        auto refused = co_await trio::run_process(untrusting, q);
        CHECK(refused.returncode == 60);
      }
      n.cancel_scope().cancel();
    });
  });
}

TEST_CASE("TLS test_SSLListener / serve_ssl_over_tcp with n.start and open_ssl_over_tcp_stream", "[ssl]") {
  test::run_real([]() -> trio::task<> {
    // ssl_listener: accept gives the server side; the handshake works; aclose closes the listening socket
    auto listeners = co_await trio::open_ssl_over_tcp_listeners(0, server_ctx(), "127.0.0.1", true);
    REQUIRE(listeners.size() == 1);
    auto& listener = listeners[0];
    const std::uint16_t port = listener.transport_listener().socket().local_address().port();
    std::string got;
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> {
        auto server = co_await listener.accept();
        got = co_await receive_exactly(server, 4);
        co_await server.aclose();
      });
      auto client = co_await trio::open_ssl_over_tcp_stream("127.0.0.1", port, client_ctx(TLS1_3_VERSION));
      co_await client.send_all(std::string_view("ping"));
      co_await client.aclose();
    });
    CHECK(got == "ping");
    co_await listener.aclose();
    CHECK_FALSE(listener.transport_listener().socket().is_open());

    // serve_ssl_over_tcp: n.start returns the addresses; the handler's stream is closed after it
    trio::ssl_stream_handler echo = [](trio::ssl_stream<trio::socket_stream>& s) -> trio::task<> {
      for (;;) {
        std::string chunk = co_await s.receive_some();
        if (chunk.empty()) co_return;
        co_await s.send_all(chunk);
      }
    };
    trio::ssl_serve_options so;
    so.host = "127.0.0.1";
    const trio::ssl_context ctx = server_ctx();
    std::string reply;
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      auto addresses = co_await n.start(trio::serve_ssl_over_tcp, echo, std::uint16_t{0}, ctx, so);
      REQUIRE(!addresses.empty());
      auto client =
          co_await trio::open_ssl_over_tcp_stream("127.0.0.1", addresses[0].port(), client_ctx(TLS1_2_VERSION));
      co_await client.send_all(std::string_view("echo me"));
      reply = co_await receive_exactly(client, 7);
      co_await client.aclose();  // close_notify: the handler's receive ends, it returns, the server closes
      n.cancel_scope().cancel();
    });
    CHECK(reply == "echo me");
  });
}

TEST_CASE("TLS serve_ssl_over_tcp closes a stalled handshake after handshake_timeout and serves others meanwhile",
          "[ssl]") {
  test::run_real([]() -> trio::task<> {
    trio::ssl_stream_handler echo = [](trio::ssl_stream<trio::socket_stream>& s) -> trio::task<> {
      for (std::string chunk; !(chunk = co_await s.receive_some()).empty();) co_await s.send_all(chunk);
    };
    trio::ssl_serve_options so;
    so.host = "127.0.0.1";
    so.handshake_timeout = 2s;  // a handshake under ASan on a loaded machine takes well under that
    const trio::ssl_context ctx = server_ctx();
    test::stderr_capture err;
    const trio::time_point start = trio::current_time();
    auto since_start = [start] { return std::chrono::duration<double>(trio::current_time() - start).count(); };
    double silent_closed = -1, partial_closed = -1, served = -1;
    co_await trio::fail_after(10s, [&]() -> trio::task<> {
      co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
        auto addresses = co_await n.start(trio::serve_ssl_over_tcp, echo, std::uint16_t{0}, ctx, so);
        const std::uint16_t port = addresses[0].port();
        // Two clients stall their handshake: one sends nothing, one the first bytes of a record.
        trio::socket_stream silent = co_await trio::open_tcp_stream("127.0.0.1", port);
        trio::socket_stream partial = co_await trio::open_tcp_stream("127.0.0.1", port);
        co_await partial.send_all(std::string_view("\x16\x03\x01", 3));
        co_await trio::open_nursery([&](trio::nursery& waiters) -> trio::task<> {
          waiters.start_soon([&]() -> trio::task<> {
            CHECK((co_await silent.receive_some()).empty());  // the server closed it
            silent_closed = since_start();
          });
          waiters.start_soon([&]() -> trio::task<> {
            CHECK((co_await partial.receive_some()).empty());
            partial_closed = since_start();
          });
          // Meanwhile a good client is served at once.
          auto client = co_await trio::open_ssl_over_tcp_stream("127.0.0.1", port, client_ctx(TLS1_3_VERSION));
          co_await client.send_all(std::string_view("echo me"));
          CHECK(co_await receive_exactly(client, 7) == "echo me");
          co_await client.aclose();
          served = since_start();
          CHECK(silent_closed < 0);
          CHECK(partial_closed < 0);
        });
        n.cancel_scope().cancel();
      });
    });
    CHECK(served < 2.0);
    CHECK(silent_closed >= 1.99);
    CHECK(silent_closed < 4.0);
    CHECK(partial_closed >= 1.99);
    CHECK(partial_closed < 4.0);
    const std::string text = err.text();
    // One line for the first, the second counted (repeats are logged at most once every 10 s).
    CHECK(test::count_of(text, "trio.serve_ssl_over_tcp: closed the connection from 127.0.0.1:") == 1);
    CHECK_THAT(text,
               Catch::Contains("its TLS handshake did not finish within 2 s (ssl_serve_options::handshake_timeout)"));
    CHECK_THAT(text, Catch::Contains("trio.serve_ssl_over_tcp: 1 more like it since the last report, when the server "
                                     "stopped"));
  });
}

TEST_CASE("TLS serve_ssl_over_tcp: a handshake that fails reaches the handler at its first use of the stream",
          "[ssl]") {
  test::run_real([]() -> trio::task<> {
    std::string seen;
    trio::ssl_stream_handler handler = [&](trio::ssl_stream<trio::socket_stream>& s) -> trio::task<> {
      try {
        co_await s.receive_some();
      } catch (const trio::broken_resource_error& e) {
        seen = e.what();
      }
    };
    trio::ssl_serve_options so;
    so.host = "127.0.0.1";
    const trio::ssl_context ctx = server_ctx();
    co_await trio::fail_after(10s, [&]() -> trio::task<> {
      co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
        auto addresses = co_await n.start(trio::serve_ssl_over_tcp, handler, std::uint16_t{0}, ctx, so);
        trio::socket_stream garbage = co_await trio::open_tcp_stream("127.0.0.1", addresses[0].port());
        co_await garbage.send_all(std::string_view("GET / HTTP/1.0\r\n\r\n"));
        try {
          while (!(co_await garbage.receive_some()).empty()) {  // an alert, perhaps; then the end
          }
        } catch (const trio::broken_resource_error&) {  // or a reset
        }
        n.cancel_scope().cancel();
      });
    });
    CHECK_THAT(seen, Catch::Contains("the TLS handshake failed"));
  });
}

TEST_CASE("TLS serve_ssl_over_tcp: a handshake_timeout that is not positive is refused, naming the fix", "[ssl]") {
  test::run_real([]() -> trio::task<> {
    trio::ssl_stream_handler handler = [](trio::ssl_stream<trio::socket_stream>&) -> trio::task<> { co_return; };
    trio::ssl_serve_options so;
    so.host = "127.0.0.1";
    so.handshake_timeout = trio::duration::zero();
    const trio::ssl_context ctx = server_ctx();
    try {
      co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
        co_await n.start(trio::serve_ssl_over_tcp, handler, std::uint16_t{0}, ctx, so);
      });
      FAIL("a zero handshake_timeout was accepted");
    } catch (const std::invalid_argument& e) {
      CHECK_THAT(e.what(), Catch::Contains("handshake_timeout must be positive (duration::max() for no limit)"));
    }
  });
}
