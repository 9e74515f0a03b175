#include <trio/run.hpp>  // first: the header compiles on its own

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <thread>

#include "support/helpers.hpp"

namespace {

trio::task<int> doubler(int x) {
  co_await trio::checkpoint();
  co_return x * 2;
}

struct value_error : std::runtime_error {
  int arg;
  explicit value_error(int a) : std::runtime_error("value_error"), arg(a) {}
};

}  // namespace

TEST_CASE("RUN-01 run returns the main task's value", "[run]") {
  CHECK(trio::run(doubler, 21) == 42);
  CHECK(trio::run([]() -> trio::task<std::string> { co_return "hi"; }) == "hi");
}

TEST_CASE("RUN-02 main's exception comes out of run unwrapped, the same object", "[run]") {
  static std::exception_ptr thrown;
  thrown = std::make_exception_ptr(value_error(17));
  try {
    trio::run([]() -> trio::task<> {
      co_await trio::checkpoint();
      std::rethrow_exception(thrown);
    });
    FAIL("run did not throw");
  } catch (const value_error& e) {
    CHECK(e.arg == 17);
    CHECK(std::current_exception() == thrown);
  }
}

TEST_CASE("RUN-03 nested run and calls outside a run are std::logic_error", "[run]") {
  trio::run([]() -> trio::task<> {
    try {
      trio::run([]() -> trio::task<> { co_return; });
      FAIL("nested run did not throw");
    } catch (const std::logic_error& e) {
      CHECK_THAT(e.what(), Catch::Contains("from inside"));
    }
    co_return;
  });
  CHECK_THROWS_AS(trio::current_time(), std::logic_error);
  CHECK_THROWS_AS(trio::lowlevel::current_task(), std::logic_error);
  CHECK_THROWS_WITH(trio::current_time(), Catch::Contains("inside trio::run()"));
}

TEST_CASE("RUN-04 trio_token: one per run, never synchronous, FIFO, idempotent, finished afterwards", "[run]") {
  std::optional<trio::lowlevel::trio_token> first, second;
  std::vector<int> calls;
  std::vector<int> idem;
  trio::run([&]() -> trio::task<> {
    auto tok = trio::lowlevel::current_trio_token();
    CHECK(tok == trio::lowlevel::current_trio_token());
    first = tok;
    for (int i = 0; i < 100; ++i) tok.run_sync_soon([&calls, i] { calls.push_back(i); });
    CHECK(calls.empty());  // never run synchronously
    for (int round = 0; round < 3; ++round)
      for (std::int64_t i = 0; i < 5; ++i)
        tok.run_sync_soon([p = &idem, i] { p->push_back(static_cast<int>(i)); }, /*idempotent=*/true);
    CHECK_THROWS_AS(tok.run_sync_soon([p = &idem, c = 'x'] { p->push_back(c); }, true), std::invalid_argument);
    co_await trio::testing::wait_all_tasks_blocked();
  });
  trio::run([&]() -> trio::task<> {
    second = trio::lowlevel::current_trio_token();
    co_return;
  });
  std::vector<int> expected(100);
  for (int i = 0; i < 100; ++i) expected[static_cast<std::size_t>(i)] = i;
  CHECK(calls == expected);
  CHECK(idem == std::vector<int>{0, 1, 2, 3, 4});
  CHECK_FALSE(*first == *second);
  CHECK_THROWS_AS(first->run_sync_soon([] {}), trio::run_finished_error);
}

TEST_CASE("RUN-07 a self-requeuing run_sync_soon callback cannot starve tasks", "[run]") {
  int requeues = 0;
  bool got_finished = false;
  std::function<void()> again;
  trio::run([&]() -> trio::task<> {
    auto tok = trio::lowlevel::current_trio_token();
    again = [&, tok] {
      ++requeues;
      try {
        tok.run_sync_soon(again);
      } catch (const trio::run_finished_error&) {
        got_finished = true;
      }
    };
    tok.run_sync_soon(again);
    for (int i = 0; i < 20; ++i) co_await trio::checkpoint();
  });
  CHECK(requeues >= 19);      // main's 20 checkpoints completed while the callback kept requeuing itself
  CHECK_FALSE(got_finished);  // requeues made during the run are accepted; they just never run
}

