#include <trio/open_tcp_listeners.hpp>  // first: the header compiles on its own

#include <sys/resource.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "support/helpers.hpp"

TEST_CASE("NET-10 open_tcp_listeners: wildcard of each family, IPV6_V6ONLY, SO_REUSEADDR, rebinding", "[net][NET-10]") {
  test::run_real([]() -> trio::task<> {
    auto listeners = co_await trio::open_tcp_listeners(0);
    REQUIRE(!listeners.empty());
    std::set<std::string> hosts;
    for (auto& l : listeners) {
      const auto a = l.socket().local_address();
      hosts.insert(a.host());
      CHECK(l.socket().getsockopt(SOL_SOCKET, SO_REUSEADDR) != 0);
      if (a.family() == AF_INET6) CHECK(l.socket().getsockopt(IPPROTO_IPV6, IPV6_V6ONLY) != 0);
    }
    CHECK(hosts.count("0.0.0.0") == 1);
    // Rebinding the same port after a connection was made and closed (TIME_WAIT) works.
    const auto port = listeners[0].socket().local_address().port();
    {
      trio::socket_stream c = co_await trio::open_tcp_stream("127.0.0.1", port);
      trio::socket_stream s = co_await listeners[0].accept();
      co_await s.aclose();  // the server closes first: its side goes to TIME_WAIT
    }
    listeners.clear();
    auto again = co_await trio::open_tcp_listeners(port, "127.0.0.1");
    CHECK(again[0].socket().local_address().port() == port);
  });
}

TEST_CASE("NET-10 an IPv4 client cannot reach an IPv6-only listener", "[net][NET-10]") {
  test::run_real([]() -> trio::task<> {
    std::vector<trio::socket_listener> listeners;
    try {
      listeners = co_await trio::open_tcp_listeners(0, "::1");
    } catch (const std::system_error&) {
      co_return;  // no IPv6 here
    }
    const auto port = listeners[0].socket().local_address().port();
    CHECK_THROWS_AS(co_await trio::open_tcp_stream("127.0.0.1", port), std::system_error);
  });
}

TEST_CASE("NET-11 serve_tcp with nursery.start: a handler per connection, its stream closed when it returns",
          "[net][NET-11]") {
  test::run_real([]() -> trio::task<> {
    auto handler = [](trio::socket_stream s) -> trio::task<> { co_await s.send_all(std::string_view("x")); };
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      std::vector<trio::socket_address> addresses = co_await n.start(trio::serve_tcp, handler, 0);
      REQUIRE(!addresses.empty());
      for (int i = 0; i < 3; ++i) {
        trio::socket_stream c = co_await trio::open_tcp_stream("127.0.0.1", addresses[0].port());
        CHECK(co_await c.receive_some() == "x");
        CHECK(co_await c.receive_some() == "");  // closed after the handler returned
      }
      n.cancel_scope().cancel();  // stops the server
    });
  });
}

namespace {
long rss_kib() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

/// Raises the fd limit to at least `want` (root may raise the hard limit); returns the limit now.
rlim_t raise_fd_limit(rlim_t want) {
  rlimit r{};
  ::getrlimit(RLIMIT_NOFILE, &r);
  if (r.rlim_cur >= want) return r.rlim_cur;
  rlimit w = r;
  w.rlim_cur = want;
  if (w.rlim_max < want) w.rlim_max = want;
  if (::setrlimit(RLIMIT_NOFILE, &w) != 0) {
    w.rlim_cur = r.rlim_max;
    w.rlim_max = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &w);
  }
  ::getrlimit(RLIMIT_NOFILE, &r);
  return r.rlim_cur;
}
}  // namespace

