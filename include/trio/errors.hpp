#pragma once
/// \file
/// Every exception type of trio-cpp, and the exception groups (`base_exception_group`, `exception_group`).

#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "trio/detail/exception_type.hpp"

namespace trio {

/// Why a cancel scope was cancelled.
enum class cancel_source {
  unknown,             ///< No recorded cause.
  deadline,            ///< The scope's deadline passed.
  explicit_call,       ///< cancel_scope::cancel() was called.
  nursery,             ///< A task of the nursery failed, so the nursery cancelled its other tasks.
  keyboard_interrupt,  ///< Ctrl-C (SIGINT) with run_options::handle_sigint.
  shutdown             ///< The run is ending: the main task finished (system tasks), or a deadlock was found.
};

/// Thrown at a checkpoint inside a cancelled scope. Deliberately NOT derived from std::exception,
/// so `catch (const std::exception&)` does not swallow it.
///
///     try { co_await trio::sleep(1s); } catch (const trio::cancelled&) { cleanup(); throw; }
///
/// The trap: catching `cancelled` and not rethrowing it. The scope that was cancelled then never sees it,
/// and the next checkpoint throws it again (cancellation is level-triggered).
class cancelled final {
 public:
  /// Made by the loop at a checkpoint; users rethrow the one they catch rather than make their own.
  cancelled(cancel_source source, std::string reason) : source_(source), reason_(std::move(reason)) {}

  /// The reason given to `cancel(reason)`, or a description of the source ("deadline exceeded", ...).
  std::string_view reason() const noexcept { return reason_; }
  /// What cancelled the scope: a deadline, an explicit cancel(), a failing nursery sibling, Ctrl-C, ...
  cancel_source source() const noexcept { return source_; }
  /// "cancelled due to <source>[ with reason '<reason>']", Trio's wording.
  std::string message() const {
    static constexpr const char* names[] = {"unknown", "deadline",          "explicit",
                                            "nursery", "KeyboardInterrupt", "shutdown"};
    std::string m = "cancelled due to ";
    m += names[static_cast<int>(source_)];
    if (!reason_.empty()) m += " with reason '" + reason_ + "'";
    return m;
  }

 private:
  cancel_source source_;
  std::string reason_;
};

/// Thrown by trio::run after Ctrl-C cancelled the run. NOT derived from std::exception.
class keyboard_interrupt {
 public:
  /// "keyboard interrupt (SIGINT)".
  const char* what() const noexcept { return "keyboard interrupt (SIGINT)"; }
};

/// fail_after / fail_at: the body did not finish before the deadline.
class too_slow_error : public std::runtime_error {
 public:
  /// The error with the default message.
  too_slow_error() : std::runtime_error("trio::too_slow_error: the operation did not finish before its deadline") {}
  using std::runtime_error::runtime_error;
};
/// A `*_nowait` operation could not proceed without blocking.
class would_block : public std::runtime_error {
 public:
  /// The error with the default message.
  would_block() : std::runtime_error("trio::would_block: the operation would block") {}
  using std::runtime_error::runtime_error;
};
/// The channel's senders are all closed and its buffer is empty.
class end_of_channel : public std::runtime_error {
 public:
  /// The error with the default message.
  end_of_channel() : std::runtime_error("trio::end_of_channel: every sender is closed and the buffer is empty") {}
  using std::runtime_error::runtime_error;
};
/// The resource was used after *you* closed it.
class closed_resource_error : public std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// The other side of the resource is gone.
class broken_resource_error : public std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// Two tasks used one direction of a resource at the same time.
class busy_resource_error : public std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// The run this object belongs to has finished (e.g. trio_token::run_sync_soon after run returned).
class run_finished_error : public std::runtime_error {
 public:
  /// The error with the default message.
  run_finished_error()
      : std::runtime_error("trio::run_finished_error: the trio::run this token belongs to has finished") {}
  using std::runtime_error::runtime_error;
};
/// A bug inside trio, or a system task / run_sync_soon callback that raised. The original exception is
/// nested (std::rethrow_if_nested).
class trio_internal_error : public std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// trio::run with run_options::fail_on_deadlock (every TRIO_TEST_CASE): no task could ever run again (no
/// task runnable, no deadline, no I/O or thread work in flight, no trio_token held outside the run).
/// what() is the task dump: every task and what it waits on.
class deadlock_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};
/// run_process with check=true saw a non-zero exit status.
class called_process_error : public std::runtime_error {
 public:
  /// The error without the command: the message says "command returned non-zero exit status N".
  called_process_error(int returncode, std::string stdout_data, std::string stderr_data)
      : called_process_error({}, returncode, std::move(stdout_data), std::move(stderr_data)) {}
  /// args: the command, for the message ("command ['sh', '-c', 'exit 3'] returned non-zero exit status 3").
  called_process_error(std::vector<std::string> args, int returncode, std::string stdout_data, std::string stderr_data)
      : std::runtime_error(describe(args, returncode)),
        args_(std::move(args)),
        returncode_(returncode),
        stdout_(std::move(stdout_data)),
        stderr_(std::move(stderr_data)) {}
  /// The command and its arguments; empty when the error was made without them.
  const std::vector<std::string>& args() const noexcept { return args_; }
  /// The exit status, or -N when signal N killed the process.
  int returncode() const noexcept { return returncode_; }
  /// What the process wrote to stdout, when it was captured; empty otherwise.
  const std::string& stdout_data() const noexcept { return stdout_; }
  /// What the process wrote to stderr, when it was captured; empty otherwise.
  const std::string& stderr_data() const noexcept { return stderr_; }

