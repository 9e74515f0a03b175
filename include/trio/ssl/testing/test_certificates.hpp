#pragma once
/// \file
/// trio::testing::make_test_certificates: a throwaway certificate authority and a server certificate
/// signed by it, made in memory at run time (Python's trustme), for TLS tests and examples. ECDSA P-256,
/// valid from an hour ago for 30 days; nothing to check in, nothing that expires in the repository.
/// Needs OpenSSL (the trio::ssl component).
///
///     auto certs = trio::testing::make_test_certificates({"trio-test-1.example.org", "127.0.0.1"});
///     auto server_ctx = trio::ssl_context::server_from_pem(certs.cert_pem, certs.key_pem);
///     auto client_ctx = trio::ssl_context::client();
///     client_ctx.load_verify_pem(certs.ca_pem);

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace trio::testing {

/// What make_test_certificates returns: PEM text for a throwaway CA and a server certificate.
struct test_certificates {
  std::string ca_pem;    ///< the CA's certificate: trust this (ssl_context::load_verify_pem)
  std::string cert_pem;  ///< the server's certificate (for the names asked), signed by the CA
  std::string key_pem;   ///< the server's private key
};

namespace ssl_certs_detail {

struct pkey_free {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct x509_free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
struct bio_free {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;

inline void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("trio::testing::make_test_certificates: ") + what + " failed");
}

inline pkey_ptr new_key() {
  pkey_ptr k(EVP_EC_gen("P-256"));
  check(k != nullptr, "EVP_EC_gen");
  return k;
}

inline void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  check(ext != nullptr, "X509V3_EXT_conf_nid");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

inline x509_ptr new_cert(EVP_PKEY* key, const std::string& common_name, long serial) {
  x509_ptr cert(X509_new());
  check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("trio-cpp tests"), -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                             -1, 0);
  return cert;
}

template <class Write, class T>
std::string pem_of(Write write, T* object) {
  std::unique_ptr<BIO, bio_free> b(BIO_new(BIO_s_mem()));
  check(write(b.get(), object) == 1, "PEM_write");
  char* data = nullptr;
  const long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace ssl_certs_detail

/// A CA and a server certificate for `names` (DNS names and IP addresses, the first is the CN).
inline test_certificates make_test_certificates(const std::vector<std::string>& names) {
  namespace d = ssl_certs_detail;
  if (names.empty()) throw std::invalid_argument("trio::testing::make_test_certificates: give at least one name");
  d::pkey_ptr ca_key = d::new_key();
  d::x509_ptr ca = d::new_cert(ca_key.get(), "trio-cpp test CA", 1);
  X509_set_issuer_name(ca.get(), X509_get_subject_name(ca.get()));
  d::add_ext(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
  d::add_ext(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  d::add_ext(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
  d::check(X509_sign(ca.get(), ca_key.get(), EVP_sha256()) > 0, "signing the CA");

  d::pkey_ptr key = d::new_key();
  d::x509_ptr cert = d::new_cert(key.get(), names[0], 2);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get()));
  std::string san;
  for (const auto& n : names) {
    unsigned char ip[16];
    const bool is_ip = inet_pton(AF_INET, n.c_str(), ip) == 1 || inet_pton(AF_INET6, n.c_str(), ip) == 1;
    if (!san.empty()) san += ',';
    san += is_ip ? "IP:" : "DNS:";  // (appended piecewise: g++ 12 -O3 misreads `"," + std::string` as overlap)
    san += n;
  }
  d::add_ext(cert.get(), ca.get(), NID_subject_alt_name, san);
  d::add_ext(cert.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  d::add_ext(cert.get(), ca.get(), NID_ext_key_usage, "serverAuth,clientAuth");
  d::add_ext(cert.get(), ca.get(), NID_authority_key_identifier, "keyid");
  d::check(X509_sign(cert.get(), ca_key.get(), EVP_sha256()) > 0, "signing the certificate");

  test_certificates out;
  out.ca_pem = d::pem_of(PEM_write_bio_X509, ca.get());
  out.cert_pem = d::pem_of(PEM_write_bio_X509, cert.get());
  out.key_pem = d::pem_of(
      [](BIO* b, EVP_PKEY* k) { return PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr); },
      key.get());
  return out;
}

}  // namespace trio::testing
