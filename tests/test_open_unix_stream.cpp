#include <trio/open_unix_stream.hpp>  // first: the header compiles on its own

#include "support/helpers.hpp"

TEST_CASE("NET-13 open_unix_stream and a Unix listener", "[net][NET-13]") {
  test::run_real([]() -> trio::task<> {
    const std::string path = "/tmp/trio-test-" + std::to_string(::getpid()) + ".sock";
    try {
      co_await trio::open_unix_stream(path);
      FAIL("connected to a missing path");
    } catch (const std::system_error& e) {
      CHECK(e.code().value() == ENOENT);
      CHECK_THAT(e.what(), Catch::Contains(path));
    }
    trio::socket_listener l = trio::open_unix_listener(path);
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> {
        trio::socket_stream s = co_await l.accept();
        co_await s.send_all(std::string_view("unix"));
      });
      trio::socket_stream c = co_await trio::open_unix_stream(path);
      CHECK(co_await c.receive_some() == "unix");
    });
    ::unlink(path.c_str());
  });
}
