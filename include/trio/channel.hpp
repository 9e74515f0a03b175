#pragma once
/// \file
/// Memory channels: open_memory_channel<T>(max_buffer) gives a send_channel<T> and a receive_channel<T>.

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "trio/checkpoint.hpp"
#include "trio/detail/intrusive_list.hpp"
#include "trio/detail/runner.hpp"
#include "trio/errors.hpp"
#include "trio/task.hpp"

namespace trio {

/// max_buffer for a channel whose buffer never fills.
inline constexpr std::size_t unbounded = std::numeric_limits<std::size_t>::max();

/// What a channel handle's statistics() reports: a snapshot of the whole channel (every handle agrees).
struct channel_statistics {
  std::size_t current_buffer_used = 0;    ///< Values buffered now, sent and not yet received.
  std::size_t max_buffer_size = 0;        ///< The max_buffer given to open_memory_channel (trio::unbounded: none).
  std::size_t open_send_channels = 0;     ///< Send handles (clones included) not yet closed.
  std::size_t open_receive_channels = 0;  ///< Receive handles (clones included) not yet closed.
  std::size_t tasks_waiting_send = 0;     ///< Tasks blocked in send() because the buffer is full.
  std::size_t tasks_waiting_receive = 0;  ///< Tasks blocked in receive() or next() because it is empty.
  std::size_t peak_buffer_used = 0;       ///< The most values ever buffered at once since the channel was opened.
};

template <class T>
class send_channel;
template <class T>
class receive_channel;

namespace detail {

/// A FIFO of T in a growable circular array: allocates only when it grows.
template <class T>
class ring_buffer {
 public:
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  void push_back(T&& v) {
    if (size_ == slots_.size()) grow();
    slots_[(head_ + size_) & mask_].emplace(std::move(v));
    ++size_;
  }
  T pop_front() {
    std::optional<T>& s = slots_[head_];
    T v = std::move(*s);
    s.reset();
    head_ = (head_ + 1) & mask_;
    --size_;
    return v;
  }
  void clear() noexcept {
    while (size_ != 0) {
      slots_[head_].reset();
      head_ = (head_ + 1) & mask_;
      --size_;
    }
  }

 private:
  void grow() {
    std::vector<std::optional<T>> bigger(slots_.empty() ? 8 : slots_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i].emplace(std::move(*slots_[(head_ + i) & mask_]));
    slots_ = std::move(bigger);
    mask_ = slots_.size() - 1;
    head_ = 0;
  }
  std::vector<std::optional<T>> slots_;  // a power of two long: indices wrap with a mask
  std::size_t mask_ = 0;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

struct chan_tag {};

/// A task blocked in send or receive. It lives in the task's frame; `value` points at the value to
/// send (in the sender's frame) or at the slot to fill (in the receiver's frame).
template <class T>
struct channel_state;

/// Why a waiter of a shared channel was woken with an error (made into the exception in its own thread).
enum class chan_error : unsigned char { none, send_closed, receive_closed, broken };

/// The message that wakes a shared channel's waiter in its own run: built in the waiter's storage.
struct chan_remote_node : inbox_node {
  void* waiter = nullptr;
};

template <class T>
struct chan_waiter : list_hook<chan_tag> {
  const channel_state<T>* st = nullptr;
  task_record* task = nullptr;
  std::uint64_t handle = 0;
  T* to_send = nullptr;
  std::optional<T>* slot = nullptr;
  bool ended = false;  // woken because every sender closed
  // A shared channel's waiter (open_shared_channel), woken from another runner's thread through the
  // inbox of its own run (a chan_remote_node built in `remote`): under the channel's mutex the waker
  // takes it off its queue and sets `woken`, so a cancellation arriving at the same time finds it gone
  // and fails. Set when a shared channel's waiter parks, left uninitialised otherwise (a memory
  // channel's operations do not pay for them).
  runner* home;
  token_state* home_token;
  bool woken;
  chan_error error;
  alignas(chan_remote_node) unsigned char remote[sizeof(chan_remote_node)];

  /// A shared channel's waiter is about to be published (its lock is held): who wakes it, and how.
  void prepare_shared(runner& r) noexcept {
    home = &r;
    home_token = r.token().get();
    woken = false;
  }

