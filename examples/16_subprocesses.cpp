// 16_subprocesses: run a few commands at once, at most two at a time, capturing their output; one
// of them takes too long and is stopped by a timeout, its process terminated and reaped.
//
//   limiter = trio.CapacityLimiter(2)
//   async def run(name, cmd, **kw):
//       async with limiter:
//           with trio.move_on_after(0.5) as scope:
//               done = await trio.run_process(cmd, capture_stdout=True, **kw)
//               results[name] = done.stdout.decode().strip()
//           if scope.cancelled_caught:
//               results[name] = "timed out after 0.5 s: terminated"
//
// Results print in a fixed order once every command is done.

#include <fmt/core.h>
#include <sys/wait.h>
#include <trio/trio.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

using namespace std::chrono_literals;

struct job {
  std::string name;
  std::vector<std::string> argv;
  std::optional<std::string> input;
};

trio::task<> run_job(const job& j, trio::capacity_limiter& limiter, std::map<std::string, std::string>& results) {
  auto held = co_await limiter.scoped_acquire();  // released on every path
  trio::process_options o;
  o.capture_stdout = true;
  o.stdin_data = j.input;
  trio::cancel_scope scope(trio::current_time() + 500ms);
  co_await scope.enter([&]() -> trio::task<> {
    trio::completed_process done = co_await trio::run_process(j.argv, o);
    std::string out = done.stdout_data;
    for (auto& c : out)
      if (c == '\n') c = ' ';
    while (!out.empty() && out.back() == ' ') out.pop_back();
    results[j.name] = out;
  });
  if (scope.cancelled_caught()) results[j.name] = "timed out after 0.5 s: terminated";
}

trio::task<> main_task() {
  const std::vector<job> jobs = {
      {"kernel", {"uname", "-s"}, std::nullopt},
      {"arithmetic", {"sh", "-c", "echo $((6 * 7))"}, std::nullopt},
      {"sort", {"sort"}, "pear\napple\nfig\n"},
      {"too slow", {"sleep", "10"}, std::nullopt},
      {"word count", {"wc", "-w"}, "one two three four\n"},
  };
  trio::capacity_limiter limiter(2);
  std::map<std::string, std::string> results;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (const job& j : jobs) n.start_soon(run_job, std::cref(j), std::ref(limiter), std::ref(results));
    co_return;
  });
  for (const job& j : jobs) fmt::print("{:>10}: {}\n", j.name, results[j.name]);
  siginfo_t info{};
  const bool none_left = ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == -1 && errno == ECHILD;
  fmt::print("child processes left: {}\n", none_left ? "none" : "some!");
}

int main() { trio::run(main_task); }
