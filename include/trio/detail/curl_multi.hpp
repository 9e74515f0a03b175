#pragma once
/// \file
/// detail::curl_multi: one libcurl multi handle driven by the trio loop (the trio::http component).
///
/// The contract (../shared/notes/tls-and-http.md §3.4), kept here:
///  - curl's callbacks only record: the socket callback the interest per fd, the timer callback a
///    deadline. No curl call and no task wake-up happens inside a callback.
///  - One driver task (in the run's system nursery, alive while transfers are) waits for the readiness
///    of curl's sockets through one-shot watcher tasks (lowlevel::wait_readable/wait_writable, the
///    io_uring poll every other wait uses) and for curl's deadline, then calls socket_action and
///    reads the finished transfers. A watcher is re-armed after each event while curl still wants it.
///  - REMOVE, an interest change and curl closing a socket cancel the in-flight polls on that fd
///    (notify_closing), so the ring never pins a socket curl has let go.
///  - A transfer whose task stops waiting (cancelled) is removed from the multi by that task, outside
///    any callback; curl sends no DONE for it, and nothing touches the task's frame afterwards.

#include <curl/curl.h>

#include <unistd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "trio/detail/uring_op.hpp"
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
  bool keep_earlier = false;
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
    closing_down_ = true;
    curl_multi_cleanup(m_);
    for (CURL* e : spare_easies_) curl_easy_cleanup(e);
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

  struct fd_watch {
    int interest = 0;  // CURL_POLL_IN / OUT bits
    bool running[2] = {false, false};
    bool cancel = false;  // the interest shrank or the fd goes: end the watchers, then re-arm
  };

  static int on_socket(CURL*, curl_socket_t fd, int what, void* self, void*) {
    auto* m = static_cast<curl_multi*>(self);
    if (what == CURL_POLL_REMOVE) {
      auto it = m->fds_.find(fd);
      if (it != m->fds_.end()) {
        it->second.interest = 0;
        it->second.cancel = true;
      }
    } else {
      fd_watch& w = m->fds_[fd];
      const int interest = (what == CURL_POLL_IN ? 1 : what == CURL_POLL_OUT ? 2 : 3);
      if ((w.interest & ~interest) != 0) w.cancel = true;
      w.interest = interest;
    }
    m->changed_ = true;
    return 0;
  }
  static int on_timer(CURLM*, long timeout_ms, void* self) {
    auto* m = static_cast<curl_multi*>(self);
    if (timeout_ms < 0) {
      m->timer_.reset();
    } else {
      m->timer_ = current_time() + std::chrono::milliseconds(timeout_ms);
    }
    m->changed_ = true;
    return 0;
  }
  static int on_close_socket(void* self, curl_socket_t fd) {
    auto* m = static_cast<curl_multi*>(self);
    if (!m->closing_down_) {
      auto it = m->fds_.find(fd);
      if (it != m->fds_.end()) {
        if ((it->second.running[0] || it->second.running[1]) && t_runner) notify_closing_fd(*t_runner, fd);
        it->second.interest = 0;
        it->second.cancel = true;
        m->changed_ = true;
      }
    }
    return ::close(fd);
  }

  void poke() noexcept { wake_.unpark_all(); }

  /// The watcher of one fd and direction: one poll; then it tells the driver.
  static task<void> watch(std::shared_ptr<curl_multi> m, int fd, int dir) {
    struct not_running {  // also when the driver cancels the watchers
      curl_multi* m;
      int fd, dir;
      ~not_running() {
        auto it = m->fds_.find(fd);
        if (it != m->fds_.end()) it->second.running[dir] = false;
      }
    } done{m.get(), fd, dir};
    bool ready = true;
    try {
      co_await detail::wait_fd(fd, dir);
    } catch (const closed_resource_error&) {  // cancelled by us (REMOVE, interest change, close)
      ready = false;
    } catch (const std::system_error&) {  // the fd went away under the poll: curl will tell
      ready = false;
    }
    if (ready) m->ready_.emplace_back(fd, dir == 0 ? CURL_CSELECT_IN : CURL_CSELECT_OUT);
    m->poke();
  }

  /// Starts and ends watchers to match curl's interest.
  void sync_watchers(nursery& n) {
    for (auto it = fds_.begin(); it != fds_.end();) {
      fd_watch& w = it->second;
      const int fd = it->first;
      if (w.cancel) {
        if ((w.running[0] || w.running[1]) && t_runner) notify_closing_fd(*t_runner, fd);
        if (w.running[0] || w.running[1]) {  // wait for them to end, then re-arm
          ++it;
          continue;
        }
        w.cancel = false;
      }
      if (w.interest == 0 && !w.running[0] && !w.running[1]) {
        it = fds_.erase(it);
        continue;
      }
      for (int dir = 0; dir < 2; ++dir) {
        if ((w.interest & (1 << dir)) && !w.running[dir]) {
          w.running[dir] = true;
          n.start_soon(&curl_multi::watch, shared_from_this(), fd, dir);
        }
      }
      ++it;
    }
  }

  /// socket_action for what is ready and for the timer; then the finished transfers.
  void process() {
    int running = 0;
    auto ready = std::move(ready_);
    ready_.clear();
    for (auto [fd, mask] : ready) curl_multi_socket_action(m_, fd, mask, &running);
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

  /// The driver: runs while transfers are in flight.
  static task<void> drive(std::shared_ptr<curl_multi> m) {
    auto loop = [&m](nursery& n) -> task<> {
      while (m->active_ > 0) {
        m->changed_ = false;
        m->sync_watchers(n);
        if (m->ready_.empty() && !m->changed_ && !(m->timer_ && current_time() >= *m->timer_)) {
          if (m->timer_) {
            co_await move_on_at(*m->timer_, m->park_body_);
          } else {
            co_await m->wake_.park();
          }
        }
        m->process();
      }
      n.cancel_scope().cancel();  // the watchers still armed (idle pooled connections)
    };
    // Requests added while the watchers were being cancelled found driving_ still set: go on.
    do {
      co_await open_nursery(loop);
    } while (m->active_ > 0);
    m->driving_ = false;
  }

  CURLM* m_;
  std::unordered_map<int, fd_watch> fds_;
  std::vector<std::pair<int, int>> ready_;
  std::optional<time_point> timer_;
  parking_lot wake_;
  std::function<task<void>()> park_body_ = [this]() -> task<void> { co_await wake_.park(); };
  std::size_t active_ = 0;
  bool driving_ = false;
  bool changed_ = false;
  bool closing_down_ = false;
  std::vector<CURL*> spare_easies_;
};

}  // namespace trio::detail
