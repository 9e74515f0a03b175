#include <trio/ssl.hpp>  // first: the header compiles on its own

#include <trio/testing/ssl_certs.hpp>

#include "helpers.hpp"

// Trio's test_ssl.py, translated (ids: the Trio test names), on memory and lockstep stream pairs with
// certificates made at run time; then interop with openssl s_server, s_client and curl.

namespace tt = trio::testing;

namespace {

using mem_ssl = trio::ssl_stream<tt::memory_stream>;
constexpr const char* host = "trio-test-1.example.org";

const tt::test_certificates& certs() {
  static const tt::test_certificates c = tt::make_test_certificates({host, "127.0.0.1"});
  return c;
}
trio::ssl_context server_ctx() {
  static const trio::ssl_context ctx = trio::ssl_context::server_from_pem(certs().cert_pem, certs().key_pem);
  return ctx;
}
trio::ssl_context client_ctx(int max_version) {
  auto ctx = trio::ssl_context::client();
  ctx.load_verify_pem(certs().ca_pem);
  ctx.set_max_version(max_version);
  return ctx;
}

trio::ssl_stream_options server_opts(bool https_compatible = false) {
  trio::ssl_stream_options o;
  o.server_side = true;
  o.https_compatible = https_compatible;
  return o;
}
trio::ssl_stream_options client_opts(bool https_compatible) {
  trio::ssl_stream_options o;
  o.https_compatible = https_compatible;
  return o;
}

template <class Pair>
auto ssl_pair(Pair p, int version, bool client_https = false, bool server_https = false) {
  using S = trio::ssl_stream<typename Pair::first_type>;
  return std::pair<S, S>(S(std::move(p.first), client_ctx(version), host, client_opts(client_https)),
                         S(std::move(p.second), server_ctx(), server_opts(server_https)));
}
auto ssl_memory_pair(int version, bool client_https = false, bool server_https = false) {
  return ssl_pair(tt::memory_stream_pair(), version, client_https, server_https);
}

/// Receives until n bytes came (or the end).
template <class S>
trio::task<std::string> receive_exactly(S& s, std::size_t n) {
  std::string got;
  while (got.size() < n) {
    std::string chunk = co_await s.receive_some(n - got.size());
    if (chunk.empty()) break;
    got += chunk;
  }
  co_return got;
}

const int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};
const char* version_name(int v) { return v == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2"; }

}  // namespace

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

TRIO_TEST_CASE("TLS test_resource_busy_errors: send+send, receive+receive, send+wait; test_send_all_empty_string",
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

TRIO_TEST_CASE("TLS test_unwrap: both sides unwrap; raw bytes after it arrive as the trailing bytes", "[ssl]") {
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

TRIO_TEST_CASE("TLS test_closing_nice_case: aclose with a concurrent receive; closed afterwards; before the handshake",
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

TRIO_TEST_CASE("TLS test_send_all_fails_in_the_middle; test_ssl_only_closes_stream_once", "[ssl]") {
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

TRIO_TEST_CASE("TLS test_ssl_over_ssl; test_ssl_https_compatibility_disagreement", "[ssl]") {
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

// ---- interop with real peers: openssl s_server, s_client, curl (loopback, bounded, stopped by pid) ----

namespace {

/// Writes the test certificates to a temporary folder (removed at the end).
struct cert_files {
  std::filesystem::path dir;
  std::string ca, cert, key;
  cert_files() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "trio-tls-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    ca = (dir / "ca.pem").string();
    cert = (dir / "cert.pem").string();
    key = (dir / "key.pem").string();
    const std::pair<std::string, std::string> items[] = {
        {ca, certs().ca_pem}, {cert, certs().cert_pem}, {key, certs().key_pem}};
    for (const auto& item : items) {
      std::FILE* f = std::fopen(item.first.c_str(), "w");
      std::fwrite(item.second.data(), 1, item.second.size(), f);
      std::fclose(f);
    }
  }
  ~cert_files() { std::filesystem::remove_all(dir); }
};

/// A port that was free a moment ago.
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

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

TEST_CASE("TLS interop: our server against openssl s_client and curl; a wrong CA fails there too", "[ssl][interop]") {
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

TEST_CASE("TLS test_SSLListener; serve_ssl_over_tcp with n.start and open_ssl_over_tcp_stream", "[ssl]") {
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

TRIO_TEST_CASE("TLS test_wait_writable_calls_underlying_wait_writable; test_https_mode_eof_before_handshake", "[ssl]") {
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
