#pragma once
/// \file
/// trio::detail::ssl_core<Stream>: the OpenSSL engine behind ssl_stream (an SSL over two memory BIOs,
/// Trio's _retry loop that moves bytes between them and the transport stream, the handshake, the
/// broken and closed states).

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <algorithm>

#include <climits>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "trio/checkpoint.hpp"
#include "trio/errors.hpp"
#include "trio/event.hpp"
#include "trio/lock.hpp"
#include "trio/ssl/context.hpp"
#include "trio/ssl/errors.hpp"
#include "trio/ssl/ssl_stream_options.hpp"
#include "trio/stream.hpp"
#include "trio/task.hpp"

namespace trio {

namespace detail {

/// An ssl_stream's state and its operations (not movable: locks and an event; ssl_stream holds it).
template <class Stream>
class ssl_core {
 public:
  ssl_core(Stream transport, const ssl_context& ctx, std::string server_hostname, ssl_stream_options options)
      : transport_(std::move(transport)), ctx_(ctx), host_(std::move(server_hostname)), options_(options) {
    SSL* ssl = SSL_new(ctx.native());
    if (!ssl) detail::throw_ssl_setup("trio::ssl_stream: SSL_new failed");
    ssl_.reset(ssl);
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    if (!in || !out) {
      BIO_free(in);
      BIO_free(out);
      detail::throw_ssl_setup("trio::ssl_stream: BIO_new failed");
    }
    BIO_set_mem_eof_return(in, -1);  // empty: "want more", until the transport's EOF
    SSL_set_bio(ssl, in, out);       // the SSL owns both
    incoming_ = in;
    outgoing_ = out;
    if (options_.server_side) {
      SSL_set_accept_state(ssl);
    } else {
      SSL_set_connect_state(ssl);
      if (!host_.empty()) {
        unsigned char ip[16];
        const bool is_ip = inet_pton(AF_INET, host_.c_str(), ip) == 1 || inet_pton(AF_INET6, host_.c_str(), ip) == 1;
        if (is_ip) {
          X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host_.c_str());
        } else {
          SSL_set_tlsext_host_name(ssl, host_.c_str());
          SSL_set1_host(ssl, host_.c_str());
        }
      }
    }
  }
  ssl_core(const ssl_core&) = delete;
  ssl_core& operator=(const ssl_core&) = delete;

  /// Runs the handshake now (it also runs before the first send or receive). If another task is
  /// handshaking, waits for it; once done, a checkpoint only. Cancelled: the stream is broken.
  task<void> do_handshake() {
    check_status();
    co_await ensure_handshake(true);
  }

  /// Up to buffer.size() decrypted bytes; 0 at the end (the peer's close_notify, or with
  /// https_compatible the transport's EOF).
  task<std::size_t> receive_some(std::span<std::byte> buffer) {
    detail::busy_guard busy(receiving_, "trio::ssl_stream::receive_some", "receiving");
    detail::check_max_bytes(buffer.size(), "trio::ssl_stream::receive_some");
    if (ended_without_close_notify_ && state_ != state::closed) {  // https_compatible: the end, again
      co_await checkpoint();
      co_return 0;
    }
    check_status();
    std::exception_ptr eof_error;
    try {
      co_await ensure_handshake(false);
    } catch (const broken_resource_error&) {
      if (!(options_.https_compatible && eof_)) throw;
      eof_error = std::current_exception();
    }
    if (eof_error) {
      co_await checkpoint();
      co_return 0;
    }
    const int len = static_cast<int>(std::min<std::size_t>(buffer.size(), INT_MAX));
    const int n = co_await retry(op::read, buffer.data(), len);
    co_return static_cast<std::size_t>(n);
  }

