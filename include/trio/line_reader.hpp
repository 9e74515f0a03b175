#pragma once
/// \file
/// trio::line_reader: lines from any receive stream, with a bound on a line's length.
///
///     trio::line_reader lines(stream);
///     while (auto line = co_await lines.read_line()) handle(*line);   // nullopt at end of stream
///
/// read_text_line() also says whether the line ended with "\n" (trio::text_line).

#include <cstddef>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "trio/checkpoint.hpp"
#include "trio/stream.hpp"
#include "trio/task.hpp"

namespace trio {

/// A line as line_reader::read_text_line returns it: its text, and whether a "\n" ended it.
struct text_line {
  /// Without its "\n" or "\r\n". Unterminated: the bytes after the last "\n", as received.
  std::string text;
  /// False only for the last line of a stream that ended without a "\n": a writer killed in the
  /// middle of a line, say. A program that passes lines on (a `tail -f`) must not take it as a line.
  bool terminated = true;

  /// Equal when the text and `terminated` are.
  bool operator==(const text_line&) const = default;
};

/// Reads lines from a receive stream it refers to (the stream must outlive it; sending on the same
/// stream from another task is fine). A line is returned without its "\n" or "\r\n"; the last line
/// of a stream that does not end in "\n" is returned too. A line longer than max_line_length throws
/// std::length_error: memory stays bounded whatever the peer sends.
template <receive_stream Stream>
class line_reader {
 public:
  /// A reader of `stream`. `max_line_length`: the longest line accepted, in bytes before its "\n"
  /// (default 64 KiB); `read_size`: the bytes asked of each receive_some (default 16 KiB). Either 0:
  /// std::invalid_argument.
  explicit line_reader(Stream& stream, std::size_t max_line_length = 65536, std::size_t read_size = 16384)
      : stream_(&stream), max_(max_line_length), read_size_(read_size) {
    if (max_line_length == 0) throw std::invalid_argument("trio::line_reader: max_line_length must be at least 1");
    if (read_size == 0) throw std::invalid_argument("trio::line_reader: read_size must be at least 1");
  }

  /// The next line, or nullopt at the end of the stream. Always a checkpoint: with a line buffered
  /// already it yields once (which also keeps a loop over buffered lines from nesting resumptions on
  /// the stack in builds without tail calls).
  /// The trap: the last line of a stream that does not end in "\n" comes out like any other; use
  /// read_text_line() to tell a line cut short from a whole one.
  task<std::optional<std::string>> read_line() { return read_line_impl<false>(); }

  /// Like read_line(), and says whether the line ended with "\n" (text_line::terminated):
  ///
  ///     while (auto line = co_await lines.read_text_line())
  ///       if (line->terminated) print(line->text);   // a cut-short last line is not printed as a line
  task<std::optional<text_line>> read_text_line() { return read_line_impl<true>(); }

  /// Bytes received but not returned as a line yet.
  std::string_view buffered() const noexcept { return {buf_.data() + start_, end_ - start_}; }
  /// The stream it reads from. Reading it directly skips what buffered() holds.
  Stream& stream() noexcept { return *stream_; }

 private:
  template <bool Full>
  using line_t = std::conditional_t<Full, text_line, std::string>;

  template <bool Full>
  task<std::optional<line_t<Full>>> read_line_impl() {
    if (end_ > start_ || eof_) co_await checkpoint();
    for (;;) {
      const std::string_view pending(buf_.data() + start_, end_ - start_);
      const std::size_t nl = pending.find('\n', scanned_);
      if (nl != std::string_view::npos) {
        std::size_t len = nl;
        if (len > max_) throw_too_long();
        if (len > 0 && pending[len - 1] == '\r') --len;
        std::string line(pending.substr(0, len));
        start_ += nl + 1;
        scanned_ = 0;
        if constexpr (Full)
          co_return text_line{std::move(line), true};
        else
          co_return line;
      }
      scanned_ = pending.size();
      if (pending.size() > max_) throw_too_long();
      if (eof_) {
        if (pending.empty()) co_return std::nullopt;
        std::string line(pending);
        start_ = end_;
        scanned_ = 0;
        if constexpr (Full) {
          co_return text_line{std::move(line), false};
        } else {
          if (!line.empty() && line.back() == '\r') line.pop_back();
          co_return line;
        }
      }
      make_room();
      const std::size_t n =
          co_await stream_->receive_some(std::as_writable_bytes(std::span(buf_.data() + end_, buf_.size() - end_)));
      if (n == 0) eof_ = true;
      end_ += n;
    }
  }

  void make_room() {
    if (start_ > 0 && (start_ == end_ || start_ >= buf_.size() / 2)) {  // move the partial line to the front
      buf_.erase(0, start_);
      end_ -= start_;
      start_ = 0;
      buf_.resize(buf_.capacity());
    }
    if (buf_.size() - end_ < read_size_) buf_.resize(end_ + read_size_);
  }
  [[noreturn]] void throw_too_long() const {
    throw std::length_error("trio::line_reader: a line is longer than max_line_length (" + std::to_string(max_) +
                            " bytes); raise max_line_length or read this stream with receive_some");
  }

  Stream* stream_;
  std::size_t max_;
  std::size_t read_size_;
  std::string buf_;
  std::size_t start_ = 0;    // the first byte not returned yet
  std::size_t end_ = 0;      // one past the last byte received
  std::size_t scanned_ = 0;  // bytes of the pending part known to hold no '\n'
  bool eof_ = false;
};

}  // namespace trio
