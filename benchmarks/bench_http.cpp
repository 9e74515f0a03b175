// HTTP rows: 1,000 GETs of 1 KiB, 50 in flight, against the benchmark's own server (a
// trio serve_tcp in another thread, so the client is what is measured), with keep-alive (Arg 0) and
// one connection per request (Arg 1). Rows: trio::http::client; the floor, libcurl's multi handle in
// its own curl_multi_poll loop, the smallest program that drives it (URL set per request, bodies
// kept; what the wrapper adds is the difference); and the curl command line
// (`curl --parallel --parallel-max 50`). Counters: the client's CPU per request (its thread's CPU
// time; for the CLI, the child's), and our allocations per request (operator new in the client's
// thread: curl's malloc is not counted, nor the server's allocations).

#include <benchmark/benchmark.h>
#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <trio/http.hpp>
#include <trio/trio.hpp>

#include "bench_common.hpp"

namespace {

using bench::in_trio;
using bench::loopback_listener_fd;
using bench::scaled;

constexpr int http_in_flight = 50;

/// This thread's context switches so far (voluntary: it blocked; involuntary: it was preempted).
long thread_switches() {
  rusage ru{};
  ::getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_nvcsw + ru.ru_nivcsw;
}

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

/// The server: answers every request with 1 KiB; "Connection: close" requests get it and a close.
class http_server {
 public:
  http_server() {
    const int lfd = loopback_listener_fd(port_);
    std::latch ready(1);
    thread_ = std::thread([this, lfd, &ready] {
      in_trio([&]() -> trio::task<> {
        trio::socket_listener listener(trio::socket::adopt(lfd, AF_INET, SOCK_STREAM));
        co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
          token_ = trio::lowlevel::current_trio_token();
          scope_ = &n.cancel_scope();
          ready.count_down();
          for (;;) n.start_soon(&http_server::serve, co_await listener.accept());
        });
      });
    });
    ready.wait();
  }
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;
  ~http_server() {
    token_->run_sync_soon([this] { scope_->cancel(); });
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/1k"; }

 private:
  static trio::task<> serve(trio::socket_stream s) {
    static const std::string body(1024, 'x');
    static const std::string keep = "HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n" + body;
    static const std::string close = "HTTP/1.1 200 OK\r\nContent-Length: 1024\r\nConnection: close\r\n\r\n" + body;
    std::string buf;
    std::array<std::byte, 4096> chunk;
    for (;;) {
      std::size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        const std::size_t k = co_await s.receive_some(chunk);
        if (k == 0) co_return;
        buf.append(reinterpret_cast<const char*>(chunk.data()), k);
      }
      const bool closing = buf.find("onnection: close") < end;
      buf.erase(0, end + 4);
      co_await s.send_all(std::string_view(closing ? close : keep));
      if (closing) co_return;
    }
  }

  std::uint16_t port_ = 0;
  std::thread thread_;
  std::optional<trio::lowlevel::trio_token> token_;
  trio::cancel_scope* scope_ = nullptr;
};

void trio_http_get(benchmark::State& state) {
  const bool close = state.range(0) == 1;
  const int n = scaled(1000);
  http_server server;
  const std::string url = server.url();
  double cpu = 0;
  long switches = 0;
  std::size_t allocs = 0;
  for (auto _ : state) {
    in_trio([&]() -> trio::task<> {
      trio::http::client_options co;
      co.limits.max_keepalive_connections = http_in_flight;  // keep every connection, as the floor does
      trio::http::client client(co);
      trio::http::request_options o;
      if (close) o.headers = {{"Connection", "close"}};
      // The URLs and options the requests take (by value, as the API does), made before the clock
      // starts: the allocations counted are the library's own.
      std::vector<std::string> urls(static_cast<std::size_t>(n + http_in_flight), url);
      std::vector<trio::http::request_options> options(urls.size(), o);
      std::size_t next = 0;
      int left = 0;
      auto worker = [&]() -> trio::task<> {
        while (left > 0) {
          --left;
          const std::size_t i = next++;
          trio::http::response r = co_await client.get(std::move(urls[i]), std::move(options[i]));
          if (r.status_code() != 200 || r.content().size() != 1024) std::abort();
        }
      };
      auto all_workers = [&](trio::nursery& nursery) -> trio::task<> {
        for (int i = 0; i < http_in_flight; ++i) nursery.start_soon(worker);
        co_return;
      };
      // Warm: one request per worker, so the pool holds its 50 connections (keep-alive) before the
      // clock starts, as the floor's persistent multi handle does after its first round.
      left = http_in_flight;
      co_await trio::open_nursery(all_workers);
      left = n;
      const long w0 = thread_switches();
      const double c0 = thread_cpu_seconds();
      const std::size_t a0 = bench::thread_allocations;  // the client's thread only
      const auto t0 = std::chrono::steady_clock::now();
      co_await trio::open_nursery(all_workers);
      state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      cpu += thread_cpu_seconds() - c0;
      switches += thread_switches() - w0;
      allocs += bench::thread_allocations - a0;
    });
  }
  const double all = double(n) * double(state.iterations());
  state.counters["ops"] = n;
  state.counters["client_cpu_ns_per_op"] = cpu * 1e9 / all;
  state.counters["client_switches_per_op"] = double(switches) / all;
  state.counters["allocs_per_op"] = double(allocs) / all;
}

