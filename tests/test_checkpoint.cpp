#include <trio/checkpoint.hpp>  // first: the header compiles on its own

#include <unistd.h>

#include "support/helpers.hpp"

namespace {

/// Does `body` contain a schedule point? Counts the current task's steps while it runs.
template <class F>
trio::task<bool> has_schedule_point(F body) {
  struct step_counter : trio::instrument {
    const trio::lowlevel::task_info* me = nullptr;
    int steps = 0;
    void before_task_step(const trio::lowlevel::task_info& t) override {
      if (&t == me) ++steps;
    }
  } counter;
  counter.me = &trio::lowlevel::current_task();
  trio::lowlevel::add_instrument(counter);
  co_await body();
  trio::lowlevel::remove_instrument(counter);
  co_return counter.steps > 0;
}

/// Does `body` contain a cancel point? Runs it in an already-cancelled scope.
template <class F>
trio::task<bool> has_cancel_point(F body) {
  trio::cancel_scope cs;
  cs.cancel();
  co_await cs.enter(body);
  co_return cs.cancelled_caught();
}

template <class F>
trio::task<std::pair<bool, bool>> points_of(F body) {
  const bool cancel = co_await has_cancel_point(body);
  const bool schedule = co_await has_schedule_point(body);
  co_return std::pair{cancel, schedule};
}

using both = std::pair<bool, bool>;

}  // namespace

TRIO_TEST_CASE("CP-01 a checkpoint is a cancel point and a schedule point / either half alone is not", "[checkpoint]") {
  CHECK(co_await points_of([]() -> trio::task<> { co_await trio::checkpoint(); }) == both{true, true});
  CHECK(co_await points_of([]() -> trio::task<> {
          co_await trio::checkpoint_if_cancelled();
          co_await trio::cancel_shielded_checkpoint();
        }) == both{true, true});
  CHECK(co_await points_of([]() -> trio::task<> { co_await trio::checkpoint_if_cancelled(); }) == both{true, false});
  CHECK(co_await points_of([]() -> trio::task<> { co_await trio::cancel_shielded_checkpoint(); }) == both{false, true});
  CHECK(co_await points_of([]() -> trio::task<> { co_return; }) == both{false, false});
}

TRIO_TEST_CASE("CP-02 the two halves", "[checkpoint]") {
  trio::cancel_scope cs;
  test::event_log rec;
  co_await cs.enter([&]() -> trio::task<> {
    co_await trio::checkpoint_if_cancelled();
    rec("first is a no-op");
    cs.cancel();
    co_await trio::cancel_shielded_checkpoint();
    co_await trio::cancel_shielded_checkpoint();
    rec("shielded ones never raise");
    try {
      co_await trio::checkpoint_if_cancelled();
    } catch (const trio::cancelled&) {
      rec("last raises");
      throw;
    }
  });
  CHECK(rec.entries == std::vector<std::string>{"first is a no-op", "shielded ones never raise", "last raises"});
}

TRIO_TEST_CASE("CP-03 every blocking primitive is a checkpoint even when it does not block", "[checkpoint]") {
  CHECK(co_await points_of([]() -> trio::task<> { co_await trio::sleep(0s); }) == both{true, true});
  CHECK(co_await points_of([]() -> trio::task<> { co_await trio::sleep_until(trio::time_point{} - 1s); }) ==
        both{true, true});
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  REQUIRE(::write(fds[1], "x", 1) == 1);
  CHECK(co_await points_of([&]() -> trio::task<> { co_await trio::lowlevel::wait_readable(fds[0]); }) ==
        both{true, true});
  CHECK(co_await points_of([&]() -> trio::task<> { co_await trio::lowlevel::wait_writable(fds[1]); }) ==
        both{true, true});
  ::close(fds[0]);
  ::close(fds[1]);
}

TRIO_TEST_CASE("CP-04 synchronous operations are never checkpoints", "[checkpoint]") {
  co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
    CHECK(co_await points_of([&]() -> trio::task<> {
            n.start_soon([]() -> trio::task<> { co_return; });
            trio::cancel_scope other;
            other.cancel();
            (void)trio::current_time();
            co_return;
          }) == both{false, false});
  });
}

TRIO_TEST_CASE("CP-05 a cancelled wait has no effect: the data is still there", "[checkpoint][io]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  REQUIRE(::write(fds[1], "1", 1) == 1);
  trio::cancel_scope cs;
  co_await cs.enter([&]() -> trio::task<> {
    cs.cancel();
    co_await trio::lowlevel::wait_readable(fds[0]);
  });
  CHECK(cs.cancelled_caught());
  co_await trio::lowlevel::wait_readable(fds[0]);
  char c = 0;
  CHECK(::read(fds[0], &c, 1) == 1);
  CHECK(c == '1');
  ::close(fds[0]);
  ::close(fds[1]);
}

TRIO_TEST_CASE("CP-06 a nursery's end is a schedule point, not a cancel point", "[checkpoint]") {
  trio::cancel_scope cs;
  co_await cs.enter([&]() -> trio::task<> {
    cs.cancel();
    co_await trio::open_nursery([](trio::nursery&) -> trio::task<> { co_return; });
  });
  CHECK_FALSE(cs.cancelled_caught());
  CHECK(co_await points_of([]() -> trio::task<> {
          co_await trio::open_nursery([](trio::nursery&) -> trio::task<> { co_return; });
        }) == both{false, true});
}
