#include <trio/channel.hpp>  // first: the header compiles on its own

#include <memory>
#include <random>
#include <set>

#include "support/helpers.hpp"

TRIO_TEST_CASE("CH-02 buffered channel basics", "[channel]") {
  auto ch = trio::open_memory_channel<int>(2);
  auto& s = ch.first;
  auto& r = ch.second;
  s.send_nowait(1);
  co_await s.send(2);
  CHECK_THROWS_AS(s.send_nowait(3), trio::would_block);
  CHECK(co_await r.receive() == 1);
  CHECK(r.receive_nowait() == 2);
  CHECK_THROWS_AS(r.receive_nowait(), trio::would_block);
  auto big = trio::open_memory_channel<int>(trio::unbounded);
  for (int i = 0; i < 1000; ++i) big.first.send_nowait(i);
  for (int i = 0; i < 1000; ++i) CHECK(big.second.receive_nowait() == i);
}

TRIO_TEST_CASE("CH-03 closing the send side", "[channel]") {
  auto ch = trio::open_memory_channel<std::string>(2);
  auto& s = ch.first;
  auto& r = ch.second;
  s.send_nowait("last");
  co_await s.aclose();
  CHECK_THROWS_AS(co_await s.send("x"), trio::closed_resource_error);
  CHECK_THROWS_AS(s.send_nowait("x"), trio::closed_resource_error);
  CHECK_THROWS_AS(s.clone(), trio::closed_resource_error);
  co_await s.aclose();
  CHECK(co_await r.receive() == "last");
  CHECK_THROWS_AS(co_await r.receive(), trio::end_of_channel);
  CHECK_THROWS_AS(r.receive_nowait(), trio::end_of_channel);
  CHECK_FALSE((co_await r.next()).has_value());
  co_await r.aclose();
  CHECK_THROWS_AS(co_await r.receive(), trio::closed_resource_error);
}

TRIO_TEST_CASE("CH-04 closing the receive side breaks senders and drops the buffer", "[channel]") {
  auto ch = trio::open_memory_channel<int>(2);
  auto& s = ch.first;
  auto& r = ch.second;
  s.send_nowait(1);
  s.send_nowait(2);
  test::event_log rec;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      try {
        co_await s.send(3);
      } catch (const trio::broken_resource_error&) {
        rec("sender broken");
      }
    });
    co_await trio::testing::wait_all_tasks_blocked();
    CHECK(s.statistics().current_buffer_used == 2);
    r.close();
    CHECK(s.statistics().current_buffer_used == 0);
  });
  CHECK(rec.entries == std::vector<std::string>{"sender broken"});
  CHECK_THROWS_AS(co_await s.send(4), trio::broken_resource_error);
  CHECK_THROWS_AS(s.send_nowait(4), trio::broken_resource_error);
}

TRIO_TEST_CASE("CH-05 closing a handle wakes only the tasks blocked on it / CH-06 clones", "[channel]") {
  auto ch = trio::open_memory_channel<std::string>(0);
  auto& s1 = ch.first;
  auto& r = ch.second;
  auto s2 = s1.clone();
  test::event_log rec;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      try {
        co_await s1.send("x");
      } catch (const trio::closed_resource_error&) {
        rec("s1 sender closed");
      }
    });
    n.start_soon([&]() -> trio::task<> {
      co_await trio::testing::wait_all_tasks_blocked();
      co_await s2.send("ok");
      rec("s2 delivered");
    });
    co_await trio::testing::wait_all_tasks_blocked();
    s1.close();
    co_await trio::testing::wait_all_tasks_blocked();
    CHECK(co_await r.receive() == "ok");
  });
  CHECK(rec.entries == std::vector<std::string>{"s1 sender closed", "s2 delivered"});
  // The receive side is broken only when every receive handle is closed.
  auto r2 = r.clone();
  auto r3 = r2.clone();
  r.close();
  r2.close();
  CHECK(s2.statistics().open_receive_channels == 1);
  CHECK_THROWS_AS(s2.send_nowait("y"), trio::would_block);
  r3.close();
  CHECK_THROWS_AS(s2.send_nowait("y"), trio::broken_resource_error);
}

TRIO_TEST_CASE("CH is_closed: per handle, after close, aclose and a move", "[channel]") {
  auto ch = trio::open_memory_channel<int>(1);
  auto& tx = ch.first;
  auto& rx = ch.second;
  auto tx2 = tx.clone();
  CHECK_FALSE(tx.is_closed());
  CHECK_FALSE(rx.is_closed());
  tx.close();
  CHECK(tx.is_closed());
  CHECK_FALSE(tx2.is_closed());  // a clone is a handle of its own
  auto moved = std::move(tx2);
  CHECK(tx2.is_closed());  // NOLINT(bugprone-use-after-move): a moved-from handle counts as closed
  CHECK_FALSE(moved.is_closed());
  co_await rx.aclose();
  CHECK(rx.is_closed());
}

