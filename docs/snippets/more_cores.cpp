// Using more cores: one trio::run per thread, each with its own listening socket on the same port
// (SO_REUSEPORT); the kernel spreads the connections between them. The threads share nothing but
// what is made thread-safe on purpose (here: an atomic counter, and each run's trio_token).
//
// Run alone, it starts two runners, sends them 20 connections and stops them.

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

// [handler]
std::atomic<int> served{0};

trio::task<> echo(trio::socket_stream stream) {
  try {
    for (std::string data; !(data = co_await stream.receive_some()).empty();) {
      ++served;  // shared by every runner's thread: an atomic
      co_await stream.send_all(data);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "echo: {}\n", e.what());
  }
}
// [handler-end]

// [runner]
// What a runner hands back once it listens: its port, its trio_token (the one thread-safe way into
// a run) and the scope that stops it.
struct runner_handle {
  std::uint16_t port;
  trio::trio_token token;
  trio::cancel_scope* stop;
};

// One runner: a whole trio program of its own, in its own thread.
trio::task<> runner(std::uint16_t port, std::promise<runner_handle> ready) {
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    trio::serve_options options;
    options.listen.reuse_port = true;  // every runner binds the same port
    auto addresses = co_await n.start(trio::serve_tcp, echo, port, "127.0.0.1", options);
    ready.set_value({addresses[0].port(), trio::lowlevel::current_trio_token(), &n.cancel_scope()});
  });
}
// [runner-end]

trio::task<> clients(std::uint16_t port, int count) {
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i = 0; i < count; ++i)
      n.start_soon([port]() -> trio::task<> {
        trio::socket_stream s = co_await trio::open_tcp_stream("127.0.0.1", port);
        co_await s.send_all(std::string_view("ping"));
        co_await s.receive_some();
        co_await s.aclose();
      });
    co_return;
  });
}

int main() {
  // [start]
  const unsigned runners = 2;  // std::thread::hardware_concurrency() in a real server
  std::vector<std::thread> threads;
  std::vector<runner_handle> handles;
  std::uint16_t port = 0;  // the first runner picks a free port; the others join it
  for (unsigned i = 0; i < runners; ++i) {
    std::promise<runner_handle> ready;
    std::future<runner_handle> started = ready.get_future();
    threads.emplace_back([port, ready = std::move(ready)]() mutable { trio::run(runner, port, std::move(ready)); });
    handles.push_back(started.get());
    port = handles.back().port;
  }
  // [start-end]

  trio::run(clients, port, 20);

  // [stop]
  // Stop: from this thread, ask each run to cancel its nursery (in its own thread); then join them.
  for (const runner_handle& h : handles) h.token.run_sync_soon([stop = h.stop] { stop->cancel(); });
  for (std::thread& t : threads) t.join();
  // [stop-end]
  fmt::print("{} runners on one port echoed {} messages\n", runners, served.load());
}
