#include <trio/nursery.hpp>  // first: the header compiles on its own

#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "support/helpers.hpp"

namespace {

struct key_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct value_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The members of a group of either kind, by what they are.
std::vector<std::string> kinds(const trio::base_exception_group& g) {
  std::vector<std::string> out;
  for (const auto& e : g.exceptions()) {
    try {
      std::rethrow_exception(e);
    } catch (const key_error&) {
      out.push_back("key");
    } catch (const value_error&) {
      out.push_back("value");
    } catch (const trio::cancelled&) {
      out.push_back("cancelled");
    } catch (const trio::exception_group&) {
      out.push_back("group");
    } catch (const trio::base_exception_group&) {
      out.push_back("base group");
    } catch (const std::runtime_error&) {
      out.push_back("runtime");
    }
  }
  return out;
}

}  // namespace

TRIO_TEST_CASE("NUR-01 the nursery waits for its children / the body finishes first", "[nursery]") {
  test::event_log rec;
  const double t0 = test::now_s();
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.start_soon([&]() -> trio::task<> {
      co_await trio::sleep(3s);
      rec("3");
    });
    n.start_soon([&]() -> trio::task<> {
      co_await trio::sleep(1s);
      rec("1");
    });
    rec("body done");
    co_return;
  });
  CHECK(rec.entries == std::vector<std::string>{"body done", "1", "3"});
  CHECK(test::now_s() - t0 == 3.0);
}

TRIO_TEST_CASE("NUR-02 a child's crash cancels its siblings and comes out unchanged", "[nursery]") {
  test::event_log rec;
  static std::exception_ptr thrown;
  thrown = std::make_exception_ptr(value_error("argh"));
  try {
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> {
        try {
          for (;;) co_await trio::checkpoint();
        } catch (const trio::cancelled&) {
          rec("cancelled");
          throw;
        }
      });
      n.start_soon([]() -> trio::task<> {
        co_await trio::checkpoint();
        std::rethrow_exception(thrown);
      });
      co_return;
    });
    FAIL("no exception");
  } catch (const value_error&) {
    CHECK(std::current_exception() == thrown);  // the same object: non-strict groups by default
    rec("value_error out");
  }
  CHECK(rec.entries == std::vector<std::string>{"cancelled", "value_error out"});  // never leaks the looper
}

TRIO_TEST_CASE("NUR-03 two crashing children make an exception_group of both", "[nursery][exc]") {
  try {
    co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
      n.start_soon([]() -> trio::task<> { throw key_error("k"); });
      n.start_soon([]() -> trio::task<> { throw value_error("v"); });
      co_return;
    });
    FAIL("no exception");
  } catch (const trio::exception_group& g) {
    auto k = kinds(g);
    std::sort(k.begin(), k.end());
    CHECK(k == std::vector<std::string>{"key", "value"});
    CHECK(g.contains<key_error>());
    CHECK(g.contains<value_error>());
    CHECK(g.contains<std::runtime_error>());
    CHECK_FALSE(g.contains<std::logic_error>());
  }
}

TRIO_TEST_CASE("NUR-03 a group of cancellations passes catch (const std::exception&) to its scope", "[nursery][exc]") {
  // A task with a nursery of two children, cancelled from an outer scope: the nursery raises a group of
  // two trio::cancelled, which (like Trio's BaseExceptionGroup) is not a std::exception.
  test::event_log rec;
  const double t0 = test::now_s();
  trio::cancel_scope outer;
  co_await trio::open_nursery([&](trio::nursery& top) -> trio::task<> {
    top.start_soon([&]() -> trio::task<> {
      co_await outer.enter([&]() -> trio::task<> {
        try {
          co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
            for (int i = 0; i < 2; ++i)
              n.start_soon([&]() -> trio::task<> {
                try {
                  co_await trio::sleep_forever();
                } catch (const trio::cancelled&) {
                  rec("child cancelled");
                  throw;
                }
              });
            co_return;
          });
        } catch (const std::exception& e) {
          rec(std::string("swallowed: ") + e.what());
        }
        rec("after the nursery");
      });
      rec("outer exited at " + std::to_string(test::now_s() - t0));
    });
    co_await trio::sleep(1s);
    outer.cancel();
  });
  CHECK(rec.entries == std::vector<std::string>{"child cancelled", "child cancelled", "outer exited at 1.000000"});
  CHECK(outer.cancelled_caught());
}

