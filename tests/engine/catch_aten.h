// Catch2 for tests that include ATen: c10's logging defines a CHECK macro of its own (abort on failure), so ATen is
// included first, its CHECK dropped, and Catch2's included after.
#pragma once
#include <ATen/ATen.h>
#undef CHECK
#include <catch2/catch_test_macros.hpp>
