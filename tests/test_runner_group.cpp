#include <trio/runner_group.hpp>  // first: the headers compile on their own

#include <trio/shared_channel.hpp>

#include <sched.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "support/helpers.hpp"

// Real threads: every case runs run_per_core (or trio::run) itself under the real clock. Catch2's
// assertions are not thread-safe, so the runners only record what they see; the test thread checks.

namespace {

/// A log several threads write to.
struct shared_log {
  std::mutex m;
  std::vector<std::string> entries;
  void operator()(std::string s) {
    std::lock_guard lk(m);
    entries.push_back(std::move(s));
  }
  std::vector<std::string> take() {
    std::lock_guard lk(m);
    return entries;
  }
  std::ptrdiff_t position(const std::string& s) {
    std::lock_guard lk(m);
    for (std::size_t i = 0; i < entries.size(); ++i)
      if (entries[i] == s) return static_cast<std::ptrdiff_t>(i);
    return -1;
  }
};

trio::runner_group_options runners(std::size_t n) {
  trio::runner_group_options o;
  o.runners = n;
  o.run.handle_sigint = false;
  return o;
}

/// Waits (bounded, in real time) until pred holds.
template <class P>
trio::task<bool> eventually(P pred) {
  for (int i = 0; i < 5000; ++i) {
    if (pred()) co_return true;
    co_await trio::sleep(1ms);
  }
  co_return pred();
}

}  // namespace

TEST_CASE("GROUP runner_index and runner_count in a plain trio::run are 0 and 1", "[runner_group]") {
  std::size_t index = 99, count = 99;
  int value = 0;
  trio::run([&]() -> trio::task<> {
    index = trio::runner_index();
    count = trio::runner_count();
    value = co_await trio::on_runner(0, []() -> trio::task<int> { co_return 7; });
    CHECK_THROWS_AS(co_await trio::on_runner(1, []() -> trio::task<int> { co_return 7; }), std::out_of_range);
  });
  CHECK(index == 0);
  CHECK(count == 1);
  CHECK(value == 7);
  CHECK(trio::runner_index() == 0);
  CHECK(trio::runner_count() == 1);
}

TEST_CASE("GROUP every main returns: each sees its runner_index, runner_count is N", "[runner_group]") {
  constexpr std::size_t n = 4;
  std::atomic<int> seen[n] = {};
  std::atomic<std::size_t> counts{0};
  std::atomic<int> calls{0};
  trio::run_per_core(runners(n), [&]() -> trio::task<> {
    const std::size_t i = trio::runner_index();
    seen[i].fetch_add(1);
    if (trio::runner_count() == n) counts.fetch_add(1);
    co_await trio::sleep(1ms);
    calls.fetch_add(1);
  });
  for (std::size_t i = 0; i < n; ++i) CHECK(seen[i].load() == 1);
  CHECK(counts.load() == n);
  CHECK(calls.load() == static_cast<int>(n));
  CHECK(trio::runner_index() == 0);
}

TEST_CASE("GROUP default_runner_count: one runner per CPU of the affinity mask, and run_per_core's default",
          "[runner_group]") {
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(::sched_getaffinity(0, sizeof set, &set) == 0);
  CHECK(trio::default_runner_count() == static_cast<std::size_t>(CPU_COUNT(&set)));
  trio::runner_group_options o;  // runners = 0: the default
  o.run.handle_sigint = false;
  std::atomic<std::size_t> mains{0}, count{0};
  trio::run_per_core(o, [&]() -> trio::task<> {
    mains.fetch_add(1);
    count.store(trio::runner_count());
    co_return;
  });
  CHECK(mains.load() == trio::default_runner_count());
  CHECK(count.load() == trio::default_runner_count());
}

TEST_CASE("GROUP main gets copies of the arguments", "[runner_group]") {
  std::atomic<int> total{0};
  trio::run_per_core(
      runners(3),
      [&](int x, std::string s) -> trio::task<> {
        total.fetch_add(x + static_cast<int>(s.size()));
        co_return;
      },
      10, std::string("abc"));
  CHECK(total.load() == 39);
}

