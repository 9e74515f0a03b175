#include <trio/file.hpp>  // first: the header compiles on its own

#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <csignal>

#include <fstream>
#include <random>

#include "support/helpers.hpp"

namespace {

/// A fresh temporary directory, removed with its contents at the end of the test.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "trio-file-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
  std::string operator/(const char* name) const { return (path / name).string(); }
};

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void spit(const std::string& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary);
  out << data;
}

std::span<std::byte> bytes(std::string& s) { return std::as_writable_bytes(std::span(s)); }

/// Every line read_line(std::string&) gives, and the same through the optional form.
trio::task<std::vector<std::string>> all_lines(std::string path) {
  std::vector<std::string> a, b;
  auto f = co_await trio::open_file(path);
  std::string line;
  while (co_await f.read_line(line)) a.push_back(line);
  co_await f.aclose();
  auto g = co_await trio::open_file(path);
  while (auto l = co_await g.read_line()) b.push_back(*l);
  co_await g.aclose();
  CHECK(a == b);
  co_return a;
}

/// `size` bytes that differ from one position to the next (a rewritten start shows).
std::string random_bytes(std::size_t size, unsigned seed) {
  std::string s(size, '\0');
  std::mt19937 rng(seed);
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

/// RLIMIT_FSIZE lowered to `bytes` while it lives, with SIGXFSZ ignored: a write that crosses the
/// limit is cut short at it, the next one fails with EFBIG. raise() lifts it early.
struct file_size_limit {
  rlimit saved{};
  struct sigaction saved_action {};
  bool active = false;
  explicit file_size_limit(std::uint64_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGXFSZ, &ignore, &saved_action);
    rlimit lowered = saved;
    lowered.rlim_cur = std::min<rlim_t>(bytes, saved.rlim_max);
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &lowered) == 0);
    active = true;
  }
  void raise() {
    if (!active) return;
    ::setrlimit(RLIMIT_FSIZE, &saved);
    ::sigaction(SIGXFSZ, &saved_action, nullptr);
    active = false;
  }
  ~file_size_limit() { raise(); }
  file_size_limit(const file_size_limit&) = delete;
  file_size_limit& operator=(const file_size_limit&) = delete;
};

/// A tmpfs of `size` mounted on a fresh directory while it lives: a disk that fills up. Needs root
/// (CI runs as root); mounted is false when the mount was refused.
struct small_tmpfs {
  temp_dir dir;
  bool mounted = false;
  std::string why_not = "mounting a tmpfs needs root (CI runs as root)";
  explicit small_tmpfs(const char* size) {
    if (::geteuid() != 0) return;
    mounted = ::mount("tmpfs", dir.path.c_str(), "tmpfs", 0, ("size=" + std::string(size)).c_str()) == 0;
    if (!mounted) why_not = std::string("mounting a tmpfs failed: ") + std::strerror(errno);
  }
  ~small_tmpfs() {
    if (mounted && ::umount2(dir.path.c_str(), 0) != 0) ::umount2(dir.path.c_str(), MNT_DETACH);
  }
  small_tmpfs(const small_tmpfs&) = delete;
  small_tmpfs& operator=(const small_tmpfs&) = delete;
  std::uint64_t free_bytes() const {
    struct statvfs st {};
    REQUIRE(::statvfs(dir.path.c_str(), &st) == 0);
    return std::uint64_t{st.f_bavail} * st.f_frsize;
  }
};

/// What an operation threw as std::system_error: the errno and the message ({0, ""} if it returned).
struct os_error {
  int code = 0;
  std::string what;
};
template <class Awaitable>
trio::task<os_error> error_of(Awaitable awaitable) {
  try {
    co_await std::move(awaitable);
  } catch (const std::system_error& e) {
    co_return os_error{e.code().value(), e.what()};
  }
  co_return os_error{};
}

/// Writes data in pieces of `piece` bytes until a write throws: its error ({0, ""} if none did)
/// and the bytes of the writes that returned.
struct pieces_written {
  os_error error;
  std::size_t bytes = 0;
};
trio::task<pieces_written> write_in_pieces(trio::async_file& f, std::string_view data, std::size_t piece) {
  pieces_written out;
  for (; out.bytes < data.size(); out.bytes += std::min(piece, data.size() - out.bytes)) {
    out.error = co_await error_of(f.write(data.substr(out.bytes, piece)));
    if (out.error.code != 0) break;
  }
  co_return out;
}

