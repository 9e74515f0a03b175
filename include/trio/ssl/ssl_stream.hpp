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
  ssl_stream(Stream transport, const ssl_context& ctx, std::string server_hostname, ssl_stream_options options)
      : c_(std::make_unique<detail::ssl_core<Stream>>(std::move(transport), ctx, std::move(server_hostname), options)) {
  }
  /// A server stream (options.server_side), or a client that checks no host name.
  ssl_stream(Stream transport, const ssl_context& ctx, ssl_stream_options options)
      : c_(std::make_unique<detail::ssl_core<Stream>>(std::move(transport), ctx, std::string(), options)) {}

  task<void> do_handshake() { return c_->do_handshake(); }
  task<std::size_t> receive_some(std::span<std::byte> buffer) { return c_->receive_some(buffer); }
  task<std::string> receive_some(std::size_t max_bytes = 16384) {
    return detail::receive_string(*c_, max_bytes, "trio::ssl_stream::receive_some");
  }
  task<void> send_all(std::span<const std::byte> data) { return c_->send_all(data); }
  task<void> send_all(std::string_view data) { return c_->send_all(detail::as_bytes(data)); }
  task<void> wait_send_all_might_not_block() { return c_->wait_send_all_might_not_block(); }
  task<void> aclose() { return c_->aclose(); }
  task<std::pair<Stream, std::string>> unwrap() { return c_->unwrap(); }

  std::optional<std::string> selected_alpn_protocol() const { return c_->selected_alpn_protocol(); }
  X509* peer_certificate() const { return c_->peer_certificate(); }
  std::string version() const { return c_->version(); }
  bool handshake_done() const noexcept { return c_->handshake_done(); }
  Stream& transport_stream() noexcept { return c_->transport_stream(); }
  SSL* native() const noexcept { return c_->native(); }

 private:
  std::unique_ptr<detail::ssl_core<Stream>> c_;
};

/// Accepts from a transport listener (a socket_listener, say) and wraps each stream as the server side
/// of an ssl_stream (Trio's SSLListener). The handshake runs at the stream's first use.
template <class Listener>
class ssl_listener {
 public:
  using transport_stream_type = await_result_t<decltype(std::declval<Listener&>().accept())>;
  using stream_type = ssl_stream<transport_stream_type>;

  ssl_listener(Listener transport, ssl_context ctx, bool https_compatible = false)
      : transport_(std::move(transport)), ctx_(std::move(ctx)), https_compatible_(https_compatible) {}

  task<stream_type> accept() {
    transport_stream_type s = co_await transport_.accept();
    ssl_stream_options o;
    o.server_side = true;
    o.https_compatible = https_compatible_;
    co_return stream_type(std::move(s), ctx_, o);
  }
  task<void> aclose() { return transport_.aclose(); }
  Listener& transport_listener() noexcept { return transport_; }

 private:
  Listener transport_;
  ssl_context ctx_;
  bool https_compatible_;
};

}  // namespace trio
