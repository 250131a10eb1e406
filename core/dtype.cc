// Names and sizes of the number formats.
#include "core/dtype.h"

#include <stdexcept>

#include <fmt/format.h>

namespace zo2 {

int dtype_bytes(DType dt) {
  switch (dt) {
    case DType::f32: return 4;
    case DType::f16:
    case DType::bf16: return 2;
    case DType::fp8_e4m3: return 1;
  }
  return 0;
}

std::string_view dtype_name(DType dt) {
  switch (dt) {
    case DType::f32: return "fp32";
    case DType::f16: return "fp16";
    case DType::bf16: return "bf16";
    case DType::fp8_e4m3: return "fp8";
  }
  return "?";
}

DType parse_dtype(std::string_view text, std::string_view what) {
  if (text == "fp32" || text == "float32" || text == "f32") return DType::f32;
  if (text == "fp16" || text == "float16" || text == "f16") return DType::f16;
  if (text == "bf16" || text == "bfloat16") return DType::bf16;
  if (text == "fp8" || text == "fp8_e4m3") return DType::fp8_e4m3;
  throw std::invalid_argument(fmt::format("{}: '{}' is not a number format (expected fp32, bf16, fp16 or fp8)", what, text));
}

}  // namespace zo2
