#pragma once
/// \file
/// trio::http::response, a whole response (status, headers, body, URL, redirect history), and
/// http_status_error, what its raise_for_status() throws for a 4xx or 5xx status.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "trio/http/errors.hpp"
#include "trio/http/header_map.hpp"

namespace trio::http {

/// A complete response: status, headers and the whole body in memory (what client::request and its
/// get/post/... return). A 4xx/5xx status is a response too, not an error (see raise_for_status).
class response {
 public:
  response() = default;
  /// A response made by hand: by a transport other than libcurl, or a test's mock_transport
  /// (httpx.Response(200, content=...)). The reason phrase is the status's standard one; the client
  /// fills in the method and URL (of the request) when the transport leaves them empty.
  explicit response(int status) : response(status, header_list{}, std::string()) {}
  /// A response made by hand with a body `content` and no headers.
  response(int status, std::string content) : response(status, header_list{}, std::move(content)) {}
  /// A response made by hand with `headers` and a body `content`.
  response(int status, const header_list& headers, std::string content)
      : status_(status), reason_(standard_reason(status)), headers_(headers) {
    headers_.text_ += content;
  }
  /// The status code (200, 404, ...).
  int status_code() const noexcept { return status_; }
  /// The status line's reason phrase ("OK", "Not Found"); for a hand-made response, the standard one.
  std::string_view reason_phrase() const noexcept { return reason_; }
  /// The response's headers.
  const header_map& headers() const noexcept { return headers_; }
  /// The body (decoded if the server compressed it).
  std::string_view content() const noexcept { return std::string_view(headers_.text_).substr(headers_.head_); }
  /// The body as a string (a copy of content(); no character set is decoded).
  std::string text() const { return std::string(content()); }
  /// The URL of this response (after redirects).
  const std::string& url() const noexcept { return url_; }
  /// The request's method ("GET", ...).
  const std::string& method() const noexcept { return method_; }
  /// "HTTP/1.0", "HTTP/1.1", "HTTP/2" or "HTTP/3".
  std::string_view http_version() const noexcept { return version_; }
  /// The redirect responses that led here, oldest first (follow_redirects).
  const std::vector<response>& history() const noexcept { return history_; }
  /// From the request's start to the end of the response (libcurl's measure; through a transport,
  /// trio::current_time's, so a mock clock's in tests).
  std::chrono::microseconds elapsed() const noexcept { return elapsed_; }
  /// A 2xx status.
  bool is_success() const noexcept { return status_ >= 200 && status_ < 300; }
  /// A 3xx status with a Location header.
  bool is_redirect() const noexcept { return status_ >= 300 && status_ < 400 && headers_.contains("location"); }
  /// Returns *this for a 1xx/2xx/3xx response (so calls chain); else throws http_status_error.
  const response& raise_for_status() const;

  /// The standard reason phrase of a status code ("" for one it does not know).
  static std::string_view standard_reason(int status) noexcept {
    switch (status) {
      case 100:
        return "Continue";
      case 200:
        return "OK";
      case 201:
        return "Created";
      case 202:
        return "Accepted";
      case 204:
        return "No Content";
      case 206:
        return "Partial Content";
      case 301:
        return "Moved Permanently";
      case 302:
        return "Found";
      case 303:
        return "See Other";
      case 304:
        return "Not Modified";
      case 307:
        return "Temporary Redirect";
      case 308:
        return "Permanent Redirect";
      case 400:
        return "Bad Request";
      case 401:
        return "Unauthorized";
      case 403:
        return "Forbidden";
      case 404:
        return "Not Found";
      case 405:
        return "Method Not Allowed";
      case 408:
        return "Request Timeout";
      case 409:
        return "Conflict";
      case 410:
        return "Gone";
      case 413:
        return "Content Too Large";
      case 415:
        return "Unsupported Media Type";
      case 429:
        return "Too Many Requests";
      case 500:
        return "Internal Server Error";
      case 501:
        return "Not Implemented";
      case 502:
        return "Bad Gateway";
      case 503:
        return "Service Unavailable";
      case 504:
        return "Gateway Timeout";
      default:
        return "";
    }
  }

 private:
  friend class client;
  friend class streamed_response;
  int status_ = 0;
  std::string reason_;
  header_map headers_;  // (and the body, after the header lines)
  std::string url_;
  std::string method_;
  std::string_view version_ = "HTTP/1.1";  // (a literal)
  std::vector<response> history_;
  std::chrono::microseconds elapsed_{0};
};

/// raise_for_status() on a 4xx or 5xx response; response() is that response.
class http_status_error : public error {
 public:
  /// The error for response `r` (raise_for_status makes it), holding a copy of `r`.
  http_status_error(const std::string& what, const http::response& r)
      : error(what, r.method(), r.url()), response_(std::make_shared<http::response>(r)) {}
  /// The 4xx or 5xx response.
  const http::response& response() const noexcept { return *response_; }

 private:
  std::shared_ptr<const http::response> response_;
};

inline const response& response::raise_for_status() const {
  if (status_ < 400) return *this;
  const char* kind = status_ < 500 ? "client error" : "server error";
  throw http_status_error("trio::http: " + std::string(kind) + " '" + std::to_string(status_) + " " + reason_ +
                              "' for " + method_ + " " + url_,
                          *this);
}

}  // namespace trio::http
