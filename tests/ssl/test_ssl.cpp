#include <trio/ssl.hpp>  // first: the header compiles on its own

#include <array>
#include <random>

#include "support/ssl_helpers.hpp"

// Trio's test_ssl.py, translated (ids: the Trio test names), on memory and lockstep stream pairs with
// certificates made at run time. Interop with real peers is in test_ssl_interop.cpp.

using namespace ssl_helpers;
namespace tt = trio::testing;

TRIO_TEST_CASE("TLS test_ssl_client_basics / server_basics: data both ways, close_notify, TLS 1.3 and 1.2", "[ssl]") {
  for (int v : versions) {
    auto p = ssl_memory_pair(v);
    auto& client = p.first;
    auto& server = p.second;
    std::string at_server, at_client;
    std::size_t after_close = 99;
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> {
        co_await client.send_all(std::string_view("x"));
        at_client = co_await receive_exactly(client, 1);
        co_await client.send_all(std::string_view("z"));
        co_await client.aclose();
      });
      at_server = co_await receive_exactly(server, 1);
      co_await server.send_all(std::string_view("y"));
      at_server += co_await receive_exactly(server, 1);
      std::array<std::byte, 16> buf;
      after_close = co_await server.receive_some(buf);  // the client's close_notify
      co_await server.aclose();
    });
    CHECK(at_server == "xz");
    CHECK(at_client == "y");
    CHECK(after_close == 0);
    CHECK(client.version() == version_name(v));
  }
}

namespace {
/// A client handshake with `ctx` and `hostname` against our server that must fail: its message. The
/// client is broken afterwards, and closed after aclose.
trio::task<std::string> handshake_failure(trio::ssl_context ctx, std::string hostname) {
  auto pair = tt::memory_stream_pair();
  mem_ssl client(std::move(pair.first), ctx, std::move(hostname));
  mem_ssl server(std::move(pair.second), server_ctx(), server_opts());
  std::string message;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      try {
        co_await server.do_handshake();
      } catch (const trio::broken_resource_error&) {
      }
    });
    try {
      co_await client.do_handshake();
    } catch (const trio::broken_resource_error& e) {
      message = e.what();
    }
    CHECK_THROWS_AS(co_await client.send_all(std::string_view("x")), trio::broken_resource_error);
    co_await client.aclose();
    co_await server.aclose();
  });
  CHECK_THROWS_AS(co_await client.send_all(std::string_view("x")), trio::closed_resource_error);
  co_return message;
}
}  // namespace

TRIO_TEST_CASE("TLS test_ssl_client_basics: an untrusted CA and a wrong host name are broken_resource_error saying why",
               "[ssl]") {
  for (int v : versions) {
    auto untrusting = trio::ssl_context::client();  // the system CAs only
    untrusting.set_max_version(v);
    std::string message = co_await handshake_failure(untrusting, host);
    CHECK(message.find("certificate verify failed") != std::string::npos);
    CHECK(message.find("unable to get local issuer certificate") != std::string::npos);
    CHECK(message.find(host) != std::string::npos);
    message = co_await handshake_failure(client_ctx(v), "other.example.org");
    CHECK(message.find("hostname mismatch") != std::string::npos);
    CHECK(message.find("other.example.org") != std::string::npos);
  }
}

namespace {
template <bool Https, int Version>
trio::task<std::pair<mem_ssl, mem_ssl>> make_memory_ssl() {
  co_return ssl_memory_pair(Version, Https, Https);
}
template <bool Https, int Version>
trio::task<std::pair<trio::ssl_stream<tt::lockstep_stream>, trio::ssl_stream<tt::lockstep_stream>>>
make_lockstep_ssl() {
  // Handshakes up front, as Trio's clogged_stream_maker: else a receive_some that unclogs a peer's
  // wait_send_all_might_not_block would start the handshake and get stuck itself.
  auto p = ssl_pair(tt::lockstep_stream_pair(), Version, Https, Https);
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> { co_await p.first.do_handshake(); });
    co_await p.second.do_handshake();
  });
  co_return p;
}
}  // namespace

