// A test that deadlocks on purpose: ctest expects it to fail within a second, its message naming what
// the task waits on (TRIO_TEST_CASE sets run_options::fail_on_deadlock).

#include <trio/testing/catch2.hpp>
#include <trio/trio.hpp>

TRIO_TEST_CASE("a test that waits on an event nobody sets", "[deadlock]") {
  trio::event never_set;
  co_await never_set.wait();
}
