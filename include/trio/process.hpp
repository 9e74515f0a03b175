#pragma once
/// \file
/// Subprocesses (spec PROC-01..07): trio::run_process (run a command to completion, feeding its
/// stdin and capturing its output) and trio::open_process (a trio::process to talk to while it
/// runs). The exit is awaited on io_uring through a pidfd: no SIGCHLD handler, no reaper thread.
///
///     auto argv = std::vector<std::string>{"git", "rev-parse", "HEAD"};
///     trio::process_options o;
///     o.capture_stdout = true;
///     trio::completed_process done = co_await trio::run_process(argv, o);
///     fmt::print("{}", done.stdout_data);
///
/// Build the argument vector in a statement of its own: g++ 12 rejects a braced list of strings
/// inside an expression that contains co_await ("array used as initializer").
///
/// Cancelling run_process sends SIGTERM, waits up to 5 s for the exit, then sends SIGKILL
/// (process_options::deliver_cancel replaces that), then the cancellation propagates. No child is
/// ever left behind as a zombie: a trio::process whose last handle goes away while the child runs
/// kills it (SIGKILL) and reaps it.

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "trio/cancel_scope.hpp"
#include "trio/checkpoint.hpp"
#include "trio/detail/uring_op.hpp"
#include "trio/errors.hpp"
#include "trio/nursery.hpp"
#include "trio/pipe_stream.hpp"
#include "trio/sleep.hpp"
#include "trio/task.hpp"
#include "trio/timeouts.hpp"

/// The process's environment (POSIX); a child gets it unless process_options::env is set.
extern char** environ;

namespace trio {

/// Where a child's stdin, stdout or stderr goes.
class redirect {
 public:
  /// Unset: open_process inherits; run_process gives stdin the end of file at once (as Trio's
  /// default `stdin=b""`) and lets stdout/stderr inherit.
  constexpr redirect() noexcept = default;
  static const redirect inherit;    ///< the parent's fd
  static const redirect pipe;       ///< a pipe: process::stdin()/stdout()/stderr()
  static const redirect devnull;    ///< /dev/null
  static const redirect to_stdout;  ///< stderr only: wherever stdout goes (2>&1)
  /// An fd of the parent (dup2'd into the child; the parent keeps its own).
  static constexpr redirect fd(int fd) noexcept { return redirect(fd); }

  /// Equal when both name the same redirection.
  constexpr bool operator==(const redirect&) const noexcept = default;
  /// The encoded redirection: the parent's fd for redirect::fd(n), a negative code for the others (-1: unset).
  constexpr int value() const noexcept { return v_; }

