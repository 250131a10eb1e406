// The safetensors dtype strings ("F32", "BF16", ...) and their element sizes.
#pragma once
#include <cstddef>
#include <optional>
#include <string_view>

namespace zo2::io {

// Element size in bytes of a safetensors dtype string, or nullopt when the string is not one of the format's
// whole-byte dtypes (BOOL, U8, I8, F8_E4M3, F8_E5M2, I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64).
// Reading accepts all of them so a checkpoint carrying an unrelated buffer (a bool mask, int64 position ids) still
// opens; the model loader decides which dtypes it takes (F32, F16, BF16).
std::optional<size_t> safetensors_dtype_size(std::string_view dtype);

// The accepted dtype strings, comma separated, for error messages.
std::string_view safetensors_dtype_list();

}  // namespace zo2::io
