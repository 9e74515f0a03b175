// expect: n.start_soon\(child, 1\), not n.start_soon\(child\(1\)\)
#include <trio/trio.hpp>

trio::task<> child(int) { co_return; }

trio::task<> main_task() {
  co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
    n.start_soon(child(1));
    co_return;
  });
}

int main() { trio::run(main_task); }
