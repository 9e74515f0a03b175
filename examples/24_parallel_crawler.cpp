// 24_parallel_crawler: a crawler on every core. run_per_core starts one runner (a thread with its own
// loop) per CPU; runner 0 puts the URLs into one shared channel, the work queue, and a few worker tasks
// on every runner take URLs from it until it ends, fetch them with their runner's own http::client and
// send what they found into a second shared channel, from which runner 0 gathers the results.
//
// In Python Trio this is the worker pool of one loop (trio-cpp spreads the same shape over threads):
//
//   async def worker(client, urls, results):
//       async with urls, results:
//           async for url in urls:
//               try:
//                   r = await client.get(url)
//                   await results.send((url, r.status_code, len(r.content)))
//               except httpx.HTTPError as e:
//                   await results.send((url, None, repr(e)))
//
// Each worker holds its own clone of both channels: the work queue ends when runner 0 closes its
// sender, and the results end when the last worker, on whichever runner, is done. A failed fetch is
// a result (the error named in its line), never the end of the crawl; anything else that throws (a
// bug) ends its runner's main, and run_per_core cancels every other runner and rethrows it in main();
// Ctrl-C cancels every runner the same way.
// Concurrency is bounded: so many workers per runner, each with one request at a time, each request
// bounded by the client's timeouts and a deadline of its own, each body by a size limit.
//
// Usage: 24_parallel_crawler URL...   fetches those, one runner per core
//        24_parallel_crawler          a demo: a local HTTP server (local_http_server.hpp) on runner 0,
//                                     a fixed set of pages (a 404 and a refused connection among them)
//                                     crawled by 2 runners whatever the machine, so the output is the
//                                     same everywhere
// In the demo runner 0 starts the server, then puts whole URLs into the work queue: the other runners
// never need the server's address on its own, the queue carries it. (The server runs on runner 0's
// loop; the workers of every runner reach it over TCP like any client.)

#include <fmt/core.h>
#include <sys/socket.h>
#include <trio/http.hpp>
#include <trio/trio.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "local_http_server.hpp"

using namespace std::chrono_literals;

constexpr std::size_t workers_per_runner = 3;  // each fetches one page at a time
constexpr auto page_deadline = 30s;            // a whole page, however slowly it trickles in

struct job {
  std::size_t index;  // the URL's place in the list: results are printed in that order
  std::string url;
};

struct result {
  std::size_t index = 0;
  std::string url;
  int status = 0;  // 0: no answer (see error)
  std::size_t bytes = 0;
  std::size_t runner = 0;
  std::string error;
};

// One worker's ends of the two channels.
struct worker_ends {
  trio::receive_channel<job> jobs;
  trio::send_channel<result> results;
};

// What the runners share, made before they start: the two shared channels, and a clone of each per
// worker (each worker moves its own out). Cloning them all here, then closing the originals, means
// no runner has to wait for another before it may close anything.
struct crawl_plan {
  crawl_plan(std::vector<std::string> given, std::size_t runners)
      : urls(std::move(given)),
        jobs(trio::open_shared_channel<job>(16)),
        results(trio::open_shared_channel<result>(16)) {
    for (std::size_t i = 0; i < runners * workers_per_runner; ++i)
      ends.push_back(worker_ends{jobs.second.clone(), results.first.clone()});
    jobs.second.close();    // only the workers receive jobs
    results.first.close();  // only the workers send results: they end when the last worker is done
  }
  std::vector<std::string> urls;  // empty: the demo
  std::pair<trio::send_channel<job>, trio::receive_channel<job>> jobs;
  std::pair<trio::send_channel<result>, trio::receive_channel<result>> results;
  std::vector<worker_ends> ends;  // ends[runner * workers_per_runner + w]
};

// A worker: URLs until the queue ends. An http::error (refused, timed out, not a URL, ...) or the
// page's own deadline becomes the result's error; other exceptions are bugs and end the crawl.
trio::task<> worker(trio::http::client& client, worker_ends ends) {
  while (std::optional<job> j = co_await ends.jobs.next()) {
    result r{j->index, j->url, 0, 0, trio::runner_index(), {}};
    auto get = [&]() -> trio::task<trio::http::response> { co_return co_await client.get(j->url); };
    try {
      trio::http::response response = co_await trio::fail_after(page_deadline, get);
      r.status = response.status_code();
      r.bytes = response.content().size();
    } catch (const trio::http::error& e) {
      r.error = e.what();
    } catch (const trio::too_slow_error&) {
      r.error = fmt::format("no complete answer within {} s", page_deadline.count());
    }
    co_await ends.results.send(std::move(r));
  }
}

