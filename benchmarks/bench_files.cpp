// Files and subprocesses: trio-cpp against the blocking floor each is measured by:
//   file_lines        a 256 MiB file line by line: read_line(std::string&) vs std::getline on an ifstream
//   file_lines_opt    the same through read_line() -> std::optional<std::string> (trio-cpp only)
//   file_seq_read     1 GiB in 1 MiB reads vs a read(2) loop
//   file_random_read  4 KiB reads at random offsets of that file, 64 tasks at once vs one pread loop
//   run_process       run_process({"/bin/true"}) vs posix_spawn + waitpid
// The "floor" rows are the plain blocking calls in one thread. The files live in one temporary
// directory, written once (outside the timing) and read from the page cache.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bench_common.hpp"

extern char** environ;

namespace {

using bench::alloc_scope;
using bench::in_trio;

/// The benchmark files, made on first use and removed at exit.
struct bench_files {
  std::string dir;
  std::string lines_path, big_path;
  std::size_t lines_count = 0;
  std::size_t big_size = 0;

  bench_files() {
    dir = (std::filesystem::temp_directory_path() / "trio-bench-XXXXXX").string();
    if (!::mkdtemp(dir.data())) std::abort();
    const std::size_t lines_bytes = (std::size_t{256} << 20) / std::size_t(bench::g_divisor);
    lines_path = dir + "/lines.txt";
    {
      std::ofstream out(lines_path, std::ios::binary);
      std::mt19937 rng(42);
      std::uniform_int_distribution<int> len(10, 110);  // 60 bytes a line on average
      std::string line;
      for (std::size_t written = 0; written < lines_bytes; ++lines_count) {
        line.assign(static_cast<std::size_t>(len(rng)), 'a' + static_cast<char>(lines_count % 26));
        line += '\n';
        out << line;
        written += line.size();
      }
    }
    big_size = std::max<std::size_t>(std::size_t{1} << 20, (std::size_t{1} << 30) / std::size_t(bench::g_divisor));
    big_path = dir + "/big.bin";
    std::ofstream out(big_path, std::ios::binary);
    std::string block(1 << 20, 'x');
    for (std::size_t i = 0; i < big_size; i += block.size()) out << block;
  }
  ~bench_files() { std::filesystem::remove_all(dir); }
};
bench_files& files() {
  static bench_files f;
  return f;
}

// ---- lines ----------------------------------------------------------------------------------------
void trio_file_lines(benchmark::State& state) {
  auto& f = files();
  alloc_scope a{state, double(f.lines_count)};
  for (auto _ : state) {
    std::size_t n = 0;
    in_trio([&]() -> trio::task<> {
      trio::async_file file = co_await trio::open_file(f.lines_path);
      std::string line;
      while (co_await file.read_line(line)) n += !line.empty();
      co_await file.aclose();
    });
    if (n != f.lines_count) std::abort();
  }
}
void trio_file_lines_opt(benchmark::State& state) {
  auto& f = files();
  alloc_scope a{state, double(f.lines_count)};
  for (auto _ : state) {
    std::size_t n = 0;
    in_trio([&]() -> trio::task<> {
      trio::async_file file = co_await trio::open_file(f.lines_path);
      while (auto line = co_await file.read_line()) n += !line->empty();
      co_await file.aclose();
    });
    if (n != f.lines_count) std::abort();
  }
}
void floor_file_lines(benchmark::State& state) {
  auto& f = files();
  alloc_scope a{state, double(f.lines_count)};
  for (auto _ : state) {
    std::size_t n = 0;
    std::ifstream in(f.lines_path);
    std::string line;
    while (std::getline(in, line)) n += !line.empty();
    if (n != f.lines_count) std::abort();
  }
}

// ---- sequential 1 MiB reads -------------------------------------------------------------------------
constexpr std::size_t seq_chunk = 1 << 20;
void trio_file_seq_read(benchmark::State& state) {
  auto& f = files();
  std::vector<std::byte> buf(seq_chunk);
  alloc_scope a{state, double(f.big_size / seq_chunk)};
  for (auto _ : state) {
    std::size_t total = 0;
    in_trio([&]() -> trio::task<> {
      trio::async_file file = co_await trio::open_file(f.big_path, "rb");
      while (std::size_t n = co_await file.read(buf)) total += n;
      co_await file.aclose();
    });
    if (total != f.big_size) std::abort();
  }
  state.counters["bytes_per_op"] = double(seq_chunk);
}
void floor_file_seq_read(benchmark::State& state) {
  auto& f = files();
  std::vector<char> buf(seq_chunk);
  alloc_scope a{state, double(f.big_size / seq_chunk)};
  for (auto _ : state) {
    std::size_t total = 0;
    const int fd = ::open(f.big_path.c_str(), O_RDONLY | O_CLOEXEC);
    for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0;) total += static_cast<std::size_t>(n);
    ::close(fd);
    if (total != f.big_size) std::abort();
  }
  state.counters["bytes_per_op"] = double(seq_chunk);
}

