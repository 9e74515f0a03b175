#include <trio/lowlevel.hpp>  // first: the header compiles on its own

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <thread>

#include "support/helpers.hpp"

// The task dump (lowlevel::format_task_tree), its triggers (run_options::task_dump_signal,
// run_options::fail_on_deadlock) and the real-clock test case.

namespace {

using Catch::Contains;

trio::task<> wait_in_helper(trio::event& ev) { co_await ev.wait(); }
trio::task<> nested_waiter(trio::event& ev) { co_await wait_in_helper(ev); }

/// The entry of the first task whose entry mentions `name` (its line, or its await chain): the task's
/// line and the lines indented under it up to the next task's line.
std::string entry_of(const std::string& dump, const std::string& name) {
  std::vector<std::string> entries;
  std::size_t at = 0;
  while (at < dump.size()) {
    std::size_t eol = dump.find('\n', at);
    if (eol == std::string::npos) eol = dump.size();
    const std::string line = dump.substr(at, eol - at);
    const std::size_t text = line.find_first_not_of(' ');
    if (text != std::string::npos && line.compare(text, 6, "task #") == 0) entries.emplace_back();
    if (!entries.empty()) entries.back() += line + "\n";
    at = eol + 1;
  }
  for (const std::string& e : entries)
    if (e.substr(0, e.find('\n')).find(name) != std::string::npos) return e;
  for (const std::string& e : entries)
    if (e.find(name) != std::string::npos) return e;
  return {};
}

struct fd_pair {
  int fd[2] = {-1, -1};
  fd_pair() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) == 0); }
  fd_pair(const fd_pair&) = delete;
  fd_pair& operator=(const fd_pair&) = delete;
  ~fd_pair() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
};

trio::task<> sleeper() { co_await trio::sleep(5s); }
trio::task<> forever() { co_await trio::sleep_forever(); }
trio::task<> lock_holder(trio::lock& lk) {
  co_await lk.acquire();
  co_await trio::sleep_forever();
}
trio::task<> lock_waiter(trio::lock& lk) {
  co_await lk.acquire();
  lk.release();
}
trio::task<> channel_receiver(trio::receive_channel<int>& rx) { (void)co_await rx.receive(); }
trio::task<> channel_sender(trio::send_channel<int>& tx) { co_await tx.send(2); }
trio::task<> fd_reader(int fd) { co_await trio::lowlevel::wait_readable(fd); }
trio::task<> shielded_with_deadline() {
  trio::cancel_scope cs(trio::current_time() + 3s, true);
  co_await cs.enter(forever);
}
trio::task<> thread_caller(std::atomic<bool>& release) {
  co_await trio::to_thread::run_sync([&release] {
    while (!release.load()) std::this_thread::sleep_for(1ms);
  });
}

}  // namespace

TRIO_TEST_CASE("task dump: each task says what it waits on", "[lowlevel][task_dump]") {
  trio::event ev;
  trio::lock lk;
  auto [tx, rx] = trio::open_memory_channel<int>(0);
  auto [full_tx, full_rx] = trio::open_memory_channel<int>(1);
  co_await full_tx.send(1);
  fd_pair fds;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon(sleeper);
    n.start_soon(nested_waiter, std::ref(ev));
    n.start_soon(lock_holder, std::ref(lk));
    co_await trio::testing::wait_all_tasks_blocked();
    n.start_soon(lock_waiter, std::ref(lk));
    n.start_soon(channel_receiver, std::ref(rx));
    n.start_soon(channel_sender, std::ref(full_tx));
    n.start_soon(fd_reader, fds.fd[0]);
    n.start_soon(shielded_with_deadline);
    co_await trio::testing::wait_all_tasks_blocked();
    const std::string dump = trio::lowlevel::format_task_tree();
    INFO(dump);
    CHECK_THAT(entry_of(dump, "sleeper"), Contains("waiting: trio::sleep, wakes in 5.000000 s"));
    CHECK_THAT(entry_of(dump, "nested_waiter"), Contains("waiting: trio::event::wait (the event is not set)"));
    const std::string holder = entry_of(dump, "lock_holder");
    CHECK_THAT(holder, Contains("waiting: trio::sleep_forever"));
    const std::size_t hash = holder.find('#');
    const std::string holder_id = holder.substr(hash + 1, holder.find(' ', hash) - hash - 1);  // "task #N ..." -> N
    CHECK_THAT(entry_of(dump, "lock_waiter"),
               Contains("waiting: trio::lock::acquire (held by task #" + holder_id + " "));
    CHECK_THAT(entry_of(dump, "channel_receiver"),
               Contains("waiting: trio::receive_channel::receive (nothing buffered, capacity 0"));
    CHECK_THAT(entry_of(dump, "channel_sender"), Contains("waiting: trio::send_channel::send (buffer full: 1 of 1"));
    CHECK_THAT(entry_of(dump, "fd_reader"),
               Contains("waiting: trio::lowlevel::wait_readable on fd " + std::to_string(fds.fd[0]) +
                        " (unix socket (unnamed) <-> (unnamed))"));
    const std::string shielded = entry_of(dump, "shielded_with_deadline");
    CHECK_THAT(shielded, Contains("cancel: deadline in 3.000000 s, shielded"));
    // The one asking is running; the others are parked.
    CHECK_THAT(dump, Contains("(running)"));
    CHECK_THAT(entry_of(dump, "sleeper"), Contains("cancel: no deadline"));
    n.cancel_scope().cancel("the dump is taken");
    co_await trio::testing::wait_all_tasks_blocked();
  });
}

