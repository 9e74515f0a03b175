#pragma once
/// \file
/// trio::http::client: an HTTP client with httpx's AsyncClient shape, on libcurl's multi-socket API
/// driven by the trio loop (http/detail/curl_multi.hpp). HTTP/1.1 and HTTP/2, TLS, redirects, content
/// decoding, proxies and a connection pool come from libcurl. Part of the trio::http component
/// (links libcurl); not included by <trio/trio.hpp>.
///
///     trio::http::client client;
///     trio::http::response r = co_await client.get("https://example.org/");
///     std::cout << r.status_code() << " " << r.text().size() << "\n";
///
/// Requests obey cancel scopes: a request in a cancelled scope (or past a fail_after) ends at once,
/// the transfer is taken out of curl, and the pool stays consistent. Every request is a checkpoint.
/// The trap: curl's own timers run on the real clock, so HTTP tests use a real clock, not the
/// autojumping mock clock.

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "trio/checkpoint.hpp"
#include "trio/errors.hpp"
#include "trio/http/detail/curl_multi.hpp"
#include "trio/http/detail/zlib_inflate.hpp"
#include "trio/task.hpp"

namespace trio::http {

/// Timeouts per phase, as httpx's (5 s each by default): connect, read (no byte received for that
/// long), write (no byte sent for that long), pool (accepted, not enforced: curl queues requests
/// beyond max_connections and runs them as connections free up). A zero duration turns one off.
/// For a limit on the whole request, put it in a trio::fail_after.
struct timeout_config {
  trio::duration connect = std::chrono::seconds(5), read = std::chrono::seconds(5), write = std::chrono::seconds(5),
                 pool = std::chrono::seconds(5);
};

/// The connection pool's limits, as httpx's defaults.
struct limits {
  std::size_t max_connections = 100;                          ///< connections open at once (more requests wait)
  std::size_t max_keepalive_connections = 20;                 ///< idle connections kept for reuse
  trio::duration keepalive_expiry = std::chrono::seconds(5);  ///< an idle connection older than this is not reused
};

using header_list = std::vector<std::pair<std::string, std::string>>;

class transport;

struct client_options {
  std::string base_url;  ///< relative request URLs are resolved against it
  header_list headers;   ///< sent with every request (a request's own headers of the same name win)
  header_list params;    ///< query parameters added to every request
  timeout_config timeout;
  http::limits limits;
  bool follow_redirects = false;
  int max_redirects = 20;
  bool http2 = false;      ///< offer HTTP/2 (over TLS by ALPN); else HTTP/1.1 only
  std::string ca_file;     ///< trust these CAs (PEM file) instead of the system store
  bool verify = true;      ///< false: no certificate or host name check (tests only)
  std::string user_agent;  ///< empty: "trio-cpp-http/1"
  std::string proxy;       ///< e.g. "http://proxy:3128"; empty: curl's environment rules
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

struct request_options {
  header_list params;               ///< query parameters (URL-encoded and appended)
  header_list headers;              ///< request headers
  std::string content;              ///< the body, as is
  std::optional<std::string> json;  ///< a JSON body the caller serialised (Content-Type: application/json)
  std::optional<header_list> form;  ///< an urlencoded form body
  std::optional<timeout_config> timeout;
  std::optional<bool> follow_redirects;
  std::optional<std::size_t> max_response_size;  ///< this request's limit (see client_options)
};

namespace detail {
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}
inline bool has_header(const header_list& h, std::string_view name) noexcept {
  return std::any_of(h.begin(), h.end(), [&](const auto& kv) { return iequals(kv.first, name); });
}
/// A request header the caller gave: a name of token characters, a value without CR, LF or NUL (either
/// would let the caller's data write header lines of its own: header injection). Throws
/// std::invalid_argument naming the header.
inline void check_header(std::string_view name, std::string_view value) {
  const auto token = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  };
  if (name.empty() || !std::all_of(name.begin(), name.end(), token))
    throw std::invalid_argument("trio::http: the request header name '" + std::string(name) +
                                "' is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)");
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
    throw std::invalid_argument("trio::http: the value of the request header '" + std::string(name) +
                                "' holds a line break or NUL (it would start a header of its own): remove it");
}
}  // namespace detail

/// Response headers: case-insensitive names, repeated names kept in order. Iterating gives
/// (name, value) pairs of string_views into the map. The headers are kept as one block of text
/// ("name:value\n" lines) that a response shares with its body, so a response is one allocation.
class header_map {
 public:
  using value_type = std::pair<std::string_view, std::string_view>;
  class iterator {
   public:
    using iterator_concept = std::forward_iterator_tag;
    using iterator_category = std::input_iterator_tag;  // operator* returns a value
    using value_type = header_map::value_type;
    using difference_type = std::ptrdiff_t;
    using reference = value_type;
    iterator() = default;
    value_type operator*() const noexcept {
      const std::string_view line = rest_.substr(0, rest_.find('\n'));
      const std::size_t colon = line.find(':');
      return {line.substr(0, colon), line.substr(colon + 1)};
    }
    iterator& operator++() noexcept {
      rest_.remove_prefix(std::min(rest_.size(), rest_.find('\n') + 1));
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const iterator& o) const noexcept { return rest_.data() == o.rest_.data(); }

   private:
    friend class header_map;
    explicit iterator(std::string_view rest) noexcept : rest_(rest) {}
    std::string_view rest_;
  };

