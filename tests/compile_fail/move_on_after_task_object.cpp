// expect: not trio::move_on_after\(1s, fetch\(url\)\)
#include <trio/trio.hpp>
using namespace std::chrono_literals;

trio::task<> child() { co_return; }

trio::task<> main_task() { co_await trio::move_on_after(1s, child()); }

int main() { trio::run(main_task); }
