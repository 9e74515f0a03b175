#pragma once
// What test_ssl.cpp and test_ssl_interop.cpp share: the test certificates and contexts, stream pairs.

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

}  // namespace ssl_helpers
