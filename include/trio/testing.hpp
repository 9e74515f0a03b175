#pragma once
/// \file
/// trio::testing: tools for testing code written with trio.

#include "trio/testing/check_streams.hpp"
#include "trio/testing/memory_streams.hpp"
#include "trio/testing/mock_clock.hpp"
#include "trio/testing/sequencer.hpp"
#include "trio/testing/wait_all_tasks_blocked.hpp"

// The TLS testing tools need OpenSSL: they come with the trio::ssl component (which defines TRIO_HAS_SSL).
#if defined(TRIO_HAS_SSL)
#include "trio/testing/ssl_certs.hpp"
#endif
