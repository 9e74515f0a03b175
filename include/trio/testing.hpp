#pragma once
/// \file
/// trio::testing: tools for testing code written with trio.

#include "trio/testing/mock_clock.hpp"
#include "trio/testing/wait_all_tasks_blocked.hpp"
