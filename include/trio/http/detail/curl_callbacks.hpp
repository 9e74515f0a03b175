#pragma once
/// \file
/// The curl callbacks of a client's transfers (the trio::http component): detail::on_header and
/// detail::on_body, which fill a curl_transfer, with the checks they make (Content-Length, the
/// response size limit) and the body's decoding (Content-Encoding).

#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "trio/http/detail/curl_multi.hpp"
#include "trio/http/detail/zlib_inflate.hpp"
#include "trio/http/header_map.hpp"

namespace trio::http {
namespace detail {

/// A Content-Length header's values (one, or a comma-separated list): all the same number, equal to
/// any given before in this response (RFC 9110 8.6; httpx/h11 refuse the others: a response that two
/// parties frame differently is how requests are smuggled), and within max_body. False: refused (the
/// transfer's violation or too_large says why).
inline bool check_length(trio::detail::curl_transfer& t, std::string_view value) {
  for (std::string_view rest = value; !rest.empty();) {
    const std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size()) {
      t.violation = "the response's Content-Length is not a number ('" + std::string(value) + "')";
      return false;
    }
    if (t.length && *t.length != v) {
      t.violation = "the response has conflicting Content-Length values (" + std::to_string(*t.length) + " and " +
                    std::to_string(v) + ")";
      return false;
    }
    t.length = v;
  }
  if (!t.streaming && t.length && *t.length > t.max_body) {
    t.too_large = true;
    return false;
  }
  return true;
}

inline std::size_t on_header(char* data, std::size_t size, std::size_t n, void* self) {
  auto* t = static_cast<trio::detail::curl_transfer*>(self);
  std::string_view line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {  // a new response: keep the one before as history
    if (t->status >= 200)           // (1xx interim responses are not history)
      t->earlier.push_back({t->status, std::move(t->reason), t->head, t->head_lines});
    t->head.clear();
    t->head_lines = 0;
    t->reason.clear();
    if (!t->streaming) {
      t->body.clear();
      t->head_size = std::string::npos;
    }
    t->status = 0;
    t->length.reset();
    const std::size_t sp = line.find(' ');
    if (sp != std::string_view::npos) {
      const std::string_view code = line.substr(sp + 1, 3);
      std::from_chars(code.data(), code.data() + code.size(), t->status);
      if (const std::size_t sp2 = line.find(' ', sp + 1); sp2 != std::string_view::npos)
        t->reason.assign(line.substr(sp2 + 1));
    }
  } else if (const std::size_t colon = line.find(':'); colon != std::string_view::npos) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (iequals(line.substr(0, colon), "content-length") && !check_length(*t, value)) return 0;
    t->head.append(line.substr(0, colon)).append(1, ':').append(value).append(1, '\n');
    ++t->head_lines;
  }
  return size * n;
}

/// The value of `name` among header lines "name:value\n" (curl_transfer::head), if there.
inline std::optional<std::string_view> head_value(std::string_view head, std::string_view name) {
  while (!head.empty()) {
    const std::size_t end = head.find('\n');
    const std::string_view line = head.substr(0, end);
    head.remove_prefix(end == std::string_view::npos ? head.size() : end + 1);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && iequals(line.substr(0, colon), name)) return line.substr(colon + 1);
  }
  return std::nullopt;
}

/// The decoder for the Content-Encoding among header lines "name:value\n": none for identity (or
/// none given); throws std::runtime_error for one that was not offered (gzip and deflate are), or
/// for more than one (an encoding applied twice is not one we offered either).
inline std::unique_ptr<trio::detail::inflater> decoder_for(std::string_view head) {
  using trio::detail::inflater;
  const std::optional<std::string_view> coding = head_value(head, "content-encoding");
  if (coding) {
    const std::size_t after = static_cast<std::size_t>(coding->data() + coding->size() - head.data());
    if (head_value(head.substr(after), "content-encoding"))
      throw std::runtime_error(
          "the response has more than one Content-Encoding header (gzip and deflate, once, are "
          "offered)");
  }
  if (!coding || coding->empty() || iequals(*coding, "identity")) return nullptr;
  if (iequals(*coding, "gzip") || iequals(*coding, "x-gzip")) return std::make_unique<inflater>(inflater::format::gzip);
  if (iequals(*coding, "deflate")) return std::make_unique<inflater>(inflater::format::deflate);
  throw std::runtime_error("the response's Content-Encoding '" + std::string(*coding) +
                           "' was not offered (gzip and deflate are)");
}

/// Decoded bytes of `in` appended to t.body, within t.max_body (false: over it, or not decodable;
/// t.too_large or t.violation says which).
inline bool decode_into_body(trio::detail::curl_transfer& t, std::string_view in) {
  for (;;) {
    const std::size_t at = t.body.size();
    const std::size_t room = std::max<std::size_t>(in.size() * 4, 16384);
    t.body.resize(at + room);  // (decoded in place: amortized growth, as append's)
    trio::detail::inflater::result r{};
    try {
      r = t.decoder->feed(in, std::span(reinterpret_cast<std::byte*>(t.body.data() + at), room));
    } catch (const std::runtime_error& e) {
      t.body.resize(at);
      t.violation = e.what();
      return false;
    }
    t.body.resize(at + r.produced);
    in.remove_prefix(r.used);
    if (t.body.size() - t.head_size > t.max_body) {
      t.too_large = true;
      return false;
    }
    if (r.produced < room) return true;  // (zlib had no more for the room it was given)
  }
}

inline std::size_t on_body(char* data, std::size_t size, std::size_t n, void* self) {
  auto* t = static_cast<trio::detail::curl_transfer*>(self);
  const std::size_t len = size * n;
  if (t->streaming) {
    if (!t->redelivering && t->body.size() - t->body_read >= t->max_buffer) {  // the reader is behind
      t->paused = true;
      return CURL_WRITEFUNC_PAUSE;
    }
    t->headers_ready.set();        // the final response's body has begun
    t->body_waiters.unpark_all();  // reschedules the reader (it runs after the driver yields)
    t->body.append(data, len);
    return len;
  }
  if (t->owner->over_budget(*t)) return CURL_WRITEFUNC_PAUSE;  // (the rest next turn)
  const std::size_t before = t->body.size();
  if (t->head_size == std::string::npos) {
    // The first byte: the response's one buffer, header lines then the body, sized by
    // Content-Length when there is one (a decoded body may still grow it).
    try {
      t->decoder = decoder_for(t->head);
    } catch (const std::runtime_error& e) {
      t->violation = e.what();
      return 0;
    }
    curl_off_t expected = -1;
    curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &expected);
    constexpr curl_off_t most = curl_off_t(64) << 20;  // (a Content-Length is not a promise)
    const std::size_t body = expected > 0 ? static_cast<std::size_t>(std::min(expected, most)) : len;
    t->body.clear();
    t->body.reserve(t->head.size() + std::max(body, len));
    t->body.append(t->head);
    t->head_size = t->head.size();
  }
  if (t->decoder) {
    if (!decode_into_body(*t, std::string_view(data, len))) return 0;
  } else if (t->body.size() - t->head_size + len > t->max_body) {
    t->too_large = true;  // (curl stops here: nothing beyond the limit is read)
    return 0;
  } else {
    t->body.append(data, len);
  }
  t->turn_bytes += t->body.size() - before;  // (decoded bytes: a bomb's 16 KiB can be 16 MiB)
  return len;
}

}  // namespace detail
}  // namespace trio::http
