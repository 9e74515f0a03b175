#pragma once
// Shared by the tests: an event log that asserts order, and a few small helpers.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <trio/testing.hpp>
#include <trio/testing/catch2.hpp>
#include <trio/trio.hpp>

using namespace std::chrono_literals;

namespace test {

/// Seconds of virtual time since the start of the run (the mock clock starts at 0).
inline double now_s() { return std::chrono::duration<double>(trio::current_time().time_since_epoch()).count(); }

struct event_log {
  std::vector<std::string> entries;
  void operator()(std::string s) { entries.push_back(std::move(s)); }
};

/// Runs `fn` under a mock clock. Options let a test turn autojump off or pick a fixed schedule.
template <class F>
auto run_mock(F&& fn, bool autojump = true, bool randomize = true) {
  trio::testing::mock_clock clk;
  if (autojump) clk.set_autojump_threshold(trio::duration::zero());
  trio::run_options o;
  o.clock = &clk;
  o.handle_sigint = false;
  o.randomize_schedule = randomize;
  return trio::run(o, std::forward<F>(fn));
}

/// Captures what the process writes to stderr (fd 2) while it lives; text() ends the capture.
class stderr_capture {
 public:
  stderr_capture() : file_(std::tmpfile()) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    ::dup2(::fileno(file_), 2);
  }
  stderr_capture(const stderr_capture&) = delete;
  stderr_capture& operator=(const stderr_capture&) = delete;
  ~stderr_capture() {
    stop();
    std::fclose(file_);
  }
  /// What was captured so far (the capture goes on).
  std::string peek() const {
    std::fflush(stderr);
    std::string out;
    char buf[4096];
    off_t at = 0;
    for (ssize_t n; (n = ::pread(::fileno(file_), buf, sizeof buf, at)) > 0; at += n)
      out.append(buf, static_cast<std::size_t>(n));
    return out;
  }
  std::string text() {
    stop();
    std::string out;
    std::rewind(file_);
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, file_)) > 0;) out.append(buf, n);
    return out;
  }

 private:
  void stop() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }
  std::FILE* file_;
  int saved_ = -1;
};

/// SIGINT at its default action while it lives (Catch2 installs its own handler, and trio handles
/// Ctrl-C only when SIGINT is at SIG_DFL).
struct default_sigint {
  struct sigaction saved {};
  default_sigint() {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGINT, &dfl, &saved);
  }
  ~default_sigint() { sigaction(SIGINT, &saved, nullptr); }
  default_sigint(const default_sigint&) = delete;
  default_sigint& operator=(const default_sigint&) = delete;
};

/// Runs `fn` under the real clock (tests that wait on real I/O: the autojumping clock would jump
/// over a deadline while the kernel still works).
template <class F>
auto run_real(F&& fn) {
  trio::run_options o;
  o.handle_sigint = false;
  return trio::run(o, std::forward<F>(fn));
}

/// The number of open fds of this process.
inline std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n - 1;  // the iterator's own fd
}

/// The process out of file descriptors while it lives: RLIMIT_NOFILE lowered to the fds open now, and
/// every fd the old limit still allowed taken. release() (or the destructor) gives them back.
class fd_exhaustion {
 public:
  fd_exhaustion() {
    ::getrlimit(RLIMIT_NOFILE, &old_);
    rlimit low = old_;
    low.rlim_cur = open_fds();
    ::setrlimit(RLIMIT_NOFILE, &low);
    for (int fd; (fd = ::dup(0)) >= 0;) hog_.push_back(fd);
  }
  fd_exhaustion(const fd_exhaustion&) = delete;
  fd_exhaustion& operator=(const fd_exhaustion&) = delete;
  ~fd_exhaustion() { release(); }
  void release() {
    if (released_) return;
    released_ = true;
    for (int fd : hog_) ::close(fd);
    ::setrlimit(RLIMIT_NOFILE, &old_);
  }

 private:
  rlimit old_{};
  std::vector<int> hog_;
  bool released_ = false;
};

/// How many times `needle` occurs in `hay`.
inline std::size_t count_of(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + needle.size())) ++n;
  return n;
}

}  // namespace test