TEST_CASE("RUN-05 a crashing run_sync_soon callback: trio_internal_error, later callbacks still run", "[run]") {
  bool second_ran = false;
  bool main_cancelled = false;
  try {
    trio::run([&]() -> trio::task<> {
      auto tok = trio::lowlevel::current_trio_token();
      tok.run_sync_soon([] { throw std::out_of_range("key"); });
      tok.run_sync_soon([&] { second_ran = true; });
      try {
        co_await trio::sleep_forever();
      } catch (const trio::cancelled&) {
        main_cancelled = true;
        throw;
      }
    });
    FAIL("run did not throw");
  } catch (const trio::trio_internal_error& e) {
    CHECK_THROWS_AS(std::rethrow_if_nested(e), std::out_of_range);
  }
  CHECK(second_ran);
  CHECK(main_cancelled);
}

TEST_CASE("RUN-06 a crashing system task: trio_internal_error with the cause nested", "[run]") {
  try {
    trio::run([]() -> trio::task<> {
      trio::lowlevel::spawn_system_task([]() -> trio::task<> {
        co_await trio::checkpoint();
        throw std::out_of_range("system");
      });
      co_await trio::sleep_forever();
    });
    FAIL("run did not throw");
  } catch (const trio::trio_internal_error& e) {
    CHECK_THROWS_AS(std::rethrow_if_nested(e), std::out_of_range);
  }
}

TEST_CASE("RUN system tasks are cancelled when the main task returns", "[run]") {
  bool sys_cancelled = false;
  int v = trio::run([&]() -> trio::task<int> {
    trio::lowlevel::spawn_system_task([&]() -> trio::task<> {
      try {
        co_await trio::sleep_forever();
      } catch (const trio::cancelled& c) {
        sys_cancelled = c.source() == trio::cancel_source::shutdown;
        throw;
      }
    });
    co_await trio::checkpoint();
    co_return 5;
  });
  CHECK(v == 5);
  CHECK(sys_cancelled);
}

TEST_CASE("RUN run_sync_soon from another thread wakes a sleeping loop", "[run][threads]") {
  auto t0 = std::chrono::steady_clock::now();
  std::thread th;
  int got = trio::run([&]() -> trio::task<int> {
    auto tok = trio::lowlevel::current_trio_token();
    int value = 0;
    auto& me = trio::lowlevel::current_task();
    th = std::thread([tok, &value, &me] {
      std::this_thread::sleep_for(50ms);
      tok.run_sync_soon([&value, &me] {
        value = 7;
        trio::lowlevel::reschedule(me);
      });
    });
    // The loop sleeps in io_uring (no deadline at all) until the other thread wakes it.
    co_await trio::lowlevel::wait_task_rescheduled([]() noexcept { return trio::lowlevel::abort_result::failed; });
    co_return value;
  });
  th.join();
  CHECK(got == 7);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
}

TEST_CASE("RUN run() where io_uring is unavailable throws std::system_error saying so", "[run]") {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // A seccomp filter that makes io_uring_setup fail with ENOSYS, as many container profiles do.
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) _exit(3);
    try {
      trio::run([]() -> trio::task<> { co_return; });
      _exit(1);
    } catch (const std::system_error& e) {
      _exit(std::string(e.what()).find("io_uring is unavailable") != std::string::npos ? 0 : 2);
    } catch (...) {
      _exit(4);
    }
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

// ---- Ctrl-C ------------------------------------------------------------------------------------

namespace {
/// Catch2 installs its own SIGINT handler, and trio leaves a user's handler alone: give these tests
/// the default disposition, as a plain program has.
using test::default_sigint;
}  // namespace