TEST_CASE("GROUP one main raises: the others are cancelled, run_per_core raises it", "[runner_group]") {
  shared_log log;
  try {
    trio::run_per_core(runners(4), [&]() -> trio::task<> {
      const std::size_t i = trio::runner_index();
      if (i == 2) {
        co_await trio::sleep(20ms);
        throw std::runtime_error("runner two broke");
      }
      try {
        co_await trio::sleep_forever();
      } catch (const trio::cancelled& c) {
        log("cancelled " + std::to_string(i) + ": " + c.message());
        throw;
      }
    });
    FAIL("run_per_core returned");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "runner two broke");
  }
  auto entries = log.take();
  REQUIRE(entries.size() == 3);
  for (const auto& e : entries) CHECK_THAT(e, Catch::Contains("runner 2 of 4 failed: runner two broke"));
}

TEST_CASE("GROUP two mains raise: run_per_core raises a group of both", "[runner_group]") {
  try {
    trio::run_per_core(runners(3), []() -> trio::task<> {
      const std::size_t i = trio::runner_index();
      if (i != 0) {
        // Shielded: the first failure cannot cancel the second runner's sleep, and no checkpoint follows.
        trio::cancel_scope shielded;
        shielded.set_shield(true);
        co_await shielded.enter([]() -> trio::task<> { co_await trio::sleep(30ms); });
        throw std::runtime_error("broke " + std::to_string(i));
      }
      co_await trio::sleep_forever();
    });
    FAIL("run_per_core returned");
  } catch (const trio::exception_group& g) {
    REQUIRE(g.exceptions().size() == 2);
    std::vector<std::string> what;
    for (const auto& e : g.exceptions()) {
      try {
        std::rethrow_exception(e);
      } catch (const std::runtime_error& x) {
        what.push_back(x.what());
      }
    }
    REQUIRE(what.size() == 2);
    CHECK(((what[0] == "broke 1" && what[1] == "broke 2") || (what[0] == "broke 2" && what[1] == "broke 1")));
  }
}

TEST_CASE("GROUP strict_exception_groups: one error comes as a group of one", "[runner_group]") {
  auto o = runners(2);
  o.run.strict_exception_groups = true;
  try {
    trio::run_per_core(o, []() -> trio::task<> {
      if (trio::runner_index() == 1) throw std::runtime_error("alone");
      co_await trio::sleep_forever();
    });
    FAIL("run_per_core returned");
  } catch (const trio::exception_group& g) {
    CHECK(g.exceptions().size() == 1);
  }
}

TEST_CASE("GROUP on_runner returns the value and raises the exception of the remote task", "[runner_group]") {
  std::atomic<int> got{0};
  std::atomic<bool> raised{false};
  std::atomic<std::size_t> ran_on{99};
  trio::run_per_core(runners(2), [&]() -> trio::task<> {
    if (trio::runner_index() != 0) co_return;
    got = co_await trio::on_runner(
        1,
        [&](int x) -> trio::task<int> {
          ran_on = trio::runner_index();
          co_await trio::sleep(1ms);
          co_return 2 * x;
        },
        21);
    try {
      co_await trio::on_runner(1, []() -> trio::task<> {
        co_await trio::checkpoint();
        throw std::invalid_argument("remote failure");
      });
    } catch (const std::invalid_argument& e) {
      raised = std::string(e.what()) == "remote failure";
    }
  });
  CHECK(got.load() == 42);
  CHECK(ran_on.load() == 1);
  CHECK(raised.load());
}

TEST_CASE("GROUP on_runner cancelled by the caller: the remote task is cancelled before the caller returns",
          "[runner_group]") {
  shared_log log;
  std::atomic<bool> finished{true};
  trio::run_per_core(runners(2), [&]() -> trio::task<> {
    if (trio::runner_index() != 0) co_return;
    finished = co_await trio::move_on_after(30ms, [&]() -> trio::task<> {
      co_await trio::on_runner(1, [&]() -> trio::task<> {
        log("remote started");
        try {
          co_await trio::sleep_forever();
        } catch (const trio::cancelled&) {
          log("remote cancelled");
          throw;
        }
      });
    });
    log("caller returned");
  });
  CHECK_FALSE(finished.load());
  CHECK(log.take() == std::vector<std::string>{"remote started", "remote cancelled", "caller returned"});
}

TEST_CASE("GROUP on_runner many round trips both ways", "[runner_group]") {
  std::atomic<long> sum{0};
  trio::run_per_core(runners(2), [&]() -> trio::task<> {
    const std::size_t other = 1 - trio::runner_index();
    long local = 0;
    for (int k = 0; k < 2000; ++k) local += co_await trio::on_runner(other, [k]() -> trio::task<long> { co_return k; });
    sum += local;
  });
  CHECK(sum.load() == 2 * (1999L * 2000 / 2));
}

