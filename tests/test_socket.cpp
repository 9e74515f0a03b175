#include <trio/socket_stream.hpp>  // first: the header compiles on its own
// The accept fault seam (STR-12) is not in the public headers.
#include <trio/detail/accept_fault.hpp>

#include <sys/resource.h>

#include <random>
#include <thread>

#include "support/helpers.hpp"

namespace {

std::span<std::byte> bytes(std::string& s) { return std::as_writable_bytes(std::span(s)); }

/// A listening TCP socket on 127.0.0.1 and a free port.
trio::socket loopback_listener() {
  auto s = trio::socket::create(AF_INET, SOCK_STREAM);
  s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  s.bind(trio::socket_address::parse("127.0.0.1", 0));
  s.listen();
  return s;
}

}  // namespace

TEST_CASE("socket_address parses, prints and compares IPv4, IPv6 and Unix addresses", "[socket]") {
  auto v4 = trio::socket_address::parse("127.0.0.1", 8080);
  CHECK(v4.family() == AF_INET);
  CHECK(v4.port() == 8080);
  CHECK(v4.host() == "127.0.0.1");
  CHECK(v4.to_string() == "127.0.0.1:8080");
  auto v6 = trio::socket_address::parse("[::1]", 443);
  CHECK(v6.family() == AF_INET6);
  CHECK(v6.to_string() == "[::1]:443");
  CHECK(trio::socket_address::parse("::1", 443) == v6);
  CHECK(trio::socket_address::parse("[::1]:443") == v6);
  CHECK(trio::socket_address::parse("10.0.0.1:7").to_string() == "10.0.0.1:7");
  CHECK(v4.with_port(1).port() == 1);
  auto un = trio::socket_address::unix_path("/tmp/x.sock");
  CHECK(un.family() == AF_UNIX);
  CHECK(un.to_string() == "/tmp/x.sock");
  CHECK_FALSE(un == v4);
}

TEST_CASE("socket_address rejects bad text naming it", "[socket][misuse]") {
  CHECK_THROWS_WITH(trio::socket_address::parse("example.com", 80), Catch::Contains("'example.com'"));
  CHECK_THROWS_AS(trio::socket_address::parse("1.2.3.256", 80), std::invalid_argument);
  CHECK_THROWS_WITH(trio::socket_address::parse("127.0.0.1:99999"), Catch::Contains("'99999' is not a port"));
  CHECK_THROWS_WITH(trio::socket_address::parse("127.0.0.1"), Catch::Contains("no ':port'"));
  CHECK_THROWS_AS(trio::socket_address::unix_path(""), std::invalid_argument);
  CHECK_THROWS_WITH(trio::socket_address::unix_path(std::string(200, 'x')), Catch::Contains("too long"));
}

TRIO_TEST_CASE("socket send and recv over a socketpair are io_uring operations and checkpoints", "[socket]") {
  auto ab = trio::socket::pair();
  auto& a = ab.first;
  auto& b = ab.second;
  CHECK(co_await a.send(std::string_view("hello")) == 5);
  std::string buf(16, '\0');
  CHECK(co_await b.recv(bytes(buf)) == 5);
  CHECK(buf.substr(0, 5) == "hello");
  a.close();
  CHECK(co_await b.recv(bytes(buf)) == 0);  // end of stream
  CHECK_THROWS_AS(co_await a.send(std::string_view("x")), trio::closed_resource_error);
}

TRIO_TEST_CASE("STR-13 socket ops in a cancelled scope throw cancelled / a cancelled connect closes the socket",
               "[socket][STR-13]") {
  auto ab = trio::socket::pair();
  [[maybe_unused]] auto& a = ab.first;
  auto& b = ab.second;
  trio::cancel_scope scope;
  scope.cancel();
  auto body = [&]() -> trio::task<> {
    std::string buf(4, '\0');
    co_await b.recv(bytes(buf));
  };
  co_await scope.enter(body);
  CHECK(scope.cancelled_caught());

  // 10.255.255.1 is not routed on loopback-only machines: connect blocks (or fails fast); either way
  // a cancellation at 1 s must close the socket.
  auto s = trio::socket::create(AF_INET, SOCK_STREAM);
  auto connect = [&]() -> trio::task<> {
    try {
      co_await s.connect(trio::socket_address::parse("10.255.255.1", 9));
    } catch (const std::system_error&) {
      s.close();  // an unroutable network may refuse at once
    }
  };
  co_await trio::move_on_after(1s, connect);
  CHECK_FALSE(s.is_open());
}

