// 23_multicore_echo: the echo server of 13_echo_server on every core. run_per_core starts one runner
// (a thread with its own loop and io_uring ring) per CPU; each runner listens on the same port with
// SO_REUSEPORT, and the kernel spreads the connections over them. A shared channel hands the port from
// runner 0 to the others, and on_runner lets runner 0 stop them.
//
//   (Trio itself has one loop per process; this is what a multi-core server in trio-cpp looks like.)
//
// Usage: 23_multicore_echo port     serves on 127.0.0.1:port on every core until Ctrl-C (0: a free port)
//        23_multicore_echo          a demo: the server on a free port, eight clients of its own, stop
// Try it: `23_multicore_echo 9000`, then `nc localhost 9000` in other terminals.

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// Each connection runs this in its own task, on the runner whose socket accepted it.
trio::task<> echo(trio::socket_stream stream, std::atomic<int>* served) {
  served->fetch_add(1);
  try {
    for (;;) {
      std::string data = co_await stream.receive_some();
      if (data.empty()) break;  // the client closed its side
      co_await stream.send_all(data);
    }
  } catch (const std::exception& e) {  // a reset, a broken pipe: this connection only
    fmt::print(stderr, "runner {}: {}\n", trio::runner_index(), e.what());
  }
}

// What the runners share. Only thread-safe things: a shared channel, atomics, and the per-runner
// slots, each used by its own runner only.
struct server_state {
  explicit server_state(std::size_t runners)
      : port_channel(trio::open_shared_channel<std::uint16_t>(runners)),
        stops(runners),
        stop_requested(runners),
        served(runners) {}
  std::pair<trio::send_channel<std::uint16_t>, trio::receive_channel<std::uint16_t>> port_channel;
  std::vector<trio::cancel_scope*> stops;  // stops[i]: runner i's server scope (used on runner i only)
  std::vector<char> stop_requested;        // stop_requested[i]: (used on runner i only)
  std::vector<std::atomic<int>> served;    // connections each runner served
  bool demo = false;
};

// The demo's clients: each sends three lines and checks that every one comes back.
trio::task<> demo_client(std::uint16_t port, int id, std::atomic<int>* all_echoed) {
  trio::socket_stream stream = co_await trio::open_tcp_stream("127.0.0.1", port);
  int echoed = 0;
  for (int k = 0; k < 3; ++k) {
    const std::string message = fmt::format("client {} says {}\n", id, k);
    co_await stream.send_all(message);
    std::string back;
    while (back.size() < message.size()) {  // TCP is a byte stream: an echo may come back in pieces
      std::string data = co_await stream.receive_some();
      if (data.empty()) throw std::runtime_error("the server closed the connection early");
      back += data;
    }
    echoed += back == message ? 1 : 0;
  }
  co_await stream.aclose();
  if (echoed == 3) all_echoed->fetch_add(1);
}

// The demo, on runner 0 once every runner listens: eight clients at once, then every runner is stopped.
trio::task<> run_demo(std::uint16_t port, server_state* st) {
  std::atomic<int> all_echoed{0};
  co_await trio::open_nursery([&](trio::nursery& clients) -> trio::task<> {
    for (int id = 0; id < 8; ++id) clients.start_soon(demo_client, port, id, &all_echoed);
    co_return;
  });
  fmt::print("{} of 8 clients had every line echoed\n", all_echoed.load());
  // Stop each runner's server from its own thread (a cancel scope belongs to its runner), this one last:
  // the demo runs inside its scope.
  for (std::size_t i = trio::runner_count(); i-- > 0;) {
    co_await trio::on_runner(i, [st, i]() -> trio::task<> {
      st->stop_requested[i] = 1;
      if (st->stops[i]) st->stops[i]->cancel();
      co_return;
    });
  }
}

// Every runner's main.
trio::task<> serve_here(std::uint16_t port, server_state* st) {
  const std::size_t me = trio::runner_index();
  if (me != 0 && port == 0) port = co_await st->port_channel.second.receive();  // the port runner 0 got
  trio::cancel_scope stop;
  st->stops[me] = &stop;
  if (st->stop_requested[me]) stop.cancel();  // (stopped before it even started)
  auto handler = [st, me](trio::socket_stream s) { return echo(std::move(s), &st->served[me]); };
  co_await stop.enter([&]() -> trio::task<> {
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      trio::serve_options options;
      options.listen.reuse_port = true;  // every runner binds the same port
      std::vector<trio::socket_address> addresses =
          co_await n.start(trio::serve_tcp, handler, port, "127.0.0.1", options);
      if (me != 0) co_return;
      const std::uint16_t got = addresses[0].port();
      if (port == 0)
        for (std::size_t i = 1; i < trio::runner_count(); ++i) co_await st->port_channel.first.send(got);
      fmt::print("Echo server listening on port {} with {} runners\n", got, trio::runner_count());
      std::fflush(stdout);
      if (st->demo) {
        // (the others may still be starting their listeners: the kernel sends a connection only to
        // sockets that listen, so the clients just start)
        n.start_soon(run_demo, got, st);
      }
    });
  });
  st->stops[me] = nullptr;
}

int main(int argc, char** argv) {
  trio::runner_group_options options;  // one runner per CPU
  const std::size_t runners = std::max(1u, std::thread::hardware_concurrency());
  options.runners = runners;
  server_state st(runners);
  st.demo = argc < 2;
  const std::uint16_t port = st.demo ? 0 : trio::socket_address::parse_port(argv[1]);
  try {
    trio::run_per_core(options, serve_here, port, &st);
  } catch (const trio::keyboard_interrupt&) {  // Ctrl-C cancelled every runner; all unwound
    fmt::print("Stopped by Ctrl-C\n");
  }
  int total = 0;
  for (auto& s : st.served) total += s.load();
  fmt::print("Served {} connections\n", total);
}
