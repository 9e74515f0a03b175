// A program that uses the trio::ssl component the way a downstream project does: TLS over a memory
// stream pair, with certificates made at run time.
#include <cstdio>

#include <trio/ssl.hpp>
#include <trio/testing.hpp>  // with trio::ssl it brings make_test_certificates too
#include <trio/trio.hpp>

trio::task<int> main_task() {
  const auto certs = trio::testing::make_test_certificates({"consumer.example.org"});
  auto server_ctx = trio::ssl_context::server_from_pem(certs.cert_pem, certs.key_pem);
  auto client_ctx = trio::ssl_context::client();
  client_ctx.load_verify_pem(certs.ca_pem);
  auto pair = trio::testing::memory_stream_pair();
  trio::ssl_stream<trio::testing::memory_stream> client(std::move(pair.first), client_ctx, "consumer.example.org");
  trio::ssl_stream_options server_side;
  server_side.server_side = true;
  trio::ssl_stream<trio::testing::memory_stream> server(std::move(pair.second), server_ctx, server_side);
  std::string got;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> { co_await client.send_all(std::string_view("hello")); });
    got = co_await server.receive_some();
  });
  co_return got == "hello" ? 0 : 1;
}

int main() {
  const int rc = trio::run(main_task);
  std::puts(rc == 0 ? "ssl consumer ok" : "ssl consumer FAILED");
  return rc;
}