  /// "['sh', '-c', 'exit 3']": a command as Python prints a list of strings.
  static std::string quote_args(const std::vector<std::string>& args) {
    std::string out = "[";
    for (std::size_t i = 0; i < args.size(); ++i) out += (i ? ", '" : "'") + args[i] + "'";
    return out + "]";
  }

 private:
  static std::string describe(const std::vector<std::string>& args, int returncode) {
    std::string cmd = args.empty() ? "command" : "command " + quote_args(args);
    if (returncode < 0) return cmd + " died with signal " + std::to_string(-returncode);
    return cmd + " returned non-zero exit status " + std::to_string(returncode);
  }
  std::vector<std::string> args_;
  int returncode_;
  std::string stdout_, stderr_;
};

/// Several exceptions that escaped one nursery, in the order they arrived, when at least one of them is
/// not a std::exception (a trio::cancelled, a keyboard_interrupt): Trio's BaseExceptionGroup. Deliberately
/// NOT derived from std::exception, like trio::cancelled, so `catch (const std::exception&)` does not
/// swallow a group of cancellations. `exception_group` (every member a std::exception) derives from it.
///
///     try { co_await trio::open_nursery(body); }
///     catch (const trio::base_exception_group& g) { if (g.contains<trio::cancelled>()) ...; throw; }
///
/// The trap: `catch (const std::exception&)` does not see this group, by design: a task whose nursery
/// of several children is cancelled from outside raises a group of cancellations, which must reach the
/// cancelled scope, not a handler's error path. To see every group, catch `trio::base_exception_group`
/// and rethrow what you do not handle (a cancellation above all).
class base_exception_group {
 public:
  /// A group of `exceptions` (in that order). `collapsible`: see collapsible(). Nurseries make these;
  /// make_exception_group picks the right class for a list.
  explicit base_exception_group(std::vector<std::exception_ptr> exceptions, bool collapsible = false)
      : exceptions_(std::move(exceptions)), collapsible_(collapsible) {}
  base_exception_group(const base_exception_group&) = default;
  base_exception_group& operator=(const base_exception_group&) = default;
  virtual ~base_exception_group() = default;

  /// The members, in the order they arrived; a member may itself be a group.
  const std::vector<std::exception_ptr>& exceptions() const noexcept { return exceptions_; }

  /// True if any member, searching nested groups of either kind, is an E (or derives from it).
  template <class E>
  bool contains() const {
    for (const auto& e : exceptions_) {
      if (const std::type_info* type = detail::exception_type(e)) {  // fast path: no rethrow for E itself
        if (*type == typeid(E)) return true;
      }
      try {
        std::rethrow_exception(e);
      } catch (const E&) {
        return true;
      } catch (const base_exception_group& g) {
        if (g.contains<E>()) return true;
      } catch (...) {
      }
    }
    return false;
  }