TRIO_TEST_CASE("CH-05 closing the last sender wakes every blocked receiver with end of channel", "[channel]") {
  auto ch = trio::open_memory_channel<int>(0);
  auto r2 = ch.second.clone();
  int ended = 0;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      CHECK_THROWS_AS(co_await ch.second.receive(), trio::end_of_channel);
      ++ended;
    });
    n.start_soon([&]() -> trio::task<> {
      CHECK_FALSE((co_await r2.next()).has_value());
      ++ended;
    });
    co_await trio::testing::wait_all_tasks_blocked();
    ch.first.close();
  });
  CHECK(ended == 2);
}

TRIO_TEST_CASE("CH-07 buffer 0 is a rendezvous", "[channel]") {
  auto ch = trio::open_memory_channel<int>(0);
  auto& s = ch.first;
  auto& r = ch.second;
  CHECK_THROWS_AS(s.send_nowait(1), trio::would_block);
  CHECK_THROWS_AS(r.receive_nowait(), trio::would_block);
  const double t0 = test::now_s();
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await trio::sleep(1s);
      CHECK(co_await r.receive() == 7);
    });
    co_await s.send(7);  // completes only when the receiver takes it
    CHECK(test::now_s() - t0 == 1.0);
  });
}

TRIO_TEST_CASE("CH-08 no barging", "[channel]") {
  auto ch = trio::open_memory_channel<int>(1);
  auto& s = ch.first;
  auto& r = ch.second;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> { CHECK(co_await r.receive() == 2); });
    co_await trio::testing::wait_all_tasks_blocked();
    s.send_nowait(2);  // straight to the waiting receiver
    CHECK_THROWS_AS(r.receive_nowait(), trio::would_block);
  });
  s.send_nowait(1);  // buffer full
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> { co_await s.send(2); });
    co_await trio::testing::wait_all_tasks_blocked();
    CHECK(r.receive_nowait() == 1);  // frees a slot: the blocked sender's 2 moves in
    CHECK_THROWS_AS(s.send_nowait(3), trio::would_block);
    CHECK(co_await r.receive() == 2);
  });
}

TRIO_TEST_CASE("CH-09 statistics", "[channel]") {
  auto ch = trio::open_memory_channel<int>(2);
  auto st = ch.first.statistics();
  CHECK(st.current_buffer_used == 0);
  CHECK(st.max_buffer_size == 2);
  CHECK(st.open_send_channels == 1);
  CHECK(st.open_receive_channels == 1);
  CHECK(st.tasks_waiting_send == 0);
  CHECK(st.tasks_waiting_receive == 0);
  auto s2 = ch.first.clone();
  CHECK(ch.second.statistics().open_send_channels == 2);
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i = 0; i < 2; ++i) n.start_soon([&]() -> trio::task<> { (void)co_await ch.second.receive(); });
    co_await trio::testing::wait_all_tasks_blocked();
    CHECK(ch.first.statistics().tasks_waiting_receive == 2);
    n.cancel_scope().cancel();
  });
  CHECK(ch.first.statistics().tasks_waiting_receive == 0);
  ch.first.send_nowait(1);
  ch.first.send_nowait(2);
  (void)ch.second.receive_nowait();
  CHECK(ch.first.statistics().peak_buffer_used == 2);
}

TRIO_TEST_CASE("CH-10 fan-in and fan-out through clones", "[channel]") {
  auto ch = trio::open_memory_channel<int>(0);
  std::vector<int> got;
  std::vector<int> per_consumer(5, 0);
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int p = 0; p < 10; ++p)
      n.start_soon(
          [](trio::send_channel<int> tx, int p) -> trio::task<> {
            for (int i = 0; i < 3; ++i) co_await tx.send(p * 3 + i);
          },
          ch.first.clone(), p);
    ch.first.close();
    auto rx = std::make_shared<trio::receive_channel<int>>(std::move(ch.second));
    for (int c = 0; c < 5; ++c)
      n.start_soon([&, rx, c]() -> trio::task<> {
        while (auto v = co_await rx->next()) {
          got.push_back(*v);
          ++per_consumer[static_cast<std::size_t>(c)];
          co_await trio::sleep(1ms);
        }
      });
    co_return;
  });
  std::sort(got.begin(), got.end());
  REQUIRE(got.size() == 30);
  for (int i = 0; i < 30; ++i) CHECK(got[static_cast<std::size_t>(i)] == i);
  for (int c : per_consumer) CHECK(c > 0);
}

