#pragma once
/// \file
/// open_shared_channel: a channel whose ends work from tasks of any runner of a group (run_per_core).

#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>

#include "trio/channel.hpp"

namespace trio {

/// A channel like open_memory_channel<T>(capacity) (0: a rendezvous; trio::unbounded), whose handles
/// may be used, cloned, moved and closed from tasks of any runner of a group: one mutex guards its
/// state, and a waiter on another runner is woken through that runner's loop. A waiter cancelled while
/// another runner hands it a value either gets the value or is cancelled, never neither.
///
///     auto [tx, rx] = trio::open_shared_channel<int>(64);
///     trio::run_per_core([&]() -> trio::task<> { ... co_await tx.clone().send(trio::runner_index()); ... });
///
/// The trap: every operation takes the mutex; within one runner a memory channel is cheaper.
template <class T>
std::pair<send_channel<T>, receive_channel<T>> open_shared_channel(std::size_t capacity) {
  auto st = std::make_shared<detail::channel_state<T>>(capacity);
  st->sync = std::make_unique<std::mutex>();
  return {send_channel<T>(st), receive_channel<T>(st)};
}

}  // namespace trio