  header_map() = default;
  explicit header_map(const header_list& items) {
    for (const auto& [k, v] : items) append(k, v);
    head_ = text_.size();
  }
  /// The first value of `name`, if any.
  std::optional<std::string_view> get(std::string_view name) const {
    for (const auto [k, v] : *this)
      if (detail::iequals(k, name)) return v;
    return std::nullopt;
  }
  /// Every value of `name`, in order.
  std::vector<std::string_view> all(std::string_view name) const {
    std::vector<std::string_view> out;
    for (const auto [k, v] : *this)
      if (detail::iequals(k, name)) out.push_back(v);
    return out;
  }
  bool contains(std::string_view name) const { return get(name).has_value(); }
  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  iterator begin() const noexcept { return iterator(std::string_view(text_).substr(0, head_)); }
  iterator end() const noexcept { return iterator(std::string_view(text_.data() + head_, 0)); }

 private:
  friend class response;
  friend class client;
  friend class streamed_response;
  /// Adopts text whose first `head` bytes are `count` header lines (the rest: a response's body).
  header_map(std::string text, std::size_t head, std::size_t count) noexcept
      : text_(std::move(text)), head_(head), count_(count) {}
  void append(std::string_view name, std::string_view value) {  // (a line break would split the line)
    for (char c : name) text_ += c == ':' || c == '\n' || c == '\r' ? '-' : c;
    text_ += ':';
    for (char c : value) text_ += c == '\n' || c == '\r' ? ' ' : c;
    text_ += '\n';
    ++count_;
  }
  std::string text_;
  std::size_t head_ = 0, count_ = 0;
};

class response {
 public:
  response() = default;
  /// A response made by hand: by a transport other than libcurl, or a test's mock_transport
  /// (httpx.Response(200, content=...)). The reason phrase is the status's standard one; the client
  /// fills in the method and URL (of the request) when the transport leaves them empty.
  explicit response(int status) : response(status, header_list{}, std::string()) {}
  response(int status, std::string content) : response(status, header_list{}, std::move(content)) {}
  response(int status, const header_list& headers, std::string content)
      : status_(status), reason_(standard_reason(status)), headers_(headers) {
    headers_.text_ += content;
  }
  int status_code() const noexcept { return status_; }
  std::string_view reason_phrase() const noexcept { return reason_; }
  const header_map& headers() const noexcept { return headers_; }
  /// The body (decoded if the server compressed it).
  std::string_view content() const noexcept { return std::string_view(headers_.text_).substr(headers_.head_); }
  std::string text() const { return std::string(content()); }
  /// The URL of this response (after redirects).
  const std::string& url() const noexcept { return url_; }
  const std::string& method() const noexcept { return method_; }
  /// "HTTP/1.0", "HTTP/1.1", "HTTP/2" or "HTTP/3".
  std::string_view http_version() const noexcept { return version_; }
  /// The redirect responses that led here, oldest first (follow_redirects).
  const std::vector<response>& history() const noexcept { return history_; }
  /// From the request's start to the end of the response (libcurl's measure; through a transport,
  /// trio::current_time's, so a mock clock's in tests).
  std::chrono::microseconds elapsed() const noexcept { return elapsed_; }
  bool is_success() const noexcept { return status_ >= 200 && status_ < 300; }
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

// ---- errors: httpx's hierarchy --------------------------------------------------------------------

/// Every HTTP failure; what() names the method and URL and includes curl's own text.
class error : public std::runtime_error {
 public:
  error(const std::string& what, std::string method, std::string url)
      : std::runtime_error(what), method_(std::move(method)), url_(std::move(url)) {}
  const std::string& method() const noexcept { return method_; }
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
  timeout_error(const std::string& what, std::string method, std::string url, std::string phase)
      : error(what, std::move(method), std::move(url)), phase_(std::move(phase)) {}
  const std::string& phase() const noexcept { return phase_; }

 private:
  std::string phase_;
};
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
  response_too_large(const std::string& what, std::string method, std::string url, std::size_t limit)
      : error(what, std::move(method), std::move(url)), limit_(limit) {}
  std::size_t limit() const noexcept { return limit_; }

 private:
  std::size_t limit_;
};
/// The URL cannot be parsed, or its scheme is not supported. (Not also a std::invalid_argument:
/// two std::exception bases would make `catch (const std::exception&)` miss it.)
class invalid_url : public error {
  using error::error;
};
/// raise_for_status() on a 4xx or 5xx response; response() is that response.
class http_status_error : public error {
 public:
  http_status_error(const std::string& what, const http::response& r)
      : error(what, r.method(), r.url()), response_(std::make_shared<http::response>(r)) {}
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

// ---- the transport seam (httpx's transport=) ------------------------------------------------------

/// A request as the client hands it to a transport: the URL resolved (base_url, params), the client's
/// and the request's headers merged, the body serialised (content, json or form, with its
/// Content-Type), and the options that apply to it.
struct request {
  std::string method;
  std::string url;
  header_list headers;
  std::string content;
  timeout_config timeout;
  bool follow_redirects = false;
  int max_redirects = 20;
};

/// What sends the client's requests when client_options::transport is set, instead of libcurl (the
/// built-in default, which no transport object stands for: its requests keep their state in their
/// own coroutine frames). A transport follows redirects itself if it wants to (the request says
/// whether); errors it throws reach the caller as they are (use http::error's kinds).
class transport {
 public:
  virtual ~transport() = default;
  virtual task<response> handle_request(request r) = 0;
  /// Called by client::aclose.
  virtual task<void> aclose() { co_return; }
};

/// A transport that answers every request with a function of yours (httpx.MockTransport): for
/// tests that need no server. The function either returns the response, or is a coroutine (it may
/// sleep, wait on events, be cancelled); each request is a checkpoint either way.
class mock_transport final : public transport {
 public:
  explicit mock_transport(std::function<response(const request&)> handler) : plain_(std::move(handler)) {}
  explicit mock_transport(std::function<task<response>(request)> handler) : async_(std::move(handler)) {}
  task<response> handle_request(request r) override {
    if (async_) co_return co_await async_(std::move(r));
    co_await checkpoint();
    co_return plain_(r);
  }

