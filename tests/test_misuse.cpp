// Misuse of every kind the public API names: the exception it names, with a message that says what to do.
#include "support/helpers.hpp"

TEST_CASE("MISUSE calls that need a run, made outside one: std::logic_error saying so", "[misuse]") {
  CHECK_THROWS_WITH(trio::current_time(), Catch::Contains("must be called from inside trio::run()"));
  CHECK_THROWS_AS(trio::current_effective_deadline(), std::logic_error);
  CHECK_THROWS_AS(trio::sleep(1s), std::logic_error);
  CHECK_THROWS_AS(trio::sleep_forever(), std::logic_error);
  CHECK_THROWS_AS(trio::checkpoint(), std::logic_error);
  CHECK_THROWS_AS(trio::lowlevel::current_task(), std::logic_error);
  CHECK_THROWS_AS(trio::lowlevel::current_root_task(), std::logic_error);
  CHECK_THROWS_AS(trio::lowlevel::current_trio_token(), std::logic_error);
  CHECK_THROWS_AS(trio::lowlevel::current_statistics(), std::logic_error);
  CHECK_THROWS_AS(trio::lowlevel::format_task_tree(), std::logic_error);
  CHECK_THROWS_AS(trio::testing::wait_all_tasks_blocked(), std::logic_error);
  CHECK_THROWS_AS(trio::lowlevel::notify_closing(0), std::logic_error);
}

TRIO_TEST_CASE("MISUSE a cancel scope entered twice", "[misuse]") {
  trio::cancel_scope cs;
  co_await cs.enter([]() -> trio::task<> { co_return; });
  CHECK_THROWS_WITH(co_await cs.enter([]() -> trio::task<> { co_return; }),
                    Catch::Contains("only be entered once") && Catch::Contains("create a new cancel_scope"));
}

TRIO_TEST_CASE("MISUSE start: returning without started() / started() twice", "[misuse]") {
  co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
    CHECK_THROWS_WITH(co_await n.start([](trio::task_status<int>) -> trio::task<> { co_return; }),
                      Catch::Contains("without calling task_status.started()"));
    co_await n.start([](trio::task_status<int> st) -> trio::task<> {
      st.started(1);
      CHECK_THROWS_AS(st.started(2), std::logic_error);
      co_return;
    });
  });
}

TRIO_TEST_CASE("MISUSE start: a task cancelled before started() says so, not 'returned without'", "[misuse]") {
  co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
    trio::cancel_scope outer;
    trio::cancel_scope mid;
    co_await outer.enter([&]() -> trio::task<> {
      co_await mid.enter([&]() -> trio::task<> {
        auto server = [&](trio::task_status<int>) -> trio::task<> {
          outer.cancel();
          try {
            co_await trio::checkpoint();  // receives the outer cancellation...
          } catch (const trio::cancelled&) {
            mid.set_shield(true);  // ... which a shield then hides from start()'s caller
            throw;
          }
        };
        CHECK_THROWS_WITH(co_await n.start(server),
                          Catch::Contains("was cancelled before it called task_status.started()") &&
                              !Catch::Contains("returned without"));
      });
    });
  });
}

TRIO_TEST_CASE("MISUSE bad arguments: std::invalid_argument", "[misuse]") {
  CHECK_THROWS_AS(trio::sleep(-1ms), std::invalid_argument);
  CHECK_THROWS_AS(trio::move_on_after(-1s, []() -> trio::task<> { co_return; }), std::invalid_argument);
  CHECK_THROWS_AS(co_await trio::lowlevel::wait_readable(-1), std::invalid_argument);
  trio::testing::mock_clock c;
  CHECK_THROWS_AS(c.jump(-1s), std::invalid_argument);
  CHECK_THROWS_AS(c.set_rate(-2), std::invalid_argument);
  CHECK_THROWS_AS(c.set_autojump_threshold(-1s), std::invalid_argument);
}

TRIO_TEST_CASE("MISUSE lowlevel: rescheduling a task that is not parked", "[misuse]") {
  CHECK_THROWS_WITH(trio::lowlevel::reschedule(trio::lowlevel::current_task()), Catch::Contains("not parked"));
  co_return;
}

TRIO_TEST_CASE("MISUSE an operating-system failure is std::system_error with the errno", "[misuse]") {
  // A poll on a closed descriptor: the kernel answers EBADF.
  try {
    co_await trio::lowlevel::wait_readable(1000);
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK(e.code().value() == EBADF);
  }
}