/// What both bare-libcurl floors share: 50 easy handles on one multi handle, each keeping its body in
/// its own buffer (reused) and getting its URL set per request, as the raw prototype in the notes
/// does; rounds of `count` GETs, 50 at a time; the clock and the counters.
struct bare_curl {
  CURLM* multi;
  curl_slist* headers;
  std::string url;
  std::vector<CURL*> easies;
  std::vector<std::string> bodies;
  int started = 0, done = 0, count = 0;

  bare_curl(CURLM* m, bool close, std::string u)
      : multi(m),
        headers(close ? curl_slist_append(nullptr, "Connection: close") : nullptr),
        url(std::move(u)),
        easies(http_in_flight),
        bodies(http_in_flight) {
    auto keep = +[](char* data, std::size_t size, std::size_t n, void* body) -> std::size_t {
      static_cast<std::string*>(body)->append(data, size * n);
      return size * n;
    };
    for (std::size_t i = 0; i < easies.size(); ++i) {
      CURL*& e = easies[i];
      e = curl_easy_init();
      curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep);
      curl_easy_setopt(e, CURLOPT_WRITEDATA, &bodies[i]);
      curl_easy_setopt(e, CURLOPT_PRIVATE, &bodies[i]);
      curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
      if (headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    }
  }
  bare_curl(const bare_curl&) = delete;
  bare_curl& operator=(const bare_curl&) = delete;
  ~bare_curl() {
    for (auto* e : easies) curl_easy_cleanup(e);
    curl_slist_free_all(headers);
    curl_multi_cleanup(multi);
  }

  void start(CURL* e) {
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_multi_add_handle(multi, e);
    ++started;
  }
  /// Begins a round of n GETs.
  void begin(int n) {
    started = done = 0;
    count = n;
    for (auto* e : easies)
      if (started < count) start(e);
  }
  bool finished() const { return done == count; }
  /// Takes the finished transfers out (checking each body) and starts the next ones on their handles.
  void reap() {
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      if (m->data.result != CURLE_OK) std::abort();
      ++done;
      CURL* e = m->easy_handle;
      std::string* body = nullptr;
      curl_easy_getinfo(e, CURLINFO_PRIVATE, reinterpret_cast<char**>(&body));
      if (body->size() != 1024) std::abort();
      body->clear();
      curl_multi_remove_handle(multi, e);
      if (started < count) start(e);
    }
  }
  /// A warm round (the pool's connections), then `round(n)` once per benchmark iteration, timed.
  template <class Round>
  void measure(benchmark::State& state, int n, Round round) {
    round(http_in_flight);
    double cpu = 0;
    long switches = 0;
    for (auto _ : state) {
      const long w0 = thread_switches();
      const double c0 = thread_cpu_seconds();
      const auto t0 = std::chrono::steady_clock::now();
      round(n);
      state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      cpu += thread_cpu_seconds() - c0;
      switches += thread_switches() - w0;
    }
    const double all = double(n) * double(state.iterations());
    state.counters["ops"] = n;
    state.counters["client_cpu_ns_per_op"] = cpu * 1e9 / all;
    state.counters["client_switches_per_op"] = double(switches) / all;
    state.counters["allocs_per_op"] = 0;
  }
};

/// The floor: the same GETs on a bare libcurl multi handle in a curl_multi_perform / curl_multi_poll
/// loop, the cheapest way to drive curl here.
void floor_http_get(benchmark::State& state) {
  http_server server;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  bare_curl b(curl_multi_init(), state.range(0) == 1, server.url());
  b.measure(state, scaled(1000), [&](int count) {
    b.begin(count);
    int running = 0;
    while (!b.finished()) {
      curl_multi_perform(b.multi, &running);
      b.reap();
      if (!b.finished()) curl_multi_poll(b.multi, nullptr, 0, 1000, nullptr);
    }
  });
}

