// TLS rows: handshakes per second and bulk throughput through trio::ssl_stream, next to
// asio::ssl::stream and a blocking OpenSSL loop (the floor), all on the same OpenSSL 3 and the same
// SSL_CTX; plus the cipher alone (what `openssl speed -evp aes-128-gcm` measures, for 16 KiB records).
//
// The library under test is the server, in its own thread; the peer is a blocking OpenSSL client in
// the benchmark's thread (the same for every row), so a row differs only in the server. TLS 1.3,
// ECDSA P-256 certificate (trio::testing::make_test_certificates), TLS_AES_128_GCM_SHA256, no session
// tickets, the client verifies the certificate and the host name.

#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <trio/ssl.hpp>
#include <trio/testing/ssl_certs.hpp>
#include <trio/trio.hpp>

#include "bench_common.hpp"

namespace {

using bench::alloc_scope;
using bench::connect_loopback;
using bench::g_divisor;
using bench::in_trio;
using bench::loopback_listener_fd;
using bench::scaled;
using bench::thread_user_ns;

constexpr std::size_t tls_chunk = 64 * 1024;

/// One server context and one client context for every row (made once: key generation is slow).
struct tls_contexts {
  trio::ssl_context server;
  trio::ssl_context client;
  static const tls_contexts& get() {
    static const tls_contexts c = [] {
      const auto certs = trio::testing::make_test_certificates({"localhost"});
      tls_contexts t{trio::ssl_context::server_from_pem(certs.cert_pem, certs.key_pem), trio::ssl_context::client()};
      t.client.load_verify_pem(certs.ca_pem);
      t.client.set_min_version(TLS1_3_VERSION);
      if (SSL_CTX_set_ciphersuites(t.client.native(), "TLS_AES_128_GCM_SHA256") != 1) std::abort();
      return t;
    }();
    return c;
  }
};

/// The blocking OpenSSL peer's connection.
struct blocking_tls {
  int fd;
  SSL* ssl;
  blocking_tls(SSL_CTX* ctx, int fd_, bool server) : fd(fd_), ssl(SSL_new(ctx)) {
    int one = 1;  // as trio's and Asio's sockets: no Nagle delay on the last small record
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL_set_fd(ssl, fd);
    if (server) {
      if (SSL_accept(ssl) != 1) std::abort();
    } else {
      SSL_set_tlsext_host_name(ssl, "localhost");
      SSL_set1_host(ssl, "localhost");
      if (SSL_connect(ssl) != 1) std::abort();
    }
  }
  blocking_tls(const blocking_tls&) = delete;
  blocking_tls& operator=(const blocking_tls&) = delete;
  /// Reads until the peer's close_notify (or the end of the connection); returns the bytes read.
  std::size_t drain(std::vector<char>& buf) {
    std::size_t got = 0;
    for (int k; (k = SSL_read(ssl, buf.data(), static_cast<int>(buf.size()))) > 0;) got += static_cast<std::size_t>(k);
    return got;
  }
  ~blocking_tls() {
    SSL_free(ssl);
    ::close(fd);
  }
};

// ---- handshakes: connect, handshake, one byte from the server, close_notify both ways ------------
void trio_tls_handshake_server(int lfd, int n, long& user_ns) {
  in_trio([&]() -> trio::task<> {
    const long t0 = thread_user_ns();
    const trio::ssl_context& ctx = tls_contexts::get().server;
    trio::socket_listener listener(trio::socket::adopt(lfd, AF_INET, SOCK_STREAM));
    auto serve = [&ctx](trio::socket_stream s) -> trio::task<> {
      trio::ssl_stream_options o;
      o.server_side = true;
      trio::ssl_stream<trio::socket_stream> tls(std::move(s), ctx, o);
      co_await tls.do_handshake();
      const std::byte one[1] = {std::byte{'x'}};
      co_await tls.send_all(one);
      std::array<std::byte, 64> buf;
      if (co_await tls.receive_some(buf) != 0) std::abort();
      co_await tls.aclose();
    };
    co_await trio::open_nursery([&](trio::nursery& nursery) -> trio::task<> {
      for (int i = 0; i < n; ++i) nursery.start_soon(serve, co_await listener.accept());
    });
    user_ns = thread_user_ns() - t0;
  });
}

void asio_tls_handshake_server(int lfd, int n, long& user_ns) {
  const long t0 = thread_user_ns();
  SSL_CTX* native = tls_contexts::get().server.native();
  SSL_CTX_up_ref(native);
  asio::ssl::context actx(native);  // the same SSL_CTX (asio frees its reference)
  asio::io_context io(1);
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::v4(), lfd);
  auto serve = [&actx](asio::ip::tcp::socket s) -> asio::awaitable<void> {
    asio::ssl::stream<asio::ip::tcp::socket> tls(std::move(s), actx);
    co_await tls.async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
    co_await asio::async_write(tls, asio::buffer("x", 1), asio::use_awaitable);
    char buf[64];
    try {
      co_await tls.async_read_some(asio::buffer(buf), asio::use_awaitable);
      std::abort();
    } catch (const std::system_error&) {  // the client's close_notify
    }
    co_await tls.async_shutdown(asio::use_awaitable);
  };
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < n; ++i) {
          asio::ip::tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
          s.set_option(asio::ip::tcp::no_delay(true));
          asio::co_spawn(io, serve(std::move(s)), asio::detached);
        }
      },
      asio::detached);
  io.run();
  user_ns = thread_user_ns() - t0;
}

