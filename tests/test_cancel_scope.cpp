#include <trio/cancel_scope.hpp>  // first: the header compiles on its own

#include "support/helpers.hpp"

namespace {
using trio::cancel_scope;
}

TRIO_TEST_CASE("CS-01 cancellation is level-triggered / CS-02 cancel is idempotent", "[cancel]") {
  cancel_scope cs;
  int caught = 0;
  co_await cs.enter([&]() -> trio::task<> {
    cs.cancel();
    cs.cancel();
    for (int i = 0; i < 3; ++i) {
      try {
        co_await trio::sleep_forever();
      } catch (const trio::cancelled&) {
        ++caught;
      }
    }
  });
  CHECK(caught == 3);
  CHECK(cs.cancel_called());
  CHECK_FALSE(cs.cancelled_caught());  // nothing reached the scope's exit

  cancel_scope cs2;
  co_await cs2.enter([&]() -> trio::task<> {
    cs2.cancel();
    co_await trio::checkpoint();
  });
  CHECK(cs2.cancel_called());
  CHECK(cs2.cancelled_caught());
}

TRIO_TEST_CASE("CS-03 a scope cancelled before entry is cancelled once entered", "[cancel]") {
  test::event_log rec;
  cancel_scope cs;
  cs.cancel();
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await cs.enter([&]() -> trio::task<> {
        rec("entered");
        co_await trio::sleep_forever();
      });
      rec(cs.cancelled_caught() ? "caught" : "not caught");
    });
    co_return;
  });
  CHECK(rec.entries == std::vector<std::string>{"entered", "caught"});
}

TRIO_TEST_CASE("CS-10 cancel_called of an unentered scope follows its deadline and never resets", "[cancel]") {
  cancel_scope cs(trio::current_time() + 1s);
  CHECK_FALSE(cs.cancel_called());
  cs.set_deadline(cs.deadline() - 1s);
  CHECK(cs.cancel_called());
  cs.set_deadline(cs.deadline() + 1s);
  CHECK(cs.cancel_called());
  co_return;
}

TRIO_TEST_CASE("CS-04 a scope is single use", "[cancel]") {
  cancel_scope cs;
  co_await cs.enter([]() -> trio::task<> { co_return; });
  CHECK_THROWS_WITH(co_await cs.enter([]() -> trio::task<> { co_return; }), Catch::Contains("only be entered once"));
  cancel_scope active;
  co_await active.enter([&]() -> trio::task<> {
    CHECK_THROWS_AS(co_await active.enter([]() -> trio::task<> { co_return; }), std::logic_error);
  });
}

TRIO_TEST_CASE("CS-05 the outermost cancelled scope catches", "[cancel]") {
  cancel_scope s1, s2, s3;
  co_await s1.enter([&]() -> trio::task<> {
    co_await s2.enter([&]() -> trio::task<> {
      co_await s3.enter([&]() -> trio::task<> {
        s3.cancel();
        s2.cancel();
        co_await trio::sleep_forever();
      });
    });
  });
  CHECK(std::pair{s1.cancel_called(), s1.cancelled_caught()} == std::pair{false, false});
  CHECK(std::pair{s2.cancel_called(), s2.cancelled_caught()} == std::pair{true, true});
  CHECK(std::pair{s3.cancel_called(), s3.cancelled_caught()} == std::pair{true, false});
}

TRIO_TEST_CASE("CS-06 a shield blocks only cancellation from outside it", "[cancel]") {
  test::event_log rec;
  cancel_scope outer, inner;
  co_await outer.enter([&]() -> trio::task<> {
    co_await inner.enter([&]() -> trio::task<> {
      outer.cancel();
      try {
        co_await trio::checkpoint();
      } catch (const trio::cancelled&) {
        rec("unshielded cancelled");
      }
      inner.set_shield(true);
      co_await trio::checkpoint();
      CHECK(trio::current_effective_deadline() == trio::no_deadline);
      rec("shielded ok");
      cancel_scope x;
      co_await x.enter([&]() -> trio::task<> {
        x.cancel();
        try {
          co_await trio::checkpoint();
        } catch (const trio::cancelled&) {
          rec("inside shield cancelled");
          throw;
        }
      });
      inner.set_shield(false);
      try {
        co_await trio::checkpoint();
      } catch (const trio::cancelled&) {
        rec("unshield again cancelled");
      }
      inner.set_shield(true);
      inner.cancel();
      co_await trio::checkpoint();
    });
  });
  CHECK(rec.entries == std::vector<std::string>{"unshielded cancelled", "shielded ok", "inside shield cancelled",
                                                "unshield again cancelled"});
  CHECK(inner.cancelled_caught());
  CHECK_FALSE(outer.cancelled_caught());
}

