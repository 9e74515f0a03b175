// Testing with the mock clock and memory streams. Each TRIO_TEST_CASE body is a coroutine run under
// trio::run with an autojumping mock clock: sleeps and timeouts take no real time and are exact.

#include <trio/testing.hpp>
#include <trio/testing/catch2.hpp>
#include <trio/trio.hpp>

#include <string>
#include <thread>

using namespace std::chrono_literals;

// [code-under-test]
// The code under test: a greeting protocol over any stream. It answers "hello, NAME" to "NAME\n",
// and gives up on a peer that says nothing for 30 s.
template <class Stream>
trio::task<bool> greet(Stream& stream) {
  auto name = co_await trio::move_on_after(30s, [&]() -> trio::task<std::string> {
    std::string line;
    while (line.find('\n') == std::string::npos) {
      std::string data = co_await stream.receive_some();
      if (data.empty()) break;
      line += data;
    }
    co_return line.substr(0, line.find('\n'));
  });
  if (!name) co_return false;
  co_await stream.send_all("hello, " + *name + "\n");
  co_return true;
}
// [code-under-test-end]

// [mock-clock]
TRIO_TEST_CASE("a silent peer is dropped after exactly 30 s", "[howto]") {
  auto [server_side, client_side] = trio::testing::memory_stream_pair();
  const auto start = trio::current_time();
  const bool greeted = co_await greet(server_side);  // the client says nothing
  CHECK_FALSE(greeted);
  CHECK(trio::current_time() - start == 30s);  // virtual time: the test took no real time
}
// [mock-clock-end]

// [memory-streams]
TRIO_TEST_CASE("a peer that sends its name in pieces is greeted", "[howto]") {
  auto streams = trio::testing::memory_stream_pair();  // two ends of a connection, in memory
  auto& server_side = streams.first;
  auto& client_side = streams.second;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> { CHECK(co_await greet(server_side)); });
    co_await client_side.send_all(std::string_view("Al"));
    co_await trio::sleep(10s);  // a slow peer, well under the 30 s limit
    co_await client_side.send_all(std::string_view("ice\n"));
    std::string reply;
    while (reply.find('\n') == std::string::npos) reply += co_await client_side.receive_some();
    CHECK(reply == "hello, Alice\n");
  });
}
// [memory-streams-end]

// [real-time]
// A thread's work takes real time, which the autojumping clock would skip over: a timeout around it
// would fire at once. Such tests use the real clock.
TRIO_REAL_TIME_TEST_CASE("a worker thread's result arrives within its timeout", "[howto]") {
  auto result = co_await trio::move_on_after(5s, [&]() -> trio::task<int> {
    co_return co_await trio::to_thread::run_sync([] {
      std::this_thread::sleep_for(20ms);
      return 7;
    });
  });
  CHECK(result == 7);
}
// [real-time-end]
