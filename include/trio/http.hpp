#pragma once
/// \file
/// trio::http::client: an HTTP client with httpx's AsyncClient shape, on libcurl's multi-socket API
/// driven by the trio loop (http/detail/curl_multi.hpp). HTTP/1.1 and HTTP/2, TLS, redirects, content
/// decoding, proxies and a connection pool come from libcurl. Part of the trio::http component
/// (links libcurl); not included by <trio/trio.hpp>.
///
///     trio::http::client client;
///     trio::http::response r = co_await client.get("https://example.org/");
///     std::cout << r.status_code() << " " << r.text().size() << "\n";
///
/// Requests obey cancel scopes: a request in a cancelled scope (or past a fail_after) ends at once,
/// the transfer is taken out of curl, and the pool stays consistent. Every request is a checkpoint.
/// The trap: curl's own timers run on the real clock, so HTTP tests use a real clock, not the
/// autojumping mock clock.

#include "trio/http/client.hpp"
#include "trio/http/errors.hpp"
#include "trio/http/header_map.hpp"
#include "trio/http/options.hpp"
#include "trio/http/response.hpp"
#include "trio/http/streamed_response.hpp"
#include "trio/http/transport.hpp"
