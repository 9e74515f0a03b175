// expect: pass the function, not the task it returns: trio::run\(main_task\)
#include <trio/trio.hpp>

trio::task<> main_task() { co_return; }

int main() { trio::run(main_task()); }
