#pragma once
// Counts every allocation made through the global operator new (replaced in alloc_counter.cpp), for
// "allocations per operation".

#include <atomic>
#include <cstddef>

namespace bench {
extern std::atomic<std::size_t> allocations;
}
