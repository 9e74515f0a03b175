#include <trio/process.hpp>  // first: the header compiles on its own

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "support/helpers.hpp"

namespace tt = trio::testing;

namespace {

using argv_t = std::vector<std::string>;

/// True when this process has no child at all (nothing running, no zombie).
bool no_children() {
  siginfo_t info{};
  return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == -1 && errno == ECHILD;
}

argv_t sh(std::string script) { return {"/bin/sh", "-c", std::move(script)}; }

trio::task<std::pair<trio::pipe_send_stream, trio::pipe_receive_stream>> make_pipe_pair() {
  co_return trio::make_pipe();
}

}  // namespace

TRIO_TEST_CASE("PROC-01 run_process: returncode 0, nothing captured by default", "[process][PROC-01]") {
  const argv_t cmd{"true"};
  trio::completed_process done = co_await trio::run_process(cmd);
  CHECK(done.args == cmd);
  CHECK(done.returncode == 0);
  CHECK(done.stdout_data.empty());
  CHECK(done.stderr_data.empty());
  CHECK(no_children());
}

TRIO_TEST_CASE("PROC-01 stdin_data is fed and stdout/stderr captured: 256 KiB through cat exactly",
               "[process][PROC-01]") {
  std::string data(256 * 1024, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 7919) >> 3);
  trio::process_options o;
  o.stdin_data = data;
  o.capture_stdout = true;
  o.capture_stderr = true;
  const argv_t cat{"cat"};
  auto done = co_await trio::run_process(cat, o);
  CHECK(done.stdout_data.size() == data.size());
  CHECK(done.stdout_data == data);
  CHECK(done.stderr_data.empty());
  o.stdin_data.reset();
  const auto both = sh("printf out; printf err >&2");
  done = co_await trio::run_process(both, o);
  CHECK(done.stdout_data == "out");
  CHECK(done.stderr_data == "err");
  CHECK(no_children());
}

TRIO_TEST_CASE("PROC-01 a child that closes stdin early is not an error / stdin is at EOF by default",
               "[process][PROC-01]") {
  trio::process_options o;
  o.stdin_data = std::string(4 << 20, 'x');  // more than a pipe holds
  o.capture_stdout = true;
  const argv_t head{"head", "-c", "10"};
  auto done = co_await trio::run_process(head, o);
  CHECK(done.returncode == 0);
  CHECK(done.stdout_data == std::string(10, 'x'));
  trio::process_options q;
  q.capture_stdout = true;
  const argv_t wc{"wc", "-c"};
  done = co_await trio::run_process(wc, q);  // reads stdin: it must get EOF at once, not our terminal
  CHECK(done.stdout_data.find('0') != std::string::npos);
  CHECK(no_children());
}

TRIO_TEST_CASE("PROC-01 invalid combinations are invalid_argument / a missing program is system_error naming it",
               "[process][PROC-01]") {
  const argv_t cat{"cat"};
  trio::process_options a;
  a.stdin_data = "x";
  a.stdin_mode = trio::redirect::devnull;
  CHECK_THROWS_AS(co_await trio::run_process(cat, a), std::invalid_argument);
  trio::process_options b;
  b.capture_stdout = true;
  b.stdout_mode = trio::redirect::devnull;
  CHECK_THROWS_AS(co_await trio::run_process(cat, b), std::invalid_argument);
  trio::process_options c;
  c.stdout_mode = trio::redirect::pipe;
  try {
    co_await trio::run_process(cat, c);
    FAIL("redirect::pipe without nursery::start was accepted");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("n.start(trio::run_process") != std::string::npos);
  }
  const argv_t empty;
  CHECK_THROWS_AS(co_await trio::run_process(empty), std::invalid_argument);
  const auto fds = test::open_fds();
  const argv_t missing{"/nonexistent/program", "arg"};
  try {
    co_await trio::run_process(missing);
    FAIL("a missing program ran");
  } catch (const std::system_error& e) {
    CHECK(e.code().value() == ENOENT);
    CHECK(std::string(e.what()).find("cannot run ['/nonexistent/program', 'arg']") != std::string::npos);
  }
  CHECK(test::open_fds() == fds);
  CHECK(no_children());
}

