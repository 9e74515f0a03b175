#pragma once
// What every benchmark file shares: the --smoke size divisor, the allocations-per-op counter, a
// trio::run without Ctrl-C handling, and blocking loopback sockets for the peers of the I/O rows.

#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <utility>

#include <trio/trio.hpp>

#include "alloc_counter.hpp"

namespace bench {

inline int g_divisor = 1;  // --smoke divides every size
inline int scaled(int n) { return std::max(1, n / g_divisor); }

/// Sets the `ops` and `allocs_per_op` counters of a benchmark when it ends.
struct alloc_scope {
  benchmark::State& state;
  double ops;
  std::size_t start = allocations.load(std::memory_order_relaxed);
  ~alloc_scope() {
    const double total_ops = ops * static_cast<double>(state.iterations());
    state.counters["ops"] = ops;
    state.counters["allocs_per_op"] =
        total_ops > 0 ? static_cast<double>(allocations.load(std::memory_order_relaxed) - start) / total_ops : 0;
  }
};

template <class F>
void in_trio(F&& f) {
  trio::run_options o;
  o.handle_sigint = false;
  trio::run(o, std::forward<F>(f));
}

/// This thread's CPU time so far, user and kernel (CLOCK_THREAD_CPUTIME_ID: exact).
inline long thread_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1'000'000'000L + ts.tv_nsec;
}

/// This thread's user CPU time so far (RUSAGE_THREAD). Beware: with tick-based accounting (this
/// VM's kernel: CONFIG_TICK_CPU_ACCOUNTING, HZ=250) the kernel splits a thread's exact run time into
/// user and system by which mode each 4 ms tick found it in, so a thread that spends 1% of its time
/// in user space gets its user time in 4 ms steps (200 ns per round trip over 20,000 round trips).
/// benchmarks/user_cpu.py measures the user share by sampling instead.
inline long thread_user_ns() {
  rusage ru{};
  ::getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_utime.tv_sec * 1'000'000'000L + ru.ru_utime.tv_usec * 1000L;
}

/// A listening TCP socket on 127.0.0.1 and a free port (written to `port`).
inline int loopback_listener_fd(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 1024) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    std::abort();
  port = ntohs(a.sin_port);
  return fd;
}

/// A blocking TCP socket connected to 127.0.0.1:port.
inline int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::abort();
  return fd;
}

}  // namespace bench