/// The writes a full disk (or a file size limit) must refuse out loud, on files in `dir` that can
/// each hold `room` bytes, with `err` the errno expected: the error surfaces from the call that
/// could not write, names the path, and the file holds exactly the first `room` bytes, in order.
trio::task<> check_writes_refused(const temp_dir& dir, std::size_t room, int err) {
  const std::string msg = std::strerror(err);
  {  // buffered writes of 1000 bytes (not a divisor of the buffer), then aclose
    INFO("buffered writes + aclose");
    const std::string p = dir / "buffered";
    const std::string data = random_bytes(room + 40'000, 1);
    auto f = co_await trio::open_file(p, "wb");
    const os_error first = (co_await write_in_pieces(f, data, 1000)).error;
    const os_error closing = co_await error_of(f.aclose());
    CHECK_FALSE(f.is_open());
    if (first.code != 0) {  // a write that flushed failed: the bytes it kept fail again at aclose
      CHECK(first.code == err);
      CHECK(first.what.find("trio::async_file::write: writing '" + p + "' failed") != std::string::npos);
    }
    CHECK(closing.code == err);
    CHECK(closing.what.find("trio::async_file::aclose: writing '" + p + "' failed: " + msg) != std::string::npos);
    const std::string got = slurp(p);
    CHECK(got.size() == room);
    CHECK(got == data.substr(0, got.size()));
    std::filesystem::remove(p);
  }
  {  // one write larger than the buffer: written directly
    INFO("unbuffered write");
    const std::string p = dir / "unbuffered";
    const std::string data = random_bytes(room + 70'000, 2);
    auto f = co_await trio::open_file(p, "wb");
    const os_error e = co_await error_of(f.write(data));
    CHECK(e.code == err);
    CHECK(e.what.find("trio::async_file::write: writing '" + p + "' failed: " + msg) != std::string::npos);
    CHECK((co_await error_of(f.aclose())).code == 0);  // nothing buffered
    const std::string got = slurp(p);
    CHECK(got.size() == room);
    CHECK(got == data.substr(0, got.size()));
    std::filesystem::remove(p);
  }
  {
    INFO("write_file");
    const std::string p = dir / "whole";
    const std::string data = random_bytes(2 << 20, 3);
    const os_error e = co_await error_of(trio::write_file(p, data));
    CHECK(e.code == err);
    CHECK(e.what.find("'" + p + "'") != std::string::npos);
    const std::string got = slurp(p);
    CHECK(got.size() == room);
    CHECK(got == data.substr(0, got.size()));
    std::filesystem::remove(p);
  }
  {  // a failed flush keeps the bytes it could not write: destroying the file says so on stderr
    INFO("flush, then the destructor");
    const std::string p = dir / "flushed";
    const std::string data = random_bytes(room + 5000, 4);
    std::string what;
    {
      auto f = co_await trio::open_file(p, "wb");
      for (std::size_t at = 0; at < room - 3000; at += 1000)
        co_await f.write(std::string_view(data).substr(at, std::min<std::size_t>(1000, room - 3000 - at)));
      co_await f.flush();
      co_await f.write(std::string_view(data).substr(room - 3000));
      const os_error e = co_await error_of(f.flush());
      CHECK(e.code == err);
      CHECK(e.what.find("trio::async_file::flush: writing '" + p + "' failed: " + msg) != std::string::npos);
      CHECK(f.tell() == data.size());
      test::stderr_capture capture;
      f = trio::async_file();  // destroyed without aclose
      what = capture.text();
    }
    CHECK(what.find("5000 bytes written to '" + p + "' were lost") != std::string::npos);
    CHECK(what.find(msg) != std::string::npos);
    CHECK(what.find("aclose()") != std::string::npos);
    const std::string got = slurp(p);
    CHECK(got.size() == room);
    CHECK(got == data.substr(0, got.size()));
    std::filesystem::remove(p);
  }
}

/// A file in `dir` that can hold `room` bytes until make_room() is called: a failed write keeps the
/// buffered bytes it could not write, and after make_room() the next flush writes them where they
/// belong (the file holds every byte of the writes that returned, in order).
template <class MakeRoom>
trio::task<> check_flush_again(const temp_dir& dir, std::size_t room, int err, MakeRoom make_room) {
  const std::string p = dir / "again";
  const std::string data = random_bytes(room + 30'000, 5);
  auto f = co_await trio::open_file(p, "w+b");
  const pieces_written w = co_await write_in_pieces(f, data, 7000);
  const std::size_t written = w.bytes;  // the bytes of the writes that returned
  os_error e = w.error;
  if (e.code == 0) e = co_await error_of(f.flush());  // everything fitted in the buffer
  CHECK(e.code == err);
  CHECK(slurp(p).size() == room);
  make_room();
  co_await f.flush();
  CHECK(slurp(p) == data.substr(0, written));
  CHECK(f.tell() == written);
  co_await f.write(std::string_view(data).substr(written));
  CHECK(co_await f.seek(0) == 0);
  CHECK(co_await f.read_all() == data);
  co_await f.aclose();
  CHECK(slurp(p) == data);
}

}  // namespace

TRIO_TEST_CASE("FILE-01 open_file writes, reads back and closes / read_line iterates lines", "[file][FILE-01]") {
  temp_dir dir;
  const auto fds = test::open_fds();
  auto f = co_await trio::open_file(dir / "a.txt", "w");
  CHECK(f.is_open());
  CHECK(test::open_fds() == fds + 1);
  co_await f.write("hello\n");
  co_await f.write(std::string_view("world\n"));
  co_await f.aclose();
  CHECK_FALSE(f.is_open());
  CHECK(test::open_fds() == fds);
  CHECK(slurp(dir / "a.txt") == "hello\nworld\n");
  const std::vector<std::string> want1{"hello", "world"};
  CHECK(co_await all_lines(dir / "a.txt") == want1);
  CHECK(co_await trio::read_file(dir / "a.txt") == "hello\nworld\n");
  co_await trio::write_file(dir / "b.txt", "x\ny");
  CHECK(slurp(dir / "b.txt") == "x\ny");
  CHECK(test::open_fds() == fds);
}

TRIO_TEST_CASE("FILE-01 in a cancelled scope write raises cancelled and aclose raises cancelled, closing the file",
               "[file][FILE-01]") {
  temp_dir dir;
  const auto fds = test::open_fds();
  auto f = co_await trio::open_file(dir / "c.txt", "w");
  co_await f.write("kept\n");  // buffered
  test::event_log log;
  trio::cancel_scope scope;
  scope.cancel();
  co_await scope.enter([&]() -> trio::task<> {
    try {
      co_await f.write("lost\n");
    } catch (const trio::cancelled&) {
      log("write: cancelled");
    }
    try {
      co_await f.aclose();
    } catch (const trio::cancelled&) {
      log("aclose: cancelled");
      throw;
    }
  });
  CHECK(log.entries == std::vector<std::string>{"write: cancelled", "aclose: cancelled"});
  CHECK(scope.cancelled_caught());
  CHECK_FALSE(f.is_open());
  CHECK(test::open_fds() == fds);
  CHECK(slurp(dir / "c.txt") == "kept\n");  // the close was shielded and wrote the buffer out
}

TRIO_TEST_CASE("open_file modes: r, w, a, x, +, b / bad modes are invalid_argument", "[file]") {
  temp_dir dir;
  const std::string p = dir / "m.txt";
  co_await trio::write_file(p, "one\n");
  {
    auto f = co_await trio::open_file(p, "a");
    co_await f.write("two\n");
    co_await f.aclose();
  }
  CHECK(slurp(p) == "one\ntwo\n");
  {
    auto f = co_await trio::open_file(p, "r+b");
    std::string first(4, '\0');
    CHECK(co_await f.read(bytes(first)) == 4);
    CHECK(first == "one\n");
    CHECK(f.tell() == 4);
    co_await f.write("TWO\n");  // overwrites at the position after what was read
    CHECK(f.tell() == 8);
    CHECK(co_await f.seek(0) == 0);
    CHECK(co_await f.read_all() == "one\nTWO\n");
    CHECK(co_await f.seek(-4, SEEK_END) == 4);
    CHECK(co_await f.read_line() == std::optional<std::string>("TWO"));
    CHECK(co_await f.read_line() == std::nullopt);
    CHECK(co_await f.size() == 8);
    co_await f.aclose();
  }
  {
    auto f = co_await trio::open_file(p, "w+");  // truncates
    CHECK(co_await f.read_all() == "");
    co_await f.write("new");
    co_await f.seek(0);
    CHECK(co_await f.read_all() == "new");
    co_await f.aclose();
  }
  {
    auto f = co_await trio::open_file(p, "a+");
    co_await f.write("!");
    co_await f.seek(0);
    CHECK(co_await f.read_all() == "new!");
    co_await f.aclose();
  }
  CHECK_THROWS_AS(co_await trio::open_file(p, "x"), std::system_error);  // exists
  auto x = co_await trio::open_file(dir / "new.txt", "xb");
  co_await x.aclose();
  for (const char* bad : {"", "q", "rw", "r++", "rbt", "bb", "+"}) {
    try {
      co_await trio::open_file(p, bad);
      FAIL("mode accepted: " << bad);
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()).find("invalid mode \"" + std::string(bad) + "\"") != std::string::npos);
    }
  }
}

