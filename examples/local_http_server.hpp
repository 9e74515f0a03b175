#pragma once
// The small HTTP/1.1 server the HTTP examples start when they get no URLs, so they run offline:
// serve_tcp with one task per connection, keep-alive, Content-Length framing. Paths:
//   /page/N            200 after N x 150 ms, a short HTML page
//   /page/N/missing    404 after N x 150 ms
//   /files/NAME/KIB/N  200 after N x 150 ms, KIB KiB of text
// anything else: 404.

#include <fmt/core.h>
#include <trio/trio.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace local_http {

inline trio::task<> send_response(trio::socket_stream& s, int status, const std::string& body) {
  const char* reason = status == 200 ? "OK" : "Not Found";
  const std::string head = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n",
                                       status, reason, body.size());
  co_await s.send_all(head + body);
}

/// One connection: requests until the client closes it.
inline trio::task<> handle(trio::socket_stream s) {
  trio::line_reader<trio::socket_stream> reader(s);
  for (;;) {
    std::optional<std::string> request = co_await reader.read_line();
    if (!request) co_return;
    while (auto header = co_await reader.read_line())  // the headers, up to the blank line
      if (header->empty()) break;
    // "GET /page/2 HTTP/1.1" -> "/page/2"
    const std::size_t a = request->find(' '), b = request->rfind(' ');
    const std::string path = a == std::string::npos || b <= a ? "/" : request->substr(a + 1, b - a - 1);
    std::vector<std::string> parts;
    for (std::size_t at = 1; at <= path.size();) {
      const std::size_t next = std::min(path.find('/', at), path.size());
      parts.push_back(path.substr(at, next - at));
      at = next + 1;
    }
    if (parts.size() >= 2 && parts[0] == "page") {
      co_await trio::sleep(std::chrono::milliseconds(150 * std::stoi(parts[1])));
      if (parts.size() == 3 && parts[2] == "missing") {
        co_await send_response(s, 404, "<h1>Not Found</h1>");
      } else {
        co_await send_response(s, 200, fmt::format("<h1>Page {}</h1>", parts[1]));
      }
    } else if (parts.size() == 4 && parts[0] == "files") {
      co_await trio::sleep(std::chrono::milliseconds(150 * std::stoi(parts[3])));
      std::string body;
      for (int i = 0; i < std::stoi(parts[2]) * 16; ++i)
        body += fmt::format("{:>6} {:<56}\n", i, parts[1]);  // 64 bytes
      co_await send_response(s, 200, body);
    } else {
      co_await send_response(s, 404, "<h1>Not Found</h1>");
    }
  }
}

/// Starts the server in nursery n on a free port; returns "http://127.0.0.1:PORT".
inline trio::task<std::string> start(trio::nursery& n) {
  std::vector<trio::socket_address> addresses =
      co_await n.start(trio::serve_tcp, handle, 0, "127.0.0.1", trio::serve_options{});
  co_return fmt::format("http://127.0.0.1:{}", addresses[0].port());
}

}  // namespace local_http