TRIO_TEST_CASE("CS-07 an undelivered cancellation disappears", "[cancel]") {
  cancel_scope cs;
  co_await cs.enter([&]() -> trio::task<> {
    cs.cancel();
    co_await trio::cancel_shielded_checkpoint();
  });
  co_await trio::checkpoint();
  CHECK(cs.cancel_called());
  CHECK_FALSE(cs.cancelled_caught());
}

TRIO_TEST_CASE("CS-08 shielding while a cancellation propagates", "[cancel]") {
  cancel_scope outer, inner;
  co_await outer.enter([&]() -> trio::task<> {
    co_await inner.enter([&]() -> trio::task<> {
      outer.cancel();
      try {
        co_await trio::checkpoint();
      } catch (const trio::cancelled&) {
        inner.set_shield(true);
        throw;
      }
    });
  });
  CHECK(outer.cancelled_caught());
  CHECK_FALSE(inner.cancelled_caught());
}

TRIO_TEST_CASE("CS-09 unshielding wakes a sleeping task at once", "[cancel]") {
  test::event_log rec;
  cancel_scope outer;
  co_await outer.enter([&]() -> trio::task<> {
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.cancel_scope().set_shield(true);
      n.start_soon([&]() -> trio::task<> {
        rec("sleeping");
        try {
          co_await trio::sleep_forever();
        } catch (const trio::cancelled&) {
          rec("cancelled");
          throw;
        }
      });
      outer.cancel();
      co_await trio::testing::wait_all_tasks_blocked();
      rec("--unshield--");
      n.cancel_scope().set_shield(false);
    });
  });
  CHECK(rec.entries == std::vector<std::string>{"sleeping", "--unshield--", "cancelled"});
}

TRIO_TEST_CASE("CS-13 an abort that fails: the cancel does not wake / a manual reschedule does", "[cancel][lowlevel]") {
  test::event_log rec;
  cancel_scope scope;
  trio::lowlevel::task_info* child = nullptr;
  int woke_with = 0;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await scope.enter([&]() -> trio::task<> {
        child = &trio::lowlevel::current_task();
        rec("sleep");
        co_await trio::lowlevel::wait_task_rescheduled([]() noexcept { return trio::lowlevel::abort_result::failed; });
        rec("woke " + std::to_string(woke_with));
        try {
          co_await trio::checkpoint_if_cancelled();
        } catch (const trio::cancelled&) {
          rec("cancelled");
          throw;
        }
      });
    });
    co_await trio::testing::wait_all_tasks_blocked();
    scope.cancel();
    co_await trio::testing::wait_all_tasks_blocked();
    rec("still asleep");
    woke_with = 1;
    trio::lowlevel::reschedule(*child);
  });
  CHECK(rec.entries == std::vector<std::string>{"sleep", "still asleep", "woke 1", "cancelled"});
}

TRIO_TEST_CASE("CS cancelled carries its reason and source", "[cancel]") {
  cancel_scope cs;
  co_await cs.enter([&]() -> trio::task<> {
    cs.cancel("user pressed stop");
    try {
      co_await trio::checkpoint();
    } catch (const trio::cancelled& c) {
      CHECK(c.reason() == "user pressed stop");
      CHECK(c.source() == trio::cancel_source::explicit_call);
      CHECK(c.message() == "cancelled due to explicit with reason 'user pressed stop'");
      throw;
    }
  });
  cancel_scope dl(trio::current_time() + 1s);
  co_await dl.enter([&]() -> trio::task<> {
    try {
      co_await trio::sleep_forever();
    } catch (const trio::cancelled& c) {
      CHECK(c.source() == trio::cancel_source::deadline);
      throw;
    }
  });
  CHECK(dl.cancelled_caught());
}

TRIO_TEST_CASE("CS trio::cancelled is not a std::exception", "[cancel]") {
  STATIC_REQUIRE_FALSE(std::is_base_of_v<std::exception, trio::cancelled>);
  cancel_scope cs;
  bool swallowed = false;
  co_await cs.enter([&]() -> trio::task<> {
    cs.cancel();
    try {
      co_await trio::checkpoint();
    } catch (const std::exception&) {
      swallowed = true;
    }
  });
  CHECK_FALSE(swallowed);
  CHECK(cs.cancelled_caught());
}

TRIO_TEST_CASE("CS enter returns the body's value, or nullopt when the scope caught", "[cancel]") {
  cancel_scope a;
  std::optional<int> v = co_await a.enter([]() -> trio::task<int> { co_return 5; });
  CHECK(v == 5);
  cancel_scope b;
  std::optional<int> w = co_await b.enter([&]() -> trio::task<int> {
    b.cancel();
    co_await trio::checkpoint();
    co_return 6;
  });
  CHECK_FALSE(w.has_value());
}
