#pragma once
/// \file
/// trio::http::header_map, a response's headers (case-insensitive names, repeated names kept in
/// order), and header_list, the (name, value) pairs a request's headers and parameters are given as.

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace trio::http {

/// (name, value) pairs, in order: a request's headers and query parameters, and what a header_map is
/// made from. A name may repeat.
using header_list = std::vector<std::pair<std::string, std::string>>;

namespace detail {
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}
inline bool has_header(const header_list& h, std::string_view name) noexcept {
  return std::any_of(h.begin(), h.end(), [&](const auto& kv) { return iequals(kv.first, name); });
}
/// A request header the caller gave: a name of token characters, a value without CR, LF or NUL (either
/// would let the caller's data write header lines of its own: header injection). Throws
/// std::invalid_argument naming the header.
inline void check_header(std::string_view name, std::string_view value) {
  const auto token = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  };
  if (name.empty() || !std::all_of(name.begin(), name.end(), token))
    throw std::invalid_argument("trio::http: the request header name '" + std::string(name) +
                                "' is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)");
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
    throw std::invalid_argument("trio::http: the value of the request header '" + std::string(name) +
                                "' holds a line break or NUL (it would start a header of its own): remove it");
}
}  // namespace detail

/// Response headers: case-insensitive names, repeated names kept in order. Iterating gives
/// (name, value) pairs of string_views into the map. The headers are kept as one block of text
/// ("name:value\n" lines) that a response shares with its body, so a response is one allocation.
class header_map {
 public:
  /// A header: (name, value) views into the map, valid while the map (or its response) lives.
  using value_type = std::pair<std::string_view, std::string_view>;
  /// A forward iterator over the headers in order, yielding value_type by value.
  class iterator {
   public:
    using iterator_concept = std::forward_iterator_tag;  ///< A forward iterator (C++20 ranges).
    /// An input iterator for the pre-C++20 traits: operator* returns a value, not a reference.
    using iterator_category = std::input_iterator_tag;
    using value_type = header_map::value_type;  ///< (name, value) views.
    using difference_type = std::ptrdiff_t;     ///< The distance type.
    using reference = value_type;               ///< What operator* returns: a value.
    iterator() = default;
    /// The current header as (name, value).
    value_type operator*() const noexcept {
      const std::string_view line = rest_.substr(0, rest_.find('\n'));
      const std::size_t colon = line.find(':');
      return {line.substr(0, colon), line.substr(colon + 1)};
    }
    /// Moves to the next header.
    iterator& operator++() noexcept {
      rest_.remove_prefix(std::min(rest_.size(), rest_.find('\n') + 1));
      return *this;
    }
    /// Moves to the next header; returns the iterator as it was.
    iterator operator++(int) noexcept {
      iterator before = *this;
      ++*this;
      return before;
    }
    /// Whether both point at the same header of the same map.
    bool operator==(const iterator& o) const noexcept { return rest_.data() == o.rest_.data(); }

   private:
    friend class header_map;
    explicit iterator(std::string_view rest) noexcept : rest_(rest) {}
    std::string_view rest_;
  };

  header_map() = default;
  /// A map of `items`, in order (for tests and transports that build responses).
  explicit header_map(const header_list& items) {
    for (const auto& [k, v] : items) append(k, v);
    head_ = text_.size();
  }
  /// The first value of `name`, if any.
  std::optional<std::string_view> get(std::string_view name) const {
    for (const auto [k, v] : *this)
      if (detail::iequals(k, name)) return v;
    return std::nullopt;
  }
  /// Every value of `name`, in order.
  std::vector<std::string_view> all(std::string_view name) const {
    std::vector<std::string_view> out;
    for (const auto [k, v] : *this)
      if (detail::iequals(k, name)) out.push_back(v);
    return out;
  }
  /// Whether a header named `name` (any case) is present.
  bool contains(std::string_view name) const { return get(name).has_value(); }
  /// The number of headers, repeated names counted each time.
  std::size_t size() const noexcept { return count_; }
  /// Whether there is no header.
  bool empty() const noexcept { return count_ == 0; }
  /// The first header.
  iterator begin() const noexcept { return iterator(std::string_view(text_).substr(0, head_)); }
  /// Past the last header.
  iterator end() const noexcept { return iterator(std::string_view(text_.data() + head_, 0)); }

 private:
  friend class response;
  friend class client;
  friend class streamed_response;
  /// Adopts text whose first `head` bytes are `count` header lines (the rest: a response's body).
  header_map(std::string text, std::size_t head, std::size_t count) noexcept
      : text_(std::move(text)), head_(head), count_(count) {}
  void append(std::string_view name, std::string_view value) {  // (a line break would split the line)
    for (char c : name) text_ += c == ':' || c == '\n' || c == '\r' ? '-' : c;
    text_ += ':';
    for (char c : value) text_ += c == '\n' || c == '\r' ? ' ' : c;
    text_ += '\n';
    ++count_;
  }
  std::string text_;
  std::size_t head_ = 0, count_ = 0;
};

}  // namespace trio::http