TEST_CASE("10,000 concurrent loopback connections: opened, echoed, closed / fds return, memory stays flat",
          "[net][reliability]") {
  const rlim_t limit = raise_fd_limit(25'000);
  const std::size_t conns = std::min<std::size_t>(10'000, (limit - test::open_fds() - 100) / 2);
  if (conns < 10'000) WARN("fd limit " << limit << ": testing " << conns << " connections");
  const std::size_t fds_before = test::open_fds();
  long rss_after_first = 0;
  test::run_real([&]() -> trio::task<> {
    auto echo = [](trio::socket_stream s) -> trio::task<> {
      for (;;) {
        std::string data = co_await s.receive_some();
        if (data.empty()) co_return;
        co_await s.send_all(data);
      }
    };
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      trio::tcp_listen_options lo;
      trio::serve_options so;
      so.listen = lo;
      auto addresses = co_await n.start(trio::serve_tcp, echo, 0, "127.0.0.1", so);
      const std::uint16_t port = addresses[0].port();
      const std::size_t fds_serving = test::open_fds();  // + the ring, its eventfd and the listener
      for (int round = 0; round < 2; ++round) {
        std::size_t open = 0, echoed = 0;
        trio::event all_open;
        trio::capacity_limiter connecting(256);  // the listen backlog is 4096: do not overrun it
        auto one = [&]() -> trio::task<> {
          std::optional<trio::socket_stream> s;
          {
            auto held = co_await connecting.scoped_acquire();
            s.emplace(co_await trio::open_tcp_stream("127.0.0.1", port));
          }
          co_await s->send_all(std::string_view("ping"));
          std::string got;
          while (got.size() < 4) got += co_await s->receive_some();
          if (got == "ping") ++echoed;
          if (++open == conns) all_open.set();
          co_await all_open.wait();  // every connection is open at once here
          co_await s->aclose();
        };
        co_await trio::open_nursery([&](trio::nursery& clients) -> trio::task<> {
          for (std::size_t i = 0; i < conns; ++i) clients.start_soon(one);
          co_return;
        });
        CHECK(echoed == conns);
        // The server's ends close as their handlers see the end of stream.
        for (int i = 0; i < 200 && test::open_fds() > fds_serving; ++i) co_await trio::sleep(10ms);
        CHECK(test::open_fds() == fds_serving);
        if (round == 0) rss_after_first = rss_kib();
      }
      n.cancel_scope().cancel();
    });
  });
  CHECK(test::open_fds() == fds_before);
  const long growth = rss_kib() - rss_after_first;
  INFO("resident memory after round 1: " << rss_after_first << " KiB, growth over round 2: " << growth << " KiB");
#if defined(TRIO_DETAIL_ASAN)  // (g++ and clang: trio/detail/config.hpp)
  // AddressSanitizer keeps freed memory in quarantine (256 MiB): resident memory says nothing here.
  WARN("memory growth not checked under AddressSanitizer (growth " << growth << " KiB)");
#else
  CHECK(growth < 8 * 1024);
#endif
}

TEST_CASE("Two runners in two threads share a port through SO_REUSEPORT, and both accept", "[net][threads]") {
  struct server {
    std::atomic<int> accepted{0};
    std::optional<trio::trio_token> token;
    trio::cancel_scope* scope = nullptr;  // the server's nursery's: cancelled from the loop thread
    std::mutex m;
    std::condition_variable ready;
    std::uint16_t port = 0;
  };
  server servers[2];
  auto run_server = [&](server& me, std::uint16_t port) {
    test::run_real([&]() -> trio::task<> {
      auto handler = [&me](trio::socket_stream) -> trio::task<> {
        ++me.accepted;
        co_return;
      };
      trio::serve_options so;
      so.listen.reuse_port = true;
      co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
        auto addresses = co_await n.start(trio::serve_tcp, handler, port, "127.0.0.1", so);
        std::lock_guard lk(me.m);
        me.port = addresses[0].port();
        me.scope = &n.cancel_scope();
        me.token = trio::lowlevel::current_trio_token();
        me.ready.notify_all();
      });
    });
  };
  auto wait_ready = [](server& s) {
    std::unique_lock lk(s.m);
    s.ready.wait_for(lk, 10s, [&] { return s.token.has_value(); });
    REQUIRE(s.token.has_value());
  };
  std::thread t0([&] { run_server(servers[0], 0); });
  wait_ready(servers[0]);
  std::thread t1([&] { run_server(servers[1], servers[0].port); });
  wait_ready(servers[1]);
  CHECK(servers[1].port == servers[0].port);
  for (int i = 0; i < 400 && (servers[0].accepted == 0 || servers[1].accepted == 0); ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto a = trio::socket_address::parse("127.0.0.1", servers[0].port);
    CHECK(::connect(fd, a.native(), a.size()) == 0);
    ::close(fd);
    if (i % 50 == 49) std::this_thread::sleep_for(10ms);
  }
  std::this_thread::sleep_for(50ms);
  CHECK(servers[0].accepted > 0);
  CHECK(servers[1].accepted > 0);
  for (auto& s : servers) s.token->run_sync_soon([&s] { s.scope->cancel(); });
  t0.join();
  t1.join();
}

TRIO_TEST_CASE("NET-10 every family unsupported: one error naming the wildcard, chained to each / other errors as is",
               "[net][NET-10]") {
  struct refusing : trio::socket_factory {
    int err = EAFNOSUPPORT;
    trio::socket open_socket(int, int, int) override {
      throw std::system_error(err, std::system_category(), "fake: socket() refused");
    }
  } factory;
  trio::set_custom_socket_factory(&factory);
  try {
    co_await trio::open_tcp_listeners(0);
    FAIL("open_tcp_listeners succeeded");
  } catch (const std::system_error& e) {
    CHECK(e.code().value() == EAFNOSUPPORT);
    CHECK_THAT(e.what(), Catch::Contains("doesn't support any of the kinds of socket"));
    CHECK(test::count_of(e.what(), "fake: socket() refused") == 2);
  }
  factory.err = EMFILE;
  try {
    co_await trio::open_tcp_listeners(0);
    FAIL("open_tcp_listeners succeeded");
  } catch (const std::system_error& e) {
    CHECK(e.code().value() == EMFILE);
    CHECK_THAT(e.what(), Catch::StartsWith("fake: socket() refused"));
  }
  trio::set_custom_socket_factory(nullptr);
}