TEST_CASE("STR-13 connect refused names the address", "[socket][STR-13]") {
  test::run_real([]() -> trio::task<> {
    auto l = loopback_listener();
    const auto addr = l.local_address();
    l.close();  // nothing listens there now
    auto s = trio::socket::create(AF_INET, SOCK_STREAM);
    try {
      co_await s.connect(addr);
      FAIL("connect succeeded");
    } catch (const std::system_error& e) {
      CHECK(e.code().value() == ECONNREFUSED);
      CHECK_THAT(e.what(), Catch::Contains(addr.to_string()));
    }
    CHECK_THROWS_AS(co_await s.connect(trio::socket_address::parse("::1", 1)), std::invalid_argument);
  });
}

TRIO_TEST_CASE("STR-13 a second receiver on the same socket is busy / closing wakes the waiter", "[socket][STR-13]") {
  auto ab = trio::socket::pair();
  [[maybe_unused]] auto& a = ab.first;
  auto& b = ab.second;
  std::string error;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      std::string buf(4, '\0');
      try {
        co_await b.recv(bytes(buf));
      } catch (const trio::closed_resource_error& e) {
        error = e.what();
      }
    });
    co_await trio::testing::wait_all_tasks_blocked();
    std::string buf(4, '\0');
    CHECK_THROWS_AS(co_await b.recv(bytes(buf)), trio::busy_resource_error);
    b.close();
  });
  CHECK_THAT(error, Catch::Contains("was closed"));
}

TEST_CASE("TCP loopback: accept, connect, exchange, peer and local addresses", "[socket]") {
  test::run_real([]() -> trio::task<> {
    auto l = loopback_listener();
    const auto addr = l.local_address();
    CHECK(addr.port() != 0);
    auto c = trio::socket::create(AF_INET, SOCK_STREAM);
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> {
        auto [conn, peer] = co_await l.accept();
        CHECK(peer.host() == "127.0.0.1");
        co_await conn.send(std::string_view("pong"));
      });
      co_await c.connect(addr);
      CHECK(c.peer_address() == addr);
      std::string buf(8, '\0');
      CHECK(co_await c.recv(bytes(buf)) == 4);
      CHECK(buf.substr(0, 4) == "pong");
    });
  });
}

TRIO_TEST_CASE("UDP: sendto and recvfrom carry datagrams and their sender", "[socket]") {
  auto rx = trio::socket::create(AF_INET, SOCK_DGRAM);
  rx.bind(trio::socket_address::parse("127.0.0.1", 0));
  auto tx = trio::socket::create(AF_INET, SOCK_DGRAM);
  tx.bind(trio::socket_address::parse("127.0.0.1", 0));
  CHECK(co_await tx.sendto(std::string_view("datagram"), rx.local_address()) == 8);
  std::string buf(64, '\0');
  auto [n, from] = co_await rx.recvfrom(bytes(buf));
  CHECK(n == 8);
  CHECK(buf.substr(0, n) == "datagram");
  CHECK(from == tx.local_address());
}

TRIO_TEST_CASE("STR-10 socket_stream: 10 MB send_all is delivered whole, then send_eof gives the peer end of stream",
               "[socket_stream][STR-10]") {
  auto ab = trio::socket::pair();
  auto& sa = ab.first;
  auto& sb = ab.second;
  trio::socket_stream a(std::move(sa)), b(std::move(sb));
  std::string data(10'000'000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  std::string got;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await a.send_all(data);
      co_await a.send_eof();
    });
    for (;;) {
      std::string chunk = co_await b.receive_some();
      if (chunk.empty()) break;
      got += chunk;
    }
  });
  CHECK(got.size() == data.size());
  CHECK(got == data);
  co_await b.send_all(std::string_view("back"));  // the other direction still works
  CHECK(co_await a.receive_some() == "back");
}

TRIO_TEST_CASE("STR-10 socket_stream needs a stream socket / TCP_NODELAY is on", "[socket_stream][STR-10]") {
  CHECK_THROWS_AS(trio::socket_stream(trio::socket::create(AF_INET, SOCK_DGRAM)), std::invalid_argument);
  CHECK_THROWS_AS(trio::socket_stream(trio::socket()), std::invalid_argument);
  trio::socket_stream s(trio::socket::create(AF_INET, SOCK_STREAM));
  CHECK(s.getsockopt(IPPROTO_TCP, TCP_NODELAY) != 0);
  co_return;
}