  /// Made by a non-strict nursery: when cancel scopes strip members down to one, the group is replaced
  /// by that member (Trio's loose groups).
  bool collapsible() const noexcept { return collapsible_; }

  /// "trio::base_exception_group of 2 exception(s): cancelled due to explicit; ..." (or
  /// "trio::exception_group of ..."): a summary naming each member.
  std::string message() const { return describe(); }

  /// message(), built on first use (groups of thousands of cancellations are cheap until asked).
  virtual const char* what() const noexcept {
    if (what_.empty()) {
      try {
        what_ = describe();
      } catch (...) {
        return is_exception() ? "trio::exception_group" : "trio::base_exception_group";
      }
    }
    return what_.c_str();
  }

 private:
  bool is_exception() const noexcept;  // an exception_group (defined below it)

  std::string describe() const {
    std::string s = is_exception() ? "trio::exception_group" : "trio::base_exception_group";
    s += " of " + std::to_string(exceptions_.size()) + " exception(s)";
    const char* sep = ": ";
    for (const auto& e : exceptions_) {
      s += sep;
      sep = "; ";
      try {
        std::rethrow_exception(e);
      } catch (const base_exception_group& g) {
        s += g.what();
      } catch (const std::exception& x) {
        s += x.what();
      } catch (const cancelled& c) {
        s += c.message();
      } catch (const keyboard_interrupt& k) {
        s += k.what();
      } catch (...) {
        s += "(unknown exception)";
      }
    }
    return s;
  }

  std::vector<std::exception_ptr> exceptions_;
  bool collapsible_;
  mutable std::string what_;
};

/// Several exceptions that escaped one nursery, in the order they arrived, every one a std::exception
/// (a nested exception_group counts as one): Trio's ExceptionGroup.
///
///     try { co_await trio::open_nursery(body); }
///     catch (const trio::exception_group& g) { if (g.contains<std::runtime_error>()) ... }
///
/// The trap: by default a nursery whose only error is E throws E itself, not a group of one; ask for
/// `strict_exception_groups` (run_options or nursery_options) to always get a group. And a group that
/// holds a trio::cancelled is not an exception_group but a base_exception_group (not a std::exception).
class exception_group : public base_exception_group, public std::exception {
 public:
  /// Every member should be a std::exception: make_exception_group chooses the type from the members.
  explicit exception_group(std::vector<std::exception_ptr> exceptions, bool collapsible = false)
      : base_exception_group(std::move(exceptions), collapsible) {}

  const char* what() const noexcept override { return base_exception_group::what(); }
};

inline bool base_exception_group::is_exception() const noexcept {
  return dynamic_cast<const exception_group*>(this) != nullptr;
}

namespace detail {
/// Whether the exception in `e` is a std::exception: by its type when the library tells it (the common
/// members of a group: cancellations, groups), else by rethrowing it.
inline bool is_std_exception(const std::exception_ptr& e) {
  if (const std::type_info* type = exception_type(e)) {
    if (*type == typeid(cancelled) || *type == typeid(keyboard_interrupt) || *type == typeid(base_exception_group))
      return false;
    if (*type == typeid(exception_group)) return true;
  }
  try {
    std::rethrow_exception(e);
  } catch (const std::exception&) {
    return true;
  } catch (...) {
    return false;
  }
}
}  // namespace detail

/// A group of `exceptions` of the right type, as Trio's BaseExceptionGroup(...) does: an exception_group
/// when every member is a std::exception (a nested exception_group counts as one), else a
/// base_exception_group. What nurseries and cancel scopes use to build their groups.
///
///     std::rethrow_exception(trio::make_exception_group(std::move(errors)));
///
/// The trap: `throw exception_group(errors)` with a trio::cancelled among the errors makes a group that
/// `catch (const std::exception&)` swallows, cancellation and all; build groups with this instead.
inline std::exception_ptr make_exception_group(std::vector<std::exception_ptr> exceptions, bool collapsible = false) {
  for (const auto& e : exceptions)
    if (!detail::is_std_exception(e))
      return std::make_exception_ptr(base_exception_group(std::move(exceptions), collapsible));
  return std::make_exception_ptr(exception_group(std::move(exceptions), collapsible));
}

}  // namespace trio