TEST_CASE("SIG-04 Ctrl-C cancels the run / run throws keyboard_interrupt after every task unwound", "[run][signals]") {
  default_sigint dfl;
  std::vector<std::string> log;
  try {
    trio::run([&]() -> trio::task<> {
      co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
        for (int i = 0; i < 2; ++i)
          n.start_soon([&]() -> trio::task<> {
            try {
              for (;;) co_await trio::checkpoint();
            } catch (const trio::cancelled& c) {
              CHECK(c.source() == trio::cancel_source::keyboard_interrupt);
              log.push_back("looper cancelled");
              throw;
            }
          });
        co_await trio::checkpoint();
        ::raise(SIGINT);
        co_await trio::sleep_forever();
      });
    });
    FAIL("run did not throw");
  } catch (const trio::keyboard_interrupt&) {
    log.push_back("keyboard_interrupt");
  }
  CHECK(log == std::vector<std::string>{"looper cancelled", "looper cancelled", "keyboard_interrupt"});
  // SIGINT is unblocked again and its default action is back.
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  CHECK_FALSE(sigismember(&mask, SIGINT));
}

TEST_CASE("SIG-04 a second Ctrl-C restores the default action (the process dies of SIGINT)", "[run][signals]") {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    default_sigint dfl;
    try {
      trio::run([]() -> trio::task<> {
        ::raise(SIGINT);
        // A task that refuses to die: only the second Ctrl-C gets the user out.
        co_await trio::shielded([]() -> trio::task<> {
          co_await trio::sleep(50ms);
          ::raise(SIGINT);
          co_await trio::sleep(10s);
        });
      });
    } catch (...) {
    }
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == SIGINT);
}

TEST_CASE("SIG handle_sigint=false leaves SIGINT alone", "[run][signals]") {
  default_sigint dfl;
  trio::run_options o;
  o.handle_sigint = false;
  trio::run(o, []() -> trio::task<> {
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, nullptr, &mask);
    CHECK_FALSE(sigismember(&mask, SIGINT));
    co_return;
  });
}

// ---- the mock clock -----------------------------------------------------------------------------

TEST_CASE("TEST-01 mock_clock: frozen at 0, jump, rate, validation", "[testing][clock]") {
  trio::testing::mock_clock c;
  CHECK(c.current_time() == trio::time_point{});
  c.jump(1200ms);
  CHECK(c.current_time() == trio::time_point{} + 1200ms);
  CHECK_THROWS_AS(c.jump(-1s), std::invalid_argument);
  CHECK(c.deadline_to_sleep_time(trio::time_point{} + 1s) == trio::duration::zero());
  CHECK(c.deadline_to_sleep_time(trio::time_point{} + 1200ms) == trio::duration::zero());
  CHECK(c.deadline_to_sleep_time(trio::time_point{} + 2s) == trio::duration::max());  // rate 0: never
  c.set_rate(2.0);
  const auto sleep_time = c.deadline_to_sleep_time(c.current_time() + 1s);
  CHECK(sleep_time <= 500ms);
  CHECK(sleep_time > 400ms);
  CHECK_THROWS_AS(c.set_rate(-1.0), std::invalid_argument);
  c.set_rate(0.0);
  const auto t = c.current_time();
  CHECK(t >= trio::time_point{} + 1200ms);
  CHECK(c.current_time() == t);
}

TEST_CASE("TEST-02 autojump: 450 s of sleeps take no real time", "[testing][clock]") {
  const auto real0 = std::chrono::steady_clock::now();
  test::run_mock([]() -> trio::task<> {
    const auto t0 = trio::current_time();
    for (int i = 0; i < 10; ++i) co_await trio::sleep(std::chrono::seconds(10 * i));
    CHECK(trio::current_time() - t0 == 450s);
  });
  CHECK(std::chrono::steady_clock::now() - real0 < 1s);
}

TEST_CASE("TEST-02 autojump threshold can be changed while running and takes effect at once", "[testing][clock]") {
  test::run_mock(
      []() -> trio::task<> {
        auto& clk = trio::testing::current_mock_clock();
        clk.set_autojump_threshold(0s);
        co_await trio::sleep(100s);
        CHECK(test::now_s() == 100.0);
      },
      /*autojump=*/false);
}