TRIO_TEST_CASE("STR-05 socket_stream: closed vs broken, aclose idempotent and closing in a cancelled scope",
               "[socket_stream][STR-05]") {
  auto ab = trio::socket::pair();
  auto& sa = ab.first;
  auto& sb = ab.second;
  trio::socket_stream a(std::move(sa)), b(std::move(sb));
  co_await b.aclose();
  co_await b.aclose();  // idempotent
  CHECK_THROWS_AS(co_await b.send_all(std::string_view("")), trio::closed_resource_error);
  CHECK_THROWS_AS(co_await b.receive_some(), trio::closed_resource_error);
  CHECK_THROWS_AS(co_await b.wait_send_all_might_not_block(), trio::closed_resource_error);
  // The peer is gone: sending breaks (eventually) and stays broken.
  std::string big(1 << 20, 'x');
  CHECK_THROWS_AS(co_await a.send_all(big), trio::broken_resource_error);
  CHECK_THROWS_AS(co_await a.send_all(big), trio::broken_resource_error);
  trio::cancel_scope scope;
  scope.cancel();
  auto close = [&]() -> trio::task<> { co_await a.aclose(); };
  co_await scope.enter(close);
  CHECK_FALSE(a.socket().is_open());
}

TRIO_TEST_CASE("STR-03 socket_stream: one task per direction", "[socket_stream][STR-03]") {
  auto ab = trio::socket::pair();
  auto& sa = ab.first;
  auto& sb = ab.second;
  trio::socket_stream a(std::move(sa)), b(std::move(sb));
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> { co_await b.receive_some(); });
    co_await trio::testing::wait_all_tasks_blocked();
    CHECK_THROWS_AS(co_await b.receive_some(), trio::busy_resource_error);
    co_await a.send_all(std::string_view("x"));
  });
}

TRIO_TEST_CASE("socket_stream: a task blocked in receive_some wakes with closed_resource_error when another closes it",
               "[socket_stream][STR-05]") {
  auto ab = trio::socket::pair();
  [[maybe_unused]] auto& sa = ab.first;
  auto& sb = ab.second;
  trio::socket_stream b(std::move(sb));
  bool woke = false;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      CHECK_THROWS_AS(co_await b.receive_some(), trio::closed_resource_error);
      woke = true;
    });
    co_await trio::testing::wait_all_tasks_blocked();
    co_await b.aclose();
  });
  CHECK(woke);
}

TEST_CASE("socket_stream: a peer that resets mid-transfer gives broken_resource_error", "[socket_stream]") {
  test::run_real([]() -> trio::task<> {
    auto l = loopback_listener();
    auto c = trio::socket::create(AF_INET, SOCK_STREAM);
    co_await c.connect(l.local_address());
    auto [conn, peer] = co_await l.accept();
    trio::socket_stream server(std::move(conn));
    linger lg{1, 0};  // close with RST
    ::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    co_await c.send(std::string_view("partial"));
    c.close();
    std::string big(1 << 20, 'y');
    bool broken = false;
    try {
      for (int i = 0; i < 100; ++i) co_await server.send_all(big);
    } catch (const trio::broken_resource_error& e) {
      broken = true;
      CHECK_THAT(e.what(), Catch::Contains("broken"));
    }
    CHECK(broken);
  });
}

