// 19_web_scraper: a concurrent scraper (the httpx program below, in C++). Every URL is fetched in its own
// task of one nursery, through one shared client; each prints as it completes.
//
//   async def fetch(client, url):
//       response = await client.get(url)
//       print(f"Fetched {url}: {response.status_code}")
//
//   async def main(urls):
//       async with httpx.AsyncClient() as client:
//           async with trio.open_nursery() as nursery:
//               for url in urls:
//                   nursery.start_soon(fetch, client, url)
//
// Given URLs, it fetches those (https:// works where the network does). With none it starts a
// small local HTTP server in its own nursery (local_http_server.hpp), so it runs offline; the
// server answers its pages after different delays, so the order of completion is known.

#include <fmt/core.h>
#include <trio/http.hpp>
#include <trio/trio.hpp>

#include <string>
#include <vector>

#include "local_http_server.hpp"

trio::task<> fetch(trio::http::client& client, std::string url) {
  trio::http::response response = co_await client.get(url);
  fmt::print("Fetched {}: {}\n", url, response.status_code());
}

trio::task<> scrape(std::vector<std::string> urls) {
  trio::http::client client;
  co_await trio::open_nursery([&](trio::nursery& nursery) -> trio::task<> {
    for (const std::string& url : urls) nursery.start_soon(fetch, std::ref(client), url);
    co_return;
  });
  co_await client.aclose();
}

int main(int argc, char** argv) {
  if (argc > 1) {
    trio::run(scrape, std::vector<std::string>(argv + 1, argv + argc));
    return 0;
  }
  trio::run([]() -> trio::task<> {
    co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
      const std::string base = co_await local_http::start(n);
      fmt::print("Local HTTP server on 127.0.0.1 (a free port)\n");
      std::vector<std::string> urls{base + "/page/2", base + "/page/0", base + "/page/3/missing", base + "/page/1"};
      co_await scrape(std::move(urls));
      n.cancel_scope().cancel();  // stop the server
    });
  });
}
