#pragma once
/// \file
/// A circular doubly-linked intrusive list: linking and unlinking never allocate.
///
/// An element joins a list through a base class `list_hook<Tag>`; one element can sit in several lists
/// at once by deriving from several hooks with different tags.

#include <cstddef>

namespace trio::detail {

struct list_links {
  list_links* prev = this;
  list_links* next = this;

  list_links() noexcept = default;
  list_links(const list_links&) = delete;
  list_links& operator=(const list_links&) = delete;

  bool linked() const noexcept { return next != this; }
  void unlink() noexcept {
    prev->next = next;
    next->prev = prev;
    prev = next = this;
  }
};

/// The link for lists tagged `Tag`. An unlinked hook points at itself.
template <class Tag>
struct list_hook : list_links {
  bool is_linked(Tag* = nullptr) const noexcept { return linked(); }
};

/// The list of T, linked through T's base `list_hook<Tag>`. The list does not own its elements.
template <class T, class Tag>
class intrusive_list {
  using hook = list_hook<Tag>;

 public:
  intrusive_list() noexcept = default;
  intrusive_list(const intrusive_list&) = delete;
  intrusive_list& operator=(const intrusive_list&) = delete;
  ~intrusive_list() { clear(); }

  bool empty() const noexcept { return head_.next == &head_; }

  void push_back(T& value) noexcept { insert_before(head_, links(value)); }
  void push_front(T& value) noexcept { insert_before(*head_.next, links(value)); }

  T& front() noexcept { return owner(head_.next); }
  T& back() noexcept { return owner(head_.prev); }

  T* pop_front() noexcept { return pop(head_.next); }
  T* pop_back() noexcept { return pop(head_.prev); }

  static void erase(T& value) noexcept { links(value).unlink(); }
  static bool contains_linked(const T& value) noexcept { return static_cast<const hook&>(value).linked(); }

  /// Moves every element of `other` to the end of this list, in O(1).
  void splice_back(intrusive_list& other) noexcept {
    if (other.empty()) return;
    list_links* first = other.head_.next;
    list_links* last = other.head_.prev;
    other.head_.next = other.head_.prev = &other.head_;
    first->prev = head_.prev;
    head_.prev->next = first;
    last->next = &head_;
    head_.prev = last;
  }

  /// Unlinks every element (does not need T to be complete).
  void clear() noexcept {
    while (head_.next != &head_) head_.next->unlink();
  }

  std::size_t size() const noexcept {
    std::size_t n = 0;
    for (const list_links* h = head_.next; h != &head_; h = h->next) ++n;
    return n;
  }

  /// Calls fn(T&) for each element in order; fn may unlink the element it is given, nothing else.
  template <class F>
  void for_each(F&& fn) const {
    for (list_links* h = head_.next; h != &head_;) {
      list_links* next = h->next;
      fn(owner(h));
      h = next;
    }
  }

 private:
  static list_links& links(T& value) noexcept { return static_cast<hook&>(value); }
  static T& owner(list_links* h) noexcept { return static_cast<T&>(static_cast<hook&>(*h)); }
  static void insert_before(list_links& pos, list_links& h) noexcept {
    h.prev = pos.prev;
    h.next = &pos;
    pos.prev->next = &h;
    pos.prev = &h;
  }
  T* pop(list_links* h) noexcept {
    if (h == &head_) return nullptr;
    T& value = owner(h);
    h->unlink();
    return &value;
  }

  mutable list_links head_;
};

}  // namespace trio::detail
