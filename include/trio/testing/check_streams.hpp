#pragma once
/// \file
/// The stream contract as executable checks (spec STR-01..06): run them against any stream type.
///
///     co_await trio::testing::check_two_way_stream([]() -> trio::task<std::pair<S, S>> { ... });
///
/// A maker is a callable returning an awaitable of a fresh connected std::pair (sender, receiver for
/// the one-way check; two ends for the others). A failed check throws std::runtime_error naming it.
/// As in Trio's checkers, the streams a case does not close on purpose are closed with
/// aclose_forcefully (a TLS stream whose peer never handshook must not wait for it).

#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

#include "trio/cancel_scope.hpp"
#include "trio/errors.hpp"
#include "trio/nursery.hpp"
#include "trio/stream.hpp"
#include "trio/task.hpp"
#include "trio/testing/wait_all_tasks_blocked.hpp"

namespace trio::testing {

namespace check_detail {
inline void expect(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("trio::testing stream check failed: " + what);
}
/// Runs body and expects it to throw E.
template <class E, class F>
task<void> expect_throws(F& body, std::string what) {
  bool thrown = false;
  try {
    co_await body();
  } catch (const E&) {
    thrown = true;
  }
  expect(thrown, what);
}
template <class S>
task<std::string> receive_exactly(S& s, std::size_t n) {
  std::string out;
  std::string buf(n, '\0');
  while (out.size() < n) {
    const std::size_t k = co_await s.receive_some(std::as_writable_bytes(std::span(buf.data(), n - out.size())));
    expect(k != 0, "the stream ended early");
    out.append(buf.data(), k);
  }
  co_return out;
}
template <class S>
task<void> send_text(S& s, const std::string& text) {
  co_await s.send_all(std::as_bytes(std::span(text.data(), text.size())));
}
inline std::string pattern(std::size_t n, unsigned seed) {
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>((i * 131 + seed) & 0xff);
  return out;
}
}  // namespace check_detail

/// STR-01..03, 05, 06 for a one-way pair (make() → {sender, receiver}).
template <class Maker>
task<void> check_one_way_stream(Maker make) {
  using check_detail::expect;
  {                               // bytes arrive in order, whatever the chunking; send_all of nothing is allowed
    auto made = co_await make();  // (no structured binding: clang 14 cannot capture one)
    auto& s = made.first;
    auto& r = made.second;
    const std::string data = check_detail::pattern(100'000, 1);
    std::string got;
    auto sender = [&]() -> task<void> {
      co_await check_detail::send_text(s, std::string());
      co_await check_detail::send_text(s, data);
    };
    auto receiver = [&]() -> task<void> { got = co_await check_detail::receive_exactly(r, data.size()); };
    co_await open_nursery([&](nursery& n) -> task<void> {
      n.start_soon(sender);
      n.start_soon(receiver);
      co_return;
    });
    expect(got == data, "the receiver got what was sent, in order");
    // receive_some of an empty buffer is an error (STR-02)
    auto empty_receive = [&]() -> task<void> { co_await r.receive_some(std::span<std::byte>()); };
    co_await check_detail::expect_throws<std::invalid_argument>(empty_receive, "receive_some(empty buffer) throws");
    co_await aclose_forcefully(s);
    co_await aclose_forcefully(r);
  }
  {                               // two receivers at once: busy_resource_error (STR-03)
    auto made = co_await make();  // (no structured binding: clang 14 cannot capture one)
    auto& s = made.first;
    auto& r = made.second;
    auto two = [&]() -> task<void> {
      co_await open_nursery([&](nursery& n) -> task<void> {
        auto rx = [&]() -> task<void> {
          std::byte b[1];
          co_await r.receive_some(std::span<std::byte>(b, 1));
        };
        n.start_soon(rx);
        n.start_soon(rx);
        co_return;
      });
    };
    co_await check_detail::expect_throws<busy_resource_error>(two, "two concurrent receive_some: busy_resource_error");
    co_await aclose_forcefully(s);
    co_await aclose_forcefully(r);
  }
  {                               // closing the sender: the receiver reads the data, then the end, for ever (STR-05)
    auto made = co_await make();  // (no structured binding: clang 14 cannot capture one)
    auto& s = made.first;
    auto& r = made.second;
    auto sender = [&]() -> task<void> {
      co_await check_detail::send_text(s, "end");
      co_await s.aclose();
    };
    std::string got;
    std::size_t after = 1;
    auto receiver = [&]() -> task<void> {
      got = co_await check_detail::receive_exactly(r, 3);
      std::byte b[8];
      after = co_await r.receive_some(std::span<std::byte>(b, 8));
      after += co_await r.receive_some(std::span<std::byte>(b, 8));
    };
    co_await open_nursery([&](nursery& n) -> task<void> {
      n.start_soon(sender);
      n.start_soon(receiver);
      co_return;
    });
    expect(got == "end" && after == 0, "after the sender's aclose the receiver reads the data, then 0 for ever");
    // operations on a stream this side closed: closed_resource_error; aclose is idempotent
    co_await s.aclose();
    auto send_empty = [&]() -> task<void> { co_await check_detail::send_text(s, std::string()); };
    co_await check_detail::expect_throws<closed_resource_error>(send_empty,
                                                                "send_all after aclose: closed_resource_error");
    auto wait = [&]() -> task<void> { co_await s.wait_send_all_might_not_block(); };
    co_await check_detail::expect_throws<closed_resource_error>(
        wait, "wait_send_all_might_not_block after aclose: closed_resource_error");
    co_await r.aclose();
    co_await r.aclose();
    auto receive = [&]() -> task<void> {
      std::byte b[1];
      co_await r.receive_some(std::span<std::byte>(b, 1));
    };
    co_await check_detail::expect_throws<closed_resource_error>(receive,
                                                                "receive_some after aclose: closed_resource_error");
  }
  {                               // the receiver closed: sending breaks, and stays broken (STR-05)
    auto made = co_await make();  // (no structured binding: clang 14 cannot capture one)
    auto& s = made.first;
    auto& r = made.second;
    co_await aclose_forcefully(r);
    const std::string chunk(65536, 'b');
    auto flood = [&]() -> task<void> {
      for (int i = 0; i < 2000; ++i) co_await check_detail::send_text(s, chunk);
    };
    co_await check_detail::expect_throws<broken_resource_error>(flood,
                                                                "sending to a closed receiver: broken_resource_error");
    co_await check_detail::expect_throws<broken_resource_error>(flood, "and it stays broken");
    co_await aclose_forcefully(s);
  }
  {  // aclose in a cancelled scope still closes; a blocked receive_some wakes when another task closes
    auto made = co_await make();  // (no structured binding: clang 14 cannot capture one)
    auto& s = made.first;
    auto& r = made.second;
    cancel_scope scope;
    scope.cancel();
    auto close_s = [&]() -> task<void> { co_await s.aclose(); };
    co_await scope.enter(close_s);
    auto send_empty = [&]() -> task<void> { co_await check_detail::send_text(s, std::string()); };
    co_await check_detail::expect_throws<closed_resource_error>(send_empty, "aclose in a cancelled scope closes");
    co_await aclose_forcefully(r);
  }
  {
    auto made = co_await make();
    auto& s = made.first;
    auto& r = made.second;
    bool woke = false;
    co_await open_nursery([&](nursery& n) -> task<void> {
      auto blocked = [&]() -> task<void> {
        try {
          std::byte b[1];
          co_await r.receive_some(std::span<std::byte>(b, 1));
        } catch (const closed_resource_error&) {
          woke = true;
        }
      };
      n.start_soon(blocked);
      co_await wait_all_tasks_blocked();
      co_await aclose_forcefully(r);
    });
    expect(woke, "a task blocked in receive_some wakes with closed_resource_error when the stream is closed");
    co_await aclose_forcefully(s);
  }
}

/// The one-way checks in both directions, and both directions at once (make() → {a, b}).
template <class Maker>
task<void> check_two_way_stream(Maker make) {
  auto forward = [&]() -> decltype(make()) { return make(); };
  co_await check_one_way_stream(forward);
  auto reversed = [&]() -> decltype(make()) {
    auto pair = co_await make();
    co_return decltype(pair)(std::move(pair.second), std::move(pair.first));
  };
  co_await check_one_way_stream(reversed);
  auto made = co_await make();
  auto& a = made.first;
  auto& b = made.second;
  const std::string ab = check_detail::pattern(1 << 20, 7), ba = check_detail::pattern(1 << 20, 9);
  std::string at_b, at_a;
  co_await open_nursery([&](nursery& n) -> task<void> {
    auto send_a = [&]() -> task<void> { co_await check_detail::send_text(a, ab); };
    auto send_b = [&]() -> task<void> { co_await check_detail::send_text(b, ba); };
    auto recv_a = [&]() -> task<void> { at_a = co_await check_detail::receive_exactly(a, ba.size()); };
    auto recv_b = [&]() -> task<void> { at_b = co_await check_detail::receive_exactly(b, ab.size()); };
    n.start_soon(send_a);
    n.start_soon(send_b);
    n.start_soon(recv_a);
    n.start_soon(recv_b);
    co_return;
  });
  check_detail::expect(at_a == ba && at_b == ab, "1 MiB each way at once arrives intact");
  co_await aclose_forcefully(a);
  co_await aclose_forcefully(b);
}

/// check_two_way_stream plus send_eof (STR-04).
template <class Maker>
task<void> check_half_closeable_stream(Maker make) {
  using check_detail::expect;
  co_await check_two_way_stream(make);
  auto made = co_await make();
  auto& a = made.first;
  auto& b = made.second;
  std::string got, back;
  std::size_t end = 1;
  co_await open_nursery([&](nursery& n) -> task<void> {
    auto sender = [&]() -> task<void> {
      co_await check_detail::send_text(a, "x");
      co_await a.send_eof();
      co_await a.send_eof();  // idempotent
      auto after = [&]() -> task<void> { co_await check_detail::send_text(a, "y"); };
      co_await check_detail::expect_throws<closed_resource_error>(after,
                                                                  "send_all after send_eof: closed_resource_error");
      back = co_await check_detail::receive_exactly(a, 4);
    };
    auto receiver = [&]() -> task<void> {
      got = co_await check_detail::receive_exactly(b, 1);
      std::byte buf[4];
      end = co_await b.receive_some(std::span<std::byte>(buf, 4));
      co_await check_detail::send_text(b, "back");
    };
    n.start_soon(sender);
    n.start_soon(receiver);
    co_return;
  });
  expect(got == "x" && end == 0, "after send_eof the peer reads the data, then the end");
  expect(back == "back", "after send_eof the other direction still works");
  co_await aclose_forcefully(a);
  co_await aclose_forcefully(b);
}

}  // namespace trio::testing
