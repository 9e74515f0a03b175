#pragma once
// What the HTTP tests share: the Python servers they talk to (started on loopback, stopped by their
// pid), and a SHA-256 of a body.

#include <openssl/evp.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include <trio/process.hpp>
#include <trio/timeouts.hpp>

#include "helpers.hpp"

namespace test {

using namespace std::chrono_literals;

/// The Python server, running; base() is its "http://127.0.0.1:PORT".
struct python_server {
  trio::process proc;
  std::string port;
  std::string base() const { return "http://127.0.0.1:" + port; }
};

inline trio::task<python_server> start_python_server(const char* script = TRIO_HTTP_TEST_SERVER) {
  trio::process_options o;
  o.stdin_mode = trio::redirect::pipe;
  o.stdout_mode = trio::redirect::pipe;
  const std::vector<std::string> argv{"python3", script};
  trio::process p = co_await trio::open_process(argv, o);
  std::string port;
  co_await trio::fail_after(10s, [&]() -> trio::task<> {
    std::array<std::byte, 64> buf;
    while (port.find('\n') == std::string::npos) {
      const std::size_t k = co_await p.stdout().receive_some(buf);
      if (k == 0) break;
      port.append(reinterpret_cast<const char*>(buf.data()), k);
    }
  });
  REQUIRE(port.find('\n') != std::string::npos);
  port.resize(port.find('\n'));
  co_return python_server{std::move(p), port};
}

inline trio::task<void> stop(python_server& s) {
  s.proc.kill();
  co_await s.proc.wait();
}

inline std::string sha256_hex(std::string_view data) {
  unsigned char digest[32];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

}  // namespace test

using test::python_server;
using test::sha256_hex;
using test::start_python_server;
using test::stop;
