#pragma once
/// \file
/// detail::inflater: gzip and deflate decoding with zlib, pulled by the reader (the trio::http
/// component's streamed responses). curl decodes a buffered response itself; a streamed one gets the
/// raw bytes and decodes them here, into the reader's own buffer, as it reads: what a compressed
/// body decodes to is never held anywhere (libcurl 7.88 goes on decoding a paused transfer's input
/// into a buffer of its own: a 1 MB gzip bomb became 1 GiB of memory).

#include <zlib.h>

#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace trio::detail {

class inflater {
 public:
  enum class format { gzip, deflate };
  explicit inflater(format f) : format_(f) {
    // gzip: 16 + 15 (a gzip header); deflate: 32 + 15 (zlib's header, detected), or raw (see feed)
    if (inflateInit2(&z_, f == format::gzip ? 31 : 47) != Z_OK)
      throw std::runtime_error("trio::http: zlib's inflateInit2 failed (out of memory?)");
  }
  inflater(const inflater&) = delete;
  inflater& operator=(const inflater&) = delete;
  ~inflater() { inflateEnd(&z_); }

  struct result {
    std::size_t used;      // input bytes consumed
    std::size_t produced;  // output bytes written
  };
  /// Decodes from `in` into `out`. Throws std::runtime_error naming zlib's complaint for data that is
  /// not what the encoding says. After the end of the data, later input is ignored unless it starts
  /// another gzip member (a concatenation, which gzip allows).
  result feed(std::string_view in, std::span<std::byte> out) {
    result r{0, 0};
    // (no input at all: what zlib holds back from input it already took, e.g. a final match)
    for (bool drain = in.empty(); r.produced < out.size() && (r.used < in.size() || drain); drain = false) {
      if (ended_) {
        if (r.used == in.size()) break;
        if (format_ != format::gzip || static_cast<unsigned char>(in[r.used]) != 0x1f) {
          r.used = in.size();  // (trailing bytes after the stream: ignored, as curl does)
          break;
        }
        inflateReset(&z_);
        ended_ = false;
      }
      z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + r.used));
      z_.avail_in = static_cast<uInt>(std::min<std::size_t>(in.size() - r.used, 1u << 30));
      z_.next_out = reinterpret_cast<Bytef*>(out.data() + r.produced);
      z_.avail_out = static_cast<uInt>(std::min<std::size_t>(out.size() - r.produced, 1u << 30));
      const uInt in_before = z_.avail_in, out_before = z_.avail_out;
      int rc = inflate(&z_, Z_NO_FLUSH);
      if (rc == Z_DATA_ERROR && format_ == format::deflate && !started_) {
        // "deflate" is meant to be zlib-wrapped; some servers send raw deflate: try that once
        inflateEnd(&z_);
        if (inflateInit2(&z_, -15) != Z_OK) throw std::runtime_error("trio::http: zlib's inflateInit2 failed");
        started_ = true;
        continue;
      }
      r.used += in_before - z_.avail_in;
      r.produced += out_before - z_.avail_out;
      if (rc == Z_STREAM_END) {
        ended_ = true;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw std::runtime_error(std::string("the body's ") + (format_ == format::gzip ? "gzip" : "deflate") +
                                 " data is corrupt (zlib: " + (z_.msg ? z_.msg : "error " + std::to_string(rc)) + ")");
      }
      started_ = true;
      if (in_before == z_.avail_in && out_before == z_.avail_out) {
        if (in_before == 0) break;  // (draining: nothing held back)
        // (zlib always moves with room on both sides)
        throw std::runtime_error("the body's compressed data cannot be decoded (zlib made no progress)");
      }
    }
    return r;
  }
  /// Whether the encoded data ended where it says it ends (false: the body was cut short).
  bool complete() const noexcept { return ended_ || !started_; }

 private:
  z_stream z_{};
  format format_;
  bool started_ = false;  // some input was decoded
  bool ended_ = false;    // the (last) stream's end was reached
};

}  // namespace trio::detail