TRIO_TEST_CASE("open_file errors name the path and the operation / no fd is leaked", "[file]") {
  temp_dir dir;
  const auto fds = test::open_fds();
  auto message_of = [](auto&& awaitable) -> trio::task<std::string> {
    try {
      co_await std::move(awaitable);
    } catch (const std::system_error& e) {
      co_return std::string(e.what()) + " [" + std::to_string(e.code().value()) + "]";
    }
    co_return "no error";
  };
  const std::string missing = dir / "missing.txt";
  std::string m = co_await message_of(trio::open_file(missing));
  CHECK(m.find("cannot open '" + missing + "'") != std::string::npos);
  CHECK(m.find("No such file or directory [" + std::to_string(ENOENT) + "]") != std::string::npos);
  m = co_await message_of(trio::open_file(dir.path.string()));  // a directory, for reading
  CHECK(m.find("Is a directory [" + std::to_string(EISDIR) + "]") != std::string::npos);
  m = co_await message_of(trio::open_file(dir.path.string(), "w"));
  CHECK(m.find("[" + std::to_string(EISDIR) + "]") != std::string::npos);
  co_await trio::write_file(dir / "f", "x");
  m = co_await message_of(trio::open_file(dir / "f" + std::string("/below")));
  CHECK(m.find("[" + std::to_string(ENOTDIR) + "]") != std::string::npos);
  if (::geteuid() != 0) {  // root is not refused
    ::chmod((dir / "f").c_str(), 0);
    m = co_await message_of(trio::open_file(dir / "f"));
    CHECK(m.find("[" + std::to_string(EACCES) + "]") != std::string::npos);
  }
  m = co_await message_of(trio::read_file(missing));
  CHECK(m.find(missing) != std::string::npos);
  CHECK(test::open_fds() == fds);
}

