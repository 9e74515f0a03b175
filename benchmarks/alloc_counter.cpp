// The replacement global operator new/delete of the benchmark binary: malloc/free plus a counter.
// A translation unit of its own, so the compiler never pairs the two through inlining.
#include "alloc_counter.hpp"

#include <cstdlib>
#include <new>

namespace bench {
std::atomic<std::size_t> allocations{0};
thread_local std::size_t thread_allocations = 0;
}  // namespace bench

void* operator new(std::size_t n) {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  ++bench::thread_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  ++bench::thread_allocations;
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return ::operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
