#pragma once
/// \file
/// trio::testing: tools for testing code written with trio.

#include "trio/testing/check_streams.hpp"
#include "trio/testing/memory_streams.hpp"
#include "trio/testing/mock_clock.hpp"
#include "trio/testing/sequencer.hpp"
#include "trio/testing/wait_all_tasks_blocked.hpp"

// The TLS testing tools need OpenSSL: they come with the trio::ssl component (which defines TRIO_HAS_SSL).
// Kept for the programs that get make_test_certificates from this header (with trio::ssl, or with
// -DTRIO_HAS_SSL=1 on the plain command line); through the public path trio/testing/ssl_certs.hpp, the
// core names nothing under trio/ssl/.
#if defined(TRIO_HAS_SSL)
#include "trio/testing/ssl_certs.hpp"
#endif
