#pragma once
/// \file
/// trio::testing: tools for testing code written with trio.

#include "trio/testing/check_streams.hpp"
#include "trio/testing/memory_streams.hpp"
#include "trio/testing/mock_clock.hpp"
#include "trio/testing/sequencer.hpp"
#include "trio/testing/wait_all_tasks_blocked.hpp"