  /// A cancelled send or receive leaves no trace: the waiter leaves its queue, the value stays put.
  static abort_result abort(void* p) noexcept {
    auto& w = *static_cast<chan_waiter*>(p);
    if (TRIO_UNLIKELY(w.st->sync != nullptr)) {
      std::lock_guard lk(*w.st->sync);
      if (w.woken) return abort_result::failed;  // another runner woke it first: its wake-up is on the way
      intrusive_list<chan_waiter, chan_tag>::erase(w);
      return abort_result::succeeded;
    }
    intrusive_list<chan_waiter, chan_tag>::erase(w);
    return abort_result::succeeded;
  }
  static void describe(const void* p, std::string& out);
  static constexpr wait_ops ops{&abort, &describe};
  static constexpr wait_ops shared_ops{&abort, &describe, true};  // another thread may end the wait
};

inline std::exception_ptr make_chan_error(chan_error e) noexcept;

template <class T>
struct channel_state {
  explicit channel_state(std::size_t max) : max_buffer(max) {}
  std::size_t max_buffer;
  ring_buffer<T> buffer;
  std::size_t open_send = 0;
  std::size_t open_receive = 0;
  std::size_t peak = 0;
  std::uint64_t next_handle = 0;
  intrusive_list<chan_waiter<T>, chan_tag> senders;
  intrusive_list<chan_waiter<T>, chan_tag> receivers;
  /// A shared channel (open_shared_channel): this mutex guards all of the above, and waiters may belong
  /// to other runners. nullptr for a memory channel, which belongs to one run.
  std::unique_ptr<std::mutex> sync;

  /// The channel's lock for a shared channel (an empty lock for a memory channel).
  std::unique_lock<std::mutex> lock() const {
    return TRIO_UNLIKELY(sync != nullptr) ? std::unique_lock<std::mutex>(*sync) : std::unique_lock<std::mutex>();
  }

  channel_statistics statistics() const {
    auto lk = lock();
    return {buffer.size(), max_buffer, open_send, open_receive, senders.size(), receivers.size(), peak};
  }
  /// Wakes a waiter taken off its queue: with its value in place (kind value), or with an error. A
  /// waiter of another runner (shared channels) is woken through its run's inbox.
  void wake(chan_waiter<T>& w, chan_error error = chan_error::none) const noexcept {
    if (TRIO_LIKELY(sync == nullptr) || w.home == t_runner) {
      if (error == chan_error::none)
        t_runner->wake(*w.task);
      else
        t_runner->reschedule(*w.task, wake_kind::error, make_chan_error(error));
      return;
    }
    wake_remote(w, error);
  }
  [[gnu::noinline, gnu::cold]] static void wake_remote(chan_waiter<T>& w, chan_error error) noexcept {
    w.woken = true;
    w.error = error;
    auto* node = ::new (static_cast<void*>(w.remote)) chan_remote_node;
    node->waiter = &w;
    node->deliver = &deliver_remote;
    w.home_token->post(*node);  // (its run is alive: the task waits and its abort now fails)
  }
  static void deliver_remote(inbox_node* n, bool run_alive) noexcept {
    auto& w = *static_cast<chan_waiter<T>*>(static_cast<chan_remote_node*>(n)->waiter);
    if (!run_alive) return;
    if (w.error == chan_error::none)
      t_runner->wake(*w.task);
    else
      t_runner->reschedule(*w.task, wake_kind::error, make_chan_error(w.error));
  }
  void buffer_push(T&& v) {
    buffer.push_back(std::move(v));
    if (buffer.size() > peak) peak = buffer.size();
  }
  /// Wakes the waiters of `list` blocked on `handle` (or all, handle 0) with `error`.
  void wake_with(intrusive_list<chan_waiter<T>, chan_tag>& list, std::uint64_t handle, chan_error error) noexcept {
    list.for_each([&](chan_waiter<T>& w) {
      if (handle != 0 && w.handle != handle) return;
      intrusive_list<chan_waiter<T>, chan_tag>::erase(w);
      wake(w, error);
    });
  }
};

inline std::exception_ptr make_chan_error(chan_error e) noexcept {
  try {
    switch (e) {
      case chan_error::send_closed:
        return std::make_exception_ptr(closed_resource_error("trio::send_channel::send: this handle was closed"));
      case chan_error::receive_closed:
        return std::make_exception_ptr(closed_resource_error("trio::receive_channel::receive: this handle was closed"));
      case chan_error::broken:
        return std::make_exception_ptr(
            broken_resource_error("trio::send_channel::send: every receive handle of this channel is closed"));
      case chan_error::none:
        break;
    }
    return nullptr;
  } catch (...) {
    return std::current_exception();
  }
}

template <class T>
void chan_waiter<T>::describe(const void* p, std::string& out) {
  const auto* self = static_cast<const chan_waiter*>(p);
  const channel_state<T>& st = *self->st;
  auto lk = st.lock();  // (a shared channel's counts change in other threads)
  const std::string capacity =
      st.max_buffer == static_cast<std::size_t>(-1) ? std::string("unbounded") : std::to_string(st.max_buffer);
  if (self->to_send || !self->slot) {
    out += "trio::send_channel::send (buffer full: " + std::to_string(st.buffer.size()) + " of " + capacity + ", " +
           std::to_string(st.open_receive) + " receive handles open)";
  } else {
    out += "trio::receive_channel::receive (nothing buffered, capacity " + capacity + ", " +
           std::to_string(st.open_send) + " send handles open)";
  }
}

/// Parks the current task in a channel's send or receive queue.
template <class T>
class [[nodiscard]] chan_awaiter : chan_waiter<T> {
 public:
  /// `lk`: a shared channel's lock, held since the attempt that found the operation would block, and
  /// released once the waiter is in its queue.
  chan_awaiter(const channel_state<T>& st, intrusive_list<chan_waiter<T>, chan_tag>& queue, std::uint64_t handle,
               T* to_send, std::optional<T>* slot, const char* what, std::unique_lock<std::mutex>* lk = nullptr)
      : queue_(&queue), lk_(lk) {
    this->st = &st;
    r_ = &current_runner(what);
    this->task = &r_->current_or_throw(what);
    this->handle = handle;
    this->to_send = to_send;
    this->slot = slot;
  }
  chan_awaiter(const chan_awaiter&) = delete;
  chan_awaiter& operator=(const chan_awaiter&) = delete;
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) noexcept {
    queue_->push_back(*this);
    const wait_ops* ops = &chan_waiter<T>::ops;
    if (lk_ && lk_->owns_lock()) {
      this->prepare_shared(*r_);
      lk_->unlock();
      ops = &chan_waiter<T>::shared_ops;
    }
    r_->park(h, *ops, static_cast<chan_waiter<T>*>(this), is_task_promise_v<P>);
  }
  /// True when woken because every sender closed (receive side).
  bool await_resume() const {
    runner::resume_from_park(*this->task);
    return this->ended;
  }

