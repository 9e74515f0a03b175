#pragma once
/// \file
/// A 4-ary min-heap of intrusive deadline entries: cancel-scope deadlines and sleeps share it. A cancel
/// scope's deadline waits in front of the heap (deferred) until the step that set it ends; the runner only
/// asks the heap for the next deadline and has it fire the expired entries.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "trio/clock.hpp"

namespace trio::detail {

struct deadline_entry {
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  static constexpr std::size_t deferred = npos - 1;  // waiting to enter the heap (see deadline_heap::defer)
  time_point when = no_deadline;
  std::uint64_t seq = 0;  // ties fire in insertion order
  std::size_t index = npos;
  void (*fire)(deadline_entry*) noexcept = nullptr;

  bool queued() const noexcept { return index != npos && index != deferred; }
};

/// An entry that may wait outside the heap until the step that set it ends (a cancel scope's deadline).
struct deferrable_entry : deadline_entry {
  deferrable_entry* deferred_next = nullptr;  // deadline_heap::deferred_ (an entry that waits for the step's end)
};

class deadline_heap {
 public:
  bool empty() const noexcept { return heap_.empty(); }
  std::size_t size() const noexcept { return heap_.size(); }
  time_point next() const noexcept { return heap_.empty() ? no_deadline : heap_.front().when; }

  void push(deadline_entry& e, time_point when) { push(e, when, ++seq_); }

  /// The sequence number an entry will have; it keeps its place among equal deadlines if it enters
  /// the heap later (push with that seq).
  std::uint64_t take_seq() noexcept { return ++seq_; }
  /// Makes room for `extra` more entries, so that pushing them cannot fail.
  void reserve_more(std::size_t extra) {
    if (heap_.capacity() < heap_.size() + extra) heap_.reserve(2 * (heap_.size() + extra));
  }
  void push(deadline_entry& e, time_point when, std::uint64_t seq) {
    e.when = when;
    e.seq = seq;
    e.index = heap_.size();
    heap_.push_back({when, seq, &e});
    sift_up(e.index);
  }

  void remove(deadline_entry& e) noexcept {
    if (!e.queued()) return;
    const std::size_t i = e.index;
    e.index = deadline_entry::npos;
    const slot last = heap_.back();
    heap_.pop_back();
    if (last.entry == &e) return;
    heap_[i] = last;
    last.entry->index = i;
    if (i > 0 && less(last, heap_[(i - 1) / 4]))
      sift_up(i);
    else
      sift_down(i);
  }

  void update(deadline_entry& e, time_point when) {
    if (!e.queued()) return push(e, when);
    remove(e);
    push(e, when);
  }

  // A scope's deadline enters the heap only when the step that entered the scope ends: a scope that is
  // entered and left without the task suspending (the common move_on_after around quick work) never
  // touches the heap. Only the loop reads the heap, between steps; the entry keeps the sequence number
  // of its entry time, so equal deadlines still fire in the order their scopes were entered.
  void defer(deferrable_entry& e, time_point when) {
    reserve_more(deferred_count_ + 1);  // flushing cannot fail then
    e.when = when;
    e.seq = take_seq();
    e.index = deadline_entry::deferred;
    e.deferred_next = deferred_;
    deferred_ = &e;
    ++deferred_count_;
  }

  void drop(deferrable_entry& e) noexcept {
    if (e.index != deadline_entry::deferred) {
      remove(e);
      return;
    }
    for (deferrable_entry** p = &deferred_; *p; p = &(*p)->deferred_next)  // scopes end innermost first: the head
      if (*p == &e) {
        *p = e.deferred_next;
        break;
      }
    e.deferred_next = nullptr;
    e.index = deadline_entry::npos;
    --deferred_count_;
  }

  bool has_deferred() const noexcept { return deferred_ != nullptr; }

  void flush_deferred() noexcept {
    while (deferrable_entry* e = deferred_) {
      deferred_ = e->deferred_next;
      e->deferred_next = nullptr;
      e->index = deadline_entry::npos;
      push(*e, e->when, e->seq);  // room was reserved
    }
    deferred_count_ = 0;
  }

  /// The earliest deadline, counting the ones still deferred.
  time_point next_counting_deferred() const noexcept {
    time_point d = next();
    for (const deferrable_entry* e = deferred_; e; e = e->deferred_next)
      if (e->when < d) d = e->when;
    return d;
  }

  /// Pops and fires every entry whose time is <= now. Returns how many fired.
  std::size_t expire(time_point now) noexcept {
    std::size_t n = 0;
    while (!heap_.empty() && heap_.front().when <= now) {
      deadline_entry* e = heap_.front().entry;
      remove(*e);
      e->fire(e);
      ++n;
    }
    return n;
  }

 private:
  // The key travels with the pointer, so sifting compares without touching the entries.
  struct slot {
    time_point when;
    std::uint64_t seq;
    deadline_entry* entry;
  };
  static bool less(const slot& a, const slot& b) noexcept {
    return a.when < b.when || (a.when == b.when && a.seq < b.seq);
  }
  void place(std::size_t i, const slot& s) noexcept {
    heap_[i] = s;
    s.entry->index = i;
  }
  void sift_up(std::size_t i) noexcept {
    const slot s = heap_[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / 4;
      if (!less(s, heap_[parent])) break;
      place(i, heap_[parent]);
      i = parent;
    }
    place(i, s);
  }
  void sift_down(std::size_t i) noexcept {
    const slot s = heap_[i];
    const std::size_t n = heap_.size();
    for (;;) {
      const std::size_t first = 4 * i + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t end = first + 4 < n ? first + 4 : n;
      for (std::size_t c = first + 1; c < end; ++c)
        if (less(heap_[c], heap_[best])) best = c;
      if (!less(heap_[best], s)) break;
      place(i, heap_[best]);
      i = best;
    }
    place(i, s);
  }

  std::vector<slot> heap_;
  std::uint64_t seq_ = 0;
  deferrable_entry* deferred_ = nullptr;  // entries set in this step, not in the heap yet
  std::size_t deferred_count_ = 0;
};

}  // namespace trio::detail
