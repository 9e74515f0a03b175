#pragma once
/// \file
/// trio::ssl_stream<Stream>: TLS over any trio stream (Trio's SSLStream), and trio::ssl_listener<Listener>
/// that wraps each accepted stream as the server side of one (Trio's SSLListener).

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "trio/ssl/context.hpp"
#include "trio/ssl/detail/ssl_core.hpp"
#include "trio/ssl/ssl_stream_options.hpp"
#include "trio/stream.hpp"
#include "trio/task.hpp"

namespace trio {

/// TLS over Stream (any trio stream: socket_stream, memory streams, a process's pipes stapled,
/// another ssl_stream). Move-only (don't move it while an operation runs); owns the transport.
template <class Stream>
class ssl_stream {
 public:
  /// A client stream that checks the peer's certificate against server_hostname (a DNS name or an
  /// IP address) and sends it as SNI.
  ssl_stream(Stream transport, const ssl_context& ctx, std::string server_hostname)
      : c_(std::make_unique<detail::ssl_core<Stream>>(std::move(transport), ctx, std::move(server_hostname),
                                                      ssl_stream_options{})) {}
  /// A client stream checking server_hostname, as above, with options (e.g. https_compatible).
  ssl_stream(Stream transport, const ssl_context& ctx, std::string server_hostname, ssl_stream_options options)
      : c_(std::make_unique<detail::ssl_core<Stream>>(std::move(transport), ctx, std::move(server_hostname), options)) {
  }
  /// A server stream (options.server_side), or a client that checks no host name.
  ssl_stream(Stream transport, const ssl_context& ctx, ssl_stream_options options)
      : c_(std::make_unique<detail::ssl_core<Stream>>(std::move(transport), ctx, std::string(), options)) {}

  /// Runs the handshake now (it also runs before the first send or receive). If another task is
  /// handshaking, waits for it; once done, a checkpoint only. A failed handshake (a bad certificate,
  /// garbage instead of TLS): broken_resource_error. Cancelled: the stream is broken.
  task<void> do_handshake() { return c_->do_handshake(); }
  /// Up to buffer.size() decrypted bytes; 0 at the end (the peer's close_notify, or with
  /// https_compatible the transport's EOF). An end without close_notify otherwise, or a TLS error:
  /// broken_resource_error. Two tasks receiving at once: busy_resource_error.
  task<std::size_t> receive_some(std::span<std::byte> buffer) { return c_->receive_some(buffer); }
  /// Up to `max_bytes` (at least 1, else std::invalid_argument) as a string; empty at the end of the stream.
  task<std::string> receive_some(std::size_t max_bytes = 16384) {
    return detail::receive_string(*c_, max_bytes, "trio::ssl_stream::receive_some");
  }
  /// Encrypts and sends all of data. Cancelled or failed: the stream is broken (later operations:
  /// broken_resource_error). Two tasks sending at once: busy_resource_error.
  task<void> send_all(std::span<const std::byte> data) { return c_->send_all(data); }
  /// send_all of a string's bytes.
  task<void> send_all(std::string_view data) { return c_->send_all(detail::as_bytes(data)); }
  /// Waits until the transport can take more data (the transport stream's wait).
  task<void> wait_send_all_might_not_block() { return c_->wait_send_all_might_not_block(); }
  /// Sends close_notify (unless https_compatible or broken), without waiting for the peer's, and
  /// closes the transport, exactly once. A second aclose is a checkpoint.
  task<void> aclose() { return c_->aclose(); }
  /// Ends TLS cleanly (close_notify both ways) and gives back the transport and the bytes read past
  /// the end of TLS (treat them as already received from it). The stream is closed afterwards.
  task<std::pair<Stream, std::string>> unwrap() { return c_->unwrap(); }

  /// The protocol ALPN chose (std::nullopt: none); before the handshake: need_handshake_error.
  std::optional<std::string> selected_alpn_protocol() const { return c_->selected_alpn_protocol(); }
  /// The peer's certificate (nullptr: none sent), owned by the stream; before the handshake:
  /// need_handshake_error.
  X509* peer_certificate() const { return c_->peer_certificate(); }
  /// The TLS version in use ("TLSv1.3", "TLSv1.2"); before the handshake: need_handshake_error.
  std::string version() const { return c_->version(); }
  /// Whether the handshake has completed.
  bool handshake_done() const noexcept { return c_->handshake_done(); }
  /// The stream TLS runs over. Reading or writing it directly corrupts the TLS session.
  Stream& transport_stream() noexcept { return c_->transport_stream(); }
  /// OpenSSL's SSL object, for what the class does not offer. Owned by the stream.
  SSL* native() const noexcept { return c_->native(); }

 private:
  std::unique_ptr<detail::ssl_core<Stream>> c_;
};

/// Accepts from a transport listener (a socket_listener, say) and wraps each stream as the server side
/// of an ssl_stream (Trio's SSLListener). The handshake runs at the stream's first use.
template <class Listener>
class ssl_listener {
 public:
  /// What the transport listener's accept() yields (socket_stream for a socket_listener).
  using transport_stream_type = await_result_t<decltype(std::declval<Listener&>().accept())>;
  /// What accept() yields: a server-side ssl_stream over a transport stream.
  using stream_type = ssl_stream<transport_stream_type>;

  /// Wraps `transport`; every accepted stream uses `ctx` (a server context with a certificate) and
  /// `https_compatible` (see ssl_stream_options).
  ssl_listener(Listener transport, ssl_context ctx, bool https_compatible = false)
      : transport_(std::move(transport)), ctx_(std::move(ctx)), https_compatible_(https_compatible) {}

  /// Accepts the next transport stream and wraps it; no handshake yet (it runs at the stream's first
  /// use, so a slow client does not hold up the accept loop). Errors are the transport listener's.
  task<stream_type> accept() {
    transport_stream_type s = co_await transport_.accept();
    ssl_stream_options o;
    o.server_side = true;
    o.https_compatible = https_compatible_;
    co_return stream_type(std::move(s), ctx_, o);
  }
  /// Closes the transport listener.
  task<void> aclose() { return transport_.aclose(); }
  /// The listener it accepts from.
  Listener& transport_listener() noexcept { return transport_; }

 private:
  Listener transport_;
  ssl_context ctx_;
  bool https_compatible_;
};

}  // namespace trio
