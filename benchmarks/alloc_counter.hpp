#pragma once
// Counts every allocation made through the global operator new (replaced in alloc_counter.cpp), for
// "allocations per operation".

#include <atomic>
#include <cstddef>

namespace bench {
extern std::atomic<std::size_t> allocations;         // by every thread
extern thread_local std::size_t thread_allocations;  // by this thread (a server in another one is not counted)
}  // namespace bench