 private:
  std::function<response(const request&)> plain_;
  std::function<task<response>(request)> async_;
};

namespace detail {

inline std::string describe(const std::string& method, const std::string& url) { return method + " " + url; }

/// Turns a failed transfer into the exception of httpx's hierarchy.
[[noreturn]] inline void throw_transfer_error(const trio::detail::curl_transfer& t, const std::string& method,
                                              const std::string& url) {
  const std::string text = t.error_text[0] ? t.error_text : curl_easy_strerror(t.result);
  const std::string what = "trio::http: " + describe(method, url) + " failed: " + text;
  if (t.too_large)
    throw response_too_large("trio::http: " + describe(method, url) + ": the response body is larger than " +
                                 "max_response_size (" + std::to_string(t.max_body) +
                                 " bytes); raise client_options::max_response_size or "
                                 "request_options::max_response_size, or read the body with stream()",
                             method, url, t.max_body);
  if (!t.violation.empty())
    throw protocol_error("trio::http: " + describe(method, url) + " failed: " + t.violation, method, url);
  curl_off_t connected_at = 0;
  curl_easy_getinfo(t.easy, CURLINFO_CONNECT_TIME_T, &connected_at);
  switch (t.result) {
    case CURLE_UNSUPPORTED_PROTOCOL: {
      // Either the URL (or a redirect's Location) names a scheme we do not speak, or the server's
      // answer is not HTTP at all (curl: "Received HTTP/0.9", "Unsupported HTTP version").
      char* at = nullptr;
      curl_easy_getinfo(t.easy, CURLINFO_EFFECTIVE_URL, &at);
      const std::string_view now = at ? at : "";
      if (connected_at > 0 && (now.starts_with("http://") || now.starts_with("https://")))
        throw protocol_error(what, method, url);
      throw invalid_url(
          what + (t.status >= 300 && t.status < 400 ? " (in a redirect; only http and https are followed)" : ""),
          method, url);
    }
    case CURLE_URL_MALFORMAT:
      throw invalid_url(what, method, url);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      throw connect_error(what, method, url);
    case CURLE_OPERATION_TIMEDOUT: {
      curl_off_t uploaded = 0, to_upload = 0;
      curl_easy_getinfo(t.easy, CURLINFO_SIZE_UPLOAD_T, &uploaded);
      curl_easy_getinfo(t.easy, CURLINFO_CONTENT_LENGTH_UPLOAD_T, &to_upload);
      const char* phase = connected_at == 0 ? "connect" : (to_upload > 0 && uploaded < to_upload) ? "write" : "read";
      throw timeout_error(what + " (" + phase + " timeout)", method, url, phase);
    }
    case CURLE_TOO_MANY_REDIRECTS:
      throw too_many_redirects(what, method, url);
    case CURLE_SEND_ERROR:
    case CURLE_UPLOAD_FAILED:
      throw write_error(what, method, url);
    case CURLE_RECV_ERROR: {
      // curl says RECV_ERROR both for a failing socket (an errno: a reset) and for framing it cannot
      // parse (chunk sizes): only the first is a read error.
      long os_errno = 0;
      curl_easy_getinfo(t.easy, CURLINFO_OS_ERRNO, &os_errno);
      if (os_errno != 0) throw read_error(what, method, url);
      throw protocol_error(what, method, url);
    }
    case CURLE_OUT_OF_MEMORY:
      // libcurl 7.88 reports a response header over its 100 KiB limit as "Out of memory"
      if (connected_at > 0)
        throw protocol_error(what + " (a response header over libcurl's 100 KiB limit, or memory ran out)", method,
                             url);
      throw error(what, method, url);
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP3:
      throw protocol_error(what, method, url);
    default:
      throw error(what, method, url);
  }
}

/// A Content-Length header's values (one, or a comma-separated list): all the same number, equal to
/// any given before in this response (RFC 9110 8.6; httpx/h11 refuse the others: a response that two
/// parties frame differently is how requests are smuggled), and within max_body. False: refused (the
/// transfer's violation or too_large says why).
inline bool check_length(trio::detail::curl_transfer& t, std::string_view value) {
  for (std::string_view rest = value; !rest.empty();) {
    const std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size()) {
      t.violation = "the response's Content-Length is not a number ('" + std::string(value) + "')";
      return false;
    }
    if (t.length && *t.length != v) {
      t.violation = "the response has conflicting Content-Length values (" + std::to_string(*t.length) + " and " +
                    std::to_string(v) + ")";
      return false;
    }
    t.length = v;
  }
  if (!t.streaming && t.length && *t.length > t.max_body) {
    t.too_large = true;
    return false;
  }
  return true;
}

inline std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self) {
  auto* t = static_cast<trio::detail::curl_transfer*>(self);
  std::string_view line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {  // a new response: keep the one before as history
    if (t->status >= 200)           // (1xx interim responses are not history)
      t->earlier.push_back({t->status, std::move(t->reason), t->head, t->head_lines});
    t->head.clear();
    t->head_lines = 0;
    t->reason.clear();
    if (!t->streaming) {
      t->body.clear();
      t->head_size = std::string::npos;
    }
    t->status = 0;
    t->length.reset();
    const std::size_t sp = line.find(' ');
    if (sp != std::string_view::npos) {
      const std::string_view code = line.substr(sp + 1, 3);
      std::from_chars(code.data(), code.data() + code.size(), t->status);
      if (const std::size_t sp2 = line.find(' ', sp + 1); sp2 != std::string_view::npos)
        t->reason.assign(line.substr(sp2 + 1));
    }
  } else if (const std::size_t colon = line.find(':'); colon != std::string_view::npos) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (iequals(line.substr(0, colon), "content-length") && !check_length(*t, value)) return 0;
    t->head.append(line.substr(0, colon)).append(1, ':').append(value).append(1, '\n');
    ++t->head_lines;
  }
  return size * n;
}

