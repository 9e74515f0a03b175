#include <trio/nursery.hpp>  // first: the header compiles on its own

#include <stdexcept>

#include "support/helpers.hpp"

namespace {

trio::task<> sleep_started_sleep(int s, trio::task_status<int> status = {}) {
  co_await trio::sleep(std::chrono::seconds(s));
  status.started(s);
  co_await trio::sleep(std::chrono::seconds(s));
}

struct key_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace

TRIO_TEST_CASE("START-01 start returns the started() value / the task moves into the nursery", "[start]") {
  std::vector<std::string> rec;
  for (int s : {1, 2}) {
    const double t0 = test::now_s();
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      int v = co_await n.start(sleep_started_sleep, s);
      CHECK(v == s);
      CHECK(test::now_s() - t0 == s);
      CHECK(n.child_count() == 1);
    });
    CHECK(test::now_s() - t0 == 2 * s);
  }
  // Called directly, the ignored status makes started() a no-op.
  const double t0 = test::now_s();
  co_await sleep_started_sleep(3);
  CHECK(test::now_s() - t0 == 6.0);
}

TRIO_TEST_CASE("START-01 a task_status function given to start_soon gets an ignored status", "[start]") {
  const double t0 = test::now_s();
  co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
    n.start_soon(sleep_started_sleep, 2);
    co_return;
  });
  CHECK(test::now_s() - t0 == 4.0);
}

TRIO_TEST_CASE("START-02 start error cases", "[start]") {
  co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
    // started() twice: the second call raises in the child (which already lives in n)
    co_await n.start([](trio::task_status<> st) -> trio::task<> {
      st.started();
      CHECK_THROWS_WITH(st.started(), Catch::Contains("twice"));
      co_return;
    });
    // An exception before started() comes out of start unwrapped; the nursery is not cancelled.
    CHECK_THROWS_AS(co_await n.start([](trio::task_status<>) -> trio::task<> {
      co_await trio::checkpoint();
      throw key_error("before started");
    }),
                    key_error);
    CHECK_FALSE(n.cancel_scope().cancel_called());
    // Returning without started()
    CHECK_THROWS_WITH(co_await n.start([](trio::task_status<>) -> trio::task<> { co_return; }),
                      Catch::Contains("without calling task_status.started()"));
  });
}

TRIO_TEST_CASE("START-03 start() in a cancelled scope", "[start]") {
  co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
    {  // A: started then a checkpoint: the task is cancelled where it is, under start()
      trio::cancel_scope cs;
      co_await cs.enter([&]() -> trio::task<> {
        cs.cancel();
        co_await n.start<std::string>([](trio::task_status<std::string> st) -> trio::task<> {
          st.started("hi");
          co_await trio::checkpoint();
        });
        FAIL("start returned");
      });
      CHECK(cs.cancelled_caught());
    }
    {  // B: started then return: nothing checkpointed, so start returns the value (modern Trio)
      trio::cancel_scope cs;
      co_await cs.enter([&]() -> trio::task<> {
        cs.cancel();
        std::string v = co_await n.start<std::string>([](trio::task_status<std::string> st) -> trio::task<> {
          st.started("hi");
          co_return;
        });
        CHECK(v == "hi");
      });
      CHECK_FALSE(cs.cancelled_caught());
    }
    {  // C: started then raise: the error comes out bare
      trio::cancel_scope cs;
      CHECK_THROWS_AS(co_await cs.enter([&]() -> trio::task<> {
        cs.cancel();
        co_await n.start([](trio::task_status<> st) -> trio::task<> {
          st.started();
          throw key_error("C");
        });
      }),
                      key_error);
    }
    CHECK(n.child_count() == 0);
  });
}

TRIO_TEST_CASE("START-04 a pending start keeps the target nursery open", "[start]") {
  auto f = [](trio::task_status<> st) -> trio::task<> {
    co_await trio::sleep(2s);
    st.started();
    co_await trio::sleep(3s);
  };
  const double t0 = test::now_s();
  co_await trio::open_nursery([&](trio::nursery& n1) -> trio::task<> {
    co_await trio::open_nursery([&](trio::nursery& n2) -> trio::task<> {
      n1.start_soon([&]() -> trio::task<> { co_await n2.start(f); });
      co_await trio::sleep(1s);
      n1.start_soon([&]() -> trio::task<> { co_await n2.start(f); });
    });
    CHECK(test::now_s() - t0 == 6.0);  // 1 + 2 + 3: n2 had no children when its body ended
  });
}

TRIO_TEST_CASE("START-04 a start that fails before started() raises to its caller / the nursery closes", "[start]") {
  const double t0 = test::now_s();
  bool caught = false;
  co_await trio::open_nursery([&](trio::nursery& n1) -> trio::task<> {
    co_await trio::open_nursery([&](trio::nursery& n2) -> trio::task<> {
      n1.start_soon([&]() -> trio::task<> {
        try {
          co_await n2.start([](trio::task_status<>) -> trio::task<> {
            co_await trio::sleep(7s);
            throw key_error("late");
          });
        } catch (const key_error&) {
          caught = true;
        }
      });
      co_await trio::sleep(1s);  // the start is pending when the body ends
    });
    CHECK(test::now_s() - t0 == 7.0);
  });
  CHECK(caught);
}

TRIO_TEST_CASE("START-06 before started() the task lives in start's nursery, then in the target", "[start]") {
  co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
    co_await n.start([&n](trio::task_status<> st) -> trio::task<> {
      auto& me = trio::lowlevel::current_task();
      CHECK(me.parent_nursery() != &n);
      CHECK(me.eventual_parent_nursery() == &n);
      st.started();
      CHECK(me.parent_nursery() == &n);
      CHECK(me.eventual_parent_nursery() == nullptr);
      co_return;
    });
  });
}

TRIO_TEST_CASE("START a started task is cancelled with its new nursery", "[start]") {
  test::event_log rec;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    co_await n.start([&](trio::task_status<> st) -> trio::task<> {
      co_await trio::cancel_scope().enter([&]() -> trio::task<> {  // a nested scope moves along too
        st.started();
        try {
          co_await trio::sleep_forever();
        } catch (const trio::cancelled&) {
          rec("cancelled in new home");
          throw;
        }
      });
    });
    n.cancel_scope().cancel();
  });
  CHECK(rec.entries == std::vector<std::string>{"cancelled in new home"});
}