TEST_CASE("GROUP a runner that waits on on_runner is cancelled with the group", "[runner_group]") {
  shared_log log;
  CHECK_THROWS_AS(trio::run_per_core(runners(3),
                                     [&]() -> trio::task<> {
                                       const std::size_t i = trio::runner_index();
                                       if (i == 0) {
                                         co_await trio::sleep(20ms);
                                         throw std::runtime_error("zero broke");
                                       }
                                       if (i == 1) {
                                         try {
                                           co_await trio::on_runner(
                                               2, []() -> trio::task<> { co_await trio::sleep_forever(); });
                                         } catch (const trio::cancelled&) {
                                           log("caller cancelled");
                                           throw;
                                         }
                                       }
                                     }),
                  std::runtime_error);
  CHECK(log.take() == std::vector<std::string>{"caller cancelled"});
}

TEST_CASE("GROUP shared channel: the sender on one runner closes while the receiver on another waits",
          "[runner_group][shared_channel]") {
  auto ch = trio::open_shared_channel<int>(4);  // (clang 14 cannot capture structured bindings)
  auto& tx = ch.first;
  auto& rx = ch.second;
  std::atomic<bool> ended{false};
  std::atomic<int> first{0};
  trio::run_per_core(runners(2), [&]() -> trio::task<> {
    if (trio::runner_index() == 0) {
      first = co_await rx.receive();
      try {
        (void)co_await rx.receive();
      } catch (const trio::end_of_channel&) {
        ended = true;
      }
    } else {
      co_await tx.send(5);
      co_await trio::sleep(20ms);
      tx.close();
    }
  });
  CHECK(first.load() == 5);
  CHECK(ended.load());
}

TEST_CASE("GROUP shared channel: closing the last receiver breaks a sender blocked on another runner",
          "[runner_group][shared_channel]") {
  auto ch = trio::open_shared_channel<int>(0);  // (clang 14 cannot capture structured bindings)
  auto& tx = ch.first;
  auto& rx = ch.second;
  std::atomic<bool> broken{false};
  trio::run_per_core(runners(2), [&]() -> trio::task<> {
    if (trio::runner_index() == 0) {
      try {
        co_await tx.send(1);
      } catch (const trio::broken_resource_error&) {
        broken = true;
      }
    } else {
      co_await trio::sleep(20ms);
      rx.close();
    }
  });
  CHECK(broken.load());
}

TEST_CASE("GROUP shared channel: 1,000,000 ints, 2 producers and 2 consumers on 4 runners, each value once",
          "[runner_group][shared_channel]") {
  constexpr int total = 1'000'000;
  auto ch = trio::open_shared_channel<int>(64);  // (clang 14 cannot capture structured bindings)
  auto& tx = ch.first;
  auto& rx = ch.second;
  std::optional<trio::send_channel<int>> senders[2] = {tx.clone(), std::move(tx)};
  std::optional<trio::receive_channel<int>> receivers[2] = {rx.clone(), std::move(rx)};
  std::vector<std::atomic<std::uint8_t>> seen(total);
  std::atomic<long long> sum{0};
  std::atomic<long long> count{0};
  std::atomic<int> consumers_used{0};
  trio::run_per_core(runners(4), [&]() -> trio::task<> {
    const std::size_t i = trio::runner_index();
    if (i < 2) {
      trio::send_channel<int> out = std::move(*senders[i]);
      for (int v = static_cast<int>(i); v < total; v += 2) co_await out.send(v);
    } else {
      trio::receive_channel<int> in = std::move(*receivers[i - 2]);
      long long s = 0, c = 0;
      while (auto v = co_await in.next()) {
        seen[static_cast<std::size_t>(*v)].fetch_add(1, std::memory_order_relaxed);
        s += *v;
        ++c;
      }
      sum += s;
      count += c;
      if (c > 0) consumers_used.fetch_add(1);
    }
  });
  CHECK(count.load() == total);
  CHECK(sum.load() == static_cast<long long>(total) * (total - 1) / 2);
  int wrong = 0;
  for (auto& s : seen)
    if (s.load() != 1) ++wrong;
  CHECK(wrong == 0);
  CHECK(consumers_used.load() == 2);
}

