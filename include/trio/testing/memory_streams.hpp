#pragma once
/// \file
/// In-memory streams for tests (spec STR-07/08): memory_send_stream and memory_receive_stream with
/// hooks, memory_stream_pump, one-way and two-way memory pairs, and lockstep pairs (no buffering).

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "trio/checkpoint.hpp"
#include "trio/errors.hpp"
#include "trio/parking_lot.hpp"
#include "trio/stream.hpp"
#include "trio/task.hpp"

namespace trio::testing {

/// A hook a memory stream runs after (send) or before (receive) an operation; may block.
using stream_hook = std::function<task<void>()>;

namespace memory_detail {
/// A byte queue some tasks put into and one task takes from.
struct byte_queue {
  std::string data;
  bool eof = false;
  bool getting = false;
  parking_lot waiters;

  void put(std::string_view d) {
    data.append(d.data(), d.size());
    waiters.unpark_all();
  }
  void close_put() {
    eof = true;
    waiters.unpark_all();
  }
  std::string take(std::size_t max) {
    const std::size_t n = std::min(max, data.size());
    std::string out = data.substr(0, n);
    data.erase(0, n);
    return out;
  }
};
inline void check_max(std::optional<std::size_t> max, const char* what) {
  if (max && *max == 0) throw std::invalid_argument(std::string(what) + ": max_bytes must be at least 1");
}
}  // namespace memory_detail

class memory_send_stream;
class memory_receive_stream;
std::pair<memory_send_stream, memory_receive_stream> memory_stream_one_way_pair();

/// A send stream whose bytes go into a buffer the test reads with get_data / get_data_nowait.
class memory_send_stream {
  struct state {
    memory_detail::byte_queue q;
    bool closed = false;
    bool sending = false;
    stream_hook send_all_hook, wait_send_all_might_not_block_hook, close_hook;
  };

 public:
  /// A stream with an empty buffer and no hooks.
  memory_send_stream() : s_(std::make_shared<state>()) {}

  /// Appends `data` to the buffer (unbounded: it never waits for a reader), then runs send_all_hook if set.
  /// A checkpoint. Closed: closed_resource_error; two tasks sending at once: busy_resource_error.
  task<void> send_all(std::span<const std::byte> data) {
    auto s = s_;
    trio::detail::busy_guard busy(s->sending, "trio::testing::memory_send_stream", "sending");
    co_await checkpoint();
    if (s->closed) throw closed_resource_error("trio::testing::memory_send_stream: the stream was closed");
    s->q.put(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
    if (s->send_all_hook) co_await s->send_all_hook();
  }
  /// send_all of a string's bytes.
  task<void> send_all(std::string_view data) { return send_all(trio::detail::as_bytes(data)); }
  /// A checkpoint, then wait_send_all_might_not_block_hook if set (the buffer never fills). Closed:
  /// closed_resource_error; while another task sends: busy_resource_error.
  task<void> wait_send_all_might_not_block() {
    auto s = s_;
    if (s->sending) throw busy_resource_error("trio::testing::memory_send_stream: another task is already sending");
    co_await checkpoint();
    if (s->closed) throw closed_resource_error("trio::testing::memory_send_stream: the stream was closed");
    if (s->wait_send_all_might_not_block_hook) co_await s->wait_send_all_might_not_block_hook();
  }
  /// Marks the stream closed (the reader sees the end once it has the data); idempotent.
  void close() {
    if (s_->closed) return;
    s_->closed = true;
    s_->q.close_put();
  }
  /// close(), then close_hook if set (the first time only), then a checkpoint.
  task<void> aclose() {
    auto s = s_;
    const bool first = !s->closed;
    close();
    if (first && s->close_hook) co_await s->close_hook();
    co_await checkpoint();
  }

  /// Up to max_bytes of what was sent, waiting until there is some (empty: closed and drained).
  task<std::string> get_data(std::optional<std::size_t> max_bytes = std::nullopt) {
    auto s = s_;
    memory_detail::check_max(max_bytes, "trio::testing::memory_send_stream::get_data");
    trio::detail::busy_guard busy(s->q.getting, "trio::testing::memory_send_stream", "in get_data");
    while (s->q.data.empty() && !s->q.eof) co_await s->q.waiters.park();
    co_await checkpoint();
    co_return s->q.take(max_bytes.value_or(std::string::npos));
  }
  /// As get_data, but would_block instead of waiting.
  std::string get_data_nowait(std::optional<std::size_t> max_bytes = std::nullopt) {
    memory_detail::check_max(max_bytes, "trio::testing::memory_send_stream::get_data_nowait");
    if (s_->q.getting) throw busy_resource_error("trio::testing::memory_send_stream: another task is in get_data");
    if (s_->q.data.empty() && !s_->q.eof) throw would_block("trio::testing::memory_send_stream: no data");
    return s_->q.take(max_bytes.value_or(std::string::npos));
  }
  /// Whether close() or aclose() was called.
  bool closed() const noexcept { return s_->closed; }

  /// Called (and awaited) at the end of every send_all; assign a function to inject behaviour. Empty: none.
  stream_hook& send_all_hook() noexcept { return s_->send_all_hook; }
  /// Called (and awaited) at the end of every wait_send_all_might_not_block. Empty: none.
  stream_hook& wait_send_all_might_not_block_hook() noexcept { return s_->wait_send_all_might_not_block_hook; }
  /// Called (and awaited) by the first aclose(). Empty: none.
  stream_hook& close_hook() noexcept { return s_->close_hook; }

 private:
  explicit memory_send_stream(std::shared_ptr<state> s) noexcept : s_(std::move(s)) {}
  friend std::pair<memory_send_stream, memory_receive_stream> memory_stream_one_way_pair();
  std::shared_ptr<state> s_;
};
static_assert(send_stream<memory_send_stream>);

/// A receive stream the test feeds with put_data / put_eof.
class memory_receive_stream {
  struct state {
    memory_detail::byte_queue q;
    bool closed = false;
    stream_hook receive_some_hook, close_hook;
  };

