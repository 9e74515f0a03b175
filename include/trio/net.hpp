#pragma once
/// \file
/// High-level networking (spec NET-*): open_tcp_stream (happy eyeballs, RFC 8305), open_tcp_listeners,
/// serve_listeners / serve_tcp, open_unix_stream / open_unix_listener, open_udp_socket, and the
/// per-run hooks that replace name resolution and socket creation (a fake network for tests).

#include "trio/net_hooks.hpp"
#include "trio/open_tcp_listeners.hpp"
#include "trio/open_tcp_stream.hpp"
#include "trio/open_udp_socket.hpp"
#include "trio/open_unix_stream.hpp"
#include "trio/serve_listeners.hpp"
#include "trio/tcp_listen_options.hpp"
