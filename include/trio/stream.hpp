#pragma once
/// \file
/// The stream contract (spec STR-*): the concepts every trio byte stream satisfies, stapled_stream
/// and aclose_forcefully.
///
/// A receive stream's `receive_some(span)` returns 1..size bytes, or 0 only at the end of the stream;
/// a send stream's `send_all(span)` returns when every byte was handed to the transport. One task per
/// direction (a second gets busy_resource_error). Operations on a stream you closed throw
/// closed_resource_error; a stream whose peer or transport failed throws broken_resource_error.
/// `aclose()` always closes, even when cancelled, and is idempotent.

#include <cstddef>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "trio/cancel_scope.hpp"
#include "trio/errors.hpp"
#include "trio/task.hpp"

namespace trio {

/// What `co_await a` produces, for an awaitable type A (a trio::task<T>: T).
template <class A>
using await_result_t = decltype(std::declval<A>().operator co_await().await_resume());

/// A is awaitable and its result converts to R (R = void: any result).
template <class A, class R>
concept awaitable_of = requires {
  typename await_result_t<A>;
}
&&(std::is_void_v<R> || std::convertible_to<await_result_t<A>, R>);

template <class S>
concept async_resource = requires(S& s) {
  { s.aclose() } -> awaitable_of<void>;
};

template <class S>
concept send_stream = async_resource<S> && requires(S& s, std::span<const std::byte> data) {
  { s.send_all(data) } -> awaitable_of<void>;
  { s.wait_send_all_might_not_block() } -> awaitable_of<void>;
};

template <class S>
concept receive_stream = async_resource<S> && requires(S& s, std::span<std::byte> buffer) {
  { s.receive_some(buffer) } -> awaitable_of<std::size_t>;
};

template <class S>
concept stream = send_stream<S> && receive_stream<S>;

template <class S>
concept half_closeable_stream = stream<S> && requires(S& s) {
  { s.send_eof() } -> awaitable_of<void>;
};

/// Closes `r` at once: aclose() inside an already cancelled scope (a graceful close that would
/// block, a TLS close_notify say, is skipped). Returns normally.
template <async_resource R>
task<void> aclose_forcefully(R& r) {
  cancel_scope scope;
  scope.cancel("aclose_forcefully");
  auto body = [&]() -> task<void> { co_await r.aclose(); };
  co_await scope.enter(body);
}

namespace detail {
inline std::span<const std::byte> as_bytes(std::string_view s) noexcept {
  return std::as_bytes(std::span(s.data(), s.size()));
}
/// An operation on a stream this side closed (STR-05).
[[noreturn]] [[gnu::cold]] inline void throw_stream_closed(const char* what) {
  throw closed_resource_error(std::string(what) + ": the stream was closed (aclose) by this side");
}
/// An operation whose stream was destroyed while the task was inside it.
[[noreturn]] [[gnu::cold]] inline void throw_stream_destroyed(const char* what) {
  throw closed_resource_error(std::string(what) +
                              ": the stream was closed (destroyed) while this task was using it; keep the "
                              "stream alive until every task using it is done (e.g. open it outside their nursery)");
}
[[noreturn]] [[gnu::cold]] inline void throw_stream_busy(const char* what, const char* direction) {
  throw busy_resource_error(std::string(what) + ": another task is already " + direction +
                            " on this stream; use one task per direction (or a trio::lock)");
}
/// Marks a direction of a stream busy for the length of one operation.
struct busy_guard {
  bool& flag;
  busy_guard(bool& f, const char* what, const char* direction) : flag(f) {
    if (flag) throw_stream_busy(what, direction);
    flag = true;
  }
  ~busy_guard() { flag = false; }
  busy_guard(const busy_guard&) = delete;
  busy_guard& operator=(const busy_guard&) = delete;
};

struct stream_user;
/// A stream's record of the task using one direction of it (see stream_user). Moving a stream moves
/// no user: the operation in progress keeps the object it started on.
class stream_user_slot {
 public:
  stream_user_slot() noexcept = default;
  stream_user_slot(stream_user_slot&&) noexcept {}
  stream_user_slot& operator=(stream_user_slot&&) noexcept { return *this; }
  inline ~stream_user_slot();