/// The value of `name` among header lines "name:value\n" (curl_transfer::head), if there.
inline std::optional<std::string_view> head_value(std::string_view head, std::string_view name) {
  while (!head.empty()) {
    const std::size_t end = head.find('\n');
    const std::string_view line = head.substr(0, end);
    head.remove_prefix(end == std::string_view::npos ? head.size() : end + 1);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && iequals(line.substr(0, colon), name)) return line.substr(colon + 1);
  }
  return std::nullopt;
}

/// The decoder for the Content-Encoding among header lines "name:value\n": none for identity (or
/// none given); throws std::runtime_error for one that was not offered (gzip and deflate are), or
/// for more than one (an encoding applied twice is not one we offered either).
inline std::unique_ptr<trio::detail::inflater> decoder_for(std::string_view head) {
  using trio::detail::inflater;
  const std::optional<std::string_view> coding = head_value(head, "content-encoding");
  if (coding) {
    const std::size_t after = static_cast<std::size_t>(coding->data() + coding->size() - head.data());
    if (head_value(head.substr(after), "content-encoding"))
      throw std::runtime_error(
          "the response has more than one Content-Encoding header (gzip and deflate, once, are "
          "offered)");
  }
  if (!coding || coding->empty() || iequals(*coding, "identity")) return nullptr;
  if (iequals(*coding, "gzip") || iequals(*coding, "x-gzip")) return std::make_unique<inflater>(inflater::format::gzip);
  if (iequals(*coding, "deflate")) return std::make_unique<inflater>(inflater::format::deflate);
  throw std::runtime_error("the response's Content-Encoding '" + std::string(*coding) +
                           "' was not offered (gzip and deflate are)");
}

/// Decoded bytes of `in` appended to t.body, within t.max_body (false: over it, or not decodable;
/// t.too_large or t.violation says which).
inline bool decode_into_body(trio::detail::curl_transfer& t, std::string_view in) {
  for (;;) {
    const std::size_t at = t.body.size();
    const std::size_t room = std::max<std::size_t>(in.size() * 4, 16384);
    t.body.resize(at + room);  // (decoded in place: amortized growth, as append's)
    trio::detail::inflater::result r{};
    try {
      r = t.decoder->feed(in, std::span(reinterpret_cast<std::byte*>(t.body.data() + at), room));
    } catch (const std::runtime_error& e) {
      t.body.resize(at);
      t.violation = e.what();
      return false;
    }
    t.body.resize(at + r.produced);
    in.remove_prefix(r.used);
    if (t.body.size() - t.head_size > t.max_body) {
      t.too_large = true;
      return false;
    }
    if (r.produced < room) return true;  // (zlib had no more for the room it was given)
  }
}

inline std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self) {
  auto* t = static_cast<trio::detail::curl_transfer*>(self);
  const std::size_t len = size * n;
  if (t->streaming) {
    if (!t->redelivering && t->body.size() - t->body_read >= t->max_buffer) {  // the reader is behind
      t->paused = true;
      return CURL_WRITEFUNC_PAUSE;
    }
    t->headers_ready.set();        // the final response's body has begun
    t->body_waiters.unpark_all();  // reschedules the reader (it runs after the driver yields)
    t->body.append(data, len);
    return len;
  }
  if (t->owner->over_budget(*t)) return CURL_WRITEFUNC_PAUSE;  // (the rest next turn)
  const std::size_t before = t->body.size();
  if (t->head_size == std::string::npos) {
    // The first byte: the response's one buffer, header lines then the body, sized by
    // Content-Length when there is one (a decoded body may still grow it).
    try {
      t->decoder = decoder_for(t->head);
    } catch (const std::runtime_error& e) {
      t->violation = e.what();
      return 0;
    }
    curl_off_t expected = -1;
    curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &expected);
    constexpr curl_off_t most = curl_off_t(64) << 20;  // (a Content-Length is not a promise)
    const std::size_t body = expected > 0 ? static_cast<std::size_t>(std::min(expected, most)) : len;
    t->body.clear();
    t->body.reserve(t->head.size() + std::max(body, len));
    t->body.append(t->head);
    t->head_size = t->head.size();
  }
  if (t->decoder) {
    if (!decode_into_body(*t, std::string_view(data, len))) return 0;
  } else if (t->body.size() - t->head_size + len > t->max_body) {
    t->too_large = true;  // (curl stops here: nothing beyond the limit is read)
    return 0;
  } else {
    t->body.append(data, len);
  }
  t->turn_bytes += t->body.size() - before;  // (decoded bytes: a bomb's 16 KiB can be 16 MiB)
  return len;
}

struct curl_url_free {
  void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};
using curl_url_ptr = std::unique_ptr<CURLU, curl_url_free>;
inline curl_url_ptr new_curl_url() {
  curl_url_ptr u(curl_url());
  if (!u) throw std::bad_alloc();
  return u;
}
/// One part of a parsed URL (nullopt: absent, or curl could not give it).
inline std::optional<std::string> curl_url_part(CURLU* u, CURLUPart part) {
  char* p = nullptr;
  if (curl_url_get(u, part, &p, 0) != CURLUE_OK) return std::nullopt;
  std::string out = p;
  curl_free(p);
  return out;
}

inline std::string url_encode(CURL* e, std::string_view s) {
  char* out = curl_easy_escape(e, s.data(), static_cast<int>(s.size()));
  std::string r = out ? out : "";
  curl_free(out);
  return r;
}

