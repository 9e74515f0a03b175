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

TEST_CASE("slow steps: a task that blocks 200 ms is reported while it blocks and after", "[lowlevel][slow_step]") {
  test::stderr_capture err;
  trio::run_options o;
  o.handle_sigint = false;
  o.slow_step_threshold = 50ms;
  std::string seen_while_blocking;
  trio::run(o, [&]() -> trio::task<> {
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> {
        co_await trio::checkpoint();
        ::usleep(200000);  // the bug: a blocking call inside a coroutine
        seen_while_blocking = err.peek();
        co_await trio::checkpoint();
      });
      co_return;
    });
  });
  const std::string text = err.text();
  INFO(text);
  CHECK_THAT(seen_while_blocking, Catch::Contains("has been running for"));
  CHECK_THAT(seen_while_blocking, Catch::Contains("without reaching a checkpoint (a blocking call in a coroutine?)"));
  CHECK_THAT(text, Catch::Contains("trio: slow step: task #"));
  CHECK_THAT(text, Catch::Contains("ms without reaching a checkpoint; it resumed in "));
  CHECK(test::count_of(text, "has been running for") == 1);  // one report per step
  CHECK(test::count_of(text, "trio: slow step:") == 1);
}

TEST_CASE("run statistics: counters always, step times when asked for", "[lowlevel][metrics]") {
  trio::run_options o;
  o.handle_sigint = false;
  o.collect_step_times = true;
  trio::lowlevel::run_statistics s;
  trio::run(o, [&]() -> trio::task<> {
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([]() -> trio::task<> {
        ::usleep(20000);
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        co_await trio::lowlevel::wait_writable(fds[1]);  // an io_uring operation: an SQE, then a CQE
        ::close(fds[0]);
        ::close(fds[1]);
      });
      co_return;
    });
    trio::cancel_scope cs;
    cs.cancel();
    co_await cs.enter([]() -> trio::task<> { co_await trio::checkpoint(); });
    s = trio::lowlevel::current_statistics();
  });
  CHECK(s.task_steps >= 4);
  CHECK(s.loop_turns >= 2);
  CHECK(s.io_uring_enters >= 1);
  CHECK(s.sqes_submitted >= 1);
  CHECK(s.cqes_reaped >= 1);
  CHECK(s.cancellations_delivered == 1);
  CHECK(s.longest_step >= 20ms);
  CHECK(s.busy_time >= s.longest_step);
  CHECK_THAT(s.longest_step_task, Catch::StartsWith("task #"));
  std::uint64_t steps = 0;
  for (auto c : s.step_time_histogram) steps += c;
  CHECK(steps + 1 == s.task_steps);       // every step but the one still running
  CHECK(s.step_time_histogram[24] >= 1);  // [16.8, 33.6) ms: the 20 ms step
}

TRIO_TEST_CASE("run statistics: without step times, they stay zero", "[lowlevel][metrics]") {
  co_await trio::checkpoint();
  const auto s = trio::lowlevel::current_statistics();
  CHECK(s.task_steps > 0);
  CHECK(s.busy_time == trio::duration::zero());
  CHECK(s.longest_step_task.empty());
}
