// 07_producer_consumer: producers and consumers share one memory channel through clone().
//
//   async def producer(n, send_channel):
//       async with send_channel:
//           for i in range(5):
//               await send_channel.send(f"item {n}.{i}")
//
//   async def consumer(n, receive_channel):
//       async with receive_channel:
//           async for item in receive_channel:
//               print(f"consumer {n} got {item}")
//
//   async def main():
//       send_channel, receive_channel = trio.open_memory_channel(0)
//       async with trio.open_nursery() as nursery:
//           async with send_channel, receive_channel:
//               for n in range(3):
//                   nursery.start_soon(producer, n, send_channel.clone())
//               for n in range(2):
//                   nursery.start_soon(consumer, n, receive_channel.clone())
//
// Each task owns its clone (moved into its frame) and closes it by destroying it when it ends; once
// every sender is closed, the consumers' loops end by themselves. Forgetting to close the original
// handles would keep the consumers waiting forever.

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <string>

using namespace std::chrono_literals;

trio::task<> producer(int n, trio::send_channel<std::string> tx) {
  for (int i = 0; i < 5; ++i) {
    co_await tx.send(fmt::format("item {}.{}", n, i));
    co_await trio::sleep(100ms);
  }
}  // tx is destroyed here: this clone is closed

trio::task<> consumer(int n, trio::receive_channel<std::string> rx, int& received) {
  while (auto item = co_await rx.next()) {
    fmt::print("consumer {} got {}\n", n, *item);
    ++received;
  }
}

trio::task<> main_task() {
  auto [tx, rx] = trio::open_memory_channel<std::string>(0);
  int received = 0;
  // A body that owns things is a named variable, passed by name (open_nursery uses it in place): see
  // the README's compiler notes (g++ 12).
  auto body = [&, tx = std::move(tx), rx = std::move(rx)](trio::nursery& nursery) mutable -> trio::task<> {
    for (int n = 0; n < 3; ++n) nursery.start_soon(producer, n, tx.clone());
    for (int n = 0; n < 2; ++n) nursery.start_soon(consumer, n, rx.clone(), std::ref(received));
    tx.close();  // only the clones remain open
    rx.close();
    co_return;
  };
  co_await trio::open_nursery(body);
  fmt::print("The producers closed their channels; the consumers received {} items and stopped\n", received);
}

int main() { trio::run(main_task); }
