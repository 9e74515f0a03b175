#pragma once
/// \file
/// trio::tcp_listen_options: how open_tcp_listeners (and serve_tcp, through serve_options) make
/// their listening sockets.

namespace trio {

/// Settings of open_tcp_listeners' sockets (serve_options::listen for serve_tcp).
struct tcp_listen_options {
  /// listen()'s backlog; the kernel caps it at net.core.somaxconn.
  int backlog = 0xFFFF;
  /// SO_REUSEPORT: several sockets (one runner per thread) share the port; the kernel spreads the
  /// connections.
  bool reuse_port = false;
};

}  // namespace trio