TRIO_TEST_CASE("receive_some cancelled while data arrives: every byte arrives exactly once (10,000 trials)",
               "[socket_stream][reliability]") {
  auto ab = trio::socket::pair();
  auto& sa = ab.first;
  auto& sb = ab.second;
  trio::socket_stream a(std::move(sa)), b(std::move(sb));
  std::mt19937 rng(12345);
  std::uint32_t sent = 0, received = 0;
  std::uint64_t checksum_sent = 0, checksum_received = 0;
  std::string buf(64, '\0');
  for (int trial = 0; trial < 10'000; ++trial) {
    const int chunk = 1 + static_cast<int>(rng() % 40);
    std::string out;
    for (int i = 0; i < chunk; ++i) {
      const auto v = static_cast<unsigned char>(sent++ & 0xff);
      out.push_back(static_cast<char>(v));
      checksum_sent += v * static_cast<std::uint64_t>(sent);
    }
    trio::cancel_scope scope;  // outlives the nursery: the canceller may run after the scope ended
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> { co_await a.send_all(out); });
      auto receive = [&]() -> trio::task<> {
        const std::size_t k = co_await b.receive_some(std::as_writable_bytes(std::span(buf)).first(1 + rng() % 64));
        for (std::size_t i = 0; i < k; ++i) {
          ++received;
          checksum_received += static_cast<unsigned char>(buf[i]) * static_cast<std::uint64_t>(received);
        }
      };
      n.start_soon([&]() -> trio::task<> {
        for (unsigned y = rng() % 3; y > 0; --y) co_await trio::checkpoint();
        scope.cancel();
      });
      co_await scope.enter(receive);
    });
  }
  // Drain what the cancelled reads left.
  co_await a.send_eof();
  for (;;) {
    const std::size_t k = co_await b.receive_some(std::as_writable_bytes(std::span(buf)));
    if (k == 0) break;
    for (std::size_t i = 0; i < k; ++i) {
      ++received;
      checksum_received += static_cast<unsigned char>(buf[i]) * static_cast<std::uint64_t>(received);
    }
  }
  CHECK(received == sent);
  CHECK(checksum_received == checksum_sent);
}

TEST_CASE("STR-11 socket_listener: needs a listening stream socket / accept after aclose is closed_resource_error",
          "[socket_listener][STR-11]") {
  CHECK_THROWS_WITH(trio::socket_listener(trio::socket::create(AF_INET, SOCK_STREAM)),
                    Catch::Contains("not listening"));
  CHECK_THROWS_AS(trio::socket_listener(trio::socket::create(AF_INET, SOCK_DGRAM)), std::invalid_argument);
  test::run_real([]() -> trio::task<> {
    trio::socket_listener l(loopback_listener());
    const auto addr = l.socket().local_address();
    auto c = trio::socket::create(AF_INET, SOCK_STREAM);
    co_await c.connect(addr);
    trio::socket_stream s = co_await l.accept();
    CHECK(s.socket().peer_address() == c.local_address());
    co_await l.aclose();
    co_await l.aclose();
    CHECK_THROWS_AS(co_await l.accept(), trio::closed_resource_error);
  });
}

TEST_CASE("STR-12 accept errno sequence: ECONNABORTED, EPERM, EPROTO skipped / EMFILE, EFAULT, ENOBUFS raised",
          "[socket_listener][STR-12]") {
  // The listener sees ECONNABORTED, EPERM, EPROTO, ok, EMFILE, EFAULT, ENOBUFS, ok (Trio's fake socket).
  static std::vector<int> faults;
  faults = {ECONNABORTED, EPERM, EPROTO, 0, EMFILE, EFAULT, ENOBUFS, 0};
  static std::size_t at;
  at = 0;
  trio::detail::accept_fault_for_tests = [] { return at < faults.size() ? faults[at++] : 0; };
  struct reset_hook {
    ~reset_hook() { trio::detail::accept_fault_for_tests = nullptr; }
  } reset;
  test::run_real([]() -> trio::task<> {
    trio::socket_listener l(loopback_listener());
    auto c1 = trio::socket::create(AF_INET, SOCK_STREAM);
    co_await c1.connect(l.socket().local_address());
    auto c2 = trio::socket::create(AF_INET, SOCK_STREAM);
    co_await c2.connect(l.socket().local_address());
    std::vector<std::string> log;
    trio::socket_stream first = co_await l.accept();  // skipped three, then the real accept
    log.push_back("ok after " + std::to_string(at) + " results");
    for (int i = 0; i < 3; ++i) {
      try {
        co_await l.accept();
        log.push_back("no error");
      } catch (const std::system_error& e) {
        log.push_back(std::strerror(e.code().value()));
      }
    }
    trio::socket_stream second = co_await l.accept();
    log.push_back(second.socket().is_open() ? "ok" : "closed");
    const std::vector<std::string> want{"ok after 4 results", std::strerror(EMFILE), std::strerror(EFAULT),
                                        std::strerror(ENOBUFS), "ok"};
    CHECK(log == want);
    // Every call is a checkpoint, the faked ones too.
    trio::cancel_scope scope;
    scope.cancel();
    faults = {EMFILE};
    at = 0;
    bool cancelled = false;
    co_await scope.enter([&]() -> trio::task<> {
      try {
        co_await l.accept();
      } catch (const trio::cancelled&) {
        cancelled = true;
        throw;
      }
    });
    CHECK(cancelled);
  });
}

