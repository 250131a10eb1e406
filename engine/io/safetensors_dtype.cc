// Table of safetensors dtype strings.
#include "engine/io/safetensors_dtype.h"

#include <array>
#include <utility>

namespace zo2::io {

namespace {
constexpr std::array<std::pair<std::string_view, size_t>, 15> kDTypes{{
    {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F64", 8}, {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
    {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1}, {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
}};
}  // namespace

std::optional<size_t> safetensors_dtype_size(std::string_view dtype) {
  for (const auto& [name, size] : kDTypes)
    if (name == dtype) return size;
  return std::nullopt;
}

std::string_view safetensors_dtype_list() {
  return "F32, F16, BF16, F64, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2";
}

}  // namespace zo2::io