 public:
  /// A stream with an empty buffer and no hooks.
  memory_receive_stream() : s_(std::make_shared<state>()) {}

  /// A checkpoint, receive_some_hook if set, then up to buffer.size() bytes of what put_data added,
  /// waiting for some; 0 after put_eof once drained. An empty buffer: std::invalid_argument; closed:
  /// closed_resource_error; two tasks at once: busy_resource_error.
  task<std::size_t> receive_some(std::span<std::byte> buffer) {
    auto s = s_;
    if (buffer.empty()) throw std::invalid_argument("trio::testing::memory_receive_stream: the buffer is empty");
    trio::detail::busy_guard busy(s->q.getting, "trio::testing::memory_receive_stream", "receiving");
    co_await checkpoint();
    if (s->closed) throw closed_resource_error("trio::testing::memory_receive_stream: the stream was closed");
    if (s->receive_some_hook) co_await s->receive_some_hook();
    while (s->q.data.empty() && !s->q.eof) {
      co_await s->q.waiters.park();
      if (s->closed) throw closed_resource_error("trio::testing::memory_receive_stream: the stream was closed");
    }
    const std::string got = s->q.take(buffer.size());
    std::memcpy(buffer.data(), got.data(), got.size());
    co_return got.size();
  }
  /// Up to `max_bytes` (at least 1, else std::invalid_argument) as a string; empty at the end of the stream.
  task<std::string> receive_some(std::size_t max_bytes = 65536) {
    return trio::detail::receive_string(*this, max_bytes, "trio::testing::memory_receive_stream::receive_some");
  }
  /// Marks the stream closed: a blocked receive_some wakes with closed_resource_error. Idempotent.
  void close() {
    if (s_->closed) return;
    s_->closed = true;
    s_->q.waiters.unpark_all();  // a blocked receive_some sees closed
  }
  /// close(), then close_hook if set (the first time only), then a checkpoint.
  task<void> aclose() {
    auto s = s_;
    const bool first = !s->closed;
    close();
    if (first && s->close_hook) co_await s->close_hook();
    co_await checkpoint();
  }

  /// Adds bytes for receive_some; after close(): closed_resource_error.
  void put_data(std::string_view data) {
    if (s_->closed)
      throw closed_resource_error("trio::testing::memory_receive_stream::put_data: the stream was closed");
    s_->q.put(data);
  }
  /// The end of the stream: once the data is read, receive_some returns 0 forever.
  void put_eof() { s_->q.close_put(); }
  /// Whether close() or aclose() was called.
  bool closed() const noexcept { return s_->closed; }

  /// Called (and awaited) by every receive_some before it takes data (e.g. to put_data on demand). Empty: none.
  stream_hook& receive_some_hook() noexcept { return s_->receive_some_hook; }
  /// Called (and awaited) by the first aclose(). Empty: none.
  stream_hook& close_hook() noexcept { return s_->close_hook; }