TRIO_TEST_CASE("PROC-02 check: a non-zero exit is called_process_error with the output / check=false returns it",
               "[process][PROC-02]") {
  const auto cmd = sh("printf 'test\\n' >&2; exit 1");
  trio::process_options o;
  o.capture_stderr = true;
  try {
    co_await trio::run_process(cmd, o);
    FAIL("no called_process_error");
  } catch (const trio::called_process_error& e) {
    CHECK(e.returncode() == 1);
    CHECK(e.args() == cmd);
    CHECK(e.stderr_data() == "test\n");
    CHECK(e.stdout_data().empty());
    CHECK(std::string(e.what()) ==
          "command ['/bin/sh', '-c', 'printf 'test\\n' >&2; exit 1'] returned non-zero exit status 1");
  }
  o.check = false;
  o.capture_stdout = true;
  auto done = co_await trio::run_process(cmd, o);
  CHECK(done.returncode == 1);
  CHECK(done.stdout_data.empty());
  CHECK(done.stderr_data == "test\n");
  CHECK(no_children());
}

TRIO_TEST_CASE("PROC-04 open_process: returncode while running, kill -9, terminate -15, SIGUSR1 -10 / to_string",
               "[process][PROC-04]") {
  const argv_t sleeper{"sleep", "9999"};
  for (int sig : {SIGKILL, SIGTERM, SIGUSR1}) {
    trio::process p = co_await trio::open_process(sleeper);
    CHECK(p.pid() > 0);
    CHECK(p.returncode() == std::nullopt);
    CHECK(p.poll() == std::nullopt);
    CHECK(p.to_string().find("running with pid " + std::to_string(p.pid())) != std::string::npos);
    if (sig == SIGKILL)
      p.kill();
    else if (sig == SIGTERM)
      p.terminate();
    else
      p.send_signal(sig);
    CHECK(co_await p.wait() == -sig);
    CHECK(p.returncode() == -sig);
    CHECK(p.poll() == -sig);
    p.kill();  // after the exit: nothing
    CHECK(p.to_string() == "<trio::process ['sleep', '9999']: exited with signal " + std::to_string(sig) + ">");
  }
  const argv_t t{"true"};
  trio::process q = co_await trio::open_process(t);
  CHECK(co_await q.wait() == 0);
  CHECK(q.to_string().ends_with("exited with status 0>"));
  CHECK(no_children());
}

TRIO_TEST_CASE("PROC-04 several tasks wait at once and all wake at the exit / waits are cancellable",
               "[process][PROC-04]") {
  const argv_t sleeper{"sleep", "9999"};
  trio::process p = co_await trio::open_process(sleeper);
  test::event_log log;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i = 0; i < 3; ++i)
      n.start_soon([&, i]() -> trio::task<> {
        const int rc = co_await p.wait();
        log("waiter " + std::to_string(i) + ": " + std::to_string(rc));
      });
    n.start_soon([&]() -> trio::task<> {
      co_await trio::move_on_after(1s, [&]() -> trio::task<> { co_await p.wait(); });
      log("cancelled wait at " + std::to_string(test::now_s()));
      p.kill();
    });
    co_return;
  });
  std::sort(log.entries.begin(), log.entries.end());
  const std::vector<std::string> want{"cancelled wait at 1.000000", "waiter 0: -9", "waiter 1: -9", "waiter 2: -9"};
  CHECK(log.entries == want);
  CHECK(no_children());
}

TRIO_TEST_CASE(
    "PROC-07 n.start(run_process) returns the process / its pipes are streams / check errors leave the nursery",
    "[process][PROC-07]") {
  const argv_t cat{"cat"};
  trio::process_options o;
  o.stdin_mode = trio::redirect::pipe;
  o.stdout_mode = trio::redirect::pipe;
  std::string echoed;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    trio::process p = co_await n.start(trio::run_process, cat, o);
    co_await p.stdin().send_all(std::string_view("hello through cat"));
    co_await p.stdin().aclose();
    for (;;) {
      std::string chunk = co_await p.stdout().receive_some();
      if (chunk.empty()) break;
      echoed += chunk;
    }
  });
  CHECK(echoed == "hello through cat");
  const auto fail = sh("exit 1");
  trio::process_options q;
  q.check = true;
  try {
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      trio::process p = co_await n.start(trio::run_process, fail, q);
      CHECK(p.pid() > 0);
    });
    FAIL("no error came out of the nursery");
  } catch (const trio::called_process_error& e) {
    CHECK(e.returncode() == 1);
  }
  CHECK(no_children());
}

TRIO_TEST_CASE("PROC-05 a custom deliver_cancel runs shielded and is cancelled once the child has exited",
               "[process][PROC-05]") {
  test::event_log log;
  trio::process_options o;
  o.deliver_cancel = [&](trio::process& p) -> trio::task<> {
    log("deliver_cancel at " + std::to_string(test::now_s()));
    p.terminate();
    try {
      co_await trio::sleep_forever();
    } catch (const trio::cancelled&) {
      log("deliver_cancel cancelled, returncode " + std::to_string(p.returncode().value_or(999)));
      throw;
    }
  };
  const argv_t sleeper{"sleep", "9999"};
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon(trio::run_process, sleeper, o);
    co_await trio::sleep(2s);
    n.cancel_scope().cancel();
  });
  const std::vector<std::string> want{"deliver_cancel at 2.000000", "deliver_cancel cancelled, returncode -15"};
  CHECK(log.entries == want);
  CHECK(no_children());
}