 private:
  intrusive_list<chan_waiter<T>, chan_tag>* queue_;
  std::unique_lock<std::mutex>* lk_;
  runner* r_;
};

/// What both channel handles hold: the shared state, an id (which waiters are "on this handle") and
/// whether this handle is closed. Moving leaves the source closed and empty; Derived::close() runs on
/// move-assignment.
/// Payloads that take the frame-free path: send/receive are plain awaiters holding the value. Other
/// payloads travel through one coroutine frame per operation, because g++ 12 destroys a co_await
/// operand's non-trivially-destructible members twice (see README, compiler notes).
template <class T>
inline constexpr bool inline_payload_v = (std::is_trivially_destructible_v<T> && std::is_move_constructible_v<T>);

/// What send and receive awaiters for inline payloads share: the checkpoint protocol without a
/// coroutine frame. await_ready is the cancel point and the attempt; await_suspend is then either the
/// shielded schedule point that follows a success, or the park.
template <class T>
class [[nodiscard]] inline_channel_op : protected chan_waiter<T> {
 protected:
  explicit inline_channel_op(const char* what) {
    r_ = &current_runner(what);
    this->task = &r_->current_or_throw(what);
  }
  inline_channel_op(const inline_channel_op&) = delete;
  inline_channel_op& operator=(const inline_channel_op&) = delete;

