// expect: co_await n.start\(server, 8080\), not co_await n.start\(server\(8080\)\)
#include <trio/trio.hpp>

trio::task<> server(int, trio::task_status<int> status = {}) {
  status.started(1);
  co_return;
}

trio::task<> main_task() {
  co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> { co_await n.start(server(8080)); });
}

int main() { trio::run(main_task); }
