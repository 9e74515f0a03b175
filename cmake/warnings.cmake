# Dev-only settings for trio-cpp's own tests, examples and benchmarks.
add_library(trio_dev_flags INTERFACE)
# ./scripts/test builds with warnings as errors; ./scripts/demo turns it off (a newer compiler's new
# warning must not stop a user's first build).
option(TRIO_WARNINGS_AS_ERRORS "Treat warnings as errors in trio-cpp's own tests, examples and benchmarks" ON)
target_compile_options(trio_dev_flags INTERFACE -Wall -Wextra -Wpedantic)
if(TRIO_WARNINGS_AS_ERRORS)
  target_compile_options(trio_dev_flags INTERFACE -Werror)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # g++ 12 warns about the coroutine frame's uninitialised promise members in some inlined paths.
  target_compile_options(trio_dev_flags INTERFACE -Wno-maybe-uninitialized)
endif()
set(TRIO_SANITIZE "" CACHE STRING "Sanitizers for trio's own targets, e.g. address,undefined")
if(TRIO_SANITIZE)
  target_compile_options(trio_dev_flags INTERFACE -fsanitize=${TRIO_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(trio_dev_flags INTERFACE -fsanitize=${TRIO_SANITIZE})
endif()

# With libc++ (-stdlib=libc++), the distribution's compiled C++ libraries (libfmt, Catch2's main,
# Google Benchmark) are built against libstdc++ and cannot be linked: the examples use fmt header-only,
# the tests build Catch's main themselves, and the benchmarks are not built.
include(CheckCXXSourceCompiles)
check_cxx_source_compiles("#include <version>\n#ifndef _LIBCPP_VERSION\n#error libstdc++\n#endif\nint main() {}"
                          TRIO_WITH_LIBCXX)
