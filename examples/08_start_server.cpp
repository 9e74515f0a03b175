// 08_start_server: nursery.start waits until a child says it is ready, and hands back a value.
//
//   async def server(requests, task_status=trio.TASK_STATUS_IGNORED):
//       await trio.sleep(0.5)                   # binding, loading configuration...
//       print("Server: listening on port 8080")
//       task_status.started(8080)               # start() returns 8080 now
//       async for request in requests:
//           print(f"Server: handled {request}")
//       print("Server: no more requests, shutting down")
//
//   async def main():
//       send, receive = trio.open_memory_channel(0)
//       async with trio.open_nursery() as nursery:
//           port = await nursery.start(server, receive)
//           print(f"Main: the server is ready on port {port}")
//           async with send:
//               for i in range(3):
//                   await send.send(f"request {i}")
//       print("Main: done")
//
// start() is what a test or a supervisor uses to avoid racing a server that is not listening yet:
// nothing after it runs before started(). The server keeps running in the nursery afterwards.

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <string>

using namespace std::chrono_literals;

// The last parameter is a trio::task_status<int>: start() passes one, start_soon() an ignored one.
trio::task<> server(trio::receive_channel<std::string> requests, trio::task_status<int> task_status = {}) {
  co_await trio::sleep(500ms);  // binding, loading configuration...
  fmt::print("Server: listening on port 8080\n");
  task_status.started(8080);
  while (auto request = co_await requests.next()) fmt::print("Server: handled {}\n", *request);
  fmt::print("Server: no more requests, shutting down\n");
}

trio::task<> main_task() {
  auto channel = trio::open_memory_channel<std::string>(0);
  auto& send = channel.first;
  auto& receive = channel.second;
  co_await trio::open_nursery([&](trio::nursery& nursery) -> trio::task<> {
    const int port = co_await nursery.start(server, std::move(receive));
    fmt::print("Main: the server is ready on port {}\n", port);
    for (int i = 0; i < 3; ++i) co_await send.send(fmt::format("request {}", i));
    co_await send.aclose();  // the server's loop ends when every sender is closed
  });
  fmt::print("Main: done\n");
}

int main() { trio::run(main_task); }
