// trio-cpp's core workloads, each next to Asio's equivalent (C++20 awaitable, single-threaded
// io_context), in one binary and one run. Every benchmark reports `ops` (operations per iteration) and
// `allocs_per_op`; scripts/bench turns the JSON into the table (ns/op = real_time / ops).
//
//   bench [--smoke] [google benchmark flags]     --smoke: tiny sizes, for ctest (not timed)

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <asio.hpp>
#include <asio/experimental/channel.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <latch>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <trio/testing.hpp>
#include <trio/trace.hpp>
#include <trio/trio.hpp>

#include "alloc_counter.hpp"
#include "bench_common.hpp"

using namespace std::chrono_literals;

namespace {

using bench::alloc_scope;
using bench::connect_loopback;
using bench::g_divisor;
using bench::in_trio;
using bench::loopback_listener_fd;
using bench::scaled;
using bench::thread_cpu_ns;
using bench::thread_user_ns;

long rss_bytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * sysconf(_SC_PAGESIZE);
}

trio::task<> noop() { co_return; }
trio::task<int> one() { co_return 1; }
asio::awaitable<void> anoop() { co_return; }
asio::awaitable<int> aone() { co_return 1; }

// ---- (a) spawn and join children ---------------------------------------------------------------
void trio_spawn_join(benchmark::State& state) {
  const int n = scaled(1'000'000);
  in_trio([&]() -> trio::task<> {
    alloc_scope a{state, double(n)};
    for (auto _ : state) {
      co_await trio::open_nursery([n](trio::nursery& nur) -> trio::task<> {
        for (int i = 0; i < n; ++i) nur.start_soon(noop);
        co_return;
      });
    }
  });
}
void asio_spawn_join(benchmark::State& state) {
  const int n = scaled(1'000'000);
  alloc_scope a{state, double(n)};
  for (auto _ : state) {
    asio::io_context ctx(1);
    for (int i = 0; i < n; ++i) asio::co_spawn(ctx, anoop(), asio::detached);
    ctx.run();
  }
}

// ---- (b) checkpoints -------------------------------------------------------------------------------
void trio_checkpoint(benchmark::State& state) {
  const int n = scaled(2'000'000);
  in_trio([&]() -> trio::task<> {
    alloc_scope a{state, double(n)};
    for (auto _ : state)
      for (int i = 0; i < n; ++i) co_await trio::checkpoint();
  });
}
// The diagnostics' cost: the same checkpoint loop with step times measured (collect_step_times), and
// with a trace_recorder installed (an instrument: the loop calls it around every step).
void trio_checkpoint_step_times(benchmark::State& state) {
  const int n = scaled(2'000'000);
  trio::run_options o;
  o.handle_sigint = false;
  o.collect_step_times = true;
  trio::run(o, [&]() -> trio::task<> {
    for (auto _ : state)
      for (int i = 0; i < n; ++i) co_await trio::checkpoint();
  });
}
void trio_checkpoint_trace_recorder(benchmark::State& state) {
  const int n = scaled(2'000'000);
  trio::trace_recorder rec;
  trio::run_options o;
  o.handle_sigint = false;
  o.instruments.push_back(&rec);
  trio::run(o, [&]() -> trio::task<> {
    for (auto _ : state)
      for (int i = 0; i < n; ++i) co_await trio::checkpoint();
  });
}
void trio_checkpoint_100_tasks(benchmark::State& state) {
  const int n = scaled(2'000'000);
  in_trio([&]() -> trio::task<> {
    alloc_scope a{state, double(n)};
    for (auto _ : state) {
      co_await trio::open_nursery([n](trio::nursery& nur) -> trio::task<> {
        for (int t = 0; t < 100; ++t)
          nur.start_soon(
              [](int k) -> trio::task<> {
                for (int i = 0; i < k; ++i) co_await trio::checkpoint();
              },
              n / 100);
        co_return;
      });
    }
  });
}
void asio_checkpoint(benchmark::State& state) {
  const int n = scaled(2'000'000);
  alloc_scope a{state, double(n)};
  for (auto _ : state) {
    asio::io_context ctx(1);
    asio::co_spawn(
        ctx,
        [n]() -> asio::awaitable<void> {
          auto ex = co_await asio::this_coro::executor;
          for (int i = 0; i < n; ++i) co_await asio::post(ex, asio::use_awaitable);
        },
        asio::detached);
    ctx.run();
  }
}
void asio_checkpoint_100_tasks(benchmark::State& state) {
  const int n = scaled(2'000'000);
  alloc_scope a{state, double(n)};
  for (auto _ : state) {
    asio::io_context ctx(1);
    for (int t = 0; t < 100; ++t)
      asio::co_spawn(
          ctx,
          [k = n / 100]() -> asio::awaitable<void> {
            auto ex = co_await asio::this_coro::executor;
            for (int i = 0; i < k; ++i) co_await asio::post(ex, asio::use_awaitable);
          },
          asio::detached);
    ctx.run();
  }
}

