#pragma once
/// \file
/// The thread-safe way into a run: the run_sync_soon queue and the inbox of messages from other
/// threads (to_thread results, from_thread calls), one eventfd write per wake-up.

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <typeinfo>

#include "trio/errors.hpp"

namespace trio::detail {

/// A message from another thread to the loop, living in the sender's memory (a worker's stack, a
/// thread job): posting and delivering allocate nothing. `deliver` runs in the loop thread, between
/// task steps; with `run_alive == false` the run has ended and it must only release what it owns.
struct inbox_node {
  void (*deliver)(inbox_node*, bool run_alive) noexcept = nullptr;
  inbox_node* next = nullptr;
};

/// State shared by a run and its trio_tokens: the thread-safe way into the loop. One mutex guards the
/// run_sync_soon queue and the inbox of nodes; one eventfd write wakes the loop when the first message
/// arrives since it last looked.
struct token_state {
  struct entry {
    std::function<void()> fn;
    const std::type_info* key_type = nullptr;
    std::string key;
  };
  std::mutex m;
  std::deque<entry> queue;
  inbox_node* inbox_head = nullptr;
  inbox_node** inbox_tail = &inbox_head;
  bool finished = false;
  int wake_fd = -1;
  std::atomic<bool> pending{false};

  void push(entry e) {
    std::lock_guard lk(m);
    if (finished) throw run_finished_error();
    if (e.key_type)
      for (const auto& q : queue)
        if (q.key_type == e.key_type && q.key == e.key) return;  // an identical idempotent callback is queued
    queue.push_back(std::move(e));
    wake_locked();
  }
  /// Queues `n` for the loop; false if the run has finished (nothing was queued).
  bool post(inbox_node& n) noexcept {
    std::lock_guard lk(m);
    if (finished) return false;
    n.next = nullptr;
    *inbox_tail = &n;
    inbox_tail = &n.next;
    wake_locked();
    return true;
  }
  /// Takes every queued node, in posting order (the caller holds `m`).
  inbox_node* take_inbox_locked() noexcept {
    inbox_node* h = inbox_head;
    inbox_head = nullptr;
    inbox_tail = &inbox_head;
    return h;
  }

 private:
  void wake_locked() noexcept {
    // The loop clears `pending` under the mutex before it takes the messages: while it is set, a
    // wake-up is already on its way.
    if (pending.exchange(true, std::memory_order_acq_rel)) return;
    const std::uint64_t one = 1;
    if (wake_fd >= 0) [[maybe_unused]]
      auto n = ::write(wake_fd, &one, sizeof one);
  }
};

}  // namespace trio::detail