TEST_CASE("GROUP shared channel: capacity 0 is a rendezvous across runners", "[runner_group][shared_channel]") {
  auto ch = trio::open_shared_channel<int>(0);  // (clang 14 cannot capture structured bindings)
  auto& tx = ch.first;
  auto& rx = ch.second;
  shared_log log;
  std::atomic<bool> waited{false};
  trio::run_per_core(runners(2), [&]() -> trio::task<> {
    if (trio::runner_index() == 1) {
      const auto start = std::chrono::steady_clock::now();
      co_await tx.send(1);  // returns only once runner 0 took it
      waited = std::chrono::steady_clock::now() - start >= 25ms;
      log("sent 1");
      co_await tx.send(2);
      log("sent 2");
      tx.close();
    } else {
      co_await trio::sleep(30ms);
      const int a = co_await rx.receive();
      co_await trio::sleep(10ms);
      log("received " + std::to_string(a));
      const int b = co_await rx.receive();
      log("received " + std::to_string(b));
      CHECK_NOTHROW(rx.statistics());
    }
  });
  CHECK(waited.load());
  CHECK(log.position("sent 1") >= 0);
  CHECK(log.position("received 1") >= 0);
  CHECK(log.position("received 2") >= 0);
  CHECK(log.position("sent 2") >= 0);
}

TEST_CASE("GROUP shared channel: cancelling receivers while another runner hands them values loses none",
          "[runner_group][shared_channel]") {
  constexpr int total = 20000;
  auto ch = trio::open_shared_channel<int>(0);  // (clang 14 cannot capture structured bindings)
  auto& tx = ch.first;
  auto& rx = ch.second;
  std::vector<int> got;
  std::atomic<int> timeouts{0};
  trio::run_per_core(runners(2), [&]() -> trio::task<> {
    if (trio::runner_index() == 1) {
      for (int v = 0; v < total; ++v) co_await tx.send(v);
      tx.close();
    } else {
      // (timeouts from 0 to 45 us: some expire before the receive, some while it waits, some as the
      // sender hands over its value)
      for (unsigned k = 0, open = 1; open; ++k) {
        const bool done = co_await trio::move_on_after(std::chrono::microseconds(5 * (k % 10)), [&]() -> trio::task<> {
          auto v = co_await rx.next();
          if (v)
            got.push_back(*v);
          else
            open = 0;
        });
        if (!done) {
          timeouts.fetch_add(1);
          co_await trio::checkpoint();  // (a receive in an expired scope fails at once, without a schedule point)
        }
      }
    }
  });
  REQUIRE(got.size() == static_cast<std::size_t>(total));
  for (int v = 0; v < total; ++v) CHECK(got[static_cast<std::size_t>(v)] == v);
  INFO("receives cancelled: " << timeouts.load());
}

TEST_CASE("GROUP shared channel of std::string across runners", "[runner_group][shared_channel]") {
  auto ch = trio::open_shared_channel<std::string>(1);  // (clang 14 cannot capture structured bindings)
  auto& tx = ch.first;
  auto& rx = ch.second;
  std::string joined;
  trio::run_per_core(runners(2), [&]() -> trio::task<> {
    if (trio::runner_index() == 1) {
      for (int v = 0; v < 100; ++v) co_await tx.send(std::string(30, static_cast<char>('a' + v % 26)));
      tx.close();
    } else {
      while (auto s = co_await rx.next()) joined += s->substr(0, 1);
    }
  });
  REQUIRE(joined.size() == 100);
  CHECK(joined.substr(0, 3) == "abc");
}

TEST_CASE("GROUP a runner whose main has returned still serves on_runner until every main has returned",
          "[runner_group]") {
  std::atomic<int> got{0};
  trio::run_per_core(runners(2), [&]() -> trio::task<> {
    if (trio::runner_index() == 1) co_return;
    co_await trio::sleep(20ms);
    got = co_await trio::on_runner(1, []() -> trio::task<int> { co_return 5; });
  });
  CHECK(got.load() == 5);
}

