#pragma once
/// \file
/// Synchronisation primitives, all built on trio::parking_lot.

#include "trio/capacity_limiter.hpp"
#include "trio/condition.hpp"
#include "trio/event.hpp"
#include "trio/lock.hpp"
#include "trio/parking_lot.hpp"
#include "trio/semaphore.hpp"
