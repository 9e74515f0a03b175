#pragma once
/// \file
/// trio::ssl_stream_options: how an ssl_stream runs (server side, https_compatible).

namespace trio {

/// How an ssl_stream runs.
struct ssl_stream_options {
  bool server_side = false;
  /// Neither send nor expect close_notify (what HTTPS peers do; HTTP frames its own ends).
  bool https_compatible = false;
};

}  // namespace trio
