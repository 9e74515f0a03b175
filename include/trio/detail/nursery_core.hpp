#pragma once
/// \file
/// A nursery's core (nursery_core): its state, collecting its children's errors, closing, moving a
/// started task (task_status::started()), and the introspection of task_info that walks nurseries.

#include <cxxabi.h>

#include <cstddef>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "trio/detail/cancel_tree.hpp"
#include "trio/detail/intrusive_list.hpp"
#include "trio/detail/runner_core.hpp"
#include "trio/detail/task_record.hpp"
#include "trio/errors.hpp"

namespace trio::detail {

struct nursery_core {
  nursery_core* start_target = nullptr;  // for start()'s private nursery: where its task will move
  trio::nursery* self = nullptr;
  runner* r = nullptr;
  scope_state* scope = nullptr;
  task_record* parent_task = nullptr;
  intrusive_list<task_record, sibling_tag> children;
  std::size_t child_count = 0;
  std::size_t pending_starts = 0;
  std::vector<std::exception_ptr> errors;
  bool body_running = true;
  bool closed = false;
  bool parent_waiting = false;
  bool strict = false;

  void add_error(std::exception_ptr e);
  void check_closed() noexcept;
  void child_finished(std::exception_ptr e);
  /// The nursery's outcome: nothing, its only error (loose) or a group of all of them (an exception_group,
  /// or a base_exception_group when one of them is not a std::exception, such as a trio::cancelled).
  std::exception_ptr combined_error() const {
    if (errors.empty()) return nullptr;
    if (errors.size() == 1 && !strict) return errors.front();
    return make_exception_group(errors, !strict);
  }
};

/// The nurseries open in task `t`, outermost first: their scopes are on t's own part of the
/// cancel-status chain (the scopes `t` entered), so the record needs no list of them.
inline std::vector<nursery_core*> open_nurseries(const task_record& t) {
  std::vector<nursery_core*> out;
  for (const scope_state* s = t.status; s && s->owner == &t; s = s->parent)
    if (s->nursery) out.push_back(s->nursery);
  return {out.rbegin(), out.rend()};
}

inline void nursery_core::add_error(std::exception_ptr e) {
  errors.push_back(std::move(e));
  cancel_scope_state(*scope, cancel_source::nursery, "a task in the nursery raised an exception");
}

inline void nursery_core::check_closed() noexcept {
  if (closed || body_running || !children.empty() || pending_starts != 0) return;
  closed = true;
  if (parent_waiting) {
    parent_waiting = false;
    r->reschedule(*parent_task);
  }
}

inline void nursery_core::child_finished(std::exception_ptr e) {
  if (e) add_error(std::move(e));
  check_closed();
}

/// Moves the task(s) of a start()'s private nursery `from` into `to` (task_status::started()).
inline void reparent_started(nursery_core& from, nursery_core& to) {
  if (from.scope->effectively_cancelled) return;  // they unwind where they are, as in Trio
  from.children.for_each([&](task_record& t) {
    intrusive_list<task_record, sibling_tag>::erase(t);
    --from.child_count;
    t.parent = &to;
    to.children.push_back(t);
    ++to.child_count;
  });
  from.scope->children.for_each([&](scope_state& s) {
    intrusive_list<scope_state, child_scope_tag>::erase(s);
    s.parent = to.scope;
    to.scope->children.push_back(s);
    recalculate(s);
  });
  from.scope->tasks.for_each([&](task_record& t) {
    if (&t == from.parent_task) return;
    t.set_status(*to.scope);
    if (to.scope->effectively_cancelled) to.r->attempt_delivery(t);
  });
  from.check_closed();
}

}  // namespace trio::detail

// ---- task_info ----------------------------------------------------------------------------------
namespace trio::lowlevel {

inline std::string task_info::name() const {
  const auto& rec = static_cast<const detail::task_record&>(*this);
  if (!rec.kind) return "<task>";
  int status = 0;
  char* dem = abi::__cxa_demangle(rec.kind->fn_type->name(), nullptr, nullptr, &status);
  std::string out = (status == 0 && dem) ? dem : rec.kind->fn_type->name();
  std::free(dem);
  return out;
}
inline trio::nursery* task_info::parent_nursery() const noexcept {
  const auto& rec = static_cast<const detail::task_record&>(*this);
  return rec.parent ? rec.parent->self : nullptr;
}
inline trio::nursery* task_info::eventual_parent_nursery() const noexcept {
  const auto& rec = static_cast<const detail::task_record&>(*this);
  return rec.parent && rec.parent->start_target ? rec.parent->start_target->self : nullptr;
}
inline std::vector<trio::nursery*> task_info::child_nurseries() const {
  const auto& rec = static_cast<const detail::task_record&>(*this);
  std::vector<trio::nursery*> out;
  for (detail::nursery_core* n : detail::open_nurseries(rec)) out.push_back(n->self);
  return out;
}
inline std::uint64_t task_info::id() const noexcept { return static_cast<const detail::task_record&>(*this).id; }

}  // namespace trio::lowlevel
