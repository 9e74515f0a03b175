#include <trio/open_tcp_stream.hpp>  // first: the header compiles on its own

#include <set>

#include "support/helpers.hpp"

namespace {

/// A fake network (NET-01..09): every address has a connect delay and an outcome; autojump clock.
struct fake_network : trio::hostname_resolver, trio::socket_factory {
  struct behaviour {
    double delay;
    bool ok;
  };
  std::vector<std::pair<std::string, behaviour>> hosts;  // in resolver order
  std::set<int> unsupported_families;
  std::vector<std::pair<std::string, double>> attempts;
  std::string winner;
  double won_at = -1;
  std::size_t resolves = 0;

  trio::task<std::vector<trio::socket_address>> resolve(std::string host, std::uint16_t port, int, int, bool) override {
    ++resolves;
    CHECK(host == "test.example.com");
    std::vector<trio::socket_address> out;
    for (auto& [ip, b] : hosts) out.push_back(trio::socket_address::parse(ip, port));
    co_return out;
  }
  trio::socket open_socket(int family, int type, int) override {
    if (unsupported_families.count(family))
      throw std::system_error(EAFNOSUPPORT, std::system_category(), "fake: family not supported");
    return trio::socket::create(AF_UNIX, type);  // a real fd, so that leaks show in the fd count
  }
  trio::task<void> connect(trio::socket&, trio::socket_address address) override {
    const std::string ip = address.host();
    attempts.emplace_back(ip, test::now_s());
    behaviour b{};
    for (auto& [h, x] : hosts)
      if (h == ip) b = x;
    co_await trio::sleep(std::chrono::duration_cast<trio::duration>(std::chrono::duration<double>(b.delay)));
    if (!b.ok) throw std::system_error(ECONNREFUSED, std::system_category(), "fake: " + ip + " refused");
    if (winner.empty()) {
      winner = ip;
      won_at = test::now_s();
    }
  }
  void install() {
    trio::set_custom_hostname_resolver(this);
    trio::set_custom_socket_factory(this);
  }
};

trio::tcp_connect_options delay(trio::duration d) {
  trio::tcp_connect_options o;
  o.happy_eyeballs_delay = d;
  return o;
}

using attempt_list = std::vector<std::pair<std::string, double>>;

}  // namespace

TRIO_TEST_CASE("NET-01 happy eyeballs: attempts every 0.25 s, the first to connect wins, the others close",
               "[net][NET-01]") {
  const std::size_t fds = test::open_fds();
  fake_network net;
  net.hosts = {{"1.1.1.1", {1.0, true}}, {"2.2.2.2", {1.0, true}}, {"3.3.3.3", {0.2, true}}};
  net.install();
  {
    trio::socket_stream s = co_await trio::open_tcp_stream("test.example.com", 80);
    CHECK(test::now_s() == Approx(0.7));
    CHECK(net.winner == "3.3.3.3");
    CHECK(net.attempts == attempt_list{{"1.1.1.1", 0.0}, {"2.2.2.2", 0.25}, {"3.3.3.3", 0.5}});
    CHECK(test::open_fds() == fds + 1);  // the winner only
  }
  CHECK(test::open_fds() == fds);
}

TRIO_TEST_CASE("NET-02 early success: later addresses are never attempted", "[net][NET-02]") {
  fake_network net;
  net.hosts = {{"1.1.1.1", {1.0, true}}, {"2.2.2.2", {0.1, true}}, {"3.3.3.3", {0.2, true}}};
  net.install();
  co_await trio::open_tcp_stream("test.example.com", 80);
  CHECK(test::now_s() == Approx(0.35));
  CHECK(net.winner == "2.2.2.2");
  CHECK(net.attempts == attempt_list{{"1.1.1.1", 0.0}, {"2.2.2.2", 0.25}});
}