/// The floor in the multi-socket API's own shape (the API trio::http drives, and the raw prototype's):
/// curl_multi_socket_action for each ready socket from a blocking epoll_wait, curl's timer kept here.
/// What trio::http costs over the API it wraps is the difference to this row.
void floorsock_http_get(benchmark::State& state) {
  http_server server;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  struct loop_state {
    int epfd = ::epoll_create1(EPOLL_CLOEXEC);
    long timeout_ms = -1;  // curl's timer, from when it was set
    std::chrono::steady_clock::time_point set_at;
    ~loop_state() { ::close(epfd); }
  } L;
  CURLM* multi = curl_multi_init();
  auto on_socket = +[](CURL*, curl_socket_t fd, int what, void* self, void* known) -> int {
    auto* l = static_cast<loop_state*>(self);
    if (what == CURL_POLL_REMOVE) {
      ::epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, nullptr);
      return 0;
    }
    epoll_event ev{};
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    if (::epoll_ctl(l->epfd, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0)
      ::epoll_ctl(l->epfd, known ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
    return 0;
  };
  auto on_timer = +[](CURLM*, long timeout_ms, void* self) -> int {
    auto* l = static_cast<loop_state*>(self);
    l->timeout_ms = timeout_ms;
    l->set_at = std::chrono::steady_clock::now();
    return 0;
  };
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, &L);
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, &L);
  bare_curl b(multi, state.range(0) == 1, server.url());
  b.measure(state, scaled(1000), [&](int count) {
    b.begin(count);
    int running = 0;
    epoll_event evs[64];
    while (!b.finished()) {
      int wait_ms = -1;
      if (L.timeout_ms >= 0) {
        const auto left = std::chrono::milliseconds(L.timeout_ms) - (std::chrono::steady_clock::now() - L.set_at);
        wait_ms = std::max(0, static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count()));
      }
      const int k = ::epoll_wait(L.epfd, evs, 64, wait_ms);
      for (int i = 0; i < k; ++i) {
        const int mask = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                         (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                         (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(multi, evs[i].data.fd, mask, &running);
      }
      if (L.timeout_ms >= 0 && std::chrono::steady_clock::now() - L.set_at >= std::chrono::milliseconds(L.timeout_ms)) {
        L.timeout_ms = -1;
        curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
      }
      b.reap();
    }
  });
}

/// The curl command line: `curl --parallel --parallel-max 50 -o /dev/null URL ...` (its CPU: the child's).
void curlcli_http_get(benchmark::State& state) {
  const bool close = state.range(0) == 1;
  const int n = scaled(1000);
  http_server server;
  const std::string url = server.url();
  std::string config;  // a config file: 1,000 URLs would not fit a command line comfortably
  for (int i = 0; i < n; ++i) config += "url = \"" + url + "\"\noutput = \"/dev/null\"\n";
  char path[] = "/tmp/trio-bench-curl-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0 || ::write(fd, config.data(), config.size()) != static_cast<ssize_t>(config.size())) std::abort();
  ::close(fd);
  double cpu = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (close) {
        ::execlp("curl", "curl", "--silent", "--no-progress-meter", "--parallel", "--parallel-max", "50", "--http1.1",
                 "-H", "Connection: close", "-K", path, static_cast<char*>(nullptr));
      } else {
        ::execlp("curl", "curl", "--silent", "--no-progress-meter", "--parallel", "--parallel-max", "50", "--http1.1",
                 "-K", path, static_cast<char*>(nullptr));
      }
      ::_exit(127);
    }
    int status = 0;
    rusage ru{};
    if (::wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      state.SkipWithError("curl failed (is the curl program installed?)");
      break;
    }
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    cpu += double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
  }
  ::unlink(path);
  const double all = double(n) * double(state.iterations());
  state.counters["ops"] = n;
  state.counters["client_cpu_ns_per_op"] = cpu * 1e9 / all;
  state.counters["allocs_per_op"] = 0;
}

/// Python httpx's AsyncClient on Trio (benchmarks/httpx_bench.py), where a python3 can import both:
/// the script reports its own CPU per request (the interpreter's start-up is not counted).
const char* httpx_python() {
  static const char* found = []() -> const char* {
    for (const char* py : {"python3", "/usr/bin/python3"}) {
      const std::string probe = std::string(py) + " -c 'import httpx, trio' >/dev/null 2>&1";
      if (std::system(probe.c_str()) == 0) return py;
    }
    return nullptr;
  }();
  return found;
}

void httpx_http_get(benchmark::State& state) {
  const bool close = state.range(0) == 1;
  const int n = scaled(1000);
  const char* py = httpx_python();
  if (!py) {
    state.SkipWithError("no python3 imports httpx and trio (Debian: python3-httpx, python3-trio)");
    return;
  }
  http_server server;
  const std::string command = std::string(py) + " " + TRIO_HTTPX_BENCH + " " + server.url() + " " + std::to_string(n) +
                              " " + std::to_string(http_in_flight) + (close ? " close" : " keepalive");
  double cpu_ns = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    std::FILE* out = ::popen(command.c_str(), "r");
    long per_request = -1;
    if (!out || std::fscanf(out, "%ld", &per_request) != 1) per_request = -1;
    const int status = out ? ::pclose(out) : -1;
    if (per_request < 0 || status != 0) {
      state.SkipWithError("httpx_bench.py failed");
      break;
    }
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    cpu_ns += double(per_request);
  }
  state.counters["ops"] = n;
  state.counters["client_cpu_ns_per_op"] = cpu_ns / double(std::max<benchmark::IterationCount>(1, state.iterations()));
  state.counters["allocs_per_op"] = 0;
}

}  // namespace

BENCHMARK(trio_http_get)->Arg(0)->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(floor_http_get)->Arg(0)->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(floorsock_http_get)->Arg(0)->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(curlcli_http_get)->Arg(0)->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(httpx_http_get)->Arg(0)->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
