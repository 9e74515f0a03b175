#include <trio/serve_listeners.hpp>  // first: the header compiles on its own

#include "support/helpers.hpp"

TEST_CASE(
    "NET-12 serve_listeners: handler_nursery, EMFILE retried every 100 ms and logged once, other errors propagate",
    "[net][NET-12]") {
  test::run_real([]() -> trio::task<> {
    // A listener with a connection waiting, and no fd left to accept it with.
    auto listeners = co_await trio::open_tcp_listeners(0, "127.0.0.1");
    const auto addr = listeners[0].socket().local_address();
    auto c = trio::socket::create(AF_INET, SOCK_STREAM);
    co_await c.connect(addr);
    test::stderr_capture err;  // (its file needs an fd: before the fds run out)
    test::fd_exhaustion no_fds;
    int handled = 0;
    auto handler = [&](trio::socket_stream) -> trio::task<> {
      ++handled;
      co_return;
    };
    co_await trio::open_nursery([&](trio::nursery& handlers) -> trio::task<> {
      trio::serve_options options;
      options.handler_nursery = &handlers;
      auto serve = [&]() -> trio::task<> { co_await trio::serve_listeners(handler, std::move(listeners), options); };
      co_await trio::move_on_after(950ms, serve);
    });
    no_fds.release();
    const std::string text = err.text();
    // Ten attempts in 950 ms (every 100 ms), one line for them: the 9 repeats are counted at the stop.
    CHECK(test::count_of(text, "trio.serve_listeners: error") == 1);
    CHECK(test::count_of(text, "Too many open files") == 1);
    CHECK_THAT(text, Catch::Contains("trio.serve_listeners: 9 more like it since the last report, when the "
                                     "accept loop stopped"));
    CHECK(handled == 0);
  });
}

TEST_CASE("NET-12 an accept loop out of fds logs once every 10 s with the count of repeats (virtual time)",
          "[net][NET-12]") {
  test::run_mock([]() -> trio::task<> {
    auto listeners = co_await trio::open_tcp_listeners(0, "127.0.0.1");
    auto c = trio::socket::create(AF_INET, SOCK_STREAM);
    co_await c.connect(listeners[0].socket().local_address());
    test::stderr_capture err;
    test::fd_exhaustion no_fds;
    auto handler = [](trio::socket_stream) -> trio::task<> { co_return; };
    auto serve = [&]() -> trio::task<> { co_await trio::serve_listeners(handler, std::move(listeners)); };
    co_await trio::move_on_after(34950ms, serve);  // attempts at 0, 0.1, ... 34.9 s: 350
    no_fds.release();
    const std::string text = err.text();
    // Lines at 0, 10, 20 and 30 s; the last three count the 99 attempts between; the stop, 49.
    CHECK(test::count_of(text, "trio.serve_listeners: error") == 4);
    CHECK(test::count_of(text, "(99 more like it since the last report)") == 3);
    CHECK_THAT(text, Catch::Contains("trio.serve_listeners: 49 more like it since the last report, when the "
                                     "accept loop stopped"));
    CHECK(test::count_of(text, "\n") == 5);
  });
}

TEST_CASE("NET-12 a server keeps serving once fds free again", "[net][NET-12][reliability]") {
  test::run_real([]() -> trio::task<> {
    int handled = 0;
    auto handler = [&](trio::socket_stream s) -> trio::task<> {
      ++handled;
      co_await s.send_all(std::string_view("ok"));
    };
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      auto addresses = co_await n.start(trio::serve_tcp, handler, 0, "127.0.0.1", trio::serve_options{});
      auto c = trio::socket::create(AF_INET, SOCK_STREAM);
      test::stderr_capture err;
      test::fd_exhaustion no_fds;
      co_await c.connect(addresses[0]);
      co_await trio::sleep(250ms);  // the server hits EMFILE, logs, retries
      no_fds.release();
      std::string buf(4, '\0');
      CHECK(co_await c.recv(std::as_writable_bytes(std::span(buf))) == 2);
      CHECK(buf.substr(0, 2) == "ok");
      CHECK(test::count_of(err.text(), "trio.serve_listeners: error") >= 1);
      n.cancel_scope().cancel();
    });
    CHECK(handled == 1);
  });
}