TEST_CASE(
    "GROUP SIG Ctrl-C (a process-directed SIGINT) cancels every runner, and run_per_core throws keyboard_interrupt",
    "[runner_group][signals]") {
  test::default_sigint dfl;
  shared_log log;
  trio::runner_group_options o;
  o.runners = 3;  // handle_sigint = true: runner 0 (this, the main thread) takes Ctrl-C
  CHECK_THROWS_AS(trio::run_per_core(o,
                                     [&]() -> trio::task<> {
                                       const std::size_t i = trio::runner_index();
                                       if (i == 2) {
                                         co_await trio::sleep(10ms);
                                         ::kill(::getpid(), SIGINT);  // from a thread that blocks it
                                       }
                                       try {
                                         co_await trio::sleep_forever();
                                       } catch (const trio::cancelled&) {
                                         log("cancelled " + std::to_string(i));
                                         throw;
                                       }
                                     }),
                  trio::keyboard_interrupt);
  CHECK(log.take().size() == 3);
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  CHECK_FALSE(sigismember(&mask, SIGINT));
}

TEST_CASE("GROUP on_runner to the caller's own runner, with a std::string result, and a group of one runner",
          "[runner_group]") {
  std::string here, there;
  std::atomic<int> mains{0};
  trio::run_per_core(runners(1), [&]() -> trio::task<> {
    mains.fetch_add(1);
    here = co_await trio::on_runner(0, []() -> trio::task<std::string> { co_return std::string(40, 'h'); });
  });
  trio::run_per_core(runners(2), [&]() -> trio::task<> {
    if (trio::runner_index() != 0) co_return;
    auto fn = [](std::string s) -> trio::task<std::string> { co_return s + std::to_string(trio::runner_index()); };
    there = co_await trio::on_runner(1, fn, std::string(40, 't'));
  });
  CHECK(mains.load() == 1);
  CHECK(here == std::string(40, 'h'));
  CHECK(there == std::string(40, 't') + "1");
}

TEST_CASE("GROUP on_runner cancelled at every moment of a call: each ends with the value or cancelled, none lost",
          "[runner_group]") {
  constexpr int calls = 3000;
  std::atomic<int> values{0}, cancels{0}, wrong{0}, remote_started{0}, remote_ended{0};
  trio::run_per_core(runners(2), [&]() -> trio::task<> {
    if (trio::runner_index() != 0) co_return;
    for (int k = 0; k < calls; ++k) {
      // (timeouts from 0 to 45 us: before the start message, while the remote task runs, as it ends)
      bool got = false;
      const bool done = co_await trio::move_on_after(std::chrono::microseconds(5 * (k % 10)), [&]() -> trio::task<> {
        const int v = co_await trio::on_runner(1, [&, k]() -> trio::task<int> {
          remote_started.fetch_add(1);
          for (int i = 0; i < k % 3; ++i) co_await trio::checkpoint();
          remote_ended.fetch_add(1);
          co_return k;
        });
        got = true;
        if (v != k) wrong.fetch_add(1);
      });
      if (got)
        values.fetch_add(1);
      else if (!done)
        cancels.fetch_add(1);
      else
        wrong.fetch_add(1);
      co_await trio::checkpoint();
    }
  });
  CHECK(wrong.load() == 0);
  CHECK(values.load() + cancels.load() == calls);
  CHECK(remote_started.load() >= values.load());
  INFO("values " << values.load() << ", cancelled " << cancels.load());
  CHECK(values.load() > 0);
}

TEST_CASE("GROUP a shielded on_runner caller whose target runner ends with the failing group gets run_finished_error",
          "[runner_group]") {
  std::string got = "nothing";
  CHECK_THROWS_WITH(trio::run_per_core(runners(3),
                                       [&]() -> trio::task<> {
                                         const std::size_t i = trio::runner_index();
                                         if (i == 2) {
                                           co_await trio::sleep(10ms);
                                           throw std::runtime_error("two broke");
                                         }
                                         if (i == 0) {
                                           trio::cancel_scope shielded;
                                           shielded.set_shield(true);
                                           co_await shielded.enter([&]() -> trio::task<> {
                                             try {
                                               co_await trio::on_runner(
                                                   1, []() -> trio::task<> { co_await trio::sleep_forever(); });
                                               got = "returned";
                                             } catch (const trio::run_finished_error& e) {
                                               got = e.what();
                                             } catch (const trio::cancelled& c) {
                                               got = "cancelled: " + c.message();
                                             }
                                           });
                                         }
                                         co_await trio::sleep_forever();
                                       }),
                    "two broke");
  // Not runner 1's own shutdown cancellation, which would pierce the caller's shield.
  CHECK_THAT(got, Catch::Contains("trio::on_runner: runner 1 ") && Catch::Contains("runner 2 of 3 failed: two broke"));
}

