#pragma once
/// \file
/// TLS over any trio stream (Trio's SSLStream), on OpenSSL 3 through memory BIOs: trio::ssl_context,
/// trio::ssl_stream<Stream>. CMake component `trio::ssl` (links OpenSSL::SSL); not part of
/// <trio/trio.hpp>.
///
///     trio::ssl_context ctx = trio::ssl_context::client();          // verifies, system CAs, TLS 1.2+
///     trio::socket_stream tcp = co_await trio::open_tcp_stream("example.org", 443);
///     trio::ssl_stream tls(std::move(tcp), ctx, "example.org");     // SNI and the host name check
///     co_await tls.send_all(std::string_view("GET / HTTP/1.0\r\n\r\n"));
///
/// Semantics are Trio's (spec notes §1): the handshake runs before the first send or receive (or by
/// do_handshake()); one task per direction (busy_resource_error), one sender and one receiver may run
/// at once; a cancelled send_all or handshake leaves the stream broken (broken_resource_error from then
/// on), a cancelled receive_some is safe; aclose() sends close_notify once and does not wait for the
/// peer's; with https_compatible the stream neither sends nor expects close_notify.

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <algorithm>

#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "trio/checkpoint.hpp"
#include "trio/detail/log_throttle.hpp"
#include "trio/errors.hpp"
#include "trio/event.hpp"
#include "trio/lock.hpp"
#include "trio/net.hpp"
#include "trio/nursery.hpp"
#include "trio/socket_stream.hpp"
#include "trio/stream.hpp"
#include "trio/task.hpp"
#include "trio/timeouts.hpp"

namespace trio {

/// The handshake has not happened yet (a post-handshake property was asked for).
class need_handshake_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail {

/// The OpenSSL error queue as text ("error:0A000086:SSL routines::certificate verify failed"), emptied.
inline std::string ssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

[[noreturn]] [[gnu::cold]] inline void throw_ssl_setup(const std::string& what) {
  const std::string errors = ssl_errors();
  throw std::runtime_error(what + (errors.empty() ? "" : ": " + errors));
}

}  // namespace detail

/// A TLS configuration (an SSL_CTX). A cheap handle: copies share the context.
class ssl_context {
 public:
  /// A client context: peer verification on with the system's CA store, TLS 1.2 at least.
  static ssl_context client() {
    ssl_context c(SSL_CTX_new(TLS_client_method()), "trio::ssl_context::client");
    SSL_CTX_set_verify(c.ctx_, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_set_default_verify_paths(c.ctx_) != 1)
      detail::throw_ssl_setup("trio::ssl_context::client: cannot load the system CA store");
    return c;
  }
  /// A server context from a PEM certificate chain file and a PEM private key file.
  static ssl_context server(const std::string& cert_chain_file, const std::string& key_file) {
    ssl_context c(SSL_CTX_new(TLS_server_method()), "trio::ssl_context::server");
    c.server_defaults();
    if (SSL_CTX_use_certificate_chain_file(c.ctx_, cert_chain_file.c_str()) != 1)
      detail::throw_ssl_setup("trio::ssl_context::server: cannot load the certificate chain '" + cert_chain_file + "'");
    if (SSL_CTX_use_PrivateKey_file(c.ctx_, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      detail::throw_ssl_setup("trio::ssl_context::server: cannot load the private key '" + key_file + "'");
    c.check_key("trio::ssl_context::server");
    return c;
  }
  /// A server context from PEM text: the certificate (then any intermediates) and the private key.
  static ssl_context server_from_pem(std::string_view cert_chain_pem, std::string_view key_pem) {
    ssl_context c(SSL_CTX_new(TLS_server_method()), "trio::ssl_context::server_from_pem");
    c.server_defaults();
    bio_ptr certs(BIO_new_mem_buf(cert_chain_pem.data(), static_cast<int>(cert_chain_pem.size())));
    X509* leaf = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr);
    if (!leaf || SSL_CTX_use_certificate(c.ctx_, leaf) != 1) {
      X509_free(leaf);
      detail::throw_ssl_setup("trio::ssl_context::server_from_pem: cannot read the certificate");
    }
    X509_free(leaf);
    while (X509* extra = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr))
      if (SSL_CTX_add0_chain_cert(c.ctx_, extra) != 1) {
        X509_free(extra);
        detail::throw_ssl_setup("trio::ssl_context::server_from_pem: cannot add a chain certificate");
      }
    ERR_clear_error();  // the end of the PEM text
    bio_ptr key_bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
    if (!key || SSL_CTX_use_PrivateKey(c.ctx_, key) != 1) {
      EVP_PKEY_free(key);
      detail::throw_ssl_setup("trio::ssl_context::server_from_pem: cannot read the private key");
    }
    EVP_PKEY_free(key);
    c.check_key("trio::ssl_context::server_from_pem");
    return c;
  }