TRIO_TEST_CASE("read_line: no trailing newline, empty lines, CRLF, lines longer than the buffer", "[file]") {
  temp_dir dir;
  spit(dir / "a", "a\n\nb\r\n\r\nlast");
  const std::vector<std::string> want2{"a", "", "b", "", "last"};
  CHECK(co_await all_lines(dir / "a") == want2);
  spit(dir / "b", "");
  CHECK((co_await all_lines(dir / "b")).empty());
  spit(dir / "c", "\n");
  const std::vector<std::string> want3{""};
  CHECK(co_await all_lines(dir / "c") == want3);
  spit(dir / "d", "only\r");
  const std::vector<std::string> want4{"only"};
  CHECK(co_await all_lines(dir / "d") == want4);
  const std::string big(200'000, 'x'), big2(70'000, 'y');  // each longer than the 64 KiB buffer
  spit(dir / "e", "s\n" + big + "\r\n" + big2 + "\nt\n" + big);
  const std::vector<std::string> want5{"s", big, big2, "t", big};
  CHECK(co_await all_lines(dir / "e") == want5);
  // A \r\n split across two buffer fills.
  std::string split(64 * 1024 - 1, 'z');
  spit(dir / "f", split + "\r\nnext\n");
  const std::vector<std::string> want6{split, "next"};
  CHECK(co_await all_lines(dir / "f") == want6);
}

TRIO_TEST_CASE("read_line and write from the buffer: 300,000 calls in a loop do not nest on the stack", "[file]") {
  temp_dir dir;
  constexpr int lines = 300'000;
  auto f = co_await trio::open_file(dir / "many", "w");
  for (int i = 0; i < lines; ++i) co_await f.write(std::to_string(i) + "\n");
  co_await f.aclose();
  auto g = co_await trio::open_file(dir / "many");
  std::string line;
  int n = 0;
  bool in_order = true;
  while (co_await g.read_line(line)) in_order &= line == std::to_string(n++);
  co_await g.aclose();
  CHECK(n == lines);
  CHECK(in_order);
}

