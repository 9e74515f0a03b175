#include <trio/open_udp_socket.hpp>  // first: the header compiles on its own

#include "support/helpers.hpp"

TEST_CASE("open_udp_socket: a bound server and a connected client", "[net][udp]") {
  test::run_real([]() -> trio::task<> {
    trio::socket server = co_await trio::open_udp_socket("127.0.0.1", 0, true);
    const auto addr = server.local_address();
    trio::socket client = co_await trio::open_udp_socket("127.0.0.1", addr.port());
    co_await client.send(std::string_view("ping"));
    std::string buf(16, '\0');
    auto [n, from] = co_await server.recvfrom(std::as_writable_bytes(std::span(buf)));
    CHECK(buf.substr(0, n) == "ping");
    co_await server.sendto(std::string_view("pong"), from);
    CHECK(co_await client.recv(std::as_writable_bytes(std::span(buf))) == 4);
  });
}
