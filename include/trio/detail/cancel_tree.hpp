#pragma once
/// \file
/// The cancel-status tree: cancelling a scope, shields, entering and
/// leaving scopes, which scope catches a trio::cancelled, effective deadlines.

#include <exception>
#include <stdexcept>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "trio/detail/exception_type.hpp"
#include "trio/detail/runner_core.hpp"
#include "trio/detail/task_record.hpp"

namespace trio::detail {

/// Brings `root` and its descendants up to date after a cancel, a shield change or a reparenting,
/// iteratively (deep nesting must not overflow the stack), and wakes the parked tasks that are now
/// cancelled.
inline void recalculate(scope_state& root) noexcept {
  root.work_next = nullptr;
  scope_state* todo = &root;
  while (todo) {
    scope_state* cur = todo;
    todo = cur->work_next;
    const bool now_cancelled =
        cur->cancel_called || (!cur->shield && cur->parent && cur->parent->effectively_cancelled);
    if (now_cancelled == cur->effectively_cancelled) continue;
    cur->effectively_cancelled = now_cancelled;
    if (now_cancelled && cur->r) cur->tasks.for_each([&](task_record& t) { cur->r->attempt_delivery(t); });
    cur->children.for_each([&](scope_state& child) {
      child.work_next = todo;
      todo = &child;
    });
  }
}

inline void cancel_scope_state(scope_state& s, cancel_source source, std::string_view reason) noexcept {
  if (s.cancel_called) return;
  s.cancel_called = true;
  s.source = source;
  s.reason.assign(reason.data(), reason.size());
  if (s.r) s.r->deadlines().drop(s);
  if (s.active()) recalculate(s);
}

inline scope_state::scope_state() noexcept {
  fire = [](deadline_entry* e) noexcept {
    cancel_scope_state(static_cast<scope_state&>(*e), cancel_source::deadline, "deadline exceeded");
  };
}

/// Enters `s` in task `t`: `s` becomes t's innermost scope.
inline void enter_scope(scope_state& s, task_record& t) {
  if (s.entered || s.exited)
    throw std::logic_error(
        "trio::cancel_scope: each cancel_scope may only be entered once (it is already active or has "
        "finished); create a new cancel_scope for each block");
  runner& r = *t_runner;
  s.r = &r;
  s.entered = true;
  s.owner = &t;
  s.parent = t.status;
  s.parent->children.push_back(s);
  t.set_status(s);
  s.effectively_cancelled = s.cancel_called || (!s.shield && s.parent->effectively_cancelled);
  if (!s.cancel_called && s.deadline != no_deadline) {
    if (!s.deadline_ahead && s.deadline <= r.now())
      cancel_scope_state(s, cancel_source::deadline, "deadline exceeded");
    else
      r.deadlines().defer(s, s.deadline);
  }
}

/// Removes every trio::cancelled from `e` (searching nested groups of either kind). Returns what is left,
/// or nullptr; a group that changed is rebuilt with make_exception_group (its type follows its members).
inline std::exception_ptr strip_cancelled(const std::exception_ptr& e, bool& matched) {
  if (const std::type_info* type = exception_type(e)) {  // fast path: no rethrow for the common types
    if (*type == typeid(cancelled)) {
      matched = true;
      return nullptr;
    }
    if (*type != typeid(exception_group) && *type != typeid(base_exception_group)) return e;
  }
  try {
    std::rethrow_exception(e);
  } catch (const cancelled&) {
    matched = true;
    return nullptr;
  } catch (const base_exception_group& g) {  // either kind
    std::vector<std::exception_ptr> kept;
    bool changed = false;
    for (const auto& m : g.exceptions()) {
      bool sub = false;
      std::exception_ptr left = strip_cancelled(m, sub);
      if (sub) {
        matched = true;
        changed = true;
      }
      if (left) kept.push_back(std::move(left));
    }
    if (!changed) return e;
    if (kept.empty()) return nullptr;
    if (kept.size() == 1 && g.collapsible()) return kept.front();
    return make_exception_group(std::move(kept), g.collapsible());  // no cancelled left: often an exception_group
  } catch (...) {
    return e;
  }
}

/// Leaves `s` (t's innermost scope) with the exception the body raised, if any. Returns the exception
/// that continues upward: the scope absorbs the trio::cancelled it is responsible for.
TRIO_ALWAYS_INLINE std::exception_ptr exit_scope(scope_state& s, task_record& t, std::exception_ptr e) {
  const bool catches = s.effectively_cancelled && !(s.parent && !s.shield && s.parent->effectively_cancelled);
  if (s.r) s.r->deadlines().drop(s);
  t.set_status(*s.parent);
  intrusive_list<scope_state, child_scope_tag>::erase(s);
  s.exited = true;
  if (e && catches) {
    bool matched = false;
    e = strip_cancelled(e, matched);
    if (matched) {
      s.caught = true;
      s.r->forget_deliveries(s);  // a later scope at this address starts a new count
    }
  }
  return e;
}

/// Leaves `s` on an error path that cannot propagate anything (a destructor): restores the task's
/// scope and unlinks `s`.
inline void abandon_scope(scope_state& s, task_record& t) noexcept {
  if (s.r) s.r->deadlines().drop(s);
  if (s.r) s.r->forget_deliveries(s);
  if (t.status == &s) t.set_status(*s.parent);
  intrusive_list<scope_state, child_scope_tag>::erase(s);
  s.exited = true;
}

inline void set_scope_deadline(scope_state& s, time_point d) {
  s.deadline = d;
  if (!s.active() || s.cancel_called) return;
  s.r->deadlines().drop(s);
  if (d != no_deadline) s.r->deadlines().push(s, d);
}

inline void set_scope_shield(scope_state& s, bool shield) noexcept {
  if (s.shield == shield) return;
  s.shield = shield;
  if (s.active()) recalculate(s);
}

/// Trio's cancel_called is lazy about deadlines: a passed deadline counts even before the loop sees it.
inline bool scope_cancel_called(scope_state& s) noexcept {
  if (!s.cancel_called && !s.exited && s.deadline != no_deadline) {
    runner* r = s.r ? s.r : t_runner;
    if (r && r->now() >= s.deadline) cancel_scope_state(s, cancel_source::deadline, "deadline exceeded");
  }
  return s.cancel_called;
}

/// The effective deadline of task t: the earliest deadline of its scopes up to a shield.
inline time_point effective_deadline(const task_record& t) noexcept {
  if (t.status->effectively_cancelled) return time_point::min();
  time_point d = no_deadline;
  for (const scope_state* s = t.status; s; s = s->parent) {
    if (s->deadline < d) d = s->deadline;
    if (s->shield) break;
  }
  return d;
}

}  // namespace trio::detail
