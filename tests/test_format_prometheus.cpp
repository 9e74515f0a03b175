#include <trio/format_prometheus.hpp>  // first: the header compiles on its own

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include "support/helpers.hpp"

// lowlevel::format_prometheus: the Prometheus text exposition format, checked line by line here and,
// where Debian's python3-prometheus-client is installed, by its parser.

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

trio::lowlevel::run_statistics sample_statistics() {
  trio::lowlevel::run_statistics s;
  s.tasks_living = 3;
  s.loop_turns = 10;
  s.task_steps = 7;
  s.io_uring_enters = 4;
  s.sqes_submitted = 5;
  s.cqes_reaped = 5;
  s.cancellations_delivered = 1;
  s.busy_time = std::chrono::microseconds(1500);
  s.longest_step = std::chrono::microseconds(1000);
  s.longest_step_task = "task #2 a \"quoted\" name\\ with\nnewline";
  s.step_time_histogram[3] = 4;   // [8, 16) ns
  s.step_time_histogram[19] = 2;  // ~0.5-1 ms
  s.step_time_histogram[39] = 1;  // the last bucket: only in +Inf
  return s;
}

}  // namespace

TEST_CASE("format_prometheus: every line is a comment or a sample of the text format", "[lowlevel][metrics]") {
  const std::string text = trio::lowlevel::format_prometheus(sample_statistics());
  INFO(text);
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');
  const std::regex help(R"(# HELP trio_[a-z_]+ [^\n]+)");
  const std::regex type(R"(# TYPE trio_[a-z_]+ (counter|gauge|histogram))");
  const std::regex sample(R"(trio_[a-z_]+(\{[a-z]+="([^"\\]|\\.)*"\})? ([-+]?[0-9.e+-]+|\+Inf))");
  for (const std::string& line : lines_of(text)) {
    INFO(line);
    CHECK((std::regex_match(line, help) || std::regex_match(line, type) || std::regex_match(line, sample)));
  }
  CHECK_THAT(text, Catch::Contains("trio_task_steps_total 7\n"));
  CHECK_THAT(text, Catch::Contains("trio_tasks_living 3\n"));
  CHECK_THAT(text, Catch::Contains("trio_time_to_next_deadline_seconds +Inf\n"));
  CHECK_THAT(text,
             Catch::Contains(R"(trio_longest_step_seconds{task="task #2 a \"quoted\" name\\ with\nnewline"} 0.001)"));
}

TEST_CASE("format_prometheus: the histogram's buckets are cumulative and end in +Inf, _sum and _count",
          "[lowlevel][metrics]") {
  const std::string text = trio::lowlevel::format_prometheus(sample_statistics(), "app_");
  const std::regex bucket(R"re(app_step_duration_seconds_bucket\{le="([^"]+)"\} ([0-9]+))re");
  double last_le = 0;
  std::uint64_t last_count = 0;
  int buckets = 0;
  std::uint64_t inf = 0;
  for (const std::string& line : lines_of(text)) {
    std::smatch m;
    if (!std::regex_match(line, m, bucket)) continue;
    ++buckets;
    const std::uint64_t count = std::stoull(m[2]);
    CHECK(count >= last_count);
    last_count = count;
    if (m[1] == "+Inf") {
      inf = count;
      continue;
    }
    const double le = std::stod(m[1]);
    CHECK(le > last_le);
    last_le = le;
  }
  CHECK(buckets == 40);  // 39 finite bounds and +Inf
  CHECK(inf == 7);
  CHECK_THAT(text, Catch::Contains("app_step_duration_seconds_count 7\n"));
  CHECK_THAT(text, Catch::Contains("app_step_duration_seconds_sum 0.0015\n"));
  CHECK_THAT(text, Catch::Contains("app_step_duration_seconds_bucket{le=\"1.6e-08\"} 4\n"));  // 2^4 ns
  CHECK_THAT(text, Catch::Contains("# TYPE app_step_duration_seconds histogram\n"));
}

TRIO_TEST_CASE("format_prometheus: a live run's counters move", "[lowlevel][metrics]") {
  const auto before = trio::lowlevel::current_statistics();
  for (int i = 0; i < 10; ++i) co_await trio::checkpoint();
  const auto after = trio::lowlevel::current_statistics();
  CHECK(after.task_steps >= before.task_steps + 10);
  CHECK(after.loop_turns >= before.loop_turns + 10);
  const std::string text = trio::lowlevel::format_prometheus(after);
  CHECK_THAT(text, Catch::Contains("trio_task_steps_total " + std::to_string(after.task_steps) + "\n"));
}

TEST_CASE("format_prometheus: Python's prometheus_client parses it", "[lowlevel][metrics]") {
  // Debian's package installs into the system interpreter; a python3 earlier on PATH (pyenv, a venv)
  // may not see it.
  std::string python;
  for (const char* candidate : {"/usr/bin/python3", "python3"})
    if (std::system((std::string(candidate) + " -c 'import prometheus_client' 2>/dev/null").c_str()) == 0) {
      python = candidate;
      break;
    }
  if (python.empty()) {
    WARN("python3-prometheus-client is not installed: the parser check did not run");
    return;
  }
  const std::string path = "format_prometheus_sample.txt";
  {
    std::ofstream f(path);
    f << trio::lowlevel::format_prometheus(sample_statistics());
  }
  const std::string script =
      "import sys\n"
      "from prometheus_client.parser import text_string_to_metric_families\n"
      "fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}\n"
      "assert fams['trio_task_steps'].type == 'counter', fams['trio_task_steps'].type\n"
      "assert fams['trio_task_steps'].samples[0].value == 7\n"
      "h = fams['trio_step_duration_seconds']\n"
      "assert h.type == 'histogram'\n"
      "count = [s for s in h.samples if s.name.endswith('_count')][0].value\n"
      "inf = [s for s in h.samples if s.labels.get('le') == '+Inf'][0].value\n"
      "assert count == inf == 7, (count, inf)\n"
      "task = fams['trio_longest_step_seconds'].samples[0].labels['task']\n"
      "assert task == 'task #2 a \"quoted\" name\\\\ with\\nnewline', repr(task)\n"
      "print('parsed', len(fams), 'families')\n";
  {
    std::ofstream f("format_prometheus_check.py");
    f << script;
  }
  CHECK(std::system((python + " format_prometheus_check.py " + path).c_str()) == 0);
}