TEST_CASE("STR-12 accept errno policy: transient errors are skipped, the rest raised", "[socket_listener][STR-12]") {
  for (int e : {ECONNABORTED, EPERM, EPROTO}) CHECK(trio::detail::accept_error_is_transient(e));
  for (int e : {EMFILE, EFAULT, ENOBUFS, ENFILE, ENOMEM}) CHECK_FALSE(trio::detail::accept_error_is_transient(e));
  // EMFILE for real: with no fd left, accept raises it; once fds free, accept works again.
  test::run_real([]() -> trio::task<> {
    trio::socket_listener l(loopback_listener());
    auto c1 = trio::socket::create(AF_INET, SOCK_STREAM);
    co_await c1.connect(l.socket().local_address());
    rlimit old{};
    ::getrlimit(RLIMIT_NOFILE, &old);
    rlimit low = old;
    low.rlim_cur = test::open_fds() + 0;  // every fd number below the limit is in use, or nearly
    std::vector<int> hog;
    ::setrlimit(RLIMIT_NOFILE, &low);
    for (int fd; (fd = ::dup(0)) >= 0;) hog.push_back(fd);
    int err = 0;
    try {
      co_await l.accept();
    } catch (const std::system_error& e) {
      err = e.code().value();
    }
    for (int fd : hog) ::close(fd);
    ::setrlimit(RLIMIT_NOFILE, &old);
    CHECK(err == EMFILE);
    trio::socket_stream s = co_await l.accept();  // the connection waited in the backlog
    CHECK(s.socket().is_open());
  });
}

TRIO_TEST_CASE("IO socket::recv: a shield raised while the cancel is in flight: the recv is submitted again",
               "[socket][io]") {
  auto ab = trio::socket::pair();
  test::event_log rec;
  trio::cancel_scope outer, inner;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await outer.enter([&]() -> trio::task<> {
        co_await inner.enter([&]() -> trio::task<> {
          std::string buf(16, '\0');
          rec("recv");
          const std::size_t k = co_await ab.second.recv(bytes(buf));
          rec("got " + buf.substr(0, k));
        });
        rec("after the shielded scope");
      });
    });
    co_await trio::testing::wait_all_tasks_blocked();
    outer.cancel();          // the abort submits ASYNC_CANCEL...
    inner.set_shield(true);  // ...and before its completion arrives, the recv is shielded
    rec("cancelled, then shielded");
    co_await trio::sleep(1s);
    CHECK(trio::lowlevel::current_statistics().io_operations_in_flight == 1);  // the recv, submitted again
    rec("send");
    CHECK(co_await ab.first.send(std::string_view("hello")) == 5);
  });
  CHECK(rec.entries ==
        std::vector<std::string>{"recv", "cancelled, then shielded", "send", "got hello", "after the shielded scope"});
  CHECK_FALSE(inner.cancelled_caught());
  CHECK_FALSE(outer.cancelled_caught());  // the cancellation was pending, and no checkpoint followed
}

TRIO_TEST_CASE("IO socket_stream::receive_some: a resubmitted receive is cancelled again when the shield comes down",
               "[socket_stream][io]") {
  auto ab = trio::socket::pair();
  trio::socket_stream b(std::move(ab.second));
  test::event_log rec;
  trio::cancel_scope outer, inner;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await outer.enter([&]() -> trio::task<> {
        co_await inner.enter([&]() -> trio::task<> {
          std::string buf(16, '\0');
          rec("receive");
          try {
            co_await b.receive_some(bytes(buf));
            rec("received");
          } catch (const trio::cancelled&) {
            rec("cancelled");
            throw;
          }
        });
      });
    });
    co_await trio::testing::wait_all_tasks_blocked();
    outer.cancel();
    inner.set_shield(true);
    rec("cancelled, then shielded");
    co_await trio::sleep(1s);
    CHECK(trio::lowlevel::current_statistics().io_operations_in_flight == 1);  // the receive, submitted again
    rec("unshield");
    inner.set_shield(false);  // the cancellation reaches the new operation: a new cancel request
  });
  CHECK(rec.entries == std::vector<std::string>{"receive", "cancelled, then shielded", "unshield", "cancelled"});
  CHECK(outer.cancelled_caught());
  CHECK(trio::lowlevel::current_statistics().io_operations_in_flight == 0);
}
