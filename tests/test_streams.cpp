#include <trio/testing/check_streams.hpp>  // first: the headers compile on their own
#include <trio/testing/memory_streams.hpp>
#include <trio/testing/sequencer.hpp>

#include "support/helpers.hpp"

namespace tt = trio::testing;

namespace {
trio::task<std::pair<trio::socket_stream, trio::socket_stream>> make_socketpair() {
  auto p = trio::socket::pair();
  co_return std::pair<trio::socket_stream, trio::socket_stream>(trio::socket_stream(std::move(p.first)),
                                                                trio::socket_stream(std::move(p.second)));
}
trio::task<std::pair<trio::socket_stream, trio::socket_stream>> make_tcp_loopback() {
  auto listeners = co_await trio::open_tcp_listeners(0, "127.0.0.1");
  trio::socket_stream client =
      co_await trio::open_tcp_stream("127.0.0.1", listeners[0].socket().local_address().port());
  trio::socket_stream server = co_await listeners[0].accept();
  co_return std::pair<trio::socket_stream, trio::socket_stream>(std::move(client), std::move(server));
}
trio::task<std::pair<tt::memory_stream, tt::memory_stream>> make_memory() { co_return tt::memory_stream_pair(); }
trio::task<std::pair<tt::lockstep_stream, tt::lockstep_stream>> make_lockstep() {
  co_return tt::lockstep_stream_pair();
}
trio::task<std::pair<tt::memory_send_stream, tt::memory_receive_stream>> make_memory_one_way() {
  co_return tt::memory_stream_one_way_pair();
}
}  // namespace

static_assert(trio::half_closeable_stream<tt::memory_stream>);
static_assert(trio::half_closeable_stream<tt::lockstep_stream>);

TRIO_TEST_CASE("STR-01 the stream checkers pass for memory pairs", "[streams][STR-01]") {
  co_await tt::check_one_way_stream(make_memory_one_way);
  co_await tt::check_half_closeable_stream(make_memory);
}

TRIO_TEST_CASE("STR-01 the stream checkers pass for lockstep pairs", "[streams][STR-01]") {
  co_await tt::check_half_closeable_stream(make_lockstep);
}

TRIO_TEST_CASE("STR-01 the stream checkers pass for socket_stream over socketpair()", "[streams][STR-01]") {
  co_await tt::check_half_closeable_stream(make_socketpair);
}

TEST_CASE("STR-01 the stream checkers pass for socket_stream over TCP loopback", "[streams][STR-01]") {
  test::run_real([]() -> trio::task<> { co_await tt::check_half_closeable_stream(make_tcp_loopback); });
}

TRIO_TEST_CASE("STR-07 lockstep: send_all returns only after the receiver took the data", "[streams][STR-07]") {
  auto pair = tt::lockstep_stream_one_way_pair();
  auto& s = pair.first;
  auto& r = pair.second;
  std::vector<std::string> log;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    auto sender = [&]() -> trio::task<> {
      log.push_back("send start");
      co_await s.send_all(std::string_view("abc"));
      log.push_back("send done");
    };
    auto receiver = [&]() -> trio::task<> {
      co_await trio::testing::wait_all_tasks_blocked();
      log.push_back("receiver starts");
      log.push_back(co_await r.receive_some());
    };
    n.start_soon(sender);
    n.start_soon(receiver);
    co_return;
  });
  CHECK(log == std::vector<std::string>{"send start", "receiver starts", "abc", "send done"});
}

TRIO_TEST_CASE("STR-08 memory send and receive streams: get_data, put_data, put_eof, hooks", "[streams][STR-08]") {
  tt::memory_send_stream ms;
  co_await ms.send_all(std::string_view("123"));
  CHECK(ms.get_data_nowait(1) == "1");
  CHECK(ms.get_data_nowait() == "23");
  CHECK_THROWS_AS(ms.get_data_nowait(), trio::would_block);
  std::vector<std::string> log;
  auto hook = [&]() -> trio::task<> {
    log.push_back("hook");
    co_return;
  };
  ms.send_all_hook() = hook;
  co_await ms.send_all(std::string_view("x"));
  log.push_back(ms.get_data_nowait());
  CHECK(log == std::vector<std::string>{"hook", "x"});  // the hook ran after the data went in
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    auto get = [&]() -> trio::task<> { co_await ms.get_data(); };
    n.start_soon(get);
    co_await trio::testing::wait_all_tasks_blocked();
    CHECK_THROWS_AS(co_await ms.get_data(), trio::busy_resource_error);
    co_await ms.send_all(std::string_view("y"));
  });

  tt::memory_receive_stream mr;
  mr.put_data("def");
  mr.put_eof();
  CHECK(co_await mr.receive_some() == "def");
  CHECK(co_await mr.receive_some() == "");
  CHECK(co_await mr.receive_some() == "");
  co_await mr.aclose();
  CHECK_THROWS_AS(mr.put_data("x"), trio::closed_resource_error);

  tt::memory_send_stream a;
  tt::memory_receive_stream b;
  co_await a.send_all(std::string_view("pump"));
  CHECK(tt::memory_stream_pump(a, b, 2));
  CHECK(co_await b.receive_some() == "pu");
  CHECK(tt::memory_stream_pump(a, b));
  CHECK_FALSE(tt::memory_stream_pump(a, b));
  CHECK(co_await b.receive_some() == "mp");
}