TRIO_TEST_CASE("TEST-03 autojump and wait_all_tasks_blocked: idle waiters wake before the clock jumps", "[testing]") {
  test::event_log rec;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await trio::sleep(100s);
      rec("yawn");
    });
    n.start_soon([&]() -> trio::task<> {
      co_await trio::testing::wait_all_tasks_blocked();
      rec("waiter woke");
      co_await trio::sleep(1000s);
      rec("waiter done");
    });
    co_return;
  });
  CHECK(rec.entries == std::vector<std::string>{"waiter woke", "yawn", "waiter done"});
}

TEST_CASE("TEST-04 plain mock clock: a sleeper wakes after jump() at the next loop turn", "[testing]") {
  test::run_mock(
      []() -> trio::task<> {
        test::event_log rec;
        co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
          n.start_soon([&]() -> trio::task<> {
            rec("tt start");
            co_await trio::sleep(5s);
            rec("tt finished");
          });
          co_await trio::testing::wait_all_tasks_blocked();
          CHECK(rec.entries == std::vector<std::string>{"tt start"});
          trio::testing::current_mock_clock().jump(10s);
          co_await trio::testing::wait_all_tasks_blocked();
          CHECK(rec.entries == std::vector<std::string>{"tt start", "tt finished"});
        });
      },
      /*autojump=*/false);
}

// ---- scheduling ---------------------------------------------------------------------------------

TRIO_TEST_CASE("SCHED-01 every runnable task runs exactly once per batch", "[sched]") {
  std::vector<std::pair<char, int>> rec;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (char me : {'a', 'b'})
      n.start_soon(
          [&rec](char who) -> trio::task<> {
            for (int i = 0; i < 200; ++i) {
              rec.emplace_back(who, i);
              co_await trio::checkpoint();
            }
          },
          me);
    co_return;
  });
  REQUIRE(rec.size() == 400);
  for (std::size_t i = 0; i < 200; ++i) {
    const auto& x = rec[2 * i];
    const auto& y = rec[2 * i + 1];
    CHECK(x.second == static_cast<int>(i));
    CHECK(y.second == static_cast<int>(i));
    CHECK(x.first != y.first);
  }
}

TEST_CASE("SCHED-02 the order among ready tasks is not deterministic", "[sched]") {
  std::set<std::string> traces;
  for (int run = 0; run < 10; ++run) {
    std::string trace;
    test::run_mock([&]() -> trio::task<> {
      co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
        for (int t = 0; t < 5; ++t)
          n.start_soon(
              [&trace](int id) -> trio::task<> {
                for (int i = 0; i < 50; ++i) {
                  trace += static_cast<char>('0' + id);
                  co_await trio::sleep(0s);
                }
              },
              t);
        co_return;
      });
    });
    traces.insert(trace);
  }
  CHECK(traces.size() == 10);
}

TRIO_TEST_CASE("SCHED-03 start_soon never runs the child synchronously", "[sched]") {
  test::event_log rec;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      rec("child first step");
      co_return;
    });
    rec("start_soon returned");
    co_await trio::checkpoint();
    rec("parent continued");
  });
  REQUIRE(rec.entries.size() == 3);
  CHECK(rec.entries[0] == "start_soon returned");
}

TRIO_TEST_CASE("SCHED-04 waking a task does not switch to it", "[sched]") {
  test::event_log rec;
  trio::lowlevel::task_info* waiter = nullptr;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      waiter = &trio::lowlevel::current_task();
      co_await trio::lowlevel::wait_task_rescheduled([]() noexcept { return trio::lowlevel::abort_result::succeeded; });
      rec("waiter woke");
    });
    co_await trio::testing::wait_all_tasks_blocked();
    trio::lowlevel::reschedule(*waiter);
    rec("waker continues");
    co_await trio::checkpoint();
  });
  CHECK(rec.entries == std::vector<std::string>{"waker continues", "waiter woke"});
}

TRIO_TEST_CASE("SCHED-05 wait_all_tasks_blocked waits for a busy task to block", "[sched][testing]") {
  test::event_log rec;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      for (int i = 0; i < 10; ++i) co_await trio::checkpoint();
      rec("busy exhausted");
    });
    for (int i = 0; i < 2; ++i)
      n.start_soon([&]() -> trio::task<> {
        co_await trio::testing::wait_all_tasks_blocked();
        rec("quiet");
      });
    co_return;
  });
  CHECK(rec.entries == std::vector<std::string>{"busy exhausted", "quiet", "quiet"});
}