TRIO_TEST_CASE("read(span) is buffered: many small reads reassemble the file, 0 at the end", "[file]") {
  temp_dir dir;
  std::string data(300'000, '\0');
  std::mt19937 rng(7);
  for (auto& c : data) c = static_cast<char>(rng());
  spit(dir / "r", data);
  auto f = co_await trio::open_file(dir / "r", "rb");
  std::string got;
  std::uniform_int_distribution<std::size_t> size(1, 100'000);
  for (;;) {
    std::string chunk(size(rng), '\0');
    const std::size_t n = co_await f.read(bytes(chunk));
    if (n == 0) break;
    got.append(chunk, 0, n);
  }
  CHECK(got == data);
  co_await f.aclose();
}

TRIO_TEST_CASE("a 256 MiB file written and read back identical", "[file]") {
  temp_dir dir;
  std::string block(1 << 20, '\0');
  std::mt19937_64 rng(1);
  for (std::size_t i = 0; i < block.size(); i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(block.data() + i, &v, 8);
  }
  auto f = co_await trio::open_file(dir / "big", "wb");
  for (int i = 0; i < 256; ++i) {
    block[0] = static_cast<char>(i);  // every MiB differs
    co_await f.write(block);
  }
  co_await f.aclose();
  CHECK(std::filesystem::file_size(dir / "big") == 256u << 20);
  const std::string all = co_await trio::read_file(dir / "big");
  REQUIRE(all.size() == 256u << 20);
  bool same = true;
  for (int i = 0; i < 256; ++i) {
    block[0] = static_cast<char>(i);
    same &= std::memcmp(all.data() + (static_cast<std::size_t>(i) << 20), block.data(), block.size()) == 0;
  }
  CHECK(same);
}

TRIO_TEST_CASE("read_at from 64 tasks at once / write_at / the position does not move", "[file]") {
  temp_dir dir;
  std::string data;
  for (int i = 0; i < 64 * 4096 / 8; ++i) {
    char line[16];
    std::snprintf(line, sizeof line, "%07d\n", i);
    data += line;
  }
  spit(dir / "p", data);
  auto f = co_await trio::open_file(dir / "p", "r+");
  std::vector<std::string> pieces(64, std::string(4096, '\0'));
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i = 0; i < 64; ++i)
      n.start_soon([&, i]() -> trio::task<> {
        CHECK(co_await f.read_at(bytes(pieces[static_cast<std::size_t>(i)]), static_cast<std::uint64_t>(i) * 4096) ==
              4096);
      });
    co_return;
  });
  for (int i = 0; i < 64; ++i)
    CHECK(pieces[static_cast<std::size_t>(i)] == data.substr(static_cast<std::size_t>(i) * 4096, 4096));
  co_await f.write_at("ABCDEFG", 8);
  CHECK(f.tell() == 0);
  CHECK(co_await f.read_line() == std::optional<std::string>("0000000"));
  CHECK(co_await f.read_line() == std::optional<std::string>("ABCDEFG"));
  co_await f.aclose();
}

TRIO_TEST_CASE("two tasks using one file: busy_resource_error / a closed file: closed_resource_error", "[file]") {
  temp_dir dir;
  spit(dir / "b", "line\n");
  auto f = co_await trio::open_file(dir / "b");
  int busy = 0, got = 0;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i = 0; i < 2; ++i)
      n.start_soon([&]() -> trio::task<> {
        try {
          if (co_await f.read_line()) ++got;
        } catch (const trio::busy_resource_error& e) {
          CHECK(std::string(e.what()).find("another task is already using") != std::string::npos);
          ++busy;
        }
      });
    co_return;
  });
  CHECK(busy == 1);
  CHECK(got == 1);
  co_await f.aclose();
  co_await f.aclose();  // a checkpoint only
  CHECK_THROWS_AS(co_await f.read_line(), trio::closed_resource_error);
  CHECK_THROWS_AS(co_await f.write("x"), trio::closed_resource_error);
  CHECK_THROWS_AS(co_await f.read_all(), trio::closed_resource_error);
  auto r = co_await trio::open_file(dir / "b", "r");
  CHECK_THROWS_AS(co_await r.write("x"), std::logic_error);
  auto w = co_await trio::open_file(dir / "w", "w");
  CHECK_THROWS_AS(co_await w.read_line(), std::logic_error);
  co_await r.aclose();
  co_await w.aclose();
}

