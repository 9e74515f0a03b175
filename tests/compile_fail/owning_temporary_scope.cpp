// expect-gcc12: g\+\+ 12 destroys a temporary lambda that owns its captures twice
// On clang and g++ 13 or newer this program is fine and must compile.
#include <memory>
#include <trio/trio.hpp>
using namespace std::chrono_literals;

trio::task<> main_task() {
  co_await trio::move_on_after(1s, [p = std::make_unique<int>(1)]() -> trio::task<> { co_return; });
}

int main() { trio::run(main_task); }