TRIO_TEST_CASE("NUR-03 a group of cancellations is a base_exception_group, caught directly", "[nursery][exc]") {
  test::event_log rec;
  const double t0 = test::now_s();
  trio::cancel_scope outer;
  co_await trio::open_nursery([&](trio::nursery& top) -> trio::task<> {
    top.start_soon([&]() -> trio::task<> {
      co_await outer.enter([&]() -> trio::task<> {
        try {
          co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
            for (int i = 0; i < 2; ++i) n.start_soon([]() -> trio::task<> { co_await trio::sleep_forever(); });
            co_return;
          });
        } catch (const std::exception&) {
          rec("swallowed");
        } catch (const trio::base_exception_group& g) {
          CHECK(kinds(g) == std::vector<std::string>{"cancelled", "cancelled"});
          CHECK(g.contains<trio::cancelled>());
          CHECK_FALSE(g.contains<std::exception>());
          CHECK(dynamic_cast<const trio::exception_group*>(&g) == nullptr);
          CHECK(dynamic_cast<const std::exception*>(&g) == nullptr);
          CHECK(g.message() ==
                "trio::base_exception_group of 2 exception(s): cancelled due to explicit with reason "
                "'cancel() called'; cancelled due to explicit with reason 'cancel() called'");
          CHECK(g.message() == g.what());
          rec("group of cancellations at " + std::to_string(test::now_s() - t0));
          throw;
        }
      });
      rec("outer exited");
    });
    co_await trio::sleep(1s);
    outer.cancel();
  });
  CHECK(rec.entries == std::vector<std::string>{"group of cancellations at 1.000000", "outer exited"});
  CHECK(outer.cancelled_caught());
}

TRIO_TEST_CASE("NUR-03 a group of cancelled and an error is a base_exception_group / stripped, the error remains",
               "[nursery][exc]") {
  for (bool strict : {false, true}) {
    test::event_log rec;
    const double t0 = test::now_s();
    trio::cancel_scope outer;
    try {
      co_await outer.enter([&]() -> trio::task<> {
        try {
          co_await trio::open_nursery(trio::nursery_options{.strict_exception_groups = strict},
                                      [&](trio::nursery& n) -> trio::task<> {
                                        n.start_soon([]() -> trio::task<> { co_await trio::sleep_forever(); });
                                        n.start_soon([]() -> trio::task<> {
                                          try {
                                            co_await trio::sleep_forever();
                                          } catch (const trio::cancelled&) {
                                            throw std::runtime_error("cleanup failed");
                                          }
                                        });
                                        co_await trio::sleep(1s);
                                        outer.cancel();
                                      });
        } catch (const std::exception& e) {
          rec(std::string("swallowed: ") + e.what());
        } catch (const trio::base_exception_group& g) {
          auto k = kinds(g);
          std::sort(k.begin(), k.end());
          CHECK(k == std::vector<std::string>{"cancelled", "runtime"});
          CHECK(g.contains<trio::cancelled>());
          CHECK(g.contains<std::runtime_error>());
          CHECK(dynamic_cast<const std::exception*>(&g) == nullptr);
          CHECK(g.collapsible() == !strict);
          rec("inner group at " + std::to_string(test::now_s() - t0));
          throw;
        }
      });
      FAIL("no exception");
    } catch (const trio::exception_group& g) {  // strict: the cancelled is gone, the group is a std::exception now
      CHECK(strict);
      CHECK(kinds(g) == std::vector<std::string>{"runtime"});
      CHECK(std::string(g.what()) == "trio::exception_group of 1 exception(s): cleanup failed");
      rec("exception_group out");
    } catch (const std::runtime_error& e) {  // loose: collapsed to the error itself
      CHECK_FALSE(strict);
      CHECK(std::string(e.what()) == "cleanup failed");
      rec("runtime_error out");
    }
    CHECK(rec.entries ==
          std::vector<std::string>{"inner group at 1.000000", strict ? "exception_group out" : "runtime_error out"});
    CHECK(outer.cancelled_caught());
  }
}

