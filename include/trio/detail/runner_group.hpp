#pragma once
/// \file
/// What the runners of one run_per_core share: each runner's way in (its token) and root cancel scope,
/// the errors that ended runners, and the group's cancellation (the first failure cancels every runner;
/// when every main has returned, the runners stop serving on_runner and end).

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "trio/detail/runner.hpp"
#include "trio/errors.hpp"

namespace trio::detail {

struct runner_group;

/// The group and the index of the runner a thread runs (nullptr in a plain trio::run).
struct group_member {
  runner_group* group = nullptr;
  std::size_t index = 0;
};
constinit inline thread_local const group_member* t_group_member = nullptr;

/// A message's text for a cancel reason: what() of a std::exception, the message of the others.
inline std::string describe_error(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (const cancelled& c) {
    return c.message();
  } catch (const keyboard_interrupt& k) {
    return k.what();
  } catch (const base_exception_group& g) {
    return g.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

struct runner_group {
  explicit runner_group(std::size_t n) : slots(n), mains_left(n) {}
  runner_group(const runner_group&) = delete;
  runner_group& operator=(const runner_group&) = delete;

  struct slot {
    std::shared_ptr<token_state> token;  // set while the runner's root task lives
    scope_state* scope = nullptr;        // the root task's cancel scope (used in that runner's thread only)
    // Called (in that runner's thread) once every runner has attached: it sets the root task's event.
    void (*on_started)(void*) = nullptr;
    void* started_ctx = nullptr;
    bool arrived = false;           // counted in `attached`
    std::exception_ptr error;       // what the runner's trio::run threw
    std::uint64_t error_order = 0;  // when, among the runners' errors
  };

  std::mutex m;
  std::vector<slot> slots;
  std::size_t mains_left;
  std::size_t attached = 0;  // runners that reached their root task (or could not start)
  bool cancelling = false;
  cancel_source source = cancel_source::explicit_call;
  std::string reason;
  std::uint64_t errors_seen = 0;

  std::size_t size() const noexcept { return slots.size(); }

  /// The root task of runner i starts: from now on the group can cancel it. If the group is already
  /// cancelling, its scope is cancelled at once. on_started(started_ctx) runs in its thread once every
  /// runner has attached (so that on_runner finds every runner from the first step of main).
  void attach(std::size_t i, std::shared_ptr<token_state> token, scope_state& scope, void (*on_started)(void*),
              void* started_ctx) {
    std::lock_guard lk(m);
    slots[i].token = std::move(token);
    slots[i].scope = &scope;
    slots[i].on_started = on_started;
    slots[i].started_ctx = started_ctx;
    if (cancelling) cancel_scope_state(scope, source, reason);
    arrived_locked(i);
  }
  /// Runner i has ended: if it never attached (its thread or its run could not start), the others
  /// stop waiting for it.
  void ended(std::size_t i) {
    std::lock_guard lk(m);
    arrived_locked(i);
  }
  /// The root task of runner i ends (in its thread): no more messages to it.
  void detach(std::size_t i) noexcept {
    std::lock_guard lk(m);
    slots[i].token.reset();
    slots[i].scope = nullptr;
    slots[i].on_started = nullptr;
  }
  /// Runner i's way in, or nullptr once it has ended.
  std::shared_ptr<token_state> token_of(std::size_t i) {
    std::lock_guard lk(m);
    return slots[i].token;
  }

  void arrived_locked(std::size_t i) {
    if (slots[i].arrived) return;
    slots[i].arrived = true;
    if (++attached != slots.size()) return;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      if (!slots[i].token) continue;
      try {
        slots[i].token->push({[this, i] {
                                std::lock_guard lk2(m);
                                if (slots[i].on_started) slots[i].on_started(slots[i].started_ctx);
                              },
                              nullptr,
                              {}});
      } catch (const run_finished_error&) {
      }
    }
  }

  /// Cancels every runner's root scope (once: later calls keep the first reason).
  void cancel_all(cancel_source src, std::string why) {
    std::lock_guard lk(m);
    if (cancelling) return;
    cancelling = true;
    source = src;
    reason = std::move(why);
    for (std::size_t i = 0; i < slots.size(); ++i) {
      if (!slots[i].token) continue;
      try {
        slots[i].token->push({[this, i] {
                                std::lock_guard lk2(m);
                                if (slots[i].scope) cancel_scope_state(*slots[i].scope, source, reason);
                              },
                              nullptr,
                              {}});
      } catch (const run_finished_error&) {  // it is ending on its own
      }
    }
  }

  /// Runner i failed with e: the other runners are cancelled, naming it.
  void fail(std::size_t i, const std::exception_ptr& e) {
    std::string why;
    try {
      why = "runner " + std::to_string(i) + " of " + std::to_string(slots.size()) + " failed: " + describe_error(e);
    } catch (...) {
      why = "a runner failed";
    }
    cancel_all(cancel_source::explicit_call, std::move(why));
  }

  /// What runner i's trio::run threw.
  void record(std::size_t i, std::exception_ptr e) {
    fail(i, e);
    std::lock_guard lk(m);
    slots[i].error = std::move(e);
    slots[i].error_order = ++errors_seen;
  }

  /// Runner i's main has returned (or raised): when it is the last, every runner ends.
  void main_done() {
    bool last = false;
    {
      std::lock_guard lk(m);
      last = --mains_left == 0;
    }
    if (last) cancel_all(cancel_source::shutdown, "every runner's main task has returned");
  }

  /// The runners' errors in the order they arrived.
  std::vector<std::exception_ptr> errors() const {
    std::vector<std::pair<std::uint64_t, std::exception_ptr>> found;
    for (const slot& s : slots)
      if (s.error) found.emplace_back(s.error_order, s.error);
    for (std::size_t a = 1; a < found.size(); ++a)  // (few: insertion sort, no <algorithm>)
      for (std::size_t b = a; b > 0 && found[b - 1].first > found[b].first; --b) std::swap(found[b - 1], found[b]);
    std::vector<std::exception_ptr> out;
    out.reserve(found.size());
    for (auto& f : found) out.push_back(std::move(f.second));
    return out;
  }
};

}  // namespace trio::detail
