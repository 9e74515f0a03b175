// Bridging a callback API that calls from its own thread: its events go into a memory channel that
// tasks read; a callback that needs an answer from the loop blocks on from_thread::run_sync.

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <functional>
#include <string>
#include <thread>

using namespace std::chrono_literals;

// [foreign]
// A library with its own thread: it calls on_reading for each measurement, then on_done.
class sensor_library {
 public:
  std::function<void(int)> on_reading;
  std::function<bool()> should_continue;  // asked from the library's thread after each reading
  std::function<void()> on_done;

  void start() {
    worker_ = std::thread([this] {
      for (int i = 1; i <= 5 && should_continue(); ++i) {
        std::this_thread::sleep_for(20ms);
        on_reading(i * 10);
      }
      on_done();
    });
  }
  ~sensor_library() {
    if (worker_.joinable()) worker_.join();
  }

 private:
  std::thread worker_;
};
// [foreign-end]

trio::task<> main_task() {
  // [bridge]
  auto channel = trio::open_memory_channel<int>(trio::unbounded);
  auto& tx = channel.first;
  auto& rx = channel.second;
  trio::event done;
  int wanted = 3;
  const trio::trio_token token = trio::lowlevel::current_trio_token();

  sensor_library sensor;
  // Runs in the library's thread: hand the value to the loop and return at once. run_sync_soon's
  // function runs in the loop between task steps, where trio's objects may be touched.
  sensor.on_reading = [&, token](int value) { token.run_sync_soon([&tx, value] { tx.send_nowait(value); }); };
  // Needs an answer from the loop: from_thread::run_sync blocks this thread until the loop replies.
  sensor.should_continue = [&, token] { return trio::from_thread::run_sync(token, [&] { return wanted > 0; }); };
  sensor.on_done = [&, token] { token.run_sync_soon([&done] { done.set(); }); };
  sensor.start();
  // [bridge-end]

  // [consume]
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      while (auto value = co_await rx.next()) {
        fmt::print("reading: {}\n", *value);
        --wanted;
      }
    });
    co_await done.wait();  // the library's thread has finished calling us
    tx.close();            // ends the reader's loop once the buffer is empty
  });
  fmt::print("the sensor stopped when asked\n");
  // [consume-end]
}

int main() { trio::run(main_task); }