TRIO_TEST_CASE("TLS test_SSLStream_generic: the stream checkers pass, strict and https-compatible", "[ssl][STR-01]") {
  INFO("memory pair, strict, TLS 1.3");
  co_await tt::check_two_way_stream(make_memory_ssl<false, TLS1_3_VERSION>);
  INFO("memory pair, https-compatible, TLS 1.3");
  co_await tt::check_two_way_stream(make_memory_ssl<true, TLS1_3_VERSION>);
  INFO("memory pair, strict, TLS 1.2");
  co_await tt::check_two_way_stream(make_memory_ssl<false, TLS1_2_VERSION>);
  INFO("lockstep pair, strict, TLS 1.3");
  co_await tt::check_two_way_stream(make_lockstep_ssl<false, TLS1_3_VERSION>);
  INFO("lockstep pair, https-compatible, TLS 1.2");
  co_await tt::check_two_way_stream(make_lockstep_ssl<true, TLS1_2_VERSION>);
}

TRIO_TEST_CASE("TLS test_full_duplex_basics: one sender and one receiver at once, plus two do_handshake calls",
               "[ssl]") {
  for (int v : versions) {
    auto p = ssl_memory_pair(v);
    auto& client = p.first;
    auto& server = p.second;
    std::string sent;
    for (int i = 0; i < 30; ++i) sent += std::string(32 * 1024, static_cast<char>('a' + i % 26));
    std::string echoed;
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> {  // the echo server
        for (;;) {
          std::string chunk = co_await server.receive_some();
          if (chunk.empty()) break;
          co_await server.send_all(chunk);
        }
        co_await server.aclose();
      });
      n.start_soon([&]() -> trio::task<> { co_await client.do_handshake(); });
      n.start_soon([&]() -> trio::task<> { co_await client.do_handshake(); });
      n.start_soon([&]() -> trio::task<> {
        for (int i = 0; i < 30; ++i)
          co_await client.send_all(std::string_view(sent).substr(static_cast<std::size_t>(i) * 32 * 1024, 32 * 1024));
      });
      echoed = co_await receive_exactly(client, sent.size());
      co_await client.aclose();
    });
    CHECK(echoed == sent);
  }
}

TRIO_TEST_CASE("TLS test_resource_busy_errors: send+send, receive+receive, send+wait / test_send_all_empty_string",
               "[ssl]") {
  int busy = 0;
  // Runs a and b at once for a second; counts the busy_resource_errors.
  auto expect_busy = [&](auto a, auto b) -> trio::task<> {
    auto guarded = [&](auto& op) -> trio::task<> {
      try {
        co_await op();
      } catch (const trio::busy_resource_error& e) {
        CHECK(std::string(e.what()).find("another task") != std::string::npos);
        ++busy;
      }
    };
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> { co_await guarded(a); });
      n.start_soon([&]() -> trio::task<> { co_await guarded(b); });
      co_await trio::sleep(1s);
      n.cancel_scope().cancel();
    });
  };
  {
    auto p = ssl_memory_pair(TLS1_3_VERSION);
    auto receive = [&]() -> trio::task<> { (void)co_await p.first.receive_some(); };
    co_await expect_busy(receive, receive);
    CHECK(busy == 1);
  }
  {
    auto p = ssl_memory_pair(TLS1_3_VERSION);  // (a fresh pair each time: a cancelled send breaks the stream)
    auto send = [&]() -> trio::task<> { co_await p.first.send_all(std::string_view("x")); };
    busy = 0;
    co_await expect_busy(send, send);
    CHECK(busy == 1);
  }
  {
    auto p = ssl_memory_pair(TLS1_3_VERSION);
    auto send = [&]() -> trio::task<> { co_await p.first.send_all(std::string_view("x")); };
    auto wait = [&]() -> trio::task<> { co_await p.first.wait_send_all_might_not_block(); };
    busy = 0;
    co_await expect_busy(send, wait);
    CHECK(busy == 1);
  }
  // send_all of nothing: a checkpoint, not an EOF
  auto e = ssl_memory_pair(TLS1_3_VERSION);
  std::string got;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await e.first.send_all(std::string_view());
      co_await e.first.send_all(std::string_view("after"));
    });
    got = co_await receive_exactly(e.second, 5);
  });
  CHECK(got == "after");
}