  /// Encrypts and sends all of data. Cancelled or failed: the stream is broken.
  task<void> send_all(std::span<const std::byte> data) {
    detail::busy_guard busy(sending_, "trio::ssl_stream::send_all", "sending");
    check_status();
    co_await ensure_handshake(false);
    if (data.empty()) {
      co_await checkpoint();
      co_return;
    }
    try {
      while (!data.empty()) {
        const int len = static_cast<int>(std::min<std::size_t>(data.size(), INT_MAX));
        const int n = co_await retry(op::write, const_cast<std::byte*>(data.data()), len);
        data = data.subspan(static_cast<std::size_t>(n));
      }
    } catch (...) {
      state_ = state::broken;
      throw;
    }
  }

  task<void> wait_send_all_might_not_block() {
    detail::busy_guard busy(sending_, "trio::ssl_stream::wait_send_all_might_not_block", "sending");
    check_status();
    auto held = co_await inner_send_lock_.scoped_acquire();
    co_await transport_.wait_send_all_might_not_block();
  }

  /// Sends close_notify (unless https_compatible or broken), without waiting for the peer's, and
  /// closes the transport, exactly once. A second aclose is a checkpoint.
  task<void> aclose() {
    if (state_ == state::closed) {
      co_await checkpoint();
      co_return;
    }
    if (state_ == state::broken || options_.https_compatible) {
      state_ = state::closed;
      co_await transport_.aclose();
      co_return;
    }
    std::exception_ptr failure;
    try {
      co_await ensure_handshake(false);
      try {
        co_await retry(op::shutdown, nullptr, 0, true);
      } catch (const broken_resource_error&) {  // the peer may have closed first: fine
      } catch (const busy_resource_error&) {
      }
    } catch (...) {
      failure = std::current_exception();
    }
    state_ = state::closed;
    if (failure) {
      co_await aclose_forcefully(transport_);
      std::rethrow_exception(failure);
    }
    co_await transport_.aclose();
  }

  /// Ends TLS cleanly (close_notify both ways) and gives back the transport and the bytes read past
  /// the end of TLS (treat them as already received from it).
  task<std::pair<Stream, std::string>> unwrap() {
    detail::busy_guard r(receiving_, "trio::ssl_stream::unwrap", "receiving");
    detail::busy_guard s(sending_, "trio::ssl_stream::unwrap", "sending");
    check_status();
    co_await ensure_handshake(false);
    co_await retry(op::shutdown, nullptr, 0);
    state_ = state::closed;
    std::string trailing(static_cast<std::size_t>(BIO_ctrl_pending(incoming_)), '\0');
    if (!trailing.empty()) BIO_read(incoming_, trailing.data(), static_cast<int>(trailing.size()));
    co_return std::pair<Stream, std::string>(std::move(transport_), std::move(trailing));
  }

