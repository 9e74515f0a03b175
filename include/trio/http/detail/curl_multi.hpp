#pragma once
/// \file
/// detail::curl_multi: one libcurl multi handle driven by the trio loop (the trio::http component).
///
/// The contract, kept here:
///  - curl's callbacks only record: the socket callback puts curl's interest per socket into an
///    epoll set (epoll_ctl), the timer callback a deadline. No curl call and no task wake-up happens
///    inside a callback.
///  - One driver task (in the run's system nursery, alive while transfers are) waits until the epoll
///    set is readable (one io_uring poll, the one every lowlevel::wait_readable uses), or curl's
///    deadline passes, or a task pokes it (a transfer added, removed or unpaused); then it takes every
///    ready socket from epoll_wait at once, calls socket_action for each and for the timer, and reads
///    the finished transfers. Level-triggered epoll needs no re-arming. Connection sockets are opened
///    and closed through our callbacks (CURLOPT_OPENSOCKETFUNCTION, CURLOPT_CLOSESOCKETFUNCTION, which
///    also covers the REMOVEs curl forgets), so their registration can be kept across a REMOVE (see
///    fd_state) and still leaves the set when the socket closes: nothing stale can fire for a reused
///    fd number.
///  - A transfer whose task stops waiting (cancelled) is removed from the multi by that task, outside
///    any callback; curl sends no DONE for it, and nothing touches the task's frame afterwards.
///
/// Decision: one epoll set per client, itself polled on the ring, rather than one io_uring poll per
/// curl socket and event. Per-socket polls armed by a watcher task measured ~7 µs per request more
/// than a bare curl loop with 50 transfers in flight; the epoll set batches them.

#include <curl/curl.h>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "trio/checkpoint.hpp"
#include "trio/errors.hpp"
#include "trio/event.hpp"
#include "trio/http/detail/zlib_inflate.hpp"
#include "trio/nursery.hpp"
#include "trio/parking_lot.hpp"
#include "trio/sleep.hpp"
#include "trio/timeouts.hpp"
#include "trio/wait_fd.hpp"

namespace trio::detail {

class curl_multi;

/// One request in flight: what curl's write and header callbacks fill, and the event its task waits on.
struct curl_transfer {
  CURL* easy = nullptr;
  curl_multi* owner = nullptr;  // the multi it was added to
  std::uint64_t id = 0;         // this multi's count of transfers, when it was added (debug output names it)
  CURLcode result = CURLE_OK;
  bool added = false;  // in the multi
  bool done = false;   // curl reported DONE (result is set)
  event finished;
  char error_text[CURL_ERROR_SIZE] = {};
  // The response being received, filled by the callbacks:
  int status = 0;
  std::string reason;
  std::string head;  // its header lines, "name:value\n" each (the buffer travels with the easy handle)
  std::size_t head_lines = 0;
  // The body. Not streaming: the head's lines are copied in front of it at its first byte (one
  // allocation, sized by Content-Length), so a response owns one buffer; head_size says where the
  // body begins (npos: not copied yet). Streaming: the body only, read from body_read on.
  std::string body;
  std::size_t head_size = std::string::npos;
  struct hop {
    int status;
    std::string reason;
    std::string head;
    std::size_t head_lines;
  };
  std::vector<hop> earlier;  // responses before the last one (redirects; 1xx interim ones are skipped)
  // What the callbacks refused (they return 0 then: curl ends the transfer with CURLE_WRITE_ERROR).
  std::size_t max_body = SIZE_MAX;      // not streaming: decoded body bytes that may be kept
  bool too_large = false;               // the body (or its Content-Length) went over max_body
  std::string violation;                // the server broke HTTP in a way curl accepts (e.g. two lengths)
  std::optional<std::uint64_t> length;  // the current response's Content-Length, once seen
  // Not streaming: a gzip or deflate body is decoded as it arrives (curl is given the raw bytes:
  // libcurl 7.88 decodes a whole read at once, whatever it expands to, see detail::inflater).
  std::unique_ptr<inflater> decoder;
  // Fairness: the body bytes this transfer took in the driver's current turn. Over turn_budget, the
  // transfer is paused until the next turn (curl would otherwise read a fast body for seconds in one
  // socket_action).
  std::uint64_t turn = 0;
  std::size_t turn_bytes = 0;
  bool budget_paused = false;
  // Streaming (body as a receive stream): a bounded buffer, curl paused while it is full.
  bool streaming = false;
  std::size_t max_buffer = 256 * 1024;
  std::size_t body_read = 0;  // streaming: bytes of body already handed out
  bool paused = false;
  bool redelivering = false;  // inside curl_easy_pause(CONT): what curl held back is taken whole
  event headers_ready;        // streaming: set at the end of the final header block (or at DONE)
  parking_lot body_waiters;   // streaming: the reader waits here for data or the end
};

class curl_multi : public std::enable_shared_from_this<curl_multi> {
 public:
  curl_multi() : m_((global_init(), curl_multi_init())) {
    if (!m_) throw std::runtime_error("trio::http: curl_multi_init failed");
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) {
      curl_multi_cleanup(m_);
      throw std::system_error(errno, std::system_category(), "trio::http: epoll_create1");
    }
    curl_multi_setopt(m_, CURLMOPT_SOCKETFUNCTION, &curl_multi::on_socket);
    curl_multi_setopt(m_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(m_, CURLMOPT_TIMERFUNCTION, &curl_multi::on_timer);
    curl_multi_setopt(m_, CURLMOPT_TIMERDATA, this);
  }
  curl_multi(const curl_multi&) = delete;
  curl_multi& operator=(const curl_multi&) = delete;
  ~curl_multi() {
    // Every transfer has been removed by its task; what is left are pooled connections, which the
    // cleanup closes through the close-socket callback (no watcher is alive: the driver has ended).
    curl_multi_setopt(m_, CURLMOPT_SOCKETFUNCTION, nullptr);
    curl_multi_setopt(m_, CURLMOPT_TIMERFUNCTION, nullptr);
    curl_multi_cleanup(m_);
    for (spare& s : spare_easies_) curl_easy_cleanup(s.easy);
    ::close(epfd_);
  }