TRIO_TEST_CASE("NET-03 custom happy_eyeballs_delay", "[net][NET-03]") {
  fake_network net;
  net.hosts = {{"1.1.1.1", {1.0, true}}, {"2.2.2.2", {1.0, true}}, {"3.3.3.3", {0.2, true}}};
  net.install();
  co_await trio::open_tcp_stream("test.example.com", 80, delay(450ms));
  CHECK(test::now_s() == Approx(1.0));
  CHECK(net.winner == "1.1.1.1");
  CHECK(net.attempts == attempt_list{{"1.1.1.1", 0.0}, {"2.2.2.2", 0.45}, {"3.3.3.3", 0.9}});
}

TRIO_TEST_CASE("NET-04 a failed attempt starts the next one at once", "[net][NET-04]") {
  fake_network net;
  net.hosts = {
      {"1.1.1.1", {0.1, false}}, {"2.2.2.2", {0.2, false}}, {"3.3.3.3", {10, true}}, {"4.4.4.4", {0.25, true}}};
  net.install();
  co_await trio::open_tcp_stream("test.example.com", 80);
  CHECK(test::now_s() == Approx(0.8));
  CHECK(net.winner == "4.4.4.4");
  CHECK(net.attempts == attempt_list{{"1.1.1.1", 0.0}, {"2.2.2.2", 0.1}, {"3.3.3.3", 0.3}, {"4.4.4.4", 0.55}});
}

TRIO_TEST_CASE("NET-05 all attempts fail: one error naming host:port, the attempts' errors nested, sockets closed",
               "[net][NET-05]") {
  const std::size_t fds = test::open_fds();
  fake_network net;
  net.hosts = {
      {"1.1.1.1", {0.1, false}}, {"2.2.2.2", {0.2, false}}, {"3.3.3.3", {10, false}}, {"4.4.4.4", {0.25, false}}};
  net.install();
  try {
    co_await trio::open_tcp_stream("test.example.com", 80);
    FAIL("open_tcp_stream succeeded");
  } catch (const std::system_error& e) {
    CHECK(test::now_s() == Approx(10.3));
    CHECK(std::string(e.what()) ==
          "trio::open_tcp_stream: cannot connect to test.example.com port 80 "
          "(tried 1.1.1.1:80, 2.2.2.2:80, 3.3.3.3:80, 4.4.4.4:80): Connection refused");
    CHECK(e.code().value() == ECONNREFUSED);
    try {
      std::rethrow_if_nested(e);
      FAIL("no nested group");
    } catch (const trio::exception_group& g) {
      CHECK(g.exceptions().size() == 4);
    }
  }
  CHECK(test::open_fds() == fds);
}

TEST_CASE("NET-06 RFC 6555 section 5.4 ordering", "[net][NET-06]") {
  auto p = [](std::string_view h) { return trio::socket_address::parse(h, 80); };
  std::vector<trio::socket_address> t = {p("1.0.0.1"), p("1.0.0.2"), p("1.0.0.3"), p("::1"), p("::2")};
  trio::detail::reorder_for_rfc_6555_section_5_4(t);
  CHECK(t == std::vector<trio::socket_address>{p("1.0.0.1"), p("::1"), p("1.0.0.2"), p("1.0.0.3"), p("::2")});
  std::vector<trio::socket_address> u = {p("1.0.0.1"), p("::1"), p("1.0.0.2")};
  auto same = u;
  trio::detail::reorder_for_rfc_6555_section_5_4(u);
  CHECK(u == same);
}

TRIO_TEST_CASE("NET-06 the other family is tried second", "[net][NET-06]") {
  fake_network net;
  net.hosts = {{"1.1.1.1", {10, false}}, {"2.2.2.2", {1, true}}, {"::3", {0.5, true}}};
  net.install();
  co_await trio::open_tcp_stream("test.example.com", 80, delay(1s));
  CHECK(net.winner == "::3");
  CHECK(test::now_s() == Approx(1.5));
  CHECK(net.attempts == attempt_list{{"1.1.1.1", 0.0}, {"::3", 1.0}});
}

