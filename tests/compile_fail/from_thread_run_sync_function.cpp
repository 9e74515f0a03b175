// expect: from_thread::run: fn must return a trio::task<T>; use trio::from_thread::run_sync
#include <trio/trio.hpp>

int plain() { return 1; }

trio::task<> main_task() {
  co_await trio::to_thread::run_sync([] { return trio::from_thread::run(plain); });
}

int main() { trio::run(main_task); }
