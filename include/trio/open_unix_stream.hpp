#pragma once
/// \file
/// trio::open_unix_stream (spec NET-13): connects to a Unix socket path; trio::open_unix_listener:
/// listens on one.

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "trio/socket.hpp"
#include "trio/socket_address.hpp"
#include "trio/socket_stream.hpp"
#include "trio/task.hpp"

namespace trio {

namespace detail {
inline task<socket_stream> open_unix_stream_impl(std::string path) {
  if (path.empty()) throw std::invalid_argument("trio::open_unix_stream: the path is empty");
  socket_address a = socket_address::unix_path(path);
  trio::socket s = socket::create(AF_UNIX, SOCK_STREAM, 0);
  try {
    co_await s.connect(a);
  } catch (const std::system_error& e) {
    throw std::system_error(e.code(), "trio::open_unix_stream: connecting to " + path + " failed");
  }
  co_return socket_stream(std::move(s));
}
}  // namespace detail

/// Connects to the Unix socket at path. A missing path: std::system_error (ENOENT) naming it.
inline task<socket_stream> open_unix_stream(std::string_view path) {
  return detail::open_unix_stream_impl(std::string(path));
}

/// A listener on a Unix socket path. An existing socket file at path is replaced (a stale one from a
/// previous run); any other file there is an error.
inline socket_listener open_unix_listener(std::string_view path, int backlog = 0xFFFF) {
  socket_address a = socket_address::unix_path(path);
  std::string p(path);
  struct stat st {};
  if (p[0] != '\0' && ::lstat(p.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      throw std::system_error(EEXIST, std::system_category(),
                              "trio::open_unix_listener: " + p + " exists and is not a socket");
    ::unlink(p.c_str());
  }
  trio::socket s = socket::create(AF_UNIX, SOCK_STREAM, 0);
  s.bind(a);
  s.listen(backlog);
  return socket_listener(std::move(s));
}

}  // namespace trio