  void cancel_point() const {
    if (this->task->status->effectively_cancelled) throw runner::make_cancelled(*this->task);
  }
  /// A shared channel's attempt runs under its lock, which stays held when the operation would block
  /// until the waiter is in its queue (no wake-up can fall between the two).
  template <class F>
  TRIO_ALWAYS_INLINE bool attempt(const channel_state<T>& st, F&& try_op) {
    if (TRIO_LIKELY(st.sync == nullptr)) return try_op();
    return attempt_locked(st, try_op);
  }
  template <class F>
  [[gnu::noinline]] static bool attempt_locked(const channel_state<T>& st, F& try_op) {
    st.sync->lock();
    bool done = false;
    try {
      done = try_op();
    } catch (...) {
      st.sync->unlock();
      throw;
    }
    if (done) st.sync->unlock();
    return done;
  }
  TRIO_ALWAYS_INLINE void yield_or_park(std::coroutine_handle<> h, bool in_task, bool done, const channel_state<T>& st,
                                        intrusive_list<chan_waiter<T>, chan_tag>& queue,
                                        std::uint64_t handle) noexcept {
    if (done) {
      r_->yield(h);
    } else {
      this->handle = handle;
      this->st = &st;
      queue.push_back(*this);
      const wait_ops* ops = &chan_waiter<T>::ops;
      if (TRIO_UNLIKELY(st.sync != nullptr)) ops = publish_shared();
      r_->park(h, *ops, static_cast<chan_waiter<T>*>(this), in_task);  // (one call: the loop inlines it)
    }
  }
  /// A shared channel's waiter, now in its queue: the lock (taken by attempt) is released.
  [[gnu::noinline]] const wait_ops* publish_shared() noexcept {
    this->prepare_shared(*r_);
    this->st->sync->unlock();
    return &chan_waiter<T>::shared_ops;
  }
  void resume(bool done) const {
    if (!done) runner::resume_from_park(*this->task);
  }

 private:
  runner* r_;
};

/// send() for inline payloads.
template <class T, class Channel>
class [[nodiscard]] send_awaiter : inline_channel_op<T> {
 public:
  send_awaiter(Channel& ch, T&& value)
      : inline_channel_op<T>("trio::send_channel::send"), ch_(&ch), value_(std::move(value)) {}
  bool await_ready() {
    this->cancel_point();
    sent_ = this->attempt(*ch_->st_, [this] { return ch_->try_send(value_); });
    return false;
  }
  template <class P>
  TRIO_ALWAYS_INLINE void await_suspend(std::coroutine_handle<P> h) noexcept {
    this->to_send = &value_;
    this->yield_or_park(h, is_task_promise_v<P>, sent_, *ch_->st_, ch_->st_->senders, ch_->id_);
  }
  void await_resume() const { this->resume(sent_); }

 private:
  Channel* ch_;
  T value_;
  bool sent_ = false;
};

/// next() / receive() for inline payloads. `Throw`: receive(), which turns the end of the channel
/// into end_of_channel.
template <class T, class Channel, bool Throw>
class [[nodiscard]] receive_awaiter : inline_channel_op<T> {
 public:
  explicit receive_awaiter(Channel& ch) : inline_channel_op<T>("trio::receive_channel::receive"), ch_(&ch) {}
  bool await_ready() {
    this->cancel_point();
    got_ = this->attempt(*ch_->st_, [this] { return ch_->try_receive(value_); });
    return got_ && !value_;  // the end of the channel is a cancel point only (Trio)
  }
  template <class P>
  TRIO_ALWAYS_INLINE void await_suspend(std::coroutine_handle<P> h) noexcept {
    this->slot = &value_;
    this->yield_or_park(h, is_task_promise_v<P>, got_, *ch_->st_, ch_->st_->receivers, ch_->id_);
  }
  auto await_resume() {
    this->resume(got_);
    if constexpr (Throw) {
      if (!value_) throw end_of_channel();
      return std::move(*value_);
    } else {
      return std::move(value_);
    }
  }

 private:
  Channel* ch_;
  std::optional<T> value_;
  bool got_ = false;
};

template <class T, class Derived>
class channel_handle {
 public:
  channel_statistics statistics() const noexcept { return st_->statistics(); }
  /// This handle was closed (close(), aclose(), or moved from). Other handles on the channel may
  /// still be open: the statistics count them.
  bool is_closed() const noexcept { return closed_; }

 protected:
  explicit channel_handle(std::shared_ptr<channel_state<T>> st) : st_(std::move(st)) {
    auto lk = st_->lock();
    id_ = ++st_->next_handle;
  }
  channel_handle(channel_handle&& o) noexcept
      : st_(std::move(o.st_)), id_(o.id_), closed_(std::exchange(o.closed_, true)) {}
  channel_handle& operator=(channel_handle&& o) noexcept {
    if (this != &o) {
      static_cast<Derived*>(this)->close();
      st_ = std::move(o.st_);
      id_ = o.id_;
      closed_ = std::exchange(o.closed_, true);
    }
    return *this;
  }
  ~channel_handle() = default;