TRIO_TEST_CASE("TLS test_unwrap: both sides unwrap / raw bytes after it arrive as the trailing bytes", "[ssl]") {
  for (int v : versions) {
    auto p = ssl_memory_pair(v);
    auto& client = p.first;
    auto& server = p.second;
    std::string trailing, raw;
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> {
        co_await client.send_all(std::string_view("x"));
        auto unwrapped = co_await client.unwrap();
        co_await unwrapped.first.send_all(std::string_view("raw"));
        CHECK(unwrapped.second.empty());
      });
      CHECK(co_await receive_exactly(server, 1) == "x");
      auto unwrapped = co_await server.unwrap();
      trailing = unwrapped.second;
      while (trailing.size() + raw.size() < 3) raw += co_await unwrapped.first.receive_some();
    });
    CHECK(trailing + raw == "raw");
    CHECK_THROWS_AS(co_await client.send_all(std::string_view("x")), trio::closed_resource_error);
  }
}

TRIO_TEST_CASE(
    "TLS test_closing_nice_case: aclose with a concurrent receive / closed afterwards / before the handshake",
    "[ssl]") {
  for (int v : versions) {
    auto p = ssl_memory_pair(v);
    auto& client = p.first;
    auto& server = p.second;
    std::size_t server_got = 99;
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> {
        std::array<std::byte, 8> buf;
        server_got = co_await server.receive_some(buf);
        co_await server.aclose();
      });
      co_await client.do_handshake();
      co_await client.aclose();
    });
    CHECK(server_got == 0);
    co_await client.aclose();  // a checkpoint only
    CHECK_THROWS_AS(co_await client.send_all(std::string_view("x")), trio::closed_resource_error);
    CHECK_THROWS_AS(co_await client.receive_some(), trio::closed_resource_error);
    CHECK_THROWS_AS(co_await client.do_handshake(), trio::closed_resource_error);
    CHECK_THROWS_AS(co_await client.unwrap(), trio::closed_resource_error);
    // aclose before any handshake: the handshake runs, then close_notify: the peer sees a clean end
    auto q = ssl_memory_pair(v);
    std::size_t got = 99;
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> {
        std::array<std::byte, 8> buf;
        got = co_await q.second.receive_some(buf);
      });
      co_await q.first.aclose();
    });
    CHECK(got == 0);
  }
}

TRIO_TEST_CASE("TLS test_ssl_bad_shutdown(_but_its_ok): a transport closed without close_notify", "[ssl]") {
  for (bool https : {false, true}) {
    auto p = ssl_memory_pair(TLS1_3_VERSION, https, https);
    auto& client = p.first;
    auto& server = p.second;
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> { co_await server.do_handshake(); });
      co_await client.do_handshake();
    });
    co_await client.transport_stream().aclose();  // forcefully: no close_notify
    if (https) {
      CHECK((co_await server.receive_some()).empty());
    } else {
      try {
        co_await server.receive_some();
        FAIL("no error");
      } catch (const trio::broken_resource_error& e) {
        CHECK(std::string(e.what()).find("unexpected eof") != std::string::npos);
      }
    }
    CHECK_THROWS_AS(co_await server.send_all(std::string_view("x")), trio::broken_resource_error);
    co_await server.aclose();
  }
}

TRIO_TEST_CASE("TLS test_send_all_fails_in_the_middle / test_ssl_only_closes_stream_once", "[ssl]") {
  auto p = ssl_memory_pair(TLS1_3_VERSION);
  auto& client = p.first;
  auto& server = p.second;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> { co_await server.do_handshake(); });
    co_await client.do_handshake();
  });
  struct transport_failure : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  client.transport_stream().send_stream().send_all_hook() = []() -> trio::task<> {
    co_await trio::checkpoint();
    throw transport_failure("the wire broke");
  };
  CHECK_THROWS_AS(co_await client.send_all(std::string_view("x")), transport_failure);  // as it is
  CHECK_THROWS_AS(co_await client.wait_send_all_might_not_block(), trio::broken_resource_error);
  int closes = 0;
  client.transport_stream().send_stream().close_hook() = [&]() -> trio::task<> {
    ++closes;
    co_await trio::checkpoint();
    throw transport_failure("close failed");
  };
  CHECK_THROWS_AS(co_await client.aclose(), transport_failure);
  co_await client.aclose();  // closed already: not again
  CHECK(closes == 1);
  CHECK(client.transport_stream().send_stream().closed());
  co_await server.aclose();
}

