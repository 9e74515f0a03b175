#pragma once
/// \file
/// Per-thread size-class free lists for coroutine frames (DESIGN §3 Memory).

#include <cstddef>
#include <new>

#include "trio/detail/config.hpp"

namespace trio::detail {

class frame_pool {
 public:
  static constexpr std::size_t granule = 64;
  static constexpr std::size_t classes = 32;                     // frames up to 2 KiB are pooled
  static constexpr std::size_t max_cached_per_class = 1u << 20;  // bounded memory, even after bursts

  frame_pool() noexcept = default;
  frame_pool(const frame_pool&) = delete;
  frame_pool& operator=(const frame_pool&) = delete;
  ~frame_pool() {
    for (auto& head : free_)
      while (head) {
        node* n = head;
        head = n->next;
        ::operator delete(n);
      }
  }

  void* allocate(std::size_t size) {
    const std::size_t c = class_of(size);
    if (c >= classes) return ::operator new(size);
    if (node* n = free_[c]) {
      free_[c] = n->next;
      --count_[c];
      return n;
    }
    return ::operator new((c + 1) * granule);
  }

  void deallocate(void* p, std::size_t size) noexcept {
    const std::size_t c = class_of(size);
    if (c >= classes || count_[c] >= max_cached_per_class) {
      ::operator delete(p);
      return;
    }
    node* n = static_cast<node*>(p);
    n->next = free_[c];
    free_[c] = n;
    ++count_[c];
  }

  static frame_pool& local() noexcept {
    thread_local frame_pool pool;
    return pool;
  }

 private:
  struct node {
    node* next;
  };
  static constexpr std::size_t class_of(std::size_t size) noexcept { return (size + granule - 1) / granule - 1; }

  node* free_[classes] = {};
  std::size_t count_[classes] = {};
};

/// Base of every promise type of the library: frames come from the thread's frame pool.
struct pooled_frame {
#ifndef TRIO_NO_FRAME_POOL
  static void* operator new(std::size_t size) { return frame_pool::local().allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { frame_pool::local().deallocate(p, size); }
#endif
};

}  // namespace trio::detail