TRIO_TEST_CASE("PROC-06 default deliver_cancel: SIGTERM, 5 s, a warning, SIGKILL / the nursery exits at t=5",
               "[process][PROC-06]") {
  test::stderr_capture err;
  const auto stubborn = sh("trap '' TERM; echo ready; exec sleep 9999");
  trio::process_options o;
  o.stdout_mode = trio::redirect::pipe;
  double t0 = 0;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    trio::process p = co_await n.start(trio::run_process, stubborn, o);
    CHECK(co_await p.stdout().receive_some() == "ready\n");  // the trap is set
    t0 = test::now_s();
    n.cancel_scope().cancel();
  });
  CHECK(test::now_s() - t0 == 5.0);
  const std::string text = err.text();
  CHECK(text.find("ignored SIGTERM for 5 seconds; sending SIGKILL") != std::string::npos);
  CHECK(test::count_of(text, "trio: warning:") == 1);
  CHECK(no_children());
}

TEST_CASE("run_process cancelled by a timeout: SIGTERM ends it at once and the cancellation propagates", "[process]") {
  // Real time: under the autojumping clock the 5 s SIGKILL timer would fire before the kernel has
  // delivered the SIGTERM.
  test::run_real([]() -> trio::task<> {
    const argv_t sleeper{"sleep", "9999"};
    bool reached = false;
    const auto t0 = trio::current_time();
    co_await trio::move_on_after(200ms, [&]() -> trio::task<> {
      co_await trio::run_process(sleeper);
      reached = true;
    });
    const auto took = trio::current_time() - t0;
    CHECK_FALSE(reached);
    CHECK(took >= 200ms);
    CHECK(took < 4s);  // SIGTERM did it: the SIGKILL escalation comes only after 5 s
    CHECK(no_children());
  });
}

TRIO_TEST_CASE("1,000 concurrent run_process calls of /bin/true with a capacity_limiter: no fd or zombie left",
               "[process]") {
  const auto fds = test::open_fds();
  trio::capacity_limiter limiter(32);
  int ok = 0;
  const argv_t t{"/bin/true"};
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i = 0; i < 1000; ++i)
      n.start_soon([&]() -> trio::task<> {
        co_await limiter.acquire();
        auto done = co_await trio::run_process(t);
        limiter.release();
        ok += done.returncode == 0;
      });
    co_return;
  });
  CHECK(ok == 1000);
  CHECK(test::open_fds() == fds);
  CHECK(no_children());
}

TRIO_TEST_CASE("a process whose last handle goes while the child runs: killed and reaped / cwd and env", "[process]") {
  pid_t pid = 0;
  {
    const argv_t sleeper{"sleep", "9999"};
    trio::process p = co_await trio::open_process(sleeper);
    pid = p.pid();
  }
  CHECK(::kill(pid, 0) == -1);
  CHECK(errno == ESRCH);
  CHECK(no_children());
  trio::process_options o;
  o.capture_stdout = true;
  o.cwd = "/tmp";
  o.env = std::vector<std::string>{"ONLY=this"};
  const auto pwd = sh("pwd; echo \"$ONLY\"; echo \"${HOME:-unset}\"");
  auto done = co_await trio::run_process(pwd, o);
  CHECK(done.stdout_data == "/tmp\nthis\nunset\n");
  trio::process_options bad;
  bad.cwd = "/nonexistent-dir";
  const argv_t t{"true"};
  CHECK_THROWS_AS(co_await trio::run_process(t, bad), std::system_error);
  CHECK(no_children());
}

TRIO_TEST_CASE("stderr to_stdout / redirect::fd / devnull", "[process]") {
  trio::process_options o;
  o.capture_stdout = true;
  o.stderr_mode = trio::redirect::to_stdout;
  const auto both = sh("echo one; echo two >&2");
  auto done = co_await trio::run_process(both, o);
  CHECK(done.stdout_data == "one\ntwo\n");
  auto pipe = trio::make_pipe();
  trio::process_options f;
  f.stdout_mode = trio::redirect::fd(pipe.first.fd());
  const argv_t echo{"echo", "via fd"};
  co_await trio::run_process(echo, f);
  co_await pipe.first.aclose();
  CHECK(co_await pipe.second.receive_some() == "via fd\n");
  trio::process_options d;
  d.stdout_mode = trio::redirect::devnull;
  co_await trio::run_process(echo, d);
}