TEST_CASE("GROUP no file descriptor left for the runners' loops: the error names the open-file limit",
          "[runner_group]") {
  // (UBSan's type checks open a pipe the first time they meet a pair of types: the same main failing
  // with the same error type shows them these pairs while fds are left.)
  bool warm_up = true;
  auto main = [&]() -> trio::task<> {
    if (warm_up) throw std::system_error(EMFILE, std::system_category(), "warm-up");
    co_return;
  };
  CHECK_THROWS_AS(trio::run_per_core(runners(3), main), trio::exception_group);
  warm_up = false;
  test::fd_exhaustion no_fds;
  std::exception_ptr error;
  try {
    trio::run_per_core(runners(3), main);
  } catch (...) {
    error = std::current_exception();
  }
  no_fds.release();
  std::string what = "returned";  // read with fds free again (UBSan's type check of e.what() needs one)
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = e.what();
    }
  }
  CHECK_THAT(what, Catch::Contains("RLIMIT_NOFILE"));
  CHECK_THAT(what, !Catch::Contains("io_uring is unavailable"));
}

TEST_CASE("GROUP run_per_core inside a running trio::run: logic_error that says where the group starts",
          "[runner_group]") {
  std::string what;
  trio::run([&]() -> trio::task<> {
    try {
      trio::run_per_core(runners(2), []() -> trio::task<> { co_return; });
    } catch (const std::logic_error& e) {
      what = e.what();
    }
    co_return;
  });
  CHECK_THAT(what, Catch::StartsWith("trio::run_per_core called from inside a running trio::run()") &&
                       Catch::Contains("outside any trio::run"));
}

TEST_CASE("GROUP a runner fails while the others call each other: run_per_core raises that failure alone",
          "[runner_group]") {
  // The runners end in any order: a call may reach a runner that is ending or has ended before the
  // caller's own cancellation arrives. The caller then waits for that cancellation: no second error.
  std::vector<std::string> wrong;
  for (int rep = 0; rep < 40; ++rep) {
    try {
      trio::run_per_core(runners(3), [rep]() -> trio::task<> {
        const std::size_t i = trio::runner_index();
        if (i == 2) {
          co_await trio::sleep(std::chrono::microseconds(25 * rep));
          throw std::runtime_error("two broke");
        }
        for (;;) co_await trio::on_runner(1 - i, []() -> trio::task<> { co_await trio::checkpoint(); });
      });
      wrong.push_back("returned");
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()) != "two broke") wrong.push_back(e.what());
    } catch (const trio::exception_group& g) {
      wrong.push_back(g.what());
    }
  }
  CHECK(wrong == std::vector<std::string>{});
}

TEST_CASE("GROUP runners = (size_t)-1 (a count computed below 0): invalid_argument naming the option",
          "[runner_group]") {
  std::string what;
  try {
    trio::run_per_core(runners(static_cast<std::size_t>(-1)), []() -> trio::task<> { co_return; });
  } catch (const std::invalid_argument& e) {
    what = e.what();
  }
  CHECK_THAT(what, Catch::StartsWith("trio::run_per_core: runner_group_options::runners = 18446744073709551615"));
}

TEST_CASE("GROUP SIG Ctrl-C while the runners call each other: run_per_core throws keyboard_interrupt alone",
          "[runner_group][signals]") {
  // Runner 0's run ends at Ctrl-C before the group cancels the others: their calls to it must not fail.
  test::default_sigint dfl;
  std::vector<std::string> wrong;
  for (int rep = 0; rep < 10; ++rep) {
    trio::runner_group_options o;
    o.runners = 3;  // handle_sigint = true: runner 0 (this, the main thread) takes Ctrl-C
    try {
      trio::run_per_core(o, [rep]() -> trio::task<> {
        const std::size_t i = trio::runner_index();
        if (i == 2) {
          co_await trio::sleep(std::chrono::microseconds(100 * rep));
          ::kill(::getpid(), SIGINT);
        }
        for (;;) co_await trio::on_runner((i + 1) % 3, []() -> trio::task<> { co_await trio::checkpoint(); });
      });
      wrong.push_back("returned");
    } catch (const trio::keyboard_interrupt&) {
    } catch (const trio::base_exception_group& g) {
      wrong.push_back(g.what());
    }
  }
  CHECK(wrong == std::vector<std::string>{});
}