TEST_CASE("EXC-01 make_exception_group: exception_group when every member is a std::exception", "[exc]") {
  const auto cancelled = std::make_exception_ptr(trio::cancelled(trio::cancel_source::explicit_call, ""));
  const auto key = std::make_exception_ptr(key_error("k"));
  const auto value = std::make_exception_ptr(value_error("v"));
  auto type_of = [](std::exception_ptr e) -> std::string {
    try {
      std::rethrow_exception(e);
    } catch (const trio::exception_group&) {
      return "exception_group";
    } catch (const trio::base_exception_group&) {
      return "base_exception_group";
    } catch (...) {
      return "other";
    }
  };
  STATIC_REQUIRE(std::is_base_of_v<std::exception, trio::exception_group>);
  STATIC_REQUIRE(std::is_base_of_v<trio::base_exception_group, trio::exception_group>);
  STATIC_REQUIRE_FALSE(std::is_base_of_v<std::exception, trio::base_exception_group>);
  CHECK(type_of(trio::make_exception_group({key, value})) == "exception_group");
  CHECK(type_of(trio::make_exception_group({key, cancelled})) == "base_exception_group");
  CHECK(type_of(trio::make_exception_group({std::make_exception_ptr(trio::keyboard_interrupt())})) ==
        "base_exception_group");
  CHECK(type_of(trio::make_exception_group({std::make_exception_ptr(42)})) == "base_exception_group");
  const auto inner = trio::make_exception_group({key, value});  // a nested exception_group counts as a std::exception
  CHECK(type_of(trio::make_exception_group({inner, value})) == "exception_group");
  const auto inner_base = trio::make_exception_group({cancelled});
  CHECK(type_of(trio::make_exception_group({inner_base, value})) == "base_exception_group");
  try {
    std::rethrow_exception(trio::make_exception_group({value, inner_base}, true));
  } catch (const trio::base_exception_group& g) {
    CHECK(g.collapsible());
    CHECK(g.exceptions() == std::vector<std::exception_ptr>{value, inner_base});
    CHECK(g.contains<trio::cancelled>());  // searches a nested base_exception_group
    CHECK(g.contains<value_error>());
    CHECK_FALSE(g.contains<key_error>());
    CHECK(g.message() ==
          "trio::base_exception_group of 2 exception(s): v; trio::base_exception_group of 1 exception(s): "
          "cancelled due to explicit");
  }
  try {
    std::rethrow_exception(trio::make_exception_group({inner, value}));
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()) ==
          "trio::exception_group of 2 exception(s): trio::exception_group of 2 "
          "exception(s): k; v; v");
  }
}

TRIO_TEST_CASE("NUR-04 the body's and a child's exception are grouped, the body's first", "[nursery][exc]") {
  try {
    co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
      n.start_soon([]() -> trio::task<> { throw value_error("child"); });
      throw key_error("body");  // no checkpoint before it: the child has not run yet
      co_return;
    });
    FAIL("no exception");
  } catch (const trio::exception_group& g) {
    CHECK(kinds(g) == std::vector<std::string>{"key", "value"});  // arrival order
  }
}

TRIO_TEST_CASE("NUR-05 an exception in the body cancels the children and comes out", "[nursery]") {
  test::event_log rec;
  try {
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([&]() -> trio::task<> {
        try {
          co_await trio::sleep_forever();
        } catch (const trio::cancelled&) {
          rec("child cancelled");
          throw;
        }
      });
      co_await trio::testing::wait_all_tasks_blocked();
      throw key_error("body");
    });
  } catch (const key_error&) {
    rec("key_error out");
  }
  CHECK(rec.entries == std::vector<std::string>{"child cancelled", "key_error out"});
}

TRIO_TEST_CASE("NUR-06 a child's crash wakes a body blocked in sleep_forever", "[nursery]") {
  test::event_log rec;
  try {
    co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
      n.start_soon([]() -> trio::task<> { throw value_error("child"); });
      try {
        co_await trio::sleep_forever();
      } catch (const trio::cancelled&) {
        rec("body got cancelled");
        throw;
      }
    });
  } catch (const value_error&) {
    rec("value_error out");
  }
  CHECK(rec.entries == std::vector<std::string>{"body got cancelled", "value_error out"});
}

