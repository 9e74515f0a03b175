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
///
/// This umbrella includes the component's headers: trio/ssl/errors.hpp (need_handshake_error),
/// trio/ssl/context.hpp (ssl_context), trio/ssl/ssl_stream_options.hpp, trio/ssl/ssl_stream.hpp
/// (ssl_stream, ssl_listener; its engine is trio/ssl/detail/ssl_core.hpp) and trio/ssl/over_tcp.hpp
/// (open_ssl_over_tcp_stream, open_ssl_over_tcp_listeners, serve_ssl_over_tcp).

#include "trio/ssl/context.hpp"
#include "trio/ssl/errors.hpp"
#include "trio/ssl/over_tcp.hpp"
#include "trio/ssl/ssl_stream.hpp"
#include "trio/ssl/ssl_stream_options.hpp"

// What this header included when it held the whole component, kept for programs that rely on them.
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