TRIO_TEST_CASE("task dump: a cancelled task says by what, and a thread call is named", "[lowlevel][task_dump]") {
  std::atomic<bool> release{false};
  trio::cancel_scope cs;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> { co_await cs.enter(thread_caller, std::ref(release)); });
    co_await trio::testing::wait_all_tasks_blocked();
    cs.cancel("shutting down");
    co_await trio::testing::wait_all_tasks_blocked();
    const std::string dump = trio::lowlevel::format_task_tree();
    INFO(dump);
    const std::string e = entry_of(dump, "thread_caller");
    CHECK_THAT(e, Contains("waiting: trio::to_thread::run_sync (a worker thread runs the function)"));
    CHECK_THAT(e, Contains("cancelled (shutting down)"));
    release = true;
  });
}

TRIO_TEST_CASE("task dump: the await chain runs from the task's function to the innermost co_await",
               "[lowlevel][task_dump]") {
  trio::event ev;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon(nested_waiter, std::ref(ev));
    co_await trio::testing::wait_all_tasks_blocked();
    const std::string dump = trio::lowlevel::format_task_tree();
    INFO(dump);
    const std::string e = entry_of(dump, "nested_waiter");
    const std::size_t at = e.find("at: ");
    REQUIRE(at != std::string::npos);
    const std::size_t outer = e.find("nested_waiter", at);
    const std::size_t inner = e.find("wait_in_helper", at);
    CHECK(outer != std::string::npos);
    CHECK(inner != std::string::npos);
    CHECK(outer < inner);  // outermost first
    ev.set();
  });
}

TRIO_TEST_CASE("task dump: a socket wait names its addresses, a process wait its pid, a signal wait its receiver",
               "[lowlevel][task_dump]") {
  auto listeners = co_await trio::open_tcp_listeners(0, "127.0.0.1");
  const auto port = listeners.front().socket().local_address().port();
  trio::socket_stream client = co_await trio::open_tcp_stream("127.0.0.1", port);
  trio::socket_stream server = co_await listeners.front().accept();
  std::vector<std::string> argv{"sleep", "30"};  // (g++ 12: no braced list inside a co_await expression)
  trio::process sleeper_process = co_await trio::open_process(argv);
  auto signals = trio::open_signal_receiver({SIGUSR1});
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      std::array<std::byte, 16> buf;
      (void)co_await client.receive_some(buf);
    });
    n.start_soon([&]() -> trio::task<> { (void)co_await sleeper_process.wait(); });
    n.start_soon([&]() -> trio::task<> { (void)co_await signals.next(); });
    co_await trio::testing::wait_all_tasks_blocked();
    const std::string dump = trio::lowlevel::format_task_tree();
    INFO(dump);
    CHECK_THAT(dump, Contains("(TCP 127.0.0.1:" + std::to_string(client.socket().local_address().port()) +
                              " <-> 127.0.0.1:" + std::to_string(port) + ")"));
    CHECK_THAT(dump, Contains("trio::process::wait on fd"));
    CHECK_THAT(dump, Contains("(process " + std::to_string(sleeper_process.pid()) + ")"));
    CHECK_THAT(dump, Contains("waiting: trio::signal_receiver::next on fd"));
    n.cancel_scope().cancel();
  });
  sleeper_process.kill();
  (void)co_await sleeper_process.wait();
}