TRIO_TEST_CASE("a destroyed file writes out its buffer and closes / sync and flush", "[file]") {
  temp_dir dir;
  const auto fds = test::open_fds();
  {
    auto f = co_await trio::open_file(dir / "d", "w");
    co_await f.write("buffered");
    CHECK(slurp(dir / "d").empty());
    co_await f.flush();
    CHECK(slurp(dir / "d") == "buffered");
    co_await f.write("+more");
    co_await f.sync();
    CHECK(slurp(dir / "d") == "buffered+more");
    co_await f.write("+tail");
  }
  CHECK(slurp(dir / "d") == "buffered+more+tail");
  CHECK(test::open_fds() == fds);
}

TRIO_TEST_CASE("read_line is a cancel point even when the line is buffered", "[file]") {
  temp_dir dir;
  spit(dir / "l", "a\nb\n");
  auto f = co_await trio::open_file(dir / "l");
  CHECK(co_await f.read_line() == std::optional<std::string>("a"));
  co_await trio::move_on_after(0s, [&]() -> trio::task<> {
    (void)co_await f.read_line();
    FAIL("read_line did not raise cancelled");
  });
  CHECK(co_await f.read_line() == std::optional<std::string>("b"));  // the cancelled call consumed nothing
  co_await f.aclose();
}

TRIO_TEST_CASE("a full disk: write, flush, aclose and write_file raise ENOSPC and the file holds what was written",
               "[file][fault]") {
  small_tmpfs disk("64k");
  if (!disk.mounted) {
    WARN("not run: " << disk.why_not);
    co_return;
  }
  // Leave 12 KiB free.
  const std::uint64_t free_bytes = disk.free_bytes();
  REQUIRE(free_bytes > 12 * 1024);
  spit(disk.dir / "filler", std::string(free_bytes - 12 * 1024, 'f'));
  REQUIRE(disk.free_bytes() == 12 * 1024);
  co_await check_writes_refused(disk.dir, 12 * 1024, ENOSPC);
  co_await check_flush_again(disk.dir, 12 * 1024, ENOSPC, [&] { std::filesystem::remove(disk.dir / "filler"); });
}

TRIO_TEST_CASE("a file size limit: write, flush, aclose and write_file raise EFBIG and the file holds what was written",
               "[file][fault]") {
  temp_dir dir;
  constexpr std::size_t limit = 100'003;  // a short write in the middle of the second 64 KiB flush
  {
    file_size_limit lowered(limit);
    co_await check_writes_refused(dir, limit, EFBIG);
  }
  file_size_limit lowered(limit);
  co_await check_flush_again(dir, limit, EFBIG, [&] { lowered.raise(); });
}

