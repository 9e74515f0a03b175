#pragma once
/// \file
/// A log line to stderr that repeats (an accept loop out of fds, stalled TLS handshakes) at most once
/// per interval, with the count of the lines held back in between.

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

#include "trio/clock.hpp"

namespace trio::detail {

/// The first line is written at once; the next ones within `interval` of the last written one are
/// only counted, and the next one written after that says how many were held back. flush() reports
/// a count still held (when its owner stops), so nothing is lost, only summarised. Not flushed when
/// the condition clears: a condition that flaps would then write a line per flap.
class log_throttle {
 public:
  explicit log_throttle(duration interval) noexcept : interval_(interval) {}

  /// Writes "<line>[ (N more like it since the last report)]\n", or counts it.
  void log(time_point now, std::string_view line) {
    if (written_ && now < next_) {
      ++held_;
      return;
    }
    std::string out(line);
    if (held_ > 0) out += " (" + std::to_string(held_) + " more like it since the last report)";
    out += '\n';
    std::fputs(out.c_str(), stderr);
    written_ = true;
    held_ = 0;
    next_ = now + interval_;
  }

  /// If lines are held back, writes "<prefix>: N more like it since the last report, <tail>\n".
  void flush(std::string_view prefix, std::string_view tail) {
    if (held_ == 0) return;
    std::string out(prefix);
    out += ": " + std::to_string(held_) + " more like it since the last report, ";
    out += tail;
    out += '\n';
    std::fputs(out.c_str(), stderr);
    held_ = 0;
  }

  std::size_t held() const noexcept { return held_; }

 private:
  duration interval_;
  time_point next_{};
  std::size_t held_ = 0;
  bool written_ = false;
};

}  // namespace trio::detail
