// expect-gcc12: g\+\+ 12 destroys a temporary lambda that owns its captures twice.*co_await trio::open_nursery\(body\)
// On clang and g++ 13 or newer this program is fine and must compile.
#include <string>
#include <trio/trio.hpp>
using namespace std::chrono_literals;

trio::task<> main_task() {
  std::string s(100, 'x');
  co_await trio::open_nursery([s](trio::nursery&) -> trio::task<> { co_return; });
}

int main() { trio::run(main_task); }
