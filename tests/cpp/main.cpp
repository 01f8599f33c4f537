// The Catch2 main of the C++ test binaries.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
