// Number formats the project names on the command line, in plans and in files: compute, host master and wire.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace zo2 {

enum class DType : uint8_t { f32, f16, bf16, fp8_e4m3 };

// Bytes per element (fp8's per-group scales are counted by wire_bytes() in core/plan.h, not here).
int dtype_bytes(DType dt);
std::string_view dtype_name(DType dt);  // "fp32", "fp16", "bf16", "fp8"
// Parses a --dtype/--master/--wire value; throws std::invalid_argument naming `what` and the accepted values.
DType parse_dtype(std::string_view text, std::string_view what);

}  // namespace zo2