// ---- (c) co_await a task that returns at once --------------------------------------------------------
void trio_await_task(benchmark::State& state) {
  const int n = scaled(1'000'000);
  in_trio([&]() -> trio::task<> {
    alloc_scope a{state, double(n)};
    int sum = 0;
    for (auto _ : state)
      for (int i = 0; i < n; ++i) sum += co_await one();
    benchmark::DoNotOptimize(sum);
  });
}
void asio_await_task(benchmark::State& state) {
  const int n = scaled(1'000'000);
  alloc_scope a{state, double(n)};
  for (auto _ : state) {
    asio::io_context ctx(1);
    asio::co_spawn(
        ctx,
        [n]() -> asio::awaitable<void> {
          int sum = 0;
          for (int i = 0; i < n; ++i) sum += co_await aone();
          benchmark::DoNotOptimize(sum);
        },
        asio::detached);
    ctx.run();
  }
}

// ---- (d) a scope with a deadline around a body that finishes at once ----------------------------------
void trio_deadline_scope(benchmark::State& state) {
  const int n = scaled(1'000'000);
  in_trio([&]() -> trio::task<> {
    alloc_scope a{state, double(n)};
    auto body = []() -> trio::task<> { co_return; };
    for (auto _ : state)
      for (int i = 0; i < n; ++i) benchmark::DoNotOptimize(co_await trio::move_on_after(1s, body));
  });
}
void asio_deadline_scope(benchmark::State& state) {  // Asio's way: arm a timer, then cancel it
  const int n = scaled(1'000'000);
  alloc_scope a{state, double(n)};
  for (auto _ : state) {
    asio::io_context ctx(1);
    asio::steady_timer timer(ctx);
    int fired = 0;
    for (int i = 0; i < n; ++i) {
      timer.expires_after(1s);
      timer.async_wait([&fired](std::error_code) { ++fired; });
      timer.cancel();
    }
    ctx.run();
    benchmark::DoNotOptimize(fired);
  }
}

// ---- the floor under (d): one read of the clock (trio::current_time; Asio: steady_clock::now) ------
void trio_clock_read(benchmark::State& state) {
  const int n = scaled(1'000'000);
  in_trio([&]() -> trio::task<> {
    alloc_scope a{state, double(n)};
    for (auto _ : state)
      for (int i = 0; i < n; ++i) benchmark::DoNotOptimize(trio::current_time());
    co_return;
  });
}
void asio_clock_read(benchmark::State& state) {
  const int n = scaled(1'000'000);
  alloc_scope a{state, double(n)};
  for (auto _ : state)
    for (int i = 0; i < n; ++i) benchmark::DoNotOptimize(asio::steady_timer::clock_type::now());
}