TRIO_TEST_CASE("TLS test_ssl_over_ssl / test_ssl_https_compatibility_disagreement", "[ssl]") {
  auto outer = ssl_memory_pair(TLS1_3_VERSION);
  trio::ssl_stream<mem_ssl> inner_client(std::move(outer.first), client_ctx(TLS1_2_VERSION), host);
  trio::ssl_stream<mem_ssl> inner_server(std::move(outer.second), server_ctx(), server_opts());
  std::string got;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await inner_client.send_all(std::string_view("tls in tls"));
      co_await inner_client.aclose();
    });
    got = co_await receive_exactly(inner_server, 10);
    CHECK((co_await inner_server.receive_some()).empty());
    co_await inner_server.aclose();
  });
  CHECK(got == "tls in tls");
  CHECK(inner_client.transport_stream().version() == "TLSv1.3");
  // lenient client, strict server: the server's receive is broken by the EOF without close_notify
  auto p = ssl_memory_pair(TLS1_3_VERSION, true, false);
  bool broken = false;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      try {
        (void)co_await p.second.receive_some();
      } catch (const trio::broken_resource_error&) {
        broken = true;
      }
    });
    co_await p.first.do_handshake();
    co_await p.first.aclose();
  });
  CHECK(broken);
}

TRIO_TEST_CASE("TLS test_selected_alpn_protocol, test_getpeercert: need_handshake_error before, values after",
               "[ssl]") {
  auto client_c = client_ctx(TLS1_3_VERSION);
  const std::vector<std::string> offer{"h2", "http/1.1"};
  client_c.set_alpn_protocols(offer);
  auto server_c = trio::ssl_context::server_from_pem(certs().cert_pem, certs().key_pem);
  const std::vector<std::string> accept{"http/1.1"};
  server_c.set_alpn_protocols(accept);
  auto pair = tt::memory_stream_pair();
  mem_ssl client(std::move(pair.first), client_c, host);
  mem_ssl server(std::move(pair.second), server_c, server_opts());
  CHECK_THROWS_AS(client.selected_alpn_protocol(), trio::need_handshake_error);
  CHECK_THROWS_AS(client.peer_certificate(), trio::need_handshake_error);
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> { co_await server.do_handshake(); });
    co_await client.do_handshake();
  });
  CHECK(client.selected_alpn_protocol() == std::optional<std::string>("http/1.1"));
  CHECK(server.selected_alpn_protocol() == std::optional<std::string>("http/1.1"));
  CHECK(server.peer_certificate() == nullptr);  // no client certificate
  X509* cert = client.peer_certificate();
  REQUIRE(cert != nullptr);
  CHECK(X509_check_host(cert, host, 0, 0, nullptr) == 1);
  auto plain = ssl_memory_pair(TLS1_2_VERSION);
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> { co_await plain.second.do_handshake(); });
    co_await plain.first.do_handshake();
  });
  CHECK(plain.first.selected_alpn_protocol() == std::nullopt);
}

TRIO_TEST_CASE("TLS test_checkpoints: do_handshake, send_all, receive_some (buffered too), aclose are checkpoints",
               "[ssl]") {
  auto p = ssl_memory_pair(TLS1_3_VERSION);
  auto& client = p.first;
  auto& server = p.second;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> { co_await server.do_handshake(); });
    co_await client.do_handshake();
  });
  auto is_cancel_point = [](auto op) -> trio::task<bool> {
    bool raised = false;
    trio::cancel_scope scope;
    scope.cancel();
    co_await scope.enter([&]() -> trio::task<> {
      try {
        co_await op();
      } catch (const trio::cancelled&) {
        raised = true;
        throw;
      }
    });
    co_return raised;
  };
  CHECK(co_await is_cancel_point([&]() -> trio::task<> { co_await client.do_handshake(); }));
  co_await server.send_all(std::string_view("buffered"));
  CHECK(co_await is_cancel_point([&]() -> trio::task<> { (void)co_await client.receive_some(); }));
  CHECK(co_await receive_exactly(client, 8) == "buffered");  // the cancelled receive lost nothing
}

