#pragma once
/// \file
/// trio::http::client: the HTTP client, one connection pool (a curl multi handle) for all its
/// requests, driven by the trio loop (see <trio/http.hpp> for the component).

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "trio/checkpoint.hpp"
#include "trio/clock.hpp"
#include "trio/errors.hpp"
#include "trio/http/detail/curl_callbacks.hpp"
#include "trio/http/detail/curl_multi.hpp"
#include "trio/http/detail/curl_url.hpp"
#include "trio/http/detail/request_state.hpp"
#include "trio/http/detail/transfer_error.hpp"
#include "trio/http/errors.hpp"
#include "trio/http/header_map.hpp"
#include "trio/http/options.hpp"
#include "trio/http/response.hpp"
#include "trio/http/streamed_response.hpp"
#include "trio/http/transport.hpp"
#include "trio/task.hpp"

namespace trio::http {

/// The client: one connection pool (a curl multi handle) for all its requests. Move-only; use one
/// for many requests (a client per request defeats the pool). Requests may run from many tasks at
/// once.
class client {
 public:
  /// A client with the default options.
  client() : client(client_options{}) {}
  /// A client with `options` for all its requests (the default constructor: default options).
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

  /// The options the client was made with.
  const client_options& options() const noexcept { return options_; }

  /// request("GET", url).
  task<response> get(std::string url) { return request("GET", std::move(url)); }
  /// request("GET", url, o).
  task<response> get(std::string url, request_options o) { return request("GET", std::move(url), std::move(o)); }
  /// request("HEAD", url).
  task<response> head(std::string url) { return request("HEAD", std::move(url)); }
  /// request("HEAD", url, o).
  task<response> head(std::string url, request_options o) { return request("HEAD", std::move(url), std::move(o)); }
  /// request("POST", url): a POST without a body.
  task<response> post(std::string url) { return request("POST", std::move(url)); }
  /// request("POST", url, o): the body is o.content, o.json or o.form.
  task<response> post(std::string url, request_options o) { return request("POST", std::move(url), std::move(o)); }
  /// request("PUT", url).
  task<response> put(std::string url) { return request("PUT", std::move(url)); }
  /// request("PUT", url, o).
  task<response> put(std::string url, request_options o) { return request("PUT", std::move(url), std::move(o)); }
  /// request("PATCH", url).
  task<response> patch(std::string url) { return request("PATCH", std::move(url)); }
  /// request("PATCH", url, o).
  task<response> patch(std::string url, request_options o) { return request("PATCH", std::move(url), std::move(o)); }
  /// request("DELETE", url) (`delete` is a C++ keyword).
  task<response> delete_(std::string url) { return request("DELETE", std::move(url)); }
  /// request("DELETE", url, o).
  task<response> delete_(std::string url, request_options o) { return request("DELETE", std::move(url), std::move(o)); }

  /// request(method, url) with default request_options.
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
    const std::string waiting =
        "trio::http::client::request: " + s.method + " " + s.url + " (waiting for the response)";
    co_await event::wait_awaiter(s.t.finished, &waiting);
    co_return finish(s);
  }

  /// stream(method, url) with default request_options.
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
    const std::string waiting =
        "trio::http::client::stream: " + s->method + " " + s->url + " (waiting for the response's headers)";
    co_await event::wait_awaiter(s->t.headers_ready, &waiting);
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
