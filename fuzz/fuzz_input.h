// Shared by the fuzz targets: an expected rejection (std::invalid_argument or std::runtime_error with a message) is
// a pass; any other exception escapes and libFuzzer reports it as a crash, as a sanitizer report or a hang is.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

namespace zo2::fuzz {

inline std::string_view text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs `parse` and swallows the parsers' documented errors only; an empty message is a finding too (the user would
// see nothing), so it aborts.
template <class F>
int expect_clean(F&& parse) {
  try {
    parse();
  } catch (const std::invalid_argument& e) {
    if (!*e.what()) __builtin_trap();
  } catch (const std::runtime_error& e) {
    if (!*e.what()) __builtin_trap();
  }
  return 0;
}

}  // namespace zo2::fuzz
