#pragma once
/// \file
/// trio::socket_address: a socket address as a value (IPv4, IPv6 with scope id, Unix socket paths),
/// parsed from numeric text or copied from what the kernel filled in.

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace trio {

/// A socket address: IPv4, IPv6 (with scope id) or a Unix socket path. A value type.
class socket_address {
 public:
  socket_address() noexcept = default;

  /// A numeric host ("127.0.0.1", "::1", "[::1]", "fe80::1%lo") and a port. Names are not resolved
  /// here (open_tcp_stream does that); bad text throws std::invalid_argument naming it.
  static socket_address parse(std::string_view host, std::uint16_t port) {
    socket_address a;
    std::string h(host);
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
    if (::inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(port);
      a.len_ = sizeof(sockaddr_in);
      return a;
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
    std::string scope;
    if (auto pct = h.find('%'); pct != std::string::npos) {
      scope = h.substr(pct + 1);
      h.resize(pct);
    }
    if (::inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(port);
      if (!scope.empty()) {
        unsigned id = ::if_nametoindex(scope.c_str());
        if (id == 0) {
          char* end = nullptr;
          unsigned long n = std::strtoul(scope.c_str(), &end, 10);
          if (!end || *end != '\0')
            throw std::invalid_argument("trio::socket_address: unknown IPv6 scope '" + scope + "' in '" +
                                        std::string(host) + "'");
          id = static_cast<unsigned>(n);
        }
        v6->sin6_scope_id = id;
      }
      a.len_ = sizeof(sockaddr_in6);
      return a;
    }
    throw std::invalid_argument("trio::socket_address::parse: '" + std::string(host) +
                                "' is not a numeric IPv4 or IPv6 address (resolve host names with "
                                "trio::open_tcp_stream or trio::getaddrinfo)");
  }

  /// "host:port" or "[v6]:port".
  static socket_address parse(std::string_view host_and_port) {
    auto colon = host_and_port.rfind(':');
    if (colon == std::string_view::npos)
      throw std::invalid_argument("trio::socket_address::parse: '" + std::string(host_and_port) + "' has no ':port'");
    return parse(host_and_port.substr(0, colon), parse_port(host_and_port.substr(colon + 1)));
  }

  /// A Unix socket path; a leading '\0' makes it an abstract address.
  static socket_address unix_path(std::string_view path) {
    socket_address a;
    auto* un = reinterpret_cast<sockaddr_un*>(&a.storage_);
    if (path.empty() || path.size() >= sizeof un->sun_path)
      throw std::invalid_argument("trio::socket_address::unix_path: the path '" + std::string(path) + "' is " +
                                  (path.empty() ? "empty" : "too long (at most 107 bytes)"));
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, path.data(), path.size());
    a.len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (path[0] == '\0' ? 0 : 1));
    return a;
  }

  /// Copies a sockaddr the kernel filled in.
  static socket_address from_native(const sockaddr* sa, socklen_t len) {
    socket_address a;
    if (len > sizeof a.storage_) throw std::invalid_argument("trio::socket_address: address too long");
    std::memcpy(&a.storage_, sa, len);
    a.len_ = len;
    return a;
  }

  /// A port in 0..65535 from text; anything else throws std::invalid_argument naming it.
  static std::uint16_t parse_port(std::string_view text) {
    unsigned long v = 0;
    if (text.empty() || text.size() > 5) v = 70000;
    for (char c : text) {
      if (c < '0' || c > '9') {
        v = 70000;
        break;
      }
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v > 65535) throw std::invalid_argument("trio: '" + std::string(text) + "' is not a port number (0..65535)");
    return static_cast<std::uint16_t>(v);
  }

  /// AF_INET, AF_INET6 or AF_UNIX; AF_UNSPEC for an empty (default-constructed) address.
  int family() const noexcept { return len_ ? storage_.ss_family : AF_UNSPEC; }
  /// The port in host byte order; 0 for a Unix or empty address.
  std::uint16_t port() const noexcept {
    if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    return 0;
  }
  /// The address without the port ("127.0.0.1", "::1", or the Unix path).
  std::string host() const {
    char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = {};
    if (family() == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
      return buf;
    }
    if (family() == AF_INET6) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
      ::inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
      std::string out = buf;
      if (v6->sin6_scope_id != 0) out += "%" + std::to_string(v6->sin6_scope_id);
      return out;
    }
    if (family() == AF_UNIX) {
      const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
      const std::size_t n = len_ - offsetof(sockaddr_un, sun_path);
      if (n == 0) return {};  // unnamed
      std::string p(un->sun_path, n);
      if (!p.empty() && p.back() == '\0') p.pop_back();
      return p;
    }
    return {};
  }
  /// "127.0.0.1:80", "[::1]:80", a Unix path, or "" for no address.
  std::string to_string() const {
    if (family() == AF_INET) return host() + ":" + std::to_string(port());
    if (family() == AF_INET6) return "[" + host() + "]:" + std::to_string(port());
    return host();
  }
  /// The same address with another port (IP families only).
  socket_address with_port(std::uint16_t p) const noexcept {
    socket_address a = *this;
    if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&a.storage_)->sin_port = htons(p);
    if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&a.storage_)->sin6_port = htons(p);
    return a;
  }

  /// The sockaddr to pass to a system call (with size()).
  const sockaddr* native() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  /// The sockaddr for a system call to fill in (pass capacity(), then set_size() to what it wrote).
  sockaddr* native() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
  /// The address's length in bytes; 0 for an empty address.
  socklen_t size() const noexcept { return len_; }
  /// Sets the length after a system call wrote the address into native().
  void set_size(socklen_t n) noexcept { len_ = n; }
  /// The room native() has: sizeof(sockaddr_storage).
  static constexpr socklen_t capacity() noexcept { return sizeof(sockaddr_storage); }

  /// Byte-wise equality of the addresses (same length and same bytes).
  friend bool operator==(const socket_address& a, const socket_address& b) noexcept {
    return a.len_ == b.len_ && std::memcmp(&a.storage_, &b.storage_, a.len_) == 0;
  }

 private:
  sockaddr_storage storage_{};
  socklen_t len_ = 0;
};

}  // namespace trio
