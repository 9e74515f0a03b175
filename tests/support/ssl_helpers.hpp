#pragma once
// What test_ssl.cpp and test_ssl_interop.cpp share: the test certificates and contexts, stream pairs.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <trio/ssl.hpp>

#include <trio/testing/ssl_certs.hpp>

#include "helpers.hpp"

namespace ssl_helpers {

namespace tt = trio::testing;

using mem_ssl = trio::ssl_stream<tt::memory_stream>;
inline constexpr const char* host = "trio-test-1.example.org";

inline const tt::test_certificates& certs() {
  static const tt::test_certificates c = tt::make_test_certificates({host, "127.0.0.1"});
  return c;
}
inline trio::ssl_context server_ctx() {
  static const trio::ssl_context ctx = trio::ssl_context::server_from_pem(certs().cert_pem, certs().key_pem);
  return ctx;
}
inline trio::ssl_context client_ctx(int max_version) {
  auto ctx = trio::ssl_context::client();
  ctx.load_verify_pem(certs().ca_pem);
  ctx.set_max_version(max_version);
  return ctx;
}

inline trio::ssl_stream_options server_opts(bool https_compatible = false) {
  trio::ssl_stream_options o;
  o.server_side = true;
  o.https_compatible = https_compatible;
  return o;
}
inline trio::ssl_stream_options client_opts(bool https_compatible) {
  trio::ssl_stream_options o;
  o.https_compatible = https_compatible;
  return o;
}

template <class Pair>
auto ssl_pair(Pair p, int version, bool client_https = false, bool server_https = false) {
  using S = trio::ssl_stream<typename Pair::first_type>;
  return std::pair<S, S>(S(std::move(p.first), client_ctx(version), host, client_opts(client_https)),
                         S(std::move(p.second), server_ctx(), server_opts(server_https)));
}
inline auto ssl_memory_pair(int version, bool client_https = false, bool server_https = false) {
  return ssl_pair(tt::memory_stream_pair(), version, client_https, server_https);
}

/// Receives until n bytes came (or the end).
template <class S>
trio::task<std::string> receive_exactly(S& s, std::size_t n) {
  std::string got;
  while (got.size() < n) {
    std::string chunk = co_await s.receive_some(n - got.size());
    if (chunk.empty()) break;
    got += chunk;
  }
  co_return got;
}

inline constexpr int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};
inline const char* version_name(int v) { return v == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2"; }

/// Writes the test certificates to a temporary folder (removed at the end).
struct cert_files {
  std::filesystem::path dir;
  std::string ca, cert, key;
  cert_files() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "trio-tls-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    ca = (dir / "ca.pem").string();
    cert = (dir / "cert.pem").string();
    key = (dir / "key.pem").string();
    const std::pair<std::string, std::string> items[] = {
        {ca, certs().ca_pem}, {cert, certs().cert_pem}, {key, certs().key_pem}};
    for (const auto& item : items) {
      std::FILE* f = std::fopen(item.first.c_str(), "w");
      std::fwrite(item.second.data(), 1, item.second.size(), f);
      std::fclose(f);
    }
  }
  ~cert_files() { std::filesystem::remove_all(dir); }
};

/// A port that was free a moment ago.
inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace ssl_helpers