  CURLM* native() const noexcept { return m_; }

  /// The driver's safety net (see drive): this often while transfers are in flight, curl is told
  /// that every socket it waits to read is readable. (A variable, for diagnosis: tests can turn the
  /// net off to see what it hides.)
  static inline duration rescue_interval = std::chrono::milliseconds(250);

  /// Receives curl's verbose output, a line at a time, "[#id] " and curl -v's prefix in front ("* "
  /// information, "> " / "< " headers out and in). Set before the first transfer; empty: quiet.
  std::function<void(std::string_view)> debug;

  /// An easy handle from the spares (as the last transfer left it: the caller sets every per-request
  /// option again), or a new one with the options every transfer has (fresh: the caller adds the
  /// client's own). Not reset between transfers: curl_easy_reset and setting a dozen constant options
  /// again cost more than the per-request ones. The spare's header buffer comes with it.
  struct easy_handle {
    CURL* easy;
    bool fresh;
  };
  easy_handle take_easy(std::string& head_buffer) {
    if (!spare_easies_.empty()) {
      spare& s = spare_easies_.back();
      const easy_handle h{s.easy, false};
      head_buffer = std::move(s.head_buffer);
      head_buffer.clear();
      spare_easies_.pop_back();
      return h;
    }
    CURL* e = curl_easy_init();
    if (!e) throw std::runtime_error("trio::http: curl_easy_init failed");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);  // never join a resolver thread on removal
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &curl_multi::on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, this);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &curl_multi::on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
    if (debug) {
      curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, &curl_multi::on_debug);
      curl_easy_setopt(e, CURLOPT_DEBUGDATA, this);
      curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
    }
    return {e, true};
  }
  void give_back_easy(CURL* e, std::string&& head_buffer) noexcept {
    if (spare_easies_.size() < 64) {
      if (head_buffer.capacity() > 64 * 1024) head_buffer = std::string();
      spare_easies_.push_back(spare{e, std::move(head_buffer)});
    } else {
      curl_easy_cleanup(e);
    }
  }

  /// Adds the transfer (from its task), starting the driver if it is not running.
  void add(curl_transfer& t) {
    curl_easy_setopt(t.easy, CURLOPT_PRIVATE, &t);
    t.id = ++transfers_;
    t.owner = this;
    budget_paused_.reserve(active_ + 1);
    resuming_.reserve(active_ + 1);
    const CURLMcode rc = curl_multi_add_handle(m_, t.easy);
    if (rc != CURLM_OK)
      throw std::runtime_error(std::string("trio::http: curl_multi_add_handle failed: ") + curl_multi_strerror(rc));
    t.added = true;
    ++active_;
    if (!driving_) {
      driving_ = true;
      lowlevel::spawn_system_task(&curl_multi::drive, shared_from_this());
    }
    poke();
  }

  /// The body bytes one transfer may take in one turn of the driver before it waits for the next.
  static constexpr std::size_t turn_budget = std::size_t(2) << 20;
  /// Whether t has used its budget for this turn (the write callback adds what it took to
  /// t.turn_bytes); if so it is held back until the next turn (its write callback then returns
  /// CURL_WRITEFUNC_PAUSE).
  bool over_budget(curl_transfer& t) noexcept {
    if (t.turn != turn_) {
      t.turn = turn_;
      t.turn_bytes = 0;
    }
    if (t.turn_bytes >= turn_budget) {
      if (!t.budget_paused) {
        t.budget_paused = true;
        budget_paused_.push_back(&t);  // (reserved in add: cannot throw)
      }
      return true;
    }
    return false;
  }

  /// Takes the transfer out (from its task; also when it was cancelled mid-way). Idempotent.
  void remove(curl_transfer& t) noexcept {
    if (t.budget_paused) {
      std::erase(budget_paused_, &t);
      t.budget_paused = false;
    }
    if (!t.added) return;
    t.added = false;
    curl_multi_remove_handle(m_, t.easy);
    if (!t.done) --active_;
    poke();
  }

  /// Resumes a paused streaming transfer (from the reading task). curl may deliver the held chunk
  /// at once (the write callback accepts it then) and sets a 0 timer.
  void unpause(curl_transfer& t) {
    if (!t.paused || !t.added) return;
    t.paused = false;
    // curl delivers what it held back (the rest of the decoded output of the read that paused it:
    // up to ~16 MiB for a deflate stream of one 16 KiB read) in 16 KiB calls, here and now; a
    // pause during that delivery would make it copy the remainder again for each pause (quadratic:
    // a compressed stream ran at 3 MiB/s). So it is taken whole: a stream holds at most max_buffer
    // plus one read's decoded output.
    t.redelivering = true;
    const CURLcode rc = curl_easy_pause(t.easy, CURLPAUSE_CONT);
    t.redelivering = false;
    if (rc != CURLE_OK) finish(t, rc);
    poke();
  }

  /// The transfer has ended with `rc`: its task may take the outcome.
  void finish(curl_transfer& t, CURLcode rc) noexcept {
    if (t.done) return;
    t.result = rc;
    t.done = true;
    --active_;
    t.headers_ready.set();
    t.finished.set();
    t.body_waiters.unpark_all();
  }

 private:
  static void global_init() {
    static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
      throw std::runtime_error(std::string("trio::http: curl_global_init failed: ") + curl_easy_strerror(rc));
  }

  /// The epoll registration of one fd curl uses. For connection sockets (opened by on_open_socket,
  /// closed by on_close_socket) it is kept lazily: when curl stops watching one (CURL_POLL_REMOVE, as
  /// for every keep-alive connection going back to the pool after each response) it stays in the
  /// set, and is narrowed only if it fires; when curl watches it again for the same events, nothing
  /// is done. That saves two epoll_ctl calls per keep-alive request. Other fds (the threaded
  /// resolver's socketpair) may be closed by curl without our callback, so they are added and
  /// removed eagerly, as curl says.
  struct fd_state {
    std::uint8_t registered = 0;  // EPOLLIN | EPOLLOUT in the kernel's set
    std::uint8_t wanted = 0;      // what curl wants now
    bool ours = false;            // opened by on_open_socket, closed by on_close_socket
  };
  fd_state* state_of(int fd) noexcept {
    return fd >= 0 && static_cast<std::size_t>(fd) < fds_.size() ? &fds_[static_cast<std::size_t>(fd)] : nullptr;
  }
  fd_state& state_for(int fd) {
    if (static_cast<std::size_t>(fd) >= fds_.size()) fds_.resize(static_cast<std::size_t>(fd) + 1);
    return fds_[static_cast<std::size_t>(fd)];
  }
  /// Makes the kernel's registration of fd `events` (0: out of the set).
  void watch(int fd, fd_state& st, std::uint8_t events) noexcept {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (events == 0) {
      ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);  // (fails harmlessly if already out)
    } else if (st.registered == 0) {
      if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0 && errno == EEXIST)
        ::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
    } else if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT) {
      ::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
    }
    st.registered = events;
  }

  static int on_socket(CURL*, curl_socket_t fd, int what, void* self, void*) {
    auto* m = static_cast<curl_multi*>(self);
    fd_state& st = m->state_for(fd);
    if (what == CURL_POLL_REMOVE) {
      st.wanted = 0;
      if (!st.ours) m->watch(fd, st, 0);
      return 0;
    }
    st.wanted =
        static_cast<std::uint8_t>((what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u));
    if (!st.ours || st.registered != st.wanted) m->watch(fd, st, st.wanted);
    return 0;
  }
  static int on_debug(CURL* easy, curl_infotype type, char* data, std::size_t size, void* self) {
    const char* prefix = type == CURLINFO_TEXT         ? "* "
                         : type == CURLINFO_HEADER_IN  ? "< "
                         : type == CURLINFO_HEADER_OUT ? "> "
                                                       : nullptr;
    if (!prefix) return 0;  // (data, TLS records: not text)
    curl_transfer* t = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
    std::string_view text(data, size);
    try {
      while (!text.empty()) {
        std::size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        static_cast<curl_multi*>(self)->debug("[#" + std::to_string(t ? t->id : 0) + "] " + prefix + std::string(line));
      }
    } catch (...) {  // (a callback must not throw through curl)
    }
    return 0;
  }
  static int on_timer(CURLM*, long timeout_ms, void* self) {
    static_cast<curl_multi*>(self)->set_timer(timeout_ms);
    return 0;
  }
  /// curl's timer, from a timeout in ms as curl gives it: truncated (5.7 ms left is 5), so 1 ms is
  /// added to a positive one. A timer that fired early would make curl find nothing due, and curl
  /// does not announce the same expiry twice: the timer would be lost, and with it every transfer
  /// that waited on it.
  void set_timer(long timeout_ms) noexcept {
    if (timeout_ms < 0) {
      timer_.reset();
    } else {
      timer_ = current_time() + std::chrono::milliseconds(timeout_ms > 0 ? timeout_ms + 1 : 0);
    }
  }
  static curl_socket_t on_open_socket(void* self, curlsocktype, curl_sockaddr* address) {
    auto* m = static_cast<curl_multi*>(self);
    const int fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd < 0) return CURL_SOCKET_BAD;
    try {
      fd_state& st = m->state_for(fd);
      if (st.registered) m->watch(fd, st, 0);  // a number some closed fd left in the table
      st = fd_state{0, 0, true};
    } catch (...) {
      ::close(fd);
      return CURL_SOCKET_BAD;
    }
    return fd;
  }
  static int on_close_socket(void* self, curl_socket_t fd) {
    auto* m = static_cast<curl_multi*>(self);
    if (fd_state* st = m->state_of(fd)) {
      if (st->registered) m->watch(fd, *st, 0);
      *st = fd_state{};
    } else {
      ::epoll_ctl(m->epfd_, EPOLL_CTL_DEL, fd, nullptr);
    }
    return ::close(fd);
  }

  /// Wakes the driver if it waits (a transfer was added, removed or unpaused by another task).
  void poke() noexcept {
    if (waiting_) waiting_->cancel();
  }

  /// socket_action for every ready socket and for the timer; then the finished transfers.
  void process() {
    int running = 0;
    epoll_event evs[64];
    for (int n = 64; n == 64;) {
      n = ::epoll_wait(epfd_, evs, 64, 0);
      for (int i = 0; i < n; ++i) {
        const int fd = evs[i].data.fd;
        std::uint32_t ready = evs[i].events;
        if (fd_state* st = state_of(fd); st && st->ours) {
          // Registered for more than curl wants now (lazily kept, see on_socket): narrow it, so an
          // idle pooled connection or an always-writable socket does not wake the driver again.
          if (ready & st->registered & ~std::uint32_t(st->wanted)) watch(fd, *st, st->wanted);
          if (st->wanted == 0) continue;  // idle in curl's pool: curl checks it before reuse
          ready &= st->wanted | EPOLLERR | EPOLLHUP;
        }
        const int mask = (ready & EPOLLIN ? CURL_CSELECT_IN : 0) | (ready & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                         (ready & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(m_, fd, mask, &running);
      }
    }
    if (timer_ && current_time() >= *timer_) {
      timer_.reset();  // curl may set a new one inside the call
      curl_multi_socket_action(m_, CURL_SOCKET_TIMEOUT, 0, &running);
      // ... or not: it calls the timer callback only when its earliest expiry changed. Ask it, so a
      // timer is never dropped while curl still counts on it (this was the HTTP/2 stall: streams
      // whose data curl had read while serving another stream waited on an expiry nobody kept).
      long ms = -1;
      if (curl_multi_timeout(m_, &ms) == CURLM_OK) set_timer(ms);
    }
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(m_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      curl_transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      if (t) finish(*t, msg->data.result);
    }
  }

  /// Waits for the epoll set, curl's deadline or a poke.
  task<void> wait_for_work(cancel_scope& scope) {
    waiting_ = &scope;
    struct not_waiting {
      curl_multi* m;
      ~not_waiting() { m->waiting_ = nullptr; }
    } done{this};
    co_await lowlevel::wait_readable(epfd_);
  }

  /// The driver: runs while transfers are in flight.
  ///
  /// A safety net for libcurl 7.88: every rescue_interval while transfers are in flight, each socket
  /// curl waits to read gets a socket_action saying it is readable. curl's event-driven path can
  /// leave received bytes inside the TLS layer (read from the socket with a record or more behind
  /// them) while it waits for the socket to become readable again, which it never does: seen as HTTP/2
  /// streams whose headers arrived and whose body never did, until the read timeout (5 to 7 rounds in
  /// 60 of 20 streams each against nghttpd on a loaded machine; curl's own timers ran the transfer
  /// every second meanwhile and found nothing; an empty event mask, "find out yourself", found
  /// nothing either, since curl then polls the socket). With the net: 0 in 100 rounds. (Later libcurl
  /// releases run a transfer whose connection filters hold pending input at once.) A read attempt on
  /// a socket with nothing to read costs curl one EAGAIN.
  ///
  /// Fairness: every turn of the driver goes back to the loop at least once (the wait, or a
  /// checkpoint when curl's timer is already due: libcurl re-arms a 0 ms timer after each bounded
  /// read of a fast body, and a driver that skipped its wait then would never let another task or a
  /// deadline run). What one turn hands to curl is bounded: at most 64 ready sockets, each read by
  /// curl a bounded number of times, into buffers that are themselves bounded (a streamed body
  /// pauses its transfer; a buffered one stops at max_response_size).
  static task<void> drive(std::shared_ptr<curl_multi> m) {
    auto wait = [&m](cancel_scope& scope) -> task<void> { co_await m->wait_for_work(scope); };
    time_point next_rescue = current_time() + rescue_interval;
    while (m->active_ > 0) {
      if ((m->timer_ && current_time() >= *m->timer_) || !m->budget_paused_.empty()) {
        co_await checkpoint();  // (curl has work now: other tasks first)
      } else {
        co_await move_on_at(m->timer_ ? std::min(*m->timer_, next_rescue) : next_rescue, wait);
      }
      ++m->turn_;
      m->resume_budget_paused();
      m->process();
      if (m->active_ > 0 && current_time() >= next_rescue) {
        m->rescue();
        next_rescue = current_time() + rescue_interval;
      }
    }
    m->driving_ = false;
  }

  /// Resumes the transfers held back by their budget in the last turn. curl hands the held chunk
  /// over at once (it counts against the new turn's budget).
  void resume_budget_paused() {
    if (budget_paused_.empty()) return;
    resuming_.swap(budget_paused_);  // (a transfer may be held back again while it resumes)
    for (curl_transfer* t : resuming_) {
      t->budget_paused = false;
      if (!t->added) continue;
      // curl hands the held chunk to the write callback inside this call. If the callback refuses
      // it (the body went over max_response_size), libcurl 7.88 only returns the error from here:
      // the transfer stays in the multi with no socket and no timer, and would never end. It ends
      // here instead.
      if (const CURLcode rc = curl_easy_pause(t->easy, CURLPAUSE_CONT); rc != CURLE_OK) finish(*t, rc);
    }
    resuming_.clear();
  }

  /// socket_action(fd, readable) for every socket curl waits to read (see drive), then the rest.
  void rescue() {
    int running = 0;
    for (std::size_t fd = 0; fd < fds_.size(); ++fd)
      if (fds_[fd].wanted & EPOLLIN)
        curl_multi_socket_action(m_, static_cast<curl_socket_t>(fd), CURL_CSELECT_IN, &running);
    process();
  }

  CURLM* m_;
  int epfd_ = -1;
  std::optional<time_point> timer_;
  cancel_scope* waiting_ = nullptr;  // the driver's wait, while it waits
  std::size_t active_ = 0;
  std::uint64_t transfers_ = 0;
  std::uint64_t turn_ = 0;                     // the driver's turns (see turn_budget)
  std::vector<curl_transfer*> budget_paused_;  // held back until the next turn
  std::vector<curl_transfer*> resuming_;       // (resume_budget_paused's list)
  bool driving_ = false;
  struct spare {
    CURL* easy;
    std::string head_buffer;
  };
  std::vector<spare> spare_easies_;
  std::vector<fd_state> fds_;  // by fd number
};

}  // namespace trio::detail