 private:
  constexpr explicit redirect(int v) noexcept : v_(v) {}
  int v_ = -1;
};
inline constexpr redirect redirect::inherit = redirect(-2);
inline constexpr redirect redirect::pipe = redirect(-3);
inline constexpr redirect redirect::devnull = redirect(-4);
inline constexpr redirect redirect::to_stdout = redirect(-5);

class process;

/// How to run a command. Fill it by assignment (g++ 12 warns on designated initializers that skip
/// fields):  `trio::process_options o; o.capture_stdout = true;`
struct process_options {
  /// run_process: bytes fed to the child's stdin, which is then closed. A child that exits or
  /// closes its stdin before reading it all is not an error.
  std::optional<std::string> stdin_data;
  bool capture_stdout = false;  ///< run_process: collect stdout into completed_process::stdout_data
  bool capture_stderr = false;  ///< run_process: collect stderr into completed_process::stderr_data
  /// run_process: a non-zero exit is trio::called_process_error (with the captured output).
  bool check = true;
  std::string cwd;  ///< the child's working directory (empty: the parent's)
  /// The child's whole environment, "NAME=value" each (unset: the parent's).
  std::optional<std::vector<std::string>> env;
  /// Where the child's stdin comes from. Unset: inherited (open_process), the end of file at once
  /// (run_process, via /dev/null). With stdin_data: std::invalid_argument.
  redirect stdin_mode;
  /// Where the child's stdout goes. Unset: inherited. With capture_stdout: std::invalid_argument.
  redirect stdout_mode;
  /// Where the child's stderr goes (redirect::to_stdout: with stdout). Unset: inherited. With
  /// capture_stderr: std::invalid_argument.
  redirect stderr_mode;
  /// run_process: what cancellation does to the child (called shielded, cancelled once the child
  /// has exited). Default: terminate(), 5 s, a warning on stderr, kill().
  std::function<task<void>(process&)> deliver_cancel;
  /// The child leads a new process group (setpgid(0, 0)) in this session. Its own children join
  /// the group, and process::terminate() and kill() (and so cancellation, and the kill of a process
  /// whose last handle goes) signal the whole group: a `sh -c 'a & b; wait'` leaves nothing behind.
  /// The trap: without it, killing the shell leaves its children running.
  bool process_group = false;
  /// Like process_group, in a new session (setsid()): the child also leaves the controlling terminal,
  /// so a Ctrl-C at the terminal no longer reaches it (the parent's cancellation still does).
  bool new_session = false;
};

/// What run_process returns.
struct completed_process {
  std::vector<std::string> args;  ///< The command that ran, program first.
  int returncode = 0;             ///< the exit status, or -N when killed by signal N
  std::string stdout_data;        ///< What the child wrote to stdout with capture_stdout; else empty.
  std::string stderr_data;        ///< What the child wrote to stderr with capture_stderr; else empty.
};

namespace detail {

/// The state a process's handles share: the child, its pidfd, its pipes and its exit status.
struct process_state {
  std::vector<std::string> args;
  pid_t pid = -1;
  int pidfd = -1;
  bool group_leader = false;  // process_group or new_session: the child's pid is its group's id
  std::optional<int> returncode;
  std::optional<pipe_send_stream> stdin_pipe;
  std::optional<pipe_receive_stream> stdout_pipe, stderr_pipe;

  process_state() = default;
  process_state(const process_state&) = delete;
  process_state& operator=(const process_state&) = delete;
  ~process_state() {
    stdin_pipe.reset();
    stdout_pipe.reset();
    stderr_pipe.reset();
    if (pid > 0 && !returncode) {  // nothing may be left behind: kill and reap (blocking, briefly)
      ::kill(group_leader ? -pid : pid, SIGKILL);
      siginfo_t info{};
      while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED) != 0 && errno == EINTR) {
      }
    }
    if (pidfd >= 0) ::close(pidfd);
  }

  /// Reaps the child if it has exited (never blocks). True once the exit status is known.
  bool reap_nowait() {
    if (returncode) return true;
    siginfo_t info{};
    int rc;
    while ((rc = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG)) != 0 && errno == EINTR) {
    }
    if (rc != 0) throw_errno(errno, "trio::process: waitid for pid " + std::to_string(pid) + " failed");
    if (info.si_pid == 0) return false;
    returncode = info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
    return true;
  }
};

/// posix_spawn's attribute and file-action objects, destroyed on every path.
struct spawn_setup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  spawn_setup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~spawn_setup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  spawn_setup(const spawn_setup&) = delete;
  spawn_setup& operator=(const spawn_setup&) = delete;
};

[[noreturn]] [[gnu::cold]] inline void throw_bad_options(const std::string& what) {
  throw std::invalid_argument("trio::run_process: " + what);
}

}  // namespace detail

/// A running (or finished) child process. A cheap handle: copies share the child. When the last
/// handle is destroyed while the child still runs, the child is killed and reaped.
class process {
 public:
  /// A handle on a child's shared state (open_process makes them; users call that).
  explicit process(std::shared_ptr<detail::process_state> s) noexcept : s_(std::move(s)) {}

  /// The child's process id (its process group's id too with process_group or new_session).
  pid_t pid() const noexcept { return s_->pid; }
  /// The command, program first, as given to open_process.
  const std::vector<std::string>& args() const noexcept { return s_->args; }
  /// The exit status once known (wait() or poll() saw the exit): -N for a death by signal N.
  std::optional<int> returncode() const noexcept { return s_->returncode; }