  std::shared_ptr<channel_state<T>> st_;
  std::uint64_t id_ = 0;
  bool closed_ = false;
};

}  // namespace detail

/// The sending end of a memory channel. Move-only; clone() for another sender; destroying a handle
/// closes it. When every sender is closed, receivers get end_of_channel once the buffer is empty.
///
///     auto [tx, rx] = trio::open_memory_channel<int>(16);
///     co_await tx.send(42);
///
/// The trap: a forgotten clone keeps the channel open, so receivers never see end_of_channel; close
/// each clone (or let it be destroyed) when its producer is done.
template <class T>
class send_channel : public detail::channel_handle<T, send_channel<T>> {
  using base = detail::channel_handle<T, send_channel<T>>;
  using base::closed_;
  using base::id_;
  using base::st_;

 public:
  /// A new handle on a channel's state (open_memory_channel and clone() make them; users call those).
  explicit send_channel(std::shared_ptr<detail::channel_state<T>> st) : base(std::move(st)) {
    auto lk = st_->lock();
    ++st_->open_send;
  }
  send_channel(send_channel&&) noexcept = default;
  send_channel& operator=(send_channel&&) noexcept = default;
  ~send_channel() { close(); }

  /// Sends value, waiting while the buffer is full (for max_buffer 0: until a receiver takes it).
  auto send(T value) {
    if constexpr (detail::inline_payload_v<T>)
      return detail::send_awaiter<T, send_channel>(*this, std::move(value));
    else
      return send_task(std::move(value));
  }
  /// Sends without waiting, or throws would_block. Not a checkpoint.
  void send_nowait(T value) {
    auto lk = st_->lock();
    if (!try_send(value)) throw would_block("trio::send_channel::send_nowait: the channel's buffer is full");
  }
  /// Another handle on the same channel (the channel stays open until every sender is closed).
  send_channel clone() const {
    check_open("clone");
    return send_channel(st_);
  }
  /// Closes this handle: tasks blocked sending on it get closed_resource_error. Not a checkpoint.
  void close() noexcept {
    if (closed_ || !st_) return;
    closed_ = true;
    auto& st = *st_;
    auto lk = st.lock();
    st.wake_with(st.senders, id_, detail::chan_error::send_closed);
    if (--st.open_send == 0) {
      st.receivers.for_each([&](detail::chan_waiter<T>& w) {
        detail::intrusive_list<detail::chan_waiter<T>, detail::chan_tag>::erase(w);
        w.ended = true;
        st.wake(w);
      });
    }
  }
  /// close(), then a checkpoint (the async-resource form; see close() for what it does).
  task<void> aclose() {
    close();
    co_await checkpoint();
  }
  using base::is_closed;
  using base::statistics;

 private:
  template <class, class>
  friend class detail::send_awaiter;

  task<void> send_task(T value) {
    co_await checkpoint_if_cancelled();
    std::unique_lock<std::mutex> lk = st_->lock();  // (a shared channel's: until the waiter is queued)
    if (try_send(value)) {
      if (lk.owns_lock()) lk.unlock();
      co_await cancel_shielded_checkpoint();
      co_return;
    }
    co_await detail::chan_awaiter<T>(*st_, st_->senders, id_, &value, nullptr, "trio::send_channel::send", &lk);
  }

  void check_open(const char* what) const {
    if (closed_)
      throw closed_resource_error(std::string("trio::send_channel::") + what +
                                  ": this handle is closed (use a clone that is still open)");
  }
  /// Delivers value (moving it) if that can be done now; false: it would block.
  bool try_send(T& value) {
    check_open("send");
    auto& st = *st_;
    if (st.open_receive == 0)
      throw broken_resource_error("trio::send_channel::send: every receive handle of this channel is closed");
    if (detail::chan_waiter<T>* w = st.receivers.pop_front()) {
      w->slot->emplace(std::move(value));  // straight to the first waiting receiver
      st.wake(*w);
      return true;
    }
    if (st.buffer.size() < st.max_buffer) {
      st.buffer_push(std::move(value));
      return true;
    }
    return false;
  }
};

/// The receiving end of a memory channel. Move-only; clone() for another receiver; destroying a
/// handle closes it. When every receiver is closed, senders get broken_resource_error and the buffer
/// is dropped.
///
///     while (auto v = co_await rx.next()) use(*v);   // ends when every sender is closed
///
/// The trap: receive() throws end_of_channel at the end; next() returns std::nullopt instead.
template <class T>
class receive_channel : public detail::channel_handle<T, receive_channel<T>> {
  using base = detail::channel_handle<T, receive_channel<T>>;
  using base::closed_;
  using base::id_;
  using base::st_;