TRIO_TEST_CASE("TLS test_wait_writable_calls_underlying_wait_writable / test_https_mode_eof_before_handshake",
               "[ssl]") {
  auto p = ssl_memory_pair(TLS1_3_VERSION);
  int calls = 0;
  p.first.transport_stream().send_stream().wait_send_all_might_not_block_hook() = [&]() -> trio::task<> {
    ++calls;
    co_return;
  };
  co_await p.first.wait_send_all_might_not_block();
  CHECK(calls == 1);
  // both https-compatible, the client closes before any handshake: the server sees a clean end
  auto q = ssl_memory_pair(TLS1_3_VERSION, true, true);
  std::size_t got = 99;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      std::array<std::byte, 8> buf;
      got = co_await q.second.receive_some(buf);
    });
    co_await q.first.aclose();
  });
  CHECK(got == 0);
}

TRIO_TEST_CASE("TLS test_ssl_handshake_failure_during_aclose: aclose runs the handshake, which fails: broken",
               "[ssl]") {
  auto pair = tt::memory_stream_pair();
  auto untrusting = trio::ssl_context::client();
  mem_ssl client(std::move(pair.first), untrusting, host);
  mem_ssl server(std::move(pair.second), server_ctx(), server_opts());
  bool broken = false;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      try {
        co_await server.do_handshake();
      } catch (const trio::broken_resource_error&) {
      }
    });
    try {
      co_await client.aclose();
    } catch (const trio::broken_resource_error& e) {
      broken = std::string(e.what()).find("certificate verify failed") != std::string::npos;
    }
  });
  CHECK(broken);
  CHECK(client.transport_stream().send_stream().closed());  // the transport is closed all the same
  co_await server.aclose();
}

TRIO_TEST_CASE(
    "TLS test_send_error_during_handshake / test_receive_error_during_handshake: the error as it is, then broken",
    "[ssl]") {
  struct transport_failure : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  for (bool on_send : {true, false}) {
    auto p = ssl_memory_pair(TLS1_3_VERSION);
    auto& client = p.first;
    auto failing = []() -> trio::task<> {
      co_await trio::checkpoint();
      throw transport_failure("the wire broke");
    };
    if (on_send)
      client.transport_stream().send_stream().send_all_hook() = failing;
    else
      client.transport_stream().receive_stream().receive_some_hook() = failing;
    CHECK_THROWS_AS(co_await client.do_handshake(), transport_failure);
    CHECK_THROWS_AS(co_await client.do_handshake(), trio::broken_resource_error);
    co_await client.aclose();
  }
}

// ---- renegotiation (TLS 1.2 only: TLS 1.3 has none). The server side calls SSL_renegotiate, as
// Trio's tests make their PyOpenSSL echo server do; our retry loop must carry the new handshake along
// inside receive_some and send_all on both sides.

namespace {
/// The echo server of the renegotiation tests: byte by byte until the peer's close_notify, then closes.
trio::task<> echo_bytes(mem_ssl& server) {
  for (;;) {
    std::string got = co_await server.receive_some(1);
    if (got.empty()) break;
    co_await server.send_all(std::string_view(got));
  }
  co_await server.aclose();
}
}  // namespace

TRIO_TEST_CASE("TLS test_renegotiation_simple: the server renegotiates mid-stream / data flows on", "[ssl]") {
  auto p = ssl_memory_pair(TLS1_2_VERSION);
  auto& client = p.first;
  auto& server = p.second;
  std::vector<std::string> log;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {  // the echo server
      co_await server.do_handshake();
      REQUIRE(SSL_renegotiate(server.native()) == 1);
      co_await echo_bytes(server);
    });
    co_await client.do_handshake();
    for (const char* b : {"a", "b", "c"}) {
      co_await client.send_all(std::string_view(b));
      log.push_back(co_await client.receive_some(1));
    }
    co_await client.aclose();
  });
  CHECK(log == std::vector<std::string>{"a", "b", "c"});
  CHECK(SSL_total_renegotiations(server.native()) == 1);
  CHECK(SSL_total_renegotiations(client.native()) == 1);  // the client took part
}