  /// The pipe to the child's stdin (redirect::pipe), else std::logic_error.
  pipe_send_stream& stdin() { return pipe_of(s_->stdin_pipe, "stdin"); }
  /// The pipe from the child's stdout (redirect::pipe), else std::logic_error.
  pipe_receive_stream& stdout() { return pipe_of(s_->stdout_pipe, "stdout"); }
  /// The pipe from the child's stderr (redirect::pipe), else std::logic_error.
  pipe_receive_stream& stderr() { return pipe_of(s_->stderr_pipe, "stderr"); }
  /// Whether stdin() has a pipe (stdin_mode was redirect::pipe).
  bool has_stdin() const noexcept { return s_->stdin_pipe.has_value(); }
  /// Whether stdout() has a pipe (stdout_mode was redirect::pipe).
  bool has_stdout() const noexcept { return s_->stdout_pipe.has_value(); }
  /// Whether stderr() has a pipe (stderr_mode was redirect::pipe).
  bool has_stderr() const noexcept { return s_->stderr_pipe.has_value(); }

  /// Waits for the child to exit and returns its exit status (a checkpoint). Any number of tasks
  /// may wait at once; each wait is cancellable.
  task<int> wait() {
    std::shared_ptr<detail::process_state> s = s_;  // the state outlives this wait
    if (s->reap_nowait()) {
      co_await checkpoint();
      co_return *s->returncode;
    }
    for (;;) {
      auto prep = [&](io_uring_sqe* sqe) noexcept { io_uring_prep_poll_add(sqe, s->pidfd, POLLIN); };
      const int res = co_await detail::uring_call{s->pidfd, detail::io_direction::none, "trio::process::wait", prep};
      if (res < 0)
        detail::throw_errno(-res, "trio::process::wait: polling the pidfd of " + std::to_string(s->pid) + " failed");
      if (s->reap_nowait()) co_return *s->returncode;
    }
  }

  /// The exit status if the child has exited (reaping it), else std::nullopt. Never blocks.
  std::optional<int> poll() {
    s_->reap_nowait();
    return s_->returncode;
  }

  /// Sends sig to the child (through its pidfd: never to a recycled pid). After the exit: nothing.
  void send_signal(int sig) {
    if (s_->returncode) return;
    if (::syscall(SYS_pidfd_send_signal, s_->pidfd, sig, nullptr, 0) != 0 && errno != ESRCH)
      detail::throw_errno(
          errno, "trio::process::send_signal(" + std::to_string(sig) + ") to " + std::to_string(s_->pid) + " failed");
  }
  /// Sends sig to the child's whole process group (started with process_options::process_group or
  /// new_session, else std::logic_error). While the child has not been reaped its pid, the group's
  /// id, cannot be recycled; after its exit: nothing.
  void send_signal_to_group(int sig) {
    if (!s_->group_leader)
      throw std::logic_error("trio::process::send_signal_to_group: " + to_string() +
                             " does not lead a process group; start it with process_options::process_group = true "
                             "(or new_session = true)");
    if (s_->returncode) return;
    if (::kill(-s_->pid, sig) != 0 && errno != ESRCH)
      detail::throw_errno(errno, "trio::process::send_signal_to_group(" + std::to_string(sig) + ") to group " +
                                     std::to_string(s_->pid) + " failed");
  }
  /// SIGTERM: to the whole group if the child leads one (process_options::process_group), else to it.
  void terminate() { signal_all(SIGTERM); }
  /// SIGKILL: to the whole group if the child leads one (process_options::process_group), else to it.
  void kill() { signal_all(SIGKILL); }