 private:
  friend struct stream_user;
  stream_user* user_ = nullptr;
};
/// Like busy_guard, for a stream that may be destroyed while a task is inside one of its operations
/// (the task is woken by the close and resumes after the stream is gone): the stream's destructor
/// sets `gone`, and the operation checks it after every co_await before it touches the stream again.
struct stream_user {
  stream_user_slot* slot;
  bool gone = false;
  stream_user(stream_user_slot& s, const char* what, const char* direction) : slot(&s) {
    if (s.user_ != nullptr) throw_stream_busy(what, direction);
    s.user_ = this;
  }
  ~stream_user() {
    if (!gone) slot->user_ = nullptr;
  }
  stream_user(const stream_user&) = delete;
  stream_user& operator=(const stream_user&) = delete;
};
inline stream_user_slot::~stream_user_slot() {
  if (user_ != nullptr) user_->gone = true;
}
/// The max_bytes argument of `receive_some(std::size_t)` (STR-02): 0 is an error.
inline void check_max_bytes(std::size_t max_bytes, const char* what) {
  if (max_bytes == 0) throw std::invalid_argument(std::string(what) + ": max_bytes must be at least 1 (got 0)");
}
/// `receive_some(max_bytes)` for a stream that has the span overload: up to max_bytes as a string.
template <class S>
task<std::string> receive_string(S& s, std::size_t max_bytes, const char* what) {
  check_max_bytes(max_bytes, what);
  std::string out(max_bytes, '\0');
  const std::size_t n = co_await s.receive_some(std::as_writable_bytes(std::span(out)));
  out.resize(n);
  co_return out;
}
}  // namespace detail

/// A stream made of a send stream and a receive stream (STR-09): sending goes to one, receiving
/// comes from the other. `send_eof()` is the send stream's send_eof() if it has one, else its aclose().
template <send_stream SendStream, receive_stream ReceiveStream>
class stapled_stream {
 public:
  /// Staples `s` (for sending) and `r` (for receiving); the stapled stream owns both.
  stapled_stream(SendStream s, ReceiveStream r) : send_stream_(std::move(s)), receive_stream_(std::move(r)) {}

  /// The send stream's send_all.
  task<void> send_all(std::span<const std::byte> data) { co_await send_stream_.send_all(data); }
  /// The send stream's send_all of a string's bytes.
  task<void> send_all(std::string_view data) { co_await send_stream_.send_all(detail::as_bytes(data)); }
  /// The send stream's wait_send_all_might_not_block.
  task<void> wait_send_all_might_not_block() { co_await send_stream_.wait_send_all_might_not_block(); }
  /// The send stream's send_eof() if it has one, else its aclose(); receiving still works.
  task<void> send_eof() {
    if constexpr (requires { send_stream_.send_eof(); })
      co_await send_stream_.send_eof();
    else
      co_await send_stream_.aclose();
  }
  /// The receive stream's receive_some: bytes read into `buffer`, 0 at the end of the stream.
  task<std::size_t> receive_some(std::span<std::byte> buffer) {
    co_return co_await receive_stream_.receive_some(buffer);
  }
  /// Up to `max_bytes` (at least 1, else std::invalid_argument) as a string; empty at the end of the stream.
  task<std::string> receive_some(std::size_t max_bytes = 65536) {
    return detail::receive_string(receive_stream_, max_bytes, "trio::stapled_stream::receive_some");
  }
  /// Closes both, the receive stream even when closing the send stream throws (then that error is
  /// raised after; if both throw, the receive stream's error wins, as in Trio).
  task<void> aclose() {
    std::exception_ptr first;
    try {
      co_await send_stream_.aclose();
    } catch (...) {
      first = std::current_exception();
    }
    co_await receive_stream_.aclose();
    if (first) std::rethrow_exception(first);
  }

  /// The stream sending goes to.
  SendStream& send_stream() noexcept { return send_stream_; }
  /// The stream receiving comes from.
  ReceiveStream& receive_stream() noexcept { return receive_stream_; }

 private:
  SendStream send_stream_;
  ReceiveStream receive_stream_;
};

}  // namespace trio
