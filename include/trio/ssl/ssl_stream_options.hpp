#pragma once
/// \file
/// trio::ssl_stream_options: how an ssl_stream runs (server side, https_compatible).

namespace trio {

/// How an ssl_stream runs.
struct ssl_stream_options {
  /// Run the server side of the handshake (the context needs a certificate and key); false: a client.
  bool server_side = false;
  /// Neither send nor expect close_notify (what HTTPS peers do; HTTP frames its own ends).
  bool https_compatible = false;
};

}  // namespace trio