// Runner 0's producer: every URL into the work queue, then the end of the queue.
trio::task<> feed(trio::send_channel<job> jobs, std::vector<std::string> urls) {
  for (std::size_t i = 0; i < urls.size(); ++i) {
    job j{i, urls[i]};  // named: g++ 12 destroys an aggregate temporary inside co_await twice
    co_await jobs.send(std::move(j));
  }
  jobs.close();  // the workers' next() returns std::nullopt once the queue is empty
}

// Runner 0's gatherer: every result, then the list in URL order and a summary.
trio::task<> gather(trio::receive_channel<result> results, std::size_t count) {
  std::vector<result> all(count);
  while (std::optional<result> r = co_await results.next()) all[r->index] = std::move(*r);
  std::vector<std::size_t> per_runner(trio::runner_count());
  std::size_t answered = 0;
  for (const result& r : all) {
    if (r.error.empty()) {
      fmt::print("{}: {}, {} bytes, runner {}\n", r.url, r.status, r.bytes, r.runner);
      ++answered;
    } else {
      fmt::print("{}: failed, runner {}: {}\n", r.url, r.runner, r.error);
    }
    ++per_runner[r.runner];
  }
  fmt::print("{} URLs crawled by {} runners x {} workers: {} answered, {} failed\n", count, trio::runner_count(),
             workers_per_runner, answered, count - answered);
  for (std::size_t i = 0; i < per_runner.size(); ++i)
    fmt::print("{}runner {} crawled {}", i ? ", " : "", i, per_runner[i]);
  fmt::print("\n");
}

// The demo's pages on the local server (each answers after N x 150 ms), a 404, a 64 KiB file, and a
// port that refuses connections.
std::vector<std::string> demo_urls(const std::string& base, std::uint16_t refusing_port) {
  return {base + "/page/0",         base + "/page/1",
          base + "/page/2/missing", base + "/page/2",
          base + "/files/a/64/1",   base + "/page/3",
          base + "/page/0/missing", fmt::format("http://127.0.0.1:{}/page/1", refusing_port)};
}

// Every runner's main.
trio::task<> crawl_here(crawl_plan* plan) {
  const std::size_t me = trio::runner_index();
  trio::http::client_options options;
  options.max_response_size = std::size_t(16) << 20;  // a crawler keeps no page over 16 MiB
  trio::http::client client(options);                 // this runner's own: a client belongs to one run
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (std::size_t w = 0; w < workers_per_runner; ++w)
      n.start_soon(worker, std::ref(client), std::move(plan->ends[me * workers_per_runner + w]));
    if (me != 0) co_return;
    std::vector<std::string> urls = std::move(plan->urls);
    trio::socket refusing;  // (the demo's refused port: bound, never listening, kept until the end)
    if (urls.empty()) {
      const std::string base = co_await local_http::start(n);
      refusing = trio::socket::create(AF_INET);
      refusing.bind(trio::socket_address::parse("127.0.0.1", 0));
      urls = demo_urls(base, refusing.local_address().port());
      fmt::print("Local HTTP server on 127.0.0.1 (a free port)\n");
    }
    const std::size_t count = urls.size();
    n.start_soon(feed, std::move(plan->jobs.first), std::move(urls));
    co_await gather(std::move(plan->results.second), count);
    n.cancel_scope().cancel();  // every worker is done: stop the demo's server
  });
  co_await client.aclose();
}

int main(int argc, char** argv) {
  trio::runner_group_options options;
  const bool demo = argc < 2;
  // The demo: 2 runners on any machine, so its output is the same everywhere. URLs given: one per core.
  options.runners = demo ? 2 : trio::default_runner_count();
  crawl_plan plan(std::vector<std::string>(argv + 1, argv + argc), options.runners);
  try {
    trio::run_per_core(options, crawl_here, &plan);
  } catch (const trio::keyboard_interrupt&) {  // Ctrl-C cancelled every runner; all unwound
    fmt::print(stderr, "Stopped by Ctrl-C\n");
    return 130;
  } catch (const std::exception& e) {  // one runner failed: the others were cancelled
    fmt::print(stderr, "The crawl failed: {}\n", e.what());
    return 1;
  }
}
