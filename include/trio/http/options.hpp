#pragma once
/// \file
/// trio::http's options: client_options (a client's, for all its requests), request_options (one
/// request's), and the timeout_config and limits they hold.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "trio/clock.hpp"
#include "trio/http/header_map.hpp"

namespace trio::http {

/// Timeouts per phase, as httpx's (5 s each by default): connect, read (no byte received for that
/// long), write (no byte sent for that long), pool (accepted, not enforced: curl queues requests
/// beyond max_connections and runs them as connections free up). libcurl enforces them: read and write
/// share one check, no progress for the longer of the two (in whole seconds), off when both are zero;
/// a zero connect means libcurl's default (300 s). For a limit on the whole request, put it in a
/// trio::fail_after.
struct timeout_config {
  /// Connecting: name lookup, TCP and TLS handshakes (0: libcurl's default, 300 s).
  trio::duration connect = std::chrono::seconds(5);
  trio::duration read = std::chrono::seconds(5);   ///< No byte received for this long (shares write's check).
  trio::duration write = std::chrono::seconds(5);  ///< No byte sent for this long (shares read's check).
  trio::duration pool = std::chrono::seconds(5);   ///< Waiting for a free connection: accepted, not enforced.
};

/// The connection pool's limits, as httpx's defaults.
struct limits {
  std::size_t max_connections = 100;                          ///< connections open at once (more requests wait)
  std::size_t max_keepalive_connections = 20;                 ///< idle connections kept for reuse
  trio::duration keepalive_expiry = std::chrono::seconds(5);  ///< an idle connection older than this is not reused
};

class transport;

/// A client's settings, for all its requests (a request's request_options override some of them).
struct client_options {
  std::string base_url;           ///< relative request URLs are resolved against it
  header_list headers;            ///< sent with every request (a request's own headers of the same name win)
  header_list params;             ///< query parameters added to every request
  timeout_config timeout;         ///< Per-phase timeouts (5 s each by default); a request's own win.
  http::limits limits;            ///< The connection pool's limits.
  bool follow_redirects = false;  ///< Follow 3xx redirects (false: a 3xx is returned as the response).
  int max_redirects = 20;         ///< With follow_redirects, more redirects than this: too_many_redirects.
  bool http2 = false;             ///< offer HTTP/2 (over TLS by ALPN); else HTTP/1.1 only
  std::string ca_file;            ///< trust these CAs (PEM file) instead of the system store
  bool verify = true;             ///< false: no certificate or host name check (tests only)
  std::string user_agent;         ///< empty: "trio-cpp-http/1"
  std::string proxy;              ///< e.g. "http://proxy:3128"; empty: curl's environment rules
  /// The most decoded body bytes get()/request() keep in memory (256 MiB by default; 0: no limit). A
  /// response over it fails with response_too_large as soon as its Content-Length or its decoded
  /// bytes say so (a gzip bomb is stopped after max_response_size bytes of output). Bigger bodies:
  /// stream() them, which holds a bounded buffer whatever the size.
  std::size_t max_response_size = std::size_t(256) << 20;
  /// curl's verbose output (curl -v), a line at a time, each named by its request: "[#3] * Connected
  /// to ...", "[#3] > GET / HTTP/1.1", "[#3] < HTTP/1.1 200 OK". For diagnosing; empty: none. It is
  /// called from inside libcurl: it must not use this client (log the line and return).
  std::function<void(std::string_view)> debug;
  /// Sends the requests instead of libcurl (e.g. a mock_transport in tests); empty: libcurl.
  std::shared_ptr<http::transport> transport;
};

/// One request's settings; what is left unset comes from the client's client_options.
struct request_options {
  header_list params;                            ///< query parameters (URL-encoded and appended)
  header_list headers;                           ///< request headers
  std::string content;                           ///< the body, as is
  std::optional<std::string> json;               ///< a JSON body the caller serialised (Content-Type: application/json)
  std::optional<header_list> form;               ///< an urlencoded form body
  std::optional<timeout_config> timeout;         ///< this request's timeouts (unset: the client's)
  std::optional<bool> follow_redirects;          ///< whether to follow redirects (unset: the client's)
  std::optional<std::size_t> max_response_size;  ///< this request's limit (see client_options)
};

}  // namespace trio::http