/// One request's setup and ownership: the easy handle (from the multi's spares), its header list,
/// its transfer state; taken out of the multi and given back when destroyed (also when cancelled).
/// A request keeps it in its coroutine frame; a streamed response owns it.
struct request_state {
  std::shared_ptr<trio::detail::curl_multi> multi;
  trio::detail::curl_transfer t;
  curl_slist* header_slist = nullptr;
  std::string method, url, body;
  explicit request_state(std::shared_ptr<trio::detail::curl_multi> m) noexcept : multi(std::move(m)) {}
  request_state(const request_state&) = delete;
  request_state& operator=(const request_state&) = delete;
  ~request_state() {
    if (t.easy) {
      multi->remove(t);
      // The handle is reused as it is: nothing in it may point into this state any more.
      curl_easy_setopt(t.easy, CURLOPT_ERRORBUFFER, nullptr);
      curl_easy_setopt(t.easy, CURLOPT_WRITEDATA, nullptr);
      curl_easy_setopt(t.easy, CURLOPT_HEADERDATA, nullptr);
      curl_easy_setopt(t.easy, CURLOPT_PRIVATE, nullptr);
      curl_easy_setopt(t.easy, CURLOPT_HTTPHEADER, nullptr);
      curl_easy_setopt(t.easy, CURLOPT_POSTFIELDS, nullptr);
      multi->give_back_easy(t.easy, std::move(t.head));
    }
    curl_slist_free_all(header_slist);
  }
};

}  // namespace detail

/// A response whose body is read as a trio receive stream (receive_some), with backpressure: curl
/// is paused while the buffer (256 KiB) is full, so a download of any size holds a bounded amount of
/// memory: the buffer plus what one 16 KiB read of the socket decodes to (for a compressed body at
/// most ~16 MiB, deflate's ratio; a gzip bomb is read at zlib's speed, never held whole).
/// Closing it (aclose, or destroying it) before the end aborts the transfer.
class streamed_response {
 public:
  int status_code() const noexcept { return head_.status_code(); }
  std::string_view reason_phrase() const noexcept { return head_.reason_phrase(); }
  const header_map& headers() const noexcept { return head_.headers(); }
  const std::string& url() const noexcept { return head_.url(); }
  std::string_view http_version() const noexcept { return head_.http_version(); }
  const response& raise_for_status() const { return head_.raise_for_status(); }

  /// Up to buffer.size() bytes of the body; 0 at its end. Errors as client::request's. A checkpoint
  /// that never loses bytes: cancelled, it throws before taking any; once it has taken some, it
  /// returns them (the cancellation waits for the next checkpoint).
  task<std::size_t> receive_some(std::span<std::byte> buffer) {
    co_await checkpoint_if_cancelled();
    if (buffered_) {  // a transport's response: its body is all here
      const std::string_view body = head_.content().substr(std::min(buffered_read_, head_.content().size()));
      const std::size_t n = std::min(body.size(), buffer.size());
      std::memcpy(buffer.data(), body.data(), n);
      buffered_read_ += n;
      co_await cancel_shielded_checkpoint();
      co_return n;
    }
    if (!s_) throw closed_resource_error("trio::http::streamed_response::receive_some: the response was closed");
    auto& t = s_->t;
    for (;;) {
      const std::size_t have = t.body.size() - t.body_read;
      if (have > 0) {
        std::size_t n = 0;
        if (inflater_) {  // decoded into the caller's buffer, as much as it holds
          const trio::detail::inflater::result r = inflate_into(std::string_view(t.body).substr(t.body_read), buffer);
          t.body_read += r.used;
          n = r.produced;
        } else {
          n = std::min(have, buffer.size());
          std::memcpy(buffer.data(), t.body.data() + t.body_read, n);
          t.body_read += n;
        }
        if (t.body_read == t.body.size()) {
          t.body.clear();
          t.body_read = 0;
        }
        if (t.paused && t.body.size() - t.body_read < t.max_buffer / 2) s_->multi->unpause(t);
        if (n == 0 && !buffer.empty()) continue;  // (input that decodes to nothing yet: a header)
        co_await cancel_shielded_checkpoint();
        co_return n;
      }
      if (inflater_ && !buffer.empty()) {  // what zlib still holds back from the input it took
        const std::size_t n = inflate_into(std::string_view(), buffer).produced;
        if (n > 0) {
          co_await cancel_shielded_checkpoint();
          co_return n;
        }
      }
      if (t.done) {
        if (t.result != CURLE_OK) detail::throw_transfer_error(t, s_->method, s_->url);
        if (inflater_ && !inflater_->complete())
          throw protocol_error("trio::http: " + s_->method + " " + s_->url +
                                   " failed: the compressed body ends before its encoded data does",
                               s_->method, s_->url);
        co_await checkpoint();
        co_return 0;
      }
      co_await t.body_waiters.park();
    }
  }
  /// The rest of the body.
  task<std::string> read_all() {
    std::string out;
    std::byte buf[16384];
    for (std::size_t k; (k = co_await receive_some(buf)) != 0;) out.append(reinterpret_cast<const char*>(buf), k);
    co_return out;
  }
  /// Ends the transfer (aborted if the body has not all arrived). A checkpoint.
  task<void> aclose() {
    s_.reset();
    buffered_ = false;
    co_await checkpoint();
  }

 private:
  friend class client;
  trio::detail::inflater::result inflate_into(std::string_view in, std::span<std::byte> out) {
    try {
      return inflater_->feed(in, out);
    } catch (const std::runtime_error& e) {
      throw protocol_error("trio::http: " + s_->method + " " + s_->url + " failed: " + e.what(), s_->method, s_->url);
    }
  }
  std::unique_ptr<detail::request_state> s_;
  std::unique_ptr<trio::detail::inflater> inflater_;  // a gzip or deflate body, decoded as it is read
  response head_;
  bool buffered_ = false;  // the body is head_'s content (a transport's response)
  std::size_t buffered_read_ = 0;
};

