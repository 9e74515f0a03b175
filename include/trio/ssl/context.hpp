#pragma once
/// \file
/// trio::ssl_context: a TLS configuration (an OpenSSL SSL_CTX) for ssl_stream: client() and server()
/// contexts, the CAs to trust, peer verification, protocol versions, ALPN.

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "trio/ssl/errors.hpp"

namespace trio {

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
  /// The highest TLS version to allow, as set_min_version (0: the library's limit).
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

  /// OpenSSL's SSL_CTX, for settings the class does not offer (change it before making streams).
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

}  // namespace trio