TEST_CASE("SCHED-06 wait_all_tasks_blocked cushions, in real time", "[sched][testing]") {
  test::event_log rec;
  trio::run_options o;
  o.handle_sigint = false;
  trio::run(o, [&]() -> trio::task<> {
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> {
        rec("blink start");
        for (int i = 0; i < 3; ++i) co_await trio::sleep(10ms);
        rec("blink end");
      });
      auto waiter = [&](trio::duration cushion, std::string name) -> trio::task<> {
        co_await trio::testing::wait_all_tasks_blocked(cushion);
        rec(name);
      };
      n.start_soon(waiter, 0ms, "no cushion");
      n.start_soon(waiter, 20ms, "small");
      n.start_soon(waiter, 20ms, "small");
      n.start_soon(waiter, 30ms, "big");
      co_return;
    });
  });
  CHECK(rec.entries == std::vector<std::string>{"blink start", "no cushion", "blink end", "small", "small", "big"});
}

namespace {
struct recording_instrument : trio::instrument {
  std::vector<std::string> log;
  const trio::lowlevel::task_info* watched = nullptr;
  void before_run() override { log.push_back("before_run"); }
  void after_run() override { log.push_back("after_run"); }
  void task_scheduled(const trio::lowlevel::task_info& t) override {
    if (&t == watched) log.push_back("sched");
  }
  void before_task_step(const trio::lowlevel::task_info& t) override {
    if (&t == watched) log.push_back("before");
  }
  void after_task_step(const trio::lowlevel::task_info& t) override {
    if (&t == watched) log.push_back("after");
  }
};
struct throwing_instrument : trio::instrument {
  int calls = 0;
  void before_task_step(const trio::lowlevel::task_info&) override {
    ++calls;
    throw std::runtime_error("broken instrument (expected by the test)");
  }
};
}  // namespace

TEST_CASE("SCHED-07 a child's hooks: (before, sched, after) x5 then before, after", "[sched][instruments]") {
  struct spawn_watcher : recording_instrument {
    int spawned = 0;
    void task_spawned(const trio::lowlevel::task_info& t) override {
      if (++spawned == 3) {  // root, main, then our child
        watched = &t;
        log.push_back("spawned");
      }
    }
  } ins;
  trio::run_options o;
  o.instruments.push_back(&ins);
  o.handle_sigint = false;
  trio::run(o, [&]() -> trio::task<> {
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> {
        for (int i = 0; i < 5; ++i) co_await trio::checkpoint();
      });
      co_return;
    });
  });
  std::vector<std::string> expected{"before_run", "spawned", "sched"};
  for (int i = 0; i < 5; ++i) expected.insert(expected.end(), {"before", "sched", "after"});
  expected.insert(expected.end(), {"before", "after", "after_run"});
  CHECK(ins.log == expected);
}

TEST_CASE("SCHED-07 add_instrument is idempotent / removing an absent one throws / a raising hook is removed",
          "[instruments]") {
  throwing_instrument bad;
  recording_instrument good;
  trio::run_options o;
  o.handle_sigint = false;
  trio::run(o, [&]() -> trio::task<> {
    trio::lowlevel::add_instrument(good);
    trio::lowlevel::add_instrument(good);
    trio::lowlevel::remove_instrument(good);
    CHECK_THROWS_AS(trio::lowlevel::remove_instrument(good), std::invalid_argument);
    trio::lowlevel::add_instrument(bad);
    co_await trio::checkpoint();
    co_await trio::checkpoint();
    CHECK_THROWS_AS(trio::lowlevel::remove_instrument(bad), std::invalid_argument);  // already removed
  });
  CHECK(bad.calls == 1);
}

TEST_CASE("SIG a SIGINT handler the program installed is left in charge", "[run][signals]") {
  // Catch2's own handler is installed here: trio must not block SIGINT or take it over.
  trio::run([]() -> trio::task<> {
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, nullptr, &mask);
    CHECK_FALSE(sigismember(&mask, SIGINT));
    co_return;
  });
}
