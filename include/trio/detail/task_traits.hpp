#pragma once
/// \file
/// Traits of trio::task<T> (is it a task, its value type) for the layers that check task functions
/// without needing the task type complete.

#include <type_traits>

namespace trio {

template <class T>
class task;

namespace detail {

template <class X>
struct is_task : std::false_type {};
template <class T>
struct is_task<task<T>> : std::true_type {};
template <class X>
inline constexpr bool is_task_v = is_task<std::remove_cvref_t<X>>::value;

/// The T of task<T>.
template <class X>
struct task_value;
template <class T>
struct task_value<task<T>> {
  using type = T;
};
template <class X>
using task_value_t = typename task_value<std::remove_cvref_t<X>>::type;

}  // namespace detail
}  // namespace trio