// ---- (e) 100,000 tasks sleeping with distinct deadlines, then woken --------------------------------
void trio_sleepers(benchmark::State& state) {
  const int n = scaled(100'000);
  in_trio([&]() -> trio::task<> {
    alloc_scope a{state, double(n)};
    for (auto _ : state) {
      const auto base = trio::current_time();
      co_await trio::open_nursery([n, base](trio::nursery& nur) -> trio::task<> {
        for (int i = 0; i < n; ++i)
          nur.start_soon([](trio::time_point t) -> trio::task<> { co_await trio::sleep_until(t); },
                         base + std::chrono::nanoseconds(i));
        co_return;
      });
    }
  });
}
void asio_sleepers(benchmark::State& state) {
  const int n = scaled(100'000);
  alloc_scope a{state, double(n)};
  for (auto _ : state) {
    asio::io_context ctx(1);
    const auto base = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i)
      asio::co_spawn(
          ctx,
          [t = base + std::chrono::nanoseconds(i)]() -> asio::awaitable<void> {
            asio::steady_timer timer(co_await asio::this_coro::executor, t);
            co_await timer.async_wait(asio::use_awaitable);
          },
          asio::detached);
    ctx.run();
  }
}

// ---- (f) cancel 100,000 parked tasks: from cancel() to the nursery's exit ---------------------------
void trio_cancel_parked(benchmark::State& state) {
  const int n = scaled(100'000);
  in_trio([&]() -> trio::task<> {
    alloc_scope a{state, double(n)};
    for (auto _ : state) {
      std::chrono::steady_clock::time_point t0;
      co_await trio::open_nursery([n, &t0](trio::nursery& nur) -> trio::task<> {
        for (int i = 0; i < n; ++i) nur.start_soon([]() -> trio::task<> { co_await trio::sleep_forever(); });
        co_await trio::testing::wait_all_tasks_blocked();
        t0 = std::chrono::steady_clock::now();
        nur.cancel_scope().cancel();
      });
      state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  });
}
void asio_cancel_parked(benchmark::State& state) {
  const int n = scaled(100'000);
  alloc_scope a{state, double(n)};
  for (auto _ : state) {
    asio::io_context ctx(1);
    asio::steady_timer never(ctx, asio::steady_timer::time_point::max());
    for (int i = 0; i < n; ++i)
      asio::co_spawn(
          ctx,
          [&never]() -> asio::awaitable<void> {
            try {
              co_await never.async_wait(asio::use_awaitable);
            } catch (const std::system_error&) {
            }
          },
          asio::detached);
    while (ctx.poll() != 0) {
    }
    const auto t0 = std::chrono::steady_clock::now();
    never.cancel();
    ctx.run();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
}

// ---- (g) event ping-pong between two tasks ----------------------------------------------------------
void trio_event_pingpong(benchmark::State& state) {
  const int n = scaled(1'000'000);
  in_trio([&]() -> trio::task<> {
    alloc_scope a{state, double(n)};
    for (auto _ : state) {
      // Round i uses slot i % 2; A re-creates the other slot once B is done with it.
      std::array<std::optional<trio::event>, 2> ping, pong;
      for (int s = 0; s < 2; ++s) ping[s].emplace(), pong[s].emplace();
      co_await trio::open_nursery([&, n](trio::nursery& nur) -> trio::task<> {
        nur.start_soon([&, n]() -> trio::task<> {
          for (int i = 0; i < n; ++i) {
            co_await ping[i % 2]->wait();
            pong[i % 2]->set();
          }
        });
        for (int i = 0; i < n; ++i) {
          if (i > 0) ping[(i + 1) % 2].emplace(), pong[(i + 1) % 2].emplace();
          ping[i % 2]->set();
          co_await pong[i % 2]->wait();
        }
      });
    }
  });
}
using achannel = asio::experimental::channel<void(std::error_code, int)>;
void asio_event_pingpong(benchmark::State& state) {
  const int n = scaled(1'000'000);
  alloc_scope a{state, double(n)};
  for (auto _ : state) {
    asio::io_context ctx(1);
    achannel ping(ctx, 1), pong(ctx, 1);
    asio::co_spawn(
        ctx,
        [&, n]() -> asio::awaitable<void> {
          for (int i = 0; i < n; ++i) {
            co_await ping.async_receive(asio::use_awaitable);
            co_await pong.async_send(std::error_code{}, i, asio::use_awaitable);
          }
        },
        asio::detached);
    asio::co_spawn(
        ctx,
        [&, n]() -> asio::awaitable<void> {
          for (int i = 0; i < n; ++i) {
            co_await ping.async_send(std::error_code{}, i, asio::use_awaitable);
            co_await pong.async_receive(asio::use_awaitable);
          }
        },
        asio::detached);
    ctx.run();
  }
}

// ---- (h) memory channel throughput, one producer and one consumer -----------------------------------
void trio_channel(benchmark::State& state) {
  const int n = scaled(1'000'000);
  const auto buffer = static_cast<std::size_t>(state.range(0));
  in_trio([&]() -> trio::task<> {
    alloc_scope a{state, double(n)};
    for (auto _ : state) {
      auto ch = trio::open_memory_channel<int>(buffer);
      co_await trio::open_nursery([&, n](trio::nursery& nur) -> trio::task<> {
        nur.start_soon([&, n]() -> trio::task<> {
          for (int i = 0; i < n; ++i) co_await ch.first.send(i);
          ch.first.close();
        });
        long sum = 0;
        while (auto v = co_await ch.second.next()) sum += *v;
        benchmark::DoNotOptimize(sum);
      });
    }
  });
}
void asio_channel(benchmark::State& state) {
  const int n = scaled(1'000'000);
  const auto buffer = static_cast<std::size_t>(state.range(0));
  alloc_scope a{state, double(n)};
  for (auto _ : state) {
    asio::io_context ctx(1);
    achannel ch(ctx, buffer);
    asio::co_spawn(
        ctx,
        [&, n]() -> asio::awaitable<void> {
          for (int i = 0; i < n; ++i) co_await ch.async_send(std::error_code{}, i, asio::use_awaitable);
        },
        asio::detached);
    asio::co_spawn(
        ctx,
        [&, n]() -> asio::awaitable<void> {
          long sum = 0;
          for (int i = 0; i < n; ++i) sum += co_await ch.async_receive(asio::use_awaitable);
          benchmark::DoNotOptimize(sum);
        },
        asio::detached);
    ctx.run();
  }
}

// ---- (i) 1,000,000 tasks sleeping at once: resident memory per task ----------------------------------
void trio_idle_task_memory(benchmark::State& state) {
  const int n = scaled(1'000'000);
  in_trio([&]() -> trio::task<> {
    alloc_scope a{state, double(n)};
    for (auto _ : state) {
      long before = rss_bytes(), during = 0;
      co_await trio::open_nursery([&, n](trio::nursery& nur) -> trio::task<> {
        for (int i = 0; i < n; ++i) nur.start_soon([]() -> trio::task<> { co_await trio::sleep_forever(); });
        co_await trio::testing::wait_all_tasks_blocked();
        during = rss_bytes();
        nur.cancel_scope().cancel();
      });
      state.counters["bytes_per_task"] = double(during - before) / n;
    }
  });
}
void asio_idle_task_memory(benchmark::State& state) {
  const int n = scaled(1'000'000);
  alloc_scope a{state, double(n)};
  for (auto _ : state) {
    asio::io_context ctx(1);
    const long before = rss_bytes();
    asio::steady_timer never(ctx, asio::steady_timer::time_point::max());
    for (int i = 0; i < n; ++i)
      asio::co_spawn(
          ctx,
          [&never]() -> asio::awaitable<void> {
            try {
              co_await never.async_wait(asio::use_awaitable);
            } catch (const std::system_error&) {
            }
          },
          asio::detached);
    while (ctx.poll() != 0) {
    }
    const long during = rss_bytes();
    never.cancel();
    ctx.run();
    state.counters["bytes_per_task"] = double(during - before) / n;
  }
}

// ---- (j) wait_readable on a pipe: write, then wake, there and back ----------------------------------
void trio_pipe_roundtrip(benchmark::State& state) {
  const int n = scaled(100'000);
  int p1[2], p2[2];
  if (::pipe2(p1, O_NONBLOCK) != 0 || ::pipe2(p2, O_NONBLOCK) != 0) state.SkipWithError("pipe2 failed");
  in_trio([&]() -> trio::task<> {
    alloc_scope a{state, double(n)};
    for (auto _ : state) {
      co_await trio::open_nursery([&, n](trio::nursery& nur) -> trio::task<> {
        nur.start_soon([&, n]() -> trio::task<> {
          char c;
          for (int i = 0; i < n; ++i) {
            co_await trio::lowlevel::wait_readable(p1[0]);
            if (::read(p1[0], &c, 1) != 1 || ::write(p2[1], &c, 1) != 1) std::abort();
          }
        });
        char c = 'x';
        for (int i = 0; i < n; ++i) {
          if (::write(p1[1], &c, 1) != 1) std::abort();
          co_await trio::lowlevel::wait_readable(p2[0]);
          if (::read(p2[0], &c, 1) != 1) std::abort();
        }
      });
    }
  });
  for (int fd : {p1[0], p1[1], p2[0], p2[1]}) ::close(fd);
}
void asio_pipe_roundtrip(benchmark::State& state) {
  const int n = scaled(100'000);
  int p1[2], p2[2];
  if (::pipe2(p1, O_NONBLOCK) != 0 || ::pipe2(p2, O_NONBLOCK) != 0) state.SkipWithError("pipe2 failed");
  alloc_scope a{state, double(n)};
  for (auto _ : state) {
    asio::io_context ctx(1);
    asio::posix::stream_descriptor r1(ctx, ::dup(p1[0])), r2(ctx, ::dup(p2[0]));
    asio::co_spawn(
        ctx,
        [&, n]() -> asio::awaitable<void> {
          char c;
          for (int i = 0; i < n; ++i) {
            co_await r1.async_wait(asio::posix::stream_descriptor::wait_read, asio::use_awaitable);
            if (::read(p1[0], &c, 1) != 1 || ::write(p2[1], &c, 1) != 1) std::abort();
          }
        },
        asio::detached);
    asio::co_spawn(
        ctx,
        [&, n]() -> asio::awaitable<void> {
          char c = 'x';
          for (int i = 0; i < n; ++i) {
            if (::write(p1[1], &c, 1) != 1) std::abort();
            co_await r2.async_wait(asio::posix::stream_descriptor::wait_read, asio::use_awaitable);
            if (::read(p2[0], &c, 1) != 1) std::abort();
          }
        },
        asio::detached);
    ctx.run();
  }
  for (int fd : {p1[0], p1[1], p2[0], p2[1]}) ::close(fd);
}

// ---- (k) to_thread::run_sync of an empty function: to a worker and back ----------------------------
void trio_to_thread(benchmark::State& state) {
  const int n = scaled(20'000);
  in_trio([&]() -> trio::task<> {
    co_await trio::to_thread::run_sync([] {});  // the worker exists before the timing starts
    alloc_scope a{state, double(n)};
    for (auto _ : state)
      for (int i = 0; i < n; ++i) co_await trio::to_thread::run_sync([] {});
  });
}
void asio_to_thread(benchmark::State& state) {
  const int n = scaled(20'000);
  asio::io_context ctx(1);
  asio::thread_pool pool(1);
  alloc_scope a{state, double(n)};
  for (auto _ : state) {
    asio::co_spawn(
        ctx,
        [&, n]() -> asio::awaitable<void> {
          for (int i = 0; i < n; ++i) co_await asio::post(pool, asio::use_awaitable);  // runs on the pool, resumes here
        },
        asio::detached);
    ctx.run();
    ctx.restart();
  }
  pool.join();
}

// ---- (k2) across runners: on_runner round trips, and a shared channel against a memory channel -------
trio::runner_group_options two_runners() {
  trio::runner_group_options o;
  o.runners = 2;
  o.run.handle_sigint = false;
  return o;
}
// An empty task on the other runner and back (compare to_thread: a worker thread and back).
void trio_on_runner(benchmark::State& state) {
  const int n = scaled(20'000);
  trio::run_per_core(two_runners(), [&]() -> trio::task<> {
    if (trio::runner_index() != 0) co_return;
    co_await trio::on_runner(1, []() -> trio::task<> { co_return; });  // runner 1 is up
    alloc_scope a{state, double(n)};
    for (auto _ : state)
      for (int i = 0; i < n; ++i) co_await trio::on_runner(1, []() -> trio::task<> { co_return; });
  });
}
// Asio: a coroutine spawned on another io_context (run by another thread) and awaited.
void asio_on_runner(benchmark::State& state) {
  const int n = scaled(20'000);
  asio::io_context ctx(1), other(1);
  auto guard = asio::make_work_guard(other);
  std::thread t([&] { other.run(); });
  alloc_scope a{state, double(n)};
  for (auto _ : state) {
    asio::co_spawn(
        ctx,
        [&, n]() -> asio::awaitable<void> {
          for (int i = 0; i < n; ++i)
            co_await asio::co_spawn(
                other, []() -> asio::awaitable<void> { co_return; }, asio::use_awaitable);
        },
        asio::detached);
    ctx.run();
    ctx.restart();
  }
  guard.reset();
  t.join();
}
// One producer on runner 0, one consumer on runner 1 (compare trio_channel: both on one runner).
void trio_shared_channel(benchmark::State& state) {
  const int n = scaled(1'000'000);
  const auto buffer = static_cast<std::size_t>(state.range(0));
  alloc_scope a{state, double(n)};
  for (auto _ : state) {
    auto ch = trio::open_shared_channel<int>(buffer);
    trio::run_per_core(two_runners(), [&, n]() -> trio::task<> {
      if (trio::runner_index() == 0) {
        for (int i = 0; i < n; ++i) co_await ch.first.send(i);
        ch.first.close();
      } else {
        long sum = 0;
        while (auto v = co_await ch.second.next()) sum += *v;
        benchmark::DoNotOptimize(sum);
      }
    });
  }
}
// The same shared channel with both ends on one runner: the cost of the mutex alone.
void trio_shared_channel_one_runner(benchmark::State& state) {
  const int n = scaled(1'000'000);
  const auto buffer = static_cast<std::size_t>(state.range(0));
  in_trio([&]() -> trio::task<> {
    alloc_scope a{state, double(n)};
    for (auto _ : state) {
      auto ch = trio::open_shared_channel<int>(buffer);
      co_await trio::open_nursery([&, n](trio::nursery& nur) -> trio::task<> {
        nur.start_soon([&, n]() -> trio::task<> {
          for (int i = 0; i < n; ++i) co_await ch.first.send(i);
          ch.first.close();
        });
        long sum = 0;
        while (auto v = co_await ch.second.next()) sum += *v;
        benchmark::DoNotOptimize(sum);
      });
    }
  });
}

// ---- (l) from_thread::run_sync from a worker thread: into the loop and back --------------------------
void trio_from_thread(benchmark::State& state) {
  const int n = scaled(20'000);
  in_trio([&]() -> trio::task<> {
    int counter = 0;
    co_await trio::to_thread::run_sync([&] { trio::from_thread::run_sync([&] { ++counter; }); });
    alloc_scope a{state, double(n)};
    for (auto _ : state)
      co_await trio::to_thread::run_sync([&, n] {
        for (int i = 0; i < n; ++i) trio::from_thread::run_sync([&] { ++counter; });
      });
    benchmark::DoNotOptimize(counter);
  });
}
void asio_from_thread(benchmark::State& state) {
  const int n = scaled(20'000);
  asio::io_context ctx(1);
  auto guard = asio::make_work_guard(ctx);
  std::thread loop([&] { ctx.run(); });
  int counter = 0;
  alloc_scope a{state, double(n)};
  for (auto _ : state)
    for (int i = 0; i < n; ++i) asio::post(ctx, asio::use_future([&] { ++counter; })).get();
  guard.reset();
  loop.join();
  benchmark::DoNotOptimize(counter);
}

// ---- (m) TCP over loopback: echo round trips, and the server's user CPU per round trip -----------
// One client thread (blocking sockets: each round sends 64 bytes on every connection, then reads the
// 64 bytes back from every one) drives a server in its own thread: trio-cpp, Asio, or a raw liburing
// loop written here (the floor). The server thread measures its own user CPU (RUSAGE_THREAD).
constexpr std::size_t echo_message = 64;

/// Connects `conns` sockets, runs `rounds` rounds, closes them; returns the rounds' seconds.
double echo_client(std::uint16_t port, int conns, int rounds) {
  std::vector<int> fds;
  for (int i = 0; i < conns; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::abort();
    fds.push_back(fd);
  }
  char out[echo_message], in[echo_message];
  std::memset(out, 'e', sizeof out);
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < rounds; ++r) {
    for (int fd : fds)
      if (::send(fd, out, sizeof out, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof out)) std::abort();
    for (int fd : fds)
      for (std::size_t got = 0; got < sizeof in;) {
        const ssize_t k = ::recv(fd, in + got, sizeof in - got, 0);
        if (k <= 0) std::abort();
        got += static_cast<std::size_t>(k);
      }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int fd : fds) ::close(fd);
  return secs;
}

/// The server thread's CPU over its run: user (tick-sampled, coarse) and user + kernel (exact).
struct server_cpu {
  long user_ns = 0, total_ns = 0;
};

void trio_echo_server(int lfd, int conns, server_cpu& cpu) {
  in_trio([&]() -> trio::task<> {
    const long t0 = thread_user_ns(), c0 = thread_cpu_ns();
    trio::socket_listener listener(trio::socket::adopt(lfd, AF_INET, SOCK_STREAM));
    auto echo = [](trio::socket_stream s) -> trio::task<> {
      std::array<std::byte, echo_message> buf;
      for (;;) {
        const std::size_t k = co_await s.receive_some(buf);
        if (k == 0) co_return;
        co_await s.send_all(std::span<const std::byte>(buf.data(), k));
      }
    };
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      for (int i = 0; i < conns; ++i) n.start_soon(echo, co_await listener.accept());
    });
    cpu = {thread_user_ns() - t0, thread_cpu_ns() - c0};
  });
}

/// Asio's echo session: echoes until the peer closes the connection.
asio::awaitable<void> asio_echo_session(asio::ip::tcp::socket s) {
  char buf[echo_message];
  try {
    for (;;) {
      const std::size_t k = co_await s.async_read_some(asio::buffer(buf), asio::use_awaitable);
      co_await asio::async_write(s, asio::buffer(buf, k), asio::use_awaitable);
    }
  } catch (const std::system_error&) {  // end of stream
  }
}
/// Asio's accept loop: `conns` connections (forever when negative), each in a session(socket) of its own.
template <class Session>
asio::awaitable<void> asio_accept_loop(asio::io_context& ctx, asio::ip::tcp::acceptor& acceptor, int conns,
                                       Session& session) {
  for (int i = 0; conns < 0 || i < conns; ++i) {
    asio::ip::tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
    s.set_option(asio::ip::tcp::no_delay(true));
    asio::co_spawn(ctx, session(std::move(s)), asio::detached);
  }
}

void asio_echo_server(int lfd, int conns, server_cpu& cpu) {
  const long t0 = thread_user_ns(), c0 = thread_cpu_ns();
  asio::io_context ctx(1);
  asio::ip::tcp::acceptor acceptor(ctx, asio::ip::tcp::v4(), lfd);
  asio::co_spawn(ctx, asio_accept_loop(ctx, acceptor, conns, asio_echo_session), asio::detached);
  ctx.run();
  cpu = {thread_user_ns() - t0, thread_cpu_ns() - c0};
}

/// The floor: the same server as a bare liburing loop (one recv or send in flight per connection).
void uring_echo_server(int lfd, int conns, server_cpu& cpu) {
  const long t0 = thread_user_ns(), c0 = thread_cpu_ns();
  io_uring ring;
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  if (io_uring_queue_init_params(256, &ring, &p) != 0 && io_uring_queue_init(256, &ring, 0) != 0) std::abort();
  struct conn {
    int fd;
    char buf[echo_message];
  };
  std::vector<conn> cs(static_cast<std::size_t>(conns));
  auto recv = [&](std::size_t i) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_recv(sqe, cs[i].fd, cs[i].buf, echo_message, 0);
    io_uring_sqe_set_data64(sqe, i * 2);
  };
  for (std::size_t i = 0; i < cs.size(); ++i) {
    cs[i].fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    int one = 1;
    ::setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    recv(i);
  }
  for (std::size_t alive = cs.size(); alive > 0;) {
    io_uring_submit_and_wait(&ring, 1);
    unsigned head, seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      const std::size_t i = cqe->user_data / 2;
      if (cqe->user_data % 2 == 0) {
        if (cqe->res <= 0) {
          ::close(cs[i].fd);
          --alive;
          continue;
        }
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        io_uring_prep_send(sqe, cs[i].fd, cs[i].buf, static_cast<std::size_t>(cqe->res), MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, i * 2 + 1);
      } else {
        recv(i);
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
  io_uring_queue_exit(&ring);
  ::close(lfd);
  cpu = {thread_user_ns() - t0, thread_cpu_ns() - c0};
}

template <class Server>
void run_echo(benchmark::State& state, Server server) {
  const int conns = static_cast<int>(state.range(0));
  const int rounds = scaled(conns == 1 ? 20'000 : 2'000);
  const double ops = double(conns) * rounds;
  double server_user_ns = 0, server_cpu_ns = 0;
  alloc_scope a{state, ops};
  for (auto _ : state) {
    std::uint16_t port = 0;
    const int lfd = loopback_listener_fd(port);
    server_cpu cpu;
    std::thread t([&] { server(lfd, conns, cpu); });
    state.SetIterationTime(echo_client(port, conns, rounds));
    t.join();
    server_user_ns += double(cpu.user_ns);
    server_cpu_ns += double(cpu.total_ns);
  }
  state.counters["server_user_ns_per_op"] = server_user_ns / (ops * double(state.iterations()));
  state.counters["server_cpu_ns_per_op"] = server_cpu_ns / (ops * double(state.iterations()));
}
void trio_tcp_echo(benchmark::State& state) { run_echo(state, trio_echo_server); }

/// Two listening sockets on one loopback port with SO_REUSEPORT: the kernel spreads the connections.
std::uint16_t reuse_port_listeners(int (&lfds)[2]) {
  std::uint16_t port = 0;
  for (int i = 0; i < 2; ++i) {
    lfds[i] = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(lfds[i], SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    socklen_t len = sizeof addr;
    if (::bind(lfds[i], reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(lfds[i], 1024) != 0 ||
        ::getsockname(lfds[i], reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      std::abort();
    port = ntohs(addr.sin_port);
  }
  return port;
}

/// Runs a two-thread echo server (`serve(lfds, conns, cpus, ready)`) against the client in this thread.
template <class Serve>
void run_echo_2threads(benchmark::State& state, Serve serve) {
  const int conns = static_cast<int>(state.range(0));
  const int rounds = scaled(2'000);
  const double ops = double(conns) * rounds;
  double server_user_ns = 0, server_cpu_ns = 0;
  alloc_scope a{state, ops};
  for (auto _ : state) {
    int lfds[2];
    const std::uint16_t port = reuse_port_listeners(lfds);
    server_cpu cpus[2];
    std::latch ready(1);
    std::thread t([&] { serve(lfds, conns, cpus, ready); });
    ready.wait();
    state.SetIterationTime(echo_client(port, conns, rounds));
    t.join();
    server_user_ns += double(cpus[0].user_ns + cpus[1].user_ns);
    server_cpu_ns += double(cpus[0].total_ns + cpus[1].total_ns);
  }
  state.counters["server_user_ns_per_op"] = server_user_ns / (ops * double(state.iterations()));
  state.counters["server_cpu_ns_per_op"] = server_cpu_ns / (ops * double(state.iterations()));
}

/// Echo on a runner group of two (run_per_core, one trio::run per thread), each runner with its own
/// listener on the port. The runner that closes the last connection stops both with on_runner.
void trio_tcp_echo_2runners(benchmark::State& state) {
  run_echo_2threads(state, [](int(&lfds)[2], int conns, server_cpu(&cpus)[2], std::latch& ready) {
    std::atomic<int> closed{0}, up{0};
    trio::cancel_scope* scopes[2] = {nullptr, nullptr};
    trio::run_per_core(two_runners(), [&]() -> trio::task<> {
      const std::size_t me = trio::runner_index();
      const long t0 = thread_user_ns(), c0 = thread_cpu_ns();
      trio::socket_listener listener(trio::socket::adopt(lfds[me], AF_INET, SOCK_STREAM));
      auto stop = [&scopes](std::size_t i) -> trio::task<> {
        scopes[i]->cancel();
        co_return;
      };
      auto echo = [&](trio::socket_stream s) -> trio::task<> {
        std::array<std::byte, echo_message> buf;
        for (;;) {
          const std::size_t k = co_await s.receive_some(buf);
          if (k == 0) break;
          co_await s.send_all(std::span<const std::byte>(buf.data(), k));
        }
        if (++closed == conns) {
          co_await trio::on_runner(1 - me, stop, 1 - me);
          scopes[me]->cancel();
        }
      };
      co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
        scopes[me] = &n.cancel_scope();
        if (++up == 2) ready.count_down();
        for (;;) n.start_soon(echo, co_await listener.accept());
      });
      cpus[me] = {thread_user_ns() - t0, thread_cpu_ns() - c0};
    });
  });
}

/// Asio's usual multi-core shape: one io_context per thread, each with its own acceptor on the port.
void asio_tcp_echo_2contexts(benchmark::State& state) {
  run_echo_2threads(state, [](int(&lfds)[2], int conns, server_cpu(&cpus)[2], std::latch& ready) {
    std::atomic<int> closed{0};
    asio::io_context ctxs[2]{asio::io_context(1), asio::io_context(1)};
    auto serve = [&](int idx) {
      const long t0 = thread_user_ns(), c0 = thread_cpu_ns();
      asio::io_context& ctx = ctxs[idx];
      asio::ip::tcp::acceptor acceptor(ctx, asio::ip::tcp::v4(), lfds[idx]);
      auto echo = [&](asio::ip::tcp::socket s) -> asio::awaitable<void> {
        co_await asio_echo_session(std::move(s));
        if (++closed == conns)
          for (auto& c : ctxs) c.stop();
      };
      asio::co_spawn(ctx, asio_accept_loop(ctx, acceptor, -1, echo), asio::detached);
      ctx.run();
      cpus[idx] = {thread_user_ns() - t0, thread_cpu_ns() - c0};
    };
    std::thread other([&] { serve(1); });
    ready.count_down();  // both acceptors listen already (the sockets were made by the caller)
    serve(0);
    other.join();
  });
}

/// Asio's other shape: one io_context run by two threads (its scheduler takes a lock), one acceptor.
void asio_tcp_echo_shared_context(benchmark::State& state) {
  run_echo_2threads(state, [](int(&lfds)[2], int conns, server_cpu(&cpus)[2], std::latch& ready) {
    ::close(lfds[1]);  // one acceptor takes every connection
    asio::io_context ctx(2);
    asio::ip::tcp::acceptor acceptor(ctx, asio::ip::tcp::v4(), lfds[0]);
    asio::co_spawn(ctx, asio_accept_loop(ctx, acceptor, conns, asio_echo_session), asio::detached);
    auto run = [&](int idx) {
      const long t0 = thread_user_ns(), c0 = thread_cpu_ns();
      ctx.run();
      cpus[idx] = {thread_user_ns() - t0, thread_cpu_ns() - c0};
    };
    std::thread other([&] { run(1); });
    ready.count_down();
    run(0);
    other.join();
  });
}
void asio_tcp_echo(benchmark::State& state) { run_echo(state, asio_echo_server); }
void uring_tcp_echo(benchmark::State& state) { run_echo(state, uring_echo_server); }

// ---- (n) bulk transfer over one loopback connection (64 KiB writes and reads), and accept + close --
constexpr std::size_t bulk_chunk = 64 * 1024;

void trio_bulk_server(int lfd, std::size_t total) {
  in_trio([&]() -> trio::task<> {
    trio::socket_listener listener(trio::socket::adopt(lfd, AF_INET, SOCK_STREAM));
    trio::socket_stream s = co_await listener.accept();
    std::vector<std::byte> buf(bulk_chunk);
    std::size_t got = 0;
    for (std::size_t k; (k = co_await s.receive_some(buf)) != 0;) got += k;
    if (got != total) std::abort();
  });
}
void asio_bulk_server(int lfd, std::size_t total) {
  asio::io_context ctx(1);
  asio::ip::tcp::acceptor acceptor(ctx, asio::ip::tcp::v4(), lfd);
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        asio::ip::tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
        std::vector<char> buf(bulk_chunk);
        std::size_t got = 0;
        try {
          for (;;) got += co_await s.async_read_some(asio::buffer(buf), asio::use_awaitable);
        } catch (const std::system_error&) {  // end of stream
        }
        if (got != total) std::abort();
      },
      asio::detached);
  ctx.run();
}

template <class Server>
void run_bulk(benchmark::State& state, Server server) {
  const std::size_t total = std::max<std::size_t>(bulk_chunk, (std::size_t{1} << 30) / std::size_t(g_divisor));
  const double ops = double(total) / double(bulk_chunk);
  std::vector<char> chunk(bulk_chunk, 'b');
  alloc_scope a{state, ops};
  for (auto _ : state) {
    std::uint16_t port = 0;
    const int lfd = loopback_listener_fd(port);
    std::thread t([&] { server(lfd, total); });
    const int fd = connect_loopback(port);
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t sent = 0; sent < total;) {
      const ssize_t k = ::send(fd, chunk.data(), std::min(bulk_chunk, total - sent), MSG_NOSIGNAL);
      if (k <= 0) std::abort();
      sent += static_cast<std::size_t>(k);
    }
    ::close(fd);
    t.join();  // the server has read everything
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  state.counters["bytes_per_op"] = double(bulk_chunk);
}
void trio_tcp_bulk(benchmark::State& state) { run_bulk(state, trio_bulk_server); }
void asio_tcp_bulk(benchmark::State& state) { run_bulk(state, asio_bulk_server); }

void trio_accept_server(int lfd, int n) {
  in_trio([&]() -> trio::task<> {
    trio::socket_listener listener(trio::socket::adopt(lfd, AF_INET, SOCK_STREAM));
    for (int i = 0; i < n; ++i) {
      trio::socket_stream s = co_await listener.accept();
      co_await s.aclose();
    }
  });
}
void asio_accept_server(int lfd, int n) {
  asio::io_context ctx(1);
  asio::ip::tcp::acceptor acceptor(ctx, asio::ip::tcp::v4(), lfd);
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < n; ++i) {
          asio::ip::tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
          s.close();
        }
      },
      asio::detached);
  ctx.run();
}

template <class Server>
void run_accept(benchmark::State& state, Server server) {
  const int n = scaled(5'000);
  alloc_scope a{state, double(n)};
  for (auto _ : state) {
    std::uint16_t port = 0;
    const int lfd = loopback_listener_fd(port);
    const auto t0 = std::chrono::steady_clock::now();
    std::thread t([&] { server(lfd, n); });
    for (int i = 0; i < n; ++i) {
      const int fd = connect_loopback(port);
      linger lg{1, 0};  // close with RST: no TIME_WAIT pile-up across repetitions
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      ::close(fd);
    }
    t.join();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
}
void trio_accept_close(benchmark::State& state) { run_accept(state, trio_accept_server); }
void asio_accept_close(benchmark::State& state) { run_accept(state, asio_accept_server); }

}  // namespace

#define PAIR(name)                                       \
  BENCHMARK(trio_##name)->Unit(benchmark::kMillisecond); \
  BENCHMARK(asio_##name)->Unit(benchmark::kMillisecond)

PAIR(spawn_join);
PAIR(checkpoint);
BENCHMARK(trio_checkpoint_step_times)->Unit(benchmark::kMillisecond);
BENCHMARK(trio_checkpoint_trace_recorder)->Unit(benchmark::kMillisecond);
PAIR(checkpoint_100_tasks);
PAIR(await_task);
PAIR(deadline_scope);
PAIR(clock_read);
PAIR(sleepers);
BENCHMARK(trio_cancel_parked)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(asio_cancel_parked)->UseManualTime()->Unit(benchmark::kMillisecond);
PAIR(event_pingpong);
BENCHMARK(trio_channel)->Arg(0)->Arg(64)->Unit(benchmark::kMillisecond);
BENCHMARK(asio_channel)->Arg(0)->Arg(64)->Unit(benchmark::kMillisecond);
BENCHMARK(trio_idle_task_memory)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(asio_idle_task_memory)->Iterations(1)->Unit(benchmark::kMillisecond);
PAIR(pipe_roundtrip);
PAIR(to_thread);
PAIR(on_runner);
BENCHMARK(trio_shared_channel)->Arg(0)->Arg(64)->Unit(benchmark::kMillisecond);
BENCHMARK(trio_shared_channel_one_runner)->Arg(0)->Arg(64)->Unit(benchmark::kMillisecond);
PAIR(from_thread);
BENCHMARK(trio_tcp_echo)->Arg(1)->Arg(50)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(trio_tcp_echo_2runners)->Arg(50)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(asio_tcp_echo_2contexts)->Arg(50)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(asio_tcp_echo_shared_context)->Arg(50)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(asio_tcp_echo)->Arg(1)->Arg(50)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(uring_tcp_echo)->Arg(1)->Arg(50)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(trio_tcp_bulk)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(asio_tcp_bulk)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(trio_accept_close)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(asio_accept_close)->UseManualTime()->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0)
      g_divisor = 10000;
    else
      args.push_back(argv[i]);
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
