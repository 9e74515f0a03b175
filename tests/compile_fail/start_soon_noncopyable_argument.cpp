// expect: trio::nursery::start_soon: the arguments are copied .*std::move\(x\).*std::ref\(x\)
#include <trio/trio.hpp>

trio::task<> handle(trio::socket_stream s) { co_await s.send_all("hello"); }

trio::task<> main_task() {
  auto p = trio::socket::pair();
  trio::socket_stream s(std::move(p.first));
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon(handle, s);
    co_return;
  });
}

int main() { trio::run(main_task); }