TEST_CASE("task dump: fail_on_deadlock ends a run that can never run again with the dump", "[lowlevel][task_dump]") {
  trio::run_options o;
  o.fail_on_deadlock = true;
  o.handle_sigint = false;
  const auto t0 = std::chrono::steady_clock::now();
  std::string what;
  try {
    trio::run(o, []() -> trio::task<> {
      trio::event never;
      co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
        n.start_soon(nested_waiter, std::ref(never));
        co_await never.wait();
      });
    });
  } catch (const trio::deadlock_error& e) {
    what = e.what();
  }
  const auto took = std::chrono::steady_clock::now() - t0;
  INFO(what);
  CHECK(took < 1s);
  CHECK_THAT(what, Contains("deadlock"));
  CHECK_THAT(what, Contains("waiting: trio::event::wait (the event is not set)"));
  CHECK_THAT(what, Contains("nested_waiter"));
}

TEST_CASE(
    "task dump: fail_on_deadlock is no deadlock while a thread, a token holder or the kernel can still "
    "wake a task",
    "[lowlevel][task_dump]") {
  trio::run_options o;
  o.fail_on_deadlock = true;
  o.handle_sigint = false;
  // A worker thread finishing later.
  trio::run(o,
            []() -> trio::task<> { co_await trio::to_thread::run_sync([] { std::this_thread::sleep_for(300ms); }); });
  // A thread of the user's holding the run's token.
  trio::run(o, []() -> trio::task<> {
    trio::event ev;
    auto token = trio::lowlevel::current_trio_token();
    std::thread th([token, &ev] {
      std::this_thread::sleep_for(300ms);
      token.run_sync_soon([&ev] { ev.set(); });
    });
    co_await ev.wait();
    th.join();
  });
  // A peer writing to a socket later (an io_uring operation in flight).
  fd_pair fds;
  trio::run(o, [&]() -> trio::task<> {
    std::thread th([&] {
      std::this_thread::sleep_for(300ms);
      CHECK(::write(fds.fd[1], "x", 1) == 1);
    });
    co_await trio::lowlevel::wait_readable(fds.fd[0]);
    th.join();
  });
}

TEST_CASE("task dump: run_options::task_dump_signal writes the dump to stderr and the run goes on",
          "[lowlevel][task_dump]") {
  test::stderr_capture err;
  trio::run_options o;
  o.task_dump_signal = SIGUSR2;
  o.handle_sigint = false;
  int steps = 0;
  trio::run(o, [&]() -> trio::task<> {
    trio::event ev;
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon(nested_waiter, std::ref(ev));
      co_await trio::testing::wait_all_tasks_blocked();
      ::kill(::getpid(), SIGUSR2);
      // The dump is written by the loop when the signal arrives; the run goes on.
      for (int i = 0; i < 200 && err.peek().find("nested_waiter") == std::string::npos; ++i) {
        co_await trio::sleep(1ms);
        ++steps;
      }
      ev.set();
    });
  });
  const std::string text = err.text();
  INFO(text);
  CHECK_THAT(text, Contains("trio: task dump (SIGUSR2)"));
  CHECK_THAT(text, Contains("waiting: trio::event::wait"));
  CHECK(steps < 200);
  // The signal's disposition is back to what it was.
  struct sigaction now {};
  REQUIRE(::sigaction(SIGUSR2, nullptr, &now) == 0);
  CHECK(now.sa_handler == SIG_DFL);
}

TRIO_REAL_TIME_TEST_CASE("task dump: the real-clock test case waits on real time", "[lowlevel][task_dump]") {
  const auto t0 = std::chrono::steady_clock::now();
  co_await trio::sleep(50ms);
  CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);
}
