// 15_log_reader: a log processor. It reads a log file line by line and prints
// each entry, while another task keeps ticking: reading a file never blocks the loop.
//
//   async def process_log(path):
//       async with await trio.open_file(path) as f:
//           async for line in f:
//               if line.strip():
//                   print(f"Log Entry: {line.strip()}")
//                   await trio.sleep(0.01)       # each entry takes a little work
//
//   async def main(path):
//       async with trio.open_nursery() as nursery:
//           nursery.start_soon(ticker)
//           await process_log(path)
//           nursery.cancel_scope.cancel()        # the ticker's job is done
//
// With no argument it first writes a sample system.log to a temporary folder (and removes it at the
// end); with a path it reads that file.

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

using namespace std::chrono_literals;

std::string_view strip(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

trio::task<> process_log(std::string path) {
  trio::async_file f = co_await trio::open_file(path);
  std::string line;
  while (co_await f.read_line(line)) {  // buffered: one read(2) per 64 KiB, not one per line
    if (std::string_view entry = strip(line); !entry.empty()) {
      fmt::print("Log Entry: {}\n", entry);
      co_await trio::sleep(10ms);  // each entry takes a little work (a database write, say)
    }
  }
  co_await f.aclose();
}

trio::task<> ticker(int& ticks) {
  for (;;) {
    co_await trio::sleep(3ms);
    ++ticks;
  }
}

trio::task<> main_task(std::string path) {
  int ticks = 0;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon(ticker, std::ref(ticks));
    co_await process_log(path);
    n.cancel_scope().cancel();
  });
  fmt::print("The ticker ran {} while the log was read: the loop was never blocked.\n",
             ticks > 5 ? "the whole time" : "too little");
}

int main(int argc, char** argv) {
  if (argc > 1) {
    trio::run(main_task, std::string(argv[1]));
    return 0;
  }
  std::string dir = (std::filesystem::temp_directory_path() / "trio-log-XXXXXX").string();
  if (!::mkdtemp(dir.data())) return 1;
  const std::string path = dir + "/system.log";
  auto write_sample = [](std::string p) -> trio::task<> {
    co_await trio::write_file(std::move(p),
                              "2026-12-02 10:00:01 INFO  service started\n"
                              "\n"
                              "2026-12-02 10:00:02 INFO  listening on port 8080\n"
                              "   \n"
                              "  2026-12-02 10:00:05 WARN  slow request: 1.2 s  \n"
                              "2026-12-02 10:00:09 ERROR connection reset by peer\r\n"
                              "2026-12-02 10:00:10 INFO  shutting down");
  };
  trio::run(write_sample, path);
  fmt::print("Wrote a sample log: system.log\n");
  trio::run(main_task, path);
  std::filesystem::remove_all(dir);
}