/// The client: one connection pool (a curl multi handle) for all its requests. Move-only; use one
/// for many requests (a client per request defeats the pool). Requests may run from many tasks at
/// once.
class client {
 public:
  client() : client(client_options{}) {}
  explicit client(client_options options)
      : multi_(std::make_shared<trio::detail::curl_multi>()), options_(std::move(options)) {
    CURLM* m = multi_->native();
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(options_.limits.max_connections));
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, static_cast<long>(options_.limits.max_keepalive_connections));
    if (options_.http2) curl_multi_setopt(m, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    multi_->debug = options_.debug;
  }
  client(client&&) noexcept = default;
  client& operator=(client&&) noexcept = default;

  const client_options& options() const noexcept { return options_; }

  task<response> get(std::string url) { return request("GET", std::move(url)); }
  task<response> get(std::string url, request_options o) { return request("GET", std::move(url), std::move(o)); }
  task<response> head(std::string url) { return request("HEAD", std::move(url)); }
  task<response> head(std::string url, request_options o) { return request("HEAD", std::move(url), std::move(o)); }
  task<response> post(std::string url) { return request("POST", std::move(url)); }
  task<response> post(std::string url, request_options o) { return request("POST", std::move(url), std::move(o)); }
  task<response> put(std::string url) { return request("PUT", std::move(url)); }
  task<response> put(std::string url, request_options o) { return request("PUT", std::move(url), std::move(o)); }
  task<response> patch(std::string url) { return request("PATCH", std::move(url)); }
  task<response> patch(std::string url, request_options o) { return request("PATCH", std::move(url), std::move(o)); }
  task<response> delete_(std::string url) { return request("DELETE", std::move(url)); }
  task<response> delete_(std::string url, request_options o) { return request("DELETE", std::move(url), std::move(o)); }

  task<response> request(std::string method, std::string url) {
    return request(std::move(method), std::move(url), request_options{});
  }
  /// Sends the request and reads the whole response. Failures throw http::error's kinds; a 4xx/5xx
  /// status is a response (see raise_for_status).
  task<response> request(std::string method, std::string url, request_options o) {
    if (closed_ || !multi_) throw_closed();
    if (options_.transport) co_return co_await via_transport(std::move(method), std::move(url), o);
    detail::request_state s(multi_);  // in this frame (trio's frame pool): no allocation
    prepare(s, std::move(method), std::move(url), o, false);
    multi_->add(s.t);
    co_await s.t.finished.wait();
    co_return finish(s);
  }

  task<streamed_response> stream(std::string method, std::string url) {
    return stream(std::move(method), std::move(url), request_options{});
  }
  /// Sends the request and returns once the response's headers are in; read the body from it.
  task<streamed_response> stream(std::string method, std::string url, request_options o) {
    if (closed_ || !multi_) throw_closed();
    if (options_.transport) {
      streamed_response r;
      r.head_ = co_await via_transport(std::move(method), std::move(url), o);
      r.buffered_ = true;
      co_return r;
    }
    auto s = std::make_unique<detail::request_state>(multi_);
    prepare(*s, std::move(method), std::move(url), o, true);
    multi_->add(s->t);
    co_await s->t.headers_ready.wait();
    if (s->t.done && s->t.result != CURLE_OK) detail::throw_transfer_error(s->t, s->method, s->url);
    streamed_response r;
    fill_head(*s, r.head_, header_map(s->t.head, s->t.head.size(), s->t.head_lines), false);
    try {
      r.inflater_ = detail::decoder_for(s->t.head);
    } catch (const std::runtime_error& e) {
      throw protocol_error("trio::http: " + s->method + " " + s->url + " failed: " + e.what(), s->method, s->url);
    }
    r.s_ = std::move(s);
    co_return r;
  }

  /// Closes the pool's connections (or the transport); later requests throw closed_resource_error.
  /// Requests still running in other tasks, and streamed responses still open, finish on their own
  /// connections, which close when the last of them ends. A checkpoint.
  task<void> aclose() {
    const bool was_closed = std::exchange(closed_, true);
    if (options_.transport && !was_closed) co_await options_.transport->aclose();
    multi_.reset();  // the last owner's curl_multi_cleanup closes the pool's sockets
    co_await checkpoint();
  }

 private:
  /// The request as a transport gets it (the same resolution, merging and encoding as libcurl's).
  http::request make_request(std::string method, std::string url, const request_options& o) const {
    http::request r;
    r.method = std::move(method);
    const bool as_is = options_.base_url.empty() && options_.params.empty() && o.params.empty() &&
                       (url.starts_with("http://") || url.starts_with("https://"));
    r.url = as_is ? std::move(url) : resolve(url, o, r.method);
    for (const auto& h : options_.headers)
      if (!detail::has_header(o.headers, h.first)) r.headers.push_back(h);
    r.headers.insert(r.headers.end(), o.headers.begin(), o.headers.end());
    for (const auto& [k, v] : r.headers) detail::check_header(k, v);
    const char* content_type = nullptr;
    if (o.json) {
      r.content = *o.json;
      content_type = "application/json";
    } else if (o.form) {
      for (const auto& [k, v] : *o.form) {
        if (!r.content.empty()) r.content += '&';
        r.content += detail::url_encode(nullptr, k) + "=" + detail::url_encode(nullptr, v);
      }
      content_type = "application/x-www-form-urlencoded";
    } else {
      r.content = o.content;
    }
    if (content_type && !detail::has_header(r.headers, "content-type"))
      r.headers.emplace_back("Content-Type", content_type);
    r.timeout = o.timeout ? *o.timeout : options_.timeout;
    r.follow_redirects = o.follow_redirects.value_or(options_.follow_redirects);
    r.max_redirects = options_.max_redirects;
    return r;
  }

  task<response> via_transport(std::string method, std::string url, const request_options& o) {
    http::request r = make_request(std::move(method), std::move(url), o);
    std::string m = r.method, u = r.url;                      // (the transport takes the request)
    const trio::time_point t0 = trio::current_time();         // (trio's clock: a mock clock's time in tests)
    std::shared_ptr<http::transport> t = options_.transport;  // alive while it runs
    response out = co_await t->handle_request(std::move(r));
    if (out.method_.empty()) out.method_ = std::move(m);
    if (out.url_.empty()) out.url_ = std::move(u);
    if (out.elapsed_ == std::chrono::microseconds(0))
      out.elapsed_ = std::chrono::duration_cast<std::chrono::microseconds>(trio::current_time() - t0);
    co_return out;
  }

  [[noreturn]] static void throw_closed() {
    throw closed_resource_error("trio::http::client: the client was closed (aclose); make a new one");
  }

  /// The options every request of this client has: set once per easy handle (handles are reused
  /// without a reset, see curl_multi::take_easy).
  void configure(CURL* e) const {
    // Only HTTP is spoken, for the first URL and for every redirect (libcurl's defaults would follow
    // a Location to ftp://, and let a URL reach file:// or others).
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &detail::on_body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &detail::on_header);
    // The bodies are decoded here, not by curl (libcurl 7.88 decodes a whole read at once into a
    // buffer of its own, whatever it expands to, even while the transfer is paused): curl gets the
    // raw bytes, so only what detail::inflater decodes is offered.
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip, deflate");
    curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, options_.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
    // HTTP/2: a request started while the host's first connection is still being set up waits for
    // it and multiplexes on it, instead of opening a connection of its own (as httpx does).
    if (options_.http2) curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT,
                     options_.user_agent.empty() ? "trio-cpp-http/1" : options_.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, static_cast<long>(options_.max_redirects));
    curl_easy_setopt(e, CURLOPT_MAXAGE_CONN,
                     std::max(1L, static_cast<long>(to_ms(options_.limits.keepalive_expiry) / 1000)));
    if (!options_.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options_.ca_file.c_str());
    if (!options_.verify) {
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (!options_.proxy.empty()) curl_easy_setopt(e, CURLOPT_PROXY, options_.proxy.c_str());
  }

  /// Sets every per-request option (all of them, each time: the handle keeps the last request's).
  void prepare(detail::request_state& s, std::string method, std::string url, const request_options& o,
               bool streaming) {
    s.method = std::move(method);
    // Absolute http(s) URLs without parameters go to curl as they are (curl parses them anyway;
    // a malformed one fails as invalid_url); the others are resolved and extended here.
    const bool as_is = options_.base_url.empty() && options_.params.empty() && o.params.empty() &&
                       (url.starts_with("http://") || url.starts_with("https://"));
    s.url = as_is ? std::move(url) : resolve(url, o, s.method);
    const auto [e, fresh] = multi_->take_easy(s.t.head);
    s.t.easy = e;
    if (fresh) configure(e);
    s.t.streaming = streaming;
    const std::size_t limit = o.max_response_size.value_or(options_.max_response_size);
    s.t.max_body = limit == 0 ? SIZE_MAX : limit;
    curl_easy_setopt(e, CURLOPT_URL, s.url.c_str());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s.t.error_text);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &s.t);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &s.t);
    const bool follow = o.follow_redirects.value_or(options_.follow_redirects);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
    const timeout_config& to = o.timeout ? *o.timeout : options_.timeout;
    // (0: curl's default, 300 s)
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::max(0LL, to_ms(to.connect))));
    // read/write: no progress for that long (curl's low-speed check has a one-second grain)
    const trio::duration idle = std::max(to.read, to.write);
    const bool check_idle = idle > trio::duration::zero();
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, check_idle ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                     check_idle ? std::max(1L, static_cast<long>((to_ms(idle) + 999) / 1000)) : 0L);

    // the body
    const auto has = [&](std::string_view name) {
      return detail::has_header(o.headers, name) || detail::has_header(options_.headers, name);
    };
    bool has_body = false;
    const char* content_type = nullptr;
    if (o.json) {
      s.body = *o.json;
      has_body = true;
      if (!has("content-type")) content_type = "Content-Type: application/json";
    } else if (o.form) {
      for (const auto& [k, v] : *o.form) {
        if (!s.body.empty()) s.body += '&';
        s.body += detail::url_encode(e, k) + "=" + detail::url_encode(e, v);
      }
      has_body = true;
      if (!has("content-type")) content_type = "Content-Type: application/x-www-form-urlencoded";
    } else if (!o.content.empty()) {
      s.body = o.content;
      has_body = true;
    }
    // headers: the client's, then the request's (a request header replaces a client one of that
    // name). Each "name: value" line is built in the header buffer, empty until the response.
    const auto add_line = [&s](const char* line) {
      curl_slist* next = curl_slist_append(s.header_slist, line);
      if (!next) throw std::bad_alloc();
      s.header_slist = next;
    };
    std::string& line = s.t.head;
    const header_list* const lists[] = {&options_.headers, &o.headers};
    for (const header_list* hs : lists)
      for (const auto& [k, v] : *hs) {
        if (hs == &options_.headers && detail::has_header(o.headers, k)) continue;
        detail::check_header(k, v);
        // (curl reads "Name:" as "do not send Name"; "Name;" is its way to send it empty)
        line.assign(k).append(v.empty() ? ";" : ": ").append(v);
        add_line(line.c_str());
      }
    line.clear();
    if (content_type) add_line(content_type);
    if (has_body && !has("expect")) add_line("Expect:");  // no "Expect: 100-continue" round trip
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s.header_slist);

    const std::string& m = s.method;
    const bool sends_body = has_body || m == "POST" || m == "PUT" || m == "PATCH";
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, nullptr);
    if (sends_body) {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);  // (clears the last request's NOBODY)
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, s.body.c_str());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(s.body.size()));
    } else {
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, nullptr);
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(-1));
      curl_easy_setopt(e, m == "HEAD" ? CURLOPT_NOBODY : CURLOPT_HTTPGET, 1L);
    }
    if (m != "GET" && m != "HEAD" && m != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m.c_str());
  }

  /// The URL to fetch: url resolved against base_url, with the client's and the request's params.
  std::string resolve(const std::string& url, const request_options& o, const std::string& method) const {
    detail::curl_url_ptr u = detail::new_curl_url();
    auto bad = [&](CURLUcode rc) -> std::string {
      return "trio::http: " + detail::describe(method, url) + ": not a valid URL (" + curl_url_strerror(rc) + ")" +
             (options_.base_url.empty() ? std::string() : " with base_url '" + options_.base_url + "'");
    };
    CURLUcode rc = CURLUE_OK;
    if (!options_.base_url.empty()) {
      rc = curl_url_set(u.get(), CURLUPART_URL, options_.base_url.c_str(), 0);
      if (rc != CURLUE_OK) throw invalid_url(bad(rc), method, url);
    }
    rc = curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0);
    if (rc != CURLUE_OK) throw invalid_url(bad(rc), method, url);
    if (auto sc = detail::curl_url_part(u.get(), CURLUPART_SCHEME); sc && *sc != "http" && *sc != "https")
      throw invalid_url("trio::http: " + detail::describe(method, url) + ": the scheme '" + *sc +
                            "' is not supported (http or https)",
                        method, url);
    for (const header_list* ps : {&options_.params, &o.params})
      for (const auto& [k, v] : *ps) {
        const std::string kv = k + "=" + v;
        curl_url_set(u.get(), CURLUPART_QUERY, kv.c_str(), CURLU_APPENDQUERY | CURLU_URLENCODE);
      }
    std::optional<std::string> full = detail::curl_url_part(u.get(), CURLUPART_URL);
    if (!full) throw invalid_url(bad(CURLUE_MALFORMED_INPUT), method, url);
    return std::move(*full);
  }

  static long long to_ms(trio::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

  /// The response's status line, headers, URL, version and history. take_url: the state's URL is
  /// not needed any more (it becomes the response's when curl did not go elsewhere).
  static void fill_head(detail::request_state& s, response& r, header_map&& headers, bool take_url) {
    CURL* e = s.t.easy;
    r.status_ = s.t.status;
    r.reason_ = s.t.reason;
    r.headers_ = std::move(headers);
    r.method_ = s.method;
    long version = 0;
    curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version);
    r.version_ = version == CURL_HTTP_VERSION_1_0   ? "HTTP/1.0"
                 : version == CURL_HTTP_VERSION_2_0 ? "HTTP/2"
                 : version == CURL_HTTP_VERSION_3   ? "HTTP/3"
                                                    : "HTTP/1.1";
    for (auto& hop : s.t.earlier) {
      response h;
      h.status_ = hop.status;
      h.reason_ = hop.reason;
      h.headers_ = header_map(hop.head, hop.head.size(), hop.head_lines);
      h.method_ = s.method;
      h.version_ = r.version_;
      r.history_.push_back(std::move(h));
    }
    // the URL each redirect response came from: the first is the request's, then each Location
    std::string at = r.history_.empty() ? std::string() : s.url;
    for (auto& h : r.history_) {
      h.url_ = at;
      if (auto loc = h.headers_.get("location")) at = resolve_location(at, *loc);
    }
    char* effective = nullptr;
    curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &effective);
    if (effective && s.url != effective) {
      r.url_ = effective;
    } else if (take_url) {
      r.url_ = std::move(s.url);
    } else {
      r.url_ = s.url;
    }
  }

  static std::string resolve_location(const std::string& from, std::string_view location) {
    detail::curl_url_ptr u = detail::new_curl_url();
    if (curl_url_set(u.get(), CURLUPART_URL, from.c_str(), 0) != CURLUE_OK ||
        curl_url_set(u.get(), CURLUPART_URL, std::string(location).c_str(), 0) != CURLUE_OK)
      return std::string(location);
    return detail::curl_url_part(u.get(), CURLUPART_URL).value_or(std::string(location));
  }

  response finish(detail::request_state& s) {
    if (s.t.result != CURLE_OK) detail::throw_transfer_error(s.t, s.method, s.url);
    response r;
    auto& t = s.t;
    if (t.decoder) {  // what zlib holds back, and whether the encoded data was whole
      if (!detail::decode_into_body(t, std::string_view())) detail::throw_transfer_error(t, s.method, s.url);
      if (!t.decoder->complete()) {
        t.violation = "the compressed body ends before its encoded data does";
        detail::throw_transfer_error(t, s.method, s.url);
      }
    }
    fill_head(s, r,
              t.head_size == std::string::npos ? header_map(t.head, t.head.size(), t.head_lines)  // no body
                                               : header_map(std::move(t.body), t.head_size, t.head_lines),
              true);
    curl_off_t total = 0;
    curl_easy_getinfo(s.t.easy, CURLINFO_TOTAL_TIME_T, &total);
    r.elapsed_ = std::chrono::microseconds(total);
    return r;
  }

  std::shared_ptr<trio::detail::curl_multi> multi_;
  client_options options_;
  bool closed_ = false;
};

}  // namespace trio::http
