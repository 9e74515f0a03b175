#pragma once
/// \file
/// trio::testing::sequencer (spec TEST-05): makes blocks of different tasks run in a fixed order.
///
///     trio::testing::sequencer seq;
///     // task A                         // task B
///     { auto turn = co_await seq(0); }  { auto turn = co_await seq(1); ... }   // A's block, then B's
///
/// A block runs once every lower number's block has ended. Using a number twice is std::logic_error;
/// a waiter that is cancelled breaks the sequencer: it and every other waiter, now or later, get
/// std::runtime_error (the order can no longer be kept).

#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include "trio/errors.hpp"
#include "trio/event.hpp"
#include "trio/task.hpp"

namespace trio::testing {

/// Orders blocks of different tasks by number: `co_await seq(n)` waits until block n - 1 has ended
/// (0 runs at once). See the file's comment for the rules and what breaks it.
class sequencer {
 public:
  /// Ends a block: the next number may run. Move-only.
  class turn {
   public:
    turn(turn&& o) noexcept : seq_(std::exchange(o.seq_, nullptr)), position_(o.position_) {}
    turn& operator=(turn&&) = delete;
    ~turn() {
      if (seq_) seq_->point(position_ + 1).set();
    }

   private:
    friend class sequencer;
    turn(sequencer& s, std::size_t p) noexcept : seq_(&s), position_(p) {}
    sequencer* seq_;
    std::size_t position_;
  };

  sequencer() = default;
  sequencer(const sequencer&) = delete;
  sequencer& operator=(const sequencer&) = delete;

  /// Waits for `position`'s turn; the block lasts as long as the returned turn.
  task<turn> operator()(std::size_t position) {
    if (!claimed_.insert(position).second)
      throw std::logic_error("trio::testing::sequencer: position " + std::to_string(position) +
                             " was used already; each number may be used once");
    if (position != 0) {
      bool was_cancelled = false;
      try {
        co_await point(position).wait();
      } catch (const cancelled&) {
        was_cancelled = true;
      }
      if (was_cancelled) {
        broken_ = true;
        for (auto& [p, e] : points_) e->set();
        throw std::runtime_error("trio::testing::sequencer: a waiter was cancelled; the sequence is broken");
      }
      if (broken_) throw std::runtime_error("trio::testing::sequencer: the sequence is broken");
    }
    co_return turn(*this, position);
  }

 private:
  event& point(std::size_t p) {
    auto& e = points_[p];
    if (!e) e = std::make_unique<event>();
    if (broken_) e->set();
    return *e;
  }

  std::set<std::size_t> claimed_;
  std::map<std::size_t, std::unique_ptr<event>> points_;
  bool broken_ = false;
};

}  // namespace trio::testing
