#pragma once
/// \file
/// detail::throw_transfer_error: a failed curl transfer turned into the http::error of httpx's
/// hierarchy it is (the trio::http component).

#include <curl/curl.h>

#include <string>
#include <string_view>

#include "trio/http/detail/curl_multi.hpp"
#include "trio/http/errors.hpp"

namespace trio::http {
namespace detail {

inline std::string describe(const std::string& method, const std::string& url) { return method + " " + url; }

/// Turns a failed transfer into the exception of httpx's hierarchy.
[[noreturn]] inline void throw_transfer_error(const trio::detail::curl_transfer& t, const std::string& method,
                                              const std::string& url) {
  const std::string text = t.error_text[0] ? t.error_text : curl_easy_strerror(t.result);
  const std::string what = "trio::http: " + describe(method, url) + " failed: " + text;
  if (t.too_large)
    throw response_too_large("trio::http: " + describe(method, url) + ": the response body is larger than " +
                                 "max_response_size (" + std::to_string(t.max_body) +
                                 " bytes); raise client_options::max_response_size or "
                                 "request_options::max_response_size, or read the body with stream()",
                             method, url, t.max_body);
  if (!t.violation.empty())
    throw protocol_error("trio::http: " + describe(method, url) + " failed: " + t.violation, method, url);
  curl_off_t connected_at = 0;
  curl_easy_getinfo(t.easy, CURLINFO_CONNECT_TIME_T, &connected_at);
  switch (t.result) {
    case CURLE_UNSUPPORTED_PROTOCOL: {
      // Either the URL (or a redirect's Location) names a scheme we do not speak, or the server's
      // answer is not HTTP at all (curl: "Received HTTP/0.9", "Unsupported HTTP version").
      char* at = nullptr;
      curl_easy_getinfo(t.easy, CURLINFO_EFFECTIVE_URL, &at);
      const std::string_view now = at ? at : "";
      if (connected_at > 0 && (now.starts_with("http://") || now.starts_with("https://")))
        throw protocol_error(what, method, url);
      throw invalid_url(
          what + (t.status >= 300 && t.status < 400 ? " (in a redirect; only http and https are followed)" : ""),
          method, url);
    }
    case CURLE_URL_MALFORMAT:
      throw invalid_url(what, method, url);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      throw connect_error(what, method, url);
    case CURLE_OPERATION_TIMEDOUT: {
      curl_off_t uploaded = 0, to_upload = 0;
      curl_easy_getinfo(t.easy, CURLINFO_SIZE_UPLOAD_T, &uploaded);
      curl_easy_getinfo(t.easy, CURLINFO_CONTENT_LENGTH_UPLOAD_T, &to_upload);
      const char* phase = connected_at == 0 ? "connect" : (to_upload > 0 && uploaded < to_upload) ? "write" : "read";
      throw timeout_error(what + " (" + phase + " timeout)", method, url, phase);
    }
    case CURLE_TOO_MANY_REDIRECTS:
      throw too_many_redirects(what, method, url);
    case CURLE_SEND_ERROR:
    case CURLE_UPLOAD_FAILED:
      throw write_error(what, method, url);
    case CURLE_RECV_ERROR: {
      // curl says RECV_ERROR both for a failing socket (an errno: a reset) and for framing it cannot
      // parse (chunk sizes): only the first is a read error.
      long os_errno = 0;
      curl_easy_getinfo(t.easy, CURLINFO_OS_ERRNO, &os_errno);
      if (os_errno != 0) throw read_error(what, method, url);
      throw protocol_error(what, method, url);
    }
    case CURLE_OUT_OF_MEMORY:
      // libcurl 7.88 reports a response header over its 100 KiB limit as "Out of memory"
      if (connected_at > 0)
        throw protocol_error(what + " (a response header over libcurl's 100 KiB limit, or memory ran out)", method,
                             url);
      throw error(what, method, url);
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP3:
      throw protocol_error(what, method, url);
    default:
      throw error(what, method, url);
  }
}

}  // namespace detail
}  // namespace trio::http