TRIO_TEST_CASE("CH-11 a cancelled receive leaves no ghost", "[channel]") {
  auto ch = trio::open_memory_channel<std::string>(1);
  const double t0 = test::now_s();
  bool finished = co_await trio::move_on_after(10s, [&]() -> trio::task<> { (void)co_await ch.second.receive(); });
  CHECK_FALSE(finished);
  CHECK(test::now_s() - t0 == 10.0);
  co_await ch.first.send("x");
  CHECK(ch.second.receive_nowait() == "x");
}

TRIO_TEST_CASE("CP-03 channel operations are checkpoints / end of channel is a cancel point only",
               "[channel][checkpoint]") {
  auto ch = trio::open_memory_channel<int>(4);
  trio::cancel_scope cs;
  co_await cs.enter([&]() -> trio::task<> {
    cs.cancel();
    co_await ch.first.send(1);  // would not block: still cancelled, nothing sent
  });
  CHECK(cs.cancelled_caught());
  CHECK(ch.first.statistics().current_buffer_used == 0);
  ch.first.send_nowait(5);  // CP-04: nowait is not a checkpoint
  ch.first.close();
  CHECK(co_await ch.second.receive() == 5);
  CHECK_THROWS_AS(co_await ch.second.receive(), trio::end_of_channel);
}

TRIO_TEST_CASE("CH move-only payloads", "[channel]") {
  auto ch = trio::open_memory_channel<std::unique_ptr<int>>(0);
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> { co_await ch.first.send(std::make_unique<int>(9)); });
    auto p = co_await ch.second.receive();
    CHECK(*p == 9);
  });
}

TRIO_TEST_CASE("CH 10 producers x 100,000 items through a bounded channel to 4 consumers", "[channel][stress]") {
  constexpr int producers = 10, per_producer = 100000, consumers = 4;
  auto ch = trio::open_memory_channel<std::int64_t>(64);
  std::vector<std::int64_t> counts(static_cast<std::size_t>(producers) * per_producer, 0);
  std::int64_t total = 0;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int p = 0; p < producers; ++p)
      n.start_soon(
          [](trio::send_channel<std::int64_t> tx, int p) -> trio::task<> {
            for (int i = 0; i < per_producer; ++i) co_await tx.send(static_cast<std::int64_t>(p) * per_producer + i);
          },
          ch.first.clone(), p);
    ch.first.close();
    for (int c = 0; c < consumers; ++c)
      n.start_soon(
          [&](trio::receive_channel<std::int64_t> rx) -> trio::task<> {
            while (auto v = co_await rx.next()) {
              ++counts[static_cast<std::size_t>(*v)];
              ++total;
            }
          },
          ch.second.clone());
    ch.second.close();
    co_return;
  });
  CHECK(total == static_cast<std::int64_t>(producers) * per_producer);
  CHECK(std::all_of(counts.begin(), counts.end(), [](std::int64_t c) { return c == 1; }));  // none lost or duplicated
}

TEST_CASE("CH cancellation at every point of send and receive: no lost item, no stuck waiter (1,000 trials)",
          "[channel][stress]") {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 1000; ++trial) {
    const unsigned seed = static_cast<unsigned>(rng());
    test::run_mock([seed]() -> trio::task<> {
      std::mt19937 r(seed);
      auto ch = trio::open_memory_channel<int>(r() % 3);
      std::multiset<int> sent, received;
      co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
        for (int t = 0; t < 3; ++t) {
          const auto d = std::chrono::milliseconds(r() % 6);
          n.start_soon([&, d, t]() -> trio::task<> {
            co_await trio::move_on_after(d, [&]() -> trio::task<> {
              for (int i = 0; i < 4; ++i) {
                const int v = t * 10 + i;
                co_await ch.first.send(v);
                sent.insert(v);  // only reached when the send happened
                co_await trio::sleep(1ms);
              }
            });
          });
          const auto e = std::chrono::milliseconds(r() % 6);
          n.start_soon([&, e]() -> trio::task<> {
            co_await trio::move_on_after(e, [&]() -> trio::task<> {
              for (;;) received.insert(co_await ch.second.receive());
            });
          });
        }
        co_return;
      });
      while (true) {  // what is still buffered was sent and not yet received
        try {
          received.insert(ch.second.receive_nowait());
        } catch (const trio::would_block&) {
          break;
        }
      }
      CHECK(sent == received);
      CHECK(ch.first.statistics().tasks_waiting_send == 0);
      CHECK(ch.first.statistics().tasks_waiting_receive == 0);
    });
  }
}
