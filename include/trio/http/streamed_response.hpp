#pragma once
/// \file
/// trio::http::streamed_response: a response whose body is read as a trio receive stream, with
/// backpressure (client::stream returns one).

#include <curl/curl.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "trio/checkpoint.hpp"
#include "trio/errors.hpp"
#include "trio/http/detail/request_state.hpp"
#include "trio/http/detail/transfer_error.hpp"
#include "trio/http/detail/zlib_inflate.hpp"
#include "trio/http/errors.hpp"
#include "trio/http/header_map.hpp"
#include "trio/http/response.hpp"
#include "trio/task.hpp"

namespace trio::http {

/// A response whose body is read as a trio receive stream (receive_some), with backpressure: curl
/// is paused while the buffer (256 KiB) is full, so a download of any size holds a bounded amount of
/// memory: the buffer plus what one 16 KiB read of the socket decodes to (for a compressed body at
/// most ~16 MiB, deflate's ratio; a gzip bomb is read at zlib's speed, never held whole).
/// Closing it (aclose, or destroying it) before the end aborts the transfer.
class streamed_response {
 public:
  /// The status code (200, 404, ...).
  int status_code() const noexcept { return head_.status_code(); }
  /// The status line's reason phrase ("OK", "Not Found").
  std::string_view reason_phrase() const noexcept { return head_.reason_phrase(); }
  /// The response's headers.
  const header_map& headers() const noexcept { return head_.headers(); }
  /// The URL of this response (after redirects).
  const std::string& url() const noexcept { return head_.url(); }
  /// "HTTP/1.0", "HTTP/1.1", "HTTP/2" or "HTTP/3".
  std::string_view http_version() const noexcept { return head_.http_version(); }
  /// Throws http_status_error for a 4xx/5xx status; otherwise returns the response's head (status,
  /// headers, URL) so calls chain. Read the body from this stream.
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

}  // namespace trio::http
