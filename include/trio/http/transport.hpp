#pragma once
/// \file
/// trio::http's transport seam (httpx's transport=): http::request as a transport gets it, the
/// transport interface that sends a client's requests instead of libcurl, and mock_transport (for
/// tests that need no server).

#include <functional>
#include <string>
#include <utility>

#include "trio/checkpoint.hpp"
#include "trio/http/header_map.hpp"
#include "trio/http/options.hpp"
#include "trio/http/response.hpp"
#include "trio/task.hpp"

namespace trio::http {

// ---- the transport seam (httpx's transport=) ------------------------------------------------------

/// A request as the client hands it to a transport: the URL resolved (base_url, params), the client's
/// and the request's headers merged, the body serialised (content, json or form, with its
/// Content-Type), and the options that apply to it.
struct request {
  std::string method;             ///< "GET", "POST", ...
  std::string url;                ///< The full URL: base_url resolved, query parameters appended.
  header_list headers;            ///< The client's and the request's headers merged (the request's win).
  std::string content;            ///< The body, serialised; empty: none.
  timeout_config timeout;         ///< The timeouts that apply (the request's, else the client's).
  bool follow_redirects = false;  ///< Whether redirects are to be followed (the transport's job).
  int max_redirects = 20;         ///< The client's max_redirects.
};

/// What sends the client's requests when client_options::transport is set, instead of libcurl (the
/// built-in default, which no transport object stands for: its requests keep their state in their
/// own coroutine frames). A transport follows redirects itself if it wants to (the request says
/// whether); errors it throws reach the caller as they are (use http::error's kinds).
class transport {
 public:
  virtual ~transport() = default;
  /// Sends `r` and returns the whole response. Errors: http::error's kinds, which reach the caller.
  virtual task<response> handle_request(request r) = 0;
  /// Called by client::aclose.
  virtual task<void> aclose() { co_return; }
};

/// A transport that answers every request with a function of yours (httpx.MockTransport): for
/// tests that need no server. The function either returns the response, or is a coroutine (it may
/// sleep, wait on events, be cancelled); each request is a checkpoint either way.
class mock_transport final : public transport {
 public:
  /// Answers each request with handler(request), after a checkpoint.
  explicit mock_transport(std::function<response(const request&)> handler) : plain_(std::move(handler)) {}
  /// Answers each request with `co_await handler(request)` (it may wait and be cancelled).
  explicit mock_transport(std::function<task<response>(request)> handler) : async_(std::move(handler)) {}
  /// Calls the handler; what it throws reaches the caller.
  task<response> handle_request(request r) override {
    if (async_) co_return co_await async_(std::move(r));
    co_await checkpoint();
    co_return plain_(r);
  }

 private:
  std::function<response(const request&)> plain_;
  std::function<task<response>(request)> async_;
};

}  // namespace trio::http
