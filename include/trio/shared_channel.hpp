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
/// state, and a waiter on another runner is woken through that runner's loop. A receiver cancelled while
/// another runner hands it a value ends with the value or with trio::cancelled, never with the value lost.
///
///     auto ch = trio::open_shared_channel<int>(64);  // outside run_per_core: every runner sees it
///     trio::run_per_core(options, [&]() -> trio::task<> {  // (options.runners = 2)
///       if (trio::runner_index() == 1) {
///         for (int i = 0; i < 1000; ++i) co_await ch.first.send(i);
///         ch.first.close();  // runner 0's next() then returns std::nullopt
///       } else {
///         while (auto v = co_await ch.second.next()) sum += *v;
///       }
///     });
///
/// The trap: every operation takes the mutex and a wake-up across runners costs a thread wake-up: within
/// one runner a memory channel is cheaper, and across runners a buffer of 0 (a rendezvous per item) is
/// the slowest choice.
template <class T>
std::pair<send_channel<T>, receive_channel<T>> open_shared_channel(std::size_t capacity) {
  auto st = std::make_shared<detail::channel_state<T>>(capacity);
  st->sync = std::make_unique<std::mutex>();
  return {send_channel<T>(st), receive_channel<T>(st)};
}

}  // namespace trio