  /// The protocol ALPN chose (nullopt: none); need_handshake_error before the handshake.
  std::optional<std::string> selected_alpn_protocol() const {
    need_handshake("selected_alpn_protocol");
    const unsigned char* p = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl_.get(), &p, &len);
    if (!p || len == 0) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(p), len);
  }
  /// The peer's certificate (nullptr: none sent), owned by the stream; need_handshake_error before.
  X509* peer_certificate() const {
    need_handshake("peer_certificate");
    return SSL_get0_peer_certificate(ssl_.get());
  }
  /// "TLSv1.3", "TLSv1.2"; need_handshake_error before the handshake.
  std::string version() const {
    need_handshake("version");
    return SSL_get_version(ssl_.get());
  }
  bool handshake_done() const noexcept { return handshake_done_.is_set(); }

  Stream& transport_stream() noexcept { return transport_; }
  SSL* native() const noexcept { return ssl_.get(); }

 private:
  enum class state { ok, broken, closed };
  enum class op { handshake, read, write, shutdown };
  struct ssl_free {
    void operator()(SSL* s) const noexcept { SSL_free(s); }
  };

  void check_status() const {
    if (state_ == state::broken)
      throw broken_resource_error("trio::ssl_stream: the stream is broken (an earlier error or cancellation)" +
                                  (broken_reason_.empty() ? std::string() : ": " + broken_reason_));
    if (state_ == state::closed) throw closed_resource_error("trio::ssl_stream: the stream was closed (aclose/unwrap)");
  }
  void need_handshake(const char* what) const {
    if (!handshake_done_.is_set())
      throw need_handshake_error(std::string("trio::ssl_stream::") + what + ": the handshake has not happened yet");
  }

  task<void> ensure_handshake(bool checkpoint_if_done) {
    if (!handshake_started_) {
      handshake_started_ = true;
      try {
        co_await retry(op::handshake, nullptr, 0);
      } catch (const std::exception& e) {
        state_ = state::broken;
        broken_reason_ =
            "the TLS handshake failed: " + (broken_reason_.empty() ? std::string(e.what()) : broken_reason_);
        // https_compatible: the transport's end during the handshake is the end of the stream (a
        // receive_some gives 0 from now on, as after the end of the stream without close_notify).
        if (options_.https_compatible && eof_) ended_without_close_notify_ = true;
        handshake_done_.set();
        throw;
      } catch (...) {
        state_ = state::broken;
        handshake_done_.set();
        throw;
      }
      handshake_done_.set();
    } else if (!checkpoint_if_done && handshake_done_.is_set()) {
      co_return;
    } else {
      co_await handshake_done_.wait();
    }
    check_status();
  }

  bool is_eof_error(int err) const {
    if (err == SSL_ERROR_SYSCALL) return ERR_peek_error() == 0;
    if (err == SSL_ERROR_SSL) return ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
    return false;
  }

  [[noreturn]] [[gnu::cold]] void fail(op o, int err) {
    std::string why;
    const long verify = SSL_get_verify_result(ssl_.get());
    if (verify != X509_V_OK && o == op::handshake)
      why = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    const std::string errors = detail::ssl_errors();
    if (why.empty()) why = errors.empty() ? "SSL error " + std::to_string(err) : errors;
    if (eof_) why += " (the transport reached its end)";
    const char* name = o == op::handshake ? "the TLS handshake"
                       : o == op::read    ? "receiving"
                       : o == op::write   ? "sending"
                                          : "closing";
    state_ = state::broken;
    broken_reason_ = why;
    throw broken_resource_error("trio::ssl_stream: " + std::string(name) +
                                (host_.empty() ? std::string() : " (with " + host_ + ")") + " failed: " + why);
  }

  /// Trio's _retry: run the SSL operation, feed the transport what OpenSSL wrote, give OpenSSL what it
  /// wants to read; at most one blocking transport operation per turn. Returns the operation's result
  /// (0 for a clean EOF on read).
  task<int> retry(op o, void* data, int len, bool ignore_want_read = false) {
    co_await checkpoint_if_cancelled();
    bool yielded = false;
    int ret = 0;
    for (bool finished = false; !finished;) {
      bool want_read = false;
      ERR_clear_error();
      switch (o) {
        case op::handshake:
          ret = SSL_do_handshake(ssl_.get());
          break;
        case op::read:
          ret = SSL_read(ssl_.get(), data, len);
          break;
        case op::write:
          ret = SSL_write(ssl_.get(), data, len);
          break;
        case op::shutdown:
          ret = SSL_shutdown(ssl_.get());
          break;
      }
      if (ret > 0 || (o == op::shutdown && ret == 0 && ignore_want_read)) {
        finished = true;
      } else if (o == op::shutdown && ret == 0) {
        want_read = true;  // our close_notify is out; the peer's has not arrived yet
      } else {
        const int err = SSL_get_error(ssl_.get(), ret);
        if (err == SSL_ERROR_WANT_READ) {
          want_read = true;
        } else if (err == SSL_ERROR_ZERO_RETURN && o == op::read) {
          finished = true;  // the peer's close_notify: the end of the stream
          ret = 0;
        } else if (o == op::read && options_.https_compatible && is_eof_error(err)) {
          // The end without close_notify, which https_compatible accepts. OpenSSL has failed the
          // connection (and queued an alert, which Trio never sends either): receiving gives 0 from
          // now on, sending is broken.
          ERR_clear_error();
          (void)BIO_reset(outgoing_);
          state_ = state::broken;
          broken_reason_ = "the peer closed the transport without close_notify";
          ended_without_close_notify_ = true;
          co_await cancel_shielded_checkpoint();
          co_return 0;
        } else {
          fail(o, err);
        }
      }
      if (ignore_want_read) {
        want_read = false;
        finished = true;
      }
      const std::size_t pending = BIO_ctrl_pending(outgoing_);
      if (pending > 0 && o == op::handshake && !want_read && options_.server_side &&
          SSL_version(ssl_.get()) == TLS1_3_VERSION) {
        // Trio's TLS 1.3 server rule: the session tickets that end the server's handshake go out with
        // its first write, so a handshake never blocks on a peer that is not reading yet.
        const std::size_t at = delayed_.size();
        delayed_.resize(at + pending);
        BIO_read(outgoing_, delayed_.data() + at, static_cast<int>(pending));
      } else if (pending > 0) {
        // Taken out before waiting for the lock (so the other direction's task does not see it as
        // its own to send), into a buffer of this call's: the other task may fill one too while
        // this one is sending. The buffers are recycled (no allocation in steady state).
        std::string chunk = take_spare();
        chunk.resize(pending);
        BIO_read(outgoing_, chunk.data(), static_cast<int>(pending));
        auto held = co_await inner_send_lock_.scoped_acquire();
        yielded = true;
        try {
          if (!delayed_.empty()) {
            chunk.insert(0, delayed_);
            delayed_.clear();
          }
          co_await transport_.send_all(as_bytes(chunk));
        } catch (...) {
          state_ = state::broken;
          throw;
        }
        spares_.push_back(std::move(chunk));
      } else if (want_read) {
        const std::size_t count = inner_recv_count_;
        auto held = co_await inner_recv_lock_.scoped_acquire();
        yielded = true;
        if (count == inner_recv_count_) {
          if (in_buf_.size() < receive_size_) in_buf_.resize(receive_size_);
          const std::size_t n =
              co_await transport_.receive_some(std::as_writable_bytes(std::span(in_buf_.data(), receive_size_)));
          if (n == 0) {
            eof_ = true;
            BIO_set_mem_eof_return(incoming_, 0);
          } else {
            BIO_write(incoming_, in_buf_.data(), static_cast<int>(n));
            if (n == receive_size_ && receive_size_ < 256 * 1024) receive_size_ *= 2;
          }
          ++inner_recv_count_;
        }
      }
    }
    if (!yielded) co_await cancel_shielded_checkpoint();
    co_return ret;
  }

  std::string take_spare() {
    if (spares_.empty()) return {};
    std::string s = std::move(spares_.back());
    spares_.pop_back();
    return s;
  }

  Stream transport_;
  ssl_context ctx_;
  std::unique_ptr<SSL, ssl_free> ssl_;
  BIO* incoming_ = nullptr;  // owned by ssl_
  BIO* outgoing_ = nullptr;
  std::string host_;
  ssl_stream_options options_;
  state state_ = state::ok;
  std::string broken_reason_;
  bool handshake_started_ = false;
  event handshake_done_;
  bool receiving_ = false;
  bool sending_ = false;
  bool eof_ = false;
  bool ended_without_close_notify_ = false;
  strict_fifo_lock inner_send_lock_;
  lock inner_recv_lock_;
  std::size_t inner_recv_count_ = 0;
  std::size_t receive_size_ = 16384;
  std::vector<std::string> spares_;  // outgoing-record buffers, reused
  std::string delayed_;
  std::vector<char> in_buf_;
};

}  // namespace detail

}  // namespace trio