  /// Trust the CA certificates in a PEM file (in addition to the system's, for a client context).
  ssl_context& load_verify_file(const std::string& path) {
    if (SSL_CTX_load_verify_locations(ctx_, path.c_str(), nullptr) != 1)
      detail::throw_ssl_setup("trio::ssl_context::load_verify_file: cannot load '" + path + "'");
    return *this;
  }
  /// Trust the CA certificates in PEM text.
  ssl_context& load_verify_pem(std::string_view pem) {
    bio_ptr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    X509_STORE* store = SSL_CTX_get_cert_store(ctx_);
    int added = 0;
    while (X509* cert = PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store, cert);
      X509_free(cert);
      ++added;
    }
    ERR_clear_error();
    if (added == 0) throw std::invalid_argument("trio::ssl_context::load_verify_pem: no certificate in the PEM text");
    return *this;
  }
  /// Peer verification on or off (a client verifies by default; off is for tests only).
  ssl_context& set_verify_peer(bool on) {
    SSL_CTX_set_verify(ctx_, on ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
    return *this;
  }
  /// TLS1_2_VERSION, TLS1_3_VERSION (0: the library's limit).
  ssl_context& set_min_version(int version) {
    SSL_CTX_set_min_proto_version(ctx_, version);
    return *this;
  }
  ssl_context& set_max_version(int version) {
    SSL_CTX_set_max_proto_version(ctx_, version);
    return *this;
  }
  /// ALPN: a client offers these protocols in order; a server picks the first of its list the client
  /// offers ("h2", "http/1.1").
  ssl_context& set_alpn_protocols(const std::vector<std::string>& protocols) {
    std::string& wire = s_->alpn_wire;
    wire.clear();
    for (const auto& p : protocols) {
      if (p.empty() || p.size() > 255)
        throw std::invalid_argument("trio::ssl_context::set_alpn_protocols: each protocol needs 1 to 255 bytes");
      wire += static_cast<char>(p.size());
      wire += p;
    }
    SSL_CTX_set_alpn_protos(ctx_, reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned>(wire.size()));            // client side
    SSL_CTX_set_alpn_select_cb(ctx_, &ssl_context::select_alpn, s_.get());  // server side
    return *this;
  }

  SSL_CTX* native() const noexcept { return ctx_; }

 private:
  struct bio_free {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
  };
  using bio_ptr = std::unique_ptr<BIO, bio_free>;

  /// The SSL_CTX and what its callbacks use; ssl_streams keep it alive.
  struct shared {
    SSL_CTX* ctx;
    std::string alpn_wire;
    explicit shared(SSL_CTX* c) noexcept : ctx(c) {}
    shared(const shared&) = delete;
    shared& operator=(const shared&) = delete;
    ~shared() { SSL_CTX_free(ctx); }
  };

  ssl_context(SSL_CTX* ctx, const char* what) {
    if (!ctx) detail::throw_ssl_setup(std::string(what) + ": SSL_CTX_new failed");
    s_ = std::make_shared<shared>(ctx);
    ctx_ = ctx;
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    SSL_CTX_clear_options(ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);  // an EOF without close_notify is told apart
    SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS);
  }
  /// Decision: no TLS 1.3 session tickets (ssl_stream has no session cache to resume from). OpenSSL 3
  /// writes them at the server's first read or write after the handshake, where a peer that already
  /// left would turn a clean end of stream into a failed write. SSL_CTX_set_num_tickets(native(), n)
  /// turns them back on.
  void server_defaults() { SSL_CTX_set_num_tickets(ctx_, 0); }
  void check_key(const char* what) const {
    if (SSL_CTX_check_private_key(ctx_) != 1)
      detail::throw_ssl_setup(std::string(what) + ": the private key does not match the certificate");
  }
  static int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                         unsigned inlen, void* arg) {
    auto* self = static_cast<shared*>(arg);
    unsigned char* chosen = nullptr;
    auto* ours = reinterpret_cast<unsigned char*>(self->alpn_wire.data());
    if (SSL_select_next_proto(&chosen, outlen, ours, static_cast<unsigned>(self->alpn_wire.size()), in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
      return SSL_TLSEXT_ERR_NOACK;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
  }

  std::shared_ptr<shared> s_;
  SSL_CTX* ctx_ = nullptr;  // s_->ctx
};

/// How an ssl_stream runs.
struct ssl_stream_options {
  bool server_side = false;
  /// Neither send nor expect close_notify (what HTTPS peers do; HTTP frames its own ends).
  bool https_compatible = false;
};

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

/// open_ssl_over_tcp_stream's options.
struct ssl_connect_options {
  bool https_compatible = false;
  tcp_connect_options tcp{};
};

/// open_tcp_stream(host, port) wrapped in a client ssl_stream that checks the certificate against host
/// (default context: ssl_context::client()). The handshake runs at the first use (or do_handshake()).
/// Overloads, not default arguments (g++ 12 and defaulted non-trivial arguments inside co_await).
inline task<ssl_stream<socket_stream>> open_ssl_over_tcp_stream(std::string host, std::uint16_t port, ssl_context ctx,
                                                                ssl_connect_options options) {
  socket_stream tcp = co_await open_tcp_stream(host, port, options.tcp);
  ssl_stream_options o;
  o.https_compatible = options.https_compatible;
  co_return ssl_stream<socket_stream>(std::move(tcp), ctx, std::move(host), o);
}
inline task<ssl_stream<socket_stream>> open_ssl_over_tcp_stream(std::string host, std::uint16_t port, ssl_context ctx) {
  return open_ssl_over_tcp_stream(std::move(host), port, std::move(ctx), ssl_connect_options{});
}
inline task<ssl_stream<socket_stream>> open_ssl_over_tcp_stream(std::string host, std::uint16_t port) {
  return open_ssl_over_tcp_stream(std::move(host), port, ssl_context::client(), ssl_connect_options{});
}

/// open_tcp_listeners(port, host), each wrapped in an ssl_listener.
inline task<std::vector<ssl_listener<socket_listener>>> open_ssl_over_tcp_listeners(std::uint16_t port, ssl_context ctx,
                                                                                    std::string host,
                                                                                    bool https_compatible) {
  std::vector<socket_listener> tcp = co_await open_tcp_listeners(port, host);
  std::vector<ssl_listener<socket_listener>> out;
  for (auto& l : tcp) out.emplace_back(std::move(l), ctx, https_compatible);
  co_return out;
}
inline task<std::vector<ssl_listener<socket_listener>>> open_ssl_over_tcp_listeners(std::uint16_t port,
                                                                                    ssl_context ctx) {
  return open_ssl_over_tcp_listeners(port, std::move(ctx), std::string(), false);
}

/// What serve_ssl_over_tcp runs for each connection; the stream is closed (close_notify) after it.
/// As for stream_handler, an exception that leaves it ends the server: catch what the connection can
/// throw (broken_resource_error: garbage instead of TLS, an end without close_notify, a reset).
using ssl_stream_handler = std::function<task<void>(ssl_stream<socket_stream>&)>;

/// serve_ssl_over_tcp's options.
struct ssl_serve_options {
  bool https_compatible = false;
  std::string host;     ///< the address to listen on (default: every address)
  serve_options serve;  ///< handler_nursery, listen options
  /// A connection whose TLS handshake has not finished this long after it was accepted is closed
  /// without calling the handler (a client that connects and sends nothing holds an fd and a task
  /// until then). duration::max(): no limit.
  duration handshake_timeout = std::chrono::seconds(10);
};

namespace detail {

/// "127.0.0.1:4433", or "a client" when the peer is already gone (getpeername fails after a reset).
inline std::string peer_or_unknown(const socket_stream& s) {
  try {
    return s.socket().peer_address().to_string();
  } catch (const std::system_error&) {
    return "a client";
  }
}

/// "10 s", "0.25 s".
inline std::string seconds_text(duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", std::chrono::duration<double>(d).count());
  return buf;
}

inline task<void> serve_ssl_over_tcp_impl(ssl_stream_handler handler, std::uint16_t port, ssl_context ctx,
                                          ssl_serve_options options, task_status<std::vector<socket_address>> status) {
  static constexpr const char* name = "trio.serve_ssl_over_tcp";
  if (!handler) throw std::invalid_argument("trio::serve_ssl_over_tcp: the handler is empty");
  if (options.handshake_timeout <= duration::zero())
    throw std::invalid_argument(
        "trio::serve_ssl_over_tcp: handshake_timeout must be positive (duration::max() for no limit)");
  struct shared_state {
    ssl_stream_handler handler;
    ssl_context ctx;
    bool https_compatible;
    duration handshake_timeout;
    log_throttle timeouts_log{std::chrono::seconds(10)};
  };
  auto shared = std::make_shared<shared_state>(
      shared_state{std::move(handler), std::move(ctx), options.https_compatible, options.handshake_timeout});
  stream_handler wrap = [shared](socket_stream s) -> task<void> {
    ssl_stream_options o;
    o.server_side = true;
    o.https_compatible = shared->https_compatible;
    ssl_stream<socket_stream> tls(std::move(s), shared->ctx, o);
    // The handshake first, under its own deadline. A handshake that fails is the handler's to see:
    // its first use of the stream throws broken_resource_error with the reason (as without this).
    bool handshake_over = true;
    if (shared->handshake_timeout != duration::max()) {
      auto handshake = [&tls]() -> task<void> {
        try {
          co_await tls.do_handshake();
        } catch (const std::exception&) {
        }
      };
      handshake_over = co_await move_on_after(shared->handshake_timeout, handshake);
    }
    if (!handshake_over) {
      shared->timeouts_log.log(
          current_time(), std::string(name) + ": closed the connection from " +
                              peer_or_unknown(tls.transport_stream()) + ": its TLS handshake did not finish within " +
                              seconds_text(shared->handshake_timeout) + " (ssl_serve_options::handshake_timeout)");
      co_await aclose_forcefully(tls);
      co_return;
    }
    std::exception_ptr error;
    try {
      co_await shared->handler(tls);
    } catch (...) {
      error = std::current_exception();
    }
    if (error) {
      co_await aclose_forcefully(tls);
      std::rethrow_exception(error);
    }
    co_await tls.aclose();
  };
  try {
    co_await serve_tcp_impl(std::move(wrap), port, std::move(options.host), options.serve, std::move(status));
  } catch (...) {
    shared->timeouts_log.flush(name, "when the server stopped");
    throw;
  }
}

struct serve_ssl_over_tcp_fn {
  using start_status = task_status<std::vector<socket_address>>;
  task<void> operator()(ssl_stream_handler handler, std::uint16_t port, const ssl_context& ctx,
                        start_status status = {}) const {
    return serve_ssl_over_tcp_impl(std::move(handler), port, ctx, ssl_serve_options{}, std::move(status));
  }
  task<void> operator()(ssl_stream_handler handler, std::uint16_t port, const ssl_context& ctx,
                        ssl_serve_options options, start_status status = {}) const {
    return serve_ssl_over_tcp_impl(std::move(handler), port, ctx, std::move(options), std::move(status));
  }
};

}  // namespace detail

/// serve_tcp with TLS: each connection becomes the server side of an ssl_stream given to handler (by
/// reference), closed with close_notify when the handler returns. The handshake runs first, under
/// options.handshake_timeout (default 10 s): a connection whose handshake has not finished by then is
/// closed without calling the handler (logged to stderr at most once every 10 s with a count); a
/// handshake that fails reaches the handler as broken_resource_error at its first use of the stream.
/// The trap: a handler's exception ends the server (see ssl_stream_handler). With nursery::start it
/// returns the listeners' addresses:
///     auto addresses = co_await n.start(trio::serve_ssl_over_tcp, handler, 0, server_ctx);
inline constexpr detail::serve_ssl_over_tcp_fn serve_ssl_over_tcp{};

}  // namespace trio
