#pragma once
/// \file
/// open_signal_receiver: signals as values a task awaits, through a signalfd read on io_uring.

#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "trio/checkpoint.hpp"
#include "trio/detail/runner.hpp"
#include "trio/errors.hpp"
#include "trio/task.hpp"
#include "trio/wait_fd.hpp"

namespace trio {
namespace detail {

struct signal_receiver_state {
  runner* r = nullptr;
  sigset_t set{};
  sigset_t blocked_by_us{};  // the signals this receiver blocked (they were not blocked before)
  int fd = -1;
  bool took_sigint = false;
  bool busy = false;
  std::vector<int> pending;  // distinct signals, in arrival order (Trio's receiver is a set)

  /// Moves what the kernel has for us into `pending`.
  void drain() {
    signalfd_siginfo info;
    while (::read(fd, &info, sizeof info) == sizeof info) {
      const int sig = static_cast<int>(info.ssi_signo);
      bool seen = false;
      for (int p : pending) seen = seen || p == sig;
      if (!seen) pending.push_back(sig);
    }
  }

  ~signal_receiver_state() {
    drain();
    ::close(fd);
    if (took_sigint) r->give_back_sigint();
    ::pthread_sigmask(SIG_UNBLOCK, &blocked_by_us, nullptr);  // what was pending in the kernel arrives now
    for (int sig : pending) ::raise(sig);                     // and what we read but never delivered
  }
};

}  // namespace detail

/// Signals delivered to the program, as values: `co_await rx.next()` returns the next signal number.
/// Signals coalesce (a signal that arrives again before it was taken counts once) and come out in
/// arrival order, so a steady stream of one signal cannot starve another.
///
///     auto rx = trio::open_signal_receiver({SIGTERM, SIGHUP});
///     for (;;) { int sig = co_await rx.next(); if (sig == SIGTERM) break; reload_config(); }
///
/// The trap: the signals are blocked in the run's thread and read through a signalfd, so another
/// thread of the program that leaves them unblocked may receive them instead (to_thread's workers
/// block every signal). Destroying the receiver restores the mask and re-raises the signals it had
/// not delivered, to whatever handles them then.
class signal_receiver {
 public:
  /// A receiver over its state (open_signal_receiver makes them; users call that).
  explicit signal_receiver(std::unique_ptr<detail::signal_receiver_state> s) noexcept : s_(std::move(s)) {}
  signal_receiver(signal_receiver&&) noexcept = default;
  signal_receiver& operator=(signal_receiver&&) noexcept = default;

  /// The next signal; waits if none is pending. A checkpoint. Two tasks at once: busy_resource_error.
  task<int> next() {
    detail::signal_receiver_state& s = state("next");
    if (s.busy)
      throw busy_resource_error(
          "trio::signal_receiver::next: another task is already waiting on this receiver; one task reads "
          "a receiver");
    s.busy = true;
    struct unbusy {
      detail::signal_receiver_state& s;
      ~unbusy() { s.busy = false; }
    } guard{s};
    s.drain();
    if (s.pending.empty()) {
      do {
        co_await detail::wait_fd(s.fd, 0, "trio::signal_receiver::next");
        s.drain();
      } while (s.pending.empty());
    } else {
      co_await checkpoint();
    }
    const int sig = s.pending.front();
    s.pending.erase(s.pending.begin());
    co_return sig;
  }

  /// Signals received and not taken yet.
  std::size_t pending_count() {
    detail::signal_receiver_state& s = state("pending_count");
    s.drain();
    return s.pending.size();
  }

 private:
  detail::signal_receiver_state& state(const char* what) const {
    if (!s_)
      throw std::logic_error(std::string("trio::signal_receiver::") + what +
                             ": this receiver was moved from; use the one it was moved to");
    if (detail::t_runner != s_->r)
      throw std::logic_error(std::string("trio::signal_receiver::") + what +
                             ": called from a thread other than the run's that opened the receiver");
    return *s_;
  }

  std::unique_ptr<detail::signal_receiver_state> s_;
};

/// Starts receiving `signals` in the current run (see signal_receiver). No signals, an invalid signal
/// number, SIGKILL or SIGSTOP: std::invalid_argument. A receiver for SIGINT takes Ctrl-C over from
/// run_options::handle_sigint while it lives.
inline signal_receiver open_signal_receiver(std::initializer_list<int> signals) {
  detail::runner& r = detail::current_runner("trio::open_signal_receiver");
  if (signals.size() == 0)
    throw std::invalid_argument("trio::open_signal_receiver: no signals were given; name at least one, e.g. {SIGTERM}");
  auto s = std::make_unique<detail::signal_receiver_state>();
  s->r = &r;
  sigemptyset(&s->set);
  for (int sig : signals) {
    if (sig == SIGKILL || sig == SIGSTOP || sigaddset(&s->set, sig) != 0)
      throw std::invalid_argument("trio::open_signal_receiver: " + std::to_string(sig) +
                                  " is not a signal that can be received (SIGKILL and SIGSTOP cannot be)");
  }
  sigset_t before;
  ::pthread_sigmask(SIG_BLOCK, nullptr, &before);
  sigemptyset(&s->blocked_by_us);
  for (int sig = 1; sig < NSIG; ++sig)
    if (sigismember(&s->set, sig) == 1 && sigismember(&before, sig) != 1) sigaddset(&s->blocked_by_us, sig);
  s->fd = ::signalfd(-1, &s->set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (s->fd < 0) throw std::system_error(errno, std::system_category(), "trio::open_signal_receiver: signalfd failed");
  ::pthread_sigmask(SIG_BLOCK, &s->set, nullptr);
  if (sigismember(&s->set, SIGINT) == 1) s->took_sigint = r.take_sigint();
  return signal_receiver(std::move(s));
}

}  // namespace trio
