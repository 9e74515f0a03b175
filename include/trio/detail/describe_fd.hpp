#pragma once
/// \file
/// What an fd is, in words, for the task dump: "TCP 127.0.0.1:8080 <-> 127.0.0.1:50312", "pipe",
/// "process 4242" (a pidfd), or the file's path. Read from the kernel only when a dump is taken.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>

namespace trio::detail {

inline std::string sockaddr_words(const sockaddr_storage& a, socklen_t n) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
    ::inet_ntop(AF_INET, &v4.sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(v4.sin_port));
  }
  if (a.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(v6.sin6_port));
  }
  if (a.ss_family == AF_UNIX) {
    const auto& un = reinterpret_cast<const sockaddr_un&>(a);
    const auto len = static_cast<std::size_t>(n) > offsetof(sockaddr_un, sun_path)
                         ? static_cast<std::size_t>(n) - offsetof(sockaddr_un, sun_path)
                         : 0;
    if (len == 0) return "(unnamed)";
    if (un.sun_path[0] == '\0') return "@" + std::string(un.sun_path + 1, len - 1);
    return std::string(un.sun_path, ::strnlen(un.sun_path, len));
  }
  return "?";
}

inline std::string describe_fd(int fd) {
  char link[256];
  const ssize_t n = ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), link, sizeof link - 1);
  if (n <= 0) return "closed";
  const std::string target(link, static_cast<std::size_t>(n));
  if (target.rfind("socket:", 0) == 0) {
    int type = 0;
    socklen_t tl = sizeof type;
    ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl);
    sockaddr_storage local{}, peer{};
    socklen_t ll = sizeof local, pl = sizeof peer;
    const bool has_local = ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) == 0;
    const bool has_peer = ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) == 0;
    std::string out = local.ss_family == AF_UNIX ? "unix socket" : type == SOCK_DGRAM ? "UDP" : "TCP";
    if (has_local) out += " " + sockaddr_words(local, ll);
    if (has_peer)
      out += " <-> " + sockaddr_words(peer, pl);
    else if (type == SOCK_STREAM)
      out += " (not connected)";
    return out;
  }
  if (target == "anon_inode:[pidfd]") {
    if (std::FILE* f = std::fopen(("/proc/self/fdinfo/" + std::to_string(fd)).c_str(), "re")) {
      char line[128];
      long pid = -1;
      while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "Pid: %ld", &pid) == 1) break;
      std::fclose(f);
      if (pid > 0) return "process " + std::to_string(pid);
    }
    return "a process";
  }
  if (target.rfind("pipe:", 0) == 0) return "pipe";
  if (target.rfind("anon_inode:", 0) == 0) return target.substr(11);
  return target;
}

}  // namespace trio::detail
