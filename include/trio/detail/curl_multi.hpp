#pragma once
/// \file
/// detail::curl_multi: one libcurl multi handle driven by the trio loop (the trio::http component).
///
/// The contract (../shared/notes/tls-and-http.md §3.4), kept here:
///  - curl's callbacks only record: the socket callback puts curl's interest per socket into an
///    epoll set (epoll_ctl), the timer callback a deadline. No curl call and no task wake-up happens
///    inside a callback.
///  - One driver task (in the run's system nursery, alive while transfers are) waits until the epoll
///    set is readable (one io_uring poll, the one every lowlevel::wait_readable uses), or curl's
///    deadline passes, or a task pokes it (a transfer added, removed or unpaused); then it takes every
///    ready socket from epoll_wait at once, calls socket_action for each and for the timer, and reads
///    the finished transfers. Level-triggered epoll needs no re-arming; a REMOVE, or curl closing a
///    socket (CURLOPT_CLOSESOCKETFUNCTION, which also covers the REMOVEs curl forgets), takes the
///    socket out of the set at once, so nothing stale can fire for a reused fd number.
///  - A transfer whose task stops waiting (cancelled) is removed from the multi by that task, outside
///    any callback; curl sends no DONE for it, and nothing touches the task's frame afterwards.
///
/// Decision (against DESIGN's "one io_uring poll per curl socket"): the first version armed one
/// poll per socket and event in a watcher task; with 50 transfers in flight that cost ~7 µs per
/// request more than a bare curl loop. One epoll set, itself polled on the ring, batches them.

#include <curl/curl.h>

#include <sys/epoll.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "trio/errors.hpp"
#include "trio/event.hpp"
#include "trio/nursery.hpp"
#include "trio/parking_lot.hpp"
#include "trio/sleep.hpp"
#include "trio/timeouts.hpp"
#include "trio/wait_fd.hpp"

namespace trio::detail {

/// One request in flight: what curl's write and header callbacks fill, and the event its task waits on.
struct curl_transfer {
  CURL* easy = nullptr;
  CURLcode result = CURLE_OK;
  bool added = false;  // in the multi
  bool done = false;   // curl reported DONE (result is set)
  event finished;
  char error_text[CURL_ERROR_SIZE] = {};
  // Filled by the callbacks:
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // of the last response
  int status = 0;
  std::string reason;
  struct hop {
    int status;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  std::vector<hop> earlier;  // responses before the last one (redirects, 100 Continue skipped)
  // Streaming (body as a receive stream): a bounded buffer, curl paused while it is full.
  bool streaming = false;
  std::size_t max_buffer = 256 * 1024;
  std::size_t body_read = 0;  // streaming: bytes of body already handed out
  bool paused = false;
  event headers_ready;       // streaming: set at the end of the final header block (or at DONE)
  parking_lot body_waiters;  // streaming: the reader waits here for data or the end
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
    for (CURL* e : spare_easies_) curl_easy_cleanup(e);
    ::close(epfd_);
  }

  CURLM* native() const noexcept { return m_; }

  /// An easy handle, reset, from the spares (or new), with the options every transfer has.
  CURL* take_easy() {
    CURL* e = nullptr;
    if (!spare_easies_.empty()) {
      e = spare_easies_.back();
      spare_easies_.pop_back();
      curl_easy_reset(e);
    } else {
      e = curl_easy_init();
      if (!e) throw std::runtime_error("trio::http: curl_easy_init failed");
    }
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);  // never join a resolver thread on removal
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &curl_multi::on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
    return e;
  }
  void give_back_easy(CURL* e) noexcept {
    if (spare_easies_.size() < 64) {
      spare_easies_.push_back(e);
    } else {
      curl_easy_cleanup(e);
    }
  }

  /// Adds the transfer (from its task), starting the driver if it is not running.
  void add(curl_transfer& t) {
    curl_easy_setopt(t.easy, CURLOPT_PRIVATE, &t);
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

  /// Takes the transfer out (from its task; also when it was cancelled mid-way). Idempotent.
  void remove(curl_transfer& t) noexcept {
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
    curl_easy_pause(t.easy, CURLPAUSE_CONT);
    poke();
  }

 private:
  static void global_init() {
    static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
      throw std::runtime_error(std::string("trio::http: curl_global_init failed: ") + curl_easy_strerror(rc));
  }

  static int on_socket(CURL*, curl_socket_t fd, int what, void* self, void* known) {
    auto* m = static_cast<curl_multi*>(self);
    if (what == CURL_POLL_REMOVE) {
      ::epoll_ctl(m->epfd_, EPOLL_CTL_DEL, fd, nullptr);  // (fails harmlessly if already out)
      curl_multi_assign(m->m_, fd, nullptr);
      return 0;
    }
    epoll_event ev{};
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    if (known) {
      ::epoll_ctl(m->epfd_, EPOLL_CTL_MOD, fd, &ev);
    } else if (::epoll_ctl(m->epfd_, EPOLL_CTL_ADD, fd, &ev) != 0 && errno == EEXIST) {
      ::epoll_ctl(m->epfd_, EPOLL_CTL_MOD, fd, &ev);
    }
    curl_multi_assign(m->m_, fd, m);  // any non-null pointer: "in the set"
    return 0;
  }
  static int on_timer(CURLM*, long timeout_ms, void* self) {
    auto* m = static_cast<curl_multi*>(self);
    if (timeout_ms < 0) {
      m->timer_.reset();
    } else {
      m->timer_ = current_time() + std::chrono::milliseconds(timeout_ms);
    }
    return 0;
  }
  static int on_close_socket(void* self, curl_socket_t fd) {
    auto* m = static_cast<curl_multi*>(self);
    ::epoll_ctl(m->epfd_, EPOLL_CTL_DEL, fd, nullptr);
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
        const int mask = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                         (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                         (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(m_, evs[i].data.fd, mask, &running);
      }
    }
    if (timer_ && current_time() >= *timer_) {
      timer_.reset();  // curl may set a new one inside the call
      curl_multi_socket_action(m_, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(m_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      curl_transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      if (!t || t->done) continue;
      t->result = msg->data.result;
      t->done = true;
      --active_;
      t->headers_ready.set();
      t->finished.set();
      t->body_waiters.unpark_all();
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
  static task<void> drive(std::shared_ptr<curl_multi> m) {
    auto wait = [&m](cancel_scope& scope) -> task<void> { co_await m->wait_for_work(scope); };
    while (m->active_ > 0) {
      if (!(m->timer_ && current_time() >= *m->timer_))
        co_await move_on_at(m->timer_ ? *m->timer_ : current_time() + std::chrono::hours(24), wait);
      m->process();
    }
    m->driving_ = false;
  }

  CURLM* m_;
  int epfd_ = -1;
  std::optional<time_point> timer_;
  cancel_scope* waiting_ = nullptr;  // the driver's wait, while it waits
  std::size_t active_ = 0;
  bool driving_ = false;
  std::vector<CURL*> spare_easies_;
};

}  // namespace trio::detail
