#include <trio/file.hpp>  // first: the header compiles on its own

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "helpers.hpp"

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
