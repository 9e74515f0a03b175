#pragma once
/// \file
/// trio::http's errors, httpx's hierarchy: http::error and its kinds (connect_error, read_error,
/// write_error, timeout_error, too_many_redirects, protocol_error, response_too_large, invalid_url).
/// http_status_error, which carries a response, is in http/response.hpp.

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

namespace trio::http {

// ---- errors: httpx's hierarchy --------------------------------------------------------------------

/// Every HTTP failure; what() names the method and URL and includes curl's own text.
class error : public std::runtime_error {
 public:
  /// An error with message `what` for the request `method` `url` (the client makes these).
  error(const std::string& what, std::string method, std::string url)
      : std::runtime_error(what), method_(std::move(method)), url_(std::move(url)) {}
  /// The request's method ("GET", ...).
  const std::string& method() const noexcept { return method_; }
  /// The request's URL (resolved against base_url, with its parameters).
  const std::string& url() const noexcept { return url_; }

 private:
  std::string method_, url_;
};
/// Could not connect: refused, no such host, TLS handshake or certificate verification failed.
class connect_error : public error {
  using error::error;
};
/// The connection failed while receiving.
class read_error : public error {
  using error::error;
};
/// The connection failed while sending.
class write_error : public error {
  using error::error;
};
/// A phase took longer than its timeout; phase() is "connect", "read", "write" or "pool".
class timeout_error : public error {
 public:
  /// An error for the request, as http::error's, that timed out in `phase`.
  timeout_error(const std::string& what, std::string method, std::string url, std::string phase)
      : error(what, std::move(method), std::move(url)), phase_(std::move(phase)) {}
  /// The phase that timed out: "connect", "read", "write" or "pool".
  const std::string& phase() const noexcept { return phase_; }

 private:
  std::string phase_;
};
/// follow_redirects met more redirects than max_redirects.
class too_many_redirects : public error {
  using error::error;
};
/// The peer broke HTTP: closed mid-body, sent nothing, sent garbage, a status line or header curl
/// cannot read, a header too large, chunked framing errors, conflicting Content-Length values, a
/// broken content encoding (httpx's RemoteProtocolError). what() includes curl's own text.
class protocol_error : public error {
  using error::error;
};
/// The response body is larger than max_response_size (client_options or request_options); what()
/// names the limit. The transfer was stopped there: nothing beyond the limit was kept or decoded.
class response_too_large : public error {
 public:
  /// An error for the request, as http::error's, whose body passed `limit` bytes.
  response_too_large(const std::string& what, std::string method, std::string url, std::size_t limit)
      : error(what, std::move(method), std::move(url)), limit_(limit) {}
  /// The max_response_size that was exceeded, in bytes.
  std::size_t limit() const noexcept { return limit_; }

 private:
  std::size_t limit_;
};
/// The URL cannot be parsed, or its scheme is not supported. (Not also a std::invalid_argument:
/// two std::exception bases would make `catch (const std::exception&)` miss it.)
class invalid_url : public error {
  using error::error;
};

}  // namespace trio::http
