// 22_observability: a server that explains itself. It has a task dump on SIGQUIT, a Prometheus
// /metrics endpoint and a flight-recorder trace that Perfetto opens.
//
//   async def metrics(stream):                 # Python Trio has the statistics, not the endpoint:
//       await stream.receive_some()
//       s = trio.lowlevel.current_statistics()
//       await stream.send_all(f"HTTP/1.0 200 OK\r\n\r\ntasks_living {s.tasks_living}\n".encode())
//
//   async def main():
//       async with trio.open_nursery() as n:
//           n.start_soon(trio.serve_tcp, echo, 9000)
//           n.start_soon(trio.serve_tcp, metrics, 9100)
//
// Usage: 22_observability port metrics_port   serves until Ctrl-C. `kill -QUIT <pid>` (or Ctrl-\)
//                                              prints every task and what it waits on, and the run
//                                              goes on. `curl localhost:<metrics_port>/metrics` scrapes.
//        22_observability                      a demo: both servers on free ports, clients of its own,
//                                              one of which stalls; the dump, a scrape, the trace file.

#include <fmt/core.h>
#include <trio/trace.hpp>
#include <trio/trio.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// The echo handler, as in 13_echo_server: a client's trouble ends only its own connection.
trio::task<> echo(trio::socket_stream stream) {
  try {
    for (;;) {
      std::string data = co_await stream.receive_some();
      if (data.empty()) break;
      co_await stream.send_all(data);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "echo: {}\n", e.what());
  }
}

// GET /metrics: the run's statistics in Prometheus's text format. Anything else: 404.
// Bounded: a scraper that sends nothing is dropped after 10 s, one that sends too much is refused.
trio::task<> metrics(trio::socket_stream stream) {
  try {
    std::string request;
    co_await trio::move_on_after(std::chrono::seconds(10), [&]() -> trio::task<> {
      while (request.find("\r\n\r\n") == std::string::npos && request.size() < 8192) {
        std::string data = co_await stream.receive_some();
        if (data.empty()) break;
        request += data;
      }
    });
    std::string reply;
    if (request.rfind("GET /metrics ", 0) == 0) {
      const std::string body = trio::lowlevel::format_prometheus(trio::lowlevel::current_statistics());
      reply = fmt::format("HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{}",
                          body.size(), body);
    } else {
      reply = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    }
    co_await stream.send_all(reply);
  } catch (const std::exception& e) {
    fmt::print(stderr, "metrics: {}\n", e.what());
  }
}

trio::task<> serve(std::uint16_t port, std::uint16_t metrics_port) {
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    auto a = co_await n.start(trio::serve_tcp, echo, port, "127.0.0.1", trio::serve_options{});
    auto m = co_await n.start(trio::serve_tcp, metrics, metrics_port, "127.0.0.1", trio::serve_options{});
    fmt::print("echo on port {}, metrics on http://127.0.0.1:{}/metrics\n", a[0].port(), m[0].port());
    std::fflush(stdout);
  });
}

// ---- the demo -----------------------------------------------------------------------------------

trio::task<> echo_client(std::uint16_t port, int lines) {
  trio::socket_stream s = co_await trio::open_tcp_stream("127.0.0.1", port);
  for (int i = 0; i < lines; ++i) {
    const std::string line = fmt::format("line {}\n", i);
    co_await s.send_all(line);
    std::string back;
    while (back.size() < line.size()) back += co_await s.receive_some();
  }
  co_await s.aclose();
}

/// A client that connects and says nothing: its handler waits, and the dump shows where.
trio::task<> stalled_client(std::uint16_t port, trio::event* connected) {
  trio::socket_stream s = co_await trio::open_tcp_stream("127.0.0.1", port);
  connected->set();
  co_await trio::sleep_forever();
}

trio::task<std::string> scrape(std::uint16_t port) {
  trio::socket_stream s = co_await trio::open_tcp_stream("127.0.0.1", port);
  co_await s.send_all(std::string("GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n"));
  std::string reply;
  for (std::string data; !(data = co_await s.receive_some()).empty();) reply += data;
  co_return reply;
}

/// The value of one sample line "name value" of a Prometheus text body.
double sample(const std::string& body, const std::string& name) {
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  throw std::runtime_error("no sample named " + name);
}

trio::task<> demo() {
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    auto a = co_await n.start(trio::serve_tcp, echo, 0, "127.0.0.1", trio::serve_options{});
    auto m = co_await n.start(trio::serve_tcp, metrics, 0, "127.0.0.1", trio::serve_options{});
    const std::uint16_t port = a[0].port(), metrics_port = m[0].port();
    fmt::print("echo and metrics servers listening\n");

    co_await trio::open_nursery([&](trio::nursery& clients) -> trio::task<> {
      for (int i = 0; i < 4; ++i) clients.start_soon(echo_client, port, 50);
      co_return;
    });
    fmt::print("4 clients echoed 50 lines each\n");

    trio::event connected;
    trio::cancel_scope stall;
    n.start_soon([&]() -> trio::task<> { co_await stall.enter(stalled_client, port, &connected); });
    co_await connected.wait();
    co_await trio::sleep(std::chrono::milliseconds(50));  // the server accepts and its handler waits

    // The dump: what SIGQUIT would print. Here, the lines about the stalled connection's handler.
    const std::string dump = trio::lowlevel::format_task_tree();
    std::istringstream lines(dump);
    for (std::string line; std::getline(lines, line);)
      if (line.find("waiting: trio::socket_stream::receive_some") != std::string::npos &&
          line.find(std::to_string(port) + " <-> ") != std::string::npos)
        fmt::print("the dump: a handler waits in {}\n", line.substr(line.find("waiting: ") + 9));
    stall.cancel();

    const std::string reply = co_await scrape(metrics_port);
    const std::string body = reply.substr(reply.find("\r\n\r\n") + 4);
    fmt::print("{}\n", reply.substr(0, reply.find("\r\n")));
    fmt::print("metrics: {} task steps, {} io_uring enters, {} tasks living\n",
               sample(body, "trio_task_steps_total") > 0 ? "some" : "no",
               sample(body, "trio_io_uring_enters_total") > 0 ? "some" : "no",
               sample(body, "trio_tasks_living") > 0 ? "some" : "no");
    n.cancel_scope().cancel();
  });
}

int main(int argc, char** argv) {
  trio::trace_recorder recorder(4096);
  trio::run_options o;
  o.task_dump_signal = SIGQUIT;
  o.instruments.push_back(&recorder);
  if (argc < 3) {  // the demo writes its trace; a server writes it only if it dies
    trio::run(o, demo);
    const std::string path = (std::filesystem::temp_directory_path() / "22_observability.trace.json").string();
    std::ofstream out(path);
    recorder.write_chrome_trace(out);
    fmt::print("trace written to {} (open it in https://ui.perfetto.dev)\n", path);
    return 0;
  }
  recorder.write_on_error((std::filesystem::temp_directory_path() / "22_observability.crash.json").string());
  try {
    trio::run(o, serve, trio::socket_address::parse_port(argv[1]), trio::socket_address::parse_port(argv[2]));
  } catch (const trio::keyboard_interrupt&) {
    fmt::print("Stopped by Ctrl-C\n");
  }
}
