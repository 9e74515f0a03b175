// expect: nodiscard
// flags: -Werror
// errors: 18
// Every awaitable the library returns is [[nodiscard]]: a forgotten co_await is an error under
// -Werror (a warning otherwise), never an operation that silently does nothing. (18 errors: clang
// stops at 20.)
#include <trio/testing.hpp>
#include <trio/trio.hpp>

#include <span>
#include <string>

using namespace std::chrono_literals;

trio::task<int> child() { co_return 1; }

trio::task<> uses(trio::socket_stream& stream, trio::async_file& file, trio::event& ev, trio::lock& mu,
                  trio::semaphore& sem) {
  auto ch = trio::open_memory_channel<int>(1);
  auto strings = trio::open_memory_channel<std::string>(1);
  std::byte buf[16];
  child();
  ch.first.send(1);
  ch.second.receive();
  ch.second.next();
  strings.first.send("x");
  trio::sleep(1s);
  trio::sleep_forever();
  trio::checkpoint();
  trio::checkpoint_if_cancelled();
  trio::cancel_shielded_checkpoint();
  ev.wait();
  mu.acquire();
  sem.acquire();
  stream.receive_some(std::span<std::byte>(buf));
  file.read_line();
  file.write("x");
  trio::to_thread::run_sync([] { return 1; });
  trio::testing::wait_all_tasks_blocked();
  co_return;
}

int main() {}
