# Dev-only settings for trio-cpp's own tests, examples and benchmarks.
add_library(trio_dev_flags INTERFACE)
target_compile_options(trio_dev_flags INTERFACE -Wall -Wextra -Wpedantic -Werror)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # g++ 12 warns about the coroutine frame's uninitialised promise members in some inlined paths.
  target_compile_options(trio_dev_flags INTERFACE -Wno-maybe-uninitialized)
endif()
set(TRIO_SANITIZE "" CACHE STRING "Sanitizers for trio's own targets, e.g. address,undefined")
if(TRIO_SANITIZE)
  target_compile_options(trio_dev_flags INTERFACE -fsanitize=${TRIO_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(trio_dev_flags INTERFACE -fsanitize=${TRIO_SANITIZE})
endif()