// ---- random 4 KiB reads ----------------------------------------------------------------------------
constexpr std::size_t random_block = 4096;
int random_reads() { return std::max(64, bench::scaled(200'000)); }
std::vector<std::uint64_t> random_offsets(std::size_t n) {
  std::mt19937_64 rng(9);
  std::uniform_int_distribution<std::uint64_t> block(0, files().big_size / random_block - 1);
  std::vector<std::uint64_t> out(n);
  for (auto& o : out) o = block(rng) * random_block;
  return out;
}
/// The 4 KiB reads at the given offsets from 64 tasks sharing one file.
void trio_random_reads(const std::string& path, const std::vector<std::uint64_t>& offsets,
                       std::vector<std::vector<std::byte>>& bufs) {
  const int n = static_cast<int>(offsets.size());
  in_trio([&]() -> trio::task<> {
    trio::async_file file = co_await trio::open_file(path, "rb");
    co_await trio::open_nursery([&](trio::nursery& nursery) -> trio::task<> {
      for (int t = 0; t < 64; ++t)
        nursery.start_soon([&, t]() -> trio::task<> {
          auto& buf = bufs[static_cast<std::size_t>(t)];
          for (int i = t; i < n; i += 64)
            if (co_await file.read_at(buf, offsets[static_cast<std::size_t>(i)]) != random_block) std::abort();
        });
      co_return;
    });
    co_await file.aclose();
  });
}
/// The same reads, one pread at a time.
void floor_random_reads(const std::string& path, const std::vector<std::uint64_t>& offsets, std::vector<char>& buf) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  for (const std::uint64_t at : offsets)
    if (::pread(fd, buf.data(), random_block, static_cast<off_t>(at)) != static_cast<ssize_t>(random_block))
      std::abort();
  ::close(fd);
}
void trio_file_random_read(benchmark::State& state) {
  auto& f = files();
  const int n = random_reads() / 64 * 64;
  const auto offsets = random_offsets(static_cast<std::size_t>(n));
  std::vector<std::vector<std::byte>> bufs(64, std::vector<std::byte>(random_block));
  alloc_scope a{state, double(n)};
  for (auto _ : state) trio_random_reads(f.big_path, offsets, bufs);
}
void floor_file_random_read(benchmark::State& state) {
  auto& f = files();
  const int n = random_reads() / 64 * 64;
  const auto offsets = random_offsets(static_cast<std::size_t>(n));
  std::vector<char> buf(random_block);
  alloc_scope a{state, double(n)};
  for (auto _ : state) floor_random_reads(f.big_path, offsets, buf);
}

// The same reads with the file's pages evicted first (posix_fadvise DONTNEED): from the device, where
// 64 reads in flight at once is what io_uring is for.
int cold_reads() { return std::max(64, bench::scaled(8192)); }
void evict(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}
void trio_file_random_read_cold(benchmark::State& state) {
  auto& f = files();
  const int n = cold_reads() / 64 * 64;
  const auto offsets = random_offsets(static_cast<std::size_t>(n));
  std::vector<std::vector<std::byte>> bufs(64, std::vector<std::byte>(random_block));
  alloc_scope a{state, double(n)};
  for (auto _ : state) {
    state.PauseTiming();
    evict(f.big_path);
    state.ResumeTiming();
    trio_random_reads(f.big_path, offsets, bufs);
  }
}
void floor_file_random_read_cold(benchmark::State& state) {
  auto& f = files();
  const int n = cold_reads() / 64 * 64;
  const auto offsets = random_offsets(static_cast<std::size_t>(n));
  std::vector<char> buf(random_block);
  alloc_scope a{state, double(n)};
  for (auto _ : state) {
    state.PauseTiming();
    evict(f.big_path);
    state.ResumeTiming();
    floor_random_reads(f.big_path, offsets, buf);
  }
}

// ---- processes -------------------------------------------------------------------------------------
int process_runs() { return bench::scaled(500) + 1; }
void trio_run_process(benchmark::State& state) {
  const int n = process_runs();
  alloc_scope a{state, double(n)};
  const std::vector<std::string> argv{"/bin/true"};
  for (auto _ : state) {
    in_trio([&]() -> trio::task<> {
      for (int i = 0; i < n; ++i) {
        auto done = co_await trio::run_process(argv);
        if (done.returncode != 0) std::abort();
      }
    });
  }
}
void floor_run_process(benchmark::State& state) {
  const int n = process_runs();
  alloc_scope a{state, double(n)};
  char prog[] = "/bin/true";
  char* argv[] = {prog, nullptr};
  for (auto _ : state) {
    for (int i = 0; i < n; ++i) {
      pid_t pid;
      if (::posix_spawn(&pid, prog, nullptr, nullptr, argv, environ) != 0) std::abort();
      int status = 0;
      if (::waitpid(pid, &status, 0) != pid || status != 0) std::abort();
    }
  }
}

}  // namespace

BENCHMARK(trio_file_lines)->Unit(benchmark::kMillisecond);
BENCHMARK(trio_file_lines_opt)->Unit(benchmark::kMillisecond);
BENCHMARK(floor_file_lines)->Unit(benchmark::kMillisecond);
BENCHMARK(trio_file_seq_read)->Unit(benchmark::kMillisecond);
BENCHMARK(floor_file_seq_read)->Unit(benchmark::kMillisecond);
BENCHMARK(trio_file_random_read)->Unit(benchmark::kMillisecond);
BENCHMARK(floor_file_random_read)->Unit(benchmark::kMillisecond);
BENCHMARK(trio_file_random_read_cold)->Unit(benchmark::kMillisecond);
BENCHMARK(floor_file_random_read_cold)->Unit(benchmark::kMillisecond);
BENCHMARK(trio_run_process)->Unit(benchmark::kMillisecond);
BENCHMARK(floor_run_process)->Unit(benchmark::kMillisecond);