/// The floor: a blocking OpenSSL server, one connection at a time.
void floor_tls_handshake_server(int lfd, int n, long& user_ns) {
  const long t0 = thread_user_ns();
  std::vector<char> buf(64);
  for (int i = 0; i < n; ++i) {
    blocking_tls tls(tls_contexts::get().server.native(), ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC), true);
    if (SSL_write(tls.ssl, "x", 1) != 1) std::abort();
    if (tls.drain(buf) != 0) std::abort();
    SSL_shutdown(tls.ssl);
  }
  ::close(lfd);
  user_ns = thread_user_ns() - t0;
}

template <class Server>
void run_tls_handshakes(benchmark::State& state, Server server) {
  const int n = scaled(500);
  SSL_CTX* client = tls_contexts::get().client.native();
  double server_cpu_ns = 0;
  alloc_scope a{state, double(n)};
  std::vector<char> buf(64);
  for (auto _ : state) {
    std::uint16_t port = 0;
    const int lfd = loopback_listener_fd(port);
    long user_ns = 0;
    std::thread t([&] { server(lfd, n, user_ns); });
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      blocking_tls tls(client, connect_loopback(port), false);
      char c = 0;
      if (SSL_read(tls.ssl, &c, 1) != 1 || c != 'x') std::abort();
      SSL_shutdown(tls.ssl);
      tls.drain(buf);
    }
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    t.join();
    server_cpu_ns += double(user_ns);
  }
  state.counters["server_user_ns_per_op"] = server_cpu_ns / (double(n) * double(state.iterations()));
}
void trio_tls_handshake(benchmark::State& state) { run_tls_handshakes(state, trio_tls_handshake_server); }
void asio_tls_handshake(benchmark::State& state) { run_tls_handshakes(state, asio_tls_handshake_server); }
void floor_tls_handshake(benchmark::State& state) { run_tls_handshakes(state, floor_tls_handshake_server); }

// ---- bulk: the server sends `total` bytes in 64 KiB send_all calls and the client reads them all
// (Arg 0), or the client sends and the server reads with 64 KiB receive_some (Arg 1) ---------------
std::size_t tls_bulk_total() {
  return std::max<std::size_t>(tls_chunk, (std::size_t{256} << 20) / std::size_t(g_divisor));
}

void trio_tls_bulk_server(int lfd, bool receive, std::size_t total, long& user_ns, std::size_t& allocs) {
  in_trio([&]() -> trio::task<> {
    trio::socket_listener listener(trio::socket::adopt(lfd, AF_INET, SOCK_STREAM));
    trio::ssl_stream_options o;
    o.server_side = true;
    trio::ssl_stream<trio::socket_stream> tls(co_await listener.accept(), tls_contexts::get().server, o);
    co_await tls.do_handshake();
    std::vector<std::byte> chunk(tls_chunk, std::byte{'b'});
    // The first 64 KiB warm the stream's buffers to their steady size; then time and count.
    std::size_t done = receive ? co_await tls.receive_some(chunk) : (co_await tls.send_all(chunk), tls_chunk);
    const long t0 = thread_user_ns();
    const std::size_t a0 = bench::allocations.load(std::memory_order_relaxed);
    if (receive) {
      for (std::size_t k; (k = co_await tls.receive_some(chunk)) != 0;) done += k;
    } else {
      for (; done < total; done += tls_chunk) co_await tls.send_all(chunk);
    }
    allocs = bench::allocations.load(std::memory_order_relaxed) - a0;
    user_ns = thread_user_ns() - t0;
    if (done != total) std::abort();
    co_await tls.aclose();
  });
}

void asio_tls_bulk_server(int lfd, bool receive, std::size_t total, long& user_ns, std::size_t& allocs) {
  SSL_CTX* native = tls_contexts::get().server.native();
  SSL_CTX_up_ref(native);
  asio::ssl::context actx(native);
  asio::io_context io(1);
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::v4(), lfd);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::ssl::stream<asio::ip::tcp::socket> tls(co_await acceptor.async_accept(asio::use_awaitable), actx);
        tls.lowest_layer().set_option(asio::ip::tcp::no_delay(true));
        co_await tls.async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
        std::vector<char> chunk(tls_chunk, 'b');
        std::size_t done = receive ? co_await tls.async_read_some(asio::buffer(chunk), asio::use_awaitable)
                                   : co_await asio::async_write(tls, asio::buffer(chunk), asio::use_awaitable);
        const long t0 = thread_user_ns();
        const std::size_t a0 = bench::allocations.load(std::memory_order_relaxed);
        if (receive) {
          try {
            for (;;) done += co_await tls.async_read_some(asio::buffer(chunk), asio::use_awaitable);
          } catch (const std::system_error&) {  // the client's close_notify
          }
        } else {
          for (; done < total; done += tls_chunk)
            co_await asio::async_write(tls, asio::buffer(chunk), asio::use_awaitable);
        }
        allocs = bench::allocations.load(std::memory_order_relaxed) - a0;
        user_ns = thread_user_ns() - t0;
        if (done != total) std::abort();
        try {
          co_await tls.async_shutdown(asio::use_awaitable);  // close_notify; waits for the client's
        } catch (const std::system_error&) {
        }
      },
      asio::detached);
  io.run();
}

