// Catch2's main, built with the compiler and standard library of the tests (libc++ cannot link the
// distribution's libCatch2WithMain.a, which is built against libstdc++).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
