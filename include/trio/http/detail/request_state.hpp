#pragma once
/// \file
/// detail::request_state: one request's easy handle, header list and transfer state, owned for the
/// request's life and given back to the multi handle when destroyed (the trio::http component).

#include <curl/curl.h>

#include <memory>
#include <string>
#include <utility>

#include "trio/http/detail/curl_multi.hpp"

namespace trio::http {
namespace detail {

/// One request's setup and ownership: the easy handle (from the multi's spares), its header list,
/// its transfer state; taken out of the multi and given back when destroyed (also when cancelled).
/// A request keeps it in its coroutine frame; a streamed response owns it.
struct request_state {
  std::shared_ptr<trio::detail::curl_multi> multi;
  trio::detail::curl_transfer t;
  curl_slist* header_slist = nullptr;
  std::string method, url, body;
  explicit request_state(std::shared_ptr<trio::detail::curl_multi> m) noexcept : multi(std::move(m)) {}
  request_state(const request_state&) = delete;
  request_state& operator=(const request_state&) = delete;
  ~request_state() {
    if (t.easy) {
      multi->remove(t);
      // The handle is reused as it is: nothing in it may point into this state any more.
      curl_easy_setopt(t.easy, CURLOPT_ERRORBUFFER, nullptr);
      curl_easy_setopt(t.easy, CURLOPT_WRITEDATA, nullptr);
      curl_easy_setopt(t.easy, CURLOPT_HEADERDATA, nullptr);
      curl_easy_setopt(t.easy, CURLOPT_PRIVATE, nullptr);
      curl_easy_setopt(t.easy, CURLOPT_HTTPHEADER, nullptr);
      curl_easy_setopt(t.easy, CURLOPT_POSTFIELDS, nullptr);
      multi->give_back_easy(t.easy, std::move(t.head));
    }
    curl_slist_free_all(header_slist);
  }
};

}  // namespace detail
}  // namespace trio::http
