#pragma once
/// \file
/// A fault-injection seam for socket_listener::accept, for the tests of the accept errno policy
/// (spec STR-12): the kernel cannot be made to return ECONNABORTED, EPROTO or EFAULT on demand.

#include "trio/detail/config.hpp"

namespace trio::detail {

/// A test seam for the accept errno policy (STR-12): when set, each accept first calls it; a
/// non-zero errno is taken as that accept's result (after a checkpoint), 0 lets the real accept run.
inline thread_local int (*accept_fault_for_tests)() = nullptr;

/// The errno the seam gives this accept (0: none; the real accept runs). Calls the seam once.
inline int injected_accept_errno() {
  return TRIO_UNLIKELY(accept_fault_for_tests != nullptr) ? accept_fault_for_tests() : 0;
}

}  // namespace trio::detail