TRIO_TEST_CASE("STR-01 the stream checkers pass for pipe streams", "[process][streams][STR-01]") {
  co_await tt::check_one_way_stream(make_pipe_pair);
}

TRIO_TEST_CASE("a pipe whose reader has gone: send_all is broken_resource_error, the process survives SIGPIPE",
               "[process]") {
  auto pipe = trio::make_pipe();
  co_await pipe.second.aclose();
  CHECK_THROWS_AS(co_await pipe.first.send_all(std::string_view("x")), trio::broken_resource_error);
  co_await pipe.first.aclose();
  CHECK_THROWS_AS(co_await pipe.first.send_all(std::string_view("x")), trio::closed_resource_error);
}

TRIO_TEST_CASE("a pipe_send_stream destroyed while another task is in send_all: that task gets closed_resource_error",
               "[process]") {
  auto pipe = trio::make_pipe();
  auto sender = std::make_unique<trio::pipe_send_stream>(std::move(pipe.first));
  std::string error;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      try {
        co_await sender->send_all(std::string(1 << 20, 'x'));  // more than the pipe holds: it waits
      } catch (const trio::closed_resource_error& e) {
        error = e.what();
      }
    });
    co_await tt::wait_all_tasks_blocked();
    sender.reset();
    co_return;
  });
  CHECK_THAT(error, Catch::Contains("was closed"));
}

namespace {
/// True while pid runs (a zombie, dead but not reaped yet, does not count).
bool alive(pid_t pid) {
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (f == nullptr) return false;
  char buf[512];
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* name_end = std::strrchr(buf, ')');  // "pid (name) S ...": the state follows the name
  return name_end != nullptr && name_end[1] == ' ' && name_end[2] != 'Z' && name_end[2] != 'X';
}
/// Waits up to 5 s (real time) until no pid in pids runs; kills what is left, so that a failing test
/// leaves nothing behind.
trio::task<bool> all_gone(std::vector<pid_t> pids) {
  for (int i = 0; i < 500; ++i) {
    if (std::none_of(pids.begin(), pids.end(), alive)) co_return true;
    co_await trio::sleep(10ms);
  }
  for (pid_t p : pids)
    if (alive(p)) ::kill(p, SIGKILL);
  co_return false;
}
/// A shell that starts two sleeps in the background, prints their pids and waits for them.
argv_t two_sleeps() { return sh("sleep 100 & echo $!; sleep 100 & echo $!; wait"); }
trio::task<std::vector<pid_t>> read_pids(trio::pipe_receive_stream& out) {
  trio::line_reader lines(out);
  std::vector<pid_t> pids;
  while (pids.size() < 2) {
    auto line = co_await lines.read_line();
    REQUIRE(line);
    pids.push_back(std::stoi(*line));
  }
  co_return pids;
}
}  // namespace

TEST_CASE("process_group: a cancelled run_process of sh -c terminates the whole group, no grandchild is left",
          "[process]") {
  test::run_real([]() -> trio::task<> {
    const argv_t cmd = two_sleeps();
    trio::process_options o;
    o.process_group = true;
    o.stdout_mode = trio::redirect::pipe;
    std::vector<pid_t> grandchildren;
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      trio::process p = co_await n.start(trio::run_process, cmd, o);
      CHECK(::getpgid(p.pid()) == p.pid());
      CHECK(::getsid(p.pid()) == ::getsid(0));
      grandchildren = co_await read_pids(p.stdout());
      for (pid_t g : grandchildren) CHECK(::getpgid(g) == p.pid());
      n.cancel_scope().cancel();  // the default deliver_cancel: terminate(), to the group
    });
    CHECK(co_await all_gone(grandchildren));
    CHECK(no_children());
  });
}

TEST_CASE("new_session: kill() signals the whole group / send_signal_to_group needs a group", "[process]") {
  test::run_real([]() -> trio::task<> {
    const argv_t cmd = two_sleeps();
    trio::process_options o;
    o.new_session = true;
    o.stdout_mode = trio::redirect::pipe;
    trio::process p = co_await trio::open_process(cmd, o);
    CHECK(::getsid(p.pid()) == p.pid());
    const std::vector<pid_t> grandchildren = co_await read_pids(p.stdout());
    p.kill();
    CHECK(co_await p.wait() == -SIGKILL);
    CHECK(co_await all_gone(grandchildren));

    const argv_t sleeper{"sleep", "100"};
    trio::process plain = co_await trio::open_process(sleeper);
    CHECK_THROWS_WITH(plain.send_signal_to_group(SIGTERM),
                      Catch::Contains("does not lead a process group") && Catch::Contains("process_group = true"));
    plain.kill();
    CHECK(co_await plain.wait() == -SIGKILL);
  });
}
