#pragma once
/// \file
/// trio::need_handshake_error, and OpenSSL's error queue as text for the trio::ssl component's errors
/// (detail::ssl_errors, detail::throw_ssl_setup).

#include <openssl/err.h>

#include <stdexcept>
#include <string>

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

}  // namespace trio