TRIO_TEST_CASE("TLS renegotiation while a send_all is stuck in the transport: the reader's handshake output waits",
               "[ssl]") {
  // The client's writer is inside a lockstep transport's send_all (the server is not reading yet)
  // when its reader, handed the HelloRequest, writes a ClientHello: that must queue behind the bytes
  // in flight (overwriting them shows as "bad record mac" at the server).
  auto p = ssl_pair(tt::lockstep_stream_pair(), TLS1_2_VERSION);
  auto& client = p.first;
  auto& server = p.second;
  const std::string big(256 * 1024, 'c');
  std::string at_server, at_client;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> { co_await server.do_handshake(); });
    co_await client.do_handshake();
  });
  // A lockstep transport buffers nothing, so each side keeps a task reading (TLS needs one).
  trio::event server_has_all, client_has_done;
  std::string ack;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await client.send_all(std::string_view(big));
      co_await client_has_done.wait();
      co_await client.send_all(std::string_view("ack"));
    });
    n.start_soon([&]() -> trio::task<> {
      at_client = co_await receive_exactly(client, 5);
      client_has_done.set();
    });
    co_await tt::wait_all_tasks_blocked();  // the client's writer is parked in the transport
    REQUIRE(SSL_renegotiate(server.native()) == 1);
    // The HelloRequest goes out with this write, before the server reads a byte of the writer's.
    co_await server.send_all(std::string_view("x"));
    co_await tt::wait_all_tasks_blocked();  // the client's reader has answered with its ClientHello
    n.start_soon([&]() -> trio::task<> {
      at_server = co_await receive_exactly(server, big.size());
      server_has_all.set();
      ack = co_await receive_exactly(server, 3);
    });
    co_await server_has_all.wait();
    co_await server.send_all(std::string_view("done"));
  });
  CHECK(at_server == big);
  CHECK(at_client == "xdone");
  CHECK(ack == "ack");
  CHECK(SSL_total_renegotiations(client.native()) == 1);
  CHECK(SSL_renegotiate_pending(server.native()) == 0);
}

TRIO_TEST_CASE("TLS test_renegotiation_randomized: 100 renegotiations among sends and receives, random delays",
               "[ssl]") {
  // As Trio's: each round the server asks for a renegotiation, then the client sends one byte and
  // expects its echo, concurrently, or one after the other; every transport receive first sleeps a
  // random virtual time, so the new handshake's messages and the data interleave differently.
  // (Server-side application data *during* a renegotiation driven by the client's SSL_write is
  // beyond OpenSSL: it fails that write with "unexpected record"; Trio's test avoids it too.)
  auto p = ssl_memory_pair(TLS1_2_VERSION);
  auto& client = p.first;
  auto& server = p.second;
  std::mt19937 rng(12345);
  auto delay = [&rng]() -> trio::task<> { co_await trio::sleep(std::chrono::microseconds(rng() % 5000)); };
  client.transport_stream().receive_stream().receive_some_hook() = delay;
  server.transport_stream().receive_stream().receive_some_hook() = delay;
  std::string echoed;
  trio::event handshaken;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {  // the echo server
      co_await server.do_handshake();
      handshaken.set();
      co_await echo_bytes(server);
    });
    co_await client.do_handshake();
    co_await handshaken.wait();
    for (int i = 0; i < 100; ++i) {
      const std::string b(1, static_cast<char>('A' + i % 26));
      if (!SSL_renegotiate_pending(server.native())) REQUIRE(SSL_renegotiate(server.native()) == 1);
      auto send = [&]() -> trio::task<> { co_await client.send_all(std::string_view(b)); };
      auto expect = [&]() -> trio::task<> { echoed += co_await client.receive_some(1); };
      if (rng() % 2 == 0) {
        co_await trio::open_nursery([&](trio::nursery& m) -> trio::task<> {
          m.start_soon(send);
          m.start_soon(expect);
          co_return;
        });
      } else {
        co_await send();
        co_await expect();
      }
    }
    co_await client.aclose();
  });
  std::string want;
  for (int i = 0; i < 100; ++i) want += static_cast<char>('A' + i % 26);
  CHECK(echoed == want);
  CHECK(SSL_total_renegotiations(client.native()) >= 20);
}
