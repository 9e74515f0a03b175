// A program that uses the trio::http component the way a downstream project does: a GET to a
// one-line HTTP server it runs itself on loopback.
#include <cstdio>
#include <string>
#include <vector>

#include <trio/http.hpp>
#include <trio/trio.hpp>

trio::task<> reply(trio::socket_stream s) {
  std::string request;
  while (request.find("\r\n\r\n") == std::string::npos) {
    std::string chunk = co_await s.receive_some();
    if (chunk.empty()) co_return;
    request += chunk;
  }
  co_await s.send_all(std::string_view("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"));
}

trio::task<int> main_task() {
  int rc = 1;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    std::vector<trio::socket_address> at =
        co_await n.start(trio::serve_tcp, reply, 0, "127.0.0.1", trio::serve_options{});
    trio::http::client client;
    trio::http::response r = co_await client.get("http://127.0.0.1:" + std::to_string(at[0].port()) + "/");
    rc = r.status_code() == 200 && r.text() == "ok" ? 0 : 1;
    n.cancel_scope().cancel();
  });
  co_return rc;
}

int main() {
  const int rc = trio::run(main_task);
  std::puts(rc == 0 ? "http consumer ok" : "http consumer FAILED");
  return rc;
}