TEST_CASE("NUR-07 start_soon from a child while the parent waits succeeds / once closed it throws", "[nursery]") {
  // FIFO scheduling makes the interleaving exact: X runs after the nursery closed, before its parent resumed.
  test::event_log rec;
  test::run_mock(
      [&]() -> trio::task<> {
        trio::lowlevel::task_info* x = nullptr;
        trio::nursery* inner = nullptr;
        co_await trio::open_nursery([&](trio::nursery& outer) -> trio::task<> {
          outer.start_soon([&]() -> trio::task<> {
            x = &trio::lowlevel::current_task();
            co_await trio::lowlevel::wait_task_rescheduled(
                []() noexcept { return trio::lowlevel::abort_result::succeeded; });
            try {
              inner->start_soon([]() -> trio::task<> { co_return; });
            } catch (const std::logic_error& e) {
              rec(std::string("closed: ") + e.what());
            }
          });
          co_await trio::testing::wait_all_tasks_blocked();
          co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
            inner = &n;
            n.start_soon([&]() -> trio::task<> {
              co_await trio::checkpoint();
              // The parent already waits in the nursery's end: spawning is still allowed.
              inner->start_soon([&]() -> trio::task<> {
                rec("grandchild ran");
                trio::lowlevel::reschedule(*x);
                co_return;
              });
            });
            co_return;
          });
          rec("inner nursery exited");
        });
      },
      true, /*randomize=*/false);
  REQUIRE(rec.entries.size() == 3);
  CHECK(rec.entries[0] == "grandchild ran");
  CHECK_THAT(rec.entries[1], Catch::StartsWith("closed: ") && Catch::Contains("closed to new arrivals"));
  CHECK(rec.entries[2] == "inner nursery exited");
}

TRIO_TEST_CASE("NUR-08 a task spawned into a cancelled nursery runs until its first checkpoint", "[nursery]") {
  test::event_log rec;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    n.cancel_scope().cancel();
    n.start_soon([&]() -> trio::task<> {
      rec("started");
      try {
        co_await trio::sleep_forever();
      } catch (const trio::cancelled&) {
        rec("cancelled at first checkpoint");
        throw;
      }
    });
    co_return;
  });
  CHECK(rec.entries == std::vector<std::string>{"started", "cancelled at first checkpoint"});
}

TRIO_TEST_CASE("NUR-09 cancelling a nursery reaches the whole subtree and is absorbed", "[nursery]") {
  int leaves_cancelled = 0;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    auto worker = [&]() -> trio::task<> {
      co_await trio::open_nursery([&](trio::nursery& inner) -> trio::task<> {
        for (int i = 0; i < 2; ++i)
          inner.start_soon([&]() -> trio::task<> {
            try {
              co_await trio::sleep_forever();
            } catch (const trio::cancelled&) {
              ++leaves_cancelled;
              throw;
            }
          });
        co_return;
      });
    };
    n.start_soon(worker);
    n.start_soon(worker);
    co_await trio::testing::wait_all_tasks_blocked();
    n.cancel_scope().cancel();
  });
  CHECK(leaves_cancelled == 4);
}

TRIO_TEST_CASE("NUR-11 cancelled is stripped by the outermost cancelled scope / other errors survive (CS-12)",
               "[nursery][exc]") {
  trio::cancel_scope outer;
  bool inner_group_seen = false;
  try {
    co_await outer.enter([&]() -> trio::task<> {
      try {
        co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
          for (int i = 0; i < 2; ++i) n.start_soon([]() -> trio::task<> { co_await trio::sleep_forever(); });
          co_await trio::testing::wait_all_tasks_blocked();
          n.cancel_scope().cancel();
          co_await trio::shielded([]() -> trio::task<> { co_await trio::testing::wait_all_tasks_blocked(); });
          n.start_soon([]() -> trio::task<> { co_await trio::sleep_forever(); });
          outer.cancel();
          n.start_soon([]() -> trio::task<> { throw key_error("k"); });
        });
      } catch (const trio::base_exception_group& g) {  // it holds cancellations: not an exception_group
        CHECK(dynamic_cast<const trio::exception_group*>(&g) == nullptr);
        // Inside `outer` every member is still there: the nursery's own scope does not catch, because
        // `outer` is cancelled too (modern Trio: the nursery's end injects no cancelled of its own).
        auto k = kinds(g);
        CHECK(std::count(k.begin(), k.end(), "cancelled") == 3);
        CHECK(std::count(k.begin(), k.end(), "key") == 1);
        inner_group_seen = true;
        throw;
      }
    });
    FAIL("no exception");
  } catch (const key_error&) {
    // Loose group reduced to one member: collapsed to the KeyError itself.
  }
  CHECK(inner_group_seen);
  CHECK(outer.cancelled_caught());
}

