#pragma once
// What every benchmark file shares: the --smoke size divisor, the allocations-per-op counter and a
// trio::run without Ctrl-C handling.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
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

}  // namespace bench
