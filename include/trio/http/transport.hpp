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
  std::string method;
  std::string url;
  header_list headers;
  std::string content;
  timeout_config timeout;
  bool follow_redirects = false;
  int max_redirects = 20;
};

/// What sends the client's requests when client_options::transport is set, instead of libcurl (the
/// built-in default, which no transport object stands for: its requests keep their state in their
/// own coroutine frames). A transport follows redirects itself if it wants to (the request says
/// whether); errors it throws reach the caller as they are (use http::error's kinds).
class transport {
 public:
  virtual ~transport() = default;
  virtual task<response> handle_request(request r) = 0;
  /// Called by client::aclose.
  virtual task<void> aclose() { co_return; }
};

/// A transport that answers every request with a function of yours (httpx.MockTransport): for
/// tests that need no server. The function either returns the response, or is a coroutine (it may
/// sleep, wait on events, be cancelled); each request is a checkpoint either way.
class mock_transport final : public transport {
 public:
  explicit mock_transport(std::function<response(const request&)> handler) : plain_(std::move(handler)) {}
  explicit mock_transport(std::function<task<response>(request)> handler) : async_(std::move(handler)) {}
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
