// 21_shared_client: "one client, many requests" (the httpx program below, in C++): one client
// (one connection pool) shared by concurrent tasks; each prints when its request completes.
//
//   async def fetch_url(client, url):
//       response = await client.get(url)
//       print(f"Completed {url} with status: {response.status_code}")
//
//   async def main():
//       async with httpx.AsyncClient() as client:
//           async with trio.open_nursery() as nursery:
//               for url in URLS:
//                   nursery.start_soon(fetch_url, client, url)
//
// Given URLs, it fetches those. With none it starts a small local HTTP server
// (local_http_server.hpp); a fail_after bounds the whole batch, as a Trio program would.

#include <fmt/core.h>
#include <trio/http.hpp>
#include <trio/trio.hpp>

#include <string>
#include <vector>

#include "local_http_server.hpp"

using namespace std::chrono_literals;

trio::task<> fetch_url(trio::http::client& client, std::string url) {
  trio::http::response response = co_await client.get(url);
  fmt::print("Completed {} with status: {}\n", url, response.status_code());
}

trio::task<> fetch_all(std::vector<std::string> urls) {
  trio::http::client_options options;
  options.limits.max_connections = 10;  // one pool for all of them: at most 10 connections at once
  trio::http::client client(options);
  auto batch = [&]() -> trio::task<> {
    co_await trio::open_nursery([&](trio::nursery& nursery) -> trio::task<> {
      for (const std::string& url : urls) nursery.start_soon(fetch_url, std::ref(client), url);
      co_return;
    });
  };
  co_await trio::fail_after(30s, batch);
}

int main(int argc, char** argv) {
  if (argc > 1) {
    trio::run(fetch_all, std::vector<std::string>(argv + 1, argv + argc));
    return 0;
  }
  trio::run([]() -> trio::task<> {
    co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
      const std::string base = co_await local_http::start(n);
      fmt::print("Local HTTP server on 127.0.0.1 (a free port)\n");
      std::vector<std::string> urls{base + "/page/0", base + "/page/2/missing", base + "/page/4", base + "/page/6"};
      co_await fetch_all(std::move(urls));
      n.cancel_scope().cancel();
    });
    fmt::print("All requests completed\n");
  });
}
