// expect: to_thread::run_sync: fn returns a trio::task, which cannot run in a thread
#include <trio/trio.hpp>

trio::task<> work() { co_return; }

trio::task<> main_task() { co_await trio::to_thread::run_sync(work); }

int main() { trio::run(main_task); }
