#pragma once
/// \file
/// Build-time switches and small portability macros shared by every trio header.

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TRIO_DETAIL_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TRIO_DETAIL_ASAN 1
#endif

/// Define TRIO_NO_FRAME_POOL to allocate every coroutine frame with the global allocator.
/// Under AddressSanitizer it is the default, so a use of a destroyed frame is reported.
#if defined(TRIO_DETAIL_ASAN) && !defined(TRIO_NO_FRAME_POOL)
#define TRIO_NO_FRAME_POOL 1
#endif

#define TRIO_LIKELY(x) __builtin_expect(!!(x), 1)
#define TRIO_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TRIO_ALWAYS_INLINE inline __attribute__((always_inline))