TRIO_TEST_CASE("a file size limit in append mode: EFBIG, the file holds its start and what was appended, in order",
               "[file][fault]") {
  temp_dir dir;
  const std::string p = dir / "log";
  const std::string start = random_bytes(1000, 6), more = random_bytes(200'000, 7);
  spit(p, start);
  file_size_limit lowered(100'003);
  auto f = co_await trio::open_file(p, "a");
  const auto [e, written] = co_await write_in_pieces(f, more, 3000);
  CHECK(e.code == EFBIG);
  CHECK(e.what.find("trio::async_file::write: writing '" + p + "' failed") != std::string::npos);
  std::string got = slurp(p);
  CHECK(got.size() == 100'003);
  CHECK(got == (start + more).substr(0, got.size()));
  lowered.raise();
  co_await f.aclose();  // the bytes the buffer kept go after those already appended
  CHECK(slurp(p) == start + more.substr(0, written));
}

TRIO_TEST_CASE("the position: tell, seek from the current position and the end, reads after writes, write_at",
               "[file]") {
  temp_dir dir;
  const std::string p = dir / "pos";
  const std::string data = random_bytes(150'000, 8);
  auto f = co_await trio::open_file(p, "w+b");
  CHECK(f.tell() == 0);
  co_await f.write(std::string_view(data).substr(0, 100));
  CHECK(f.tell() == 100);
  co_await f.write(std::string_view(data).substr(100));  // past the buffer: written directly
  CHECK(f.tell() == data.size());
  CHECK(co_await f.seek(-50'000, SEEK_CUR) == 100'000);
  std::string got(10, '\0');
  CHECK(co_await f.read(bytes(got)) == 10);  // fills the read buffer with the rest
  CHECK(got == data.substr(100'000, 10));
  CHECK(f.tell() == 100'010);
  CHECK(co_await f.seek(5, SEEK_CUR) == 100'015);
  CHECK(co_await f.read(bytes(got)) == 10);
  CHECK(got == data.substr(100'015, 10));
  co_await f.write("XYZ");  // where the reading stopped, not where the read buffer ended
  CHECK(f.tell() == 100'028);
  CHECK(co_await f.seek(-3, SEEK_CUR) == 100'025);
  CHECK(co_await f.read(bytes(got)) == 10);
  CHECK(got == "XYZ" + data.substr(100'028, 7));
  CHECK(co_await f.seek(-10, SEEK_END) == data.size() - 10);
  CHECK(co_await f.read_all() == data.substr(data.size() - 10));
  CHECK(f.tell() == data.size());
  co_await f.write_at("at", 2);
  CHECK(f.tell() == data.size());
  co_await f.write("!");
  CHECK(co_await f.seek(0) == 0);
  std::string want = data;
  want.replace(100'025, 3, "XYZ");
  want.replace(2, 2, "at");
  want += "!";
  CHECK(co_await f.read_all() == want);
  CHECK(co_await f.size() == want.size());
  CHECK_THROWS_AS(co_await f.seek(-1), std::system_error);  // EINVAL: the position stays
  CHECK(f.tell() == want.size());
  co_await f.aclose();
  CHECK(slurp(p) == want);
}

TRIO_TEST_CASE("a FIFO: writes larger than the pipe go through in order, seek and tell raise ESPIPE", "[file]") {
  temp_dir dir;
  const std::string p = dir / "fifo";
  REQUIRE(::mkfifo(p.c_str(), 0600) == 0);
  const std::string data = random_bytes(300'000, 9);
  auto w = co_await trio::open_file(p, "r+b");  // a FIFO opened for reading and writing does not wait for a peer
  auto r = co_await trio::open_file(p, "rb");
  std::string got;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      for (std::size_t at = 0; at < data.size(); at += 1000) co_await w.write(std::string_view(data).substr(at, 1000));
      co_await w.write(std::string_view(data).substr(0, 100'000));  // one write past the buffer
      co_await w.aclose();
    });
    got = co_await r.read_all();
  });
  CHECK(got == data + data.substr(0, 100'000));
  CHECK_THROWS_AS(r.tell(), std::system_error);
  CHECK_THROWS_AS(co_await r.seek(0), std::system_error);
  co_await r.aclose();
}

TRIO_TEST_CASE("IO a file read (a FIFO): a shield raised while the cancel is in flight: the read is submitted again",
               "[file][io]") {
  temp_dir dir;
  const std::string p = dir / "fifo";
  REQUIRE(::mkfifo(p.c_str(), 0600) == 0);
  auto w = co_await trio::open_file(p, "r+b");  // a FIFO opened for reading and writing does not wait for a peer
  auto r = co_await trio::open_file(p, "rb");
  test::event_log rec;
  trio::cancel_scope outer, inner;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await outer.enter([&]() -> trio::task<> {
        co_await inner.enter([&]() -> trio::task<> {
          std::string buf(16, '\0');
          rec("read");
          const std::size_t k = co_await r.read(std::as_writable_bytes(std::span(buf)));
          rec("got " + buf.substr(0, k));
        });
        rec("after the shielded scope");
      });
    });
    co_await trio::testing::wait_all_tasks_blocked();
    outer.cancel();          // the abort submits ASYNC_CANCEL...
    inner.set_shield(true);  // ...and before its completion arrives, the read is shielded
    rec("cancelled, then shielded");
    co_await trio::sleep(1s);
    CHECK(trio::lowlevel::current_statistics().io_operations_in_flight == 1);  // the read, submitted again
    rec("write");
    co_await w.write(std::string_view("hello"));
    co_await w.flush();
  });
  CHECK(rec.entries ==
        std::vector<std::string>{"read", "cancelled, then shielded", "write", "got hello", "after the shielded scope"});
  CHECK_FALSE(inner.cancelled_caught());
  CHECK_FALSE(outer.cancelled_caught());
  co_await w.aclose();
  co_await r.aclose();
}