  /// Closes the pipes and waits for the exit; cancelled, it kills the child and still reaps it.
  task<void> aclose() {
    std::shared_ptr<detail::process_state> s = s_;
    if (s->stdin_pipe) co_await aclose_forcefully(*s->stdin_pipe);
    if (s->stdout_pipe) co_await aclose_forcefully(*s->stdout_pipe);
    if (s->stderr_pipe) co_await aclose_forcefully(*s->stderr_pipe);
    std::exception_ptr cancel;
    try {
      co_await wait();
    } catch (const cancelled&) {
      cancel = std::current_exception();
    }
    if (cancel) {
      kill();
      auto reap = [s]() -> task<> { co_await process(s).wait(); };  // named: see task_fn_checks
      co_await trio::shielded(reap);
      std::rethrow_exception(cancel);
    }
  }

  /// "<trio::process ['sleep', '1']: running with pid 1234>", "...: exited with status 0>",
  /// "...: exited with signal 9>".
  std::string to_string() const {
    std::string state;
    if (!s_->returncode)
      state = "running with pid " + std::to_string(s_->pid);
    else if (*s_->returncode < 0)
      state = "exited with signal " + std::to_string(-*s_->returncode);
    else
      state = "exited with status " + std::to_string(*s_->returncode);
    return "<trio::process " + called_process_error::quote_args(s_->args) + ": " + state + ">";
  }

 private:
  template <class P>
  P& pipe_of(std::optional<P>& p, const char* name) {
    if (!p)
      throw std::logic_error(std::string("trio::process::") + name + "(): the process was started without a pipe for " +
                             name + "; set process_options::" + name + "_mode = trio::redirect::pipe");
    return *p;
  }
  void signal_all(int sig) {
    if (s_->group_leader)
      send_signal_to_group(sig);
    else
      send_signal(sig);
  }
  std::shared_ptr<detail::process_state> s_;
};

namespace detail {

/// Starts the child (posix_spawn: vfork + exec, so the loop pauses only for the exec itself).
inline process spawn_process(std::vector<std::string> argv, const process_options& o, redirect in, redirect out,
                             redirect err) {
  if (argv.empty()) throw std::invalid_argument("trio::open_process: the command is empty (argv[0] is the program)");
  if (in == redirect::to_stdout || out == redirect::to_stdout)
    throw std::invalid_argument("trio::open_process: redirect::to_stdout is for stderr_mode only");
  auto s = std::make_shared<process_state>();
  s->args = std::move(argv);
  spawn_setup setup;
  // Parent ends are owned by the state from their creation; child ends by this vector, closed on
  // every path once the child has them.
  struct child_ends {
    std::vector<int> fds;
    ~child_ends() {
      for (int fd : fds) ::close(fd);
    }
  } child;
  const redirect modes[3] = {in, out, err};
  for (int target = 0; target < 3; ++target) {
    const redirect m = modes[target];
    int rc = 0;
    if (m == redirect::pipe) {
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno(errno, "trio::open_process: pipe2 failed");
      const int parent = target == 0 ? fds[1] : fds[0], kid = target == 0 ? fds[0] : fds[1];
      if (target == 0)
        s->stdin_pipe.emplace(parent);
      else if (target == 1)
        s->stdout_pipe.emplace(parent);
      else
        s->stderr_pipe.emplace(parent);
      child.fds.push_back(kid);
      rc = posix_spawn_file_actions_adddup2(&setup.actions, kid, target);
    } else if (m == redirect::devnull) {
      rc = posix_spawn_file_actions_addopen(&setup.actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0);
    } else if (m == redirect::to_stdout) {
      rc = posix_spawn_file_actions_adddup2(&setup.actions, 1, 2);
    } else if (m.value() >= 0) {
      rc = posix_spawn_file_actions_adddup2(&setup.actions, m.value(), target);
    }
    if (rc != 0) throw_errno(rc, "trio::open_process: setting up the child's fd " + std::to_string(target) + " failed");
  }
  if (!o.cwd.empty()) {
    if (int rc = posix_spawn_file_actions_addchdir_np(&setup.actions, o.cwd.c_str()); rc != 0)
      throw_errno(rc, "trio::open_process: cwd '" + o.cwd + "'");
  }
  // The child starts with no blocked signal and SIGPIPE/SIGXFSZ at their defaults (the parent may
  // ignore SIGPIPE, and trio blocks the signals it receives through a signalfd).
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGXFSZ);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setsigdefault(&setup.attr, &defaults);
  int flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (o.new_session) {
    flags |= POSIX_SPAWN_SETSID;
  } else if (o.process_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&setup.attr, 0);
  }
  posix_spawnattr_setflags(&setup.attr, static_cast<short>(flags));

  std::vector<char*> cargv;
  for (auto& a : s->args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  if (o.env) {
    for (const auto& e : *o.env) cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);
  }
  char** envp = o.env ? cenv.data() : environ;
  pid_t pid = -1;
  const bool search = s->args[0].find('/') == std::string::npos;
  const int rc = search ? ::posix_spawnp(&pid, cargv[0], &setup.actions, &setup.attr, cargv.data(), envp)
                        : ::posix_spawn(&pid, cargv[0], &setup.actions, &setup.attr, cargv.data(), envp);
  if (rc != 0)
    throw_errno(rc, "trio::open_process: cannot run " + called_process_error::quote_args(s->args) +
                        (o.cwd.empty() ? "" : " in '" + o.cwd + "'"));
  s->pid = pid;  // from here the state reaps the child on every path
  s->group_leader = o.new_session || o.process_group;
  // (glibc 2.36's <sys/pidfd.h> lacks extern "C": call the system calls directly)
  s->pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (s->pidfd < 0) throw_errno(errno, "trio::open_process: pidfd_open failed (Linux 5.3 or later is needed)");
  ::fcntl(s->pidfd, F_SETFD, FD_CLOEXEC);
  return process(std::move(s));
}

}  // namespace detail

