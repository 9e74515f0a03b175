#pragma once
/// \file
/// `trio::task<T>`: the coroutine type of trio-cpp.

#include <cxxabi.h>

#include <coroutine>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "trio/detail/config.hpp"
#include "trio/detail/frame_pool.hpp"
#include "trio/detail/task_traits.hpp"

namespace trio {

template <class T = void>
class task;

namespace detail {

/// A finished task's result: its value, or the exception it ended with.
template <class T>
struct outcome {
  std::optional<T> value;
  std::exception_ptr error;
};
template <>
struct outcome<void> {
  std::exception_ptr error;
};

/// The error for a task<T> whose coroutine reached its end without `co_return value` (undefined
/// behaviour that g++ 12 does not warn about: the caller would read garbage).
[[gnu::cold, gnu::noinline]] inline std::exception_ptr missing_value_error(const std::type_info& type) noexcept {
  int status = 0;
  char* name = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string msg = "trio::task<" + std::string(status == 0 && name ? name : type.name()) +
                    "> finished without co_return <value>: every path of a task<T> coroutine must end with "
                    "co_return (or throw)";
  std::free(name);
  return std::make_exception_ptr(std::logic_error(msg));
}

struct task_promise_base : pooled_frame {
  /// The coroutine that awaits this one (resumed when it finishes), with bit 0 set when that coroutine
  /// is itself a trio::task's: the task dump walks an await chain through it and stops at a frame of
  /// another kind. (Frames are at least 16-byte aligned; the tag is a compile-time constant.)
  std::uintptr_t continuation = reinterpret_cast<std::uintptr_t>(std::noop_coroutine().address());

  std::coroutine_handle<> awaiting() const noexcept {
    return std::coroutine_handle<>::from_address(reinterpret_cast<void*>(continuation & ~std::uintptr_t{1}));
  }
  template <class P>
  void set_awaiting(std::coroutine_handle<P> h) noexcept {
    continuation = reinterpret_cast<std::uintptr_t>(h.address()) | (std::is_base_of_v<task_promise_base, P> ? 1 : 0);
  }

  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
      return h.promise().awaiting();
    }
    void await_resume() const noexcept {}
  };

  std::suspend_always initial_suspend() const noexcept { return {}; }
  final_awaiter final_suspend() const noexcept { return {}; }
};

template <class T>
struct task_promise final : task_promise_base {
  enum class state : unsigned char { empty, value, error };
  state st = state::empty;
  union {
    std::exception_ptr error;
    T value;
  };

  task_promise() noexcept {}
  ~task_promise() {
    if (st == state::value)
      value.~T();
    else if (st == state::error)
      error.~exception_ptr();
  }

  task<T> get_return_object() noexcept;
  void unhandled_exception() noexcept {
    ::new (static_cast<void*>(&error)) std::exception_ptr(std::current_exception());
    st = state::error;
  }
  template <class U>
  requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    ::new (static_cast<void*>(&value)) T(std::forward<U>(v));
    st = state::value;
  }
  T result() {
    if (TRIO_UNLIKELY(st != state::value)) std::rethrow_exception(take_error());
    return std::move(value);
  }
  /// The task's exception; a task that finished without a value counts as having raised one.
  std::exception_ptr take_error() noexcept {
    if (st == state::error) return std::exchange(error, nullptr);
    return st == state::empty ? missing_value_error(typeid(T)) : nullptr;
  }
  outcome<T> take_outcome() {
    outcome<T> o;
    if (TRIO_LIKELY(st == state::value))
      o.value.emplace(std::move(value));
    else
      o.error = take_error();
    return o;
  }
};

template <>
struct task_promise<void> final : task_promise_base {
  std::exception_ptr error;
  task<void> get_return_object() noexcept;
  void unhandled_exception() noexcept { error = std::current_exception(); }
  void return_void() noexcept {}
  void result() {
    if (error) std::rethrow_exception(error);
  }
  std::exception_ptr take_error() noexcept { return std::exchange(error, nullptr); }
  outcome<void> take_outcome() noexcept { return {std::exchange(error, nullptr)}; }
};

}  // namespace detail

/// A lazy coroutine returning T. `co_await some_task()` runs it inline in the current trio task, as a
/// function call would: no new task, no scheduler round trip, and it is not a checkpoint.
///
///     trio::task<int> answer() { co_await trio::sleep(1s); co_return 42; }
///     int v = co_await answer();
///
/// The trap: a task does nothing until awaited. To run it concurrently, give the *function* to
/// `nursery::start_soon`, not a task object.
template <class T>
class [[nodiscard]] task {
 public:
  /// The coroutine promise (for the compiler; users never name it).
  using promise_type = detail::task_promise<T>;
  /// What `co_await` of the task yields.
  using value_type = T;

  task() noexcept = default;
  /// Takes ownership of a coroutine frame (what the promise does; users get tasks by calling a coroutine).
  explicit task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  task(task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      if (h_) h_.destroy();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() {
    if (h_) h_.destroy();
  }

  /// Whether the task owns a coroutine frame: false when default-constructed, moved from or released.
  bool valid() const noexcept { return static_cast<bool>(h_); }

  /// Gives up ownership of the coroutine frame (not started, or wherever it is): the caller must
  /// resume and destroy it. For schedulers; users `co_await` tasks or start them in a nursery.
  [[nodiscard]] std::coroutine_handle<promise_type> release() && noexcept { return std::exchange(h_, {}); }

  /// Awaits the task without rethrowing: yields its outcome (value or exception). For library code
  /// that forwards exceptions; users want plain `co_await`.
  [[nodiscard]] auto capture() && noexcept {
    struct awaiter : start_awaiter {
      detail::outcome<T> await_resume() const { return this->h.promise().take_outcome(); }
    };
    return awaiter{{h_}};
  }

  auto operator co_await() && noexcept {
    struct awaiter : start_awaiter {
      T await_resume() const { return this->h.promise().result(); }
    };
    return awaiter{{h_}};
  }

 private:
  /// Starts the task, which resumes the awaiting coroutine when it finishes (symmetric transfer).
  struct [[nodiscard]] start_awaiter {
    std::coroutine_handle<promise_type> h;
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> cont) const noexcept {
      h.promise().set_awaiting(cont);
      return h;
    }
  };

  std::coroutine_handle<promise_type> h_;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}

/// Calls fn(args...) (which returns a task<T>) without letting an exception escape: a function that
/// throws before returning its task leaves the exception in `error` and an empty optional. Await the
/// task with `co_await std::move(*t).capture()` to get its outcome without a rethrow.
template <class T, class F, class... A>
std::optional<task<T>> try_invoke(std::exception_ptr& error, F&& fn, A&&... args) noexcept {
  try {
    return std::optional<task<T>>(std::invoke(std::forward<F>(fn), std::forward<A>(args)...));
  } catch (...) {
    error = std::current_exception();
    return std::nullopt;
  }
}
}  // namespace detail
}  // namespace trio