 private:
  std::shared_ptr<state> s_;
};
static_assert(receive_stream<memory_receive_stream>);

/// Moves up to max_bytes from `from`'s buffer into `to` (and the end of stream, once `from` is closed
/// and drained). False if there was nothing to move. A closed `to` is broken_resource_error.
inline bool memory_stream_pump(memory_send_stream& from, memory_receive_stream& to,
                               std::optional<std::size_t> max_bytes = std::nullopt) {
  std::string data;
  try {
    data = from.get_data_nowait(max_bytes);
  } catch (const would_block&) {
    return false;
  }
  try {
    if (data.empty())
      to.put_eof();
    else
      to.put_data(data);
  } catch (const closed_resource_error&) {
    throw broken_resource_error("trio::testing::memory_stream_pump: the receiving stream was closed");
  }
  return true;
}

/// A connected one-way pair: what is sent is pumped to the receiver at once (the hooks do it).
inline std::pair<memory_send_stream, memory_receive_stream> memory_stream_one_way_pair() {
  memory_send_stream send;
  memory_receive_stream receive;
  // The hooks live in the send side's state: they hold it weakly (no cycle), the receive side strongly.
  std::weak_ptr<memory_send_stream::state> from = send.s_;
  auto pump = [from, receive]() mutable -> task<void> {
    if (auto st = from.lock()) {
      memory_send_stream handle(std::move(st));
      memory_stream_pump(handle, receive);
    }
    co_return;
  };
  send.send_all_hook() = pump;
  send.close_hook() = pump;
  return {std::move(send), std::move(receive)};
}

/// A two-way memory stream: a memory_send_stream and a memory_receive_stream stapled together.
using memory_stream = stapled_stream<memory_send_stream, memory_receive_stream>;

/// Two memory_streams connected to each other, with unbounded buffers.
inline std::pair<memory_stream, memory_stream> memory_stream_pair() {
  auto [a_send, b_receive] = memory_stream_one_way_pair();
  auto [b_send, a_receive] = memory_stream_one_way_pair();
  return {memory_stream(std::move(a_send), std::move(a_receive)),
          memory_stream(std::move(b_send), std::move(b_receive))};
}

/// One direction of a lockstep pair: no buffer at all. send_all returns only once receive_some has
/// taken every byte (STR-07).
class lockstep_send_stream;
class lockstep_receive_stream;

namespace memory_detail {
struct lockstep_state {
  std::string pending;       // offered by the sender, not taken yet
  bool send_closed = false;  // the sender closed: end of stream
  bool receive_closed = false;
  bool sending = false;
  bool receiving = false;
  parking_lot receivers, senders;
};
}  // namespace memory_detail

/// The sending end of a lockstep pair: no buffer, send_all returns once the receiver has taken every byte.
class lockstep_send_stream {
 public:
  /// An end over a pair's shared state (lockstep_stream_one_way_pair makes them; call that).
  explicit lockstep_send_stream(std::shared_ptr<memory_detail::lockstep_state> s) : s_(std::move(s)) {}
  /// Offers `data` and waits until receive_some calls have taken all of it. A checkpoint. Cancelled:
  /// what was not taken is withdrawn. Closed: closed_resource_error; the receiver closed:
  /// broken_resource_error; two tasks sending: busy_resource_error.
  task<void> send_all(std::span<const std::byte> data) {
    auto s = s_;
    if (s->sending) throw busy_resource_error("trio::testing::lockstep stream: another task is already sending");
    s->sending = true;
    struct reset {
      memory_detail::lockstep_state* st;
      ~reset() {
        st->sending = false;
        st->pending.clear();  // cancelled: what was not taken is withdrawn
      }
    } r{s.get()};
    co_await checkpoint();
    if (s->send_closed) throw closed_resource_error("trio::testing::lockstep stream: the stream was closed");
    if (s->receive_closed) throw broken_resource_error("trio::testing::lockstep stream: the receiver was closed");
    if (data.empty()) co_return;
    s->pending.assign(reinterpret_cast<const char*>(data.data()), data.size());
    s->receivers.unpark_all();
    while (!s->pending.empty()) {
      co_await s->senders.park();
      if (s->send_closed) throw closed_resource_error("trio::testing::lockstep stream: the stream was closed");
      if (s->receive_closed && !s->pending.empty())
        throw broken_resource_error("trio::testing::lockstep stream: the receiver was closed");
    }
  }
  /// send_all of a string's bytes.
  task<void> send_all(std::string_view data) { return send_all(trio::detail::as_bytes(data)); }
  /// A checkpoint, then waits until a task is in receive_some (or the receiver is closed).
  task<void> wait_send_all_might_not_block() {
    auto s = s_;
    trio::detail::busy_guard busy(s->sending, "trio::testing::lockstep stream", "sending");
    co_await checkpoint();
    if (s->send_closed) throw closed_resource_error("trio::testing::lockstep stream: the stream was closed");
    while (!s->receiving && !s->receive_closed) co_await s->senders.park();
  }
  /// Closes the sending end (the receiver sees the end of the stream), then a checkpoint.
  task<void> aclose() {
    auto s = s_;
    s->send_closed = true;
    s->receivers.unpark_all();
    s->senders.unpark_all();
    co_await checkpoint();
  }

