// expect: trio::run_per_core: pass the function, not the task it returns
#include <trio/runner_group.hpp>

trio::task<> main_task() { co_return; }

int main() { trio::run_per_core(main_task()); }
