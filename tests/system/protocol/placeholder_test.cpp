// Removed as soon as the first real protocol test lands.
#include <catch2/catch.hpp>