TRIO_TEST_CASE("CS-12 a cancelled scope leaves a group without cancelled untouched", "[cancel][exc]") {
  trio::cancel_scope cs;
  std::exception_ptr inner;
  try {
    co_await cs.enter([&]() -> trio::task<> {
      cs.cancel();
      try {
        co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
          n.start_soon([]() -> trio::task<> { throw key_error("a"); });
          n.start_soon([]() -> trio::task<> { throw value_error("b"); });
          co_return;
        });
      } catch (const trio::exception_group&) {
        inner = std::current_exception();
        throw;
      }
    });
    FAIL("no exception");
  } catch (const trio::exception_group&) {
    CHECK(std::current_exception() == inner);  // re-raised unchanged
  }
  CHECK_FALSE(cs.cancelled_caught());
}

TRIO_TEST_CASE("NUR-12 strict_exception_groups per nursery wraps even one error", "[nursery][exc]") {
  try {
    co_await trio::open_nursery(trio::nursery_options{.strict_exception_groups = true},
                                [](trio::nursery&) -> trio::task<> { throw std::runtime_error("foo"); });
    FAIL("no exception");
  } catch (const trio::exception_group& g) {
    REQUIRE(g.exceptions().size() == 1);
    CHECK(kinds(g) == std::vector<std::string>{"runtime"});
  }
}

TEST_CASE("NUR-12 strict_exception_groups per run / the nursery's own setting wins", "[nursery][exc]") {
  trio::run_options o;
  o.strict_exception_groups = true;
  o.handle_sigint = false;
  CHECK_THROWS_AS(
      trio::run(o,
                []() -> trio::task<> {
                  co_await trio::open_nursery([](trio::nursery&) -> trio::task<> { throw std::runtime_error("foo"); });
                }),
      trio::exception_group);
  CHECK_THROWS_AS(trio::run(o,
                            []() -> trio::task<> {
                              co_await trio::open_nursery(
                                  trio::nursery_options{.strict_exception_groups = false},
                                  [](trio::nursery&) -> trio::task<> { throw std::runtime_error("foo"); });
                            }),
                  std::runtime_error);
}

TRIO_TEST_CASE("NUR-13 loose groups collapse after cancelled is stripped / strict ones do not", "[nursery][exc]") {
  for (bool strict : {false, true}) {
    try {
      co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
        n.start_soon([]() -> trio::task<> { co_await trio::sleep_forever(); });
        n.start_soon([]() -> trio::task<> {
          co_await trio::testing::wait_all_tasks_blocked();
          throw std::runtime_error("outer");
        });
        co_await trio::open_nursery(trio::nursery_options{.strict_exception_groups = strict},
                                    [&](trio::nursery& n2) -> trio::task<> {
                                      n2.start_soon([]() -> trio::task<> { co_await trio::sleep_forever(); });
                                      n2.start_soon([]() -> trio::task<> {
                                        co_await trio::testing::wait_all_tasks_blocked();
                                        throw std::runtime_error("inner");
                                      });
                                      co_return;
                                    });
      });
      FAIL("no exception");
    } catch (const trio::exception_group& g) {
      auto k = kinds(g);
      std::sort(k.begin(), k.end());
      CHECK(k ==
            (strict ? std::vector<std::string>{"group", "runtime"} : std::vector<std::string>{"runtime", "runtime"}));
    }
  }
}

