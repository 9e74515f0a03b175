// Using more cores: trio::run_per_core runs a group of runners, each a thread with its own trio::run
// (its own loop and io_uring ring), and every runner serves the same port (SO_REUSEPORT): the kernel
// spreads the connections between them. The runners share only what is made to cross threads: a
// shared channel, on_runner, and slots that each runner uses alone.
//
// Run alone, it starts a group of two runners, sends them 20 connections and stops every runner with
// on_runner; then it runs a group in which one runner fails.

#include <fmt/core.h>
#include <sys/socket.h>
#include <trio/trio.hpp>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// [state]
// What the runners share, made before run_per_core. Slot i of `stops` and `served` is used by runner i
// only; `ready` is a shared channel, whose ends work from any runner.
struct group_state {
  explicit group_state(std::size_t runners)
      : stops(runners), served(runners), ready(trio::open_shared_channel<std::size_t>(runners)) {}
  std::vector<trio::cancel_scope*> stops;  // each runner's server scope
  std::vector<int> served;                 // connections each runner accepted
  std::pair<trio::send_channel<std::size_t>, trio::receive_channel<std::size_t>> ready;
};
// [state-end]

// [handler]
// A connection's task runs on the runner whose listening socket accepted it.
trio::task<> echo(trio::socket_stream stream, int* served) {
  ++*served;  // this runner's slot: no other thread touches it
  try {
    for (std::string data; !(data = co_await stream.receive_some()).empty();) co_await stream.send_all(data);
  } catch (const std::exception& e) {  // a reset, a broken pipe: this connection only
    fmt::print(stderr, "runner {}: {}\n", trio::runner_index(), e.what());
  }
}
// [handler-end]

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

// [stop]
// Stops every runner: on_runner runs the lambda on runner i, in its thread, where that runner's cancel
// scope may be cancelled. This runner last: the calling task runs inside its scope.
trio::task<> stop_every_runner(group_state* st) {
  for (std::size_t i = trio::runner_count(); i-- > 0;) {
    auto stop = [st, i]() -> trio::task<> {  // a pointer and an index: safe to use on runner i
      st->stops[i]->cancel();
      co_return;
    };
    co_await trio::on_runner(i, stop);
  }
}
// [stop-end]

// The demo, on runner 0: once every runner listens, 20 clients, then the stop.
trio::task<> demo(std::uint16_t port, group_state* st) {
  for (std::size_t i = 0; i < trio::runner_count(); ++i) co_await st->ready.second.receive();
  co_await clients(port, 20);
  co_await stop_every_runner(st);
}

// [server]
// Every runner's main: the same server on the same port.
trio::task<> serve_here(std::uint16_t port, group_state* st) {
  const std::size_t me = trio::runner_index();
  trio::cancel_scope stop;
  st->stops[me] = &stop;
  auto handler = [served = &st->served[me]](trio::socket_stream s) { return echo(std::move(s), served); };
  co_await stop.enter([&]() -> trio::task<> {
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      trio::serve_options options;
      options.listen.reuse_port = true;  // every runner binds the same port
      co_await n.start(trio::serve_tcp, handler, port, "127.0.0.1", options);
      co_await st->ready.first.send(me);  // this runner listens (the channel has room for every runner)
      if (me == 0) n.start_soon(demo, port, st);
    });
  });
}
// [server-end]

// [failure]
// A group in which runner 1 fails: run_per_core cancels the others, naming runner 1, waits for them,
// and rethrows runner 1's exception.
trio::task<> fail_on_one() {
  if (trio::runner_index() == 1) throw std::runtime_error("runner 1 could not open its database");
  try {
    co_await trio::sleep_forever();
  } catch (const trio::cancelled& c) {
    fmt::print("runner 0 cancelled: {}\n", c.reason());
    throw;
  }
}
// [failure-end]

int main() {
  // [options]
  trio::runner_group_options options;
  options.runners = 2;          // 0, the default: one runner per CPU this process may run on
  options.pin_to_cpus = false;  // true: runner i runs on the i-th of those CPUs only
  // [options-end]
  group_state st(options.runners);

  // A real server's port is fixed. The demo takes a free one and holds it until the end: bound with
  // SO_REUSEPORT and never listening, this socket receives no connection.
  trio::socket hold = trio::socket::create(AF_INET);
  hold.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
  hold.bind(trio::socket_address::parse("127.0.0.1", 0));
  const std::uint16_t port = hold.local_address().port();

  // [run]
  try {
    trio::run_per_core(options, serve_here, port, &st);  // returns once every runner's main has returned
  } catch (const trio::keyboard_interrupt&) {            // Ctrl-C cancelled every runner
    fmt::print("Stopped by Ctrl-C\n");
  }
  // [run-end]
  // Every runner's thread has ended: the slots may be read here.
  fmt::print("{} runners on one port served {} connections: runner 0 {}, runner 1 {}\n", options.runners,
             st.served[0] + st.served[1], st.served[0], st.served[1]);

  // [failure-run]
  try {
    trio::run_per_core(options, fail_on_one);
  } catch (const std::runtime_error& e) {
    fmt::print("run_per_core threw: {}\n", e.what());
  }
  // [failure-run-end]
}