 private:
  std::shared_ptr<memory_detail::lockstep_state> s_;
};

/// The receiving end of a lockstep pair: takes bytes straight from a sender blocked in send_all.
class lockstep_receive_stream {
 public:
  /// An end over a pair's shared state (lockstep_stream_one_way_pair makes them; call that).
  explicit lockstep_receive_stream(std::shared_ptr<memory_detail::lockstep_state> s) : s_(std::move(s)) {}
  /// A checkpoint, then up to buffer.size() of the bytes a sender offers, waiting for one; 0 once the
  /// sender has closed. An empty buffer: std::invalid_argument; closed: closed_resource_error.
  task<std::size_t> receive_some(std::span<std::byte> buffer) {
    auto s = s_;
    if (buffer.empty()) throw std::invalid_argument("trio::testing::lockstep stream: the buffer is empty");
    trio::detail::busy_guard busy(s->receiving, "trio::testing::lockstep stream", "receiving");
    co_await checkpoint();
    if (s->receive_closed) throw closed_resource_error("trio::testing::lockstep stream: the stream was closed");
    s->senders.unpark_all();  // wait_send_all_might_not_block: a receiver is here
    while (s->pending.empty() && !s->send_closed) {
      co_await s->receivers.park();
      if (s->receive_closed) throw closed_resource_error("trio::testing::lockstep stream: the stream was closed");
    }
    if (s->pending.empty()) co_return 0;
    const std::size_t n = std::min(buffer.size(), s->pending.size());
    std::memcpy(buffer.data(), s->pending.data(), n);
    s->pending.erase(0, n);
    if (s->pending.empty()) s->senders.unpark_all();
    co_return n;
  }
  /// Up to `max_bytes` (at least 1, else std::invalid_argument) as a string; empty at the end of the stream.
  task<std::string> receive_some(std::size_t max_bytes = 65536) {
    return trio::detail::receive_string(*this, max_bytes, "trio::testing::lockstep stream::receive_some");
  }
  /// Closes the receiving end (a sender then gets broken_resource_error), then a checkpoint.
  task<void> aclose() {
    auto s = s_;
    s->receive_closed = true;
    s->receivers.unpark_all();
    s->senders.unpark_all();
    co_await checkpoint();
  }

 private:
  std::shared_ptr<memory_detail::lockstep_state> s_;
};
static_assert(send_stream<lockstep_send_stream>);
static_assert(receive_stream<lockstep_receive_stream>);

/// A connected one-way lockstep pair: a send end and a receive end with no buffer between them.
inline std::pair<lockstep_send_stream, lockstep_receive_stream> lockstep_stream_one_way_pair() {
  auto s = std::make_shared<memory_detail::lockstep_state>();
  return {lockstep_send_stream(s), lockstep_receive_stream(s)};
}

/// A two-way lockstep stream: a lockstep send end and receive end stapled together.
using lockstep_stream = stapled_stream<lockstep_send_stream, lockstep_receive_stream>;

/// Two lockstep_streams connected to each other.
inline std::pair<lockstep_stream, lockstep_stream> lockstep_stream_pair() {
  auto [a_send, b_receive] = lockstep_stream_one_way_pair();
  auto [b_send, a_receive] = lockstep_stream_one_way_pair();
  return {lockstep_stream(std::move(a_send), std::move(a_receive)),
          lockstep_stream(std::move(b_send), std::move(b_receive))};
}

}  // namespace trio::testing
