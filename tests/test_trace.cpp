#include <trio/trace.hpp>  // first: the header compiles on its own

#include <fstream>
#include <sstream>

#include "support/helpers.hpp"

// trio::trace_recorder: a flight recorder of the last events, written as Chrome trace-event JSON.

namespace {
trio::task<> worker() {
  for (int i = 0; i < 3; ++i) co_await trio::sleep(std::chrono::milliseconds(1));
}
}  // namespace

TEST_CASE("trace_recorder: spawns, steps and exits in order, as JSON Perfetto opens", "[trace]") {
  trio::trace_recorder rec;
  trio::run_options o;
  o.handle_sigint = false;
  o.instruments.push_back(&rec);
  trio::run(o, []() -> trio::task<> {
    co_await trio::open_nursery([](trio::nursery& n) -> trio::task<> {
      n.start_soon(worker);
      co_return;
    });
  });
  std::ostringstream out;
  rec.write_chrome_trace(out);
  const std::string json = out.str();
  INFO(json);
  CHECK(rec.dropped() == 0);
  // The worker's spawn, then its steps, then its exit.
  const std::size_t spawn = json.find("\"spawn task #");
  const std::size_t step = json.find("\"ph\":\"X\",\"pid\":1,\"tid\":1", spawn);
  const std::size_t exit = json.find("\"exit task #");
  CHECK(spawn != std::string::npos);
  CHECK(step != std::string::npos);
  CHECK(exit != std::string::npos);
  CHECK(spawn < step);
  CHECK(step < exit);
  CHECK_THAT(json, Catch::Contains("\"io_uring wait\""));
  // A strict parse; the steps follow each other without overlap (an instant event is stamped when it
  // happens, inside the step that is written after it).
  {
    std::ofstream f("trace_recorder_sample.json");
    f << json;
  }
  const char* check =
      "python3 -c \"import json,sys; d=json.load(open('trace_recorder_sample.json')); "
      "ev=[e for e in d['traceEvents'] if e['ph']!='M']; "
      "steps=[e for e in ev if e['ph']=='X' and e['tid']==1]; "
      "assert len(steps)>=4, len(steps); "
      "assert all(e['dur']>=0 for e in ev if e['ph']=='X'); "
      "assert all(a['ts']+a['dur']<=b['ts']+0.001 for a,b in zip(steps,steps[1:])), 'steps overlap'\"";
  CHECK(std::system(check) == 0);
}

TEST_CASE("trace_recorder: a full ring keeps the newest events and counts the dropped ones", "[trace]") {
  trio::trace_recorder rec(16);
  trio::run_options o;
  o.handle_sigint = false;
  o.instruments.push_back(&rec);
  trio::run(o, []() -> trio::task<> {
    for (int i = 0; i < 100; ++i) co_await trio::checkpoint();
  });
  CHECK(rec.size() == 16);
  CHECK(rec.dropped() > 0);
  std::ostringstream out;
  rec.write_chrome_trace(out);
  const std::string json = out.str();
  CHECK_THAT(json, Catch::Contains("\"exit task #"));         // the newest events are kept: the run's end
  CHECK(json.find("\"spawn task #1 ") == std::string::npos);  // the oldest are gone
  {
    std::ofstream f("trace_recorder_ring.json");
    f << json;
  }
  CHECK(std::system("python3 -m json.tool trace_recorder_ring.json >/dev/null") == 0);
}

TEST_CASE("trace_recorder: write_on_error writes the trace when an exception escapes run, only then", "[trace]") {
  const std::string path = "trace_recorder_on_error.json";
  std::remove(path.c_str());
  trio::trace_recorder rec;
  rec.write_on_error(path);
  trio::run_options o;
  o.handle_sigint = false;
  o.instruments.push_back(&rec);
  trio::run(o, []() -> trio::task<> { co_await trio::checkpoint(); });
  CHECK_FALSE(std::ifstream(path).good());  // a run that ends well leaves no file
  {
    test::stderr_capture err;
    CHECK_THROWS_AS(trio::run(o,
                              []() -> trio::task<> {
                                co_await trio::checkpoint();
                                throw std::runtime_error("boom");
                              }),
                    std::runtime_error);
    CHECK_THAT(err.text(), Catch::Contains("the run failed; its last"));
  }
  REQUIRE(std::ifstream(path).good());
  CHECK(std::system(("python3 -m json.tool " + path + " >/dev/null").c_str()) == 0);
}
