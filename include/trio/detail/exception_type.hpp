#pragma once
/// \file
/// The dynamic type of an exception held by a std::exception_ptr, without rethrowing it (a fast path
/// for the code that sorts exceptions: cancel scopes, exception groups).

#include <exception>
#include <typeinfo>

namespace trio::detail {

/// The dynamic type of the exception in `e`, without rethrowing it (libstdc++), or nullptr if unknown
/// (another standard library, or no exception).
inline const std::type_info* exception_type(const std::exception_ptr& e) noexcept {
#if defined(__GLIBCXX__)
  return e ? e.__cxa_exception_type() : nullptr;
#else
  (void)e;
  return nullptr;
#endif
}

}  // namespace trio::detail
