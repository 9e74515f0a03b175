#include <trio/lowlevel.hpp>  // first: the header compiles on its own

#include <stdexcept>

#include "support/helpers.hpp"

namespace {
trio::task<> named_child() { co_await trio::sleep_forever(); }
}  // namespace

TRIO_TEST_CASE("NUR-17 task tree introspection", "[lowlevel]") {
  auto& root = trio::lowlevel::current_root_task();
  CHECK(root.parent_nursery() == nullptr);
  auto& me = trio::lowlevel::current_task();
  CHECK(&me != &root);
  REQUIRE(me.parent_nursery() != nullptr);
  CHECK(&me.parent_nursery()->parent_task() == &root);  // main runs in the root task's system nursery
  CHECK(me.child_nurseries().empty());
  co_await trio::open_nursery([&](trio::nursery& outer) -> trio::task<> {
    co_await trio::open_nursery([&](trio::nursery& inner) -> trio::task<> {
      CHECK(me.child_nurseries() == std::vector<trio::nursery*>{&outer, &inner});
      inner.start_soon(named_child);
      inner.start_soon(named_child);
      co_await trio::testing::wait_all_tasks_blocked();
      auto kids = inner.child_tasks();
      REQUIRE(kids.size() == 2);
      CHECK(kids[0]->parent_nursery() == &inner);
      CHECK(&kids[0]->parent_nursery()->parent_task() == &me);
      CHECK(kids[0]->id() < kids[1]->id());
      CHECK_THAT(kids[0]->name(), Catch::Contains("trio::task<void>"));
      const std::string tree = trio::lowlevel::format_task_tree();
      CHECK_THAT(tree, Catch::Contains("(running)"));
      CHECK_THAT(tree, Catch::Contains("nursery (2 children)"));
      inner.cancel_scope().cancel();
    });
  });
  CHECK(me.child_nurseries().empty());
}

TRIO_TEST_CASE("lowlevel current_statistics", "[lowlevel]") {
  co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
    n.start_soon([]() -> trio::task<> { co_await trio::sleep(5s); });
    co_await trio::testing::wait_all_tasks_blocked();
    auto s = trio::lowlevel::current_statistics();
    CHECK(s.tasks_living == 3);  // root, main, the sleeper
    CHECK(s.tasks_runnable == 0);
    CHECK(s.time_to_next_deadline == 5s);
    CHECK(s.io_operations_in_flight == 0);
  });
  CHECK(trio::lowlevel::current_statistics().time_to_next_deadline == trio::duration::max());
}

TRIO_TEST_CASE("lowlevel wait_task_rescheduled: reschedule with a value or an error", "[lowlevel]") {
  trio::lowlevel::task_info* waiter = nullptr;
  test::event_log rec;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      waiter = &trio::lowlevel::current_task();
      co_await trio::lowlevel::wait_task_rescheduled([]() noexcept { return trio::lowlevel::abort_result::failed; });
      rec("woke");
      try {
        co_await trio::lowlevel::wait_task_rescheduled([]() noexcept { return trio::lowlevel::abort_result::failed; });
      } catch (const std::runtime_error& e) {
        rec(e.what());
      }
    });
    co_await trio::testing::wait_all_tasks_blocked();
    trio::lowlevel::reschedule(*waiter);
    co_await trio::testing::wait_all_tasks_blocked();
    trio::lowlevel::reschedule(*waiter, std::make_exception_ptr(std::runtime_error("delivered error")));
  });
  CHECK(rec.entries == std::vector<std::string>{"woke", "delivered error"});
}

TRIO_TEST_CASE("lowlevel current_clock is the run's clock", "[lowlevel]") {
  CHECK(&trio::lowlevel::current_clock() == &trio::testing::current_mock_clock());
  co_return;
}
