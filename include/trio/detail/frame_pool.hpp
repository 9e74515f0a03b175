#pragma once
/// \file
/// Per-thread size-class free lists for coroutine frames.

#include <cstddef>
#include <new>

#include "trio/detail/config.hpp"

namespace trio::detail {

/// The free lists of one thread. Constant-initialised and trivially destructible, so reaching it is
/// one thread-local access with no initialisation guard; the frames it caches are returned to the
/// global allocator at thread exit by a cleaner that the first fresh allocation registers.
class frame_pool {
 public:
  // Class c holds frames of up to (c + 1) * 16 - 8 bytes: glibc's malloc adds an 8-byte header and
  // rounds to 16, so a fresh frame of a class costs exactly (c + 1) * 16 bytes of heap.
  static constexpr std::size_t granule = 16;
  static constexpr std::size_t header = 8;
  static constexpr std::size_t classes = 128;                    // frames up to 2 KiB are pooled
  static constexpr std::size_t max_cached_per_class = 1u << 20;  // bounded memory, even after bursts

  TRIO_ALWAYS_INLINE void* allocate(std::size_t size) {
    const std::size_t c = class_of(size);
    if (TRIO_LIKELY(c < classes)) {
      if (node* n = free_[c]) {
        free_[c] = n->next;
        --count_[c];
        return n;
      }
      return allocate_fresh(c);
    }
    return ::operator new(size);
  }

  TRIO_ALWAYS_INLINE void deallocate(void* p, std::size_t size) noexcept {
    const std::size_t c = class_of(size);
    if (TRIO_UNLIKELY(c >= classes || count_[c] >= max_cached_per_class)) return release(p);
    node* n = static_cast<node*>(p);
    n->next = free_[c];
    free_[c] = n;
    ++count_[c];
  }

  /// Returns every cached frame to the global allocator.
  void release_all() noexcept {
    for (std::size_t c = 0; c < classes; ++c) {
      while (node* n = free_[c]) {
        free_[c] = n->next;
        ::operator delete(n);
      }
      count_[c] = 0;
    }
  }

  static frame_pool& local() noexcept;

 private:
  struct node {
    node* next;
  };
  struct cleaner {
    ~cleaner() { local().release_all(); }
  };
  static constexpr std::size_t class_of(std::size_t size) noexcept {
    return (size + header + granule - 1) / granule - 1;
  }
  static constexpr std::size_t capacity_of(std::size_t c) noexcept { return (c + 1) * granule - header; }

  [[gnu::noinline]] static void release(void* p) noexcept { ::operator delete(p); }

  void* allocate_fresh(std::size_t c) {
    static thread_local cleaner registered;  // registers the thread-exit release on first use
    (void)registered;
    return ::operator new(capacity_of(c));
  }

  node* free_[classes] = {};
  std::size_t count_[classes] = {};
};

constinit inline thread_local frame_pool t_frame_pool{};

inline frame_pool& frame_pool::local() noexcept { return t_frame_pool; }

/// Base of every promise type of the library: frames come from the thread's frame pool.
struct pooled_frame {
#ifndef TRIO_NO_FRAME_POOL
  static void* operator new(std::size_t size) { return frame_pool::local().allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { frame_pool::local().deallocate(p, size); }
#endif
};

}  // namespace trio::detail
