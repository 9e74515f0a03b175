// expect: trio::nursery::start_soon: the function takes an argument by \(non-const\) reference.*std::ref\(x\)
#include <trio/trio.hpp>

#include <string>

trio::task<> append(std::string& out) {
  out += "x";
  co_return;
}

trio::task<> main_task() {
  std::string log;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon(append, log);
    co_return;
  });
}

int main() { trio::run(main_task); }
