#include <trio/line_reader.hpp>  // first: the header compiles on its own

#include <trio/testing/memory_streams.hpp>

#include "support/helpers.hpp"

namespace tt = trio::testing;

TRIO_TEST_CASE("line_reader: lines without their newline, CRLF, a last line without newline, empty lines",
               "[line_reader]") {
  tt::memory_receive_stream in;
  in.put_data("one\r\ntwo\n\nthr");
  in.put_data("ee\nlast");
  in.put_eof();
  trio::line_reader lines(in, 64, 3);  // tiny reads: lines span several
  std::vector<std::string> got;
  while (auto line = co_await lines.read_line()) got.push_back(*line);
  CHECK(got == std::vector<std::string>{"one", "two", "", "three", "last"});
  CHECK_FALSE(co_await lines.read_line());
}

TRIO_TEST_CASE("line_reader: a line longer than max_line_length is an error, memory stays bounded", "[line_reader]") {
  tt::memory_receive_stream in;
  in.put_data(std::string(1000, 'x'));
  trio::line_reader lines(in, 100);
  CHECK_THROWS_WITH(co_await lines.read_line(), Catch::Contains("longer than max_line_length (100 bytes)"));
  CHECK(lines.buffered().size() <= 100 + 16384);
}

TRIO_TEST_CASE("line_reader over a socket_stream: many lines, one read per buffer", "[line_reader]") {
  auto p = trio::socket::pair();
  trio::socket_stream a(std::move(p.first)), b(std::move(p.second));
  std::string text;
  for (int i = 0; i < 10'000; ++i) text += "line " + std::to_string(i) + "\n";
  int count = 0;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    auto sender = [&]() -> trio::task<> {
      co_await a.send_all(text);
      co_await a.send_eof();
    };
    n.start_soon(sender);
    trio::line_reader lines(b);
    while (auto line = co_await lines.read_line()) {
      CHECK(*line == "line " + std::to_string(count));
      ++count;
    }
  });
  CHECK(count == 10'000);
}

TRIO_TEST_CASE("line_reader::read_text_line tells a line cut short by the end of the stream from a whole one",
               "[line_reader]") {
  tt::memory_receive_stream in;
  in.put_data("one\r\ntwo\n\nthr");
  in.put_data("ee\nhalf a li");
  in.put_eof();
  trio::line_reader lines(in, 64, 3);
  std::vector<trio::text_line> got;
  while (auto line = co_await lines.read_text_line()) got.push_back(*line);
  CHECK(got ==
        std::vector<trio::text_line>{{"one", true}, {"two", true}, {"", true}, {"three", true}, {"half a li", false}});
  CHECK_FALSE(co_await lines.read_text_line());

  tt::memory_receive_stream whole;
  whole.put_data("a\nb\n");
  whole.put_eof();
  trio::line_reader whole_lines(whole);
  const trio::text_line a{"a", true};  // named: g++ 12 destroys an aggregate temporary in co_await twice
  CHECK(co_await whole_lines.read_text_line() == a);
  CHECK(co_await whole_lines.read_line() == "b");  // the two calls mix
  CHECK_FALSE(co_await whole_lines.read_text_line());
}