 public:
  /// A new handle on a channel's state (open_memory_channel and clone() make them; users call those).
  explicit receive_channel(std::shared_ptr<detail::channel_state<T>> st) : base(std::move(st)) {
    auto lk = st_->lock();
    ++st_->open_receive;
  }
  receive_channel(receive_channel&&) noexcept = default;
  receive_channel& operator=(receive_channel&&) noexcept = default;
  ~receive_channel() { close(); }

  /// Receives the next value, waiting for one; end_of_channel once every sender is closed.
  auto receive() {
    if constexpr (detail::inline_payload_v<T>)
      return detail::receive_awaiter<T, receive_channel, true>(*this);
    else
      return receive_task();
  }
  /// Like receive(), but std::nullopt at the end of the channel: `while (auto v = co_await rx.next())`.
  auto next() {
    if constexpr (detail::inline_payload_v<T>)
      return detail::receive_awaiter<T, receive_channel, false>(*this);
    else
      return next_impl("next");
  }
  /// Receives without waiting, or throws would_block (end_of_channel at the end). Not a checkpoint.
  T receive_nowait() {
    std::optional<T> v;
    auto lk = st_->lock();
    if (!try_receive(v)) throw would_block("trio::receive_channel::receive_nowait: nothing to receive");
    if (!v) throw end_of_channel();
    return std::move(*v);
  }
  /// Another receiver on the same channel: receivers share the values, each value goes to one of them.
  /// The channel stays open for senders until every receiver is closed. On a closed handle:
  /// closed_resource_error.
  receive_channel clone() const {
    check_open("clone");
    return receive_channel(st_);
  }
  /// Closes this handle: tasks blocked receiving on it get closed_resource_error. Not a checkpoint.
  void close() noexcept {
    if (closed_ || !st_) return;
    closed_ = true;
    auto& st = *st_;
    auto lk = st.lock();
    st.wake_with(st.receivers, id_, detail::chan_error::receive_closed);
    if (--st.open_receive == 0) {
      st.wake_with(st.senders, 0, detail::chan_error::broken);
      st.buffer.clear();
    }
  }
  /// close(), then a checkpoint (the async-resource form; see close() for what it does).
  task<void> aclose() {
    close();
    co_await checkpoint();
  }
  using base::is_closed;
  using base::statistics;

 private:
  template <class, class, bool>
  friend class detail::receive_awaiter;

  task<T> receive_task() {
    std::optional<T> v = co_await next_impl("receive");
    if (!v) throw end_of_channel();
    co_return std::move(*v);
  }

  void check_open(const char* what) const {
    if (closed_)
      throw closed_resource_error(std::string("trio::receive_channel::") + what +
                                  ": this handle is closed (use a clone that is still open)");
  }
  /// true: done now (v holds the value, or is empty at end of channel); false: it would block.
  bool try_receive(std::optional<T>& v) {
    check_open("receive");
    auto& st = *st_;
    if (detail::chan_waiter<T>* w = st.senders.pop_front()) {
      st.buffer_push(std::move(*w->to_send));  // a blocked sender's value joins the queue
      st.wake(*w);
    }
    if (!st.buffer.empty()) {
      v.emplace(st.buffer.pop_front());
      return true;
    }
    return st.open_send == 0;  // at the end: done, with no value
  }
  task<std::optional<T>> next_impl(const char* what) {
    co_await checkpoint_if_cancelled();
    std::optional<T> v;
    std::unique_lock<std::mutex> lk = st_->lock();  // (a shared channel's: until the waiter is queued)
    if (try_receive(v)) {
      if (lk.owns_lock()) lk.unlock();
      if (v) co_await cancel_shielded_checkpoint();  // the end of channel is a cancel point only (Trio)
      co_return v;
    }
    co_await detail::chan_awaiter<T>(*st_, st_->receivers, id_, nullptr, &v, what, &lk);
    co_return v;
  }
};

/// A channel with a buffer of max_buffer values: 0 is a rendezvous, trio::unbounded never fills.
template <class T>
std::pair<send_channel<T>, receive_channel<T>> open_memory_channel(std::size_t max_buffer) {
  auto st = std::make_shared<detail::channel_state<T>>(max_buffer);
  return {send_channel<T>(st), receive_channel<T>(st)};
}

}  // namespace trio
