// Scale: many tasks, deep scope nesting.
#include <pthread.h>

#include <functional>

#include "support/helpers.hpp"

namespace {

/// Runs fn on a thread with a large stack: the tests below are about trio's own recursion, and g++
/// without optimisation keeps a frame per level of a coroutine chain.
void on_big_stack(std::function<void()> fn) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 512u << 20);
  pthread_t th;
  auto* heap_fn = new std::function<void()>(std::move(fn));
  REQUIRE(pthread_create(
              &th, &attr,
              [](void* p) -> void* {
                auto* f = static_cast<std::function<void()>*>(p);
                (*f)();
                delete f;
                return nullptr;
              },
              heap_fn) == 0);
  pthread_join(th, nullptr);
  pthread_attr_destroy(&attr);
}

trio::task<> nest(int depth, std::vector<trio::cancel_scope*>& scopes, int& cancelled_at_bottom) {
  trio::cancel_scope s;
  scopes.push_back(&s);
  co_await s.enter([&]() -> trio::task<> {
    if (depth == 0) {
      try {
        scopes.front()->cancel();  // cancel the outermost: the whole chain at once
        co_await trio::sleep_forever();
      } catch (const trio::cancelled&) {
        ++cancelled_at_bottom;
        throw;
      }
    } else {
      co_await nest(depth - 1, scopes, cancelled_at_bottom);
    }
  });
}

}  // namespace

TRIO_TEST_CASE("STRESS 100,000 children in one nursery", "[stress]") {
  int done = 0;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i = 0; i < 100000; ++i)
      n.start_soon([&]() -> trio::task<> {
        co_await trio::checkpoint();
        ++done;
      });
    CHECK(n.child_count() == 100000);
    co_return;
  });
  CHECK(done == 100000);
  CHECK(trio::lowlevel::current_statistics().tasks_living == 2);
}

TRIO_TEST_CASE("STRESS cancelling a nursery of 100,000 sleeping children", "[stress]") {
  int cancelled = 0;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    for (int i = 0; i < 100000; ++i)
      n.start_soon(
          [&](int k) -> trio::task<> {
            try {
              co_await trio::sleep(std::chrono::seconds(1000 + k));
            } catch (const trio::cancelled&) {
              ++cancelled;
              throw;
            }
          },
          i);
    co_await trio::testing::wait_all_tasks_blocked();
    n.cancel_scope().cancel();
  });
  CHECK(cancelled == 100000);
}

TEST_CASE("CS-14 5,000 nested cancel scopes cancelled at once: no stack overflow", "[stress][cancel]") {
  for (int depth : {3000, 5000}) {
    on_big_stack([depth] {
      std::vector<trio::cancel_scope*> scopes;
      int cancelled_at_bottom = 0;
      test::run_mock([&]() -> trio::task<> {
        co_await nest(depth - 1, scopes, cancelled_at_bottom);
        REQUIRE(scopes.size() == static_cast<std::size_t>(depth));
      });
      CHECK(cancelled_at_bottom == 1);
    });
  }
}

TRIO_TEST_CASE("STRESS nested nurseries 200 deep, cancelled from the top", "[stress]") {
  std::function<trio::task<>(int)> level = [&](int d) -> trio::task<> {
    co_await trio::open_nursery([&, d](trio::nursery& n) -> trio::task<> {
      if (d > 0) n.start_soon(level, d - 1);
      co_await trio::sleep_forever();
    });
  };
  const bool finished = co_await trio::move_on_after(1s, level, 200);
  CHECK_FALSE(finished);
}
