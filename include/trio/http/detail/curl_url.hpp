#pragma once
/// \file
/// libcurl's URL API for the trio::http component: detail::curl_url_ptr (an owned CURLU),
/// curl_url_part, and url_encode.

#include <curl/curl.h>

#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>

namespace trio::http {
namespace detail {

struct curl_url_free {
  void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};
using curl_url_ptr = std::unique_ptr<CURLU, curl_url_free>;
inline curl_url_ptr new_curl_url() {
  curl_url_ptr u(curl_url());
  if (!u) throw std::bad_alloc();
  return u;
}
/// One part of a parsed URL (nullopt: absent, or curl could not give it).
inline std::optional<std::string> curl_url_part(CURLU* u, CURLUPart part) {
  char* p = nullptr;
  if (curl_url_get(u, part, &p, 0) != CURLUE_OK) return std::nullopt;
  std::string out = p;
  curl_free(p);
  return out;
}

inline std::string url_encode(CURL* e, std::string_view s) {
  char* out = curl_easy_escape(e, s.data(), static_cast<int>(s.size()));
  std::string r = out ? out : "";
  curl_free(out);
  return r;
}

}  // namespace detail
}  // namespace trio::http
