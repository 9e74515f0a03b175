#pragma once
/// \file
/// open_shared_channel: a channel whose ends work from tasks of any runner of a group.

#include <cstddef>
#include <utility>

#include "trio/channel.hpp"

namespace trio {}  // namespace trio
