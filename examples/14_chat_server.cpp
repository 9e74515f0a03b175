// 14_chat_server: a line-based chat. Every line a client sends goes to every other client.
//
// Each connection has two tasks: a reader (line_reader over the socket_stream) and a writer fed by
// its own memory channel. Broadcasting puts the line in every other client's channel *without
// waiting* (send_nowait): a client that does not read fills its buffer and misses lines, but it
// never blocks the others. (A Trio user would write the same with open_memory_channel.)
//
// Usage: 14_chat_server [port]   serves on 127.0.0.1:port until Ctrl-C (try two `nc localhost port`)
//        14_chat_server          a demo: the server on a free port and two clients
#include <fmt/core.h>
#include <trio/trio.hpp>

#include <cstdio>
#include <list>
#include <string>

struct client {
  std::string name;
  trio::send_channel<std::string> outbox;
  std::size_t dropped = 0;
};

class chat_room {
 public:
  // Runs one connection: registers the client, reads its lines, broadcasts them. Whatever this
  // client does (a reset, a line over 64 KiB, garbage) ends its own connection only: an exception
  // that left a handler would end serve_tcp and the whole chat (as in Trio). trio::cancelled is not
  // a std::exception, and neither is the group of cancellations this task's nursery raises when the
  // server stops (a trio::base_exception_group, Trio's BaseExceptionGroup): Ctrl-C still stops everything.
  trio::task<> serve(trio::socket_stream stream) {
    std::string peer = "gone";
    try {
      peer = stream.socket().peer_address().to_string();
    } catch (const std::system_error&) {  // the client has already reset
    }
    auto channel = trio::open_memory_channel<std::string>(16);  // this client's outbox and inbox
    auto& me = clients_.emplace_back(client{"user" + std::to_string(++joined_), std::move(channel.first)});
    const auto self = std::prev(clients_.end());
    broadcast(me, me.name + " joined");
    auto writer = [&stream](trio::receive_channel<std::string> lines) -> trio::task<> {
      while (auto line = co_await lines.next()) co_await stream.send_all(*line + "\n");
    };
    try {
      co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
        n.start_soon(writer, std::move(channel.second));
        trio::line_reader lines(stream);  // a line over 64 KiB: std::length_error
        while (auto line = co_await lines.read_line()) broadcast(me, me.name + ": " + *line);
        n.cancel_scope().cancel();  // the client left: stop its writer too
      });
    } catch (const std::exception& e) {  // a reset, a line too long...: this client only
      fmt::print(stderr, "{} ({}): {}\n", me.name, peer, e.what());
    }
    const std::string name = me.name;
    clients_.erase(self);
    broadcast_all(name + " left");
  }

 private:
  void broadcast(const client& from, const std::string& line) {
    for (auto& c : clients_)
      if (&c != &from) offer(c, line);
  }
  void broadcast_all(const std::string& line) {
    for (auto& c : clients_) offer(c, line);
  }
  static void offer(client& c, const std::string& line) {
    try {
      c.outbox.send_nowait(line);
    } catch (const trio::would_block&) {
      ++c.dropped;  // a slow reader: it misses this line, nobody waits for it
    } catch (const trio::broken_resource_error&) {
      // c is leaving: its writer has ended and its serve() will remove it
    }
  }

  std::list<client> clients_;
  int joined_ = 0;
};

// The demo: the server on a free port, and two clients talking through it, step by step.
trio::task<> demo() {
  chat_room room;
  auto handler = [&room](trio::socket_stream s) { return room.serve(std::move(s)); };
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    auto addresses = co_await n.start(trio::serve_tcp, handler, 0, "127.0.0.1", trio::serve_options{});
    const std::uint16_t port = addresses[0].port();
    trio::socket_stream alice = co_await trio::open_tcp_stream("127.0.0.1", port);
    trio::line_reader alice_lines(alice);
    trio::socket_stream bob = co_await trio::open_tcp_stream("127.0.0.1", port);
    trio::line_reader bob_lines(bob);
    fmt::print("alice saw: {}\n", *co_await alice_lines.read_line());
    co_await alice.send_all(std::string_view("hello bob\n"));
    fmt::print("bob saw: {}\n", *co_await bob_lines.read_line());
    co_await bob.send_all(std::string_view("hi alice\n"));
    fmt::print("alice saw: {}\n", *co_await alice_lines.read_line());
    co_await bob.aclose();
    fmt::print("alice saw: {}\n", *co_await alice_lines.read_line());
    n.cancel_scope().cancel();  // stop the server
  });
}

trio::task<> serve(std::uint16_t port) {
  chat_room room;
  auto handler = [&room](trio::socket_stream s) { return room.serve(std::move(s)); };
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    auto addresses = co_await n.start(trio::serve_tcp, handler, port, "127.0.0.1", trio::serve_options{});
    fmt::print("chat server on port {}\n", addresses[0].port());
    std::fflush(stdout);
  });
}

int main(int argc, char** argv) {
  if (argc < 2) {
    trio::run(demo);
    return 0;
  }
  try {
    trio::run(serve, trio::socket_address::parse_port(argv[1]));
  } catch (const trio::keyboard_interrupt&) {
    fmt::print("chat server stopped\n");
  }
}