TRIO_TEST_CASE("NET-07 a family socket() refuses fails that attempt at once", "[net][NET-07]") {
  fake_network net;
  net.hosts = {{"::1", {10, false}}, {"2.2.2.2", {1, true}}, {"::3", {0.1, true}}};
  net.unsupported_families = {AF_INET};
  net.install();
  co_await trio::open_tcp_stream("test.example.com", 80, delay(1s));
  CHECK(net.winner == "::3");
  CHECK(test::now_s() == Approx(1.1));
  CHECK(net.attempts == attempt_list{{"::1", 0.0}, {"::3", 1.0}});
}

TRIO_TEST_CASE("NET-05 attempts that fail differently: each address with its own error, the last error once",
               "[net][NET-05]") {
  fake_network net;
  net.hosts = {{"::1", {0.1, false}}, {"2.2.2.2", {0.2, false}}};
  net.unsupported_families = {AF_INET6};
  net.install();
  try {
    co_await trio::open_tcp_stream("test.example.com", 80);
    FAIL("open_tcp_stream succeeded");
  } catch (const std::system_error& e) {
    CHECK(std::string(e.what()) ==
          "trio::open_tcp_stream: cannot connect to test.example.com port 80 "
          "(tried [::1]:80: socket() failed: Address family not supported by protocol, 2.2.2.2:80): "
          "Connection refused");
  }
}

TRIO_TEST_CASE("NET-08 input validation and an empty lookup", "[net][NET-08]") {
  CHECK_THROWS_AS(co_await trio::open_tcp_stream("", 80), std::invalid_argument);
  fake_network net;
  net.install();
  CHECK_THROWS_WITH(co_await trio::open_tcp_stream("test.example.com", 80),
                    Catch::StartsWith("no results found for hostname lookup: test.example.com:80"));
}

TRIO_TEST_CASE("NET-09 cancellation during happy eyeballs closes every attempt", "[net][NET-09]") {
  const std::size_t fds = test::open_fds();
  fake_network net;
  net.hosts = {{"1.1.1.1", {10, true}}, {"2.2.2.2", {10, true}}, {"3.3.3.3", {10, true}}, {"4.4.4.4", {10, true}}};
  net.install();
  auto connect = [&]() -> trio::task<> { co_await trio::open_tcp_stream("test.example.com", 80); };
  trio::cancel_scope scope(trio::current_time() + 5s);
  co_await scope.enter(connect);
  CHECK(scope.cancelled_caught());
  CHECK(test::now_s() == 5.0);
  CHECK(net.attempts.size() == 4);
  CHECK(test::open_fds() == fds);
}

TEST_CASE("open_tcp_stream to a real loopback listener, by number and by name", "[net]") {
  test::run_real([]() -> trio::task<> {
    auto listeners = co_await trio::open_tcp_listeners(0, "127.0.0.1");
    REQUIRE(listeners.size() == 1);
    const auto port = listeners[0].socket().local_address().port();
    for (const char* host : {"127.0.0.1", "localhost"}) {
      co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
        n.start_soon([&]() -> trio::task<> {
          trio::socket_stream s = co_await listeners[0].accept();
          co_await s.send_all(std::string_view("hi"));
        });
        trio::socket_stream c = co_await trio::open_tcp_stream(host, port);
        CHECK(co_await c.receive_some() == "hi");
      });
    }
  });
}

TEST_CASE("NET-10 a refused connection: the message names the host, the port and the error once", "[net][NET-10]") {
  test::run_real([]() -> trio::task<> {
    std::uint16_t port;
    {
      auto listeners = co_await trio::open_tcp_listeners(0, "127.0.0.1");
      port = listeners[0].socket().local_address().port();
    }  // closed: nothing listens there now
    try {
      co_await trio::open_tcp_stream("127.0.0.1", port);
      FAIL("open_tcp_stream succeeded");
    } catch (const std::system_error& e) {
      CHECK(std::string(e.what()) ==
            "trio::open_tcp_stream: cannot connect to 127.0.0.1 port " + std::to_string(port) + ": Connection refused");
      CHECK(e.code().value() == ECONNREFUSED);
    }
  });
}