TRIO_TEST_CASE("STR-09 stapled_stream delegates / send_eof closes a send stream without send_eof",
               "[streams][STR-09]") {
  tt::memory_send_stream out;
  tt::memory_receive_stream in;
  in.put_data("in");
  trio::stapled_stream st(std::move(out), std::move(in));
  co_await st.send_all(std::string_view("out"));
  CHECK(st.send_stream().get_data_nowait() == "out");
  CHECK(co_await st.receive_some() == "in");
  co_await st.send_eof();
  CHECK(st.send_stream().closed());
  CHECK_FALSE(st.receive_stream().closed());
  // aclose closes both, even when the first raises
  auto boom = []() -> trio::task<> {
    throw std::runtime_error("send side failed to close");
    co_return;
  };
  tt::memory_send_stream out2;
  out2.close_hook() = boom;
  trio::stapled_stream st2(std::move(out2), tt::memory_receive_stream());
  CHECK_THROWS_WITH(co_await st2.aclose(), "send side failed to close");
  CHECK(st2.receive_stream().closed());
}

TRIO_TEST_CASE("TEST-05 sequencer runs blocks in order / reuse is an error / a cancelled waiter breaks it",
               "[testing][TEST-05]") {
  tt::sequencer seq;
  std::vector<int> order;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i : {3, 1, 0, 2}) {
      n.start_soon(
          [&seq, &order](int k) -> trio::task<> {
            auto turn = co_await seq(static_cast<std::size_t>(k));
            co_await trio::sleep(1s);
            order.push_back(k);
          },
          i);
    }
    co_return;
  });
  CHECK(order == std::vector<int>{0, 1, 2, 3});
  CHECK_THROWS_AS(co_await seq(0), std::logic_error);

  tt::sequencer broken;
  int errors = 0;
  auto waiter = [&](std::size_t k) -> trio::task<> {
    try {
      auto turn = co_await broken(k);
    } catch (const std::runtime_error&) {
      ++errors;
    }
  };
  auto cancelled = [&]() -> trio::task<> {
    auto wait = [&]() -> trio::task<> { co_await waiter(1); };
    co_await trio::move_on_after(1s, wait);
  };
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon(cancelled);  // position 1 never gets its turn (0 never runs) and is cancelled
    n.start_soon(waiter, std::size_t{2});
    co_return;
  });
  CHECK(errors == 2);
  CHECK_THROWS_AS(co_await broken(3), std::runtime_error);
}

TRIO_TEST_CASE("socket_stream destroyed while other tasks receive and send on it: they get closed_resource_error",
               "[streams]") {
  for (int overload = 0; overload < 2; ++overload) {
    auto p = trio::socket::pair();
    auto a = std::make_unique<trio::socket_stream>(std::move(p.first));
    trio::socket_stream b(std::move(p.second));
    std::vector<std::string> errors;
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> {
        try {
          std::byte buf[16];
          if (overload == 0)
            co_await a->receive_some(std::span<std::byte>(buf));
          else
            co_await a->receive_some(16);
        } catch (const trio::closed_resource_error& e) {
          errors.push_back(e.what());
        }
      });
      n.start_soon([&]() -> trio::task<> {
        try {
          co_await a->send_all(std::string(16 << 20, 'x'));  // more than the socket buffers hold
        } catch (const trio::closed_resource_error& e) {
          errors.push_back(e.what());
        }
      });
      co_await tt::wait_all_tasks_blocked();
      a.reset();
      co_return;
    });
    REQUIRE(errors.size() == 2);
    for (const auto& e : errors) CHECK_THAT(e, Catch::Contains("was closed"));
  }
}