/// Starts argv as a child process: its stdin/stdout/stderr follow options.stdin_mode/stdout_mode/
/// stderr_mode (inherited when unset). A program that cannot be run is std::system_error naming it.
/// A checkpoint.
inline task<process> open_process(std::vector<std::string> argv, process_options options) {
  co_await checkpoint_if_cancelled();
  auto pick = [](redirect r) { return r == redirect() ? redirect::inherit : r; };
  process p = detail::spawn_process(std::move(argv), options, pick(options.stdin_mode), pick(options.stdout_mode),
                                    pick(options.stderr_mode));
  co_return p;
}

/// open_process with default process_options: every stream inherited.
inline task<process> open_process(std::vector<std::string> argv) { return open_process(std::move(argv), {}); }

namespace detail {

inline void process_warning(const std::string& text) noexcept {
  std::fprintf(::stderr, "trio: warning: %s\n", text.c_str());
  std::fflush(::stderr);
}

/// Trio's default deliver_cancel: SIGTERM, 5 s, a warning, SIGKILL.
inline task<void> default_deliver_cancel(process& p) {
  try {
    p.terminate();
  } catch (const std::system_error& e) {
    process_warning("run_process: terminate() of " + p.to_string() + " failed: " + e.what());
  }
  co_await trio::sleep(std::chrono::seconds(5));
  process_warning("run_process: " + p.to_string() +
                  " ignored SIGTERM for 5 seconds; sending SIGKILL (pass process_options::deliver_cancel to do "
                  "otherwise)");
  p.kill();
}

inline task<std::string> read_to_end(pipe_receive_stream& in) {
  std::string out;
  std::size_t used = 0;
  for (;;) {
    if (out.size() - used < 16384) out.resize(std::max<std::size_t>(out.size() * 2, 65536));
    const std::size_t n = co_await in.receive_some(std::as_writable_bytes(std::span(out)).subspan(used));
    if (n == 0) break;
    used += n;
  }
  out.resize(used);
  co_await in.aclose();
  co_return out;
}

inline task<completed_process> run_process_impl(std::vector<std::string> argv, process_options o,
                                                task_status<process> status) {
  if (o.stdin_data && o.stdin_mode != redirect()) throw_bad_options("stdin_data and stdin_mode are both set: pick one");
  if (o.capture_stdout && o.stdout_mode != redirect())
    throw_bad_options("capture_stdout and stdout_mode are both set: pick one");
  if (o.capture_stderr && o.stderr_mode != redirect())
    throw_bad_options("capture_stderr and stderr_mode are both set: pick one");
  if ((o.stdin_mode == redirect::pipe || o.stdout_mode == redirect::pipe || o.stderr_mode == redirect::pipe) &&
      status.ignored())
    throw_bad_options(
        "redirect::pipe needs the process: run it with `auto p = co_await n.start(trio::run_process, argv, options)` "
        "(or use open_process)");
  co_await checkpoint_if_cancelled();
  const redirect in = o.stdin_data ? redirect::pipe : o.stdin_mode == redirect() ? redirect::devnull : o.stdin_mode;
  const redirect out = o.capture_stdout              ? redirect::pipe
                       : o.stdout_mode == redirect() ? redirect::inherit
                                                     : o.stdout_mode;
  const redirect err = o.capture_stderr              ? redirect::pipe
                       : o.stderr_mode == redirect() ? redirect::inherit
                                                     : o.stderr_mode;
  process p = spawn_process(argv, o, in, out, err);
  completed_process result;
  result.args = std::move(argv);
  cancel_scope killer(time_point::max(), true);  // outlives the nursery's children
  co_await open_nursery([&](nursery& n) -> task<> {
    if (o.stdin_data)
      n.start_soon([&]() -> task<> {
        try {
          co_await p.stdin().send_all(*o.stdin_data);
        } catch (const broken_resource_error&) {
          // the child closed its stdin (or exited) before reading it all: not an error
        }
        co_await p.stdin().aclose();
      });
    if (o.capture_stdout) n.start_soon([&]() -> task<> { result.stdout_data = co_await read_to_end(p.stdout()); });
    if (o.capture_stderr) n.start_soon([&]() -> task<> { result.stderr_data = co_await read_to_end(p.stderr()); });
    status.started(p);
    std::exception_ptr cancel;
    try {
      co_await p.wait();
    } catch (const cancelled&) {
      cancel = std::current_exception();
    }
    if (cancel) {
      // Shielded: deliver the cancellation to the child, and wait for it to exit.
      n.start_soon([&]() -> task<> {
        co_await killer.enter([&]() -> task<> {
          if (o.deliver_cancel)
            co_await o.deliver_cancel(p);
          else
            co_await default_deliver_cancel(p);
        });
      });
      co_await trio::shielded([&]() -> task<> { co_await p.wait(); });
      killer.cancel();
      std::rethrow_exception(cancel);
    }
  });
  result.returncode = *p.returncode();
  if (o.check && result.returncode != 0)
    throw called_process_error(result.args, result.returncode, std::move(result.stdout_data),
                               std::move(result.stderr_data));
  co_return result;
}

// Overloads, not default arguments: g++ 12 destroys a defaulted non-trivial argument twice when
// the call is inside co_await.
struct run_process_fn {
  using start_status = task_status<process>;
  task<completed_process> operator()(std::vector<std::string> argv) const {
    return run_process_impl(std::move(argv), process_options{}, start_status{});
  }
  task<completed_process> operator()(std::vector<std::string> argv, process_options options) const {
    return run_process_impl(std::move(argv), std::move(options), start_status{});
  }
  task<completed_process> operator()(std::vector<std::string> argv, process_options options,
                                     start_status status) const {
    return run_process_impl(std::move(argv), std::move(options), std::move(status));
  }
};

}  // namespace detail

/// Runs argv to completion (PROC-01/02): feeds options.stdin_data, collects stdout/stderr when
/// asked, and returns the exit status; with options.check (the default) a non-zero exit is
/// trio::called_process_error carrying the status and the captured output. Killed by signal N:
/// returncode == -N. stdin gets the end of file at once unless stdin_data or stdin_mode says
/// otherwise. With nursery::start it returns the trio::process once it runs (PROC-07), the only way
/// to use redirect::pipe:
///     trio::process p = co_await n.start(trio::run_process, argv, options);
inline constexpr detail::run_process_fn run_process{};

}  // namespace trio