TRIO_TEST_CASE("NUR start_soon copies fn and args into the child / std::ref passes a reference", "[nursery]") {
  int counter = 0;
  co_await trio::open_nursery([&](trio::nursery& n) -> trio::task<> {
    {
      std::string temp = "copied";
      auto lambda = [s = std::string("captured")](std::string arg, int& c) -> trio::task<> {
        co_await trio::sleep(1s);
        CHECK(s == "captured");
        CHECK(arg == "copied");
        ++c;
      };
      n.start_soon(lambda, temp, std::ref(counter));
      n.start_soon(std::move(lambda), std::move(temp), std::ref(counter));
    }  // the temporaries are gone; the children still have their copies
    n.start_soon(
        [](std::unique_ptr<int> p) -> trio::task<> {  // move-only arguments
          CHECK(*p == 3);
          co_return;
        },
        std::make_unique<int>(3));
    CHECK(n.child_count() == 3);
    co_return;
  });
  CHECK(counter == 2);
}

TRIO_TEST_CASE("NUR open_nursery returns the body's value", "[nursery]") {
  int v = co_await trio::open_nursery([](trio::nursery& n) -> trio::task<int> {
    n.start_soon([]() -> trio::task<> { co_await trio::sleep(1s); });
    co_return 7;
  });
  CHECK(v == 7);
}

TRIO_TEST_CASE("NUR-03 members of a group keep their identity", "[exc]") {
  static std::exception_ptr a, b;
  a = std::make_exception_ptr(key_error("a"));
  b = std::make_exception_ptr(value_error("b"));
  try {
    co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
      n.start_soon([]() -> trio::task<> { std::rethrow_exception(a); });
      n.start_soon([]() -> trio::task<> { std::rethrow_exception(b); });
      co_return;
    });
  } catch (const trio::exception_group& g) {
    REQUIRE(g.exceptions().size() == 2);
    CHECK(((g.exceptions()[0] == a && g.exceptions()[1] == b) || (g.exceptions()[0] == b && g.exceptions()[1] == a)));
    CHECK_THAT(g.what(), Catch::Contains("2 exception(s)"));
  }
}

namespace {
trio::task<> nested_failing_nursery() {  // no try/catch here: the error passes straight through
  co_await trio::open_nursery([](trio::nursery&) -> trio::task<> {
    co_await trio::checkpoint();
    throw value_error("deep");
  });
}
}  // namespace

TRIO_TEST_CASE("NUR an error from a nested nursery propagates through plain coroutines intact", "[nursery][exc]") {
  // Regression: g++ 12 released an exception one reference too early when it was moved into a
  // co_await temporary; ASan caught the use after free.
  for (int i = 0; i < 3; ++i) {
    try {
      co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
        n.start_soon(nested_failing_nursery);
        co_return;
      });
      FAIL("no exception");
    } catch (const value_error& e) {
      CHECK(std::string(e.what()) == "deep");
    }
  }
}

TRIO_TEST_CASE("NUR a body that throws before its first suspension", "[nursery][exc]") {
  auto throws_at_call = [](trio::nursery&) -> trio::task<> { throw key_error("at call"); };  // not a coroutine
  CHECK_THROWS_AS(co_await trio::open_nursery(throws_at_call), key_error);
  CHECK(trio::lowlevel::current_task().child_nurseries().empty());
}

TRIO_TEST_CASE("NUR a nursery body that owns move-only captures (named, passed by name)", "[nursery]") {
  auto owned = std::make_unique<int>(5);
  auto text = std::string(100, 'x');  // long enough to live on the heap
  int seen = 0;
  auto body = [&seen, p = std::move(owned), s = std::move(text)](trio::nursery& n) -> trio::task<> {
    n.start_soon([&seen, &p, &s]() -> trio::task<> {
      co_await trio::sleep(1s);
      seen = *p + static_cast<int>(s.size());
    });
    co_return;
  };
  co_await trio::open_nursery(body);
  CHECK(seen == 105);
}

TRIO_TEST_CASE("NUR a named nursery body is used in place, not copied", "[nursery]") {
  int calls = 0;
  auto body = [&calls, runs = 0](trio::nursery&) mutable -> trio::task<> {
    ++runs;
    calls = runs;
    co_return;
  };
  co_await trio::open_nursery(body);
  co_await trio::open_nursery(body);
  CHECK(calls == 2);  // the second call saw the first one's change to the lambda's own state
}
