// expect: this function returns void.*write \[\]\(\) -> trio::task<> \{ ... co_return; \}
#include <trio/trio.hpp>

trio::task<> main_task() {
  co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
    n.start_soon([] {});
    co_return;
  });
}

int main() { trio::run(main_task); }