void floor_tls_bulk_server(int lfd, bool receive, std::size_t total, long& user_ns, std::size_t& allocs) {
  blocking_tls tls(tls_contexts::get().server.native(), ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC), true);
  ::close(lfd);
  std::vector<char> chunk(tls_chunk, 'b');
  const long t0 = thread_user_ns();
  if (receive) {
    if (tls.drain(chunk) != total) std::abort();
  } else {
    for (std::size_t sent = 0; sent < total; sent += tls_chunk)
      if (SSL_write(tls.ssl, chunk.data(), static_cast<int>(tls_chunk)) != static_cast<int>(tls_chunk)) std::abort();
  }
  user_ns = thread_user_ns() - t0;
  allocs = 0;
  SSL_shutdown(tls.ssl);
}

template <class Server>
void run_tls_bulk(benchmark::State& state, Server server) {
  const bool receive = state.range(0) == 1;
  const std::size_t total = tls_bulk_total();
  const double ops = double(total) / double(tls_chunk);
  SSL_CTX* client = tls_contexts::get().client.native();
  double server_cpu_ns = 0, server_allocs = 0;
  std::vector<char> buf(tls_chunk);
  for (auto _ : state) {
    std::uint16_t port = 0;
    const int lfd = loopback_listener_fd(port);
    long user_ns = 0;
    std::size_t allocs = 0;
    std::thread t([&] { server(lfd, receive, total, user_ns, allocs); });
    {
      blocking_tls tls(client, connect_loopback(port), false);
      const auto t0 = std::chrono::steady_clock::now();
      if (receive) {
        for (std::size_t sent = 0; sent < total; sent += tls_chunk)
          if (SSL_write(tls.ssl, buf.data(), static_cast<int>(tls_chunk)) != static_cast<int>(tls_chunk)) std::abort();
        SSL_shutdown(tls.ssl);
        tls.drain(buf);  // the server's close_notify: it has read everything
      } else {
        if (tls.drain(buf) != total) std::abort();
        SSL_shutdown(tls.ssl);
      }
      state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    t.join();
    server_cpu_ns += double(user_ns);
    server_allocs += double(allocs);
  }
  const double all = ops * double(state.iterations());
  state.counters["ops"] = ops;
  state.counters["bytes_per_op"] = double(tls_chunk);
  state.counters["server_user_ns_per_op"] = server_cpu_ns / all;
  state.counters["allocs_per_op"] = server_allocs / all;  // the server's steady-state calls only
  state.SetBytesProcessed(static_cast<std::int64_t>(total) * state.iterations());
}
void trio_tls_bulk(benchmark::State& state) { run_tls_bulk(state, trio_tls_bulk_server); }
void asio_tls_bulk(benchmark::State& state) { run_tls_bulk(state, asio_tls_bulk_server); }
void floor_tls_bulk(benchmark::State& state) { run_tls_bulk(state, floor_tls_bulk_server); }

// ---- the cipher alone: AES-128-GCM over 16 KiB records (`openssl speed -evp aes-128-gcm -bytes 16384`)
void floor_tls_cipher(benchmark::State& state) {
  constexpr int record = 16384;
  const std::size_t total = tls_bulk_total();
  const double ops = double(total) / double(tls_chunk);
  std::vector<unsigned char> in(record, 'b'), out(record + 16);
  unsigned char key[16] = {1}, iv[12] = {2}, tag[16];
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  if (EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), nullptr, key, iv) != 1) std::abort();
  alloc_scope a{state, ops};
  for (auto _ : state) {
    for (std::size_t done = 0; done < total; done += record) {
      int len = 0;
      iv[11] = static_cast<unsigned char>(done >> 14);
      EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, iv);
      EVP_EncryptUpdate(c, out.data(), &len, in.data(), record);
      EVP_EncryptFinal_ex(c, out.data() + len, &len);
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag);
    }
    benchmark::DoNotOptimize(out.data());
  }
  EVP_CIPHER_CTX_free(c);
  state.counters["bytes_per_op"] = double(tls_chunk);
  state.SetBytesProcessed(static_cast<std::int64_t>(total) * state.iterations());
}

}  // namespace

BENCHMARK(trio_tls_handshake)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(asio_tls_handshake)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(floor_tls_handshake)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(trio_tls_bulk)->Arg(0)->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(asio_tls_bulk)->Arg(0)->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(floor_tls_bulk)->Arg(0)->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(floor_tls_cipher)->Unit(benchmark::kMillisecond);
