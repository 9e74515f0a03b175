// 20_downloads: concurrent downloads (the httpx program below, in C++). Each file streams to disk
// through trio's file I/O as it arrives (a bounded buffer, whatever the file's size), all at once.
//
//   async def download(client, url, filename):
//       async with client.stream("GET", url) as response:
//           async with await trio.open_file(filename, "wb") as f:
//               async for chunk in response.aiter_bytes():
//                   await f.write(chunk)
//       print(f"{filename} downloaded.")
//
// Given `URL FILENAME` pairs it downloads those into the current folder. With none it starts a
// small local HTTP server (local_http_server.hpp) and downloads three files of different sizes
// into a temporary folder, removed at the end.

#include <fmt/core.h>
#include <stdlib.h>
#include <trio/http.hpp>
#include <trio/trio.hpp>

#include <array>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "local_http_server.hpp"

trio::task<> download(trio::http::client& client, std::string url, std::string filename) {
  trio::http::streamed_response response = co_await client.stream("GET", url);
  response.raise_for_status();
  trio::async_file f = co_await trio::open_file(filename, "wb");
  std::array<std::byte, 65536> chunk;
  for (std::size_t n; (n = co_await response.receive_some(chunk)) != 0;)
    co_await f.write(std::span<const std::byte>(chunk.data(), n));
  co_await f.aclose();
  co_await response.aclose();
  fmt::print("{} downloaded.\n", std::filesystem::path(filename).filename().string());
}

trio::task<> download_all(std::vector<std::pair<std::string, std::string>> jobs) {
  trio::http::client client;
  co_await trio::open_nursery([&](trio::nursery& nursery) -> trio::task<> {
    for (const auto& [url, filename] : jobs) nursery.start_soon(download, std::ref(client), url, filename);
    co_return;
  });
}

int main(int argc, char** argv) {
  if (argc > 1) {
    std::vector<std::pair<std::string, std::string>> jobs;
    for (int i = 1; i + 1 < argc; i += 2) jobs.emplace_back(argv[i], argv[i + 1]);
    trio::run(download_all, std::move(jobs));
    return 0;
  }
  std::string dir = (std::filesystem::temp_directory_path() / "trio-downloads-XXXXXX").string();
  if (!::mkdtemp(dir.data())) return 1;
  trio::run([&]() -> trio::task<> {
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      const std::string base = co_await local_http::start(n);
      fmt::print("Local HTTP server on 127.0.0.1 (a free port)\n");
      // (the server answers after 2, 0 and 1 x 150 ms: the order of completion is known)
      std::vector<std::pair<std::string, std::string>> jobs{{base + "/files/report.txt/4096/2", dir + "/report.txt"},
                                                            {base + "/files/notes.txt/1/0", dir + "/notes.txt"},
                                                            {base + "/files/data.csv/256/1", dir + "/data.csv"}};
      co_await download_all(std::move(jobs));
      n.cancel_scope().cancel();
    });
    for (const char* name : {"notes.txt", "data.csv", "report.txt"})
      fmt::print("{}: {} bytes\n", name, std::filesystem::file_size(std::filesystem::path(dir) / name));
  });
  std::filesystem::remove_all(dir);
}
