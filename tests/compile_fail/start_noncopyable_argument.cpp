// expect: trio::nursery::start: the arguments are copied .*std::move\(x\).*std::ref\(x\)
#include <trio/trio.hpp>

trio::task<> serve(trio::socket_stream s, trio::task_status<> status = {}) {
  status.started();
  co_await s.send_all("hello");
}

trio::task<> main_task() {
  auto p = trio::socket::pair();
  trio::socket_stream s(std::move(p.first));
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> { co_await n.start(serve, s); });
}

int main() { trio::run(main_task); }
